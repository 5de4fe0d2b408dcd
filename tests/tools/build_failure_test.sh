#!/usr/bin/env bash
# ./osago's build step on a project that does not compile must say so: a
# "build failed" line naming the whole log, the compiler's error on screen, a
# non-zero exit — not a silent exit from `set -e` inside a pipeline.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/root/packaging/dev" "$WORK/root/.local"
cp "$HERE/packaging/dev/stack.sh" "$WORK/root/packaging/dev/"
cp "$HERE/packaging/build-deps.txt" "$WORK/root/packaging/"
cat >"$WORK/root/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(broken CXX)
add_executable(broken broken.cpp)
CMAKE
echo 'int main() { return this_is_not_declared; }' >"$WORK/root/broken.cpp"

out=$(OSAGO_ROOT="$WORK/root" OSAGO_BUILD_DIR="$WORK/build" bash -c \
  'set -euo pipefail; source "$OSAGO_ROOT/packaging/dev/stack.sh"; build_project; echo "after the build"' 2>&1)
rc=$?
failures=0
check() { if ! eval "$2"; then echo "FAIL: $1" >&2; failures=$((failures + 1)); fi; }
check "a failed build exits non-zero (rc=$rc)" '[ "$rc" -ne 0 ]'
check "nothing runs after a failed build" '! grep -q "after the build" <<<"$out"'
check "it says the build failed and where the whole log is" 'grep -q "build failed.*\.local/build\.log" <<<"$out"'
check "the compiler's error is shown" 'grep -q "this_is_not_declared" <<<"$out"'
check "the whole log is kept" 'grep -q "this_is_not_declared" "$WORK/root/.local/build.log"'
if ((failures)); then
  echo "--- output ---" >&2
  echo "$out" >&2
  exit 1
fi
echo "ok: a failed build says so and keeps its log"
