#!/usr/bin/env bash
# HTTP benchmark of casmemd beside the ceiling (nginx returning a fixed
# body), in one run on this machine. wrk, keep-alive, 64 connections, -t1.
#   bench/http/run.sh [seconds]      (default 10)
# Interleaved rounds, for a shared machine: R rounds of (nginx ceiling,
# casmemd POST with fsync always, casmemd GET), S seconds each, every round
# printed with its ratios, then the median of the per-round ratios
# GET/ceiling and POST/ceiling:
#   bench/http/run.sh rounds [R] [S] (default 5 rounds, 5 s)
# Installs wrk and nginx from Debian if missing; needs build/bin/casmemd.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mode=once
if [ "${1:-}" = rounds ]; then mode=rounds; shift; rounds=${1:-5}; secs=${2:-5}; else secs=${1:-10}; fi
conns=64
casmem_port=17070
nginx_port=18080
work=$(mktemp -d /tmp/casmem-http-bench.XXXXXX)
for p in wrk nginx; do
  command -v $p >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null; }
done
[ -x "$top/build/bin/casmemd" ] || { echo "build first: make build" >&2; exit 1; }

cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -n "${casmem_pid:-}" ] && kill "$casmem_pid" 2>/dev/null && wait "$casmem_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

sed -e "s#PREFIX#$work#g" -e "s#NGINX_PORT#$nginx_port#g" "$here/nginx.conf" > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work" &
"$top/build/bin/casmemd" --listen 127.0.0.1:$casmem_port --data-dir "$work/data" --fsync always \
  --log-level warn > "$work/casmemd.out" &
casmem_pid=$!
for _ in $(seq 50); do grep -q listening "$work/casmemd.out" 2>/dev/null && break; sleep 0.1; done
sleep 0.5

wrk_run() {  # name, then wrk arguments; prints "name rps p50 p99"
  local name=$1; shift
  local out
  out=$(wrk -t1 -c$conns -d${secs}s --latency "$@")
  echo "$out" > "$work/$name.txt"
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local errors
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf "%-28s %12s req/s   p50 %-9s p99 %-9s %s\n" "$name" "$rps" "$p50" "$p99" "$errors" >&2
  echo "$rps"
}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(nproc) cores  wrk -t1 -c$conns -d${secs}s"
# Seed 100k keys with sequential upserts, so every GET below finds its key.
KEYS=100000 SEQUENTIAL=1 wrk -t1 -c$conns -d6s -s "$here/post_lww.lua" http://127.0.0.1:$casmem_port >/dev/null
live=$(curl -s http://127.0.0.1:$casmem_port/metrics | awk '$1=="casmem_live_keys" {print $2}')
echo "# seeded: $live live keys"

if [ $mode = rounds ]; then
  echo "# $rounds interleaved rounds of (ceiling, POST, GET), ${secs}s each"
  ratios="$work/ratios.txt"
  : > "$ratios"
  for i in $(seq "$rounds"); do
    echo "round $i" >&2
    c=$(wrk_run "nginx fixed 200" http://127.0.0.1:$nginx_port/ | tail -1)
    p=$(KEYS=100000 wrk_run "casmemd POST (fsync always)" -s "$here/post_lww.lua" http://127.0.0.1:$casmem_port | tail -1)
    g=$(KEYS=100000 wrk_run "casmemd GET" -s "$here/get.lua" http://127.0.0.1:$casmem_port | tail -1)
    awk -v i="$i" -v c="$c" -v p="$p" -v g="$g" 'BEGIN {
      if (c + 0 <= 0) { printf "round %d: no ceiling figure, round left out\n", i; exit }
      printf "round %d: ceiling %.0f  POST %.0f  GET %.0f  GET/ceiling %.2f  POST/ceiling %.2f\n", i, c, p, g, g / c, p / c
    }'
    awk -v c="$c" -v p="$p" -v g="$g" 'BEGIN { if (c + 0 > 0) print g / c, p / c }' >> "$ratios"
  done
  median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  printf "# median GET / ceiling  = %.2f\n" "$(awk '{print $1}' "$ratios" | median)"
  printf "# median POST / ceiling = %.2f\n" "$(awk '{print $2}' "$ratios" | median)"
  exit 0
fi

ceiling=$(wrk_run "nginx fixed 200" http://127.0.0.1:$nginx_port/ | tail -1)
get=$(KEYS=100000 wrk_run "casmemd GET" -s "$here/get.lua" http://127.0.0.1:$casmem_port | tail -1)
post=$(KEYS=100000 wrk_run "casmemd POST (fsync always)" -s "$here/post_lww.lua" http://127.0.0.1:$casmem_port | tail -1)
# Half the POST peak: each of the 64 connections waits between requests so
# that 64 / (delay + service time) is about peak / 2.
delay_ms=$(awk -v c=$conns -v p="$post" 'BEGIN { d = 1000 * c / (p / 2); printf "%d", (d < 1 ? 1 : d) }')
half=$(KEYS=100000 DELAY_MS=$delay_ms wrk_run "casmemd POST at ~half peak" -s "$here/post_lww.lua" http://127.0.0.1:$casmem_port | tail -1)
fsyncs=$(curl -s http://127.0.0.1:$casmem_port/metrics | awk '$1=="casmem_wal_fsyncs_total" {print $2}')

awk -v c="$ceiling" -v g="$get" -v p="$post" -v h="$half" -v d="$delay_ms" -v f="$fsyncs" 'BEGIN {
  printf "# GET / ceiling  = %.2f\n", g / c
  printf "# POST / ceiling = %.2f\n", p / c
  printf "# half-peak run: %d ms think time per connection, %.0f req/s achieved\n", d, h
  printf "# fsyncs during the whole run: %d\n", f
}'
