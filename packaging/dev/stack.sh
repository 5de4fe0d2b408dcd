# The local development stack: dependencies, build, PostgreSQL, Kafka and the
# project's own services. Sourced by ./osago; every function is idempotent.
# shellcheck shell=bash

OSAGO_ROOT=${OSAGO_ROOT:?}
OSAGO_BUILD_DIR=${OSAGO_BUILD_DIR:-$OSAGO_ROOT/build}
KAFKA_VERSION_DIR=$OSAGO_ROOT/.local/kafka-jars

# What builds the project (packaging/build-deps.txt, shared with the Dockerfile),
# then what runs the local stack and its tests.
mapfile -t APT_PACKAGES < <(grep -v '^#' "$OSAGO_ROOT/packaging/build-deps.txt")
APT_PACKAGES+=(postgresql kcat default-jre-headless maven curl python3 python3-yaml openssl prometheus)

log() { printf '\033[1m[osago]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[osago] %s\033[0m\n' "$*" >&2; exit 1; }

# State of one stack (up and test keep separate ones so they can run side by side).
stack_init() {
  local name=$1
  STATE_DIR=$OSAGO_ROOT/.local/$name
  LOG_DIR=$STATE_DIR/logs
  RUN_DIR=$STATE_DIR/run
  mkdir -p "$LOG_DIR" "$RUN_DIR"
}

ensure_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

apt_install() {
  [ "$(id -u)" = 0 ] || die "missing packages ($*); run as root so they can be installed"
  log "installing packages: $*"
  apt-get update -q >"$OSAGO_ROOT/.local/apt.log" 2>&1 || die "apt-get update failed (see .local/apt.log)"
  # The packages' own daemons (prometheus on :9090 of every interface, postgresql)
  # are not started: the stack starts its own, on loopback.
  local policy=/usr/sbin/policy-rc.d own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
    >>"$OSAGO_ROOT/.local/apt.log" 2>&1 || rc=$?
  [ -z "$own_policy" ] || rm -f "$policy"
  ((rc == 0)) || die "apt-get install failed (see .local/apt.log)"
}

# The browser tests' tools: Debian's chromium, Node.js with npm (kept if some
# Node.js is installed already), and playwright-core from the npm registry
# into tests/e2e/node_modules (again when package-lock.json changes).
ensure_browser_tools() {
  local need=()
  command -v chromium >/dev/null || need+=(chromium)
  { command -v node >/dev/null && command -v npm >/dev/null; } || need+=(nodejs npm)
  ((${#need[@]} == 0)) || apt_install "${need[@]}"
  local e2e=$OSAGO_ROOT/tests/e2e stamp=$OSAGO_ROOT/tests/e2e/node_modules/.installed
  if [ ! -f "$stamp" ] || [ "$e2e/package-lock.json" -nt "$stamp" ]; then
    log "installing the browser tests' npm packages"
    (cd "$e2e" && npm ci --no-audit --no-fund >"$OSAGO_ROOT/.local/npm.log" 2>&1) ||
      die "npm ci failed in tests/e2e (see .local/npm.log)"
    touch "$stamp"
  fi
}

# The package tests' tools: debootstrap for the scratch Debian root, jq.
ensure_packaging_tools() {
  local need=()
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v jq >/dev/null || need+=(jq)
  ((${#need[@]} == 0)) || apt_install "${need[@]}"
}

# The deployment files' linters (hadolint, kubernetes-validate, yamllint) from
# PyPI into .local/lint-venv (again when their pinned list changes).
LINT_VENV=$OSAGO_ROOT/.local/lint-venv
ensure_lint_tools() {
  local req=$OSAGO_ROOT/tests/packaging/lint-requirements.txt stamp=$LINT_VENV/.installed
  [ -f "$stamp" ] && [ "$stamp" -nt "$req" ] && return
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  log "installing the deployment linters from PyPI"
  rm -rf "$LINT_VENV"
  { python3 -m venv "$LINT_VENV" && "$LINT_VENV/bin/pip" install -q --disable-pip-version-check -r "$req"; } \
    >"$OSAGO_ROOT/.local/lint-pip.log" 2>&1 || die "could not install the linters (see .local/lint-pip.log)"
  touch "$stamp"
}

# The fuzz build's compiler, its sanitizer runtimes and libFuzzer (Debian's clang-14,
# libclang-rt-14-dev, libfuzzer-14-dev).
ensure_fuzz_tools() {
  local need=()
  for p in clang-14 libclang-rt-14-dev libfuzzer-14-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  ((${#need[@]} == 0)) || apt_install "${need[@]}"
}

# run_fuzz_targets SECONDS [TARGET...]: each libFuzzer target of build-fuzz for
# SECONDS (OSAGO_FUZZ_RUNS, when set, bounds its executions too), OSAGO_FUZZ_JOBS
# (2) at a time, on a working copy of its corpus in .local/fuzz/corpus/<target> that
# starts from tests/fuzz/corpus/<target>. Prints one line per target; a crash
# leaves its input in .local/fuzz/crashes/ and fails the run.
run_fuzz_targets() {
  local secs=$1 bin_dir=$OSAGO_ROOT/build-fuzz/tests/fuzz work=$OSAGO_ROOT/.local/fuzz
  shift
  local targets=("$@")
  if ((${#targets[@]} == 0)); then
    for b in "$bin_dir"/fuzz_*; do targets+=("${b##*/fuzz_}"); done
  fi
  mkdir -p "$work/crashes" "$work/logs"
  log "fuzzing ${#targets[@]} targets, ${secs} s each${OSAGO_FUZZ_RUNS:+ or $OSAGO_FUZZ_RUNS executions} (logs: ${work#"$OSAGO_ROOT"/}/logs)"
  local name pids=() names=() rc=0
  for name in "${targets[@]}"; do
    [ -x "$bin_dir/fuzz_$name" ] || die "no fuzz target '$name' in ${bin_dir#"$OSAGO_ROOT"/}"
    while (($(jobs -rp | wc -l) >= ${OSAGO_FUZZ_JOBS:-2})); do wait -n || true; done
    fuzz_one "$name" "$secs" &
    pids+=($!) names+=("$name")
  done
  local i
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { rc=1; log "fuzz_${names[$i]} found a crash: see ${work#"$OSAGO_ROOT"/}/logs/${names[$i]}.log"; }
  done
  return "$rc"
}

# fuzz_one TARGET SECONDS: one target's run (run_fuzz_targets).
fuzz_one() {
  local name=$1 secs=$2 work=$OSAGO_ROOT/.local/fuzz
  local corpus=$work/corpus/$name seeds=$OSAGO_ROOT/tests/fuzz/corpus/$name flog=$work/logs/$name.log
  local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$work/crashes/$name-")
  [ -z "${OSAGO_FUZZ_RUNS:-}" ] || args+=(-runs="$OSAGO_FUZZ_RUNS")
  [ -f "$OSAGO_ROOT/tests/fuzz/$name.dict" ] && args+=(-dict="$OSAGO_ROOT/tests/fuzz/$name.dict")
  mkdir -p "$corpus"
  local rc=0
  # No allocation stacks kept and a smaller quarantine: 15-25 % more executions
  # per second; a crash's input is kept and replays with full stacks.
  ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0:quarantine_size_mb=16} \
    "$OSAGO_ROOT/build-fuzz/tests/fuzz/fuzz_$name" "${args[@]}" "$corpus" "$seeds" >"$flog" 2>&1 || rc=$?
  local runs rate
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$flog" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$flog" | tail -1)
  if ((rc == 0)); then
    printf '  %-18s %12s executions %8s/s  corpus %5s inputs  no finding\n' \
      "$name" "${runs:-?}" "${rate:-?}" "$(find "$corpus" -type f | wc -l)" >&2
  else
    printf '  %-18s FAILED (exit %s):\n' "$name" "$rc" >&2
    grep -E 'ERROR:|runtime error:|property broken|Test unit written|SUMMARY' "$flog" | head -8 | sed 's/^/      /' >&2
  fi
  return "$rc"
}

# The Kafka broker jars, fetched once with Maven into .local/kafka-jars (cached).
ensure_kafka_jars() {
  local stamp=$KAFKA_VERSION_DIR/.complete pom=$OSAGO_ROOT/packaging/dev/kafka/pom.xml
  if [ -f "$stamp" ] && [ "$stamp" -nt "$pom" ]; then return; fi
  log "fetching the Apache Kafka broker jars with Maven (once)"
  rm -rf "$KAFKA_VERSION_DIR"
  mkdir -p "$KAFKA_VERSION_DIR"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_VERSION_DIR" >"$OSAGO_ROOT/.local/maven.log" 2>&1 ||
    die "could not fetch Kafka jars (see .local/maven.log)"
  touch "$stamp"
}

build_project() {
  log "building (${OSAGO_BUILD_DIR#"$OSAGO_ROOT"/})"
  cmake -S "$OSAGO_ROOT" -B "$OSAGO_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$OSAGO_ROOT/.local/cmake.log" 2>&1 ||
    { tail -30 "$OSAGO_ROOT/.local/cmake.log"; die "cmake configure failed (see .local/cmake.log)"; }
  run_build "$OSAGO_ROOT/.local/build.log" cmake --build "$OSAGO_BUILD_DIR" -j "$(nproc)"
}

# build_preset CONFIGURE_PRESET BUILD_PRESET: a build of CMakePresets.json
# (the sanitizer builds: asan, tsan) into its own directory.
build_preset() {
  local configure=$1 build=$2 cmake_log=$OSAGO_ROOT/.local/cmake-$1.log
  log "building the $build preset (build-$configure)"
  (cd "$OSAGO_ROOT" && cmake --preset "$configure") >"$cmake_log" 2>&1 ||
    { tail -30 "$cmake_log"; die "cmake configure failed (see ${cmake_log#"$OSAGO_ROOT"/})"; }
  (cd "$OSAGO_ROOT" && run_build "$OSAGO_ROOT/.local/build-$build.log" cmake --build --preset "$build" -j "$(nproc)")
}

# run_build LOG CMD...: the whole log is kept; on failure its errors and its end
# are shown (not a pipeline, whose failure `set -e` would turn into a silent exit).
run_build() {
  local build_log=$1
  shift
  if ! "$@" >"$build_log" 2>&1; then
    grep -E 'error|FAILED' "$build_log" | head -n 20 >&2 || true
    tail -n 20 "$build_log" >&2
    die "build failed (the whole log: ${build_log#"$OSAGO_ROOT"/})"
  fi
}

# --- processes ---------------------------------------------------------------

# start_bg NAME CMD...: runs CMD in the background, logs to $LOG_DIR/NAME.log.
start_bg() {
  local name=$1
  shift
  "$@" >"$LOG_DIR/$name.log" 2>&1 &
  echo $! >"$RUN_DIR/$name.pid"
}

stop_pidfile() {
  local name=$1 pidfile=$RUN_DIR/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { log "$name did not stop in 10 s; killing it"; kill -KILL "$pid" 2>/dev/null; }
  fi
  rm -f "$pidfile"
}

# wait_for NAME SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
  local name=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ -f "$RUN_DIR/$name.pid" ] && ! kill -0 "$(cat "$RUN_DIR/$name.pid")" 2>/dev/null; then
      tail -20 "$LOG_DIR/$name.log" >&2
      die "$name exited during start-up (log: ${LOG_DIR#"$OSAGO_ROOT"/}/$name.log)"
    fi
    ((SECONDS < deadline)) || { tail -20 "$LOG_DIR/$name.log" >&2; die "$name not ready after ${seconds}s"; }
    sleep 0.3
  done
}

# --- PostgreSQL ---------------------------------------------------------------

PG_BIN=/usr/lib/postgresql/15/bin

# Runs a command as the postgres system user (PostgreSQL refuses to run as root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The stack's PostgreSQL password, generated once; clients find it through
# PGPASSFILE (libpq reads it: the services, psql, pgbench, the tests), so no
# DSN or command line carries it.
pg_password_setup() {
  local password
  password=$(stack_secret pg-password)
  (umask 077 && printf '127.0.0.1:*:*:osago:%s\n' "$password" >"$STATE_DIR/pgpass")
  PGPASSFILE=$STATE_DIR/pgpass
  export PGPASSFILE
}

start_postgres() {
  local port=$1 data=$STATE_DIR/pgdata
  stop_postgres
  pg_password_setup
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising PostgreSQL data directory ${data#"$OSAGO_ROOT"/}"
    rm -rf "$data"
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$data"
    chmod 700 "$data"
    # Password authentication (SCRAM), even on loopback: the file initdb reads is the server user's for a moment.
    local pwfile
    pwfile=$(mktemp "$STATE_DIR/pwfile.XXXXXX")
    stack_secret pg-password >"$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
    as_pg "$PG_BIN/initdb" -D "$data" -U osago --auth=scram-sha-256 --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
      >"$LOG_DIR/initdb.log" 2>&1 || { rm -f "$pwfile"; die "initdb failed (see ${LOG_DIR#"$OSAGO_ROOT"/}/initdb.log)"; }
    rm -f "$pwfile"
  fi
  # A data directory made by an earlier version trusted every local connection: from now on, SCRAM.
  if grep -qE '^(host|local).*trust' "$data/pg_hba.conf"; then
    log "switching ${data#"$OSAGO_ROOT"/} from trust to password (SCRAM) authentication"
    PG_TRUST_TO_SCRAM=1
  fi
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$LOG_DIR" && touch "$LOG_DIR/postgres.log" && chown postgres "$LOG_DIR/postgres.log"
  as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$LOG_DIR/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c max_connections=200 -c fsync=${OSAGO_PG_FSYNC:-on}" \
    start >/dev/null || { tail -20 "$LOG_DIR/postgres.log"; die "PostgreSQL did not start on port $port"; }
  wait_for postgres 30 "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$port"
  if [ "${PG_TRUST_TO_SCRAM:-}" = 1 ]; then
    # The password goes in on stdin, never on a command line.
    psql -h 127.0.0.1 -p "$port" -U osago -d postgres -q -v ON_ERROR_STOP=1 >/dev/null <<SQL ||
SET password_encryption = 'scram-sha-256';
ALTER ROLE osago PASSWORD '$(stack_secret pg-password)';
SQL
      die "could not set the osago role's password"
    as_pg sed -i -E 's/^((host|local).*)trust$/\1scram-sha-256/' "$data/pg_hba.conf"
    as_pg "$PG_BIN/pg_ctl" -D "$data" reload >/dev/null
    unset PG_TRUST_TO_SCRAM
  fi
  psql -h 127.0.0.1 -p "$port" -U osago -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='osago'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$port" -U osago -d postgres -qc "CREATE DATABASE osago" || die "could not create database osago"
}

# The command that restarts this stack's PostgreSQL (fast shutdown, same options).
pg_restart_command() {
  local run=""
  [ "$(id -u)" = 0 ] && run="runuser -u postgres -- "
  echo "$run$PG_BIN/pg_ctl -D $STATE_DIR/pgdata -l $LOG_DIR/postgres.log -m fast -w -t 60 restart"
}

stop_postgres() {
  local data=$STATE_DIR/pgdata
  [ -f "$data/postmaster.pid" ] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}

# --- Kafka (KRaft, one combined broker + controller node) ------------------------

# start_kafka PORT: a single-node KRaft broker. Its PLAINTEXT listener on PORT
# is the stack's own back door (the tests' clients and tools; its clients are
# super users); the controller listens on PORT+1; the services' listener is
# mutual TLS on PORT+2 (kafka_tls_port), as in production: the broker shows a
# certificate of the stack's CA ($STATE_DIR/tls/ca.pem) and admits only client
# certificates of that CA, whose CN is the Kafka user (packaging/dev/dev-tls.sh:
# kafka-osago-aggregator.pem, kafka-osago-core-app.pem). Those users may do
# what the production KafkaUsers may (packaging/kubernetes/operators/strimzi.yaml)
# and nothing else.
kafka_tls_port() { echo $(($1 + 2)); }

start_kafka() {
  local port=$1 controller_port=$(($1 + 1)) tls_port dir=$STATE_DIR/kafka tls=$STATE_DIR/tls
  tls_port=$(kafka_tls_port "$port")
  stop_pidfile kafka
  mkdir -p "$dir/data"
  "$OSAGO_ROOT/packaging/dev/dev-tls.sh" "$tls" || die "could not make the development TLS material in $tls"
  cat >"$dir/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port,SSL://127.0.0.1:$tls_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SSL://127.0.0.1:$tls_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL
inter.broker.listener.name=PLAINTEXT
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$tls/kafka-keystore.pem
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$tls/ca.pem
listener.name.ssl.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([a-z0-9.-]+)\$/\$1/,DEFAULT
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
allow.everyone.if.no.acl.found=false
log.dirs=$dir/data
num.partitions=6
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
PROPERTIES
  cat >"$dir/log4j2.properties" <<'PROPERTIES'
rootLogger.level=WARN
rootLogger.appenderRef.stdout.ref=STDOUT
logger.kafka.name=kafka
logger.kafka.level=INFO
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
PROPERTIES
  local java=(java -Xms256m -Xmx768m -XX:+UseG1GC -cp "$KAFKA_VERSION_DIR/*" -Dlog4j2.configurationFile="$dir/log4j2.properties")
  if [ ! -f "$dir/data/meta.properties" ]; then
    log "formatting Kafka storage ${dir#"$OSAGO_ROOT"/}/data"
    local cluster_id
    cluster_id=$("${java[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
    "${java[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$dir/server.properties" --ignore-formatted >"$LOG_DIR/kafka-format.log" 2>&1 ||
      { tail -20 "$LOG_DIR/kafka-format.log"; die "Kafka storage format failed"; }
  fi
  start_bg kafka "${java[@]}" kafka.Kafka "$dir/server.properties"
  wait_for kafka 90 kcat -b "127.0.0.1:$port" -L -m 2
  kafka_acls_setup "$port" "$dir"
}

# kafka_tool CLASS ARGS...: one of Kafka's command-line tools (a small JVM) on this stack's broker jars.
kafka_tool() {
  java -Xms64m -Xmx256m -cp "$KAFKA_VERSION_DIR/*" -Dlog4j2.configurationFile="$STATE_DIR/kafka/log4j2.properties" "$@"
}

# kafka_create_topic PORT TOPIC: TOPIC with 6 partitions unless it exists, through the PLAINTEXT listener
# (asked with kcat first: a JVM only when there is something to create).
kafka_create_topic() {
  if kcat -b "127.0.0.1:$1" -X allow.auto.create.topics=false -L -t "$2" -m 5 2>/dev/null |
    grep -q "topic \"$2\" with [1-9][0-9]* partitions"; then
    return 0
  fi
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$1" --create --if-not-exists --topic "$2" \
    --partitions 6 --replication-factor 1 >"$LOG_DIR/kafka-topic.log" 2>&1 ||
    { tail -20 "$LOG_DIR/kafka-topic.log"; die "could not create the Kafka topic $2"; }
}

# The topics the services' users may use: the stacks' (osago.*), the integration
# tests' (it-*) and the browser tests' (e2e.*).
KAFKA_TOPIC_PREFIXES=(osago. it- e2e.)

# kafka_acls_setup PORT DIR: the services' ACLs, once per formatted storage and
# list of prefixes (a stamp with both), through the PLAINTEXT listener.
kafka_acls_setup() {
  local port=$1 dir=$2 stamp=$2/acls.stamp cluster
  cluster="$(sed -n 's/^cluster.id=//p' "$dir/data/meta.properties") ${KAFKA_TOPIC_PREFIXES[*]}"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$cluster" ]; then return 0; fi
  log "granting the Kafka users osago-aggregator and osago-core-app their ACLs"
  # As in production (a KafkaUser each): the aggregator writes the quote topics, core-app reads them
  # and uses groups named core-app-* (Read on a group implies Describe). One tool run per user.
  local prefix topics=() out=$LOG_DIR/kafka-acls.log
  for prefix in "${KAFKA_TOPIC_PREFIXES[@]}"; do topics+=(--topic "$prefix"); done
  local acl=(kafka_tool org.apache.kafka.tools.AclCommand --bootstrap-server "127.0.0.1:$port" --add --force
    --resource-pattern-type prefixed)
  { "${acl[@]}" --allow-principal User:osago-aggregator --operation Write --operation Describe "${topics[@]}" &&
    "${acl[@]}" --allow-principal User:osago-core-app --operation Read --operation Describe "${topics[@]}" --group core-app-; } \
    >"$out" 2>&1 || { tail -20 "$out"; die "could not grant the services' Kafka ACLs"; }
  echo "$cluster" >"$stamp"
}

stop_kafka() { stop_pidfile kafka; }

# kafka_control_command stop|start PORT: a command line that stops or starts
# this stack's broker from outside this shell (used by fault tests).
kafka_control_command() { stack_control_command kafka "$@"; }
pg_control_command() { stack_control_command postgres "$@"; }

# stack_control_command kafka|postgres stop|start PORT: a shell command that stops or
# starts this stack's broker or database, for fault tests.
stack_control_command() {
  local call="stop_$1" name=${STATE_DIR##*/}
  [ "$2" = start ] && call="start_$1 $3"
  echo "OSAGO_ROOT='$OSAGO_ROOT' bash -c 'source \"\$OSAGO_ROOT/packaging/dev/stack.sh\" && stack_init $name && $call'"
}

# --- the project's services -----------------------------------------------------

# The example quote (docs/examples/quote-input.json) with a policy start 10 days
# from today, so that scripts do not expire with the example's fixed date.
quote_input_json() {
  python3 - "$OSAGO_ROOT/docs/examples/quote-input.json" <<'PY'
import datetime, json, sys
quote = json.load(open(sys.argv[1], encoding="utf-8"))
quote["policy"]["startDate"] = (datetime.date.today() + datetime.timedelta(days=10)).isoformat()
print(json.dumps(quote, ensure_ascii=False))
PY
}

# simulator_partner_calls PORT: every partner call the simulator on PORT has received
# (submits, polls and token requests over all its insurers), for the benchmarks.
simulator_partner_calls() {
  curl -sf "http://127.0.0.1:$1/control/insurers" | python3 -c '
import json, sys, urllib.request
total = 0
for ins in json.load(sys.stdin):
    s = json.load(urllib.request.urlopen("http://127.0.0.1:'"$1"'/control/insurers/" + ins["id"]))["stats"]
    total += s["applications"] + s["polls"] + s["tokens"]
print(total)'
}

# stack_secret NAME: a per-stack random secret, generated once into the state dir, never committed.
stack_secret() {
  local f=$STATE_DIR/$1
  [ -s "$f" ] || (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$f")
  cat "$f"
}

# bench_stack NAME PG_PORT KAFKA_PORT: the benchmarks' own stack in .local/NAME with an
# empty database osago_bench; everything stops when the script exits.
bench_stack() {
  local name=$1 pg=$2 kafka=$3
  stack_init "$name"
  # Both services and the load generators sign and verify with it.
  OSAGO_SERVICE_TOKEN_SECRET=$(stack_secret service-token-secret)
  export OSAGO_SERVICE_TOKEN_SECRET
  ensure_packages
  ensure_kafka_jars
  build_project
  trap 'stop_services; stop_kafka; stop_postgres' EXIT
  start_postgres "$pg"
  start_kafka "$kafka"
  psql -h 127.0.0.1 -p "$pg" -U osago -d postgres -qc "DROP DATABASE IF EXISTS osago_bench WITH (FORCE)"
  psql -h 127.0.0.1 -p "$pg" -U osago -d postgres -qc "CREATE DATABASE osago_bench"
}

# start_bench_aggregator PORT PG_PORT KAFKA_PORT SIM_PORT CONFIG [VAR=VALUE...]: one
# osago-aggregator on the benchmark database (bench_stack) with the bundled plugins calling
# the simulator started by start_simulator over HTTPS; the extra variables are added.
start_bench_aggregator() {
  local port=$1 pg=$2 kafka=$3 sim=$4 config=$5
  shift 5
  OSAGO_AGGREGATOR_PORT=$port OSAGO_PG_DSN="host=127.0.0.1 port=$pg dbname=osago_bench user=osago" \
    OSAGO_KAFKA_BROKERS="127.0.0.1:$kafka" OSAGO_PLUGIN_DIR="$OSAGO_BUILD_DIR/plugins" OSAGO_LOG_LEVEL=warning \
    OSAGO_AGGREGATOR__PLUGINS__PARTNER_HTTP__CA_FILE="$TLS_DIR/ca.pem" \
    start_bg osago-aggregator env $(partner_url_env "https://127.0.0.1:$((sim + 3))") "$@" \
    "$OSAGO_BUILD_DIR/host/osago-aggregator" --config="$config"
  wait_for osago-aggregator 90 curl -sf "http://127.0.0.1:$port/health/live"
}

# start_simulator PORT: the insurer simulator, its control API (and plain HTTP) on PORT, its
# partner API over HTTPS on PORT+3 with a certificate of the stack's own CA ($TLS_DIR/ca.pem,
# which the aggregator trusts: packaging/dev/dev-tls.sh). CONFIG defaults to config/insurer-simulator.yaml.
start_simulator() {
  local sim=$1 config=${2:-$OSAGO_ROOT/config/insurer-simulator.yaml}
  TLS_DIR=$STATE_DIR/tls
  "$OSAGO_ROOT/packaging/dev/dev-tls.sh" "$TLS_DIR" || die "could not make the development TLS material in $TLS_DIR"
  # The services' user reads it (the simulator its key, the aggregator the CA).
  if [ "${#AS_SERVICE[@]}" -gt 0 ]; then chown -R "$SERVICE_USER:$SERVICE_USER" "$TLS_DIR"; fi
  OSAGO_SIMULATOR_PORT=$sim OSAGO_SIMULATOR_TLS_PORT=$((sim + 3)) OSAGO_SIMULATOR_TLS_CERT="$TLS_DIR/partner.pem" \
    OSAGO_SIMULATOR_TLS_KEY="$TLS_DIR/partner-key.pem" start_bg insurer-simulator "${AS_SERVICE[@]}" \
    "$OSAGO_BUILD_DIR/tests/insurer-simulator/insurer-simulator" --config="$config"
  wait_for insurer-simulator 20 curl -sf "http://127.0.0.1:$sim/health"
  wait_for insurer-simulator 20 curl -sf --cacert "$TLS_DIR/ca.pem" "https://127.0.0.1:$((sim + 3))/health"
}

# partner_url_env BASE: the environment assignments that point every bundled
# manifest's company at the simulator's partner API BASE (https://127.0.0.1:PORT);
# a manifest reads only variables named for its company (OSAGO_SECRET_<COMPANY>_…).
SIMULATOR_COMPANIES=(severny-shchit ural-polis volga-garant baltiyskaya sibir-rezerv yuzhny-bereg kamskaya dobry-put)
partner_url_env() {
  local company
  for company in "${SIMULATOR_COMPANIES[@]}"; do
    local var=${company^^}
    echo "OSAGO_SECRET_${var//-/_}_BASE_URL=$1/$company"
  done
}

# kafka_service_tls: the services' copy of the broker's CA and of their Kafka
# client certificates, readable by the user they run as, in $STATE_DIR/service/kafka-tls.
# The broker is this stack's, or the one whose TLS material is in KAFKA_TLS_DIR
# (the browser tests use the test stack's broker).
kafka_service_tls() {
  local from=${KAFKA_TLS_DIR:-$STATE_DIR/tls} to=$STATE_DIR/service/kafka-tls user
  mkdir -p "$STATE_DIR/service"
  install -d -m 0700 "$to"
  install -m 0644 "$from/ca.pem" "$to/ca.pem"
  for user in osago-aggregator osago-core-app; do
    install -m 0600 "$from/kafka-$user.pem" "$from/kafka-$user-key.pem" "$to/"
  done
  if [ "${#AS_SERVICE[@]}" -gt 0 ]; then chown -R "$SERVICE_USER:$SERVICE_USER" "$to"; fi
}

# kafka_tls_env KAFKA_PORT USER: the environment assignments that point a service
# at the broker's mutual-TLS listener as Kafka user USER (after kafka_service_tls).
kafka_tls_env() {
  local tls=$STATE_DIR/service/kafka-tls
  printf '%s\n' "OSAGO_KAFKA_BROKERS=127.0.0.1:$(kafka_tls_port "$1")" OSAGO_KAFKA_SECURITY_PROTOCOL=ssl \
    "OSAGO_KAFKA_CA_FILE=$tls/ca.pem" "OSAGO_KAFKA_CLIENT_CERT=$tls/kafka-$2.pem" "OSAGO_KAFKA_CLIENT_KEY=$tls/kafka-$2-key.pem"
}

# as_service: the command prefix that runs the project's services unprivileged.
# Started as root (a fresh machine), they run as the system user osago-dev,
# made once; their state (plugin cache, TLS material, the database password
# file) is handed to it. Otherwise they run as whoever started the stack.
SERVICE_USER=osago-dev
AS_SERVICE=()
as_service_setup() {
  AS_SERVICE=()
  SERVICE_PGPASSFILE=${PGPASSFILE:-}
  [ "$(id -u)" = 0 ] || return 0
  getent passwd "$SERVICE_USER" >/dev/null ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SERVICE_USER" ||
    die "could not create the system user $SERVICE_USER for the services"
  local as_user=(setpriv "--reuid=$SERVICE_USER" "--regid=$SERVICE_USER" --init-groups --)
  # A checkout in a directory only root may enter (under /root, a mktemp -d) is out of its reach.
  if ! "${as_user[@]}" test -x "$OSAGO_BUILD_DIR/host/osago-aggregator" -a -r "$OSAGO_ROOT/config/osago-aggregator.yaml"; then
    log "warning: $SERVICE_USER cannot reach ${OSAGO_ROOT} (a parent directory is closed to others): the services run as root;" \
      "check out or build where other users may enter (chmod o+x on the parents) to run them unprivileged"
    # What an earlier unprivileged run left (its plugin cache) is root's again, or root's aggregator refuses it.
    if [ -d "$STATE_DIR/service" ]; then chown -R 0:0 "$STATE_DIR/service"; fi
    return 0
  fi
  AS_SERVICE=("${as_user[@]}")
  mkdir -p "$STATE_DIR/service"
  chown -R "$SERVICE_USER:$SERVICE_USER" "$STATE_DIR/service"  # all of it: a root run may have left its cache
  chmod 0700 "$STATE_DIR/service"
  if [ -n "${PGPASSFILE:-}" ]; then
    install -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0600 "$PGPASSFILE" "$STATE_DIR/service/pgpass"
    SERVICE_PGPASSFILE=$STATE_DIR/service/pgpass
  fi
}

# --- Prometheus ---------------------------------------------------------------

# start_prometheus PORT: Prometheus on 127.0.0.1:PORT with osago's rules
# (packaging/monitoring), scraping every 2 s the targets listed in
# $STATE_DIR/prometheus/targets/*.json (file discovery: whoever starts services
# writes their file, e.g. prometheus_targets below, and removes it).
start_prometheus() {
  local port=$1 dir=$STATE_DIR/prometheus
  stop_prometheus
  mkdir -p "$dir/targets" "$dir/data"
  cat >"$dir/prometheus.yml" <<YML
# Written by packaging/dev/stack.sh (start_prometheus).
global: {scrape_interval: 2s, scrape_timeout: 2s, evaluation_interval: 2s}
rule_files: ["$OSAGO_ROOT/packaging/monitoring/prometheus/osago-rules.yml"]
scrape_configs:
  - job_name: osago
    file_sd_configs: [{files: ["$dir/targets/*.json"], refresh_interval: 2s}]
YML
  promtool check config "$dir/prometheus.yml" >"$LOG_DIR/prometheus-check.log" 2>&1 \
    || die "the Prometheus configuration is not valid (see ${LOG_DIR#"$OSAGO_ROOT"/}/prometheus-check.log)"
  start_bg prometheus prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --storage.tsdb.retention.time=2d --web.listen-address="127.0.0.1:$port"
  wait_for prometheus 30 curl -sf "http://127.0.0.1:$port/-/ready"
}

stop_prometheus() { stop_pidfile prometheus; }

# prometheus_targets NAME JOB=PORT...: the file of scrape targets NAME (on 127.0.0.1) for start_prometheus.
prometheus_targets() {
  local name=$1 file=$STATE_DIR/prometheus/targets/$1.json sep="" entry
  shift
  mkdir -p "${file%/*}"
  {
    printf '['
    for entry in "$@"; do
      printf '%s{"targets": ["127.0.0.1:%s"], "labels": {"job": "%s"}}' "$sep" "${entry#*=}" "${entry%%=*}"
      sep=", "
    done
    printf ']\n'
  } >"$file.tmp" && mv "$file.tmp" "$file"
}

# start_services CORE_PORT AGGREGATOR_PORT SIMULATOR_PORT PG_PORT KAFKA_PORT
# (database OSAGO_STACK_DB, default osago; topic OSAGO_STACK_TOPIC, default osago.quote-events)
start_services() {
  local core=$1 agg=$2 sim=$3 pg=$4 kafka=$5 bin=$OSAGO_BUILD_DIR
  stop_services
  as_service_setup
  start_simulator "$sim"
  # The stand-in for client-info (users' saved profiles) on the port after the simulator's.
  local client_info=$((sim + 5))
  OSAGO_CLIENT_INFO_PORT=$client_info start_bg client-info "${AS_SERVICE[@]}" \
    "$bin/tests/client-info/client-info-standin" --config="$OSAGO_ROOT/config/client-info.yaml"
  wait_for client-info 20 curl -sf "http://127.0.0.1:$client_info/health"

  local partners kafka_agg kafka_core
  mapfile -t partners < <(partner_url_env "https://127.0.0.1:$((sim + 3))")
  # Kafka as in production: mutual TLS, each service as its own user (start_kafka), the
  # topic made beforehand as the operator's KafkaTopic would (the users may not create topics).
  kafka_service_tls
  kafka_create_topic "$kafka" "${OSAGO_STACK_TOPIC:-osago.quote-events}"
  mapfile -t kafka_agg < <(kafka_tls_env "$kafka" osago-aggregator)
  mapfile -t kafka_core < <(kafka_tls_env "$kafka" osago-core-app)
  OSAGO_AGGREGATOR_PORT=$agg OSAGO_PG_DSN="host=127.0.0.1 port=$pg dbname=${OSAGO_STACK_DB:-osago} user=osago" \
    OSAGO_KAFKA_TOPIC="${OSAGO_STACK_TOPIC:-osago.quote-events}" OSAGO_AGGREGATOR__KAFKA__CREATE_TOPIC=false \
    OSAGO_PLUGIN_DIR="$bin/plugins" \
    OSAGO_AGGREGATOR__PLUGINS__PARTNER_HTTP__CA_FILE="$TLS_DIR/ca.pem" \
    OSAGO_AGGREGATOR__PLUGINS__CACHE_DIRECTORY="$STATE_DIR/service/plugin-cache" PGPASSFILE="$SERVICE_PGPASSFILE" \
    OSAGO_ADMIN_TOKEN="$(stack_secret admin-token)" \
    OSAGO_SERVICE_TOKEN_SECRET="$(stack_secret service-token-secret)" start_bg osago-aggregator "${AS_SERVICE[@]}" \
    env "${partners[@]}" "${kafka_agg[@]}" "$bin/host/osago-aggregator" --config="$OSAGO_ROOT/config/osago-aggregator.yaml"
  wait_for osago-aggregator 90 curl -sf "http://127.0.0.1:$agg/health/live"

  OSAGO_CORE_PORT=$core OSAGO_AGGREGATOR_URL="http://127.0.0.1:$agg" \
    OSAGO_KAFKA_TOPIC="${OSAGO_STACK_TOPIC:-osago.quote-events}" \
    OSAGO_CLIENT_INFO_URL="http://127.0.0.1:$client_info" \
    OSAGO_TOKEN_SECRET="$(stack_secret token-secret)" OSAGO_SERVICE_TOKEN_SECRET="$(stack_secret service-token-secret)" \
    start_bg core-app "${AS_SERVICE[@]}" \
    env "${kafka_core[@]}" "$bin/core-app/osago-core-app" --config="$OSAGO_ROOT/config/core-app.yaml"
  wait_for core-app 90 curl -sf "http://127.0.0.1:$core/health/ready"
}

stop_services() {
  for name in core-app osago-aggregator client-info insurer-simulator; do stop_pidfile "$name"; done
}
