#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's mempools under concurrency: the C client's mempoolstress (per CPU
# a kthread allocating and freeing at random on a slab, a kmalloc, a page
# and a custom-backed pool whose backing fails at random and in storms,
# remote frees on the other CPU, a hard-irq hrtimer allocating GFP_ATOMIC,
# the client's main thread resizing the pools), while the shell shrinks,
# drains the per-CPU lists, caps arena limits and uses a trigger pool of
# its own (allocs, frees, resizes). Every element is stamped: none is handed
# out twice, GFP_KERNEL never returns NULL, lockdep stays quiet, and
# afterwards nothing is out and every block goes back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slab_lib.sh"

STRESS_SECS=${MEMPOOLSTRESS_SECS:-6}
MPF=$D/mempools
TRIG=$D/mempool_test
MEMPOOL_CLIENT=$(dirname "$RKMEM_KO")/selftests/rkmem/mempool_client/rkmem_mempool_client.ko

ktap_print_header
ktap_set_plan 3

mempool_client_gone() {
    if grep -q '^rkmem_mempool_client ' /proc/modules; then rmmod rkmem_mempool_client || return 1; fi
}
mempool_client_gone
slab_client_gone
reset_rkmem

# held POOL: how many elements the trigger holds of the pool.
held() {
    local name h
    while read -r name h _; do
        [ "$name" = "$1" ] && { echo "${h#held=}"; return 0; }
    done < "$TRIG"
    echo 0
}

# limits: "node=N zone=Z HELD MAX" per arena.
limits() { sed 's/^\(node=[0-9]* zone=[A-Za-z0-9]*\) blocks=[0-9]* held=\([0-9]*\) max=\([0-9]*\).*/\1 \2 \3/' "$D/limit"; }

uncap_arenas() {
    local n z h max
    while read -r n z h max; do knob limit "$n $z blocks=$max" >/dev/null; done < <(limits)
}

# hammer STOPFILE: until STOPFILE goes, shrink everything, drain the per-CPU
# lists, cap one arena at what it holds (and lift it the next round), read
# the mempools file, and use the trigger pool "hs" (atomic allocs that may
# fail, frees, resizes).
hammer() {
    local i=0 n z h max arenas nr
    mapfile -t arenas < <(limits)
    nr=${#arenas[@]}
    while [ -e "$1" ]; do
        {
            echo all > "$D/shrink"
            echo all > "$D/drain"
            read -r n z h max <<<"${arenas[$((i % nr))]}"
            if [ $((i % 2)) = 0 ]; then
                h=$(sed -n "s/^$n $z blocks=[0-9]* held=\([0-9]*\).*/\1/p" "$D/limit")
                echo "$n $z blocks=${h:-0}" > "$D/limit"
            else
                echo "$n $z blocks=$max" > "$D/limit"
            fi
            echo "alloc hs $((1 + i % 8)) atomic" > "$TRIG"
            echo "resize hs $((1 + i * 7 % 32))" > "$TRIG"
            [ $((i % 3)) = 0 ] && echo "free hs $(held hs)" > "$TRIG"
            cat "$MPF" > /dev/null
        } 2>/dev/null
        i=$((i + 1))
    done
    uncap_arenas
    echo "# the shell hammered $i times; hs: $(grep '^hs ' "$MPF")"
}

STRESS_RE="rkmem_mempool_client: mempoolstress: [0-9]+ allocations on $NCPUS CPUs, [1-9][0-9]* in hard irq, [1-9][0-9]* reserve allocs, [1-9][0-9]* waits, 0 broken stamps"

stress() {
    local stop=/tmp/rkmem-mempoolstress status bad
    bad=$(zsum bad_frees)
    knob mempool_test "create hs kmalloc 256 16" >/dev/null || { echo "# create hs refused"; return 1; }
    touch $stop
    hammer $stop &
    load_client "$MEMPOOL_CLIENT" "rkmem_mempool_client|rkmem: mempool_destroy" \
        mempoolstress=1000000000 mempoolstress_secs="$STRESS_SECS"
    status=$?
    rm -f $stop
    wait
    mempool_client_gone || return 1
    [ $status = 0 ] && kmsg | grep -q "rkmem_mempool_client: 0 checks failed" &&
    kmsg | grep -Eq "$STRESS_RE" && [ -z "$(kmsg | grep 'rkmem: mempool_destroy')" ] &&
    no_slab_bug && no_destroy_warning && [ "$(zsum bad_frees)" = "$bad" ] && no_splat
}
check "kthreads, hard-irq timers, remote frees, resizes, failing backings, knobs: no element given twice" stress

trigger_pool_intact() {
    local n
    n=$(held hs)
    echo "# hs: trigger holds $n: $(grep '^hs ' "$MPF")"
    grep -q "^hs .* out=$n " "$MPF" || return 1
    if [ "$n" -gt 0 ]; then knob mempool_test "free hs $n" >/dev/null || return 1; fi
    grep -q "^hs .* out=0 " "$MPF" && knob mempool_test "destroy hs" >/dev/null &&
    ! grep -q "^hs " "$MPF" && [ -z "$(cat "$TRIG")" ]
}
check "the shell's trigger pool: out is what it holds; freed and destroyed" trigger_pool_intact

after_stress() {
    local l
    l=$(grep -Ev ' out=0( |$)' "$MPF")
    [ -z "$l" ] || { echo "# pools with elements out:"; sed 's/^/#   /' <<<"$l"; return 1; }
    [ ! -e "$S/mempoolstress-128" ] || { echo "# the client's cache is still there"; return 1; }
    validate_all || return 1
    reset_rkmem
    all_blocks_return
}
check "after the stress: nothing out, every cache valid, every block goes back" after_stress

ktap_finished
