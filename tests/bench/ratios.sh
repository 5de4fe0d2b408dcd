#!/usr/bin/env bash
# The hot-path ratios of issue 17, each against its ceiling measured in the same
# run on the same machine (record the output in docs/benchmarks.md):
#   1. the simulator's own ceiling: wrk against one application's poll endpoint,
#      over plain HTTP and over HTTPS (what the aggregator uses), 64 connections;
#   2. create throughput: one aggregator with load shedding off, creates offered
#      far above what it takes (open loop, 64 client threads), the 201s per second;
#      meanwhile and right after (no creates, working off that backlog) its
#      partner calls per second;
#   3. the create's p99 at 200/s offered with the aggregator as shipped
#      (shedding on, so the partner work runs at the knee);
#   4. pgbench of the same inserts on the quiet database.
#   tests/bench/ratios.sh [seconds-per-stage]      (default 15)
# OSAGO_BENCH_PERF=1 also records `perf` profiles of the aggregator during
# stage 2 into .local/bench-ratios/perf-*.data (OSAGO_BENCH_PERF_CALLGRAPH=dwarf for
# call stacks through libraries built without frame pointers).
set -euo pipefail
OSAGO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OSAGO_ROOT
source "$OSAGO_ROOT/packaging/dev/stack.sh"

SECS=${1:-15}
PG_PORT=${OSAGO_BENCH_PG_PORT:-55632} KAFKA_PORT=${OSAGO_BENCH_KAFKA_PORT:-19292}
SIM_PORT=${OSAGO_BENCH_SIMULATOR_PORT:-8390} AGG_PORT=${OSAGO_BENCH_AGGREGATOR_PORT:-8381}
BIN=$OSAGO_BUILD_DIR
CONFIG=${OSAGO_BENCH_AGGREGATOR_CONFIG:-$OSAGO_ROOT/config/osago-aggregator.yaml}

command -v wrk >/dev/null || apt_install wrk
[ -z "${OSAGO_BENCH_PERF:-}" ] || command -v perf >/dev/null || apt_install linux-perf
bench_stack bench-ratios "$PG_PORT" "$KAFKA_PORT"
start_simulator "$SIM_PORT"

partner_calls() { simulator_partner_calls "$SIM_PORT"; }
# calls_per_second SECONDS: partner calls per second over the next SECONDS.
calls_per_second() {
  local before after t0 t1
  before=$(partner_calls) t0=$(date +%s.%N)
  sleep "$1"
  after=$(partner_calls) t1=$(date +%s.%N)
  python3 -c "print(round(($after - $before) / ($t1 - $t0)))"
}
wrk_rate() {  # URL: requests per second wrk sustained
  wrk -t2 -c64 -d"${SECS}s" -H "X-Api-Key: dev-severny-shchit-key" "$1" | awk '/^Requests\/sec/ {print int($2)}'
}

# 1. The simulator's ceiling, on one application that stays pending (as most polls find it).
curl -sf -X PUT "http://127.0.0.1:$SIM_PORT/control/insurers/severny-shchit/behaviour" -d '{"pendingMs": 600000}' >/dev/null
app=$(curl -sf -X POST "http://127.0.0.1:$SIM_PORT/severny-shchit/osago/applications" -H "X-Api-Key: dev-severny-shchit-key" \
  -H 'Content-Type: application/json' -d "$(quote_input_json)" | python3 -c 'import json,sys; print(json.load(sys.stdin)["applicationId"])')
wrk_http=$(wrk_rate "http://127.0.0.1:$SIM_PORT/severny-shchit/osago/applications/$app/offer")
wrk_https=$(wrk_rate "https://127.0.0.1:$((SIM_PORT + 3))/severny-shchit/osago/applications/$app/offer")
curl -sf -X POST "http://127.0.0.1:$SIM_PORT/control/reset" >/dev/null

# 2. Create throughput with shedding off, and the partner calls it leaves.
start_bench_aggregator "$AGG_PORT" "$PG_PORT" "$KAFKA_PORT" "$SIM_PORT" "$CONFIG" OSAGO_KAFKA_TOPIC=bench.quote-events \
  OSAGO_AGGREGATOR__QUOTES__ADMISSION__MAX_BACKLOG_MS=0 OSAGO_AGGREGATOR__QUOTES__ADMISSION__MAX_POOL_WAIT_MS=0
agg_pid=$(cat "$RUN_DIR/osago-aggregator.pid")
perf_pid=
if [ -n "${OSAGO_BENCH_PERF:-}" ]; then
  perf record -F 499 --call-graph "${OSAGO_BENCH_PERF_CALLGRAPH:-fp}" -p "$agg_pid" -o "$STATE_DIR/perf-creates.data" -- sleep "$SECS" >/dev/null 2>&1 &
  perf_pid=$!
fi
before=$(partner_calls) t0=$(date +%s.%N)
creates=$("$BIN/tests/bench/osago-bench-create" --url "http://127.0.0.1:$AGG_PORT" --rate 1500 --seconds "$SECS" --threads 64 || true)
after=$(partner_calls) t1=$(date +%s.%N)
calls_during=$(python3 -c "print(round(($after - $before) / ($t1 - $t0)))")
[ -z "$perf_pid" ] || wait "$perf_pid" || true
if [ -n "${OSAGO_BENCH_PERF:-}" ]; then
  perf record -F 499 --call-graph "${OSAGO_BENCH_PERF_CALLGRAPH:-fp}" -p "$agg_pid" -o "$STATE_DIR/perf-calls.data" -- sleep "$SECS" >/dev/null 2>&1 &
  perf_pid=$!
fi
calls_after=$(calls_per_second "$SECS")
[ -z "$perf_pid" ] || wait "$perf_pid" || true
stop_pidfile osago-aggregator

# 3. The create's latency at 200/s with the aggregator as shipped.
psql -h 127.0.0.1 -p "$PG_PORT" -U osago -d osago_bench -qc "TRUNCATE quote_requests CASCADE; TRUNCATE outbox_events"
start_bench_aggregator "$AGG_PORT" "$PG_PORT" "$KAFKA_PORT" "$SIM_PORT" "$CONFIG" OSAGO_KAFKA_TOPIC=bench.quote-events
"$BIN/tests/bench/osago-bench-create" --url "http://127.0.0.1:$AGG_PORT" --rate 200 --seconds "$SECS" --threads 64 >/dev/null || true
at200=$("$BIN/tests/bench/osago-bench-create" --url "http://127.0.0.1:$AGG_PORT" --rate 200 --seconds "$SECS" --threads 64 || true)
stop_services

# 4. The ceiling of the inserts.
pgb=$("$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U osago -n -M prepared -c 4 -j 2 -T "$SECS" \
  -f "$OSAGO_ROOT/tests/bench/create_one_request.sql" osago_bench 2>&1 | awk '/^tps/ {print int($3)}')

python3 - "$creates" "$at200" <<PY
import json, sys
creates, at200 = json.loads(sys.argv[1]), json.loads(sys.argv[2])
wrk_http, wrk_https, pgb = $wrk_http, $wrk_https, $pgb
created = creates["achievedRate"] * (1 - creates["failed"] / max(1, creates["requests"]))
print("## Hot-path ratios (one aggregator instance, $SECS s per stage)")
print()
print("| figure | measured | ceiling in the same run | ratio | target |")
print("|---|---|---|---|---|")
print(f"| creates/s (shedding off, 1500/s offered) | {created:.0f} | pgbench {pgb} tps | {created / pgb:.2f} | ≥ 0.5 |")
print(f"| partner calls/s while creating | $calls_during | wrk HTTP {wrk_http} / HTTPS {wrk_https} | {$calls_during / wrk_http:.2f} / {$calls_during / wrk_https:.2f} | ≥ 0.2 |")
print(f"| partner calls/s working off the backlog | $calls_after | wrk HTTP {wrk_http} / HTTPS {wrk_https} | {$calls_after / wrk_http:.2f} / {$calls_after / wrk_https:.2f} | ≥ 0.2 |")
print(f"| create p99 at 200/s offered, shipped (accepted {at200['achievedRate']}/s answered, {at200['failed']} not 2xx) | {at200['p99ms']} ms | | | ≤ 20 ms |")
print()
print("Raw: creates " + json.dumps(creates) + "; at 200/s " + json.dumps(at200))
PY
