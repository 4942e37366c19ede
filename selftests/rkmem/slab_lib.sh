# SPDX-License-Identifier: GPL-2.0
# Helpers of the rkmem slab kselftests (sourced after lib.sh).

S=$D/slab
SLAB_CLIENT=$(dirname "$RKMEM_KO")/selftests/rkmem/slab_client/rkmem_slab_client.ko
EINVAL="Invalid argument"
ERANGE="Numerical result out of range"
ENOENT="No such file or directory"
EEXIST="File exists"

# sval CACHE FILE: the first number of slab/CACHE/FILE (the total).
sval() { local v; read -r v _ < "$S/$1/$2" && echo "$v"; }

# snode CACHE FILE NODE: the node's count in "N N0=x N1=y" (0 if omitted).
snode() { tr ' ' '\n' < "$S/$1/$2" | sed -n "s/^N$3=//p" | grep . || echo 0; }

# scpu CACHE STAT CPU: the CPU's count in "N C0=x C1=y" (0 if omitted).
scpu() { tr ' ' '\n' < "$S/$1/$2" | sed -n "s/^C$3=//p" | grep . || echo 0; }

# slabinfo_col NAME COLUMN: one column of the cache's row in rkmem's
# slabinfo (2 active_objs, 3 num_objs, 4 objsize, 5 objperslab,
# 6 pagesperslab, 14 active_slabs, 15 num_slabs).
slabinfo_col() { awk -v n="$1" -v c="$2" 'NR > 2 && $1 == n { print $c; exit }' "$D/slabinfo"; }

# caches: the name of every cache (the directories under slab/).
caches() { local d; for d in "$S"/*/; do d=${d%/}; echo "${d##*/}"; done; }

# validate CACHE: runs the cache's validate knob; prints its report
# ("slabs=N objects=M errors=E"); fails if the write fails or errors != 0.
validate() {
    local out
    knob "slab/$1/validate" 1 >/dev/null || { echo "# validate $1: write refused"; return 1; }
    out=$(cat "$S/$1/validate")
    echo "$out"
    [[ $out =~ ^slabs=[0-9]+\ objects=[0-9]+\ errors=0$ ]]
}

# validate_all: every cache validates with errors=0.
validate_all() {
    local c out ok=0
    for c in $(caches); do
        out=$(validate "$c") || { echo "# $c: validate: $out"; ok=1; }
    done
    return $ok
}

# slab_debug_set LETTERS: the global slab_debug knob ("-" for none).
slab_debug_set() { knob slab_debug "$1" >/dev/null && [ "$(cat "$D/slab_debug")" = "$1" ]; }

# slab_client PARAM...: load the slab client (bound to CPU $CLIENT_CPU if
# set) and show its lines; fails unless it loaded with "0 checks failed".
# It stays loaded: the caller unloads it (some checks need its caches).
slab_client() {
    load_client "$SLAB_CLIENT" "rkmem_slab_client|rkmem: (BUG|kmem_cache_destroy)" "$@" || return 1
    kmsg | grep -q "rkmem_slab_client: 0 checks failed"
}

# slab_client_gone: the slab client is not loaded (unloads it if it is).
slab_client_gone() {
    if grep -q '^rkmem_slab_client ' /proc/modules; then rmmod rkmem_slab_client || return 1; fi
}

# no_destroy_warning: no cache was destroyed with live objects since kmsg_mark.
no_destroy_warning() {
    local l
    l=$(kmsg | grep "rkmem: kmem_cache_destroy")
    [ -z "$l" ] || { sed 's/^/# /' <<<"$l"; return 1; }
}

# no_slab_bug: no "rkmem: BUG <cache>: ..." report since kmsg_mark.
no_slab_bug() {
    local l
    l=$(kmsg | grep -A3 "rkmem: BUG ")
    [ -z "$l" ] || { sed 's/^/# /' <<<"$l" | head -20; return 1; }
}

# unload_accounted: rmmod rkmem after caches were destroyed with live (or
# caught-corrupt) objects. As for leaked pages, their slabs' blocks are kept
# from the host on purpose, and the unload report accounts for every block:
# took = returned + kept, with kept > 0 exactly when slabs still hold objects.
unload_accounted() {
    local line taken returned kept held
    kmsg_mark
    rmmod rkmem || return 1
    line=$(kmsg | grep "rkmem: unload: took")
    kmsg | grep "rkmem: unload" | sed 's/^/# /'
    read -r taken returned kept < <(sed 's/.*took \([0-9]*\) blocks from the host, returned \([0-9]*\), kept \([0-9]*\)/\1 \2 \3/' <<<"$line")
    held=$(kmsg | sed -n 's/.*rkmem: unload: \([0-9]*\) slabs still hold objects.*/\1/p')
    [ -n "$line" ] && [ "$taken" = "$((returned + kept))" ] &&
    if [ -n "$held" ]; then [ "$kept" -ge 1 ]; else [ "$kept" = 0 ]; fi
}

# fresh_rkmem: rkmem reloaded (a new load: no cache has reported yet,
# slab_debug "-", only the kmalloc caches).
fresh_rkmem() {
    slab_client_gone || return 1
    if grep -q '^rkmem_client ' /proc/modules; then rmmod rkmem_client || return 1; fi
    rmmod rkmem && insmod "$RKMEM_KO" && [ -d "$S" ]
}
