#!/usr/bin/env bash
# The contention sweep: the same casmem-bench workloads against casmem and
# its peers, each started here on loopback with its data in a temporary
# directory and durable settings, stopped by its own PID afterwards.
#   bench/peers/run.sh [seconds-per-run] [system...]
#   systems: casmem redis etcd postgres (default: all four)
# Writes docs/benchmarks/contention.csv and the plots beside it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${1:-5}
shift || true
systems=${*:-casmem postgres etcd redis}
bench="$top/build/bin/casmem-bench"
out="$top/docs/benchmarks"
[ -x "$bench" ] && [ -x "$top/build/bin/casmemd" ] || { echo "build first: make build" >&2; exit 1; }
need=""
command -v redis-server >/dev/null || need="$need redis-server"
command -v gnuplot >/dev/null || need="$need gnuplot-nox"
command -v etcd >/dev/null || need="$need etcd-server"
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need="$need postgresql"
if [ -n "$need" ]; then apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null; fi

work=$(mktemp -d /tmp/casmem-peers.XXXXXX)
chmod 755 "$work"  # the postgres user must reach its data directory
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

start_casmem() {
  "$top/build/bin/casmemd" --listen 127.0.0.1:17080 --data-dir "$work/casmem" --fsync always \
    --log-level warn > "$work/casmemd.out" &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/casmemd.out" 2>/dev/null && return; sleep 0.1; done
  echo "casmemd did not start" >&2; exit 1
}
start_redis() {
  mkdir -p "$work/redis"
  redis-server --port 16380 --bind 127.0.0.1 --dir "$work/redis" --appendonly yes \
    --appendfsync always --save "" --maxclients 4096 --daemonize no > "$work/redis.log" &
  pids+=($!)
  for _ in $(seq 100); do redis-cli -p 16380 ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis did not start" >&2; exit 1
}
start_etcd() {
  etcd --name bench --data-dir "$work/etcd" \
    --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster bench=http://127.0.0.1:23800 > "$work/etcd.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -sf -X POST http://127.0.0.1:23790/v3/kv/range -d '{"key":"eA=="}' >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "etcd did not start" >&2; exit 1
}
start_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$work/pg" && chown postgres "$work/pg"
  runuser -u postgres -- "$bin/initdb" -D "$work/pg/data" -A trust -U postgres >/dev/null
  # Default (durable) settings; only more connections for 1024 agents.
  runuser -u postgres -- "$bin/postgres" -D "$work/pg/data" -p 15432 -k "$work/pg" \
    -c listen_addresses=127.0.0.1 -c max_connections=1200 > "$work/pg.log" 2>&1 &
  for _ in $(seq 100); do
    [ -f "$work/pg/data/postmaster.pid" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p 15432 && break
    sleep 0.1
  done
  pids+=("$(head -1 "$work/pg/data/postmaster.pid")")  # the postmaster itself
}
target_of() {
  case $1 in
    casmem) echo casmem://127.0.0.1:17080 ;;
    redis) echo redis://127.0.0.1:16380 ;;
    etcd) echo etcd://127.0.0.1:23790 ;;
    postgres) echo postgres://postgres@127.0.0.1:15432/postgres ;;
  esac
}

csv="$out/contention.csv"
"$bench" --help >/dev/null
echo "system,workload,agents,keys,seconds,commits_per_s,attempts_per_s,conflicts_per_s,retries_mean,retries_p99,lat_p50_ms,lat_p90_ms,lat_p99_ms,lat_p999_ms,lat_max_ms,agent_min,agent_median,agent_max,lost_updates,violations,errors" > "$csv"
run() {  # system, then casmem-bench arguments
  local sys=$1; shift
  echo "  $sys $*" >&2
  "$bench" --target "$(target_of "$sys")" --csv --no-header --seconds "$secs" "$@" >> "$csv" || true
}
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
done
date -u +"# sweep ended %Y-%m-%dT%H:%M:%SZ" >&2

# Plots: committed updates/s and p99 commit latency against agents (cas, one key).
# pngcairo when gnuplot has it, else the plain png terminal.
png_term="pngcairo size 800,480"
gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 || png_term="png size 800,480"
for fmt in svg png; do
  term=$([ $fmt = svg ] && echo "svg size 800,480" || echo "$png_term")
  plot_tp="" plot_lat=""
  for sys in $systems; do
    awk -F, -v s="$sys" '$1==s && $2=="cas" && $4==1 {print $3, $6, $13}' "$csv" > "$work/$sys.dat"
    plot_tp="$plot_tp${plot_tp:+, }'$work/$sys.dat' using 1:2 with linespoints title '$sys'"
    plot_lat="$plot_lat${plot_lat:+, }'$work/$sys.dat' using 1:3 with linespoints title '$sys'"
  done
  gnuplot <<GP
set terminal $term
set logscale xy
set grid
set key top right
set xlabel "agents on one key"
set output "$out/contention-throughput.$fmt"
set ylabel "committed updates/s"
plot $plot_tp
set output "$out/contention-p99.$fmt"
set ylabel "p99 commit latency (ms)"
plot $plot_lat
GP
done
column -s, -t < "$csv" | cut -c1-200
