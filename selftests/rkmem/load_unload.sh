#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Unload removes everything and returns every block; 20 load/use/unload
# cycles leak nothing.
source "$(dirname "$0")/lib.sh"

ktap_print_header
ktap_set_plan 3

# unload_clean: rmmod, then the unload report must account for every block.
unload_clean() {
    kmsg_mark
    rmmod rkmem || return 1
    local line
    line=$(kmsg | grep "rkmem: unload: took")
    read -r taken returned kept < <(sed 's/.*took \([0-9]*\) blocks from the host, returned \([0-9]*\), kept \([0-9]*\)/\1 \2 \3/' <<<"$line")
    [ -n "$line" ] && [ "$taken" = "$returned" ] && [ "$kept" = 0 ] || { echo "# $line"; return 1; }
}

unload_removes_debugfs() {
    knob test "alloc node=$N0 zone=Normal order=0 count=10" >/dev/null || return 1
    unload_clean && [ ! -e "$D" ]
}
check "unload (with pages still held) returns all, removes debugfs" unload_removes_debugfs

cycles_leak_nothing() {
    local before after i
    before=$(mem_free_kb)
    for i in $(seq 20); do
        insmod "$RKMEM_KO" || return 1
        knob test "alloc node=$N0 zone=Normal order=0 count=100" >/dev/null &&
        knob test "alloc node=$NMOV zone=Movable order=3 count=10" >/dev/null &&
        knob test "alloc node=${N1:-$N0} zone=Normal order=10 count=2" >/dev/null &&
        knob test "free count=5" >/dev/null || return 1
        unload_clean || { echo "# cycle $i"; return 1; }
    done
    after=$(mem_free_kb)
    echo "# MemFree kB before $before, after 20 cycles $after"
    # 20 cycles take at least 80 blocks (320 MiB); losing one per cycle shows.
    [ $((before - after)) -lt 16384 ]
}
check "20 load/allocate/unload cycles leak nothing" cycles_leak_nothing

check "reload" insmod "$RKMEM_KO"

ktap_finished
