#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A soak, not part of make check (make soak; SOAK_SECS, default 120): the
# client's hard-IRQ stress (timers allocating in hard IRQ on every CPU,
# kthreads allocating and freeing with remote frees) while the shell keeps
# taking CPU C1 (lib.sh; CPU 1 of the standard topology) offline and
# online, changing the pcp knob, shrinking, draining and driving the host shrinker. Then: no page given twice, the
# buddy invariants hold, lockdep stayed silent, every block goes back.
source "$(dirname "$0")/lib.sh"
CLIENT=$(dirname "$RKMEM_KO")/selftests/rkmem/client/rkmem_client.ko
ONLINE1=/sys/devices/system/cpu/cpu${C1:-1}/online
SECS=${SOAK_SECS:-120}

ktap_print_header
ktap_set_plan 1
reset_rkmem
defaults=$(cat "$D/pcp")

soak_body() {
    local pid status end i=0 bad_before
    bad_before=$(zsum bad_frees)
    kmsg_mark
    insmod "$CLIENT" irqstress=2000000000 irqstress_secs="$SECS" &
    pid=$!
    end=$((SECONDS + SECS - 2))
    while [ $SECONDS -lt $end ]; do
        i=$((i + 1))
        case $((i % 5)) in
        0) [ -n "$C1" ] && [ -w "$ONLINE1" ] && { echo 0 > "$ONLINE1"; sleep 0.5; echo 1 > "$ONLINE1"; } ;;
        1) knob pcp "high=$(( (i % 7 + 1) * 64 )) batch=$(( (i % 3 + 1) * 8 ))" >/dev/null ;;
        2) knob shrink all >/dev/null ;;
        3) knob drain all >/dev/null ;;
        4) for f in /sys/kernel/debug/shrinker/rkmem-*/scan; do
               [ -w "$f" ] && echo "0 $((i % 2)) 1024" > "$f" 2>/dev/null
           done; cat "$D/zoneinfo" >/dev/null ;;
        esac
        sleep 0.3
    done
    wait $pid
    status=$?
    kmsg | grep rkmem_client | sed 's/^/# /'
    echo "# $i disturbances in $SECS s"
    [ $status = 0 ] && rmmod rkmem_client &&
    irqstress_clean "$bad_before" && all_blocks_return
}
soak() {
    local status
    soak_body
    status=$?
    [ "$(cat "$ONLINE1" 2>/dev/null)" = 0 ] && echo 1 > "$ONLINE1"
    pcp_restore "$defaults" || status=1
    return $status
}
check "soak: hard-IRQ stress with hotplug, pcp changes, shrinks and drains" soak
reset_rkmem
ktap_finished
