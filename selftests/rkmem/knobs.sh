#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Every knob rejects bad input with the right errno and changes nothing.
source "$(dirname "$0")/lib.sh"

EINVAL="Invalid argument"
ERANGE="Numerical result out of range"

# A node with memory but no DMA arena (none on one node: those cases go).
NODMA=$(for n in $(nodes_with_memory); do nodes_with DMA | grep -qx "$n" || { echo "$n"; break; }; done)

ktap_print_header
ktap_set_plan 6
reset_rkmem

modes_root_only() {
    local f mode ok=0
    # Files anywhere below (slab/<cache>/ included); directories are 755.
    while read -r f; do
        mode=$(stat -c %a "$f")
        case $mode in 400 | 200 | 600) ;; *) echo "# $f has mode $mode"; ok=1 ;; esac
    done < <(find "$D" -type f)
    return $ok
}
check "debugfs files are root-only" modes_root_only

state() { cat "$D/limit" "$D/zoneinfo" "$D/buddyinfo"; sed -n 's/^held //p' "$D/test"; }
before=$(state)

bad_limit() {
    knob_fails limit "$EINVAL" "node=$N0 zone=Normal" &&
    knob_fails limit "$EINVAL" "node=$N0 zone=Normal blocks=2 extra=1" &&
    knob_fails limit "$EINVAL" "node=$N0 zone=Highmem blocks=1" &&
    { [ -z "$NODMA" ] || knob_fails limit "$EINVAL" "node=$NODMA zone=DMA blocks=1"; } &&
    knob_fails limit "$EINVAL" "node=$N0 zone=Normal blocks=-1" &&
    knob_fails limit "$EINVAL" "node=$N0 zone=Normal blocks=1 node=0" &&
    knob_fails limit "$ERANGE" "node=$N0 zone=Normal blocks=100000" &&
    knob_fails limit "$ERANGE" "node=$BAD_NODE zone=Normal blocks=1"
}
check "limit: malformed -EINVAL, out of range -ERANGE" bad_limit

bad_prefill_shrink() {
    local max
    max=$(sed -n "s/^node=$N0 zone=DMA32 .*max=//p" "$D/limit")
    knob_fails prefill "$EINVAL" "node=$N0 zone=DMA32" &&
    knob_fails prefill "$ERANGE" "node=$N0 zone=DMA32 blocks=$((max + 1))" &&
    knob_fails shrink "$EINVAL" "everything" &&
    knob_fails shrink "$EINVAL" "all node=0" &&
    { [ -z "$NODMA" ] || knob_fails shrink "$EINVAL" "node=$NODMA zone=DMA32"; }
}
check "prefill and shrink: bad input rejected" bad_prefill_shrink

bad_test_cmds() {
    knob_fails test "$EINVAL" "frob" &&
    knob_fails test "$EINVAL" "alloc node=$N0 zone=Normal order=0" &&
    knob_fails test "$EINVAL" "alloc node=$N0 zone=Normal order=0 count=1 bogus" &&
    knob_fails test "$ERANGE" "alloc node=$N0 zone=Normal order=11 count=1" &&
    knob_fails test "$ERANGE" "alloc node=$BAD_NODE zone=Normal order=0 count=1" &&
    knob_fails test "$ERANGE" "free count=5" &&
    knob_fails test "$EINVAL" "badfree"
}
check "test: bad commands rejected" bad_test_cmds

unchanged() { diff <(echo "$before") <(state) | sed 's/^/# /'; [ "${PIPESTATUS[0]}" = 0 ]; }
check "refused writes changed nothing" unchanged

good_writes() {
    knob limit "node=$N0 zone=Normal blocks=3" >/dev/null &&
    grep -q "^node=$N0 zone=Normal blocks=3 " "$D/limit" &&
    knob_fails prefill "$ERANGE" "node=$N0 zone=Normal blocks=4" &&
    knob prefill "node=$N0 zone=Normal blocks=2" >/dev/null &&
    [ "$(zinfo 0 Normal blocks)" = 2 ] &&
    knob shrink "node=$N0 zone=Normal" >/dev/null &&
    [ "$(zinfo 0 Normal blocks)" = 0 ]
}
check "valid limit, prefill and shrink writes take effect" good_writes
reset_rkmem

ktap_finished
