#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's slab debugging: the slab_debug knob and the flags it gives new
# caches; healthy debug caches validate clean; and each kind of corruption
# a client makes (selftests/rkmem/slab_client corrupt=KIND) is caught: one
# SLUB-style "rkmem: BUG <cache>: <what>" report, the cache's corruptions
# counter goes up, and rkmem keeps working without handing the object out
# again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slab_lib.sh"

ktap_print_header
ktap_set_plan 24

check "fresh rkmem (slab_debug '-', only the kmalloc caches)" fresh_rkmem
reset_rkmem

# letters: the letters of the slab_debug knob, sorted ("-" for none).
letters() { grep -o . "$D/slab_debug" | sort | tr -d '\n'; }

debug_knob() {
    local w want
    [ "$(cat "$D/slab_debug")" = - ] || { echo "# slab_debug after load: '$(cat "$D/slab_debug")'"; return 1; }
    for w in F Z P U ZP PZ FZPU UPZF -; do
        knob slab_debug "$w" >/dev/null || { echo "# '$w' refused"; return 1; }
        want=$(grep -o . <<<"$w" | sort | tr -d '\n')
        [ "$(letters)" = "$want" ] || { echo "# wrote '$w', reads '$(cat "$D/slab_debug")'"; return 1; }
    done
    knob slab_debug ZP >/dev/null || return 1
    knob_fails slab_debug "$EINVAL" ZX && knob_fails slab_debug "$EINVAL" q &&
    knob_fails slab_debug "$EINVAL" "Z P" && [ "$(letters)" = PZ ] || { echo "# slab_debug now '$(cat "$D/slab_debug")'"; return 1; }
}
check "slab_debug: F Z P U and - accepted, a bad letter EINVAL and unchanged" debug_knob

# flags CACHE: "red_zone poison store_user sanity_checks".
flags() {
    local f out=
    for f in red_zone poison store_user sanity_checks; do out+="$(cat "$S/$1/$f") "; done
    echo "${out% }"
}

new_caches_debug() {
    local got
    knob slab_debug ZP >/dev/null && knob slab_test "create slabd-zp 100 0 -" >/dev/null &&
    knob slab_debug - >/dev/null && knob slab_test "create slabd-none 100 0 -" >/dev/null &&
    knob slab_debug FZPU >/dev/null && knob slab_test "create slabd-all 100 0 -" >/dev/null &&
    knob slab_debug - >/dev/null || return 1
    echo "# red_zone poison store_user sanity_checks: slabd-zp '$(flags slabd-zp)', slabd-none '$(flags slabd-none)', slabd-all '$(flags slabd-all)'; kmalloc-64 '$(flags kmalloc-64)'"
    # (sanity_checks of a cache without F: rkmem checks every debug cache.)
    [ "$(flags slabd-zp | cut -d' ' -f1-3)" = "1 1 0" ] && [ "$(flags slabd-none)" = "0 0 0 0" ] &&
    [ "$(flags slabd-all)" = "1 1 1 1" ] && [ "$(flags kmalloc-64)" = "0 0 0 0" ] || return 1
    # Debug metadata makes the stride bigger than the object.
    got="$(sval slabd-none slab_size) $(sval slabd-zp slab_size) $(sval slabd-all slab_size)"
    echo "# slab_size none/ZP/FZPU: $got"
    [ "$(sval slabd-zp slab_size)" -gt "$(sval slabd-none slab_size)" ] &&
    [ "$(sval slabd-all slab_size)" -gt "$(sval slabd-zp slab_size)" ] &&
    [ "$(cat "$S/slabd-zp/cpu_partial")" = 0 ]
}
check "a cache created after 'echo ZP > slab_debug' has red_zone=1 poison=1; later '-' none" new_caches_debug

flags_by_trigger() {
    knob slab_test "create slabd-f 64 0 FU" >/dev/null && knob slab_test "create slabd-z 64 0 Z" >/dev/null || return 1
    echo "# slabd-f '$(flags slabd-f)', slabd-z '$(flags slabd-z)'"
    [ "$(flags slabd-f)" = "0 0 1 1" ] && [ "$(flags slabd-z | cut -d' ' -f1-3)" = "1 0 0" ]
}
check "slab_test create flags F Z P U reach the cache" flags_by_trigger

healthy_debug_caches() {
    local c out ok=0
    kmsg_mark
    for c in slabd-zp slabd-all slabd-f slabd-z; do
        on_cpu "$C0" knob slab_test "alloc $c 200" >/dev/null && on_cpu "${C1:-$C0}" knob slab_test "free $c 100" >/dev/null &&
        on_cpu "${C1:-$C0}" knob slab_test "alloc $c 50 ${N1:-$N0}" >/dev/null && on_cpu "$C0" knob slab_test "free $c 30" >/dev/null || return 1
        out=$(validate "$c") || ok=1
        echo "# $c: $out, corruptions $(sval "$c" corruptions)"
        [ "$(sval "$c" corruptions)" = 0 ] || ok=1
    done
    no_slab_bug && return $ok
}
check "debug caches in use (alloc, remote free, node N1): validate errors=0, no report" healthy_debug_caches

destroy_debug_caches() {
    local c
    kmsg_mark
    for c in slabd-zp slabd-none slabd-all slabd-f slabd-z; do
        knob slab_test "destroy $c" >/dev/null || { echo "# destroy $c refused"; return 1; }
    done
    no_slab_bug && no_destroy_warning
}
check "debug caches with held objects destroyed: no report, no warning" destroy_debug_caches

# corruption KIND "CACHE..." WHAT [DETAIL]: load the client with
# corrupt=KIND; the report "rkmem: BUG <first CACHE>: WHAT" (with DETAIL on
# that line or the next ones) and the CACHEs' corruptions counters up by at
# least one; the client's own checks (rkmem usable, the object not handed
# out again) pass; no page-level refused free; no splat.
corruption() {
    local kind=$1 caches=$2 what=$3 detail=${4:-} c n=0 status=0 bad
    bad=$(zsum bad_frees)
    slab_client corrupt="$kind" || status=1
    for c in $caches; do
        [ -d "$S/$c" ] || { echo "# no cache $c"; status=1; continue; }
        n=$((n + $(sval "$c" corruptions)))
    done
    echo "# corruptions of $caches: $n"
    kmsg | grep -A3 -F "rkmem: BUG ${caches%% *}: $what" | grep -qF -- "${detail:-$what}" ||
        { echo "# no 'rkmem: BUG ${caches%% *}: $what' report${detail:+ naming '$detail'}"; status=1; }
    [ "$n" -ge 1 ] || status=1
    [ "$(zsum bad_frees)" = "$bad" ] || { echo "# bad_frees $bad -> $(zsum bad_frees)"; status=1; }
    no_splat || status=1
    rmmod rkmem_slab_client || status=1
    return $status
}

# (ktap_test_result splits its words: one function per kind.)
redzone() { corruption redzone slabclient-redzone "Right Redzone overwritten"; }
redzone_left() { corruption redzone_left slabclient-lredzone "Left Redzone overwritten"; }
poison() { corruption poison slabclient-poison "Poison overwritten"; }
check "redzone: a byte past the object found at free" redzone
check "redzone_left: a byte before the object found at free" redzone_left
check "poison: a write after free found by the next allocation" poison

poison_validate() {
    local out status=0
    slab_client corrupt=poison_validate || status=1
    knob slab/slabclient-poisonv/validate 1 >/dev/null || status=1
    out=$(cat "$S/slabclient-poisonv/validate")
    echo "# validate: $out; corruptions $(sval slabclient-poisonv corruptions)"
    [[ $out =~ errors=[1-9] ]] && [ "$(sval slabclient-poisonv corruptions)" -ge 1 ] &&
    kmsg | grep -qF "rkmem: BUG slabclient-poisonv: Poison overwritten" || status=1
    no_splat || status=1
    rmmod rkmem_slab_client || status=1
    return $status
}
check "poison: a write after free found by validate" poison_validate

doublefree() { corruption doublefree slabclient-dfree "Object already free"; }
midfree() { corruption midfree slabclient-midfree "Invalid object pointer"; }
wrongcache() {
    corruption wrongcache "slabclient-wrong-b slabclient-wrong-a" "Wrong slab cache" "is from slabclient-wrong-a"
}
freeptr() { corruption freeptr slabclient-freeptr "Freepointer corrupt"; }
foreign() { corruption foreign slabclient-foreign "Free of memory rkmem does not own"; }
notslab() { corruption notslab slabclient-notslab "Free of an rkmem page that is no slab object"; }
check "doublefree: a second free refused" doublefree
check "midfree: a pointer into an object refused" midfree
check "wrongcache: an object freed to another cache refused, the report names its cache" wrongcache
check "freeptr: garbage over a free object's free pointer caught, never followed" freeptr
check "foreign: the host's memory freed to rkmem refused" foreign
check "notslab: an rkmem page that is no slab object freed as one refused, the page kept" notslab

still_sound() {
    local c out ok=0
    kmsg_mark
    knob slab_test "create slabd-after 256 0 -" >/dev/null && knob slab_test "alloc slabd-after 300" >/dev/null || return 1
    # (The caches destroyed with a corrupted object still hold it.)
    for c in slabd-after $(caches | grep '^kmalloc-'); do
        out=$(validate "$c") || { echo "# $c: validate: $out"; ok=1; }
    done
    knob slab_test "destroy slabd-after" >/dev/null && no_slab_bug && no_splat && return $ok
}
check "after the corruptions: a new cache works; it and the kmalloc caches validate clean" still_sound

check "unload after the corruptions: blocks of slabs with caught objects kept, every block accounted for" unload_accounted
check "reload" insmod "$RKMEM_KO"

# Plain (non-debug) caches too refuse a free that is not an object start,
# of another cache or, right after the first, a second free of the same
# object (rkmem_cache_free's contract).
midfree_fast() { corruption midfree_fast slabclient-midfast "Invalid object pointer"; }
wrongcache_fast() {
    corruption wrongcache_fast "slabclient-wrongfast-b slabclient-wrongfast-a" "Wrong slab cache" "is from slabclient-wrongfast-a"
}
doublefree_fast() { corruption doublefree_fast slabclient-dfreefast "Object already free"; }
check "midfree on a plain cache refused" midfree_fast
check "wrongcache on a plain cache refused" wrongcache_fast
check "doublefree in a row on a plain cache refused" doublefree_fast

# Caches destroyed with objects caught corrupt keep their slabs until unload.
check "unload: every block accounted for" unload_accounted
check "reload" insmod "$RKMEM_KO"

ktap_finished
