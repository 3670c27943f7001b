-- wrk script: GETs of existing keys (task:0 .. task:KEYS-1).
local keys = tonumber(os.getenv("KEYS") or "100000")
request = function()
  return wrk.format("GET", "/workspaces/bench/memory/task:" .. math.random(0, keys - 1))
end
