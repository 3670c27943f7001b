#!/usr/bin/env bash
# One agent's durable write, measured two ways, as interleaved rounds: per
# round, each S seconds, one after the other on the same machine:
#   casmem  wrk -t1 -c1, LWW POST of one key (post_one.lua)  casmemd --fsync always
#   casmem  casmem-bench --workload write --agents 1 --keys 1
#   pg      pgbench -c1 -j1 -M prepared, the original handler's upsert (upsert.sql)
#   pg      casmem-bench --target postgres://... (the same upsert through libpq)
#   redis   redis-benchmark -c1 -t set (one key), appendfsync always
#   redis   casmem-bench --target redis://... (MULTI/HSET/HINCRBY/EXEC)
# and prints every round, then per generator the median over rounds of the
# per-round ratios casmem/PostgreSQL and casmem/Redis.
#   bench/single/run.sh [rounds] [seconds]          (default 5 rounds, 5 s)
# Ports: casmemd 17280, PostgreSQL 15532, Redis 16580. Servers stay up for
# the whole run; only one generator runs at a time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
rounds=${1:-5}
secs=${2:-5}
bench="$top/build/bin/casmem-bench"
[ -x "$bench" ] && [ -x "$top/build/bin/casmemd" ] || { echo "build first: make build" >&2; exit 1; }
# shellcheck source=SCRIPTDIR/../peers/lib.sh
. "$top/bench/peers/lib.sh"
bench_need redis postgres wrk jq
casmem_port=17280
pg_port=15532
redis_port=16580

bench_start_casmemd $casmem_port casmem
bench_start_postgres $pg_port
bench_start_redis $redis_port
pg_url="postgres://postgres@127.0.0.1:$pg_port/postgres"
pgbin=$(bench_postgres_bin)
# The table of bench/contention/postgres_driver.cc (kSchema).
"$pgbin/psql" -q "$pg_url" -c "CREATE TABLE IF NOT EXISTS memory (workspace_id text NOT NULL, key text NOT NULL, value jsonb NOT NULL, version bigint NOT NULL DEFAULT 1, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (workspace_id, key))"

wrk_casmem() {
  wrk -t1 -c1 -d"${secs}s" -s "$here/post_one.lua" http://127.0.0.1:$casmem_port |
    awk '/Requests\/sec/ {print $2}'
}
pgbench_pg() {
  "$pgbin/pgbench" -n -c1 -j1 -M prepared -T "$secs" -f "$here/upsert.sql" "$pg_url" 2>/dev/null |
    awk '/^tps = / {print $3; exit}'
}
redis_rate=1000  # the last redis-benchmark rate: sizes the next run
redis_benchmark() {
  # No duration option: a request count of about $secs seconds at the last rate.
  local n
  n=$(awk -v r="$redis_rate" -v s="$secs" 'BEGIN { n = int(r * s); print (n < 200 ? 200 : n) }')
  redis-benchmark -p $redis_port -c 1 -n "$n" -t set --csv 2>/dev/null |
    awk -F, '$1=="\"SET\"" {gsub(/"/, "", $2); print $2}'
}
bench_write() {  # target
  "$bench" --target "$1" --workload write --agents 1 --keys 1 --seconds "$secs" --warmup 0.5 --json 2>>"$work/bench.err" |
    jq -r '.commits_per_s | round'
}

results="$work/rounds.txt"
: > "$results"
echo "# single-writer rounds started $(date -u +%Y-%m-%dT%H:%M:%SZ), $rounds rounds x 6 runs x $secs s, $(nproc) cores"
printf "%-6s %14s %14s %14s %14s %14s %14s\n" round wrk:casmem bench:casmem pgbench:pg bench:pg redis-bm:redis bench:redis
for i in $(seq "$rounds"); do
  a=$(wrk_casmem || true)
  b=$(bench_write casmem://127.0.0.1:$casmem_port || true)
  c=$(pgbench_pg || true)
  d=$(bench_write "$pg_url" || true)
  e=$(redis_benchmark || true)
  [ -n "$e" ] && redis_rate=$e
  f=$(bench_write redis://127.0.0.1:$redis_port || true)
  printf "%-6s %14s %14s %14s %14s %14s %14s\n" "$i" "$a" "$b" "$c" "$d" "$e" "$f"
  echo "${a:-0} ${b:-0} ${c:-0} ${d:-0} ${e:-0} ${f:-0}" >> "$results"  # 0: that run failed
done
echo "# ended $(date -u +%Y-%m-%dT%H:%M:%SZ)"
python3 - "$results" <<'PY'
import statistics, sys
rows = [[float(x) for x in line.split()] for line in open(sys.argv[1]) if line.strip()]
def med(f):
    v = [f(r) for r in rows if all(r)]
    return f"{statistics.median(v):.2f} (rounds: {', '.join(f'{x:.2f}' for x in v)})" if v else "n/a"
print("median per-round ratio casmem / PostgreSQL, wrk vs pgbench:      ", med(lambda r: r[0] / r[2]))
print("median per-round ratio casmem / PostgreSQL, casmem-bench both:   ", med(lambda r: r[1] / r[3]))
print("median per-round ratio casmem / Redis, wrk vs redis-benchmark:   ", med(lambda r: r[0] / r[4]))
print("median per-round ratio casmem / Redis, casmem-bench both:        ", med(lambda r: r[1] / r[5]))
print("median per-round ratio casmem-bench / wrk on casmem (generator): ", med(lambda r: r[1] / r[0]))
PY
