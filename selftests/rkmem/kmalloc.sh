#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's kmalloc and object caches through the C API, used by a client
# module (selftests/rkmem/slab_client): size classes, ksize, alignment,
# zeroing, node placement, constructors, bulk calls; afterwards nothing is
# left behind (every cache validates, every block goes back); a cache
# destroyed with live objects is reported.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slab_lib.sh"

ktap_print_header
ktap_set_plan 13
slab_client_gone
reset_rkmem
slab_debug_set - || echo "# cannot set slab_debug to '-'"

# client_check PARAM...: the client's checks selected by PARAM pass, and it
# unloads without destroying a cache with live objects.
client_check() {
    slab_client "$@" || { slab_client_gone; return 1; }
    rmmod rkmem_slab_client && no_destroy_warning && no_slab_bug
}

kmalloc_classes() {
    client_check kmalloc=1
}
check "kmalloc 1..8192: class sizes, ksize, alignment; page chunks above; 0 and NULL" kmalloc_classes

kzalloc_zeroes() {
    client_check kzalloc=1 && kmsg | grep -q "rkmem_slab_client: kzalloc: 0 of [1-9][0-9]* objects not zeroed"
}
check "kzalloc zeroes every byte of dirty freed objects" kzalloc_zeroes

node_placement() {
    local nodes
    # N_NORMAL_MEMORY, as the client counts (memoryless nodes left out).
    nodes=$(cpu_list /sys/devices/system/node/has_normal_memory | wc -l)
    client_check node=1 &&
    kmsg | grep -Eq "rkmem_slab_client: node: [1-9][0-9]* objects on $nodes nodes, 0 on another node, 0 failed"
}
check "kmalloc_node and cache_alloc_node place objects on the node asked" node_placement

check "caches: align 0/8/64/128/4096, SLAB_HWCACHE_ALIGN, sizes 1..32768" client_check align=1
check "rkmem_cache_create refuses bad sizes, alignments and flags" client_check badcache=1

ctor_once_per_object() {
    local line per calls
    slab_client ctor=1 || { slab_client_gone; return 1; }
    line=$(kmsg | grep "rkmem_slab_client: ctor:")
    read -r per calls < <(sed 's/.*ctor: \([0-9]*\) objects per slab, \([0-9]*\) calls.*/\1 \2/' <<<"$line")
    echo "# slabclient-ctor: ctor $(cat "$S/slabclient-ctor/ctor"), objs_per_slab $(sval slabclient-ctor objs_per_slab), slabs $(sval slabclient-ctor slabs), total_objects $(sval slabclient-ctor total_objects)"
    # Each object was constructed once, when its slab was made: the calls
    # are the objects of the cache's slabs.
    [ "$(cat "$S/slabclient-ctor/ctor")" = 1 ] && [ "$(sval slabclient-ctor objs_per_slab)" = "$per" ] &&
    [ "$(sval slabclient-ctor total_objects)" = "$calls" ] || { slab_client_gone; return 1; }
    rmmod rkmem_slab_client && no_destroy_warning && [ ! -e "$S/slabclient-ctor" ]
}
check "a constructor runs once per object of a new slab, not per allocation" ctor_once_per_object

check "__GFP_ZERO zeroes cache objects (alloc, alloc_node, bulk)" client_check zero=1
check "bulk alloc/free of 16 and 1000 objects: all distinct and valid" client_check bulk=1

all_at_once() {
    # Everything again in one load, from CPU C1 (C0 on one CPU).
    CLIENT_CPU=${C1:-$C0} client_check
}
check "every basic check in one load" all_at_once

nothing_left() {
    local c ok=0
    for c in $(caches); do
        [[ $c == kmalloc-* ]] || { echo "# cache $c left behind"; ok=1; }
    done
    validate_all && all_blocks_return && no_splat && return $ok
}
check "after the client: only the kmalloc caches, all valid; every block goes back" nothing_left

leaky_client() {
    slab_client leakcache=1 || { slab_client_gone; return 1; }
    rmmod rkmem_slab_client || return 1
    echo "# slabclient-leak after the client is gone: objects '$(cat "$S/slabclient-leak/objects" 2>&1)'"
    kmsg | grep -q "rkmem: kmem_cache_destroy slabclient-leak: Slab cache still has objects: 10" &&
    [ -n "$(slabinfo_col slabclient-leak 1)" ] && [ "$(sval slabclient-leak objects)" = 10 ] && no_splat
}
check "a client destroying a cache with 10 live objects: reported with the count" leaky_client

check "unload with the leaked cache: its slab's block kept, every block accounted for" unload_accounted
check "reload" insmod "$RKMEM_KO"

ktap_finished
