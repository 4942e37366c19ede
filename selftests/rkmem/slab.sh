#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's object caches through debugfs: slabinfo as the host prints it, the
# per-cache files, caches made and used through the slab_test trigger,
# empty slabs back to the buddy (per-cache and global shrink, the host
# shrinker), the cache knobs, validate, the SLUB statistics, and a cache
# destroyed with live objects.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slab_lib.sh"
# NF: the far node N1, or N0 on one node.
NF=${N1:-$N0}

ktap_print_header
ktap_set_plan 17
slab_client_gone
reset_rkmem
slab_debug_set - || echo "# cannot set slab_debug to '-'"

CLASSES="8 16 32 64 96 128 192 256 512 1024 2048 4096 8192"
NUMBER_FILES="object_size slab_size align order objs_per_slab ctor red_zone poison store_user sanity_checks corruptions meta_bytes"
NODE_FILES="objects partial slabs total_objects"
STATS="alloc_fastpath alloc_slowpath free_fastpath free_slowpath free_frozen free_add_partial
free_remove_partial alloc_from_partial alloc_slab alloc_refill alloc_node_mismatch free_slab
cpuslab_flush deactivate_full deactivate_empty deactivate_remote_frees cpu_partial_alloc
cpu_partial_free cpu_partial_node cpu_partial_drain"
CPU_FILES="cpu_slabs $STATS"
KNOBS="min_partial cpu_partial shrink validate"

# The host's row format (mm/slab_common.c, cache_show()).
# (awk's printf has no length modifiers: %6d for %6lu.)
ROW_FMT='%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : slabdata %6d %6d %6d\n'

# same_widths FILE: every row of one snapshot of FILE prints the same again
# with the host's format.
same_widths() {
    local snap
    snap=$(tail -n +3 "$1")
    diff <(awk -v fmt="$ROW_FMT" '{ printf fmt, $1, $2, $3, $4, $5, $6, $9, $10, $11, $14, $15, $16 }' <<<"$snap") \
        <(echo "$snap") | sed 's/^/#   /'
    return "${PIPESTATUS[0]}"
}

slabinfo_format() {
    local hdr nf bad c
    hdr=$(head -2 /proc/slabinfo)
    [ "$(head -2 "$D/slabinfo")" = "$hdr" ] ||
        { echo "# header differs from the host's:"; diff <(echo "$hdr") <(head -2 "$D/slabinfo") | sed 's/^/#   /'; return 1; }
    nf=$(awk 'NR > 2 { print NF }' /proc/slabinfo | sort -u)
    echo "# host rows have $nf columns; rkmem has $(($(wc -l < "$D/slabinfo") - 2)) rows"
    bad=$(awk -v nf="$nf" 'NR > 2 && NF != nf' "$D/slabinfo")
    [ -z "$bad" ] || { echo "# rows without $nf columns:"; sed 's/^/#   /' <<<"$bad"; return 1; }
    # Widths: the rows print the same again with the host's format (which
    # the host's own rows pass, else this check is wrong).
    same_widths /proc/slabinfo >/dev/null || { echo "# the host's rows do not match ROW_FMT"; return 1; }
    same_widths "$D/slabinfo" || return 1
    for c in $CLASSES; do
        [ "$(slabinfo_col "kmalloc-$c" 4)" = "$c" ] ||
            { echo "# kmalloc-$c: objsize '$(slabinfo_col "kmalloc-$c" 4)'"; return 1; }
    done
    # One row per cache directory, and the other way round.
    [ "$(awk 'NR > 2 { print $1 }' "$D/slabinfo" | sort)" = "$(caches | sort)" ] ||
        { echo "# slabinfo rows and slab/ directories differ"; return 1; }
}
check "slabinfo: the host's header, columns and widths; a row per kmalloc class" slabinfo_format

# (Forks are slow in the VM: the per-file checks below use bash builtins.)

# row_agrees CACHE: the slabinfo row says what the cache's files say.
row_agrees() {
    local c=$1 name a n size per pages rest got want sz op order total slabs
    while read -r name a n size per pages rest; do
        [ "$name" = "$c" ] && break
    done < "$D/slabinfo"
    [ "$name" = "$c" ] || { echo "# no slabinfo row for $c"; return 1; }
    read -r -a rest <<<"$rest" # : tunables L B S : slabdata ACTIVE NUM AVAIL
    got="$size $per $pages $n ${rest[8]}"
    read -r sz _ < "$S/$c/slab_size"
    read -r op _ < "$S/$c/objs_per_slab"
    read -r order _ < "$S/$c/order"
    read -r total _ < "$S/$c/total_objects"
    read -r slabs _ < "$S/$c/slabs"
    want="$sz $op $((1 << order)) $total $slabs"
    [ "$got" = "$want" ] || { echo "# $c: slabinfo objsize objperslab pagesperslab num_objs num_slabs '$got', files '$want'"; return 1; }
}

# parts_ok CACHE FILE LETTER: "N L0=x L1=y", nonzero parts only, summing to N.
parts_ok() {
    local v w s=0
    read -r v < "$S/$1/$2"
    [[ $v =~ ^[0-9]+(\ $3[0-9]+=[1-9][0-9]*)*$ ]] || { echo "# $1/$2: '$v'"; return 1; }
    for w in ${v#* }; do [[ $w == *=* ]] && s=$((s + ${w#*=})); done
    [ "$s" = "${v%% *}" ] || { echo "# $1/$2: '$v': the parts sum to $s"; return 1; }
}

# files_ok CACHE: every file is there, root-only, and reads as documented.
files_ok() {
    local c=$1 f v mode path ok=0
    declare -A modes=()
    while read -r mode path; do modes[${path##*/}]=$mode; done < <(stat -c '%a %n' "$S/$c"/*)
    for f in $NUMBER_FILES $NODE_FILES $CPU_FILES $KNOBS; do
        mode=${modes[$f]:-}
        [ -n "$mode" ] || { echo "# $c: no $f"; ok=1; continue; }
        case " $KNOBS " in
        *" $f "*) [[ $mode == [26]00 ]] || { echo "# $c/$f: mode $mode (a knob)"; ok=1; } ;;
        *) [ "$mode" = 400 ] || { echo "# $c/$f: mode $mode (read-only)"; ok=1; } ;;
        esac
    done
    [ $ok = 0 ] || return 1
    for f in $NUMBER_FILES min_partial cpu_partial; do
        read -r v < "$S/$c/$f"
        [[ $v =~ ^[0-9]+$ ]] || { echo "# $c/$f: '$v'"; ok=1; }
    done
    for f in $NODE_FILES; do parts_ok "$c" "$f" N || ok=1; done
    for f in $CPU_FILES; do parts_ok "$c" "$f" C || ok=1; done
    return $ok
}

slab_files() {
    local c ok=0
    for c in $(caches); do
        files_ok "$c" || ok=1
        row_agrees "$c" || ok=1
    done
    return $ok
}
check "slab/<cache>/: every file, root-only, numbers, node and CPU sums; slabinfo agrees" slab_files

# NAME SIZE ALIGN FLAGS -> the align file (H: SLAB_HWCACHE_ALIGN, the
# host's cache line halved while the object fits in half)
TEST_CACHES="slabt-64 64 0 - 8
slabt-1 1 0 - 8
slabt-h24 24 0 H 32
slabt-h100 100 0 H 64
slabt-a128 100 128 - 128
slabt-4k 3000 4096 - 4096"

create_caches() {
    local name size align flags want s o n
    while read -r name size align flags want; do
        knob slab_test "create $name $size $align $flags" >/dev/null || { echo "# create $name refused"; return 1; }
        [ -d "$S/$name" ] && grep -qx "$name held=0" "$D/slab_test" &&
        [ -n "$(slabinfo_col "$name" 1)" ] || { echo "# $name: no directory, trigger line or slabinfo row"; return 1; }
        s=$(sval "$name" slab_size) o=$(sval "$name" order) n=$(sval "$name" objs_per_slab)
        echo "# $name: object_size $(sval "$name" object_size) align $(sval "$name" align) slab_size $s order $o objs_per_slab $n"
        [ "$(sval "$name" object_size)" = "$size" ] && [ "$(sval "$name" align)" = "$want" ] &&
        [ "$s" -ge "$size" ] && [ $((s % want)) = 0 ] && [ "$n" -ge 1 ] &&
        [ $((n * s)) -le $((4096 << o)) ] && [ $(((n + 1) * s)) -gt $((4096 << o)) ] || return 1
        [ "$(cat "$S/$name/ctor") $(cat "$S/$name/red_zone") $(cat "$S/$name/poison") $(cat "$S/$name/store_user") $(cat "$S/$name/sanity_checks")" = "0 0 0 0 0" ] ||
            { echo "# $name: ctor red_zone poison store_user sanity_checks not all 0"; return 1; }
    done <<<"$TEST_CACHES"
}
check "slab_test create: directory, slabinfo row, size, alignment, objects per slab" create_caches
defaults_min=$(cat "$S/slabt-64/min_partial" 2>/dev/null) defaults_cpu=$(cat "$S/slabt-64/cpu_partial" 2>/dev/null)

trigger_errors() {
    knob_fails slab_test "$EINVAL" "frob slabt-64" &&
    knob_fails slab_test "$EINVAL" "create slabt-x abc 0 -" &&
    knob_fails slab_test "$EINVAL" "create slabt-x 64 0 Q" &&
    knob_fails slab_test "$EINVAL" "create slabt-x 64 0" &&
    knob_fails slab_test "$EINVAL" "alloc slabt-64 many" &&
    knob_fails slab_test "$EEXIST" "create slabt-64 64 0 -" &&
    knob_fails slab_test "$ENOENT" "alloc slabt-none 1" &&
    knob_fails slab_test "$ENOENT" "free slabt-none 1" &&
    knob_fails slab_test "$ENOENT" "destroy slabt-none" &&
    knob_fails slab_test "$ENOENT" "leak slabt-none" || return 1
    [ ! -e "$S/slabt-x" ] && [ ! -e "$S/slabt-none" ] && grep -qx "slabt-64 held=0" "$D/slab_test"
}
check "slab_test: bad commands EINVAL, unknown cache ENOENT, a taken name EEXIST" trigger_errors

alloc_raises() {
    local n s o
    n=$(sval slabt-64 objs_per_slab)
    on_cpu "$C0" knob slab_test "alloc slabt-64 500" >/dev/null || return 1
    on_cpu "$C0" knob slab_test "alloc slabt-64 200 $NF" >/dev/null || return 1
    s=$(sval slabt-64 slabs) o=$(sval slabt-64 objects)
    echo "# 700 held ($n per slab): objects '$(cat "$S/slabt-64/objects")' slabs '$(cat "$S/slabt-64/slabs")' total_objects '$(cat "$S/slabt-64/total_objects")'"
    grep -qx "slabt-64 held=700" "$D/slab_test" &&
    [ "$o" -ge 700 ] && [ "$s" -ge $(((700 + n - 1) / n)) ] &&
    [ "$(sval slabt-64 total_objects)" = $((s * n)) ] &&
    [ "$(snode slabt-64 objects "$NF")" -ge 200 ] && [ "$(snode slabt-64 slabs "$NF")" -ge $(((200 + n - 1) / n)) ] &&
    [ "$(slabinfo_col slabt-64 2)" -ge 700 ] && row_agrees slabt-64
}
check "slab_test alloc raises objects and slabs (per node too), slabinfo follows" alloc_raises

# buddy_pages: rkmem's free pages, in the buddy or on per-CPU lists.
buddy_pages() { echo $(($(zsum free_pages) + $(zsum pcp_pages))); }

cache_shrink() {
    local s0 b0 o
    # Empty slabs stay on the node lists up to min_partial: keep them all.
    knob slab/slabt-64/min_partial 100 >/dev/null && on_cpu "$C0" knob slab_test "free slabt-64 700" >/dev/null || return 1
    s0=$(sval slabt-64 slabs) b0=$(buddy_pages) o=$(sval slabt-64 order)
    echo "# all freed: $s0 slabs of order $o left, $b0 free pages"
    [ "$s0" -ge 2 ] || { echo "# the empty slabs were not kept (min_partial 100)"; return 1; }
    knob slab/slabt-64/shrink 1 >/dev/null || return 1
    echo "# after shrink: slabs '$(cat "$S/slabt-64/slabs")' objects '$(cat "$S/slabt-64/objects")' free pages $(buddy_pages)"
    [ "$(sval slabt-64 slabs)" = 0 ] && [ "$(sval slabt-64 total_objects)" = 0 ] &&
    [ "$(sval slabt-64 objects)" = 0 ] && [ "$(sval slabt-64 partial)" = 0 ] &&
    [ "$(buddy_pages)" -ge $((b0 + (s0 << o))) ] && row_agrees slabt-64
}
check "shrink knob of a cache: its empty slabs go back to the buddy" cache_shrink

global_shrink() {
    local s1 b1
    knob slab_test "alloc slabt-64 700 $NF" >/dev/null && knob slab_test "alloc slabt-4k 20" >/dev/null &&
    knob slab_test "free slabt-64 700" >/dev/null && knob slab_test "free slabt-4k 20" >/dev/null || return 1
    s1=$(snode slabt-64 slabs "$NF") b1=$(zsum blocks)
    echo "# empty slabs kept: slabt-64 $s1 on node $NF, slabt-4k $(sval slabt-4k slabs); $b1 blocks held"
    [ "$s1" -gt 0 ] || return 1
    all_blocks_return || return 1
    [ "$(sval slabt-64 slabs)" = 0 ] && [ "$(sval slabt-4k slabs)" = 0 ]
}
check "global shrink: every cache's empty slabs, then every block, back to the host" global_shrink

host_shrinker() {
    local dir s0 s1
    dir=$(ls -d /sys/kernel/debug/shrinker/rkmem-* 2>/dev/null | head -1)
    [ -n "$dir" ] || { echo "# no rkmem shrinker in /sys/kernel/debug/shrinker"; return 1; }
    on_cpu "${C1:-$C0}" knob slab_test "alloc slabt-64 700 $NF" >/dev/null && on_cpu "${C1:-$C0}" knob slab_test "free slabt-64 700" >/dev/null || return 1
    s0=$(snode slabt-64 slabs "$NF")
    echo "# before a scan of node $NF: slabt-64 has $s0 slabs there, node $NF Normal $(zinfo "$NF" Normal blocks) blocks"
    [ "$s0" -gt 2 ] || return 1
    echo "0 $NF 100000" > "$dir/scan" || return 1
    s1=$(snode slabt-64 slabs "$NF")
    echo "# after: $s1 slabs, $(zinfo "$NF" Normal blocks) blocks; the CPUs hold '$(cat "$S/slabt-64/cpu_slabs")'"
    # The CPUs' slabs may stay: current ones and their partial lists (up
    # to cpu_partial_slabs each; the last one a free took stays there).
    [ "$s1" -le "$(sval slabt-64 cpu_slabs)" ]
}
check "the host shrinker reaches empty slabs of its node" host_shrinker
knob slab/slabt-64/min_partial "$defaults_min" >/dev/null

good_knobs() {
    local f v
    for f in min_partial cpu_partial; do
        for v in 0 $([ $f = min_partial ] && echo 1024 || echo 10000) 7; do
            knob "slab/slabt-64/$f" "$v" >/dev/null && [ "$(cat "$S/slabt-64/$f")" = "$v" ] ||
                { echo "# $f $v: read back '$(cat "$S/slabt-64/$f")'"; return 1; }
        done
    done
    knob slab/slabt-64/min_partial "$defaults_min" >/dev/null &&
    knob slab/slabt-64/cpu_partial "$defaults_cpu" >/dev/null &&
    knob slab/slabt-64/shrink 1 >/dev/null && knob slab/slabt-64/validate 1 >/dev/null || return 1
    # A debug cache has no per-CPU partial slabs.
    knob slab_test "create slabt-dbg 64 0 F" >/dev/null || return 1
    echo "# slabt-dbg (F): sanity_checks $(cat "$S/slabt-dbg/sanity_checks"), cpu_partial $(cat "$S/slabt-dbg/cpu_partial")"
    [ "$(cat "$S/slabt-dbg/sanity_checks")" = 1 ] && [ "$(cat "$S/slabt-dbg/cpu_partial")" = 0 ] &&
    knob slab/slabt-dbg/cpu_partial 0 >/dev/null && knob_fails slab/slabt-dbg/cpu_partial "$EINVAL" 5 &&
    [ "$(cat "$S/slabt-dbg/cpu_partial")" = 0 ]
}
check "knobs take good values (min_partial, cpu_partial, shrink, validate)" good_knobs

knob_state() { cat "$S/slabt-64/min_partial" "$S/slabt-64/cpu_partial" "$S/slabt-64/slabs" "$S/slabt-64/validate"; }

bad_knobs() {
    local before file err words
    knob slab_test "alloc slabt-64 100" >/dev/null && knob slab/slabt-64/validate 1 >/dev/null || return 1
    before=$(knob_state)
    while IFS='|' read -r file err words; do
        knob_fails "slab/slabt-64/$file" "$err" "$words" || return 1
        [ "$(knob_state)" = "$before" ] || { echo "# '$words' to $file changed something"; return 1; }
    done <<EOF
min_partial|$EINVAL|abc
min_partial|$EINVAL|-1
min_partial|$EINVAL|5 6
min_partial|$EINVAL|
min_partial|$ERANGE|1025
min_partial|$ERANGE|99999999999999999999
cpu_partial|$EINVAL|x
cpu_partial|$EINVAL|-1
cpu_partial|$ERANGE|10001
shrink|$EINVAL|0
shrink|$EINVAL|2
shrink|$EINVAL|all
validate|$EINVAL|0
validate|$EINVAL|yes
EOF
}
check "knobs refuse bad input (EINVAL, ERANGE) and keep their value" bad_knobs

validate_healthy() {
    local out
    out=$(validate slabt-64) || { echo "# slabt-64: $out"; return 1; }
    echo "# slabt-64 with 100 objects held: $out"
    validate_all && [ "$(sval slabt-64 corruptions)" = 0 ]
}
check "validate: errors=0 on every cache" validate_healthy

stats_fastpath() {
    local af as ff fs c1 i
    knob slab_test "free slabt-64 100" >/dev/null || return 1
    on_cpu "$C0" knob slab_test "alloc slabt-64 20" >/dev/null && on_cpu "$C0" knob slab_test "free slabt-64 20" >/dev/null || return 1
    af=$(sval slabt-64 alloc_fastpath) as=$(sval slabt-64 alloc_slowpath)
    ff=$(sval slabt-64 free_fastpath) fs=$(sval slabt-64 free_slowpath) c1=$(scpu slabt-64 alloc_fastpath "$C1")
    for i in 1 2 3 4 5 6 7 8 9 10; do
        on_cpu "$C0" knob slab_test "alloc slabt-64 20" >/dev/null && on_cpu "$C0" knob slab_test "free slabt-64 20" >/dev/null || return 1
    done
    af=$(($(sval slabt-64 alloc_fastpath) - af)) as=$(($(sval slabt-64 alloc_slowpath) - as))
    ff=$(($(sval slabt-64 free_fastpath) - ff)) fs=$(($(sval slabt-64 free_slowpath) - fs))
    echo "# 200 allocs and frees on CPU $C0: alloc_fastpath +$af alloc_slowpath +$as free_fastpath +$ff free_slowpath +$fs ; CPU $C1 alloc_fastpath +$(($(scpu slabt-64 alloc_fastpath "$C1") - c1))"
    [ $((af + as)) = 200 ] && [ "$af" -ge 150 ] && [ $((ff + fs)) = 200 ] && [ "$ff" -ge 150 ] &&
    [ "$(scpu slabt-64 alloc_fastpath "$C1")" = "$c1" ]
}
check_if c1 "stats: a simple alloc/free loop on one CPU runs on the fast paths" stats_fastpath

ONLINE1=/sys/devices/system/cpu/cpu${C1:-1}/online

cpu_offline_body() {
    local c1
    [ -w "$ONLINE1" ] || { echo "# $ONLINE1 is not writable"; return 1; }
    knob slab_test "create slabt-cpu 64 0 -" >/dev/null && on_cpu "$C1" knob slab_test "alloc slabt-cpu 100" >/dev/null &&
    on_cpu "$C1" knob slab_test "free slabt-cpu 60" >/dev/null || return 1
    echo "# CPU $C1 used slabt-cpu: cpu_slabs '$(cat "$S/slabt-cpu/cpu_slabs")'"
    [ "$(scpu slabt-cpu cpu_slabs "$C1")" -gt 0 ] || return 1
    echo 0 > "$ONLINE1" || { echo "# cannot offline CPU $C1"; return 1; }
    c1=$(scpu slabt-cpu cpu_slabs "$C1")
    echo "# CPU $C1 offline: cpu_slabs '$(cat "$S/slabt-cpu/cpu_slabs")'"
    echo 1 > "$ONLINE1" || { echo "# cannot online CPU $C1"; return 1; }
    # Its 40 objects are still there; freed on CPU C0, the cache empties.
    [ "$c1" = 0 ] && [ "$(sval slabt-cpu objects)" -ge 40 ] &&
    on_cpu "$C0" knob slab_test "destroy slabt-cpu" >/dev/null && [ ! -e "$S/slabt-cpu" ]
}
cpu_offline_flushes() {
    local status
    kmsg_mark
    cpu_offline_body
    status=$?
    [ "$(cat "$ONLINE1" 2>/dev/null)" = 0 ] && { echo 1 > "$ONLINE1" || status=1; }
    knob slab_test "destroy slabt-cpu" >/dev/null 2>&1
    no_destroy_warning || status=1
    return $status
}
check_if c1 "taking CPU C1 offline flushes its CPU slabs; nothing is lost" cpu_offline_flushes

destroy_caches() {
    local name ok=0
    kmsg_mark
    knob slab_test "alloc slabt-h100 30" >/dev/null || return 1
    while read -r name _; do
        knob slab_test "destroy $name" >/dev/null || { echo "# destroy $name refused"; ok=1; continue; }
        [ ! -e "$S/$name" ] && [ -z "$(slabinfo_col "$name" 1)" ] && ! grep -q "^$name " "$D/slab_test" ||
            { echo "# $name still listed"; ok=1; }
    done < <(echo "$TEST_CACHES"; echo "slabt-dbg")
    no_destroy_warning && return $ok
}
check "slab_test destroy (with held objects freed first): the cache is gone, no warning" destroy_caches

leak_destroy() {
    kmsg_mark
    knob slab_test "create slabt-leak 128 0 -" >/dev/null && knob slab_test "alloc slabt-leak 10" >/dev/null &&
    knob slab_test "leak slabt-leak" >/dev/null || return 1
    kmsg | grep "kmem_cache_destroy" | sed 's/^/# /'
    echo "# slabt-leak after the leak: objects '$(cat "$S/slabt-leak/objects" 2>&1)' slabs '$(cat "$S/slabt-leak/slabs" 2>&1)'"
    kmsg | grep -q "rkmem: kmem_cache_destroy slabt-leak: Slab cache still has objects: 10" &&
    ! grep -q "^slabt-leak " "$D/slab_test" && [ -n "$(slabinfo_col slabt-leak 1)" ] &&
    [ "$(sval slabt-leak objects)" = 10 ] && [ "$(sval slabt-leak slabs)" -ge 1 ] && no_splat
}
check "destroy with 10 live objects: reported with the count, the cache stays listed" leak_destroy

check "unload with a leaked cache: its slab's block kept, every block accounted for" unload_accounted
check "reload" insmod "$RKMEM_KO"

ktap_finished
