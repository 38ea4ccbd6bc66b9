#!/usr/bin/env bash
# Big input files: load time and peak RSS of Mooncake traces of 100k and 1M lines, replayed
# against the zero-latency mock server, and a 100k-line file sent 1M times. Not a test: it prints
# the figures docs/performance.md records ("Input files").
#
#   bench/input_files.sh [--quick]        (--quick: 10k and 100k lines)
#
# 1. `aiperf dataset inspect` (checks every line, then reads every conversation back): wall time
#    and peak RSS per file size: memory follows the file's lines (a 24-byte index entry each),
#    never its prompts;
# 2. a fixed-schedule replay of each file at 2,000 req/s (well inside the client's capacity): wall time, peak RSS and the replay's
#    schedule lag (run_metadata.json);
# 3. the smaller file sent by a closed loop 10x (sequential passes), against sending it once:
#    peak RSS must not grow with the requests sent.
set -euo pipefail
cd "$(dirname "$0")/.."

SMALL=100000
LARGE=1000000
if [[ "${1:-}" == "--quick" ]]; then SMALL=10000; LARGE=100000; fi
if ! [[ -x /usr/bin/time ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
cargo build --release --locked -q
AIPERF=$PWD/target/release/aiperf
WORK=$(mktemp -d)
trap 'kill $MOCK 2>/dev/null || true; rm -rf "$WORK"' EXIT

# A trace at 1,000 req/s on its own clock: prompts of 512 to 1024 tokens in 256-token blocks,
# each starting with one of 16 shared "system prompt" blocks, then blocks of its own.
gen() {
    python3 - "$1" "$2" <<'PY'
import json, random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(16)
next_id = 1000
with open(path, "w") as f:
    for i in range(n):
        own = rng.randint(1, 3)
        ids = [rng.randrange(16)] + list(range(next_id, next_id + own))
        next_id += own
        length = (len(ids) - 1) * 256 + rng.randint(1, 256)
        f.write(json.dumps({"timestamp": i, "input_length": length, "output_length": 2, "hash_ids": ids}) + "\n")
PY
}
gen "$SMALL" "$WORK/small.jsonl"
gen "$LARGE" "$WORK/large.jsonl"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$AIPERF" mock-server --port "$PORT" --ttft-ms 0 --itl-ms 0 --prefill-ms-per-token 0 2>/dev/null &
MOCK=$!
sleep 1

# `measure NAME CMD...`: wall seconds and peak RSS (MiB) of CMD.
measure() {
    local name=$1; shift
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || {
        echo "$name failed:"; tail -5 "$WORK/err"; exit 1; }
    read -r wall rss <"$WORK/time"
    printf '%-34s %8.2f s %8.1f MiB' "$name" "$wall" "$(echo "$rss / 1024" | bc -l)"
}
lag() {
    python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['replay']; print(f\"  sent {r['sent']}, schedule lag p50 {r['schedule_lag_p50_ms']:.3f} ms, p99 {r['schedule_lag_p99_ms']:.3f} ms, max {r['schedule_lag_max_ms']:.2f} ms\")" "$1/run_metadata.json"
}

echo "aiperf $("$AIPERF" --version | cut -d' ' -f2), $(nproc) cores, $(date -u +%Y-%m-%d)"
for f in small large; do
    lines=$(wc -l <"$WORK/$f.jsonl")
    measure "inspect $lines lines" "$AIPERF" dataset inspect "$WORK/$f.jsonl" \
        --custom-dataset-type mooncake_trace --isl-block-size 256; echo
done
for f in small large; do
    lines=$(wc -l <"$WORK/$f.jsonl")
    measure "replay $lines lines at 2k/s" "$AIPERF" profile -m m -u "http://127.0.0.1:$PORT" --streaming \
        --input-file "$WORK/$f.jsonl" --custom-dataset-type mooncake_trace --isl-block-size 256 \
        --replay-speedup 2 --ui-type none --artifact-dir "$WORK/replay-$f"
    lag "$WORK/replay-$f"
done
measure "closed loop, $SMALL lines once" "$AIPERF" profile -m m -u "http://127.0.0.1:$PORT" --streaming \
    --input-file "$WORK/small.jsonl" --custom-dataset-type mooncake_trace --isl-block-size 256 \
    --no-fixed-schedule --concurrency 32 --ui-type none --artifact-dir "$WORK/once"; echo
measure "closed loop, $SMALL lines x10" "$AIPERF" profile -m m -u "http://127.0.0.1:$PORT" --streaming \
    --input-file "$WORK/small.jsonl" --custom-dataset-type mooncake_trace --isl-block-size 256 \
    --no-fixed-schedule --concurrency 32 --request-count $((SMALL * 10)) --ui-type none \
    --artifact-dir "$WORK/tenfold"; echo
