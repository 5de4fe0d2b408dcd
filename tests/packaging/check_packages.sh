#!/usr/bin/env bash
# Builds the Debian packages (cpack) and checks what is in them: files, control
# fields, conffiles, maintainer scripts, systemd units; then builds the example
# plugin out of tree against the packaged SDK and makes its own package with it.
# The packages (and the example's) are left in build/packages for install_test.sh.
set -euo pipefail
OSAGO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${OSAGO_BUILD_DIR:-$OSAGO_ROOT/build}
PKG=$BUILD/packages
WORK=$BUILD/packaging-test
VERSION=$(sed -n 's/^project(osago_aggregator VERSION \([0-9.]*\).*/\1/p' "$OSAGO_ROOT/CMakeLists.txt")
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

rm -rf "$PKG" "$WORK"
mkdir -p "$WORK"
(cd "$BUILD" && cpack -G DEB -B "$PKG" >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; exit 1; }

deb() { echo "$PKG/${1}_${VERSION}_amd64.deb"; }
files_of() { dpkg-deb -c "$(deb "$1")" | awk '{print $6}' | sed 's#^\./#/#'; }
field() { dpkg-deb -f "$(deb "$1")" "$2"; }

# expect_files PACKAGE PATH...: each path is in the package.
expect_files() {
  local package=$1 listing
  shift
  listing=$(files_of "$package")
  for f in "$@"; do
    grep -qxF "$f" <<<"$listing" || fail "$package lacks $f"
  done
}
# expect_depends PACKAGE NAME...: each name is among the package's Depends.
expect_depends() {
  local package=$1 depends
  shift
  depends=$(field "$package" Depends)
  for d in "$@"; do
    tr ',' '\n' <<<"$depends" | awk '{print $1}' | grep -qxF "$d" || fail "$package does not depend on $d (Depends: $depends)"
  done
}

plugins=$(sed -n 's/^add_subdirectory(\(.*\))$/\1/p' "$OSAGO_ROOT/plugins/CMakeLists.txt")
expected="osago-aggregator osago-core-app osago-plugin-sdk osago-plugin-worker"
for p in $plugins; do expected+=" osago-plugin-$p"; done
for p in $expected; do
  [ -f "$(deb "$p")" ] || fail "no package $p (in $PKG)"
done
built=$(find "$PKG" -maxdepth 1 -name '*.deb' | wc -l)
[ "$built" -eq "$(wc -w <<<"$expected")" ] || fail "$built packages built, expected: $expected"
((failures == 0)) && ok "packages: $expected"

# --- the services -------------------------------------------------------------
for svc in osago-aggregator osago-core-app; do
  expect_files "$svc" "/usr/bin/$svc" "/etc/osago/$svc.yaml" "/etc/osago/$svc.env" \
    "/lib/systemd/system/$svc.service" "/usr/share/doc/$svc/operations.md" "/usr/share/doc/$svc/configuration.md"
  expect_depends "$svc" adduser libc6 libstdc++6 libpocofoundation80 libpoconet80 librdkafka++1 libyaml-cpp0.7 \
    libprometheus-cpp-core1.0
  conffiles=$(dpkg-deb --ctrl-tarfile "$(deb "$svc")" | tar -xO ./conffiles)
  [ "$conffiles" = "$(printf '/etc/osago/%s.yaml\n/etc/osago/%s.env' "$svc" "$svc")" ] ||
    fail "$svc conffiles: $conffiles"
  for script in postinst prerm postrm; do
    mode=$(dpkg-deb --ctrl-tarfile "$(deb "$svc")" | tar -tv "./$script" | awk '{print $1}')
    [ "$mode" = "-rwxr-xr-x" ] || fail "$svc $script mode $mode"
    dpkg-deb --ctrl-tarfile "$(deb "$svc")" | tar -xO "./$script" | sh -n || fail "$svc $script is not valid sh"
  done
  # The unit starts the packaged binary with the packaged config and the secrets file.
  unit=$(dpkg-deb --fsys-tarfile "$(deb "$svc")" | tar -xO "./lib/systemd/system/$svc.service")
  grep -qxF "ExecStart=/usr/bin/$svc --config=/etc/osago/$svc.yaml" <<<"$unit" || fail "$svc unit ExecStart"
  grep -qxF "EnvironmentFile=-/etc/osago/$svc.env" <<<"$unit" || fail "$svc unit EnvironmentFile"
  grep -qxF "User=$svc" <<<"$unit" || fail "$svc unit does not run as its own user"
  # Least privilege, scored as systemd would (docs/security.md records the score).
  for key in "CapabilityBoundingSet=" "UMask=0077" "ProtectProc=invisible" "MemoryDenyWriteExecute=yes" \
             "NoNewPrivileges=yes" "ProtectSystem=strict"; do
    grep -qxF "$key" <<<"$unit" || fail "$svc unit lacks $key"
  done
  grep -q "^SystemCallFilter=@system-service" <<<"$unit" || fail "$svc unit has no system call filter"
  grep -q "^MemoryMax=" <<<"$unit" || fail "$svc unit has no memory limit"
  if command -v systemd-analyze >/dev/null; then
    unit_file=$(mktemp --suffix=.service)
    printf '%s\n' "$unit" >"$unit_file"
    exposure=$(systemd-analyze security --offline=true "$unit_file" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
    rm -f "$unit_file"
    [ -n "$exposure" ] && python3 -c "import sys; sys.exit(0 if float('$exposure') <= 2.0 else 1)" ||
      fail "$svc unit: systemd-analyze security exposure ${exposure:-unknown}, above 2.0"
    echo "$svc: systemd-analyze security exposure $exposure"
  fi
  grep -q "^TimeoutStopSec=" <<<"$unit" || fail "$svc unit has no stop timeout"
  # No secret is shipped: every line of the secrets template is a comment.
  env_file=$(dpkg-deb --fsys-tarfile "$(deb "$svc")" | tar -xO "./etc/osago/$svc.env")
  if grep -v '^#' <<<"$env_file" | grep -q .; then fail "$svc.env ships a value"; fi
done
expect_files osago-aggregator /usr/lib/osago-aggregator/plugins/ /usr/share/osago-aggregator/admin-web/admin.html
expect_depends osago-aggregator libpq5 libboost-filesystem1.74.0 osago-plugin-worker
# The worker, shared by the aggregator and the conformance kit, where both look for it.
expect_files osago-plugin-worker /usr/lib/osago-aggregator/osago-plugin-worker
expect_depends osago-plugin-worker libc6 libseccomp2
expect_files osago-core-app /usr/share/osago-core-app/web/index.html /usr/share/osago-core-app/web/app.js
expect_depends osago-core-app libpococrypto80 libpocojwt80
# The binaries are stripped (debug info makes core-app about 20 times larger).
mkdir -p "$WORK/root"
for p in $expected; do dpkg-deb -x "$(deb "$p")" "$WORK/root"; done
for bin in /usr/bin/osago-aggregator /usr/bin/osago-core-app /usr/bin/osago-plugin-check /usr/lib/osago-aggregator/osago-plugin-worker; do
  if readelf -S "$WORK/root$bin" | grep -q '\.debug_info'; then fail "$bin is not stripped"; fi
done
((failures == 0)) && ok "service packages: files, Depends, conffiles, scripts, units"

# systemd's own check of the units: it prints every unknown key or bad value (and
# still exits 0), so any output fails. The units are checked with their paths moved
# into the scratch root, where the binaries they name are.
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$WORK/units"
  for svc in osago-aggregator osago-core-app; do
    sed "s#/usr/bin/#$WORK/root/usr/bin/#; s#/etc/osago/#$WORK/root/etc/osago/#g" \
      "$WORK/root/lib/systemd/system/$svc.service" >"$WORK/units/$svc.service"
    out=$(systemd-analyze verify "$WORK/units/$svc.service" 2>&1) || true
    [ -z "$out" ] || fail "systemd-analyze verify $svc: $out"
  done
  ((failures == 0)) && ok "systemd-analyze verify: both units clean"
fi

# --- the plugins ----------------------------------------------------------------
for p in $plugins; do
  expect_files "osago-plugin-$p" "/usr/lib/osago-aggregator/plugins/osago_plugin_$p.so" \
    "/usr/lib/osago-aggregator/plugins/osago_plugin_$p.yaml"
  n=$(files_of "osago-plugin-$p" | grep -vc '/$')
  [ "$n" -eq 2 ] || fail "osago-plugin-$p has $n files, expected the .so and its manifest"
  expect_depends "osago-plugin-$p" osago-aggregator
  # The packaged manifest is the plugin's own.
  cmp -s "$WORK/root/usr/lib/osago-aggregator/plugins/osago_plugin_$p.yaml" "$OSAGO_ROOT/plugins/$p/manifest.yaml" ||
    fail "osago-plugin-$p manifest differs from plugins/$p/manifest.yaml"
  # Only the ABI entry point is exported.
  exported=$(nm -D --defined-only "$WORK/root/usr/lib/osago-aggregator/plugins/osago_plugin_$p.so" | awk '{print $3}')
  [ "$exported" = "osago_plugin_entry" ] || fail "osago_plugin_$p.so exports: $exported"
done
((failures == 0)) && ok "plugin packages: one .so and its manifest each"

# --- the SDK: an out-of-tree plugin finds it with find_package ---------------------
expect_files osago-plugin-sdk /usr/include/osago/plugin_abi.h /usr/include/osago/plugin_sdk/plugin.hpp \
  /usr/lib/cmake/OsagoPluginApi/OsagoPluginApiConfig.cmake /usr/lib/cmake/OsagoPluginApi/OsagoPluginHelpers.cmake \
  /usr/bin/osago-plugin-check /usr/share/doc/osago-plugin-sdk/plugin-guide.md
expect_depends osago-plugin-sdk nlohmann-json3-dev osago-plugin-worker
mkdir -p "$WORK/sdk"
dpkg-deb -x "$(deb osago-plugin-sdk)" "$WORK/sdk"
cp -r "$OSAGO_ROOT/plugin-api/examples/hello-insurer" "$WORK/hello-insurer"
if cmake -S "$WORK/hello-insurer" -B "$WORK/hello-build" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/sdk/usr" \
  >"$WORK/hello-configure.log" 2>&1 && cmake --build "$WORK/hello-build" >"$WORK/hello-build.log" 2>&1 &&
  (cd "$WORK/hello-build" && cpack -B "$PKG/partner" >"$WORK/hello-cpack.log" 2>&1); then
  grep -q "$WORK/sdk/usr/lib/cmake/OsagoPluginApi" "$WORK/hello-build/CMakeCache.txt" ||
    fail "the example did not use the packaged SDK"
  hello=$PKG/partner/osago-plugin-hello-insurer_1.0.0_amd64.deb
  [ -f "$hello" ] || fail "the example's package was not made"
  listing=$(dpkg-deb -c "$hello" | awk '{print $6}')
  grep -qx './usr/lib/osago-aggregator/plugins/osago_plugin_hello_insurer.so' <<<"$listing" &&
    grep -qx './usr/lib/osago-aggregator/plugins/osago_plugin_hello_insurer.yaml' <<<"$listing" ||
    fail "the example's package lacks its plugin: $listing"
  ok "out-of-tree plugin built against the packaged SDK, packaged as osago-plugin-hello-insurer"
else
  tail -20 "$WORK"/hello-*.log >&2
  fail "the example plugin did not build against the packaged SDK"
fi

((failures == 0)) || { echo "$failures failure(s)" >&2; exit 1; }
echo "all package checks passed"
