#!/usr/bin/env bash
# Benchmark of core-app's stream reactor: N concurrent streams (half SSE, half
# WebSocket) of one quote request held by one core-app instance; its memory,
# threads and descriptors; and the time for one event to reach all of them.
# Starts its own stack (state in .local/bench-streams, its own ports) and prints
# a Markdown report; record it in docs/benchmarks.md with the machine.
#   tests/bench/streams.sh [streams...]      (default: 1000 10000)
set -euo pipefail
OSAGO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OSAGO_ROOT
source "$OSAGO_ROOT/packaging/dev/stack.sh"

COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(1000 10000)
PG_PORT=${OSAGO_BENCH_PG_PORT:-55732} KAFKA_PORT=${OSAGO_BENCH_KAFKA_PORT:-19392}
SIM_PORT=${OSAGO_BENCH_SIMULATOR_PORT:-8490} AGG_PORT=${OSAGO_BENCH_AGGREGATOR_PORT:-8481}
CORE_PORT=${OSAGO_BENCH_CORE_PORT:-8480}
BIN=$OSAGO_BUILD_DIR
TOPIC=bench.stream-events   # core-app reads only the benchmark's own events

bench_stack bench-streams "$PG_PORT" "$KAFKA_PORT"

# The request must stay open while the streams are opened: a long deadline,
# and partners that keep answering "pending".
sed 's/deadline_seconds: 60/deadline_seconds: 600/' "$OSAGO_ROOT/config/osago-aggregator.yaml" >"$STATE_DIR/osago-aggregator.yaml"
# One user opens every stream: lift the per-user limits (everything else as shipped).
sed -e 's/user_requests_per_second: .*/user_requests_per_second: 100000/' -e 's/user_burst: .*/user_burst: 100000/' \
  -e 's/ requests_per_second: .*/ requests_per_second: 100000/' -e 's/ burst: .*/ burst: 100000/' \
  -e "s|root: .*|root: $OSAGO_ROOT/core-app/web|" "$OSAGO_ROOT/config/core-app.yaml" >"$STATE_DIR/core-app.yaml"

start_simulator "$SIM_PORT"
kafka_create_topic "$KAFKA_PORT" "$TOPIC"   # as an operator's KafkaTopic would: core-app refuses a missing topic
start_bench_aggregator "$AGG_PORT" "$PG_PORT" "$KAFKA_PORT" "$SIM_PORT" "$STATE_DIR/osago-aggregator.yaml"
OSAGO_CORE_PORT=$CORE_PORT OSAGO_AGGREGATOR_URL="http://127.0.0.1:$AGG_PORT" OSAGO_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" \
  OSAGO_KAFKA_TOPIC=$TOPIC OSAGO_LOG_LEVEL=warning OSAGO_TOKEN_SECRET="$(stack_secret token-secret)" \
  OSAGO_CORE__STREAMS__MAX_STREAMS_PER_USER=20000 start_bg core-app "$BIN/core-app/osago-core-app" --config="$STATE_DIR/core-app.yaml"
wait_for core-app 90 curl -sf "http://127.0.0.1:$CORE_PORT/health/ready"

for insurer in $(curl -sf "http://127.0.0.1:$SIM_PORT/control/insurers" | python3 -c 'import json,sys; print(" ".join(i["id"] for i in json.load(sys.stdin)))'); do
  curl -sf -X PUT "http://127.0.0.1:$SIM_PORT/control/insurers/$insurer/behaviour" -d '{"pendingMs": 600000}' >/dev/null
done
token=$(curl -sf -X POST "http://127.0.0.1:$CORE_PORT/api/dev/login" -d '{"userId":"bench"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

echo "## Streams held by one core-app instance"
echo
# core-app's own measure of a fan-out: from the event's arrival from Kafka to its
# send to the last stream (osago_core_stream_fanout_seconds), as "sum count".
fanout() {
  curl -sf "http://127.0.0.1:$CORE_PORT/metrics" |
    awk '/^osago_core_stream_fanout_seconds_sum/ {s=$2} /^osago_core_stream_fanout_seconds_count/ {c=$2} END {print s+0, c+0}'
}

echo "| streams | opened | open time s | core-app RSS before → held MiB | KiB per stream | threads before → held | one event to all: first / p50 / p99 / last ms (5 events, median) | in core-app: arrival → last send, mean ms |"
echo "|---|---|---|---|---|---|---|---|"
for n in "${COUNTS[@]}"; do
  request=$(curl -sf -X POST "http://127.0.0.1:$CORE_PORT/api/osago/requests" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "$(quote_input_json)" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["osagoRequestId"])')
  sleep 2
  read -r fan_sum0 fan_count0 < <(fanout)
  result=$("$BIN/tests/bench/osago-bench-streams" --core "127.0.0.1:$CORE_PORT" --token "$token" --request "$request" \
    --streams "$n" --pid "$(cat "$RUN_DIR/core-app.pid")" --brokers "127.0.0.1:$KAFKA_PORT" --topic "$TOPIC" --events 5 || true)
  echo "$result" >>"$LOG_DIR/results.jsonl"
  read -r fan_sum1 fan_count1 < <(fanout)
  fan_ms=$(python3 -c "d = $fan_count1 - $fan_count0; print(round(($fan_sum1 - $fan_sum0) / d * 1000, 1) if d > 0 else '-')")
  python3 -c "
import json, statistics as st
r = json.loads('''$result''')
ev = r['events']
med = lambda k: st.median(e[k] for e in ev) if ev else 0
complete = all(e['received'] == e['of'] for e in ev)
print('| {streams} | {open} | {openSeconds} | {b:.0f} → {h:.0f} | {kbPerStream} | {threadsBefore} → {threadsHeld} | {f} / {p50} / {p99} / {l}{c} | $fan_ms |'.format(
  b=r['rssKbBefore']/1024, h=r['rssKbHeld']/1024, f=med('firstMs'), p50=med('p50Ms'), p99=med('p99Ms'), l=med('lastMs'),
  c='' if complete else ' (NOT all received)', **r))"
  sleep 3
done
echo
echo "Raw results: ${LOG_DIR#"$OSAGO_ROOT"/}/results.jsonl"
