#!/usr/bin/env bash
# Runs TEST_PROGS of ./Makefile with the kernel's kselftest runner
# ($KDIR/tools/testing/selftests/kselftest/runner.sh). Exits non-zero if any
# test failed.
# (no set -u: the kernel's runner.sh reads unset variables)
HERE=$(cd "$(dirname "$0")" && pwd)
: "${KDIR:?KDIR must name the kernel tree (qemu/run sets it)}"
export BASE_DIR=$KDIR/tools/testing/selftests
export KDIR logfile=/dev/stdout
# shellcheck source=/dev/null
source "$BASE_DIR/kselftest/runner.sh"
# runner.sh looks for "settings" under BASE_DIR only; ours is here.
kselftest_default_timeout=$(sed -n 's/^timeout=//p' "$HERE/settings")
# A long stress run (STRESS_SECS) gets its duration on top of 10 minutes of
# setup and unload checks (kmemleak's scan is slow under TCG).
if [ -n "${STRESS_SECS:-}" ] && [ $((STRESS_SECS + 600)) -gt "$kselftest_default_timeout" ]; then
    kselftest_default_timeout=$((STRESS_SECS + 600))
fi
tests=$(sed -n 's/^TEST_PROGS *:= *//p' "$HERE/Makefile")
[ $# -gt 0 ] && tests="$*"
cd "$HERE"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
run_many $tests | tee "$out"
! grep -q '^not ok ' "$out"
