#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make stress (DURATION, default 120 s; make check runs it for 60 s):
# everything at once. The page client's hard-IRQ stress (kthreads on every
# CPU, every order and gfp, hrtimers allocating in hard IRQ, remote frees),
# the slab client's (caches, kmalloc, bulk, hard IRQ, remote frees) and the
# mempool client's (slab, kmalloc, page and failing callback pools, hard
# IRQ, resizes), the mempool client unloaded and reloaded in a loop, while
# the shell takes CPUs offline and online, changes the pcp, limit and
# slab_debug knobs, shrinks, drains, drives the host shrinker, runs a
# userspace memory hog (host reclaim calls rkmem's shrinker) and, where the
# kernel has the attributes, injects faults. Every page and object carries a
# stamp checked when it is freed. At the end one line sums it up, and:
# no corruption, no splat, every block back and accounted for at unload, the
# host's free memory back (within what the host itself used meanwhile), and
# kmemleak finds nothing of rkmem's.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slab_lib.sh"

SECS=${STRESS_SECS:-60}
TOP=$(dirname "$RKMEM_KO")/selftests/rkmem
PAGE_CLIENT=$TOP/client/rkmem_client.ko
MEMPOOL_CLIENT=$TOP/mempool_client/rkmem_mempool_client.ko
KMEMLEAK=/sys/kernel/debug/kmemleak
LOG=$(mktemp -d /tmp/rkmem-stress.XXXXXX)
NCPUS=$(cpu_list /sys/devices/system/cpu/online | wc -l)

ktap_print_header
ktap_set_plan 4
slab_client_gone
rmmod rkmem_mempool_client 2>/dev/null
reset_rkmem
slab_debug_set - >/dev/null 2>&1
pcp_defaults=$(cat "$D/pcp")

# host_kb: the host's own kernel memory and caches (kB), to tell what it
# used meanwhile from what rkmem failed to give back.
host_kb() {
    awk '/^(Slab|KernelStack|PageTables|Percpu|Cached|Buffers):/ { n += $2 } END { print n }' /proc/meminfo
}
settle() { sync; echo 3 > /proc/sys/vm/drop_caches; }
# meminfo_moved FILE: the /proc/meminfo lines that moved by more than 4 MiB
# since FILE was taken (to tell where memory went when the check fails).
meminfo_moved() {
    awk 'NR == FNR { was[$1] = $2; next }
         ($1 in was) && ($2 - was[$1] > 4096 || was[$1] - $2 > 4096) {
             printf "#   %s %d -> %d kB\n", $1, was[$1], $2 }' "$1" /proc/meminfo
}

# The fault attributes rkmem has (none on a kernel without FAULT_INJECTION).
fault_dirs() { ls -d "$D"/fail_* 2>/dev/null; }
faults() { # faults on|off
    local f
    for f in $(fault_dirs); do
        if [ "$1" = on ]; then
            echo 0 > "$f/verbose"; echo 1 > "$f/probability"; echo -1 > "$f/times"
            echo 7 > "$f/interval"
        else
            echo 0 > "$f/probability"; echo 0 > "$f/times"
        fi
    done 2>/dev/null
}
injected() { awk '$1 ~ /^injected_/ { n += $2 } END { print n + 0 }' "$D/zoneinfo"; }

# hog: a userspace process holding 40% of the available memory for 2 s.
hog() {
    local kb
    kb=$(awk '/^MemAvailable:/ { print int($2 * 0.4) }' /proc/meminfo)
    python3 -c "import time; b = bytearray($kb * 1024); time.sleep(2)" 2>/dev/null
}

# mempool_loop END: the mempool client's stress, unloaded and reloaded.
mempool_loop() {
    local n=0
    while [ $SECONDS -lt "$1" ]; do
        insmod "$MEMPOOL_CLIENT" mempoolstress=1000000000 mempoolstress_secs=8 >/dev/null 2>&1 || break
        rmmod rkmem_mempool_client || break
        n=$((n + 1))
    done
    echo "$n" > "$LOG/mempool_rounds"
}

# disturb END: the shell's side until END.
disturb() {
    local i=0 cpu cpus hogs=()
    cpus=$(cpu_list /sys/devices/system/cpu/online | grep -vx 0)
    while [ $SECONDS -lt "$1" ]; do
        i=$((i + 1))
        case $((i % 8)) in
        0) for cpu in $cpus; do
               f=/sys/devices/system/cpu/cpu$cpu/online
               [ -w "$f" ] && { echo 0 > "$f"; sleep 0.3; echo 1 > "$f"; }
           done ;;
        1) knob pcp "high=$(( (i % 7 + 1) * 64 )) batch=$(( (i % 3 + 1) * 8 ))" >/dev/null ;;
        2) knob shrink all >/dev/null ;;
        3) knob drain all >/dev/null ;;
        4) for f in /sys/kernel/debug/shrinker/rkmem-*/scan; do
               [ -w "$f" ] && echo "0 $((i % 2)) 1024" > "$f" 2>/dev/null
           done ;;
        5) # limits down to what each arena holds, then back up
           while read -r n z _ h m; do
               knob limit "node=$n zone=$z blocks=$(( ${h#held=} > 0 ? ${h#held=} : 1 ))" >/dev/null
           done < <(sed 's/node=\([0-9]*\) zone=\([A-Za-z0-9]*\) /\1 \2 /' "$D/limit")
           sleep 0.3
           while read -r n z _ _ m; do
               knob limit "node=$n zone=$z blocks=${m#max=}" >/dev/null
           done < <(sed 's/node=\([0-9]*\) zone=\([A-Za-z0-9]*\) /\1 \2 /' "$D/limit") ;;
        6) slab_debug_set "$( [ $((i % 16)) = 6 ] && echo FZPU || echo - )" >/dev/null 2>&1 ;;
        7) # One hog at a time: under TCG filling 40% takes longer than
           # a round of this loop, and overlapping hogs would each take 40%
           # of what was available before the others had filled theirs
           # (the host's OOM killer then ended one: a splat).
           if [ ${#hogs[@]} = 0 ] || ! kill -0 "${hogs[-1]}" 2>/dev/null; then
               hog &
               hogs+=($!)
           fi ;;
        esac
        sleep 0.2
    done
    # Only the hogs: the clients are run_stress's to wait for.
    [ ${#hogs[@]} = 0 ] || wait "${hogs[@]}"
    echo "$i" > "$LOG/disturbances"
}

run_stress() {
    local end p1 p2 p3 s1 s2
    settle
    FREE_BEFORE=$(mem_free_kb) HOST_BEFORE=$(host_kb) PCP_BEFORE=$(pcp_kb)
    cp /proc/meminfo "$LOG/meminfo"
    [ -w $KMEMLEAK ] && echo clear > $KMEMLEAK
    FAIL_BEFORE=$(zsum alloc_failures) INJ_BEFORE=$(injected) BAD_BEFORE=$(zsum bad_frees)
    kmsg_mark
    end=$((SECONDS + SECS))
    faults on
    insmod "$PAGE_CLIENT" irqstress=2000000000 irqstress_secs="$SECS" > "$LOG/page" 2>&1 &
    p1=$!
    insmod "$SLAB_CLIENT" slabstress=1000000000 slabstress_secs="$SECS" > "$LOG/slab" 2>&1 &
    p2=$!
    mempool_loop "$end" &
    p3=$!
    disturb "$end"
    wait $p1; s1=$?
    wait $p2; s2=$?
    wait $p3
    faults off
    for f in /sys/devices/system/cpu/cpu*/online; do [ "$(cat "$f")" = 1 ] || echo 1 > "$f"; done
    slab_debug_set - >/dev/null 2>&1
    pcp_restore "$pcp_defaults"
    rmmod rkmem_client rkmem_slab_client 2>/dev/null
    echo "# page client: status $s1; slab client: status $s2; mempool client rounds: $(cat "$LOG/mempool_rounds" 2>/dev/null)"
    kmsg | grep -E "rkmem_(client|slab_client|mempool_client): .*(stress|checks failed)" | tail -12 | sed 's/^/# /'
    [ "$s1" = 0 ] && [ "$s2" = 0 ]
}

# sum_field REGEX: the first number after REGEX in every verdict line.
sum_field() { kmsg | grep -oE "$1" | grep -oE '[0-9]+' | awk '{ n += $1 } END { print n + 0 }'; }

verdicts() {
    OPS=$(( $(sum_field 'irqstress: [0-9]+ allocations') + $(sum_field 'slabstress: [0-9]+ allocations') +
            $(sum_field 'mempoolstress: [0-9]+ allocations') ))
    BROKEN=$(( $(sum_field '[0-9]+ broken tags') + $(sum_field '[0-9]+ broken stamps') ))
    CORRUPT=$(( BROKEN + $(kmsg | grep -c "rkmem: BUG ") ))
    FAILURES=$(( $(zsum alloc_failures) - FAIL_BEFORE + $(sum_field '[0-9]+ NULLs') ))
    INJECTED=$(( $(injected) - INJ_BEFORE ))
    local runs
    runs=$(kmsg | grep -cE "mempoolstress: [0-9]+ allocations")
    echo "# $OPS allocations, $BROKEN broken stamps, $runs mempool client rounds"
    [ "$OPS" -gt 0 ] && [ "$CORRUPT" = 0 ] &&
    kmsg | grep -qE "irqstress: [0-9]+ allocations \([1-9][0-9]* in hard irq\) on $NCPUS CPUs, 0 broken tags" &&
    kmsg | grep -qE "slabstress: [0-9]+ allocations on $NCPUS CPUs, [1-9][0-9]* in hard irq, 0 broken stamps" &&
    [ "$runs" -ge 1 ] && ! kmsg | grep -qE "rkmem_(client|slab_client|mempool_client): [1-9][0-9]* checks failed" &&
    [ "$(zsum bad_frees)" = "$BAD_BEFORE" ] && no_destroy_warning &&
    knob test verify >/dev/null && validate_all >/dev/null
}

SPLATS=0
splats() {
    no_splat || SPLATS=$(kmsg | grep -cE "$SPLAT")
    [ "$SPLATS" = 0 ]
}

# everything back: blocks at unload, the host's free memory, kmemleak.
accounted() {
    local line took returned kept leaks=0 free_after host_after lost used allowed try
    if [ -w $KMEMLEAK ]; then
        echo scan > $KMEMLEAK; sleep 6; echo scan > $KMEMLEAK
        leaks=$(grep -c "rkmem" $KMEMLEAK)
        [ "$leaks" = 0 ] || grep -B4 -A12 rkmem $KMEMLEAK | head -40 | sed 's/^/# /'
    else
        echo "# no kmemleak in this kernel"
    fi
    all_blocks_return || return 1
    kmsg_mark
    rmmod rkmem || return 1
    line=$(kmsg | grep "rkmem: unload: took")
    read -r took returned kept < <(sed 's/.*took \([0-9]*\) blocks from the host, returned \([0-9]*\), kept \([0-9]*\)/\1 \2 \3/' <<<"$line")
    # Frees the host defers (RCU, per-CPU vmstat work) land within seconds:
    # measure again, up to three times, before calling memory lost.
    for try in 1 2 3; do
        settle
        free_after=$(mem_free_kb) host_after=$(host_kb)
        lost=$(( FREE_BEFORE - free_after )) used=$(( host_after - HOST_BEFORE ))
        [ $used -gt 0 ] || used=0
        allowed=$((used + 16384))
        [ $lost -gt $allowed ] || break
        echo "# measure $try: host free memory $lost kB below the start, host used $used kB"
        meminfo_moved "$LOG/meminfo"
        [ $try = 3 ] || sleep 5
    done
    echo "# host per-CPU lists: $PCP_BEFORE kB at the start, $(pcp_kb) kB at the end (counted as free)"
    echo "# stress: ${SECS} s, $OPS operations, $FAILURES failures (expected: $INJECTED injected), $CORRUPT corruptions, $SPLATS splats, blocks took $took returned $returned kept $kept, host free memory $( [ $lost -ge 0 ] && echo "$lost kB below" || echo "$((-lost)) kB above") the start (host used $used kB meanwhile), kmemleak $leaks"
    insmod "$RKMEM_KO" || return 1
    [ -n "$line" ] && [ "$took" = "$returned" ] && [ "$kept" = 0 ] && [ "$leaks" = 0 ] &&
    [ $lost -le $allowed ]
}

check "everything at once for $SECS s on $NCPUS CPUs: clients, hotplug, knobs, hog, faults" run_stress
check "no corruption: stamps intact, no report, no refused free, buddy and caches valid" verdicts
check "no splat (lockdep, atomic sleep, BUG, WARNING)" splats
check "every block back at unload, host free memory back, kmemleak finds nothing of rkmem's" accounted
rm -rf "$LOG"
ktap_finished
