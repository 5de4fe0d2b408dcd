#!/usr/bin/env bash
# The packages on a fresh host: a scratch Debian 12 root (debootstrap, minbase)
# gets osago-aggregator, osago-core-app and osago-plugin-sdk with apt, which
# brings their dependencies from the Debian archive (so a missing Depends fails
# here); the services run from it as their systemd units would (as user osago,
# with the packaged config and the secrets file) against the test PostgreSQL
# and Kafka. Then plugin packages are installed with dpkg while the aggregator
# runs: each is picked up without a restart and its companies quote; the
# partner's own package (the SDK example, built by check_packages.sh) too.
# Needs root (chroot); ctest runs it inside ./osago test after check_packages.sh.
set -euo pipefail
OSAGO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OSAGO_ROOT
source "$OSAGO_ROOT/packaging/dev/stack.sh"
: "${OSAGO_TEST_PG_PORT:?run through ./osago test}"
: "${OSAGO_TEST_KAFKA_PORT:?run through ./osago test}"
[ "$(id -u)" = 0 ] || die "the scratch-root install needs root (chroot)"

CORE=${OSAGO_PKG_CORE_PORT:-8680} AGG=${OSAGO_PKG_AGGREGATOR_PORT:-8681} SIM=${OSAGO_PKG_SIMULATOR_PORT:-8690}
CLIENT_INFO=$((SIM + 5))
PKG=$OSAGO_BUILD_DIR/packages
BASE=$OSAGO_ROOT/.local/scratch-root-base
APT_CACHE=$OSAGO_ROOT/.local/scratch-root-apt-cache
ROOT=$OSAGO_BUILD_DIR/packaging-test/scratch-root
ADMIN_TOKEN=package-test-admin-token-0123456789 PREVIOUS_ADMIN_TOKEN=package-test-previous-admin-token
stack_init packaging
ensure_packaging_tools
ls "$PKG"/osago-aggregator_*.deb "$PKG"/partner/osago-plugin-hello-insurer_*.deb >/dev/null ||
  die "no packages in $PKG: run tests/packaging/check_packages.sh first"

step() { printf '\n== %s\n' "$*"; }
check() { # check DESCRIPTION COMMAND...: fails the test unless COMMAND succeeds
  local what=$1
  shift
  if "$@"; then echo "ok: $what"; else die "FAILED: $what"; fi
}
in_root() { chroot "$ROOT" "$@"; }
# debs NAME...: the paths, inside the root, of these packages' files.
debs() { local n; for n in "$@"; do echo /tmp/pkgs/"$(basename "$(ls "$ROOT"/tmp/pkgs/"${n}"_*.deb)")"; done; }
http() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
admin() { curl -sf -H "Authorization: Bearer $ADMIN_TOKEN" "$@"; }
plugin_field() { admin "http://127.0.0.1:$AGG/admin/plugins" | jq -r --arg id "$1" ".plugins[] | select(.id == \$id) | .$2"; }

cleanup() {
  stop_services_in_root
  stop_pidfile client-info
  stop_pidfile insurer-simulator
  mountpoint -q "$ROOT/proc" && umount "$ROOT/proc"
  return 0
}
stop_services_in_root() { for s in osago-core-app osago-aggregator; do stop_pidfile "$s"; done; }
trap cleanup EXIT

# --- a fresh Debian 12 root, from the same archive as this host ----------------
if [ ! -f "$BASE/.complete" ]; then
  archive() { apt-cache policy | awk '$3 ~ /^bookworm\/main$/ && $4 == "amd64" {print $2; exit}'; }
  mirror=$(archive)
  # apt-cache names only the archives whose lists were fetched.
  [ -n "$mirror" ] || { apt-get update -q >"$LOG_DIR/apt-update-host.log" 2>&1 || true; mirror=$(archive); }
  [ -n "$mirror" ] || die "this host's apt sources name no bookworm/main archive for debootstrap"
  step "debootstrap bookworm (minbase) into ${BASE#"$OSAGO_ROOT"/} (once)"
  rm -rf "$BASE"
  debootstrap --variant=minbase bookworm "$BASE" "$mirror" >"$LOG_DIR/debootstrap.log" 2>&1 ||
    { tail -20 "$LOG_DIR/debootstrap.log"; die "debootstrap failed"; }
  # The host's own apt sources (updates and security included), not debootstrap's one line.
  rm -f "$BASE/etc/apt/sources.list"
  cp /etc/apt/sources.list "$BASE/etc/apt/" 2>/dev/null || true
  find /etc/apt/sources.list.d -maxdepth 1 \( -name '*.list' -o -name '*.sources' \) -exec cp {} "$BASE/etc/apt/sources.list.d/" \;
  touch "$BASE/.complete"
fi
# A run that was killed may have left /proc mounted in the old root.
if mountpoint -q "$ROOT/proc" 2>/dev/null; then umount "$ROOT/proc"; fi
rm -rf "$ROOT"
mkdir -p "$(dirname "$ROOT")"
cp -a "$BASE" "$ROOT"
mount -t proc proc "$ROOT/proc"
mkdir -p "$ROOT/tmp/pkgs" "$APT_CACHE"
cp "$PKG"/*.deb "$PKG"/partner/*.deb "$ROOT/tmp/pkgs/"

step "apt-get install the service packages and the SDK (dependencies from the archive)"
cp "$APT_CACHE"/*.deb "$ROOT/var/cache/apt/archives/" 2>/dev/null || true
in_root apt-get update -q >"$LOG_DIR/apt-update.log" 2>&1 || { tail "$LOG_DIR/apt-update.log"; die "apt-get update in the scratch root failed"; }
if ! in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  $(debs osago-aggregator osago-core-app osago-plugin-sdk osago-plugin-worker) \
  >"$LOG_DIR/apt-install.log" 2>&1; then
  tail -30 "$LOG_DIR/apt-install.log"
  die "apt-get install of the packages failed"
fi
cp "$ROOT"/var/cache/apt/archives/*.deb "$APT_CACHE/" 2>/dev/null || true
check "the packages are installed" in_root dpkg-query -W osago-aggregator osago-core-app osago-plugin-sdk osago-plugin-worker
check "postinst made a system user per service" in_root getent passwd osago-aggregator osago-core-app
check "each secrets file is root:<its service> 0640" \
  test "$(in_root stat -c '%n %U:%G %a' /etc/osago/osago-aggregator.env /etc/osago/osago-core-app.env)" = \
  "$(printf '%s\n' '/etc/osago/osago-aggregator.env root:osago-aggregator 640' '/etc/osago/osago-core-app.env root:osago-core-app 640')"
check "the aggregator's state directory belongs to its user" \
  test "$(in_root stat -c '%U %a' /var/lib/osago-aggregator)" = "osago-aggregator 700"
check "no plugin is installed yet" test -z "$(ls "$ROOT/usr/lib/osago-aggregator/plugins")"

# refuses_empty_allow_list: the packaged config's start-up check, as shipped, fails on an
# empty plugins.allowed_sha256 and says how to list digests.
refuses_empty_allow_list() {
  local out
  if out=$(chroot --userspec=osago-aggregator:osago-aggregator "$ROOT" /bin/sh -c "set -a; . /etc/osago/osago-aggregator.env; set +a;
      OSAGO_AGGREGATOR__PLUGINS__REQUIRE_ALLOWED_SHA256=true exec /usr/bin/osago-aggregator \
      --config=/etc/osago/osago-aggregator.yaml --check-config" 2>&1); then
    return 1
  fi
  grep -q "osago-plugin-check --digest" <<<"$out"
}

# --- configure as an operator would: secrets and addresses in the env files ----
cat >>"$ROOT/etc/osago/osago-aggregator.env" <<EOF
OSAGO_ADMIN_TOKEN=$ADMIN_TOKEN
# a token rotation in progress: the previous token is still admitted
OSAGO_ADMIN_TOKEN_ACCEPTED=$PREVIOUS_ADMIN_TOKEN
OSAGO_SERVICE_TOKEN_SECRET=package-test-service-key-0123456789abcdef
OSAGO_PG_DSN="host=127.0.0.1 port=$OSAGO_TEST_PG_PORT dbname=osago_pkg user=osago password=$(cut -d: -f5 "$PGPASSFILE")"
OSAGO_KAFKA_BROKERS=127.0.0.1:$OSAGO_TEST_KAFKA_PORT
OSAGO_KAFKA_TOPIC=pkg.quote-events
OSAGO_AGGREGATOR__KAFKA__CREATE_TOPIC=true
OSAGO_AGGREGATOR__LISTEN__HOST=127.0.0.1
OSAGO_AGGREGATOR__LISTEN__PORT=$AGG
# partners over HTTPS: the simulator's TLS port, with the test CA the operator installed,
# each company's address in a variable named for it (a manifest reads no other)
OSAGO_AGGREGATOR__PLUGINS__PARTNER_HTTP__CA_FILE=/etc/osago/partner-ca.pem
$(partner_url_env "https://127.0.0.1:$((SIM + 3))")
# this test installs plugin packages into a running host; production lists their digests instead
OSAGO_AGGREGATOR__PLUGINS__REQUIRE_ALLOWED_SHA256=false
EOF
cat >>"$ROOT/etc/osago/osago-core-app.env" <<EOF
OSAGO_TOKEN_SECRET=package-test-token-secret-0123456789abcdef
OSAGO_SERVICE_TOKEN_SECRET=package-test-service-key-0123456789abcdef
OSAGO_AGGREGATOR_URL=http://127.0.0.1:$AGG
OSAGO_CLIENT_INFO_URL=http://127.0.0.1:$CLIENT_INFO
OSAGO_KAFKA_BROKERS=127.0.0.1:$OSAGO_TEST_KAFKA_PORT
OSAGO_KAFKA_TOPIC=pkg.quote-events
OSAGO_CORE__LISTEN__HOST=127.0.0.1
OSAGO_CORE__LISTEN__PORT=$CORE
# test only: the demo sign-in, to create a quote through core-app
OSAGO_CORE__AUTH__DEV_LOGIN_ENABLED=true
EOF
psql -h 127.0.0.1 -p "$OSAGO_TEST_PG_PORT" -U osago -d postgres -qc "DROP DATABASE IF EXISTS osago_pkg WITH (FORCE)"
psql -h 127.0.0.1 -p "$OSAGO_TEST_PG_PORT" -U osago -d postgres -qc "CREATE DATABASE osago_pkg"

# The insurers' simulator and the client-info stand-in are test tools, run from the build.
start_simulator "$SIM"
install -m 0644 "$TLS_DIR/ca.pem" "$ROOT/etc/osago/partner-ca.pem"
OSAGO_CLIENT_INFO_PORT=$CLIENT_INFO start_bg client-info \
  "$OSAGO_BUILD_DIR/tests/client-info/client-info-standin" --config="$OSAGO_ROOT/config/client-info.yaml"
wait_for client-info 20 curl -sf "http://127.0.0.1:$CLIENT_INFO/health"
# yuzhny-bereg answers 3 % of calls with a 503 by default, and a failed submit is
# (rightly) not repeated: this test wants every company's offer, so no random errors.
curl -sf -X PUT -H 'Content-Type: application/json' -d '{"errorRate": 0}' \
  "http://127.0.0.1:$SIM/control/insurers/yuzhny-bereg/behaviour" >/dev/null ||
  die "cannot set the simulator's yuzhny-bereg behaviour"

# start_unit SERVICE: runs the unit's ExecStart in the root as its User= with its EnvironmentFile.
start_unit() {
  local svc=$1 unit exec_start
  unit=$ROOT/lib/systemd/system/$svc.service
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  grep -qxF "User=$svc" "$unit" || die "$svc unit: expected User=$svc"
  start_bg "$svc" chroot --userspec="$svc:$svc" "$ROOT" /bin/sh -c \
    "set -a; . /etc/osago/$svc.env; set +a; exec $exec_start"
}

check "the packaged config refuses to start with an empty plugin allow-list" refuses_empty_allow_list
check "core-app's user cannot read the aggregator's secrets" \
  sh -c "! chroot --userspec=osago-core-app:osago-core-app '$ROOT' cat /etc/osago/osago-aggregator.env >/dev/null 2>&1"
check "the aggregator's user cannot read core-app's secrets" \
  sh -c "! chroot --userspec=osago-aggregator:osago-aggregator '$ROOT' cat /etc/osago/osago-core-app.env >/dev/null 2>&1"

step "start both services from the scratch root"
start_unit osago-aggregator
wait_for osago-aggregator 60 curl -sf "http://127.0.0.1:$AGG/health/live"
start_unit osago-core-app
wait_for osago-core-app 60 curl -sf "http://127.0.0.1:$CORE/health/live"
AGG_PID=$(cat "$RUN_DIR/osago-aggregator.pid")
check "not ready without a plugin (503, usableCompanies 0)" \
  test "$(curl -s "http://127.0.0.1:$AGG/health/ready" | jq -c '[.status, .usableCompanies, .postgres, .kafka]')" = '["DOWN",0,"UP","UP"]'
check "core-app serves the quote page from /usr/share" \
  grep -q 'ОСАГО' <(curl -sf "http://127.0.0.1:$CORE/")
check "the aggregator serves the admin page from /usr/share" test "$(http "http://127.0.0.1:$AGG/admin")" = 200
json_logs() { head -5 "$LOG_DIR/osago-aggregator.log" | jq -se 'length == 5 and all(.time and .level and .message)' >/dev/null; }
check "the packaged config logs JSON lines" json_logs
bearer_status() { http -H "Authorization: Bearer $1" "http://127.0.0.1:$AGG/admin/plugins"; }
check "admin API: the token and, during a rotation, the previous one are admitted" \
  test "$(bearer_status "$ADMIN_TOKEN") $(bearer_status "$PREVIOUS_ADMIN_TOKEN")" = "200 200"
check "admin API: any other token is refused" test "$(bearer_status wrong-token-0123456789)" = 401

# quote_through_core: creates a request through core-app (demo sign-in), waits for its end, prints it.
quote_through_core() {
  local token body id view
  token=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{"userId":"package-test"}' \
    "http://127.0.0.1:$CORE/api/dev/login" | jq -r .token)
  body=$(quote_input_json)
  id=$(curl -sf -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
    -H "Idempotency-Key: pkg-$RANDOM-$RANDOM" -d "$body" "http://127.0.0.1:$CORE/api/osago/requests" | jq -r .osagoRequestId)
  [ -n "$id" ] && [ "$id" != null ] || return 1
  for _ in $(seq 1 150); do
    view=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$CORE/api/osago/requests/$id")
    [ "$(jq -r .status <<<"$view")" = COMPLETED ] && { echo "$view"; return 0; }
    sleep 0.5
  done
  echo "$view"
  return 1
}
# offers VIEW COMPANY...: each company has an offer with a price.
offers() {
  local view=$1 c
  shift
  for c in "$@"; do
    jq -e --arg c "$c" '.insuranceCompanies[] | select(.companyId == $c) | .status == "COMPLETED" and (.offer.premium.amount | length > 0)' \
      <<<"$view" >/dev/null || { echo "no offer from $c: $(jq -c --arg c "$c" '.insuranceCompanies[] | select(.companyId == $c)' <<<"$view")"; return 1; }
  done
}
# wait_listed PLUGIN: until the running aggregator lists the plugin as loaded.
wait_listed() {
  for _ in $(seq 1 60); do
    [ "$(plugin_field "$1" state)" = LOADED ] && return 0
    sleep 0.5
  done
  return 1
}

step "dpkg -i osago-plugin-polisnet on the running host"
in_root dpkg -i "$(debs osago-plugin-polisnet)" >"$LOG_DIR/dpkg-polisnet.log" 2>&1 || { cat "$LOG_DIR/dpkg-polisnet.log"; die "dpkg -i failed"; }
check "the running aggregator loaded it (rescan)" wait_listed polisnet
check "a new partner starts switched off (enable_new: false)" test "$(plugin_field polisnet enabled)" = false
admin -X POST "http://127.0.0.1:$AGG/admin/plugins/polisnet/enable" >/dev/null
check "ready once its companies are switched on" test "$(http "http://127.0.0.1:$AGG/health/ready")" = 200
view=$(quote_through_core) || die "the quote did not complete: $view"
check "its companies quote: severny-shchit, ural-polis" offers "$view" severny-shchit ural-polis

step "dpkg -i garant, volna and the partner's own package (built against the packaged SDK)"
in_root dpkg -i $(debs osago-plugin-garant osago-plugin-volna osago-plugin-hello-insurer) >"$LOG_DIR/dpkg-more.log" 2>&1 || { cat "$LOG_DIR/dpkg-more.log"; die "dpkg -i failed"; }
for p in garant volna hello-insurer; do
  check "$p loaded without a restart" wait_listed "$p"
  admin -X POST "http://127.0.0.1:$AGG/admin/plugins/$p/enable" >/dev/null
done
check "the same aggregator process" test "$(cat "$RUN_DIR/osago-aggregator.pid")" = "$AGG_PID"
check "the partner's plugin passes the packaged conformance kit" in_root env OSAGO_SECRET_DOBRY_PUT_BASE_URL="http://127.0.0.1:$SIM/dobry-put" osago-plugin-check \
  /usr/lib/osago-aggregator/plugins/osago_plugin_hello_insurer.so \
  --manifest /usr/lib/osago-aggregator/plugins/osago_plugin_hello_insurer.yaml --simulator "http://127.0.0.1:$SIM"
view=$(quote_through_core) || die "the quote did not complete: $view"
check "all seven companies quote" offers "$view" severny-shchit ural-polis sibir-rezerv volga-garant baltiyskaya \
  yuzhny-bereg dobry-put

step "dpkg -r osago-plugin-volna"
in_root dpkg -r osago-plugin-volna >"$LOG_DIR/dpkg-remove.log" 2>&1 || { cat "$LOG_DIR/dpkg-remove.log"; die "dpkg -r failed"; }
admin -X POST "http://127.0.0.1:$AGG/admin/plugins/rescan" >/dev/null
check "removed: listed as not loaded" test "$(plugin_field volna state)" = NOT_LOADED

step "SIGTERM: both services stop cleanly"
for svc in osago-core-app osago-aggregator; do
  pid=$(cat "$RUN_DIR/$svc.pid")
  kill -TERM "$pid"
  rc=0
  timeout 30 tail --pid="$pid" -f /dev/null || rc=$?
  check "$svc exited within 30 s of SIGTERM" test "$rc" = 0
  wait "$pid" && rc=0 || rc=$?
  check "$svc exit status 0" test "$rc" = 0
  rm -f "$RUN_DIR/$svc.pid"
done
echo
echo "the packages install on a fresh Debian 12 root, run, and take plugin packages without a restart"
