#!/usr/bin/env bash
# The change feed's figures (issue 10), side by side in one run, on one
# casmemd (--fsync always, a fresh data directory) and one etcd 3.4
# (bench/peers/lib.sh), both up for the whole run:
#   bench/watch/run.sh [rounds] [seconds]        (default 3 rounds of 10 s)
# First the peak: casmem-bench --workload watch, 0 watchers, writers as fast
# as they go (the best of two runs: noise only lowers it). Then `rounds`
# rounds, each of these cells in turn (the order of the first two swaps
# every round, so drift of the machine does not favour one):
#   idle-0     casmem, writers at max, no watcher
#   idle-1000  casmem, writers at max, 1,000 idle watchers connected (a
#              prefix nobody writes, in the writers' workspace; each must
#              stay connected)
#   idle-1000-ws  the same with the idle watchers in another workspace
#              (after the pair; WATCH_OTHER_WS=0 leaves it out)
#   watch-100  casmem, 100 watchers on the written prefix, writers at half
#              the peak: delivery latency, missing / duplicated changes
#   etcd-100   etcd, the same load (100 watchers, the same writes/s target)
# and, once, etcd's own peak (0 watchers) and etcd at half of it, for scale.
# Latency is a watcher's receipt of the change - its writer's receipt of
# the acknowledgement (one steady clock in casmem-bench; a change that
# arrives first counts as 0 ms and is counted as `early`).
# Writes docs/benchmarks/watch.csv (WATCH_CSV: elsewhere), prints a
# markdown table and the ratios on stdout. WATCH_WRITERS (64),
# WATCH_IDLE (1000), WATCH_WATCHERS (100) change the sizes for smokes;
# WATCH_ETCD=0 leaves etcd out. Ports: casmemd 17190, etcd 23890-23891.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
rounds=${1:-3}
secs=${2:-10}
bench="$top/build/bin/casmem-bench"
[ -x "$bench" ] && [ -x "$top/build/bin/casmemd" ] || { echo "build first: make build" >&2; exit 1; }
# shellcheck source=SCRIPTDIR/../peers/lib.sh
. "$top/bench/peers/lib.sh"
use_etcd=${WATCH_ETCD:-1}
if [ "$use_etcd" != 0 ]; then bench_need etcd jq; else bench_need jq; fi
writers=${WATCH_WRITERS:-64}
idle=${WATCH_IDLE:-1000}
watchers=${WATCH_WATCHERS:-100}
casmem_port=17190
etcd_port=23890
etcd_peer=23891
csv=${WATCH_CSV:-$top/docs/benchmarks/watch.csv}
mkdir -p "$(dirname "$csv")"
# Every watcher is a socket in casmem-bench and one in the server.
need_fds=$((2 * (idle + watchers + writers) + 256))
if [ "$(ulimit -n)" -lt "$need_fds" ]; then
  echo "ulimit -n is $(ulimit -n); $need_fds open files are needed (raise the hard limit)" >&2; exit 1
fi

# cell ROUND CELL TARGET ARGS...: one casmem-bench run, one csv line; the
# run's JSON is left in $work/cell.json.
cell() {
  local round=$1 name=$2 target=$3 rc=0; shift 3
  echo "  round $round $name $*" >&2
  "$bench" --target "$target" --workload watch --agents "$writers" --seconds "$secs" --json "$@" \
    > "$work/cell.json" 2> "$work/cell.err" || rc=$?
  if ! jq -e . "$work/cell.json" >/dev/null 2>&1; then
    echo "    casmem-bench failed (exit $rc): $(tail -3 "$work/cell.err")" >&2
    echo "$round,$name,,,,,,,,,,,,,,,,,,,,,,\"no result (exit $rc)\"," >> "$csv"
    echo '{}' > "$work/cell.json"
    return
  fi
  [ "$rc" = 0 ] || echo "    exit $rc: $(jq -c '{missing,duplicated,out_of_order,unacked,watch_disconnects,idle_disconnects,errors,notices}' "$work/cell.json")" >&2
  jq -r --arg round "$round" --arg name "$name" '
    def r3: . * 1000 | round / 1000;
    [ $round, $name, .system, .writers, .watchers, .idle_watchers, (.rate // "max"),
      (.writes_per_s | round), .deliveries,
      (.latency_ms.p50 | r3), (.latency_ms.p90 | r3), (.latency_ms.p99 | r3), (.latency_ms.p999 | r3),
      (.latency_ms.max | r3), .early, .missing, .duplicated, .out_of_order, .unacked,
      .watch_disconnects, .idle_disconnects, .open_failures,
      (if .verdict then .clean else "no verdict" end), .errors, .notices ] | @csv' \
    "$work/cell.json" >> "$csv"
}

# The best writes/s of two runs without watchers.
peak() {  # name target
  local best=0 w
  for _ in 1 2; do
    cell 0 "$1" "$2" --rate max
    w=$(jq -r 'if .verdict then .writes_per_s else 0 end' "$work/cell.json")
    best=$(awk -v a="$best" -v b="$w" 'BEGIN { print (b > a ? b : a) }')
  done
  echo "$best"
}

echo "round,cell,system,writers,watchers,idle_watchers,rate,writes_per_s,deliveries,lat_p50_ms,lat_p90_ms,lat_p99_ms,lat_p999_ms,lat_max_ms,early,missing,duplicated,out_of_order,unacked,watch_disconnects,idle_disconnects,open_failures,clean,errors,notices" > "$csv"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "# watch benchmark started $started: $rounds rounds, $secs s per cell, $writers writers, $(nproc) cores" >&2
bench_start_casmemd $casmem_port casmem-watch
casmem=casmem://127.0.0.1:$casmem_port
if [ "$use_etcd" != 0 ]; then
  bench_start_etcd $etcd_port $etcd_peer
  etcd=etcd://127.0.0.1:$etcd_port
fi
casmem_peak=$(peak casmem-peak "$casmem")
half=$(awk -v p="$casmem_peak" 'BEGIN { printf "%d", p / 2 }')
echo "# casmem peak $casmem_peak writes/s; half $half" >&2
for round in $(seq "$rounds"); do
  if [ $((round % 2)) = 1 ]; then order="0 $idle"; else order="$idle 0"; fi
  for k in $order; do
    if [ "$k" = 0 ]; then cell "$round" idle-0 "$casmem" --rate max
    else cell "$round" "idle-$k" "$casmem" --rate max --idle-watchers "$k"; fi
  done
  [ "${WATCH_OTHER_WS:-1}" = 0 ] ||
    cell "$round" "idle-$idle-ws" "$casmem" --rate max --idle-watchers "$idle" --idle-workspace bench-idle
  cell "$round" "watch-$watchers" "$casmem" --rate "$half" --watchers "$watchers"
  [ "$use_etcd" = 0 ] || cell "$round" "etcd-$watchers" "$etcd" --rate "$half" --watchers "$watchers"
done
if [ "$use_etcd" != 0 ]; then
  etcd_peak=$(peak etcd-peak "$etcd")
  etcd_half=$(awk -v p="$etcd_peak" 'BEGIN { printf "%d", p / 2 }')
  cell 1 "etcd-$watchers-own-half" "$etcd" --rate "$etcd_half" --watchers "$watchers"
fi
ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "# watch benchmark ended $ended" >&2

python3 - "$csv" "$started" "$ended" "$rounds" "$secs" "$casmem_peak" "$idle" "$watchers" <<'PY'
import csv, statistics, sys
path, started, ended, rounds, secs, peak, idle, watchers = sys.argv[1:]
rows = [r for r in csv.DictReader(open(path))]
for r in rows:  # a run without a verdict has no figures
    if r["clean"] not in ("true", "false"): r["writes_per_s"] = ""
def num(r, k):
    try: return float(r[k])
    except (TypeError, ValueError): return None
by = {}
for r in rows: by.setdefault(r["cell"], []).append(r)
print(f"Watch benchmark, {rounds} rounds of {secs} s per cell, started {started}, ended {ended} "
      f"(`bench/watch/run.sh {rounds} {secs}`); casmem peak {float(peak):,.0f} writes/s, half {int(float(peak)/2):,}")
print()
print("| cell | round | system | watchers | idle | rate | writes/s | p50 ms | p90 | p99 | p999 | max | early | missing | dup | out of order | disconnects (watch/idle) | clean |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
for r in rows:
    if not r["writes_per_s"]:
        print(f"| {r['cell']} | {r['round']} | no result: {r['errors']} |||||||||||||||")
        continue
    lat = r["watchers"] != "0"
    L = lambda k: r[k] if lat else "-"
    print(f"| {r['cell']} | {r['round']} | {r['system']} | {r['watchers']} | {r['idle_watchers']} | {r['rate']} | "
          f"{int(float(r['writes_per_s'])):,} | {L('lat_p50_ms')} | {L('lat_p90_ms')} | {L('lat_p99_ms')} | "
          f"{L('lat_p999_ms')} | {L('lat_max_ms')} | {L('early')} | {L('missing')} | {L('duplicated')} | "
          f"{L('out_of_order')} | {r['watch_disconnects']}/{r['idle_disconnects']} | {r['clean']} |")
print()
# Ratios, round by round (the two cells of a round ran back to back).
none = {r["round"]: num(r, "writes_per_s") for r in by.get("idle-0", [])}
some = {r["round"]: num(r, "writes_per_s") for r in by.get(f"idle-{idle}", [])}
ratios = [some[k] / none[k] for k in none if none[k] and some.get(k) is not None]
if ratios:
    print(f"- writes/s with {idle} idle watchers / without, per round: " +
          ", ".join(f"{x:.3f}" for x in ratios) + f"; median **{statistics.median(ratios):.3f}** (target >= 0.9)")
other = {r["round"]: num(r, "writes_per_s") for r in by.get(f"idle-{idle}-ws", [])}
ratios = [other[k] / none[k] for k in none if none[k] and other.get(k) is not None]
if ratios:
    print(f"- the same, idle watchers in another workspace: " +
          ", ".join(f"{x:.3f}" for x in ratios) + f"; median **{statistics.median(ratios):.3f}**")
for name in (f"watch-{watchers}", f"etcd-{watchers}", f"etcd-{watchers}-own-half"):
    rs = [r for r in by.get(name, []) if r["writes_per_s"]]
    if not rs: continue
    p99 = [float(r["lat_p99_ms"]) for r in rs]
    lost = sum(int(r["missing"]) for r in rs)
    dup = sum(int(r["duplicated"]) for r in rs)
    print(f"- {name}: writes/s {', '.join(str(int(float(r['writes_per_s']))) for r in rs)}; p50 ms "
          f"{', '.join(r['lat_p50_ms'] for r in rs)}; p99 ms {', '.join(r['lat_p99_ms'] for r in rs)} "
          f"(median **{statistics.median(p99):.3f}**" + (", target <= 5 ms" if name.startswith("watch") else "") +
          f"); missing {lost}, duplicated {dup} over all watchers and rounds")
PY
