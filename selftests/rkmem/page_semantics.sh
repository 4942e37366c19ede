#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem_alloc_pages() with alloc_pages_node's page semantics, through the
# client module: __GFP_ZERO, reference counts, __GFP_COMP, refused double
# frees, invalid nodes, __GFP_THISNODE, __GFP_NOFAIL past the limit, one
# rate-limited warning per failure burst, GFP_NOFS growth without fs reclaim,
# and GFP_KERNEL falling back only to blocks already held in DMA32/DMA.
source "$(dirname "$0")/lib.sh"
CLIENT=$(dirname "$RKMEM_KO")/selftests/rkmem/client/rkmem_client.ko

ktap_print_header
ktap_set_plan 9

# client PARAM...: load the client (bound to CPU $CLIENT_CPU if set), show
# its lines, unload it; fails unless it loaded with "0 checks failed".
client() {
    load_client "$CLIENT" "rkmem_client|rkmem: (page allocation failure|invalid node|refused free)" "$@" ||
        return 1
    rmmod rkmem_client || return 1
    kmsg | grep -q "rkmem_client: 0 checks failed"
}

# A new 5 s rate-limit window for rkmem's warnings.
new_window() { sleep 6; }

fresh_rkmem() {
    if grep -q '^rkmem_client ' /proc/modules; then rmmod rkmem_client || return 1; fi
    rmmod rkmem && insmod "$RKMEM_KO" && [ -d "$D" ]
}
check "fresh rkmem (each kind of refused free is reported once per load)" fresh_rkmem
reset_rkmem

semantics() {
    local before after want
    before=$(zsum bad_frees)
    client semantics=1 || return 1
    after=$(zsum bad_frees)
    want=$(kmsg | sed -n 's/.*rkmem_client: semantics: \([0-9]*\) deliberate double frees.*/\1/p')
    echo "# bad_frees +$((after - before)); deliberate double frees: ${want:-?}"
    [ -n "$want" ] && [ "$want" -gt 0 ] && [ $((after - before)) = "$want" ] || return 1
    kmsg | grep -q "rkmem: refused free" || { echo "# no 'refused free' report"; return 1; }
    no_splat && knob test verify >/dev/null
}
check "zeroing, page counts, compound pages, get_page, double frees, nodes, NOFAIL" semantics
reset_rkmem

invalid_node_warns_once() {
    new_window
    client badnid=30 || return 1
    echo "# 'invalid node' lines: $(kmsg | grep -c "rkmem: invalid node")"
    [ "$(kmsg | grep -c "rkmem: invalid node")" = 1 ] && kmsg | grep -q "rkmem: invalid node 999" &&
    kmsg | grep -q "rkmem_client: badnid: 30 of 30 returned NULL"
}
check "invalid node ids: NULL and one rate-limited 'invalid node' warning" invalid_node_warns_once

# The client's failnode: N1 (N0 on one node), its Normal arena capped with
# no free block and no growth.
FN=${N1:-$N0}
cap_node1() {
    reset_rkmem
    knob limit "node=$FN zone=Normal blocks=$(zinfo "$FN" Normal blocks)" >/dev/null
}

failure_warns_once() {
    local f0 n
    cap_node1 || return 1
    f0=$(zinfo "$FN" Normal alloc_failures)
    new_window
    client failnode="$FN" failburst=20 || return 1
    n=$(kmsg | grep -c "rkmem: page allocation failure")
    echo "# 'page allocation failure' lines: $n; node $FN Normal alloc_failures +$(($(zinfo "$FN" Normal alloc_failures) - f0))"
    [ "$n" = 1 ] &&
    kmsg | grep -Eq "rkmem: page allocation failure: order:10, mode:0x[0-9a-f]+\(GFP_KERNEL\|__GFP_THISNODE\), nid=$FN" &&
    kmsg | grep -q "rkmem_client: failburst: 20 of 20 failed" &&
    [ $(($(zinfo "$FN" Normal alloc_failures) - f0)) = 20 ]
}
check "a burst of 20 failures logs one 'page allocation failure' line" failure_warns_once

nowarn_is_silent() {
    cap_node1 || return 1
    new_window
    client failnode="$FN" failburst_nowarn=20 || return 1
    [ "$(kmsg | grep -c "rkmem: page allocation failure")" = 0 ] &&
    kmsg | grep -q "rkmem_client: failburst_nowarn: 20 of 20 failed"
}
check "__GFP_NOWARN failures log nothing" nowarn_is_silent

nofail_past_the_limit() {
    local g0
    cap_node1 || return 1
    g0=$(zinfo "$FN" Normal grows)
    client failnode="$FN" nofail=16 || return 1
    echo "# node $FN Normal: limit $(zinfo "$FN" Normal limit), blocks $(zinfo "$FN" Normal blocks), grows +$(($(zinfo "$FN" Normal grows) - g0))"
    kmsg | grep -q "rkmem_client: nofail: 16 of 16 allocated, 16 on node $FN" &&
    [ "$(zinfo "$FN" Normal grows)" -gt "$g0" ]
}
check "__GFP_NOFAIL|__GFP_THISNODE on a capped arena grows past the limit" nofail_past_the_limit
reset_rkmem

nofs_growth() {
    local g0 g1
    knob shrink all >/dev/null || return 1
    g0=$(zsum grows)
    # nofs_mutex is known to lockdep as taken inside fs reclaim; the client
    # holds it across order-10 GFP_NOFS allocations that must grow.
    client nofs=1 || return 1
    g1=$(zsum grows)
    echo "# grows: $g0 -> $g1"
    no_splat && [ "$g1" -ge $((g0 + 4)) ]
}
check "GFP_NOFS growth does not enter fs reclaim (lockdep)" nofs_growth
reset_rkmem

# One DMA32 block held on node N0 (the client's capped_kernel allocates on
# node 0); every Normal arena capped at what it holds.
cap_normal() {
    local n
    reset_rkmem
    knob prefill "node=$N0 zone=DMA32 blocks=1" >/dev/null || return 1
    for n in $(nodes_with Normal); do
        knob limit "node=$n zone=Normal blocks=$(zinfo "$n" Normal blocks)" >/dev/null || return 1
    done
}
grows_state() {
    local n
    echo "DMA $(zinfo "$N0" DMA grows) DMA32 $(zinfo "$N0" DMA32 grows) Normal" \
        $(for n in $(nodes_with Normal); do zinfo "$n" Normal grows; done)
}

capped_kernel_client() {
    local g0 line got dma dma32 normal other
    cap_normal || return 1
    g0=$(grows_state)
    CLIENT_CPU=$C0 client capped_kernel=1100 || return 1
    line=$(kmsg | grep "rkmem_client: capped_kernel:")
    read -r got dma dma32 normal other < <(sed 's/.*capped_kernel: \([0-9]*\) of [0-9]* allocated: dma=\([0-9]*\) dma32=\([0-9]*\) normal=\([0-9]*\) movable=[0-9]* other_node=\([0-9]*\).*/\1 \2 \3 \4 \5/' <<<"$line")
    echo "# grows before: $g0; after: $(grows_state)"
    [ "$(grows_state)" = "$g0" ] && [ "$got" = 1024 ] && [ "$dma32" = 1024 ] &&
    [ "$dma" = 0 ] && [ "$normal" = 0 ] && [ "$other" = 0 ]
}
check "GFP_KERNEL with Normal capped: only the held DMA32 block serves, no growth" capped_kernel_client
reset_rkmem

capped_kernel_knob() {
    local g0 err
    cap_normal || return 1
    g0=$(grows_state)
    on_cpu "$C0" knob test "alloc node=$N0 zone=Normal order=0 count=1024" >/dev/null || { echo "# 1024 pages: failed"; return 1; }
    err=$(on_cpu "$C0" knob test "alloc node=$N0 zone=Normal order=0 count=1") && { echo "# page 1025 allocated"; return 1; }
    echo "# landed in node $N0 DMA32: $(landed "$N0" DMA32); page 1025: '$err'; grows before: $g0; after: $(grows_state)"
    [ "$err" = "Cannot allocate memory" ] && [ "$(landed "$N0" DMA32)" = 1024 ] && [ "$(grows_state)" = "$g0" ]
}
check "test knob on capped node N0 Normal: the held DMA32 block, then ENOMEM" capped_kernel_knob
knob test free >/dev/null
reset_rkmem

ktap_finished
