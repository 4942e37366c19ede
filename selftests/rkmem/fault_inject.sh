#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fault injection with the kernel's framework (fault-inject.h): rkmem's
# attributes fail_grow, fail_page, fail_slab and fail_mempool_backing have
# the standard files; with probability=100 and times=N exactly N requests
# fail at each point, the callers see the normal failure (ENOMEM, NULL, a
# mempool's reserve), and each is counted in zoneinfo (injected_*) and in
# the attribute's own times; ignore-gfp-wait spares requests that may sleep;
# task-filter fails only a task marked in /proc/self/make-it-fail; interval
# and space behave as documented; verbose reports name the attribute. Then
# the host's own fail_page_alloc and failslab under rkmem (its block growth
# and metadata allocations fail): rkmem stays consistent. Afterwards
# everything works again, every invariant holds, every block goes back and
# the unload accounts for every block.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slab_lib.sh"

ktap_print_header
ktap_set_plan 13

ENOMEM="Cannot allocate memory"
KINDS="grow page slab mempool_backing"
FILES="probability interval times space verbose verbose_ratelimit_interval_ms verbose_ratelimit_burst task-filter ignore-gfp-wait"
HOSTFI=/sys/kernel/debug

slab_client_gone
reset_rkmem

# fa KIND FILE VALUE: one file of rkmem's fail_KIND.
fa() { echo "$3" > "$D/fail_$1/$2"; }
# fav KIND FILE: its value.
fav() { cat "$D/fail_$1/$2"; }

# arm KIND TIMES [FILE=VALUE...]: probability 100, TIMES failures, no
# interval, space or task filter, quiet, ignore-gfp-wait off; then FILE=VALUE.
arm() {
    local k=$1 kv
    fa "$k" probability 0 && fa "$k" interval 1 && fa "$k" space 0 && fa "$k" verbose 0 &&
    fa "$k" task-filter N && fa "$k" ignore-gfp-wait N && fa "$k" times "$2" || return 1
    shift 2
    for kv in "$@"; do fa "$k" "${kv%%=*}" "${kv#*=}" || return 1; done
    fa "$k" probability 100
}

# disarm KIND: probability 0 and the defaults back.
disarm() {
    fa "$1" probability 0 && fa "$1" times 1 && fa "$1" interval 1 && fa "$1" space 0 &&
    fa "$1" task-filter N && fa "$1" ignore-gfp-wait Y && fa "$1" verbose 2
}
disarm_all() { local k; for k in $KINDS; do disarm "$k"; done; }

# rk KEY: a number of zoneinfo's rkmem section (injected_*, ...).
rk() { awk -v key="$1" '/^Node / { exit } $1 == key { print $2; exit }' "$D/zoneinfo"; }

# outcomes N WORDS...: N writes of WORDS to the test knob, one by one;
# prints one letter each: o (done) or x (ENOMEM); anything else fails.
outcomes() {
    local n=$1 i err s=
    shift
    for i in $(seq "$n"); do
        if err=$(knob test "$@"); then s+=o
        elif [ "$err" = "$ENOMEM" ]; then s+=x
        else echo "# test $*: '$err'"; return 1
        fi
    done
    echo "$s"
}

PAGE="alloc node=0 zone=Normal order=0 count=1"

attr_files() {
    local k f ok=0 m
    for k in $KINDS; do
        for f in $FILES; do
            m=$(stat -c %a "$D/fail_$k/$f" 2>/dev/null)
            [ "$m" = 600 ] || { echo "# fail_$k/$f: mode '$m'"; ok=1; }
        done
        [ "$(fav "$k" probability)" = 0 ] && [ "$(fav "$k" times)" = 1 ] &&
        [ "$(fav "$k" interval)" = 1 ] && [ "$(fav "$k" ignore-gfp-wait)" = Y ] &&
        [ "$(fav "$k" task-filter)" = N ] || { echo "# fail_$k: defaults differ"; ok=1; }
    done
    for k in grow page slab mempool; do
        [ "$(rk "injected_$k")" = 0 ] || { echo "# injected_$k: '$(rk "injected_$k")'"; ok=1; }
    done
    return $ok
}
check "fail_grow, fail_page, fail_slab, fail_mempool_backing: the standard files (0600), defaults; injected_* 0" attr_files

# fail_page: exactly `times` client allocations fail, counted; ENOMEM to the
# caller, nothing taken, no arena failure counted (nothing was tried).
fail_page() {
    local s i0 f0 held0
    kmsg_mark
    i0=$(rk injected_page) f0=$(zsum alloc_failures)
    held0=$(knob test free >/dev/null; sed -n 's/^held \([0-9]*\) .*/\1/p' "$D/test")
    arm page 3 verbose=1 || return 1
    s=$(outcomes 5 "$PAGE") || return 1
    echo "# 5 allocations with times=3: $s; injected_page $i0 -> $(rk injected_page); times $(fav page times)"
    [ "$s" = xxxoo ] && [ "$(rk injected_page)" = $((i0 + 3)) ] && [ "$(fav page times)" = 0 ] &&
    [ "$(zsum alloc_failures)" = "$f0" ] &&
    grep -q "^held 2 " "$D/test" && [ "$held0" = 0 ] || return 1
    # verbose=1: one report per failure that names the attribute, no stack.
    [ "$(kmsg | grep -c "FAULT_INJECTION: forcing a failure")" = 3 ] &&
    [ "$(kmsg | grep -c "name fail_page, interval 1, probability 100")" = 3 ] || { kmsg | grep -A1 FAULT_INJ | sed 's/^/# /'; return 1; }
    knob test free >/dev/null
}
check "fail_page: times=3 fails exactly 3 client allocations (ENOMEM), counted, then none" fail_page

# ignore-gfp-wait (default Y): a GFP_KERNEL allocation is spared, a
# GFP_NOWAIT one (the trigger's atomic) is failed.
gfp_wait() {
    local s a i0
    i0=$(rk injected_page)
    arm page 2 ignore-gfp-wait=Y || return 1
    s=$(outcomes 2 "$PAGE") && a=$(outcomes 3 "$PAGE atomic") || return 1
    echo "# ignore-gfp-wait=Y: GFP_KERNEL $s, GFP_NOWAIT $a; times left $(fav page times)"
    [ "$s" = oo ] && [ "$a" = xxo ] && [ "$(rk injected_page)" = $((i0 + 2)) ] && knob test free >/dev/null
}
check "ignore-gfp-wait=Y spares allocations that may sleep, fails those that may not" gfp_wait

# task-filter: only a task marked in /proc/self/make-it-fail fails.
task_filter() {
    local a b c i0
    i0=$(rk injected_page)
    arm page -1 task-filter=Y || return 1
    a=$(outcomes 3 "$PAGE") || return 1
    b=$( echo 1 > /proc/self/make-it-fail && outcomes 3 "$PAGE" ) || return 1
    c=$(outcomes 2 "$PAGE") || return 1
    echo "# task-filter=Y: unmarked $a, marked $b, unmarked again $c"
    disarm page
    [ "$a" = ooo ] && [ "$b" = xxx ] && [ "$c" = oo ] && [ "$(rk injected_page)" = $((i0 + 3)) ] &&
    knob test free >/dev/null
}
check "task-filter: only the task marked in /proc/self/make-it-fail fails" task_filter

# interval=3: every third request fails; space=3 (pages): requests go
# through while the budget exceeds their size, then fail.
interval_space() {
    local s t u
    arm page -1 interval=3 || return 1
    s=$(outcomes 6 "$PAGE") || return 1
    arm page -1 space=3 || return 1
    t=$(outcomes 4 "$PAGE") || return 1
    arm page -1 space=9 || return 1
    u=$(outcomes 3 "alloc node=0 zone=Normal order=2 count=1") || return 1
    disarm page
    echo "# interval=3: $s; space=3, order 0: $t; space=9, order 2: $u"
    [[ $s =~ ^(xooxoo|oxooxo|ooxoox)$ ]] && [ "$t" = ooxx ] && [ "$u" = oox ] && knob test free >/dev/null
}
check "interval=3 fails every third request; space lets the budget through first" interval_space

# fail_grow: each prefill takes one block: times=2 fails the first two
# (ENOMEM, counted as growth failures of the arena and injected_grow);
# an allocation needing growth fails whole, then works once disarmed.
fail_grow() {
    local s i0 g0 f0 err
    knob shrink all >/dev/null
    i0=$(rk injected_grow) g0=$(zinfo 0 Normal grow_failures) f0=$(zinfo 0 Normal alloc_failures)
    arm grow 2 || return 1
    s=
    for _ in 1 2 3; do
        if err=$(knob prefill "node=0 zone=Normal blocks=1"); then s+=o
        elif [ "$err" = "$ENOMEM" ]; then s+=x
        else echo "# prefill: '$err'"; return 1
        fi
    done
    echo "# 3 prefills with times=2: $s; injected_grow $i0 -> $(rk injected_grow); grow_failures $g0 -> $(zinfo 0 Normal grow_failures); blocks $(zinfo 0 Normal blocks)"
    [ "$s" = xxo ] && [ "$(rk injected_grow)" = $((i0 + 2)) ] &&
    [ "$(zinfo 0 Normal grow_failures)" = $((g0 + 2)) ] && [ "$(zinfo 0 Normal blocks)" = 1 ] &&
    [ "$(fav grow times)" = 0 ] || return 1
    # Every growth fails: an allocation beyond what rkmem holds gets ENOMEM.
    knob shrink all >/dev/null
    arm grow -1 || return 1
    s=$(outcomes 1 "alloc node=0 zone=Normal order=10 count=1") || return 1
    echo "# order-10 allocation with every growth failing: $s; injected_grow $(rk injected_grow); alloc_failures $(zinfo 0 Normal alloc_failures)"
    disarm grow
    [ "$s" = x ] && [ "$(rk injected_grow)" -gt $((i0 + 2)) ] &&
    [ "$(zinfo 0 Normal alloc_failures)" -gt "$f0" ] &&
    [ "$(outcomes 1 "alloc node=0 zone=Normal order=10 count=1")" = o ] && knob test free >/dev/null
}
check "fail_grow: times=2 fails exactly two host blocks (growth failures), allocations fail whole, recover" fail_grow

# fail_slab: a new cache needs a new slab for its first object.
fail_slab() {
    local i0 err s
    i0=$(rk injected_slab)
    knob slab_test "create fi_slab 64 0 -" >/dev/null || return 1
    # ignore-gfp-wait=Y spares the trigger's GFP_KERNEL.
    arm slab 1 ignore-gfp-wait=Y || return 1
    knob slab_test "alloc fi_slab 1" >/dev/null && knob slab_test "free fi_slab 1" >/dev/null &&
    knob slab_test "destroy fi_slab" >/dev/null && knob slab_test "create fi_slab 64 0 -" >/dev/null &&
    [ "$(rk injected_slab)" = "$i0" ] || { echo "# spared: injected_slab $(rk injected_slab)"; return 1; }
    arm slab 2 || return 1
    s=
    for _ in 1 2 3; do
        if err=$(knob slab_test "alloc fi_slab 1"); then s+=o
        elif [ "$err" = "$ENOMEM" ]; then s+=x
        else echo "# slab_test alloc: '$err'"; return 1
        fi
    done
    disarm slab
    echo "# 3 first objects with times=2: $s; injected_slab $i0 -> $(rk injected_slab); alloc_slab $(sval fi_slab alloc_slab); slabs $(sval fi_slab slabs); objects $(sval fi_slab objects)"
    [ "$s" = xxo ] && [ "$(rk injected_slab)" = $((i0 + 2)) ] && [ "$(sval fi_slab alloc_slab)" = 1 ] &&
    [ "$(sval fi_slab slabs)" = 1 ] && validate fi_slab >/dev/null &&
    knob slab_test "alloc fi_slab 200" >/dev/null && knob slab_test "free fi_slab 201" >/dev/null &&
    knob slab_test "destroy fi_slab" >/dev/null
}
check "fail_slab: times=2 fails exactly two new slabs (ENOMEM), ignore-gfp-wait spares GFP_KERNEL" fail_slab

# mpline POOL KEY: one number of the pool's line in mempools.
mpline() { awk -v p="$1" -v k="$2" '$1 == p { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) { print substr($i, length(k) + 2); exit } }' "$D/mempools"; }

# fail_mempool_backing: the backing fails, the pool serves from its reserve;
# atomic allocations beyond it fail; a sleeping one gets its element from
# the retry with reclaim (ignore-gfp-wait=Y spares it); frees refill.
fail_mempool() {
    local i0 b0 r0 a0
    on_cpu 0 knob mempool_test "create fi_pool slab 64 4" >/dev/null || return 1
    i0=$(rk injected_mempool) b0=$(mpline fi_pool backing_allocs) r0=$(mpline fi_pool reserve_allocs)
    a0=$(mpline fi_pool atomic_failures)
    arm mempool_backing -1 ignore-gfp-wait=Y || return 1
    on_cpu 0 knob mempool_test "alloc fi_pool 4 atomic" >/dev/null || { echo "# the reserve did not serve"; return 1; }
    knob_fails mempool_test "$ENOMEM" "alloc fi_pool 1 atomic" || return 1
    on_cpu 0 knob mempool_test "alloc fi_pool 1" >/dev/null || { echo "# a sleeping allocation failed"; return 1; }
    grep "^fi_pool " "$D/mempools" | sed 's/^/# /'
    echo "# injected_mempool $i0 -> $(rk injected_mempool)"
    [ "$(mpline fi_pool reserve_allocs)" = $((r0 + 4)) ] && [ "$(mpline fi_pool curr_nr)" = 0 ] &&
    [ "$(mpline fi_pool atomic_failures)" = $((a0 + 1)) ] &&
    [ "$(mpline fi_pool backing_allocs)" = $((b0 + 1)) ] &&
    [ "$(rk injected_mempool)" = $((i0 + 6)) ] || return 1
    disarm mempool_backing
    on_cpu 0 knob mempool_test "free fi_pool 5" >/dev/null &&
    [ "$(mpline fi_pool curr_nr)" = 4 ] && [ "$(mpline fi_pool out)" = 0 ] &&
    on_cpu 0 knob mempool_test "alloc fi_pool 3" >/dev/null &&
    [ "$(mpline fi_pool backing_allocs)" = $((b0 + 4)) ] &&
    on_cpu 0 knob mempool_test "free fi_pool 3" >/dev/null &&
    on_cpu 0 knob mempool_test "destroy fi_pool" >/dev/null
}
check "fail_mempool_backing: the pool serves from its reserve, atomic beyond it fails, frees refill" fail_mempool

# The host's fail_page_alloc, only for order 10 (rkmem's blocks) and only
# for the marked task: exactly the host blocks fail; rkmem counts growth
# failures (not injected_grow: not its own point).
host_page_alloc() {
    local F=$HOSTFI/fail_page_alloc s i0 g0 b0
    [ -d "$F" ] || { echo "# no $F"; return 1; }
    knob shrink all >/dev/null
    i0=$(rk injected_grow) g0=$(zinfo 0 Normal grow_failures) b0=$(zinfo 0 Normal blocks)
    echo 0 > $F/probability && echo 0 > $F/verbose && echo Y > $F/task-filter &&
    echo N > $F/ignore-gfp-wait && echo 10 > $F/min-order && echo 1 > $F/interval &&
    echo 0 > $F/space && echo 2 > $F/times && echo 100 > $F/probability || return 1
    s=$( echo 1 > /proc/self/make-it-fail
         for _ in 1 2 3; do
             if printf 'node=0 zone=Normal blocks=1\n' > "$D/prefill" 2>/dev/null; then echo -n o; else echo -n x; fi
         done )
    echo 0 > $F/probability; echo 1 > $F/times; echo N > $F/task-filter; echo 1 > $F/min-order; echo Y > $F/ignore-gfp-wait
    echo "# 3 prefills with the host failing 2 blocks: $s; grow_failures $g0 -> $(zinfo 0 Normal grow_failures); blocks $b0 -> $(zinfo 0 Normal blocks)"
    [ "$s" = xxo ] && [ "$(zinfo 0 Normal grow_failures)" = $((g0 + 2)) ] &&
    [ "$(zinfo 0 Normal blocks)" = $((b0 + 1)) ] && [ "$(rk injected_grow)" = "$i0" ] && knob test verify >/dev/null
}
check "host fail_page_alloc (min-order 10, task-filter): rkmem's growth fails exactly as often, counted" host_page_alloc

# The host's failslab on rkmem's block metadata cache (cache-filter), if
# the cache is not merged: a block is taken, its metadata fails, the block
# goes back. Then both host attributes at random for a marked task that
# drives every rkmem layer: whatever fails, rkmem stays consistent.
host_failslab() {
    local F=$HOSTFI/failslab P=$HOSTFI/fail_page_alloc s g0 i w mf=/sys/kernel/slab/rkmem_block_meta/failslab
    [ -d "$F" ] || { echo "# no $F"; return 1; }
    knob shrink all >/dev/null
    echo 0 > $F/probability && echo 0 > $F/verbose && echo N > $F/ignore-gfp-wait &&
    echo 1 > $F/interval && echo 0 > $F/space || return 1
    if echo 1 2>/dev/null > "$mf"; then
        g0=$(zinfo 0 Normal grow_failures)
        echo Y > $F/cache-filter && echo N > $F/task-filter && echo 2 > $F/times && echo 100 > $F/probability
        s=
        for _ in 1 2 3; do
            if printf 'node=0 zone=Normal blocks=1\n' > "$D/prefill" 2>/dev/null; then s+=o; else s+=x; fi
        done
        echo 0 > $F/probability; echo 0 > "$mf"; echo N > $F/cache-filter
        echo "# block metadata failing twice: $s; grow_failures $g0 -> $(zinfo 0 Normal grow_failures); blocks $(zinfo 0 Normal blocks)"
        [ "$s" = xxo ] && [ "$(zinfo 0 Normal blocks)" = 1 ] && knob test verify >/dev/null || return 1
    else
        echo "# rkmem_block_meta is merged with another cache: no cache-filter run"
    fi
    # At random, for the marked task only: 20% of its slab allocations and
    # of its page allocations of order 1 and up.
    for w in $F $P; do
        echo 0 > $w/probability && echo 0 > $w/verbose && echo Y > $w/task-filter &&
        echo N > $w/ignore-gfp-wait && echo -1 > $w/times || return 1
    done
    echo 20 > $F/probability && echo 20 > $P/probability
    # No fork in the marked task (a failing fork would end the loop), and
    # stderr opened before it is marked.
    ( echo 1 > /proc/self/make-it-fail
      for ((i = 0; i < 40; i++)); do
          printf 'node=%d zone=Normal blocks=1\n' $((i % 2)) > "$D/prefill"
          printf 'alloc node=%d zone=Normal order=%d count=4\n' $((i % 2)) $((i % 4)) > "$D/test"
          printf 'create fi_h%d %d 0 -\n' $((i % 12)) $((64 + 32 * (i % 12))) > "$D/slab_test"
          printf 'alloc fi_h%d 50\n' $((i % 12)) > "$D/slab_test"
          printf 'create fi_p%d kmalloc 128 3\n' $((i % 12)) > "$D/mempool_test"
          printf 'alloc fi_p%d 2\n' $((i % 12)) > "$D/mempool_test"
          if [ $((i % 3)) = 0 ]; then
              printf 'free count=2\n' > "$D/test"
              printf 'shrink all\n' > "$D/shrink"
          fi
      done ) 2>/dev/null
    echo 0 > $F/probability; echo 0 > $P/probability
    echo N > $F/task-filter; echo N > $P/task-filter; echo 1 > $F/times; echo 1 > $P/times
    echo Y > $F/ignore-gfp-wait; echo Y > $P/ignore-gfp-wait
    echo "# after 40 rounds under host failures: $(zsum grow_failures) growth failures, $(zsum blocks) blocks, $(grep -c '^fi_h' "$D/slab_test") test caches, $(grep -c '^fi_p' "$D/mempool_test") test pools"
    # Everything made is usable and goes away cleanly.
    for i in $(seq 0 11); do
        if grep -q "^fi_h$i " "$D/slab_test"; then
            knob slab_test "alloc fi_h$i 10" >/dev/null || { echo "# fi_h$i unusable"; return 1; }
            knob slab_test "free fi_h$i 1000" >/dev/null && knob slab_test "destroy fi_h$i" >/dev/null || return 1
        fi
        if grep -q "^fi_p$i " "$D/mempool_test"; then
            on_cpu 0 knob mempool_test "alloc fi_p$i 1" >/dev/null || { echo "# fi_p$i unusable"; return 1; }
            s=$(sed -n "s/^fi_p$i held=\([0-9]*\).*/\1/p" "$D/mempool_test")
            on_cpu 0 knob mempool_test "free fi_p$i $s" >/dev/null &&
            on_cpu 0 knob mempool_test "destroy fi_p$i" >/dev/null || return 1
        fi
    done
    knob test free >/dev/null && knob test verify >/dev/null && validate_all
}
check "host failslab (rkmem's block metadata) and random host failures under every layer: rkmem consistent" host_failslab

# After injection stops everything works again: pages on every arena,
# objects, kmalloc, a pool; invariants hold; no splat.
recovered() {
    local n z
    disarm_all
    while read -r n z; do
        knob test "alloc node=$n zone=$z order=0 count=8" >/dev/null || { echo "# $n $z: allocation failed"; return 1; }
    done < <(arenas)
    knob test "alloc node=${N1:-$N0} zone=Normal order=10 count=2" >/dev/null &&
    knob slab_test "create fi_after 200 0 -" >/dev/null && knob slab_test "alloc fi_after 500" >/dev/null &&
    on_cpu 0 knob mempool_test "create fi_after pages 1 4" >/dev/null &&
    on_cpu 0 knob mempool_test "alloc fi_after 6" >/dev/null || return 1
    knob test verify >/dev/null && validate_all || return 1
    on_cpu 0 knob mempool_test "free fi_after 6" >/dev/null && on_cpu 0 knob mempool_test "destroy fi_after" >/dev/null &&
    knob slab_test "free fi_after 500" >/dev/null && knob slab_test "destroy fi_after" >/dev/null &&
    knob test free >/dev/null && knob test verify >/dev/null && no_slab_bug && no_splat
}
kmsg_mark
check "after injection stops: every layer works, verify and validate pass, no splat" recovered

blocks_back() {
    echo "# injected: grow $(rk injected_grow) page $(rk injected_page) slab $(rk injected_slab) mempool $(rk injected_mempool)"
    local try
    for try in 1 2 3; do
        all_blocks_return && return 0
        sleep 1
    done
    awk 'NR <= 2 || $2 > 0' "$D/slabinfo" | sed 's/^/# /'
    sed 's/^/# mempools: /' "$D/mempools"
    sed 's/^/# test: /' "$D/test"; sed 's/^/# slab_test: /' "$D/slab_test"; sed 's/^/# mempool_test: /' "$D/mempool_test"
    grep -E "^Node|blocks |free_pages" "$D/zoneinfo" | sed 's/^/# /'
    return 1
}
check "every block returns after a shrink" blocks_back

reload() { unload_accounted && insmod "$RKMEM_KO" && [ -d "$D/fail_page" ] && [ "$(rk injected_page)" = 0 ]; }
check "unload accounts for every block (took = returned, kept 0); reload starts from 0" reload

ktap_finished
