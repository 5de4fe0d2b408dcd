#!/usr/bin/env bash
# What running plugins out of process costs (issue 13): calls per second and
# latency per call through one company's adapter, in a worker process against
# in process, alternating in the same run. Two plugins: the loader tests'
# "normal" plugin, which makes no HTTP request (the isolation's own cost), and
# the bundled polisnet plugin polling the insurer simulator (a real local HTTP
# call each). Prints Markdown; record it in docs/benchmarks.md with the machine.
#   tests/bench/isolation.sh [seconds-per-round] [rounds]      (defaults: 10 3)
set -euo pipefail
OSAGO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OSAGO_ROOT
source "$OSAGO_ROOT/packaging/dev/stack.sh"

SECONDS_PER_ROUND=${1:-10}
ROUNDS=${2:-3}
SIM_PORT=${OSAGO_BENCH_SIMULATOR_PORT:-8490}
stack_init isolation-bench
ensure_packages
build_project
BIN=$OSAGO_BUILD_DIR
trap 'stop_pidfile insurer-simulator' EXIT

cat >"$STATE_DIR/simulator.yaml" <<YAML
listen: {host: 127.0.0.1, port: $SIM_PORT}
log_level: warning
insurers:
  - {id: bench, name: "Bench", dialect: polisnet, api_key: k-bench, base_rate_rub: 6500, pending_ms: 0}
YAML
# The partner over HTTPS (port SIM_PORT+3), verified with the stack's CA.
start_simulator "$SIM_PORT" "$STATE_DIR/simulator.yaml"
cat >"$STATE_DIR/polisnet.yaml" <<YAML
companies:
  - {id: bench, name: Bench, call_timeout_ms: 5000, settings: {baseUrl: "https://127.0.0.1:$((SIM_PORT + 3))/bench"},
     secrets: {apiKey: k-bench}, tls: {ca_file: "$TLS_DIR/ca.pem"}}
YAML
cat >"$STATE_DIR/normal.yaml" <<YAML
companies:
  - {id: bench, name: Bench, call_timeout_ms: 5000}
YAML
quote_input_json >"$STATE_DIR/quote.json"

echo "## Process isolation of plugins: ${ROUNDS} rounds of ${SECONDS_PER_ROUND} s per mode, alternating"
echo
echo "| plugin | threads | round | mode | calls/s | p50 µs | p90 µs | p99 µs | failures |"
echo "|---|---|---|---|---|---|---|---|---|"
for threads in 1 16; do
  for plugin in normal polisnet; do
    if [ "$plugin" = normal ]; then
      so=$BIN/tests/unit/loader_plugins/osago_test_normal_v1.so extra=()
    else
      so=$BIN/plugins/osago_plugin_polisnet.so extra=(--quote-file "$STATE_DIR/quote.json" --submit-first)
    fi
    "$BIN/tests/bench/osago-bench-isolation" --plugin "$so" --manifest "$STATE_DIR/$plugin.yaml" "${extra[@]}" \
      --threads "$threads" --seconds "$SECONDS_PER_ROUND" --rounds "$ROUNDS" | tee -a "$LOG_DIR/isolation.jsonl" |
      python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print("| '"$plugin"' | {threads} | {round} | {mode} | {callsPerSecond:g} | {p50us} | {p90us} | {p99us} | {failures} |".format(**r))'
  done
done
