#!/usr/bin/env bash
# Goodput of one aggregator instance: for each offered rate, creates sustained
# for SECONDS (open loop; a refused create is not retried), then what the
# accepted requests got (osago-bench-goodput). Starts its own stack (state in
# .local/bench-goodput, its own ports) with the simulator's six companies as
# shipped (config/insurer-simulator.yaml) and the aggregator as shipped
# (config/osago-aggregator.yaml: 32 workers, a 60 s deadline, load shedding on);
# prints a Markdown table to record in docs/benchmarks.md with the machine.
#   tests/bench/goodput.sh [seconds-per-rate] [rates...]     (defaults: 120  20 40 60 90 150 300)
# OSAGO_BENCH_AGGREGATOR_CONFIG=<file> runs it with another aggregator config.
set -euo pipefail
OSAGO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OSAGO_ROOT
source "$OSAGO_ROOT/packaging/dev/stack.sh"

SECONDS_PER_RATE=${1:-120}
shift || true
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(20 40 60 90 150 300)
PG_PORT=${OSAGO_BENCH_PG_PORT:-55732} KAFKA_PORT=${OSAGO_BENCH_KAFKA_PORT:-19392}
SIM_PORT=${OSAGO_BENCH_SIMULATOR_PORT:-8490} AGG_PORT=${OSAGO_BENCH_AGGREGATOR_PORT:-8481}

bench_stack bench-goodput "$PG_PORT" "$KAFKA_PORT"
start_simulator "$SIM_PORT"
start_bench_aggregator "$AGG_PORT" "$PG_PORT" "$KAFKA_PORT" "$SIM_PORT" \
  "${OSAGO_BENCH_AGGREGATOR_CONFIG:-$OSAGO_ROOT/config/osago-aggregator.yaml}" OSAGO_KAFKA_TOPIC=bench.goodput-events

echo "## Goodput of one aggregator instance (${SECONDS_PER_RATE} s per rate)"
echo
echo "| offered req/s | accepted | shed | other | own outcome % | first offer p50 / p95 s | all own p50 / p95 s | calls per request | calls per company | offer delay to commit p50 / p95 ms | to Kafka p50 / p95 ms | create p50 / p99 ms |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for rate in "${RATES[@]}"; do
  result=$("$OSAGO_BUILD_DIR/tests/bench/osago-bench-goodput" --url "http://127.0.0.1:$AGG_PORT" \
    --dsn "host=127.0.0.1 port=$PG_PORT dbname=osago_bench user=osago" --simulator "http://127.0.0.1:$SIM_PORT" \
    --rate "$rate" --seconds "$SECONDS_PER_RATE" --threads 64 --drain-seconds 90)
  python3 -c "
import json, sys; r = json.loads(sys.argv[1])
print('| {offeredRate:g} | {accepted} | {shed} | {other} | {ownOutcomePercent} | {firstOfferP50s} / {firstOfferP95s} | {allOwnP50s} / {allOwnP95s} | {callsPerRequest} | {callsPerCompany} | {offerDelayCommitP50ms:g} / {offerDelayCommitP95ms:g} | {offerDelayKafkaP50ms:g} / {offerDelayKafkaP95ms:g} | {createP50ms} / {createP99ms} |'.format(**r))
print(json.dumps(r), file=sys.stderr)" "$result"
  sleep 5
done
