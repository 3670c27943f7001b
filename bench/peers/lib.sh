# shellcheck shell=bash disable=SC2154  # $top is the caller's
# Shared start/stop code of the benchmark scripts (sourced, not run):
# casmemd and its peers on loopback, each with its data under $work (a
# temporary directory made here) and durable settings, each stopped by its
# own PID. The caller sets `top` (the checkout) before sourcing; the
# EXIT trap installed here stops everything still running and removes
# $work. One port per server and script: see each script's port list.
#   bench_need redis postgres wrk nginx pgbench gnuplot etcd jq   (installs what is missing)
#   bench_start_casmemd PORT NAME [casmemd options...]   --fsync always, logs in $work/NAME.out
#   bench_start_redis PORT        appendfsync always
#   bench_start_postgres PORT     default (durable) settings, max_connections 1200
#   bench_stop PID                stops one server started here and waits for it
# Started PIDs are in bench_pids; the last one started is in bench_last_pid.

bench_need() {
  local need="" t
  for t in "$@"; do
    case $t in
      redis) command -v redis-server >/dev/null || need="$need redis-server"
             command -v redis-benchmark >/dev/null || need="$need redis-tools" ;;
      postgres|pgbench) ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || need="$need postgresql" ;;
      wrk) command -v wrk >/dev/null || need="$need wrk" ;;
      nginx) command -v nginx >/dev/null || need="$need nginx-light" ;;
      gnuplot) command -v gnuplot >/dev/null || need="$need gnuplot-nox" ;;
      etcd) command -v etcd >/dev/null || need="$need etcd-server" ;;
      jq) command -v jq >/dev/null || need="$need jq" ;;
      *) echo "bench_need: unknown tool $t" >&2; return 1 ;;
    esac
  done
  if [ -n "$need" ]; then apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null; fi
}

work=$(mktemp -d /tmp/casmem-bench.XXXXXX)
chmod 755 "$work"  # the postgres user must reach its data directory
bench_pids=()
bench_last_pid=
# 1024 agents: one descriptor per connection in the client and the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_cleanup() {
  local p
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # The postmaster is not our child: wait for it to go before removing its directory.
  for p in "${bench_pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$work"
}
trap bench_cleanup EXIT
# Interrupted: exit, so that the EXIT trap stops the servers.
trap 'exit 130' INT
trap 'exit 143' TERM

bench_stop() {  # pid
  local p=$1 keep=() q
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  for q in "${bench_pids[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  bench_pids=("${keep[@]}")
}

bench_start_casmemd() {  # port, name, extra options
  local port=$1 name=$2; shift 2
  rm -rf "${work:?}/$name"
  "$top/build/bin/casmemd" --listen 127.0.0.1:$port --data-dir "$work/$name" --fsync always \
    --log-level warn "$@" > "$work/$name.out" &
  bench_last_pid=$!
  bench_pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/$name.out" 2>/dev/null && return; sleep 0.1; done
  echo "casmemd ($name) did not start" >&2; exit 1
}

bench_start_redis() {  # port
  local port=$1
  rm -rf "${work:?}/redis-$port" && mkdir -p "$work/redis-$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work/redis-$port" --appendonly yes \
    --appendfsync always --save "" --maxclients 4096 --daemonize no > "$work/redis-$port.log" &
  bench_last_pid=$!
  bench_pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis did not start" >&2; exit 1
}

bench_start_etcd() {  # client port, peer port
  local port=$1 peer=$2
  etcd --name bench --data-dir "$work/etcd-$port" \
    --listen-client-urls http://127.0.0.1:$port --advertise-client-urls http://127.0.0.1:$port \
    --listen-peer-urls http://127.0.0.1:$peer --initial-advertise-peer-urls http://127.0.0.1:$peer \
    --initial-cluster bench=http://127.0.0.1:$peer > "$work/etcd-$port.log" 2>&1 &
  bench_last_pid=$!
  bench_pids+=($!)
  for _ in $(seq 100); do
    curl -sf -X POST http://127.0.0.1:$port/v3/kv/range -d '{"key":"eA=="}' >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "etcd did not start" >&2; exit 1
}

bench_postgres_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1; }

bench_start_postgres() {  # port
  local port=$1 bin dir
  bin=$(bench_postgres_bin)
  dir="$work/pg-$port"
  rm -rf "$dir" && mkdir -p "$dir" && chown postgres "$dir"
  runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
  # Default (durable) settings; only more connections for 1024 agents.
  runuser -u postgres -- "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" \
    -c listen_addresses=127.0.0.1 -c max_connections=1200 > "$dir.log" 2>&1 &
  for _ in $(seq 100); do
    [ -f "$dir/data/postmaster.pid" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
    sleep 0.1
  done
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" || { echo "postgres did not start" >&2; exit 1; }
  bench_last_pid=$(head -1 "$dir/data/postmaster.pid")  # the postmaster itself
  bench_pids+=("$bench_last_pid")
}
