#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# init_on_alloc=1 init_on_free=1 (kernel command line): rkmem zeroes pages
# when they are freed and when they are handed out, as the host does. Run in
# a VM booted with both (tools/check does, with RKMEM_REQUIRE_INIT_ON=1, so
# a missing boot option fails instead of skipping); skipped otherwise.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slab_lib.sh"
CLIENT=$(dirname "$RKMEM_KO")/selftests/rkmem/client/rkmem_client.ko

ktap_print_header
ktap_set_plan 3
if ! grep -qw init_on_alloc=1 /proc/cmdline || ! grep -qw init_on_free=1 /proc/cmdline; then
    if [ "${RKMEM_REQUIRE_INIT_ON:-0}" = 1 ]; then
        ktap_test_fail "the kernel was not booted with init_on_alloc=1 init_on_free=1"
    else
        ktap_test_skip "needs init_on_alloc=1 init_on_free=1 on the kernel command line"
    fi
    ktap_finished
fi

initcheck() {
    kmsg_mark
    # One CPU: the freed chunk must come back from that CPU's list.
    taskset -c "$C0" insmod "$CLIENT" initcheck=1 || { kmsg | grep rkmem_client | sed 's/^/# /'; return 1; }
    rmmod rkmem_client
    kmsg | grep "rkmem_client: initcheck" | sed 's/^/# /'
    kmsg | grep -q "rkmem_client: initcheck: 0 not zeroed on free, 0 not zeroed on alloc"
}
check "init_on_free zeroes freed pages, init_on_alloc zeroes handed-out ones" initcheck

# The object caches zero on free (in the fast and slow paths alike) and on
# allocation: the slab client's checks still hold, kzalloc included.
slab_basics() {
    local status
    slab_client
    status=$?
    slab_client_gone && [ $status = 0 ] && no_slab_bug && no_splat
}
check "object caches: the slab client's checks pass with init_on_alloc/init_on_free" slab_basics

slab_stress() {
    slab_client slabstress=1000000000 slabstress_secs=3 || { slab_client_gone; return 1; }
    slab_client_gone &&
    kmsg | grep -Eq "rkmem_slab_client: slabstress: [0-9]+ allocations on $NCPUS CPUs, [0-9]+ in hard irq, 0 broken stamps" &&
    no_slab_bug && no_splat
}
check "object caches: stress with remote frees, no object given twice, none reported" slab_stress

ktap_finished
