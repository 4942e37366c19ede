#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's buddy allocator: placement per (node, zone), split and merge,
# zonelist fallback, refused bad frees, atomic growth.
source "$(dirname "$0")/lib.sh"

ktap_print_header
ktap_set_plan 9
reset_rkmem

lands_where_asked() {
    local n z ok=0 got
    while read -r n z; do
        knob test "alloc node=$n zone=$z order=0 count=64 thisnode" >/dev/null || { echo "# alloc $n $z failed"; ok=1; continue; }
        got=$(landed "$n" "$z")
        if [ "$got" != 64 ]; then echo "# node $n zone $z: $got of 64 landed there"; cat "$D/test"; ok=1; fi
        knob test free >/dev/null
    done < <(arenas)
    return $ok
}
check "allocations from every (node, zone) land there" lands_where_asked

whole_blocks_only() { # every arena's buddyinfo: all free memory in order-10 blocks
    awk '{ for (i = 5; i < NF; i++) if ($i != 0) bad = 1 } END { exit bad }' "$D/buddyinfo"
}

split_merge() {
    knob shrink all >/dev/null
    knob test "alloc node=$N0 zone=Normal order=0 count=300" >/dev/null &&
    knob test "alloc node=$N0 zone=Normal order=3 count=40" >/dev/null &&
    knob test "alloc node=$N0 zone=Normal order=9 count=3" >/dev/null &&
    knob test "alloc node=$N0 zone=Normal order=1 count=77" >/dev/null || return 1
    ! whole_blocks_only || { echo "# nothing was split?"; return 1; }
    knob test verify >/dev/null || return 1
    knob test free >/dev/null
    # freed order 0..3 chunks sit on per-CPU lists until drained
    knob drain all >/dev/null || return 1
    whole_blocks_only || { cat "$D/buddyinfo"; return 1; }
    local free blocks
    free=$(zinfo "$N0" Normal free_pages) blocks=$(zinfo "$N0" Normal blocks)
    [ "$free" = $((blocks * 1024)) ] || { echo "# free $free, blocks $blocks"; return 1; }
    knob test verify >/dev/null
}
check "split then merge restores whole blocks" split_merge

buddyinfo_restored() {
    knob shrink all >/dev/null
    local start
    start=$(cat "$D/buddyinfo")
    knob test "alloc node=${N1:-$N0} zone=Normal order=2 count=500" >/dev/null || return 1
    knob test free >/dev/null
    knob shrink all >/dev/null
    [ "$start" = "$(cat "$D/buddyinfo")" ] || { echo "# buddyinfo differs"; cat "$D/buddyinfo"; return 1; }
}
check "buddyinfo back to the start state after freeing everything" buddyinfo_restored

fallback_order() {
    # GFP_KERNEL-style requests fall back to DMA32 only into blocks it
    # already holds (no growth there): give it one. Every Normal arena is
    # capped at one block: N1's first, then the other nodes' Normal (in
    # zonelist order), then N0's DMA32.
    local n normals=0 ok=0 got missing=0 others
    knob prefill "node=$N0 zone=DMA32 blocks=1" >/dev/null || return 1
    for n in $(nodes_with Normal); do
        knob limit "node=$n zone=Normal blocks=1" >/dev/null || return 1
        normals=$((normals + 1))
    done
    knob test "alloc node=$N1 zone=Normal order=10 count=$((normals + 1))" >/dev/null || return 1
    for n in $(nodes_with Normal); do
        got=$(landed "$n" Normal)
        echo "# landed on node $n Normal: $got"
        [ "$got" = 1 ] || ok=1
        [ "$n" = "$N1" ] || grep -q "fallback_to      node=$n zone=Normal 1" "$D/zoneinfo" ||
            missing=$((missing + 1))
    done
    echo "# landed on node $N0 DMA32: $(landed "$N0" DMA32)"
    [ "$(landed "$N0" DMA32)" = 1 ] || ok=1
    grep -q "fallback_to      node=$N0 zone=DMA32 1" "$D/zoneinfo" || missing=$((missing + 1))
    # An arena names its first 8 fallback targets, the rest count as
    # "others": with 8 targets or fewer every one has its line.
    others=$(awk '$1 == "fallback_to" && $2 == "others" { n += $3 } END { print n + 0 }' "$D/zoneinfo")
    echo "# $normals fallback targets: $missing without a line of their own, others $others"
    if [ "$normals" -le 8 ]; then
        [ "$missing" = 0 ] && [ "$others" = 0 ] || ok=1
    else
        [ "$missing" = $((normals - 8)) ] && [ "$others" = "$missing" ] || ok=1
    fi
    return $ok
}
check_if n1 "capped node falls back: the other nodes' Normal, then DMA32" fallback_order
knob test free >/dev/null

thisnode_never_falls_back() {
    # node N1 Normal is capped at one block: a second order-10 chunk must fail.
    local err
    err=$(knob test "alloc node=$N1 zone=Normal order=10 count=2 thisnode") && return 1
    [ "$err" = "Cannot allocate memory" ] || { echo "# got '$err'"; return 1; }
    [ "$(landed "$N1" Normal)" = 1 ] && [ "$(landed "$N0" Normal)" = 0 ] &&
    [ "$(zinfo "$N1" Normal alloc_failures)" -ge 1 ]
}
check_if n1 "thisnode requests never leave the node" thisnode_never_falls_back
knob test free >/dev/null
reset_rkmem

movable_only_when_asked() {
    knob test "alloc node=$NMOV zone=Normal order=10 count=4" >/dev/null || return 1
    [ "$(landed "$NMOV" Movable)" = 0 ] || return 1
    knob test free >/dev/null
    knob test "alloc node=$NMOV zone=Movable order=0 count=8" >/dev/null &&
    [ "$(landed "$NMOV" Movable)" = 8 ]
}
check_if movable "Movable is used only when asked for" movable_only_when_asked
knob test free >/dev/null

bad_frees() {
    local before_bad
    kmsg_mark
    knob test "alloc node=$N0 zone=Normal order=2 count=2" >/dev/null || return 1
    before_bad=$(zinfo "$N0" Normal bad_frees)
    local bi
    bi=$(cat "$D/buddyinfo")
    knob test badfree >/dev/null || return 1
    # badfree freed one order-2 chunk properly (onto a per-CPU list), then
    # the three bad frees.
    [ "$(zinfo "$N0" Normal bad_frees)" = $((before_bad + 2)) ] || { echo "# bad_frees $(zinfo "$N0" Normal bad_frees)"; return 1; }
    grep -Eq "^  unowned_frees +[1-9]" "$D/zoneinfo" || return 1
    kmsg | grep -q "rkmem: refused free of pfn" || { echo "# no report in dmesg"; return 1; }
    knob test verify >/dev/null
}
check "double free, wrong order, unowned page: refused and reported" bad_frees
knob test free >/dev/null

atomic_growth() {
    knob shrink all >/dev/null
    # Grows with GFP_NOWAIT inside a preempt-disabled section: a sleep would
    # be reported by DEBUG_ATOMIC_SLEEP and fail the run.
    knob test "alloc node=${N1:-$N0} zone=Normal order=0 count=200 atomic" >/dev/null &&
    [ "$(landed "${N1:-$N0}" Normal)" = 200 ] && [ "$(zinfo "${N1:-$N0}" Normal grows)" -ge 1 ]
}
check "atomic allocations grow without sleeping" atomic_growth
reset_rkmem

zone_mismatch_detected() {
    # Take node N0's Normal zone dry of whole blocks: the host then serves a
    # Normal|THISNODE request from DMA32 (its zonelist), which rkmem must
    # notice, give back at once and count, and prefill reports -ENOMEM.
    local max m0 m1 held err
    max=$(sed -n "s/^node=$N0 zone=Normal .*max=//p" "$D/limit")
    m0=$(mem_free_kb)
    err=$(knob prefill "node=$N0 zone=Normal blocks=$max") && { echo "# the whole zone was free?"; return 1; }
    m1=$(mem_free_kb)
    held=$(zinfo "$N0" Normal blocks)
    echo "# prefill: '$err'; held $held of $max blocks; mismatches $(zinfo "$N0" Normal zone_mismatches); MemFree -$(( (m0 - m1) / 1024 )) MiB"
    [ "$err" = "Cannot allocate memory" ] && [ "$(zinfo "$N0" Normal zone_mismatches)" -ge 1 ] &&
    [ "$(zinfo "$N0" DMA32 blocks)" = 0 ] &&
    # nothing beyond the held blocks left the host (20 MiB of slack for noise)
    [ $(( (m0 - m1) / 1024 )) -le $(( held * 4 + 20 )) ]
}
check "a block from the wrong zone is detected, returned and counted" zone_mismatch_detected
reset_rkmem

ktap_finished
