-- SPDX-License-Identifier: BSD-2-Clause
-- demo-load.lua - the wrk script of `make demo` (scripts/demo.sh): one
-- consumer's traffic, counted exactly.
--
-- Environment:
--   DEMO_KEY       the X-API-Key to send (empty: none)
--   DEMO_REQUESTS  "METHOD PATH" items separated by commas, sent in turn
--                  (repeat an item to weight it)
--   DEMO_DELAY_MS  pause before each request on a connection (0: none)
--
-- done() prints one line "DEMO-RESULT {json}": "sent" = requests written
-- (request() runs right before wrk writes one), "by_status" = responses read
-- by status, those answered by the kernel (the "Server: tollgate" replies of
-- tollgate's XDP program) as "kernel-NNN", "errors" = wrk's socket errors.
-- sent minus the responses are requests still in flight when the run ended:
-- the server or the kernel saw them, wrk did not wait for the answer.
--
-- wrk calls request() once more than it sends: right after init() of its
-- first thread, to check the request (script_verify_request() in wrk.c).
-- That call is not counted.

local threads = {}

function setup(thread)
	thread:set("index", #threads)
	table.insert(threads, thread)
end

function init(args)
	sent = 0
	verified = index ~= 0
	counts = {}
	items = {}
	key = os.getenv("DEMO_KEY") or ""
	pause = tonumber(os.getenv("DEMO_DELAY_MS") or "0") or 0
	for item in string.gmatch(os.getenv("DEMO_REQUESTS") or "GET /", "[^,]+") do
		local method, path = string.match(item, "^%s*(%u+)%s+(%S+)%s*$")
		table.insert(items, { method = method, path = path })
	end
	turn = 0
end

function request()
	if verified then
		sent = sent + 1
	else
		verified = true
	end
	turn = turn % #items + 1
	local it = items[turn]
	local headers = {}
	if key ~= "" then
		headers["X-API-Key"] = key
	end
	local body = nil
	if it.method == "POST" then
		headers["Content-Type"] = "application/json"
		body = '{"item": "widget", "quantity": 2}'
	end
	return wrk.format(it.method, it.path, headers, body)
end

function delay()
	return pause
end

function response(status, headers, body)
	local k = tostring(status)
	if headers["Server"] == "tollgate" then
		k = "kernel-" .. k
	end
	counts[k] = (counts[k] or 0) + 1
end

function done(summary, latency, requests)
	local total, by = 0, {}
	for _, t in ipairs(threads) do
		total = total + t:get("sent")
		for k, v in pairs(t:get("counts")) do
			by[k] = (by[k] or 0) + v
		end
	end
	local parts = {}
	for k, v in pairs(by) do
		table.insert(parts, string.format('"%s": %d', k, v))
	end
	local e = summary.errors
	io.write(string.format('DEMO-RESULT {"sent": %d, "by_status": {%s}, "errors": {"connect": %d, ' ..
		'"read": %d, "write": %d, "timeout": %d}, "duration_s": %.3f}\n', total,
		table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout,
		summary.duration / 1e6))
end
