#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's exported C API, used by a real client module; unload with live
# pages keeps their blocks from the host and says so.
source "$(dirname "$0")/lib.sh"
CLIENT=$(dirname "$RKMEM_KO")/selftests/rkmem/client/rkmem_client.ko

ktap_print_header
ktap_set_plan 6
reset_rkmem

client_checks_pass() {
    kmsg_mark
    insmod "$CLIENT" || { kmsg | grep rkmem_client | sed 's/^/# /'; return 1; }
    kmsg | grep -q "rkmem_client: 0 checks failed"
}
check "a C module links against the API; placement and atomic checks pass" client_checks_pass

in_use() { ! rmmod rkmem 2>/dev/null && [ -d "$D" ]; }
check "rkmem cannot be unloaded while a client is linked" in_use
rmmod rkmem_client

concurrent_stress() {
    # Both CPUs allocate and free at once while the shell keeps shrinking.
    local bad_before
    bad_before=$(zsum bad_frees)
    kmsg_mark
    touch /tmp/rkmem-stress
    ( while [ -e /tmp/rkmem-stress ]; do echo all > "$D/shrink"; done ) &
    insmod "$CLIENT" stress=20000
    local status=$?
    rm -f /tmp/rkmem-stress
    wait
    kmsg | grep rkmem_client | sed 's/^/# /'
    [ $status = 0 ] && rmmod rkmem_client && knob test verify >/dev/null &&
    kmsg | grep -q "rkmem_client: stress: [0-9]* allocations on $NCPUS CPUs, 0 broken tags" &&
    [ "$(zsum bad_frees)" = "$bad_before" ]
}
check "concurrent alloc/free on every CPU with shrinks: no page given twice" concurrent_stress

irq_stress() {
    # Per CPU: a hard-irq hrtimer allocating and freeing GFP_ATOMIC pages
    # (orders 0..3, through the per-CPU lists) every 50 us, interrupting a
    # kthread that allocates and frees at random and hands some pages to the
    # other CPU's kthread to free there.
    local bad_before remote_before status
    bad_before=$(zsum bad_frees) remote_before=$(psum remote_frees)
    kmsg_mark
    insmod "$CLIENT" irqstress=20000
    status=$?
    kmsg | grep rkmem_client | sed 's/^/# /'
    echo "# remote_frees +$(($(psum remote_frees) - remote_before))"
    [ $status = 0 ] && rmmod rkmem_client && irqstress_clean "$bad_before" || return 1
    # remote_frees counts frees of another node's pages: only where the
    # other CPU is on another node (not on one node).
    if [ -n "$N1" ] && [ -n "$C1" ] && [ "$(cpu_node "$C1")" = "$N1" ]; then
        [ "$(psum remote_frees)" -gt "$remote_before" ]
    fi
}
check "hard-irq allocations and remote frees on every CPU: no page given twice" irq_stress

leaky_client_unload() {
    kmsg_mark
    insmod "$CLIENT" leak=1 && rmmod rkmem_client && rmmod rkmem || return 1
    kmsg | grep "rkmem: unload" | sed 's/^/# /'
    kmsg | grep -q "rkmem: unload with 8 pages still allocated: keeping their 1 blocks" &&
    kmsg | grep -q "rkmem: unload: took [0-9]* blocks from the host, returned [0-9]*, kept 1"
}
check "unload with live pages keeps their block and reports counts" leaky_client_unload

check "reload" insmod "$RKMEM_KO"

ktap_finished
