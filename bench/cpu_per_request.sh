#!/usr/bin/env bash
# CPU per request: instructions the aiperf process executes per streamed request, counted by
# callgrind (exact and repeatable, unlike timings on a shared 2-core machine). Not a test.
#
#   bench/cpu_per_request.sh [REV]
#
# Runs `aiperf profile --streaming --concurrency 16 --isl 100 --osl 32` against a separate
# `aiperf mock-server` (zero latency, so the server's own work is not in the count) for 300 and
# for 3,000 requests, both from the same 100 prompts (`--num-dataset-entries 100`, so building the
# dataset is start-up too); (instructions(3000) - instructions(300)) / 2700 is the cost of one
# request with start-up and summary taken out. With REV (a commit), the same is measured for that
# commit's build, in a worktree, and the ratio printed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
    echo "installing valgrind from Debian packages..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

WORK=$(mktemp -d)
SERVER_PID=
trap '[[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

cargo build --release --locked -q
CURRENT=target/release/aiperf
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CURRENT" mock-server --port "$PORT" --ttft-ms 0 --itl-ms 0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null && break; sleep 0.1; done

# Instructions per request of the binary $1.
per_request() {
    local bin=$1 counts=()
    for n in 300 3000; do
        valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.$n" "$bin" profile -m mock-model \
            -u "http://127.0.0.1:$PORT" --streaming --concurrency 16 --request-count "$n" \
            --isl 100 --osl 32 --num-dataset-entries 100 --ui none --random-seed 3 --artifact-dir "$WORK/run$n" \
            >/dev/null 2>"$WORK/cg.$n.log"
        counts+=("$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$WORK/cg.$n.log")")
        rm -rf "$WORK/run$n"
    done
    echo $(( (counts[1] - counts[0]) / 2700 ))
}

NOW=$(per_request "$CURRENT")
echo "this build ($(git rev-parse --short HEAD)): $NOW instructions per request"
if [[ -n "${1:-}" ]]; then
    git worktree add -q --detach "$WORK/base" "$1"
    (cd "$WORK/base" && CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aiperf/bench-target}" \
        cargo build --release --locked -q)
    BASE=$(per_request "${CARGO_TARGET_DIR:-$HOME/.cache/aiperf/bench-target}/release/aiperf")
    git worktree remove --force "$WORK/base"
    echo "$1: $BASE instructions per request"
    python3 -c "print(f'ratio: {$NOW / $BASE:.2f} of $1')"
fi
