#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Memory hotplug: rkmem's blocks in ZONE_MOVABLE do not pin it. Offlining a
# memory block where rkmem has pages in use is refused at once (EBUSY, one
# message, counted) instead of spinning; once they are freed the offline
# succeeds and the blocks go back to the host; onlined again (online_movable)
# rkmem takes blocks there again, and with only free blocks of rkmem's there
# the offline succeeds directly. Skipped on kernels without memory hot-remove
# (the perf kernel) or without an online Movable memory block, unless
# RKMEM_REQUIRE_HOTPLUG=1: tools/check boots a VM with movablecore=1536M for
# this test, where a missing offlinable block is a failure.
source "$(dirname "$0")/lib.sh"

MEM=/sys/devices/system/memory
# An offline must be refused well before this (seconds; TCG is slow).
REFUSE_SECS=30

ktap_print_header
skip_all() {
    if [ "${RKMEM_REQUIRE_HOTPLUG:-0}" = 1 ]; then
        ktap_set_plan 1
        ktap_test_fail "required, but: $*"
        ktap_finished
    fi
    ktap_skip_all "$*"
    exit "$KSFT_SKIP"
}
grep -qx 'CONFIG_MEMORY_HOTREMOVE=y' "$KDIR/.config" 2>/dev/null ||
    skip_all "the kernel has no CONFIG_MEMORY_HOTREMOVE"
[ -r "$MEM/block_size_bytes" ] || skip_all "no $MEM"
PPB=$(($(printf '%d' "0x$(cat "$MEM/block_size_bytes")") / $(getconf PAGESIZE)))

# movable_blocks NODE: online memory blocks of NODE in ZONE_MOVABLE.
movable_blocks() {
    local m
    for m in "$MEM"/memory[0-9]*; do
        [ -e "$m/node$1" ] && [ "$(cat "$m/state")" = online ] &&
            [ "$(cat "$m/valid_zones")" = Movable ] && echo "${m##*memory}"
    done
}
reset_rkmem
# An offlinable block: one wholly in ZONE_MOVABLE (not straddling the zone
# boundary: valid_zones "none") without boot-time reserved allocations (the
# top of each node holds memblock allocations, which the host's isolation
# refuses with EBUSY before any notifier runs). Probed by taking it offline
# while rkmem holds nothing there, then online_movable again.
NODE= MB=
for n in $(arenas | awk '$2 == "Movable" { print $1 }'); do
    for m in $(movable_blocks "$n"); do
        if timeout 120 bash -c "echo offline > $MEM/memory$m/state" 2>/dev/null; then
            echo online_movable > "$MEM/memory$m/state" || break 2
            NODE=$n MB=$m
            break 2
        fi
        echo "# memory$m (node $n, Movable) cannot go offline"
    done
done
[ -n "$NODE" ] || skip_all "no offlinable Movable memory block on a node with a Movable arena"
echo "# memory$MB (node $NODE, Movable) can go offline and online again"

ktap_set_plan 4

# Memory blocks this test took offline are put back online on any exit.
OFFLINED=()
restore() {
    local m
    for m in "${OFFLINED[@]}"; do
        [ "$(cat "$MEM/memory$m/state")" = offline ] &&
            echo online_movable > "$MEM/memory$m/state"
    done
}
trap restore EXIT

# set_state M WORD: write WORD to memoryM/state, bounded in time; prints
# "STATUS SECONDS ERROR-TEXT".
set_state() {
    local t0 out status
    t0=$(date +%s)
    out=$(timeout 120 bash -c "echo $2 > $MEM/memory$1/state" 2>&1)
    status=$?
    echo "$status $(($(date +%s) - t0)) ${out##*write error: }"
}
state() { cat "$MEM/memory$1/state"; }
# rk_pfns NODE ZONE: base pfns of the blocks rkmem holds there.
rk_pfns() { sed -n "s/^node=$1 zone=$2 pfn=\([0-9]*\) .*/\1/p" "$D/blocks"; }
# rk_in M: blocks rkmem holds in memory block M.
rk_in() {
    awk -v lo=$(($1 * PPB)) -v hi=$((($1 + 1) * PPB)) -F'[ =]' \
        '$6 >= lo && $6 < hi { n++ } END { print n + 0 }' "$D/blocks"
}
# refused: the offline_refused counter of zoneinfo's rkmem section.
refused() { awk '$1 == "offline_refused" { print $2 }' "$D/zoneinfo"; }
range_of() { printf '%#x-%#x' $(($1 * PPB)) $((($1 + 1) * PPB - 1)); }

# take_block_in_mb: takes Movable blocks on $NODE until one lands in memory
# block $MB (the host hands out freshly onlined pages last). The newest
# block heads the buddy's lists, so the next allocation is served from it.
take_block_in_mb() {
    local i max
    max=$(sed -n "s/^node=$NODE zone=Movable .* max=//p" "$D/limit")
    for ((i = 0; i < max; i++)); do
        [ "$(rk_in $MB)" -gt 0 ] && break
        knob prefill "node=$NODE zone=Movable blocks=1" >/dev/null || break
    done
    echo "# after $i blocks taken, rkmem holds $(rk_in $MB) in memory$MB"
    [ "$(rk_in $MB)" = 1 ]
}

refused_while_in_use() {
    local r0 s t err
    take_block_in_mb || return 1
    knob test "alloc node=$NODE zone=Movable order=0 count=1" >/dev/null || return 1
    echo "# rkmem's blocks in memory$MB: $(awk -v lo=$((MB * PPB)) -v hi=$(((MB + 1) * PPB)) -F'[ =]' '$6 >= lo && $6 < hi' "$D/blocks" | tr '\n' ' ')"
    [ "$(landed "$NODE" Movable)" = 1 ] && [ "$(rk_in $MB)" = 1 ] || return 1
    r0=$(refused)
    kmsg_mark
    read -r s t err < <(set_state $MB offline)
    echo "# offline of memory$MB with a page in use: status $s after $t s: $err"
    kmsg | grep "rkmem: refusing offline" | sed 's/^/# /'
    [ "$s" != 0 ] && [ "$s" != 124 ] && [ "$err" = "Device or resource busy" ] &&
        [ "$t" -le "$REFUSE_SECS" ] && [ "$(state $MB)" = online ] &&
        [ "$(rk_in $MB)" = 1 ] && [ "$(refused)" = $((r0 + 1)) ] &&
        [ "$(kmsg | grep -c "rkmem: refusing offline of pfn range $(range_of $MB): 1 blocks in use")" = 1 ]
}
check "offline with an rkmem page in use: refused at once (EBUSY), one message, counted" refused_while_in_use

offline_after_free() {
    local ret0 shr0 s t err
    ret0=$(zinfo "$NODE" Movable offline_returned)
    shr0=$(zinfo "$NODE" Movable shrinks)
    knob test free >/dev/null
    kmsg_mark
    read -r s t err < <(set_state $MB offline)
    OFFLINED+=("$MB")
    echo "# offline of memory$MB after the free: status $s after $t s $err"
    kmsg | grep "rkmem: offline of pfn range" | sed 's/^/# /'
    echo "# node $NODE Movable: $(zinfo "$NODE" Movable blocks) blocks, offline_returned $ret0 -> $(zinfo "$NODE" Movable offline_returned), shrinks $shr0 -> $(zinfo "$NODE" Movable shrinks)"
    [ "$s" = 0 ] && [ "$(state $MB)" = offline ] && [ "$(rk_in $MB)" = 0 ] &&
        [ "$(zinfo "$NODE" Movable offline_returned)" = $((ret0 + 1)) ] &&
        [ "$(zinfo "$NODE" Movable shrinks)" = $((shr0 + 1)) ] &&
        kmsg | grep -q "rkmem: offline of pfn range $(range_of $MB): gave back 1 free blocks"
}
check "the page freed: the offline succeeds, the block went back to the host" offline_after_free

online_again_free_blocks_go() {
    local s t err n ret0
    knob shrink all >/dev/null
    read -r s t err < <(set_state $MB online_movable)
    echo "# online_movable memory$MB: status $s $err; now $(state $MB), $(cat "$MEM/memory$MB/valid_zones")"
    [ "$s" = 0 ] && [ "$(state $MB)" = online ] || return 1
    take_block_in_mb || return 1
    n=$(rk_in $MB)
    ret0=$(zinfo "$NODE" Movable offline_returned)
    read -r s t err < <(set_state $MB offline)
    echo "# offline of memory$MB with $n free rkmem blocks: status $s after $t s $err"
    [ "$s" = 0 ] && [ "$(state $MB)" = offline ] && [ "$(rk_in $MB)" = 0 ] &&
        [ "$(zinfo "$NODE" Movable offline_returned)" = $((ret0 + n)) ] || return 1
    read -r s t err < <(set_state $MB online_movable)
    [ "$s" = 0 ] && [ "$(state $MB)" = online ]
}
check "online again: rkmem takes blocks there; with only free blocks there the offline succeeds" online_again_free_blocks_go

accounting() {
    reset_rkmem
    echo "# blocks taken $(zsum grows), returned $(zsum shrinks), held $(zsum blocks)"
    [ "$(zsum grows)" = "$(zsum shrinks)" ] && [ "$(zsum blocks)" = 0 ] &&
        knob test verify >/dev/null && no_splat
}
check "every block taken went back; buddy invariants hold; no splat" accounting

ktap_finished
