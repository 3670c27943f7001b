// casmemd's MCP endpoint (memory-api.md §10) against the official MCP
// TypeScript SDK's client over Streamable HTTP: a real casmemd with a
// token (made by `casmemd token create`), the negotiated protocol version,
// tools/list, each tool, a conflict a model recovers from (the 409's
// current_version and current_value, then a retry that wins), a read
// token refused a write (a tool error with the 403 body) and no token at
// all refused before any JSON-RPC (401).
//
// Run by ctest (mcp_sdk_test) as `node tests/mcp/mcp_sdk_test.mjs` with
// CASMEMD set to the built casmemd. Needs `npm ci --prefix tests/mcp`.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

let Client, StreamableHTTPClientTransport;
try {
  ({ Client } = await import('@modelcontextprotocol/sdk/client/index.js'));
  ({ StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js'));
} catch (e) {
  console.error('mcp_sdk_test: @modelcontextprotocol/sdk is not installed (tests/mcp/node_modules is missing);');
  console.error('run `npm ci --prefix tests/mcp` first. (' + e.message + ')');
  process.exit(1);
}

const casmemd = process.env.CASMEMD ?? process.argv[2];
if (!casmemd) {
  console.error('mcp_sdk_test: set CASMEMD (or pass the path of casmemd as the first argument)');
  process.exit(1);
}

// Whatever happens, the test ends (a hung server or client fails it).
const watchdog = setTimeout(() => {
  console.error('mcp_sdk_test: timed out');
  process.exit(1);
}, 120_000);

const dir = mkdtempSync(join(tmpdir(), 'casmem-mcp-'));
let server;

function token(name, workspace, role) {
  const r = spawnSync(casmemd, ['token', 'create', '--data-dir', dir, '--name', name, '--workspace', workspace, '--role', role],
                      { encoding: 'utf8' });
  assert.equal(r.status, 0, `token create failed: ${r.stderr}`);
  const secret = r.stdout.trim();
  assert.match(secret, /^\S+$/);
  return secret;
}

// Starts casmemd on an ephemeral port: its base URL once it says it listens.
function start() {
  server = spawn(casmemd, ['--listen', '127.0.0.1:0', '--data-dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    server.on('exit', (code) => reject(new Error(`casmemd exited early (${code})`)));
    createInterface({ input: server.stdout }).on('line', (line) => {
      const m = line.match(/casmemd listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
  });
}

async function connect(url, secret) {
  const client = new Client({ name: 'casmem-mcp-sdk-test', version: '1.0.0' });
  const headers = secret ? { Authorization: `Bearer ${secret}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport };
}

// The JSON a tool result carries as text (the memory API's body).
function body(result) {
  assert.equal(result.content[0].type, 'text');
  return JSON.parse(result.content[0].text);
}

async function main() {
  const writer = token('agent', '*', 'write');
  const reader = token('viewer', 'team', 'read');
  const base = await start();

  const { client, transport } = await connect(`${base}/workspaces/team/mcp`, writer);
  // The SDK negotiated a version casmemd speaks, and sends it from now on.
  const negotiated = transport.protocolVersion;
  assert.ok(['2025-03-26', '2025-06-18'].includes(negotiated), `negotiated ${negotiated}`);
  assert.equal(client.getServerVersion().name, 'casmem');
  assert.deepEqual(client.getServerCapabilities().tools, { listChanged: false });
  assert.match(client.getInstructions(), /if_match_version/);
  await client.ping();

  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(),
                   ['memory_delete', 'memory_get', 'memory_list', 'memory_patch', 'memory_set']);
  for (const t of tools) assert.equal(t.inputSchema.type, 'object');

  // memory_set / memory_get: the value exactly as written.
  let r = await client.callTool({ name: 'memory_set', arguments: { key: 'backlog', value: { items: ['a'], n: 1.5 }, if_match_version: 0 } });
  assert.equal(r.isError, false, JSON.stringify(r));
  assert.equal(body(r).version, 1);
  if (transport.protocolVersion === '2025-06-18') assert.deepEqual(r.structuredContent, body(r));
  r = await client.callTool({ name: 'memory_get', arguments: { key: 'backlog' } });
  assert.equal(r.isError, false);
  assert.deepEqual(body(r).value, { items: ['a'], n: 1.5 });
  const seen = body(r).version;

  // Another agent writes first (over HTTP, the same memory).
  const other = await fetch(`${base}/workspaces/team/memory`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ key: 'backlog', value: { items: ['a', 'b'], n: 1.5 }, if_match_version: seen }),
  });
  assert.equal(other.status, 200);

  // The stale write: a tool error a model can act on ...
  r = await client.callTool({ name: 'memory_set', arguments: { key: 'backlog', value: { items: ['a', 'c'], n: 1.5 }, if_match_version: seen } });
  assert.equal(r.isError, true);
  const conflict = body(r);
  assert.equal(conflict.error, 'if_match_version mismatch');
  assert.equal(conflict.current_version, seen + 1);
  assert.deepEqual(conflict.current_value.items, ['a', 'b']);
  // ... which it recovers from: its change applied to current_value,
  // guarded by current_version, without another read.
  const merged = { ...conflict.current_value, items: [...conflict.current_value.items, 'c'] };
  r = await client.callTool({ name: 'memory_set', arguments: { key: 'backlog', value: merged, if_match_version: conflict.current_version } });
  assert.equal(r.isError, false, JSON.stringify(r));
  assert.equal(body(r).version, seen + 2);

  // memory_patch: JSON Patch and merge.
  r = await client.callTool({ name: 'memory_patch', arguments: { key: 'counter', merge: { n: 0 } } });
  assert.equal(r.isError, false, JSON.stringify(r));
  r = await client.callTool({ name: 'memory_patch', arguments: { key: 'counter', patch: [{ op: 'test', path: '/n', value: 7 }] } });
  assert.equal(r.isError, true);  // a failed test: the 409 with the value it saw
  assert.match(body(r).error, /^patch failed/);
  assert.deepEqual(body(r).current_value, { n: 0 });
  r = await client.callTool({ name: 'memory_patch', arguments: { key: 'counter', patch: [{ op: 'increment', path: '/n', value: 5 }] } });
  assert.equal(r.isError, false, JSON.stringify(r));
  assert.deepEqual(body(r).value, { n: 5 });

  // memory_list: pages with next_after.
  r = await client.callTool({ name: 'memory_list', arguments: { limit: 1 } });
  assert.equal(r.isError, false);
  let page = body(r);
  assert.equal(page.entries.length, 1);
  assert.equal(page.entries[0].key, 'backlog');
  assert.equal(page.next_after, 'backlog');
  r = await client.callTool({ name: 'memory_list', arguments: { limit: 1, after: page.next_after } });
  page = body(r);
  assert.deepEqual(page.entries.map((e) => e.key), ['counter']);

  // memory_delete, then memory_get: the 404 body as a tool error.
  r = await client.callTool({ name: 'memory_delete', arguments: { key: 'counter', if_match_version: 2 } });
  assert.equal(r.isError, false, JSON.stringify(r));
  assert.equal(body(r).status, 'deleted');
  r = await client.callTool({ name: 'memory_get', arguments: { key: 'counter' } });
  assert.equal(r.isError, true);
  assert.deepEqual(body(r), { error: 'key not found' });

  // An unknown tool is a protocol error (-32602).
  await assert.rejects(client.callTool({ name: 'memory_nope', arguments: {} }), /-32602|unknown tool/i);
  await client.close();

  // A read token: reads, but a write is a tool error with the 403 body.
  const ro = await connect(`${base}/workspaces/team/mcp`, reader);
  r = await ro.client.callTool({ name: 'memory_get', arguments: { key: 'backlog' } });
  assert.equal(r.isError, false);
  r = await ro.client.callTool({ name: 'memory_set', arguments: { key: 'backlog', value: 1 } });
  assert.equal(r.isError, true);
  assert.match(body(r).error, /may not write/);
  // /mcp is the default workspace's: not this token's.
  await ro.client.close();
  const ro2 = await connect(`${base}/mcp`, reader);
  r = await ro2.client.callTool({ name: 'memory_get', arguments: { key: 'backlog' } });
  assert.equal(r.isError, true);
  assert.match(body(r).error, /may not read/);
  await ro2.client.close();

  // No token: refused before any JSON-RPC.
  await assert.rejects(connect(`${base}/mcp`, null), (e) => e.code === 401 && /bearer token/.test(e.message));
  console.log(`mcp_sdk_test: ok (protocol ${negotiated})`);
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error('mcp_sdk_test: FAILED:', e);
} finally {
  if (server && server.exitCode === null) {
    server.removeAllListeners('exit');
    const exited = new Promise((resolve) => server.on('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
