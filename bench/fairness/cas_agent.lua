-- wrk script: one compare-and-set agent per wrk thread (run -tN -cN: wrk
-- keeps Lua state per thread), the second generator of the fairness
-- matrix. Each agent reads the key, then writes {"counter": c+1, "agents":
-- [the last 16 writers, itself last]} (casmem-bench's value) guarded by
-- the version it read; on 409 it follows POLICY:
--   immediate  retry at once from the 409's current_version/current_value
--   reread     GET, then retry
--   backoff    sleep U(0, min(CAP_MS, BASE_MS * 2^(n-1))) before retry n,
--              then GET and retry (wrk's delay() has 1 ms resolution, so
--              sub-millisecond sleeps round to whole milliseconds)
-- The key (KEY) must exist with a numeric "counter". done() prints the
-- commits of every agent (one line, "commits a b c ...") and the total.
local policy = os.getenv("POLICY") or "immediate"
local key = os.getenv("KEY") or "fair"
local base_ms = tonumber(os.getenv("BASE_MS") or "0.5")
local cap_ms = tonumber(os.getenv("CAP_MS") or "50")
local path = "/workspaces/bench/memory"

local threads = {}
local counter = 1
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

commits, conflicts = 0, 0
local state = "read"      -- what the next request is
local version, value, agents = 0, 0, ""
local retries = 0
local sleep_ms = 0

init = function()
  math.randomseed(id * 7919 + os.time())
end

local function get_request()
  return wrk.format("GET", path .. "/" .. key)
end

-- The writers list of a value's JSON text, with this agent appended (at
-- most 16 entries, newest last), as JSON array members.
local function appended(text)
  local list = {}
  for n in ((text or ""):match('"agents"%s*:%s*%[([^%]]*)%]') or ""):gmatch("-?%d+") do
    table.insert(list, n)
  end
  table.insert(list, tostring(id))
  while #list > 16 do table.remove(list, 1) end
  return table.concat(list, ",")
end

local function post_request()
  local body = string.format('{"key":"%s","value":{"counter":%d,"agents":[%s]},"if_match_version":%d}',
                             key, value + 1, agents, version)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end

request = function()
  if state == "read" then return get_request() end
  return post_request()
end

-- Only the backoff policy defines delay(): with it, wrk sends every
-- request from a timer on the next pass of its event loop, not at once.
if policy == "backoff" then
  delay = function()
    local d = sleep_ms
    sleep_ms = 0
    return d
  end
end

response = function(status, headers, body)
  if state == "read" then
    if status == 200 then
      version = tonumber(body:match('"version"%s*:%s*(%d+)')) or 0
      value = tonumber(body:match('"counter"%s*:%s*(%d+)')) or 0
      agents = appended(body)
      state = "write"
    end
    return
  end
  if status == 200 then
    commits = commits + 1
    retries = 0
    state = "read"
    return
  end
  if status ~= 409 then state = "read"; return end
  conflicts = conflicts + 1
  retries = retries + 1
  if policy == "immediate" then
    local cv = tonumber(body:match('"current_version"%s*:%s*(%d+)'))
    local current = body:match('"current_value"%s*:%s*(%b{})') or ""
    local cc = tonumber(current:match('"counter"%s*:%s*(%d+)') or "")
    if cv and cc then
      version, value, agents = cv, cc, appended(current)
      return  -- state stays "write"
    end
  elseif policy == "backoff" then
    local ceiling = math.min(cap_ms, base_ms * 2 ^ (retries - 1))
    sleep_ms = math.floor(math.random() * ceiling + 0.5)
  end
  state = "read"
end

done = function(summary, latency, requests)
  local per, total, refused = {}, 0, 0
  for _, t in ipairs(threads) do
    local c = t:get("commits")
    table.insert(per, c)
    total = total + c
    refused = refused + t:get("conflicts")
  end
  io.write("commits " .. table.concat(per, " ") .. "\n")
  io.write("total " .. total .. "\n")
  -- requests - total - conflicts = the reads
  io.write("conflicts " .. refused .. " requests " .. summary.requests .. "\n")
end
