#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's exported C API, used by a real client module; unload with live
# pages keeps their blocks from the host and says so.
source "$(dirname "$0")/lib.sh"
CLIENT=$(dirname "$RKMEM_KO")/selftests/rkmem/client/rkmem_client.ko

ktap_print_header
ktap_set_plan 5
reset_rkmem

client_checks_pass() {
    dmesg -c >/dev/null
    insmod "$CLIENT" || { dmesg | grep rkmem_client | sed 's/^/# /'; return 1; }
    dmesg | grep -q "rkmem_client: 0 checks failed"
}
check "a C module links against the API; placement and atomic checks pass" client_checks_pass

in_use() { ! rmmod rkmem 2>/dev/null && [ -d "$D" ]; }
check "rkmem cannot be unloaded while a client is linked" in_use
rmmod rkmem_client

bad_frees() { awk '$1 == "bad_frees" { n += $2 } END { print n + 0 }' "$D/zoneinfo"; }

concurrent_stress() {
    # Both CPUs allocate and free at once while the shell keeps shrinking.
    local bad_before
    bad_before=$(bad_frees)
    dmesg -c >/dev/null
    touch /tmp/rkmem-stress
    ( while [ -e /tmp/rkmem-stress ]; do echo all > "$D/shrink"; done ) &
    insmod "$CLIENT" stress=20000
    local status=$?
    rm -f /tmp/rkmem-stress
    wait
    dmesg | grep rkmem_client | sed 's/^/# /'
    [ $status = 0 ] && rmmod rkmem_client && knob test verify >/dev/null &&
    dmesg | grep -q "rkmem_client: stress: [0-9]* allocations on 2 CPUs, 0 broken tags" &&
    [ "$(bad_frees)" = "$bad_before" ]
}
check "concurrent alloc/free on every CPU with shrinks: no page given twice" concurrent_stress

leaky_client_unload() {
    dmesg -c >/dev/null
    insmod "$CLIENT" leak=1 && rmmod rkmem_client && rmmod rkmem || return 1
    dmesg | grep "rkmem: unload" | sed 's/^/# /'
    dmesg | grep -q "rkmem: unload with 8 pages still allocated: keeping their 1 blocks" &&
    dmesg | grep -q "rkmem: unload: took [0-9]* blocks from the host, returned [0-9]*, kept 1"
}
check "unload with live pages keeps their block and reports counts" leaky_client_unload

check "reload" insmod "$RKMEM_KO"

ktap_finished
