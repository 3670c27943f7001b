-- wrk script: LWW upserts of one key ("single"), the value the shape of
-- casmem-bench's (a counter and an agent list), one request at a time per
-- connection. Use -t1 -c1 for one agent.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"key":"single","value":{"counter":1,"agents":[0]}}'
wrk.path = "/workspaces/bench/memory"
