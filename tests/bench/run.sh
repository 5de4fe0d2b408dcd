#!/usr/bin/env bash
# Benchmark of POST /osago/requests and of partner calls on one aggregator
# instance with the simulated partners, plus the same inserts through pgbench
# as the ceiling. Starts its own stack (state in .local/bench, its own ports),
# prints a Markdown report; record it in docs/benchmarks.md with the machine.
#   tests/bench/run.sh [seconds-per-stage] [rates...]      (defaults: 20  50 100 200 300)
set -euo pipefail
OSAGO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OSAGO_ROOT
source "$OSAGO_ROOT/packaging/dev/stack.sh"

SECONDS_PER_STAGE=${1:-20}
shift || true
RATES=("$@")
[ ${#RATES[@]} -gt 0 ] || RATES=(50 100 200 300)
PG_PORT=${OSAGO_BENCH_PG_PORT:-55632} KAFKA_PORT=${OSAGO_BENCH_KAFKA_PORT:-19292}
SIM_PORT=${OSAGO_BENCH_SIMULATOR_PORT:-8390} AGG_PORT=${OSAGO_BENCH_AGGREGATOR_PORT:-8381}
BIN=$OSAGO_BUILD_DIR

bench_stack bench "$PG_PORT" "$KAFKA_PORT"

# Partners over HTTPS (the simulator's TLS port), as in production.
start_simulator "$SIM_PORT"
start_bench_aggregator "$AGG_PORT" "$PG_PORT" "$KAFKA_PORT" "$SIM_PORT" \
  "${OSAGO_BENCH_AGGREGATOR_CONFIG:-$OSAGO_ROOT/config/osago-aggregator.yaml}" OSAGO_KAFKA_TOPIC=bench.quote-events

partner_calls() { simulator_partner_calls "$SIM_PORT"; }

echo "## Create latency and partner calls (one aggregator instance, ${SECONDS_PER_STAGE} s per stage)"
echo
echo "| target req/s | achieved req/s | failed | p50 ms | p90 ms | p99 ms | max ms | partner calls/s |"
echo "|---|---|---|---|---|---|---|---|"
for rate in "${RATES[@]}"; do
  before=$(partner_calls)
  t0=$(date +%s.%N)
  result=$("$BIN/tests/bench/osago-bench-create" --url "http://127.0.0.1:$AGG_PORT" --rate "$rate" \
    --seconds "$SECONDS_PER_STAGE" --threads 64 || true)
  after=$(partner_calls)
  t1=$(date +%s.%N)
  calls=$(python3 -c "print(round(($after - $before) / ($t1 - $t0), 1))")
  python3 -c "
import json; r = json.loads('''$result''')
print('| {targetRate:g} | {achievedRate} | {failed} | {p50ms} | {p90ms} | {p99ms} | {maxMs} | $calls |'.format(**r))"
  sleep 5
done

# Partner calls alone: the stages above leave a backlog of due polls; with no
# new creates the workers do nothing else, which shows what one instance sustains.
before=$(partner_calls)
t0=$(date +%s.%N)
sleep "$SECONDS_PER_STAGE"
after=$(partner_calls)
t1=$(date +%s.%N)
echo
echo "Partner calls with no creates coming in (working off the backlog, ${SECONDS_PER_STAGE} s): $(python3 -c "print(round(($after - $before) / ($t1 - $t0), 1))") calls/s"

# The ceiling is measured on a quiet database: the aggregator (still working
# off the last stage's backlog) is stopped first.
stop_services
echo
echo "## The same inserts through pgbench (4 clients, ${SECONDS_PER_STAGE} s)"
echo
echo '```'
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U osago -n -M prepared -c 4 -j 2 -T "$SECONDS_PER_STAGE" \
  -f "$OSAGO_ROOT/tests/bench/create_one_request.sql" osago_bench 2>&1 | grep -E "tps|latency|transactions"
echo '```'
