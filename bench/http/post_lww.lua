-- wrk script: LWW upserts over KEYS distinct keys, ~100-byte JSON values.
-- DELAY_MS (optional) paces each connection (think time between requests).
local keys = tonumber(os.getenv("KEYS") or "100000")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local seq = tonumber(os.getenv("SEQUENTIAL") or "0") == 1
local n = 0
local pad = string.rep("x", 60)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local k
  if seq then
    n = n + 1
    k = n % keys
  else
    k = math.random(0, keys - 1)
  end
  local body = '{"key":"task:' .. k .. '","value":{"n":' .. k .. ',"pad":"' .. pad .. '"}}'
  return wrk.format(nil, "/workspaces/bench/memory", nil, body)
end
if delay_ms > 0 then
  delay = function() return delay_ms end
end
