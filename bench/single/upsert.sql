-- pgbench script: the original handler's LWW upsert of one key (the
-- statement of bench/contention/postgres_driver.cc, kUpsert).
INSERT INTO memory (workspace_id, key, value, version) VALUES ('bench', 'single', '{"counter":1,"agents":[0]}'::jsonb, 1) ON CONFLICT (workspace_id, key) DO UPDATE SET value=EXCLUDED.value, version=memory.version+1, updated_at=now() RETURNING version;
