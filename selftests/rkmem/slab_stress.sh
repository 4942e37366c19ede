#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's object caches under concurrency: per CPU a kthread allocating and
# freeing at random (two caches, kmalloc of random sizes, bulk calls), with
# remote frees on the other CPU and a hard-irq hrtimer allocating GFP_ATOMIC
# objects, while the shell keeps shrinking, validating and changing the
# cache knobs. Every object is stamped: no object is handed out twice, no
# report, lockdep stays quiet, and afterwards every block goes back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slab_lib.sh"

STRESS_SECS=${SLABSTRESS_SECS:-6}

ktap_print_header
ktap_set_plan 4
slab_client_gone
reset_rkmem
slab_debug_set - || echo "# cannot set slab_debug to '-'"

# hammer STOPFILE: until STOPFILE goes, shrink everything (the global knob,
# the stress caches' and a kmalloc cache's knob, the host shrinker), validate
# the stress caches and change their min_partial and cpu_partial.
hammer() {
    local dir i=0 c
    dir=$(ls -d /sys/kernel/debug/shrinker/rkmem-* 2>/dev/null | head -1)
    while [ -e "$1" ]; do
        {
            echo all > "$D/shrink"
            for c in slabstress-64 slabstress-256 kmalloc-256; do echo 1 > "$S/$c/shrink"; done
            echo 1 > "$S/slabstress-64/validate"
            echo 1 > "$S/slabstress-256/validate"
            echo $((i % 7)) > "$S/slabstress-64/min_partial"
            echo $((i * 13 % 120)) > "$S/slabstress-256/cpu_partial"
            [ -n "$dir" ] && echo "0 $((i % 2)) 2048" > "$dir/scan"
        } 2>/dev/null
        i=$((i + 1))
    done
    echo "# the shell shrank and validated $i times"
}

# stress PARAM...: slabstress with the shell hammering; the client's verdict.
stress() {
    local stop=/tmp/rkmem-slabstress status bad
    bad=$(zsum bad_frees)
    touch $stop
    hammer $stop &
    slab_client slabstress=1000000000 slabstress_secs="$STRESS_SECS" "$@"
    status=$?
    rm -f $stop
    wait
    slab_client_gone || return 1
    [ $status = 0 ] &&
    kmsg | grep -Eq "rkmem_slab_client: slabstress: [0-9]+ allocations on $NCPUS CPUs, [1-9][0-9]* in hard irq, 0 broken stamps" &&
    no_slab_bug && no_destroy_warning && [ "$(zsum bad_frees)" = "$bad" ] && no_splat
}
check "kthreads, hard-irq timers and remote frees on every CPU, shrinks: no object given twice" stress

after_stress() {
    validate_all && all_blocks_return
}
check "after the stress: every cache valid, every block goes back" after_stress

debug_stress() {
    local status
    # The stress caches are created after this: full debug checks on every
    # alloc and free, in hard irq too, with remote frees.
    slab_debug_set FZPU || return 1
    stress
    status=$?
    slab_debug_set - || status=1
    return $status
}
check "the same on debug caches (slab_debug=FZPU): no report, nothing given twice" debug_stress

check "after the debug stress: every cache valid, every block goes back" after_stress

ktap_finished
