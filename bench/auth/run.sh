#!/usr/bin/env bash
# Access control and TLS figures (issue 11), side by side in one run on one
# machine: three casmemd (--fsync always, each on a fresh data directory of
# its own), up for the whole run:
#   plain  no token, plain HTTP                       port 17210
#   auth   one admin token (made offline with `casmemd token create` before
#          it starts), plain HTTP; casmem-bench sends the token  port 17211
#   tls    no token, HTTPS with a throwaway certificate (openssl CLI)  port 17212
#   bench/auth/run.sh [rounds] [seconds]        (default 5 rounds of 10 s)
# Each round runs these cells, the servers' order rotating every round so
# drift of the machine favours none:
#   get-S   casmem-bench --workload read (GETs of existing keys) on server S
#   post-S  casmem-bench --workload write (durable POSTs of distinct keys)
#   hs-S    casmem-bench --workload handshake on plain and tls: a new
#           connection per GET /healthz (TCP connects/s vs TLS handshakes/s)
# GET and POST run on keep-alive connections (one per agent). Ratios, per
# round then the median of the rounds: auth / plain (goal >= 0.95) and
# tls / plain for GET and POST, and TLS handshakes/s / TCP connects/s.
# Writes docs/benchmarks/auth.csv (AUTH_CSV: elsewhere) and prints a
# markdown table and the ratios. AUTH_AGENTS (32), AUTH_KEYS (1000),
# AUTH_HS_AGENTS (8) change the sizes for smokes; AUTH_TLS=0 leaves the
# tls server and its cells out; CASMEMD runs another casmemd binary.
# Needs a casmemd with `casmemd token` and --tls-cert/--tls-key (spec
# section 9); says so and stops when it has not.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
rounds=${1:-5}
secs=${2:-10}
bench="$top/build/bin/casmem-bench"
casmemd=${CASMEMD:-$top/build/bin/casmemd}
use_tls=${AUTH_TLS:-1}
[ -x "$bench" ] && [ -x "$casmemd" ] || { echo "build first: make build" >&2; exit 1; }
command -v openssl >/dev/null || { echo "the openssl CLI is needed (apt-get install openssl)" >&2; exit 1; }
# shellcheck source=SCRIPTDIR/../peers/lib.sh
. "$top/bench/peers/lib.sh"
bench_need jq
agents=${AUTH_AGENTS:-32}
keys=${AUTH_KEYS:-1000}
hs_agents=${AUTH_HS_AGENTS:-8}
csv=${AUTH_CSV:-$top/docs/benchmarks/auth.csv}
mkdir -p "$(dirname "$csv")"
declare -A port=([plain]=17210 [auth]=17211 [tls]=17212)

# The admin token, made offline on the auth server's data directory; its
# secret stays in this shell and reaches casmem-bench through CASMEM_TOKEN
# (never on a command line, never printed).
mkdir -p "$work/auth"
if ! secret=$("$casmemd" token create --data-dir "$work/auth" --name bench --workspace '*' --role admin \
                2> "$work/token.err"); then
  echo "this casmemd cannot create tokens (\`casmemd token create\` failed: $(head -c 300 "$work/token.err"))." >&2
  echo "bench/auth/run.sh needs the server side of issue 11 (spec section 9): build a casmemd that has it." >&2
  exit 1
fi
if [ -z "$secret" ] || [ "$(printf '%s\n' "$secret" | wc -l)" != 1 ]; then
  echo "\`casmemd token create\` did not print the secret alone on one line" >&2; exit 1
fi
if [ "$use_tls" != 0 ] && ! "$casmemd" --help 2>&1 | grep -q -- --tls-cert; then
  echo "this casmemd has no --tls-cert (issue 11's TLS): build a casmemd that has it (or AUTH_TLS=0)" >&2; exit 1
fi
[ "$use_tls" = 0 ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$work/tls.key" -out "$work/tls.crt" -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1 ||
  { echo "openssl could not make the test certificate" >&2; exit 1; }

# start NAME [casmemd options]: NAME's data directory is $work/NAME (not
# emptied: auth's holds its token); up once its ready line is out.
start() {
  local name=$1; shift
  "$casmemd" --listen "127.0.0.1:${port[$name]}" --data-dir "$work/$name" --fsync always --log-level warn "$@" \
    > "$work/$name.out" 2>&1 &
  bench_pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/$name.out" 2>/dev/null && return; sleep 0.1; done
  echo "casmemd ($name) did not start: $(tail -3 "$work/$name.out")" >&2; exit 1
}
start plain
start auth
servers=(plain auth)
if [ "$use_tls" != 0 ]; then
  start tls --tls-cert "$work/tls.crt" --tls-key "$work/tls.key"
  servers+=(tls)
  # The ready line must say https:// (a casmemd that ignored the options would serve plain HTTP).
  grep -q https:// "$work/tls.out" || { echo "casmemd (tls) does not serve HTTPS: $(head -3 "$work/tls.out")" >&2; exit 1; }
fi

target() {  # server
  case $1 in
    tls) echo "https://127.0.0.1:${port[tls]}" ;;
    *) echo "casmem://127.0.0.1:${port[$1]}" ;;
  esac
}

# cell ROUND NAME SERVER ARGS...: one casmem-bench run, one csv line.
cell() {
  local round=$1 name=$2 server=$3 rc=0 tok=""; shift 3
  local extra=()
  [ "$server" = tls ] && extra=(--cacert "$work/tls.crt")
  [ "$server" = auth ] && tok=$secret
  echo "  round $round $name $*" >&2
  CASMEM_TOKEN=$tok "$bench" --target "$(target "$server")" "${extra[@]}" --seconds "$secs" --json "$@" \
    > "$work/cell.json" 2> "$work/cell.err" || rc=$?
  if ! jq -e . "$work/cell.json" >/dev/null 2>&1 || [ "$rc" != 0 ]; then
    echo "    casmem-bench failed (exit $rc): $(tail -3 "$work/cell.err")" >&2
    echo "$round,$name,$server,,,,,,,,,\"no result (exit $rc)\"" >> "$csv"
    return
  fi
  jq -r --arg round "$round" --arg name "$name" --arg server "$server" '
    def r3: . * 1000 | round / 1000;
    [ $round, $name, $server, .workload, .agents, (.commits_per_s | round),
      (.latency_ms.p50 | r3), (.latency_ms.p90 | r3), (.latency_ms.p99 | r3), (.latency_ms.p999 | r3),
      (.latency_ms.max | r3), .errors ] | @csv' "$work/cell.json" >> "$csv"
}

echo "round,cell,server,workload,agents,ops_per_s,lat_p50_ms,lat_p90_ms,lat_p99_ms,lat_p999_ms,lat_max_ms,errors" > "$csv"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "# auth/TLS benchmark started $started: $rounds rounds, $secs s per cell, $agents agents, $(nproc) cores" >&2
n=${#servers[@]}
for round in $(seq "$rounds"); do
  # Rotate the servers' order: round 1 plain auth tls, round 2 auth tls plain, ...
  k=$(( (round - 1) % n ))
  order=("${servers[@]:$k}" "${servers[@]:0:$k}")
  for s in "${order[@]}"; do cell "$round" "get-$s" "$s" --workload read --agents "$agents" --keys "$keys"; done
  for s in "${order[@]}"; do cell "$round" "post-$s" "$s" --workload write --agents "$agents" --keys "$keys"; done
  if [ "$use_tls" = 0 ]; then hs="plain"; elif [ $((round % 2)) = 1 ]; then hs="plain tls"; else hs="tls plain"; fi
  for s in $hs; do cell "$round" "hs-$s" "$s" --workload handshake --agents "$hs_agents"; done
done
ended=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "# auth/TLS benchmark ended $ended" >&2

python3 - "$csv" "$started" "$ended" "$rounds" "$secs" "$agents" "$hs_agents" <<'PY'
import csv, statistics, sys
path, started, ended, rounds, secs, agents, hs_agents = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
def num(r):
    try: return float(r["ops_per_s"])
    except (TypeError, ValueError): return None
by = {}
for r in rows: by.setdefault(r["cell"], {})[r["round"]] = r
print(f"Access control and TLS, {rounds} rounds of {secs} s per cell, started {started}, ended {ended} "
      f"(`bench/auth/run.sh {rounds} {secs}`); {agents} keep-alive agents for GET/POST, {hs_agents} for handshakes")
print()
print("| cell | round | ops/s | p50 ms | p90 | p99 | p999 | max | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    v = num(r)
    if v is None:
        print(f"| {r['cell']} | {r['round']} | no result | | | | | | {r['errors']} |")
        continue
    print(f"| {r['cell']} | {r['round']} | {int(v):,} | {r['lat_p50_ms']} | {r['lat_p90_ms']} | {r['lat_p99_ms']} | "
          f"{r['lat_p999_ms']} | {r['lat_max_ms']} | {r['errors']} |")
print()
def ratios(a, b, label, goal=""):
    A, B = by.get(a, {}), by.get(b, {})
    xs = [num(A[k]) / num(B[k]) for k in sorted(B, key=int)
          if k in A and num(A[k]) is not None and num(B[k])]
    if not xs:
        print(f"- {label}: no complete round"); return
    print(f"- {label}, per round: " + ", ".join(f"{x:.3f}" for x in xs) +
          f"; median **{statistics.median(xs):.3f}**" + goal)
ratios("get-auth", "get-plain", "GET with a token / without", " (goal >= 0.95)")
ratios("post-auth", "post-plain", "durable POST with a token / without", " (goal >= 0.95)")
ratios("get-tls", "get-plain", "GET over HTTPS / plain HTTP (keep-alive)")
ratios("post-tls", "post-plain", "durable POST over HTTPS / plain HTTP (keep-alive)")
ratios("hs-tls", "hs-plain", "new connections/s: TLS handshakes / TCP connects")
for c in ("hs-plain", "hs-tls"):
    xs = [num(r) for r in by.get(c, {}).values() if num(r) is not None]
    if xs: print(f"- {c}: median {statistics.median(xs):,.0f} connections/s")
PY
