#!/usr/bin/env bash
# Browser tests (ctest runs this inside ./osago test): starts the whole stack —
# simulator, client-info stand-in, osago-aggregator, core-app, as `./osago up`
# does — on its own ports, database and topic of the test PostgreSQL and Kafka,
# then drives Debian's chromium headless through playwright-core. Screenshots
# go to build/e2e-artifacts/.
set -euo pipefail
OSAGO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OSAGO_ROOT
source "$OSAGO_ROOT/packaging/dev/stack.sh"
: "${OSAGO_TEST_PG_PORT:?run the browser tests through ./osago test}"
: "${OSAGO_TEST_KAFKA_PORT:?run the browser tests through ./osago test}"

CORE=${OSAGO_E2E_CORE_PORT:-8580} AGG=${OSAGO_E2E_AGGREGATOR_PORT:-8581} SIM=${OSAGO_E2E_SIMULATOR_PORT:-8590}
stack_init e2e
ensure_browser_tools
trap stop_services EXIT
psql -h 127.0.0.1 -p "$OSAGO_TEST_PG_PORT" -U osago -d postgres -qc "DROP DATABASE IF EXISTS osago_e2e WITH (FORCE)"
psql -h 127.0.0.1 -p "$OSAGO_TEST_PG_PORT" -U osago -d postgres -qc "CREATE DATABASE osago_e2e"
# The test stack's broker, whose TLS material (its CA, the services' client certificates) is there.
KAFKA_TLS_DIR=${OSAGO_TEST_KAFKA_TLS_DIR:?run the browser tests through ./osago test}
OSAGO_STACK_DB=osago_e2e OSAGO_STACK_TOPIC=e2e.quote-events \
  start_services "$CORE" "$AGG" "$SIM" "$OSAGO_TEST_PG_PORT" "$OSAGO_TEST_KAFKA_PORT"

export OSAGO_E2E_CORE_URL="http://127.0.0.1:$CORE" OSAGO_E2E_AGGREGATOR_URL="http://127.0.0.1:$AGG"
export OSAGO_E2E_SIMULATOR_URL="http://127.0.0.1:$SIM" OSAGO_E2E_ADMIN_TOKEN="$(stack_secret admin-token)"
export OSAGO_E2E_SERVICE_TOKEN_SECRET="$(stack_secret service-token-secret)"
export OSAGO_E2E_ARTIFACTS="$OSAGO_BUILD_DIR/e2e-artifacts"
mkdir -p "$OSAGO_E2E_ARTIFACTS"
cd "$OSAGO_ROOT/tests/e2e"
node --test --test-concurrency=1 ./*.test.mjs
