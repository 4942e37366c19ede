#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's mempools (mm/mempool.c semantics) through debugfs and a C client:
# the mempools file and the mempool_test trigger; with the arenas capped at
# what they hold and the backing drained, exactly min_nr atomic allocations
# come from the reserve and the next fails; a sleeping allocation waits for
# a free and gets it; frees refill the reserve first; resize up and down
# while elements are out; destroy with elements out is warned and the pool
# stays "destroyed"; bad trigger input is refused. Then the C client
# (selftests/rkmem/mempool_client): its semantic checks on a custom backing,
# slab/kmalloc/page pools, a pool destroyed with elements out; afterwards
# every block goes back and rkmem unloads with every block accounted for.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slab_lib.sh"

ktap_print_header
ktap_set_plan 15

MPF=$D/mempools
TRIG=$D/mempool_test
MEMPOOL_CLIENT=$(dirname "$RKMEM_KO")/selftests/rkmem/mempool_client/rkmem_mempool_client.ko
ENOMEM="Cannot allocate memory"
MIN=8

mempool_client_gone() {
    if grep -q '^rkmem_mempool_client ' /proc/modules; then rmmod rkmem_mempool_client || return 1; fi
}
mempool_client_gone
slab_client_gone
reset_rkmem

# trig WORDS...: one trigger command, written on CPU 0 (every trigger
# allocation and free runs there, so no other CPU's lists hold memory
# the backing could find).
trig() { on_cpu 0 knob mempool_test "$*"; }

# trig_fails ERROR WORDS...: the trigger must refuse the command with ERROR.
trig_fails() { local want=$1; shift; on_cpu 0 knob_fails mempool_test "$want" "$*"; }

# mpget POOL: the pool's (first) line of the mempools file into M:
# M[min_nr], M[curr_nr]... and M[backing], M[destroyed]=1 if so.
declare -A M B
mpget() {
    local name rest w
    M=()
    while read -r name rest; do
        [ "$name" = "$1" ] || continue
        for w in $rest; do
            if [[ $w == *=* ]]; then M[${w%%=*}]=${w#*=}; else M[$w]=1; fi
        done
        return 0
    done < "$MPF"
    return 1
}

# mpbase POOL: remember the pool's counters (in B) for mpwant's +N.
mpbase() {
    local k
    mpget "$1" || { echo "# no mempools line for $1"; return 1; }
    B=()
    for k in "${!M[@]}"; do B[$k]=${M[$k]}; done
}

# mpwant POOL KEY=VALUE...: the pool's line says so; VALUE +N: N more than
# at mpbase.
mpwant() {
    local p=$1 kv k v ok=0
    shift
    mpget "$p" || { echo "# no mempools line for $p"; return 1; }
    for kv in "$@"; do
        k=${kv%%=*} v=${kv#*=}
        [[ $v == +* ]] && v=$((${B[$k]:-0} + ${v#+}))
        [ "${M[$k]:-}" = "$v" ] || { echo "# $p: $k=${M[$k]:-(none)}, want $v"; ok=1; }
    done
    [ $ok = 0 ] || echo "# $p: $(grep "^$p " "$MPF")"
    return $ok
}

# held POOL: what the trigger holds of the pool ("HELD DRAINED"); fails
# without a trigger line.
held() {
    local name h d
    while read -r name h d _; do
        [ "$name" = "$1" ] && { echo "${h#held=} ${d#drained=}"; return 0; }
    done < "$TRIG"
    return 1
}

# held_is POOL N: the trigger holds N elements of the pool, and its line
# in mempools says out=N.
held_is() {
    local h
    h=$(held "$1") || { echo "# no trigger line for $1"; return 1; }
    [ "${h% *}" = "$2" ] || { echo "# $1: trigger holds ${h% *}, want $2"; return 1; }
    mpwant "$1" "out=$2"
}

# cap_arenas: every arena's limit at the blocks it holds (no growth).
cap_arenas() {
    local n z h
    while read -r n z _ h _; do
        knob limit "$n $z blocks=${h#held=}" >/dev/null || { echo "# cannot cap $n $z"; return 1; }
    done < <(cat "$D/limit")
    knob drain all >/dev/null
}

# uncap_arenas: every limit at its maximum.
uncap_arenas() {
    local n z max
    while read -r n z _ _ max; do
        knob limit "$n $z blocks=${max#max=}" >/dev/null
    done < <(cat "$D/limit")
}

# destroy_warned POOL N: "rkmem: mempool_destroy POOL: N elements still out"
# since kmsg_mark (POOL a regex).
destroy_warned() {
    kmsg | grep -E "rkmem: mempool_destroy" | sed 's/^/# /'
    kmsg | grep -Eq "rkmem: mempool_destroy $1: $2 elements still out"
}

# no_out_pools: no pool line with elements out.
no_out_pools() {
    local l
    l=$(grep -Ev ' out=0( |$)' "$MPF")
    [ -z "$l" ] || { echo "# pools with elements out:"; sed 's/^/#   /' <<<"$l"; return 1; }
}

LINE_RE='^[^ ]+ backing=(slab:[^ ]+|kmalloc:[0-9]+|pages:[0-9]+|custom:[^ ]+) min_nr=[0-9]+ curr_nr=[0-9]+ out=[0-9]+ backing_allocs=[0-9]+ reserve_allocs=[0-9]+ backing_frees=[0-9]+ reserve_frees=[0-9]+ waits=[0-9]+ wakeups=[0-9]+ timeouts=[0-9]+ atomic_failures=[0-9]+( destroyed)?$'

# lines_ok: every line of the mempools file has the documented columns.
lines_ok() {
    local bad
    bad=$(grep -Ev "$LINE_RE" "$MPF")
    [ -z "$bad" ] || { echo "# lines not in the documented format:"; sed 's/^/#   /' <<<"$bad"; return 1; }
}

files() {
    local m1 m2
    m1=$(stat -c %a "$MPF" 2>/dev/null) m2=$(stat -c %a "$TRIG" 2>/dev/null)
    echo "# mempools mode '$m1', mempool_test mode '$m2'"
    [ "$m1" = 400 ] && [ "$m2" = 600 ] || return 1
    echo "# mempools at the start: $(wc -l < "$MPF") lines; mempool_test: $(wc -l < "$TRIG") lines"
    [ -z "$(cat "$TRIG")" ] && lines_ok
}
check "mempools (0400) and mempool_test (0600); no trigger pool at the start" files

create_pools() {
    trig "create ms slab 64 $MIN" >/dev/null || { echo "# create ms refused"; return 1; }
    trig "create mp pages 0 $MIN" >/dev/null || { echo "# create mp refused"; return 1; }
    trig "create mk kmalloc 20000 2" >/dev/null || { echo "# create mk refused"; return 1; }
    grep -E '^(ms|mp|mk) ' "$MPF" | sed 's/^/# /'
    lines_ok &&
    mpwant ms backing=slab:mempool-ms min_nr=$MIN curr_nr=$MIN out=0 waits=0 wakeups=0 timeouts=0 atomic_failures=0 &&
    mpwant mp backing=pages:0 min_nr=$MIN curr_nr=$MIN out=0 &&
    mpwant mk backing=kmalloc:20000 min_nr=2 curr_nr=2 out=0 &&
    [ "$(held ms)" = "0 0" ] && [ "$(held mp)" = "0 0" ] &&
    [ -d "$S/mempool-ms" ] && [ "$(sval mempool-ms objects)" -ge $MIN ] ||
        { echo "# mempool-ms: objects '$(cat "$S/mempool-ms/objects" 2>&1)'"; return 1; }
    # The kmalloc pool works and is gone again.
    trig "alloc mk 3" >/dev/null && held_is mk 3 && trig "free mk 3" >/dev/null &&
    mpwant mk curr_nr=2 out=0 && trig "destroy mk" >/dev/null && ! mpget mk && ! held mk >/dev/null
}
check "trigger create: slab, page and kmalloc pools, min_nr preallocated, the documented columns" create_pools

trig_state() { cat "$MPF" "$TRIG"; ls "$S"; }

# On a pool of its own ("mb", 2 elements): a write wrongly taken does not
# spoil the other pools.
bad_input() {
    local before err words ok=0 h
    trig "create mb kmalloc 64 2" >/dev/null || { echo "# create mb refused"; return 1; }
    before=$(trig_state)
    while IFS='|' read -r err words; do
        trig_fails "$err" "$words" || ok=1
    done <<EOF
$EINVAL|frob mb
$EINVAL|create
$EINVAL|create mx slab
$EINVAL|create mx slab 64
$EINVAL|create mx slab 64 8 9
$EINVAL|create mx bogus 64 8
$EINVAL|create mx slab abc 8
$EINVAL|create mx pages 0 -1
$EINVAL|alloc mb
$EINVAL|alloc mb x
$EINVAL|alloc mb -1
$EINVAL|alloc mb 1 sometimes
$EINVAL|alloc mb 1 atomic extra
$EINVAL|free mb
$EINVAL|free mb 1 2
$EINVAL|drain
$EINVAL|drain mb extra
$EINVAL|release mb extra
$EINVAL|resize mb
$EINVAL|resize mb 4 5
$EINVAL|destroy mb extra
$ERANGE|create mx slab 64 0
$ERANGE|create mx slab 64 4097
$ERANGE|create mx slab 0 8
$ERANGE|create mx slab 8193 8
$ERANGE|create mx pages 11 8
$ERANGE|create mx kmalloc 0 8
$ERANGE|create mx kmalloc 4194305 8
$ERANGE|alloc mb 0
$ERANGE|alloc mb 100001
$ERANGE|free mb 1
$ERANGE|resize mb 0
$ERANGE|resize mb 4097
$ENOENT|alloc nopool 1
$ENOENT|free nopool 1
$ENOENT|drain nopool
$ENOENT|release nopool
$ENOENT|resize nopool 4
$ENOENT|destroy nopool
$EEXIST|create ms slab 64 8
$EEXIST|create mp kmalloc 64 8
EOF
    [ "$(trig_state)" = "$before" ] || { echo "# a refused write changed something:"; diff <(echo "$before") <(trig_state) | sed 's/^/#   /'; ok=1; }
    # Undo what was wrongly taken.
    h=$(held mb) && [ "${h% *}" -gt 0 ] && trig "free mb ${h% *}" >/dev/null
    trig "destroy mb" >/dev/null || ok=1
    held mx >/dev/null && trig "destroy mx" >/dev/null
    return $ok
}
check "bad trigger input: EINVAL, ERANGE, ENOENT, EEXIST, and nothing changes" bad_input

# The arenas capped at what they hold and the backings drained: only the
# reserves serve.
exhaust() {
    local p ok=0 d
    cap_arenas || return 1
    for p in ms mp; do
        trig "drain $p" >/dev/null || { echo "# drain $p refused"; ok=1; }
    done
    echo "# drained: ms $(held ms | cut -d' ' -f2), mp $(held mp | cut -d' ' -f2)"
    d=$(held ms) && [ "${d#* }" -gt 0 ] || { echo "# drain ms took nothing"; ok=1; }
    return $ok
}

reserve_serves() {
    local p err ok=0
    exhaust || return 1
    for p in ms mp; do
        mpbase $p || return 1
        trig "alloc $p $MIN atomic" >/dev/null || { echo "# alloc $p $MIN atomic refused"; ok=1; }
        mpwant $p curr_nr=0 out=$MIN reserve_allocs=+$MIN backing_allocs=+0 atomic_failures=+0 || ok=1
        err=$(trig "alloc $p 1 atomic") && { echo "# alloc $p 1 atomic succeeded with the reserve empty"; ok=1; }
        [ "$err" = "$ENOMEM" ] || { echo "# alloc $p 1 atomic: '$err', want '$ENOMEM'"; ok=1; }
        mpwant $p atomic_failures=+1 curr_nr=0 && held_is $p $MIN || ok=1
    done
    return $ok
}
check "backing drained: exactly min_nr atomic allocs from the reserve, then ENOMEM (atomic_failures)" reserve_serves

sleeping_alloc() {
    local pid st=/tmp/rkmem-mempool-sleep t0 t1 i ok=0
    mpbase ms || return 1
    rm -f $st
    ( trig "alloc ms 1" >/dev/null; echo $? > $st ) &
    pid=$!
    # It sleeps once its write reached the pool (forks are slow under TCG).
    for ((i = 0; i < 100; i++)); do
        mpget ms && [ "${M[waits]}" != "${B[waits]}" ] && break
        [ -e $st ] && break
        sleep 0.1
    done
    sleep 1.5
    if [ -e $st ] || ! kill -0 $pid 2>/dev/null; then
        echo "# the sleeping alloc returned (status '$(cat $st 2>/dev/null)')"
        ok=1
    fi
    echo "# blocked: $(grep '^ms ' "$MPF")"
    mpwant ms waits=+1 wakeups=+0 timeouts=+0 curr_nr=0 || ok=1
    t0=$(date +%s%N)
    trig "free ms 1" >/dev/null || { echo "# free ms 1 refused"; ok=1; }
    for ((i = 0; i < 200; i++)); do
        [ -e $st ] && break
        sleep 0.1
    done
    t1=$(date +%s%N)
    if [ ! -e $st ]; then
        echo "# the sleeping alloc did not return within 20 s of the free"
        # Let its next try of the backing (every 5 s) succeed.
        trig "release ms" >/dev/null
        for ((i = 0; i < 150; i++)); do [ -e $st ] && break; sleep 0.1; done
        wait $pid 2>/dev/null
        return 1
    fi
    wait $pid
    # wakeups=+1 and timeouts=+0: the free ended the sleep, not the 5 s
    # timeout (the time seen here includes the shell's forks).
    echo "# the alloc returned $(( (t1 - t0) / 1000000 )) ms after the free, status $(cat $st)"
    [ "$(cat $st)" = 0 ] || ok=1
    mpwant ms waits=+1 wakeups=+1 timeouts=+0 reserve_frees=+1 curr_nr=0 && held_is ms $MIN || ok=1
    return $ok
}
check "a sleeping alloc waits (waits=1) until a free wakes it (wakeups) well before the 5 s timeout" sleeping_alloc

refill_first() {
    local p ok=0
    for p in ms mp; do
        mpbase $p || return 1
        trig "free $p $MIN" >/dev/null || { echo "# free $p $MIN refused"; ok=1; }
        mpwant $p curr_nr=$MIN out=0 reserve_frees=+$MIN backing_frees=+0 && held_is $p 0 || ok=1
        trig "release $p" >/dev/null || { echo "# release $p refused"; ok=1; }
        [ "$(held $p)" = "0 0" ] || { echo "# $p after release: '$(held $p)'"; ok=1; }
    done
    uncap_arenas
    # The backing serves again: it goes first, the reserve stays full.
    mpbase ms || return 1
    trig "alloc ms 4" >/dev/null && trig "alloc ms 2 atomic" >/dev/null || { echo "# allocs after release refused"; return 1; }
    mpwant ms curr_nr=$MIN out=6 backing_allocs=+6 reserve_allocs=+0 || ok=1
    trig "free ms 6" >/dev/null || return 1
    mpwant ms curr_nr=$MIN out=0 backing_frees=+6 reserve_frees=+0 || ok=1
    return $ok
}
check "frees refill the reserve first (reserve_frees) up to min_nr, then go to the backing" refill_first

resize_in_use() {
    local ok=0 err
    trig "alloc ms 5" >/dev/null || return 1
    mpbase ms || return 1
    trig "resize ms 12" >/dev/null || { echo "# resize ms 12 refused"; return 1; }
    mpwant ms min_nr=12 curr_nr=12 out=5 || ok=1
    trig "resize ms 3" >/dev/null || { echo "# resize ms 3 refused"; return 1; }
    mpwant ms min_nr=3 curr_nr=3 out=5 && held_is ms 5 || ok=1
    mpbase ms
    trig "free ms 5" >/dev/null && mpwant ms curr_nr=3 out=0 backing_frees=+5 reserve_frees=+0 || ok=1
    # Shrink and grow while the reserve is in use and the backing is dry.
    exhaust || ok=1
    trig "alloc ms 3 atomic" >/dev/null && mpwant ms curr_nr=0 out=3 || ok=1
    mpbase ms
    err=$(trig "resize ms 6")
    echo "# resize ms 6 with the backing dry and 3 out: '${err:-ok}': $(grep '^ms ' "$MPF")"
    [ -z "$err" ] || [ "$err" = "$ENOMEM" ] || ok=1
    mpwant ms curr_nr=0 out=3 || ok=1
    trig "free ms 3" >/dev/null && mpwant ms curr_nr=3 out=0 reserve_frees=+3 backing_frees=+0 || ok=1
    trig "resize ms 1" >/dev/null && mpwant ms min_nr=1 curr_nr=1 || ok=1
    trig "release ms" >/dev/null && trig "release mp" >/dev/null || ok=1
    uncap_arenas
    trig "resize ms $MIN" >/dev/null && mpwant ms min_nr=$MIN curr_nr=$MIN out=0 && held_is ms 0 || ok=1
    return $ok
}
check "resize up and down with elements out and with the reserve in use: nothing lost" resize_in_use

destroy_out() {
    local ok=0 h
    kmsg_mark
    trig "alloc mp 3" >/dev/null || return 1
    trig "destroy mp" >/dev/null || { echo "# destroy mp refused"; return 1; }
    destroy_warned mp 3 || ok=1
    mpwant mp destroyed=1 out=3 || ok=1
    h=$(held mp) && [ "${h% *}" = 3 ] || { echo "# trigger after destroy: '$h'"; ok=1; }
    trig "free mp 3" >/dev/null || { echo "# free on the destroyed pool refused"; ok=1; }
    if mpget mp; then
        echo "# after the frees: $(grep '^mp ' "$MPF")"
        [ "${M[out]}" = 0 ] || ok=1
    fi
    if h=$(held mp); then [ "${h% *}" = 0 ] || ok=1; fi
    # A slab pool with nothing out: gone at once with its cache, no warning.
    kmsg_mark
    trig "destroy ms" >/dev/null || ok=1
    ! mpget ms && ! held ms >/dev/null && [ ! -e "$S/mempool-ms" ] || { echo "# ms or mempool-ms still there"; ok=1; }
    [ -z "$(kmsg | grep 'rkmem: mempool_destroy')" ] || ok=1
    no_splat || ok=1
    return $ok
}
check "destroy with 3 elements out: warned with the count, listed destroyed, the frees still work" destroy_out

client_basic() {
    local ok=0
    load_client "$MEMPOOL_CLIENT" "rkmem_mempool_client|rkmem: mempool_destroy" || return 1
    kmsg | grep -q "rkmem_mempool_client: 0 checks failed" || ok=1
    # Its semantic checks destroy one pool with 3 elements out.
    destroy_warned '.+' 3 || ok=1
    rmmod rkmem_mempool_client || return 1
    no_out_pools && lines_ok && no_splat || ok=1
    return $ok
}
check "the C client: semantics on a custom backing, slab/kmalloc/page pools (0 checks failed)" client_basic

client_leak() {
    local ok=0 l
    load_client "$MEMPOOL_CLIENT" "rkmem_mempool_client|rkmem: mempool_destroy" leakpool=1 || return 1
    kmsg | grep -q "rkmem_mempool_client: 0 checks failed" || ok=1
    destroy_warned '.+' 10 || ok=1
    l=$(grep ' backing=kmalloc:64 ' "$MPF" | grep ' destroyed$')
    echo "# $l"
    [[ $l == *" out=10 "* ]] || ok=1
    rmmod rkmem_mempool_client || return 1
    echo "# after the client's unload: $(grep ' backing=kmalloc:64 ' "$MPF")"
    no_out_pools && no_splat || ok=1
    return $ok
}
check "a client destroying a pool with 10 elements out: warned, listed destroyed, freed at its unload" client_leak

nothing_left() {
    local l
    # Destroyed pools stay listed (until unload), with nothing out.
    l=$(grep -v ' held=0 drained=0 destroyed$' "$TRIG")
    [ -z "$l" ] || { echo "# trigger pools left:"; sed 's/^/#   /' <<<"$l"; return 1; }
    [ ! -e "$S/mempool-ms" ] || { echo "# mempool-ms is still there"; return 1; }
    no_out_pools && lines_ok && no_slab_bug || return 1
    reset_rkmem
    all_blocks_return
}
check "afterwards: nothing out, every block goes back" nothing_left

after_unload_pools() {
    # Trigger pools left behind at unload: reported, their reserve returned.
    trig "create ml kmalloc 512 4" >/dev/null && trig "create mq pages 1 4" >/dev/null &&
    trig "alloc ml 2" >/dev/null || return 1
    grep -E '^(ml|mq) ' "$MPF" | sed 's/^/# /'
}
check "two trigger pools left for the unload, one with elements held" after_unload_pools

unload_reports() {
    unload_accounted || return 1
    kmsg | grep -i "mempool" | sed 's/^/# /'
    no_splat
}
check "unload: every block accounted for" unload_reports
check "reload" insmod "$RKMEM_KO"

mempool_files_fresh() {
    [ -e "$MPF" ] && [ -z "$(cat "$TRIG")" ] && lines_ok
}
check "after the reload: the mempool files, no trigger pool" mempool_files_fresh

ktap_finished
