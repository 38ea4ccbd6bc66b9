#!/usr/bin/env bash
# Search-planner benchmark: trials-to-answer for the boundary and bayesian planners against a
# plain grid of equal precision, on SLA boundaries the embedded mock server makes computable. Not
# a test: it reports counts and ratios (grid = reference) and whether each answer is right.
#
#   bench/search_trials.sh [--quick]
#
# The question is max-throughput-itl-sla's ("highest concurrency with ITL p95 under L") over
# concurrency in [1, 256], log scale. The mock decodes every active sequence in one step of
# 40 + d (B - 1) ms (B sequences in the step; admitting steps last as long, ttft_ms = itl_ms),
# with enough slots that nobody queues, so output throughput B / (40 + d (B - 1)) rises with
# concurrency and the best feasible point is the SLA boundary. L is set half a step above the
# modelled boundary c*. Sequences are missing from a step while their replacement request is
# admitted, so the measured boundary sits a little above c*: each case first measures it with an
# equal-precision scan around c* (the truth the planners are judged against), then runs each
# planner from scratch. Each trial runs 3 s of load. A plain grid of equal precision over the
# whole range has every gap within 5% (or one step): its size is its trial count.
set -euo pipefail
cd "$(dirname "$0")/.."

# boundary c*, decode ms per extra sequence d
CASES=("5 3" "17 3" "40 3" "100 3")
QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
if (( QUICK )); then CASES=("5 3" "40 3"); fi

cargo build --release --locked -q
AIPERF=$PWD/target/release/aiperf
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Values of an integer grid over [1, 256] whose every gap is under 5% of the upper value or one.
GRID=$(python3 -c '
import math
a, n = 1, 1
while a < 256:
    b = max(a + 1, math.ceil(a / 0.95) - 1)
    a, n = min(b, 256), n + 1
print(n)')

printf '%-4s %-6s %-10s %-7s %-7s %-9s %-7s %s\n' "c*" "truth" "planner" "points" "trials" "found_at" "answer" "right"
for case in "${CASES[@]}"; do
    read -r target d <<<"$case"
    limit=$(python3 -c "print(40 + $d * ($target - 0.5))")
    write_experiment() {  # $1: artifact dir, $2: sweep body
        cat >"$WORK/exp.yaml" <<YAML
benchmark:
  model: bench
  endpoint: {url: 'mock://?ttft_ms=40&itl_ms=40&decode_ms_per_seq=$d&max_batch=512', streaming: true}
  dataset: {entries: 64, prompts: {isl: 16, osl: 8}}
  phases: {type: concurrency, duration: 3, concurrency: 1}
  artifacts: {dir: '$1'}
sweep: $2
YAML
    }
    # The truth: every equal-precision value from 0.8 c* to 1.3 c*; the boundary is the highest
    # value passing before the first failing one.
    scan=$(python3 -c "
import math
a, out = max(1, int($target * 0.8)), []
while a <= $target * 1.3:
    out.append(a); a = max(a + 1, math.ceil(a / 0.95) - 1)
print(out)")
    write_experiment "$WORK/scan-$target" "{parameters: {concurrency: $scan}}"
    "$AIPERF" run "$WORK/exp.yaml" >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt"; exit 1; }
    truth=$(python3 - "$WORK/scan-$target/sweep_aggregate/profile_export_aiperf_sweep.json" "$limit" <<'PY'
import json, sys
doc, limit = json.load(open(sys.argv[1])), float(sys.argv[2])
pts = sorted((c["parameters"]["concurrency"], c["metrics"]["inter_token_latency_p95"]["mean"])
             for c in doc["per_combination_metrics"])
best = None
for c, itl in pts:
    if itl >= limit:
        break
    best = c
print(best)
PY
)
    for planner in boundary bayesian; do
        dir="$WORK/$planner-$target"
        write_experiment "$dir" "{recipe: max-throughput-itl-sla, sla: {itl_p95_ms: $limit}, knobs: {concurrency: {lo: 1, hi: 256}}, search_style: $planner}"
        "$AIPERF" run "$WORK/exp.yaml" >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt"; exit 1; }
        python3 - "$dir/search_history.json" "$planner" "$target" "$truth" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
planner, target, truth = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
its = h["iterations"]
trials = sum(len(i["runs"]) for i in its)
key = "phases.profiling.concurrency"
answer = h["best_trials"][0]["variation_values"][key] if h["best_trials"] else None
if planner == "boundary":
    answer = (h["boundary_summary"]["feasible_max"] or {}).get("value")
answer = int(answer) if answer is not None else None
# The trial after which the final answer had been measured (the search may go on to confirm it).
found = next((sum(len(j["runs"]) for j in its[: k + 1]) for k, i in enumerate(its)
              if i["variation_values"][key] == answer), None)
right = answer is not None and abs(answer - truth) <= max(1, 0.05 * truth)
print(f"{target:<4} {truth:<6} {planner:<10} {len(its):<7} {trials:<7} {str(found):<9} {str(answer):<7} {'yes' if right else 'NO'} ({h['convergence_reason']})")
PY
    done
done | tee "$WORK/table.txt"
echo
echo "grid of equal precision over [1, 256]: $GRID points (every case)"
python3 - "$WORK/table.txt" "$GRID" <<'PY'
import sys
grid = int(sys.argv[2])
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) > 2 and l.split()[2] in ("boundary", "bayesian")]
for planner in ("boundary", "bayesian"):
    trials = [int(r[4]) for r in rows if r[2] == planner]
    if trials:
        mean = sum(trials) / len(trials)
        print(f"{planner}: mean {mean:.1f} trials = {mean / grid:.2f} x the grid's {grid}")
PY
