-- SPDX-License-Identifier: BSD-2-Clause
-- bench-api-load.lua - wrk script of scripts/bench-api.sh: GET the paths of a
-- file (one a line, drawn beforehand by scripts/bench-api-paths.py), each
-- thread from its own offset, round robin, over keep-alive connections, with
-- the admin token; at the end one JSON line with the figures wrk measured.
--
--   wrk ... -s bench-api-load.lua URL -- PATHS-FILE TOKEN-FILE
--
-- Latencies are wrk's (from writing a request to its complete reply, per
-- connection), in microseconds; "http_errors" counts answers with a status
-- of 400 or more (wrk's summary.errors.status).

local paths = {}
local next_path = 1
local headers = {}
local counter = 0

local function lines(file)
	local t = {}
	for l in io.lines(file) do
		if #l > 0 then
			t[#t + 1] = l
		end
	end
	return t
end

function setup(thread)
	counter = counter + 1
	thread:set("id", counter)
end

function init(args)
	if #args < 2 then
		error("usage: wrk ... -s bench-api-load.lua URL -- PATHS-FILE TOKEN-FILE")
	end
	paths = lines(args[1])
	if #paths == 0 then
		error(args[1] .. ": no paths")
	end
	local token = lines(args[2])[1]
	headers["Authorization"] = "Bearer " .. token
	-- threads start at different places of the list, so they do not read the
	-- same consumer at the same moment
	next_path = ((id or 1) - 1) * 7919 % #paths + 1
end

function request()
	local p = paths[next_path]
	next_path = next_path % #paths + 1
	return wrk.format("GET", p, headers)
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, ' ..
		'"p99_us": %d, "max_us": %d, "mean_us": %.1f, "http_errors": %d, "socket_errors": %d}\n',
		summary.requests, summary.duration, summary.bytes, latency:percentile(50),
		latency:percentile(90), latency:percentile(99), latency.max, latency.mean, e.status,
		e.connect + e.read + e.write + e.timeout))
end
