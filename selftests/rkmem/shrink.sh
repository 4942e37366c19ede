#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Free blocks go back to the host: on the shrink knob, through the host's
# shrinker, and under real memory pressure.
source "$(dirname "$0")/lib.sh"

ktap_print_header
ktap_set_plan 4
reset_rkmem

shrink_knob_returns_memory() {
    local m0 m1 m2
    m0=$(mem_free_kb)
    knob prefill "node=$N0 zone=DMA32 blocks=32" >/dev/null || return 1
    m1=$(mem_free_kb)
    knob shrink all >/dev/null
    m2=$(mem_free_kb)
    echo "# MemFree kB: $m0 -> prefill 128 MiB -> $m1 -> shrink -> $m2"
    [ $((m0 - m1)) -ge 120000 ] && [ $((m2 - m1)) -ge 120000 ] && [ "$(zinfo "$N0" DMA32 blocks)" = 0 ]
}
check "shrink knob gives blocks back (host free pages go up)" shrink_knob_returns_memory

only_whole_blocks_go() {
    knob test "alloc node=$N0 zone=DMA32 order=0 count=1" >/dev/null &&
    knob prefill "node=$N0 zone=DMA32 blocks=3" >/dev/null &&
    knob shrink all >/dev/null &&
    [ "$(zinfo "$N0" DMA32 blocks)" = 1 ] && [ "$(landed "$N0" DMA32)" = 1 ]
}
check "a block with a live page is kept" only_whole_blocks_go
knob test free >/dev/null

host_shrinker_scan() {
    local dir n=${N1:-$N0}
    dir=$(ls -d /sys/kernel/debug/shrinker/rkmem-* 2>/dev/null | head -1)
    [ -n "$dir" ] || { echo "# no rkmem shrinker in /sys/kernel/debug/shrinker"; return 1; }
    knob shrink all >/dev/null
    knob prefill "node=$n zone=Normal blocks=16" >/dev/null || return 1
    echo "# count: $(cat "$dir/count")"
    # count lists per node: "<memcg> <node0> <node1>..."; node N1 (N0 on
    # one node) holds 16 blocks.
    [ "$(awk -v n="$n" '{ print $(n + 2) }' "$dir/count")" = $((16 * 1024)) ] || return 1
    echo "0 $n 4096" > "$dir/scan" || return 1
    echo "# node $n Normal blocks after scanning 4096 pages: $(zinfo "$n" Normal blocks)"
    [ "$(zinfo "$n" Normal blocks)" = 12 ]
}
check "host shrinker (debugfs scan) gives back blocks of that node" host_shrinker_scan
reset_rkmem

memory_pressure() {
    local held free target over out n=${N1:-$N0} blocks=256 max
    # 1 GiB, or a third of the arena if that is less (1 GiB of Normal on one node).
    max=$(sed -n "s/^node=$n zone=Normal .*max=//p" "$D/limit")
    [ $((max / 3)) -ge $blocks ] || blocks=$((max / 3))
    knob prefill "node=$n zone=Normal blocks=$blocks" >/dev/null || return 1
    free=$(mem_free_kb)
    # Ask for more than is free: the host must reclaim rkmem's free blocks.
    # Beyond free, half of what rkmem holds, at most 400 MiB: on a small
    # VM (one node of 3 GiB) more than that is not there to reclaim and
    # the host's OOM killer ends the program.
    over=$((blocks * 4 * 1024 / 2))
    [ "$over" -le $((400 * 1024)) ] || over=$((400 * 1024))
    target=$((free + over))
    echo "# rkmem holds $((blocks * 4)) MiB free; MemFree $free kB; a program takes $target kB"
    out=$(python3 -c '
import sys
target, chunk, held = int(sys.argv[1]) * 1024, 32 << 20, []
while sum(map(len, held)) < target:
    held.append(bytearray(b"\x01") * chunk)
print("done", sum(map(len, held)) >> 20, "MiB")
' "$target" 2>&1)
    echo "# program: $out; rkmem node $n Normal now holds $(zinfo "$n" Normal blocks) blocks, $(zinfo "$n" Normal shrinks) given back"
    [[ $out == done* ]] && [ "$(zinfo "$n" Normal blocks)" -lt "$blocks" ] &&
    [ "$(zinfo "$n" Normal shrinks)" -ge $((blocks * 100 / 256)) ]
}
check "under host memory pressure the shrinker gives memory back" memory_pressure
reset_rkmem

ktap_finished
