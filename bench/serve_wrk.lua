-- wrk script for bench/serve.sh: POST one-tick batches to /v1/prices,
-- alternating the price of SYMBOL around PRICE by ±MOVE (environment
-- variables XCR_SYMBOL, XCR_PRICE, XCR_MOVE, XCR_TOKEN).
local symbol = os.getenv("XCR_SYMBOL") or "BTC"
local price = tonumber(os.getenv("XCR_PRICE") or "60000")
local move = tonumber(os.getenv("XCR_MOVE") or "0.05")
local token = os.getenv("XCR_TOKEN") or ""
local n = 0

wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

request = function()
  n = n + 1
  local p = price * (1 + move * ((n % 2 == 0) and 1 or -1))
  local body = string.format('{"ticks": [{"symbol": "%s", "price": %.10g}]}', symbol, p)
  return wrk.format(nil, "/v1/prices", nil, body)
end

done = function(summary, latency, requests)
  io.write(string.format("wrk: %d ticks in %.2f s = %.0f ticks/s, %d errors (status %d)\n",
    summary.requests, summary.duration / 1e6,
    summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.errors.status))
  io.write(string.format("wrk: request latency p50 %.3f ms, p99 %.3f ms\n",
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
