#!/usr/bin/env bash
# The fairness matrix of issue 9: one key, --fsync always, the cas workload
# of casmem-bench for three client retry policies x {16, 64, 1024} agents,
# against casmemd with conflict turns on (its default --conflict-turn) and
# off (--conflict-turn 0), one server up at a time, then Redis
# (appendfsync always) at 64 agents as the peer for reference.
#   bench/fairness/run.sh [seconds-per-cell]          (default 10)
# Policies (casmem-bench options):
#   immediate  retry at once from the 409's current value (the cas default;
#              a peer whose refusal carries no value re-reads instead)
#   reread     re-read, then retry (--retry-read)
#   backoff    full-jitter exponential backoff, then re-read (--exp-backoff:
#              sleep U(0, min(50 ms, 0.5 ms * 2^(n-1))) before retry n)
# Each server's chain ceiling is measured in the same run: one agent's
# durable writes/s (cas, 1 agent: a read and a guarded write per commit;
# the better of two runs, since noise only lowers it);
# ratios and chain links are against it. The row "write-1" beside it is one
# agent's LWW writes of the key (a write per commit, no read), for
# reference: a retry from a 409's value needs no read, so a contended key
# can pass the cas ceiling, not this one. Per cell: commits/s and their ratio to
# the ceiling, p99 latency in ms and in chain links (p99 / (1 / ceiling)),
# commits per agent min/median/max, min/median, agents without a commit,
# lost updates, history violations, errors, and the repeat rate of the
# key's writers (writers.py, sampled during the cell: the fraction of
# commits made by the agent that made the one before; 1/agents when the
# turn passes around, near 1 when whoever just won wins again).
# The second generator (system "casmem-wrk", 64 agents, both turn settings):
# wrk -t64 -c64 with the Lua agents of cas_agent.lua, one OS thread and
# connection per agent, the same three policies (backoff at wrk's 1 ms
# resolution); it has no commit latency (p99 left blank), and its lost
# updates are the commits it counted beyond the key's final counter.
# FAIRNESS_WRK=0 leaves it out.
# Writes docs/benchmarks/fairness.csv; prints a markdown table on stdout.
# Ports: casmemd 17180, Redis 16480. FAIRNESS_AGENTS="16 64" narrows the
# agent counts, FAIRNESS_CSV writes the csv elsewhere (smokes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${1:-10}
bench="$top/build/bin/casmem-bench"
[ -x "$bench" ] && [ -x "$top/build/bin/casmemd" ] || { echo "build first: make build" >&2; exit 1; }
# shellcheck source=SCRIPTDIR/../peers/lib.sh
. "$top/bench/peers/lib.sh"
bench_need redis jq wrk
casmem_port=17180
redis_port=16480
agent_counts=${FAIRNESS_AGENTS:-16 64 1024}
csv=${FAIRNESS_CSV:-$top/docs/benchmarks/fairness.csv}  # FAIRNESS_CSV: elsewhere (smokes)
mkdir -p "$(dirname "$csv")"

policy_args() {
  case $1 in
    immediate) echo "" ;;
    reread) echo "--retry-read" ;;
    backoff) echo "--exp-backoff" ;;
  esac
}

# run_cell SYSTEM TURNS POLICY AGENTS TARGET: one casmem-bench run, one csv
# line. POLICY "ceiling" is the 1-agent run and sets $ceiling.
ceiling=0
run_cell() {
  local sys=$1 turns=$2 policy=$3 agents=$4 target=$5 json rc=0
  local args workload=cas
  case $policy in
    ceiling) args="" ;;
    write-1) args="" workload=write ;;
    *) args=$(policy_args "$policy") ;;
  esac
  echo "  $sys turns=$turns $policy $agents agents" >&2
  # shellcheck disable=SC2086
  "$bench" --target "$target" --workload $workload --keys 1 --agents "$agents" --seconds "$secs" \
    --json $args > "$work/cell.json" 2> "$work/cell.err" &
  local bp=$! repeat=""
  # casmemd only: who commits after whom, sampled over the measured part.
  if [ "$sys" = casmem ] && [ "$agents" -gt 1 ]; then repeat=$(sample_writers "$target" "cas-$bp-" 1.2); fi
  wait $bp || rc=$?
  json=$(cat "$work/cell.json")
  if ! jq -e . >/dev/null 2>&1 <<<"$json"; then
    echo "    casmem-bench failed (exit $rc): $json" >&2
    echo "$sys,$turns,$policy,$agents,,,,,,,,,,,,,,,\"no result (exit $rc)\"" >> "$csv"
    return
  fi
  # Noise only ever lowers a rate: the ceiling is the best of its runs.
  if [ "$policy" = ceiling ]; then
    ceiling=$(jq -r --argjson c "$ceiling" '[.commits_per_s, $c] | max' <<<"$json")
  fi
  jq -r --arg sys "$sys" --arg turns "$turns" --arg policy "$policy" --argjson ceiling "$ceiling" \
    --arg repeat "$repeat" '
    def r2: . * 100 | round / 100;
    [ $sys, $turns, $policy, .agents, (.commits_per_s | round), ($ceiling | round),
      (if $ceiling > 0 then .commits_per_s / $ceiling | r2 else "" end),
      (.latency_ms.p99 | r2),
      (if $ceiling > 0 then .latency_ms.p99 * $ceiling / 1000 | . * 10 | round / 10 else "" end),
      .agent_commits.min, .agent_commits.median, .agent_commits.max,
      (if .agent_commits.median > 0 then .agent_commits.min / .agent_commits.median | r2 else "" end),
      .agent_commits.zero, (.lost_updates // "unknown"), (.violations | length),
      (.retries_mean | r2), $repeat, .errors ] | @csv' <<<"$json" >> "$csv"
}

# sample_writers casmem://HOST:PORT PREFIX DELAY: after DELAY s, for the
# rest of the cell, the repeat rate of the key's writers (writers.py): how
# often the agent that just committed commits again (1/agents when the
# turn passes around).
sample_writers() {
  local port=${1##*:} span
  span=$(awk -v s="$secs" -v d="$3" 'BEGIN { x = s - d; print (x < 0.5 ? 0.5 : x) }')
  sleep "$3"
  python3 "$here/writers.py" "$port" "$2" "$span" 2>/dev/null | awk '/repeat rate/ {print $3}'
}

# run_wrk_cell TURNS POLICY AGENTS PORT: the wrk generator on a fresh key.
run_wrk_cell() {
  local turns=$1 policy=$2 agents=$3 port=$4 key out final
  key="fair-$policy-$agents-$RANDOM"
  echo "  casmem-wrk turns=$turns $policy $agents agents" >&2
  curl -sf -XPOST "http://127.0.0.1:$port/workspaces/bench/memory" \
    -d "{\"key\":\"$key\",\"value\":{\"counter\":0}}" >/dev/null
  out="$work/wrk-$turns-$policy-$agents.txt"
  KEY=$key POLICY=$policy wrk -t"$agents" -c"$agents" -d"${secs}s" -s "$here/cas_agent.lua" \
    "http://127.0.0.1:$port" > "$out" 2>&1 &
  local wp=$! repeat
  repeat=$(sample_writers "casmem://127.0.0.1:$port" "$key" 0.2)
  wait $wp || true
  final=$(curl -sf "http://127.0.0.1:$port/workspaces/bench/memory/$key" | jq -r .value.counter)
  python3 - "$csv" "$turns" "$policy" "$agents" "$secs" "$ceiling" "$final" "$out" "$repeat" <<'PY'
import csv, statistics, sys
path, turns, policy, agents, secs, ceiling, final, out, repeat = sys.argv[1:]
lines = open(out).read().splitlines()
per = next((list(map(int, l.split()[1:])) for l in lines if l.startswith("commits ")), None)
row = ["casmem-wrk", turns, policy, agents]
if not per:
    row += [""] * 14 + ["no result: " + " ".join(lines[-3:])]
else:
    total, ceiling = sum(per), float(ceiling)
    rate = total / float(secs)
    per.sort()
    med = statistics.median(per)
    med = int(med) if med == int(med) else med
    lost = max(0, total - int(final)) if final.isdigit() else "unknown"
    row += [round(rate), round(ceiling), round(rate / ceiling, 2) if ceiling else "", "", "",
            per[0], med, per[-1], round(per[0] / med, 2) if med else "", per.count(0), lost, "", "",
            repeat, "none"]
csv.writer(open(path, "a"), lineterminator="\n").writerow(row)
PY
}

echo "system,turns,policy,agents,commits_per_s,ceiling_per_s,ratio_to_ceiling,p99_ms,p99_links,agent_min,agent_median,agent_max,min_over_median,agents_zero,lost_updates,violations,retries_mean,repeat_rate,errors" > "$csv"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "# fairness matrix started $started, $secs s per cell, $(nproc) cores" >&2
for turns in on off; do
  if [ $turns = on ]; then bench_start_casmemd $casmem_port casmem-turns
  else bench_start_casmemd $casmem_port casmem-noturns --conflict-turn 0; fi
  pid=$bench_last_pid
  target=casmem://127.0.0.1:$casmem_port
  ceiling=0
  run_cell casmem $turns ceiling 1 $target
  run_cell casmem $turns ceiling 1 $target
  run_cell casmem $turns write-1 1 $target
  for policy in immediate reread backoff; do
    for a in $agent_counts; do run_cell casmem $turns $policy "$a" $target; done
  done
  if [ "${FAIRNESS_WRK:-1}" != 0 ]; then
    for policy in immediate reread backoff; do run_wrk_cell $turns $policy 64 $casmem_port; done
  fi
  bench_stop "$pid"
done
bench_start_redis $redis_port
pid=$bench_last_pid
ceiling=0
run_cell redis - ceiling 1 redis://127.0.0.1:$redis_port
run_cell redis - ceiling 1 redis://127.0.0.1:$redis_port
run_cell redis - write-1 1 redis://127.0.0.1:$redis_port
for policy in immediate reread backoff; do run_cell redis - $policy 64 redis://127.0.0.1:$redis_port; done
bench_stop "$pid"
echo "# fairness matrix ended $(date -u +%Y-%m-%dT%H:%M:%SZ)" >&2

# The markdown table (errors stay in the csv).
echo "Fairness matrix, one key, --fsync always, $secs s per cell, started $started (\`bench/fairness/run.sh $secs\`)"
echo
echo "| system | turns | policy | agents | commits/s | × ceiling | p99 ms | p99 links | per agent min / median / max | min/median | agents with 0 | lost | violations | repeat rate |"
echo "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
python3 - "$csv" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    if not r["commits_per_s"]:
        print(f"| {r['system']} | {r['turns']} | {r['policy']} | {r['agents']} | no result: {r['errors']} |||||||||")
        continue
    print(f"| {r['system']} | {r['turns']} | {r['policy']} | {r['agents']} | {int(r['commits_per_s']):,} | "
          f"{r['ratio_to_ceiling']} | {r['p99_ms']} | {r['p99_links']} | "
          f"{r['agent_min']} / {r['agent_median']} / {r['agent_max']} | {r['min_over_median'] or '-'} | "
          f"{r['agents_zero']} | {r['lost_updates']} | {r['violations']} | {r['repeat_rate'] or '-'} |")
PY
