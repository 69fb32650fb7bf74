-- SPDX-License-Identifier: BSD-2-Clause
-- keys.lua - wrk script of `make bench` (scripts/bench-peers.sh): GET PATH with
-- an X-API-Key header, the keys taken in turn from a file (one per line), each
-- wrk thread starting at its own offset.
--
--   wrk ... -s keys.lua URL -- KEYS_FILE PATH [DELAY_MS]
--
-- DELAY_MS > 0 paces every connection: it waits that long after each response
-- before sending its next request (the fixed offered load: connections x
-- 1000 / DELAY_MS requests per second at most; wrk -R is not in Debian's wrk).
-- done() prints one JSON line, "wrk-json {...}", with the counts and the
-- latency percentiles in microseconds.

local counter = 0

function setup(thread)
	thread:set("id", counter)
	counter = counter + 1
end

local keys = {}
local nkeys = 0
local index = 0
local prefix, delay_ms = "", 0

function init(args)
	local file, path = args[1], args[2]
	for line in io.lines(file) do
		if #line > 0 then
			nkeys = nkeys + 1
			keys[nkeys] = line
		end
	end
	assert(nkeys > 0, "no keys in " .. file)
	delay_ms = tonumber(args[3] or "0")
	-- threads spread over the key list
	index = math.floor(nkeys * (tonumber(id) or 0) / 16) % nkeys
	prefix = "GET " .. path .. " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port ..
		"\r\nX-API-Key: "
	if delay_ms > 0 then
		-- only then: a delay() function makes wrk schedule a timer per request
		delay = function()
			return delay_ms
		end
	end
end

function request()
	index = index % nkeys + 1
	return prefix .. keys[index] .. "\r\n\r\n"
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'wrk-json {"requests": %d, "duration_us": %d, "bytes": %d, "non_2xx": %d, ' ..
		'"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
		'"p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, "mean_us": %.1f, "max_us": %d}\n',
		summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read,
		e.write, e.timeout, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency:percentile(99.9), latency.mean, latency.max))
end
