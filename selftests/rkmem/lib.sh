# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the rkmem kselftests (sourced).
: "${KDIR:?KDIR must name the kernel tree}"
# shellcheck source=/dev/null
source "$KDIR/tools/testing/selftests/kselftest/ktap_helpers.sh"

D=/sys/kernel/debug/rkmem
RKMEM_KO=${RKMEM_KO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/rkmem.ko}

# knob FILE WORDS...: write one line to a knob; prints the error text, if any.
knob() {
    local file=$1; shift
    { printf '%s\n' "$*" > "$D/$file"; } 2>&1 | sed 's/.*write error: //'
    return "${PIPESTATUS[0]}"
}

# knob_fails FILE "Error text" WORDS...: the write must fail with that error.
knob_fails() {
    local file=$1 want=$2 got; shift 2
    got=$(knob "$file" "$@") && { echo "# write '$*' to $file succeeded"; return 1; }
    [ "$got" = "$want" ] || { echo "# write '$*' to $file: got '$got', wanted '$want'"; return 1; }
}

# zinfo NODE ZONE KEY: one number from rkmem's zoneinfo.
zinfo() {
    awk -v hdr="Node $1, zone" -v zone="$2" -v key="$3" '
        $0 ~ "^" hdr { in_zone = ($NF == zone); next }
        /^Node / { in_zone = 0 }
        in_zone && $1 == key { print $2; exit }' "$D/zoneinfo"
}

# landed NODE ZONE: how many held test chunks the host places there.
landed() {
    sed -n "s/^landed node=$1 zone=$2 count=//p" "$D/test" | grep . || echo 0
}

# arenas: "node zone" lines of every arena.
arenas() { sed -n 's/^node=\([0-9]*\) zone=\([A-Za-z0-9]*\) .*/\1 \2/p' "$D/topology"; }

# mem_free_kb: the host's free memory.
mem_free_kb() { awk '/^MemFree:/ { print $2 }' /proc/meminfo; }

# reset: nothing held, every block back to the host, limits at their maximum.
reset_rkmem() {
    knob test free >/dev/null
    while read -r n z _ _ max; do
        knob limit "node=$n zone=$z blocks=${max#max=}" >/dev/null
    done < <(sed 's/node=\([0-9]*\) zone=\([A-Za-z0-9]*\) blocks=\([0-9]*\) held=\([0-9]*\)/\1 \2 \3 \4/' "$D/limit")
    knob shrink all >/dev/null
}

# check DESCRIPTION COMMAND [WORD...]: one KTAP result. ktap_test_result
# word-splits its arguments: pass a function and simple words only.
check() { local d=$1; shift; ktap_test_result "$d" "$@"; }
