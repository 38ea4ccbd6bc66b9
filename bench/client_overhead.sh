#!/usr/bin/env bash
# Client overhead benchmark: aiperf against nginx serving a canned streaming chat reply, compared
# with wrk on the same server in the same invocation. Not a test: it reports ratios and targets.
#
#   bench/client_overhead.sh [--quick]
#
# Targets (docs/performance.md): aiperf request rate >= 0.5 x wrk's at concurrency 64; client-added
# TTFT p50 < 1 ms and p99 < 5 ms (nginx answers in well under a millisecond); peak RSS flat as the
# request count grows (10k vs 200k requests).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
CONCURRENCY=64
WRK_SECONDS=10
SMALL=10000
LARGE=200000
if (( QUICK )); then WRK_SECONDS=5; LARGE=50000; fi

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || ! [[ -x /usr/bin/time ]]; then
    echo "installing nginx-light, wrk and time from Debian packages..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk time >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --locked -q
AIPERF=target/release/aiperf

WORK=$(mktemp -d)
chmod 755 "$WORK"  # nginx workers run unprivileged and must read the reply file
trap 'kill $(cat "$WORK/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# A streamed chat reply: role chunk, 8 one-token content chunks, finish, usage, [DONE].
python3 - "$WORK/reply.sse" <<'PY'
import json, sys
words = [" the", " of", " and", " to", " in", " is", " that", " it"]
def chunk(delta, finish=None):
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
events = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": w}) for w in words]
events += [chunk({}, "length"), {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench",
           "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 8, "total_tokens": 108}}]
body = "".join(f"data: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events) + "data: [DONE]\n\n"
open(sys.argv[1], "w").write(body)
import os; os.chmod(sys.argv[1], 0o644)
PY

cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_buffer_size 64k;
    server {
        listen 127.0.0.1:$PORT;
        root $WORK;
        location / {
            # Every path serves the canned reply; POSTs to static files answer 405, which is
            # turned into a 200 with the same file.
            default_type text/event-stream;
            try_files /reply.sse =404;
            error_page 405 =200 \$uri;
        }
    }
}
CONF
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.5
URL="http://127.0.0.1:$PORT/v1/chat/completions"

# wrk posts the same kind of body aiperf sends.
BODY=$(python3 -c 'import json; print(json.dumps({"messages":[{"role":"user","content":"hello "*100}],"model":"bench","stream":True,"max_completion_tokens":8,"stream_options":{"include_usage":True}}))')
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$BODY]]
LUA
echo "wrk: $CONCURRENCY connections, ${WRK_SECONDS}s" >&2
wrk -t1 -c"$CONCURRENCY" -d"${WRK_SECONDS}s" --latency -s "$WORK/post.lua" "$URL" > "$WORK/wrk.txt"
WRK_RPS=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
WRK_P50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")
WRK_P99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")

run_aiperf() { # $1 = request count, $2 = dir, $3 = concurrency; prints peak RSS in KiB
    /usr/bin/time -f '%M' -o "$2.rss" "$AIPERF" profile -m bench -u "$URL" --streaming --concurrency "${3:-$CONCURRENCY}" \
        --request-count "$1" --isl 100 --osl 8 --tokenizer builtin --random-seed 1 --ui-type none \
        --artifact-dir "$2" >/dev/null || { echo "aiperf failed; see $2/logs/aiperf.log" >&2; exit 1; }
    tail -n 1 "$2.rss"
}
# Client-added TTFT is measured unsaturated (one request at a time): at concurrency 64 two cores
# are saturated and every client's latency is mostly queueing (Little's law), wrk's included.
echo "aiperf: 3000 requests at concurrency 1" >&2
run_aiperf 3000 "$WORK/single" 1 >/dev/null
echo "aiperf: $SMALL requests" >&2
RSS_SMALL=$(run_aiperf "$SMALL" "$WORK/small")
echo "aiperf: $LARGE requests" >&2
RSS_LARGE=$(run_aiperf "$LARGE" "$WORK/large")

python3 - "$WORK/large/profile_export_aiperf.json" "$WRK_RPS" "$RSS_SMALL" "$RSS_LARGE" "$SMALL" "$LARGE" \
    "$WORK/single/profile_export_aiperf.json" "$WRK_P50" "$WRK_P99" <<'PY'
import json, sys
def ms(text):
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float("nan")
summary = json.load(open(sys.argv[1]))
single = json.load(open(sys.argv[7]))
wrk_p50, wrk_p99 = ms(sys.argv[8]), ms(sys.argv[9])
wrk_rps, rss_small, rss_large = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rps = summary["request_throughput"]["avg"]
ttft = single["time_to_first_token"]
latency = summary["request_latency"]
ratio, rss_ratio = rps / wrk_rps, rss_large / rss_small
checks = [
    (f"request rate: aiperf {rps:,.0f}/s vs wrk {wrk_rps:,.0f}/s = {ratio:.2f} x", ratio >= 0.5, ">= 0.5"),
    (f"client-added TTFT p50 {ttft['p50']:.3f} ms (concurrency 1)", ttft["p50"] < 1.0, "< 1 ms"),
    (f"client-added TTFT p99 {ttft['p99']:.3f} ms (concurrency 1)", ttft["p99"] < 5.0, "< 5 ms"),
    (f"peak RSS {rss_small/1024:.1f} MiB ({sys.argv[5]} req) vs {rss_large/1024:.1f} MiB ({sys.argv[6]} req) = {rss_ratio:.2f} x",
     rss_ratio < 1.25, "< 1.25 (flat)"),
]
for text, ok, target in checks:
    print(f"{'PASS' if ok else 'MISS'}  {text}  (target {target})")
print(f"at concurrency 64: aiperf request latency p50 {latency['p50']:.3f} ms, p99 {latency['p99']:.3f} ms; "
      f"wrk p50 {wrk_p50:.3f} ms, p99 {wrk_p99:.3f} ms")
print(f"errors: {summary['error_request_count']['avg']:.0f}; concurrency-1 TTFT avg {ttft['avg']:.3f} ms, max {ttft['max']:.3f} ms")
PY
