#!/usr/bin/env bash
# The contention sweep: the same casmem-bench workloads against casmem and
# its peers, each started here on loopback with its data in a temporary
# directory and durable settings, stopped by its own PID afterwards.
#   bench/peers/run.sh [seconds-per-run] [system...]
#   systems: casmem casmem-noturns postgres etcd redis (default: all;
#   casmem-noturns is casmemd with --conflict-turn 0, every 409 at once)
# Writes docs/benchmarks/contention.csv and the plots beside it.
#   bench/peers/run.sh atomic [seconds-per-run]
# The server-side updates of issue 8, 64 agents, all systems up at once
# and run one after the other: on one key casmem's PATCH (--fsync always)
# beside casmem's own cas loop, Redis's EVAL (appendfsync always),
# PostgreSQL's one UPDATE and etcd's read+txn loop; then the two-key move
# (casmem POST /txn, etcd txn loop, PostgreSQL transaction, Redis EVAL).
# Writes docs/benchmarks/atomic.csv.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mode=sweep
if [ "${1:-}" = atomic ]; then mode=atomic; shift; fi
secs=${1:-5}
shift || true
systems=${*:-casmem casmem-noturns postgres etcd redis}
[ $mode = atomic ] && systems="casmem redis postgres etcd"
bench="$top/build/bin/casmem-bench"
out="$top/docs/benchmarks"
[ -x "$bench" ] && [ -x "$top/build/bin/casmemd" ] || { echo "build first: make build" >&2; exit 1; }
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"
bench_need redis gnuplot etcd postgres

start_casmem() { bench_start_casmemd 17080 casmem; }
start_casmem-noturns() { bench_start_casmemd 17081 casmem-noturns --conflict-turn 0; }
start_redis() { bench_start_redis 16380; }
start_etcd() { bench_start_etcd 23790 23800; }
start_postgres() { bench_start_postgres 15432; }
target_of() {
  case $1 in
    casmem) echo casmem://127.0.0.1:17080 ;;
    casmem-noturns) echo casmem://127.0.0.1:17081 ;;
    redis) echo redis://127.0.0.1:16380 ;;
    etcd) echo etcd://127.0.0.1:23790 ;;
    postgres) echo postgres://postgres@127.0.0.1:15432/postgres ;;
  esac
}

csv="$out/contention.csv"
[ $mode = atomic ] && csv="$out/atomic.csv"
"$bench" --help >/dev/null
echo "system,workload,agents,keys,seconds,commits_per_s,attempts_per_s,conflicts_per_s,retries_mean,retries_p99,lat_p50_ms,lat_p90_ms,lat_p99_ms,lat_p999_ms,lat_max_ms,agent_min,agent_median,agent_max,lost_updates,violations,errors,updates_per_fsync,agents_zero" > "$csv"
run() {  # system, then casmem-bench arguments
  local sys=$1; shift
  echo "  $sys $*" >&2
  # The csv names the system as run.sh does (casmem-noturns is casmem to
  # casmem-bench).
  "$bench" --target "$(target_of "$sys")" --csv --no-header --seconds "$secs" "$@" |
    sed "s/^[^,]*,/$sys,/" >> "$csv" || true
}
if [ $mode = atomic ]; then
  date -u +"# atomic updates started %Y-%m-%dT%H:%M:%SZ, $secs s per run" >&2
  for sys in $systems; do "start_$sys"; done
  run casmem --workload cas --agents 64 --keys 1
  for sys in casmem redis postgres etcd; do run "$sys" --workload patch --agents 64 --keys 1; done
  run casmem --workload cas --agents 64 --keys 1  # again: the ratio's noise
  for sys in casmem etcd postgres redis; do run "$sys" --workload txn --agents 64; done
  date -u +"# atomic updates ended %Y-%m-%dT%H:%M:%SZ" >&2
  # The columns that matter here (errors is quoted text: see the csv).
  awk -F, '{print $1, $2, $6, $7, $11, $13, $16, $17, $20, $NF}' "$csv" | column -t
  exit 0
fi
date -u +"# sweep started %Y-%m-%dT%H:%M:%SZ, $secs s per run" >&2
for sys in $systems; do
  "start_$sys"
  for a in 1 4 16 64 256 1024; do run "$sys" --workload cas --agents $a --keys 1; done
  run "$sys" --workload cas --agents 64 --keys 100
  run "$sys" --workload cas --agents 64 --keys 10000
  run "$sys" --workload lww --agents 64 --keys 1
  run "$sys" --workload create --agents 64 --keys 1000
  run "$sys" --workload read --agents 64 --keys 100000
  run "$sys" --workload write --agents 64 --keys 100000
  # One agent's durable write round trip: the ceiling of commits on one key.
  run "$sys" --workload write --agents 1 --keys 100000
done
date -u +"# sweep ended %Y-%m-%dT%H:%M:%SZ" >&2

bash "$here/plot.sh" "$csv" $systems
column -s, -t < "$csv" | cut -c1-200
