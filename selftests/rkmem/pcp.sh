#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's per-CPU page lists: hits and refills, remote frees, drains (the
# drain knob, CPU offline, shrink, the host shrinker), double frees of pages
# sitting on a list, and the pcp knob.
source "$(dirname "$0")/lib.sh"

EINVAL="Invalid argument"
ERANGE="Numerical result out of range"
# NF: the far node N1, or N0 on one node; C1's online file (CPU hotplug).
NF=${N1:-$N0}
ONLINE1=/sys/devices/system/cpu/cpu${C1:-1}/online
# An arena that does not exist: DMA of a node with memory but none of it,
# or (one node) Highmem of N0.
BADZONE="node=$N0 zone=Highmem"
for n in $(nodes_with_memory); do nodes_with DMA | grep -qx "$n" || { BADZONE="node=$n zone=DMA"; break; }; done

ktap_print_header
ktap_set_plan 13
reset_rkmem
defaults=$(cat "$D/pcp")

# traffic NODE ZONE ORDER COUNT ROUNDS: ROUNDS times, allocate COUNT chunks
# through the test knob, then free everything held.
traffic() {
    local i
    for ((i = 0; i < $5; i++)); do
        knob test "alloc node=$1 zone=$2 order=$3 count=$4" >/dev/null &&
        knob test free >/dev/null || { echo "# traffic $*: failed"; return 1; }
    done
}

# mixed: orders 0..3 on nodes N0 and NF, from CPUs C0 and C1.
mixed() {
    local o
    for o in 0 1 2 3; do
        on_cpu "$C0" traffic "$N0" Normal "$o" 40 1 && on_cpu "$C1" traffic "$NF" Normal "$o" 40 1 &&
        on_cpu "$C1" traffic "$N0" Normal "$o" 20 1 || return 1
    done
}

format() {
    local n z c ok=0 key possible
    if [ "$(sed -n 's/^node=\([0-9]*\) zone=\([A-Za-z0-9]*\) high=[0-9]* batch=[0-9]*$/\1 \2/p' "$D/pcp")" != "$(arenas)" ]; then
        echo "# pcp is not one 'node=N zone=Z high=H batch=B' line per arena:"
        sed 's/^/#   /' "$D/pcp"
        return 1
    fi
    possible=$(cpu_list /sys/devices/system/cpu/possible | tr '\n' ' ')
    while read -r n z; do
        [ -n "$(zinfo "$n" "$z" pcp_pages)" ] || { echo "# node $n zone $z: no pcp_pages row"; ok=1; }
        c=$(awk -v hdr="Node $n, zone" -v zone="$z" '
                $0 ~ "^" hdr { in_zone = ($NF == zone); next }
                /^Node / { in_zone = 0 }
                in_zone && $1 == "cpu:" { printf "%s ", $2 }' "$D/zoneinfo")
        [ "$c" = "$possible" ] || { echo "# node $n zone $z: pagesets of CPUs '$c', possible '$possible'"; ok=1; }
        for c in $possible; do
            for key in count high batch hits refills drains remote_frees; do
                [ -n "$(pset "$n" "$z" "$c" "$key")" ] || { echo "# node $n zone $z cpu $c: no $key"; ok=1; }
            done
            [ "$(pset "$n" "$z" "$c" high) $(pset "$n" "$z" "$c" batch)" = \
              "$(sed -n "s/^node=$n zone=$z high=\([0-9]*\) batch=\([0-9]*\)$/\1 \2/p" "$D/pcp")" ] ||
                { echo "# node $n zone $z cpu $c: pageset high/batch differ from pcp"; ok=1; }
        done
    done < <(arenas)
    return $ok
}
check "pcp: a line per arena; zoneinfo: pcp_pages and a pageset per possible CPU" format

order0_hits() {
    local h0 r0 h r
    knob drain all >/dev/null || return 1
    h0=$(psum hits "$N0" Normal "$C0") r0=$(psum refills "$N0" Normal "$C0")
    # 20 rounds of 100 allocations then 100 frees, all on CPU 0
    on_cpu "$C0" traffic "$N0" Normal 0 100 20 || return 1
    h=$(($(psum hits "$N0" Normal "$C0") - h0)) r=$(($(psum refills "$N0" Normal "$C0") - r0))
    echo "# 2000 order-0 allocations on CPU 0: $h hits, $r refills"
    [ "$h" -ge 1800 ] && [ "$h" -le 2000 ] && [ "$r" -ge 1 ] && [ "$r" -le 200 ]
}
check "order-0 traffic is served from the per-CPU list (hits >= 90%, few refills)" order0_hits

drain_restores_buddyinfo() {
    local b0 b1 p1 g0
    mixed || return 1 # any growth happens now
    knob drain all >/dev/null || return 1
    b0=$(cat "$D/buddyinfo") g0=$(zsum grows)
    [ "$(zsum pcp_pages)" = 0 ] || { echo "# pcp_pages $(zsum pcp_pages) after drain all"; return 1; }
    mixed || return 1
    b1=$(cat "$D/buddyinfo") p1=$(zsum pcp_pages)
    echo "# after traffic: $p1 pages on per-CPU lists"
    [ "$p1" -gt 0 ] && [ "$b1" != "$b0" ] || { echo "# nothing sits on the lists?"; return 1; }
    knob drain all >/dev/null || return 1
    [ "$(zsum pcp_pages)" = 0 ] && [ "$(psum count)" = 0 ] ||
        { echo "# after drain all: pcp_pages $(zsum pcp_pages), counts $(psum count)"; return 1; }
    [ "$(cat "$D/buddyinfo")" = "$b0" ] ||
        { echo "# buddyinfo differs after drain (grows $g0 -> $(zsum grows)):"; diff <(echo "$b0") "$D/buddyinfo" | sed 's/^/#   /'; return 1; }
}
check_if c1 "drain all gives the listed pages back: buddyinfo as before" drain_restores_buddyinfo

remote_frees() {
    local a b c
    knob drain all >/dev/null || return 1
    a=$(psum remote_frees "$N0" Normal "$C1") b=$(psum remote_frees "$N1" Normal "$C1") c=$(psum remote_frees "$N1" Normal "$C0")
    # N0 pages freed on C1 (a CPU of N1): remote; N1 pages on C1: local
    on_cpu "$C0" knob test "alloc node=$N0 zone=Normal order=0 count=100" >/dev/null &&
    on_cpu "$C0" knob test "alloc node=$N1 zone=Normal order=0 count=30" >/dev/null &&
    on_cpu "$C1" knob test free >/dev/null || return 1
    [ "$(pset "$N0" Normal "$C1" count)" -gt 0 ] || { echo "# no node-$N0 page on CPU $C1's list"; return 1; }
    # N1 pages freed on C0: remote
    on_cpu "$C1" knob test "alloc node=$N1 zone=Normal order=1 count=50" >/dev/null &&
    on_cpu "$C0" knob test free >/dev/null || return 1
    a=$(($(psum remote_frees "$N0" Normal "$C1") - a)) b=$(($(psum remote_frees "$N1" Normal "$C1") - b))
    c=$(($(psum remote_frees "$N1" Normal "$C0") - c))
    echo "# remote_frees: node $N0 on CPU $C1 +$a (want 100), node $N1 on CPU $C1 +$b (want 0), node $N1 on CPU $C0 +$c (want 50)"
    [ "$a" = 100 ] && [ "$b" = 0 ] && [ "$c" = 50 ]
}
check_if n1cpu "frees on a CPU of another node's pages count as remote_frees" remote_frees

cpu_offline_body() {
    local b0 d0
    [ -w $ONLINE1 ] || { echo "# $ONLINE1 is not writable"; return 1; }
    # Warm up (growth), then record the drained state.
    on_cpu "$C0" knob test "alloc node=$NF zone=Normal order=0 count=150" >/dev/null &&
    on_cpu "$C0" knob test "alloc node=$N0 zone=Normal order=2 count=30" >/dev/null &&
    on_cpu "$C0" knob test "alloc node=$NF zone=Normal order=3 count=10" >/dev/null &&
    knob test free >/dev/null && knob drain all >/dev/null || return 1
    b0=$(cat "$D/buddyinfo")
    # The same again, the lists of CPU C0 drained, then freed on CPU C1.
    on_cpu "$C0" knob test "alloc node=$NF zone=Normal order=0 count=150" >/dev/null &&
    on_cpu "$C0" knob test "alloc node=$N0 zone=Normal order=2 count=30" >/dev/null &&
    on_cpu "$C0" knob test "alloc node=$NF zone=Normal order=3 count=10" >/dev/null &&
    knob drain all >/dev/null && on_cpu "$C1" knob test free >/dev/null || return 1
    echo "# on CPU $C1's lists: $(psum count "" "" "$C1") pages, CPU $C0's: $(psum count "" "" "$C0")"
    [ "$(psum count "" "" "$C1")" -gt 0 ] && [ "$(psum count "" "" "$C0")" = 0 ] || return 1
    d0=$(psum drains "" "" "$C1")
    echo 0 > "$ONLINE1" || { echo "# cannot offline CPU $C1"; return 1; }
    echo "# CPU $C1 offline: its lists hold $(psum count "" "" "$C1") pages, drains +$(($(psum drains "" "" "$C1") - d0))"
    [ "$(psum count "" "" "$C1")" = 0 ] && [ "$(zsum pcp_pages)" = 0 ] &&
    [ "$(psum drains "" "" "$C1")" -gt "$d0" ] || return 1
    [ "$(cat "$D/buddyinfo")" = "$b0" ] ||
        { echo "# buddyinfo differs from the drained state:"; diff <(echo "$b0") "$D/buddyinfo" | sed 's/^/#   /'; return 1; }
}
cpu_offline_drains() {
    local status
    cpu_offline_body
    status=$?
    # Always online again, whatever happened.
    [ "$(cat "$ONLINE1" 2>/dev/null)" = 0 ] && { echo 1 > "$ONLINE1" || { echo "# cannot online CPU $C1"; status=1; }; }
    knob test free >/dev/null
    return $status
}
check_if c1 "taking CPU C1 offline gives its listed pages back" cpu_offline_drains

shrink_knob_drains() {
    knob shrink all >/dev/null &&
    on_cpu "$C0" knob test "alloc node=$NF zone=Normal order=0 count=300" >/dev/null &&
    on_cpu "${C1:-$C0}" knob test free >/dev/null || return 1
    echo "# before shrink: node $NF Normal holds $(zinfo "$NF" Normal blocks) blocks, $(zinfo "$NF" Normal pcp_pages) pages on lists"
    [ "$(zinfo "$NF" Normal pcp_pages)" -gt 0 ] || return 1
    knob shrink all >/dev/null || return 1
    [ "$(zinfo "$NF" Normal blocks)" = 0 ] && [ "$(zsum pcp_pages)" = 0 ]
}
check "shrink drains the lists first: every block goes back" shrink_knob_drains

host_shrinker_drains() {
    local dir
    dir=$(ls -d /sys/kernel/debug/shrinker/rkmem-* 2>/dev/null | head -1)
    [ -n "$dir" ] || { echo "# no rkmem shrinker in /sys/kernel/debug/shrinker"; return 1; }
    knob shrink all >/dev/null &&
    on_cpu "$C0" knob test "alloc node=$NF zone=Normal order=0 count=300" >/dev/null &&
    on_cpu "${C1:-$C0}" knob test free >/dev/null || return 1
    [ "$(zinfo "$NF" Normal pcp_pages)" -gt 0 ] && [ "$(zinfo "$NF" Normal blocks)" -ge 1 ] || return 1
    echo "0 $NF 4096" > "$dir/scan" || return 1
    echo "# after a scan of node $NF: $(zinfo "$NF" Normal blocks) blocks, $(psum count "$NF") pages on node $NF's lists"
    [ "$(zinfo "$NF" Normal blocks)" = 0 ] && [ "$(psum count "$NF")" = 0 ]
}
check "the host shrinker drains the node's lists first" host_shrinker_drains
reset_rkmem

listed_double_free() {
    local o b0 p0 b p
    for o in 0 3; do
        knob drain all >/dev/null &&
        on_cpu "$C0" knob test "alloc node=$N0 zone=Normal order=$o count=2" >/dev/null || return 1
        b0=$(zinfo "$N0" Normal bad_frees) p0=$(zinfo "$N0" Normal pcp_pages)
        # frees the last chunk (onto CPU C0's list), then again, with a wrong
        # order, and an unowned page
        on_cpu "$C0" knob test badfree >/dev/null || { echo "# order $o: not all three bad frees were refused"; return 1; }
        b=$(($(zinfo "$N0" Normal bad_frees) - b0)) p=$(($(zinfo "$N0" Normal pcp_pages) - p0))
        echo "# order $o: bad_frees +$b (want 2), pcp_pages +$p (want $((1 << o)))"
        [ "$b" = 2 ] && [ "$p" = $((1 << o)) ] || return 1
        knob test free >/dev/null && knob drain all >/dev/null && knob test verify >/dev/null || return 1
    done
    dmesg | grep -q "rkmem: refused free" || { echo "# no 'refused free' report"; return 1; }
    # everything merged back: only whole blocks free
    awk '{ for (i = 5; i < NF; i++) if ($i != 0) bad = 1 } END { exit bad }' "$D/buddyinfo" ||
        { sed 's/^/#   /' "$D/buddyinfo"; return 1; }
}
check "a double free of a page on a per-CPU list is refused and counted" listed_double_free
reset_rkmem

pcp_state() { cat "$D/pcp"; grep -E '^ +(high|batch):' "$D/zoneinfo"; }

bad_input() {
    local before file err words
    before=$(pcp_state)
    while IFS='|' read -r file err words; do
        knob_fails "$file" "$err" "$words" || return 1
        [ "$(pcp_state)" = "$before" ] || { echo "# '$words' to $file changed the lists' settings"; return 1; }
    done <<EOF
pcp|$EINVAL|high=100 batch=0
pcp|$EINVAL|high=10 batch=20
pcp|$ERANGE|high=1025 batch=1
pcp|$ERANGE|high=1024 batch=257
pcp|$ERANGE|high=100 batch=10 node=$BAD_NODE zone=Normal
pcp|$EINVAL|high=100 batch=10 node=0 zone=Bogus
pcp|$EINVAL|high=100 batch=10 $BADZONE
pcp|$EINVAL|garbage
pcp|$EINVAL|high=100
pcp|$EINVAL|high=100 batch=10 node=0
pcp|$EINVAL|high=100 batch=10 extra=1
pcp|$EINVAL|high=-1 batch=1
drain|$EINVAL|everything
drain|$EINVAL|all node=0
drain|$EINVAL|$BADZONE
drain|$ERANGE|node=$BAD_NODE zone=Normal
EOF
}
check "pcp and drain: bad input refused (EINVAL/ERANGE), nothing changed" bad_input

good_input() {
    local c cnt d0 others
    others=$(grep -v "^node=$NF zone=Normal " "$D/pcp")
    knob pcp "high=200 batch=20 node=$NF zone=Normal" >/dev/null || return 1
    grep -qx "node=$NF zone=Normal high=200 batch=20" "$D/pcp" || { echo "# node $NF Normal not set"; return 1; }
    [ "$(grep -v "^node=$NF zone=Normal " "$D/pcp")" = "$others" ] || { echo "# other arenas changed"; return 1; }
    for c in $(cpu_list /sys/devices/system/cpu/possible); do
        [ "$(pset "$NF" Normal "$c" high) $(pset "$NF" Normal "$c" batch)" = "200 20" ] ||
            { echo "# cpu $c pageset: high $(pset "$NF" Normal "$c" high) batch $(pset "$NF" Normal "$c" batch)"; return 1; }
    done
    knob pcp "high=64 batch=8" >/dev/null || return 1
    [ "$(grep -cv ' high=64 batch=8$' "$D/pcp")" = 0 ] || { echo "# not every arena at high=64 batch=8"; return 1; }
    # Frees beyond high go back to the buddy in batches.
    knob drain all >/dev/null || return 1
    d0=$(pset "$N0" Normal "$C0" drains)
    on_cpu "$C0" knob test "alloc node=$N0 zone=Normal order=0 count=300" >/dev/null &&
    on_cpu "$C0" knob test free >/dev/null || return 1
    cnt=$(pset "$N0" Normal "$C0" count)
    echo "# 300 frees on CPU $C0 with high=64: $cnt pages listed, drains +$(($(pset "$N0" Normal "$C0" drains) - d0))"
    [ "$cnt" -gt 0 ] && [ "$cnt" -le 64 ] && [ "$(pset "$N0" Normal "$C0" drains)" -gt "$d0" ]
}
check "pcp: valid writes take effect (one arena, all arenas); lists stay within high" good_input

high0_turns_lists_off() {
    local h0 b0
    knob pcp "high=0 batch=1" >/dev/null || return 1
    knob drain all >/dev/null || return 1
    h0=$(psum hits)
    on_cpu "$C0" traffic "$N0" Normal 0 100 3 && on_cpu "${C1:-$C0}" traffic "$NF" Normal 2 50 2 &&
    on_cpu "${C1:-$C0}" traffic "$N0" Normal 1 50 2 || return 1
    echo "# high=0: hits +$(($(psum hits) - h0)), pcp_pages $(zsum pcp_pages)"
    [ "$(psum hits)" = "$h0" ] && [ "$(zsum pcp_pages)" = 0 ]
}
check "high=0 turns the lists off" high0_turns_lists_off

restore_defaults() {
    pcp_restore "$defaults" || return 1
    [ "$(cat "$D/pcp")" = "$defaults" ] || { diff <(echo "$defaults") "$D/pcp" | sed 's/^/# /'; return 1; }
}
check "pcp defaults restored" restore_defaults
reset_rkmem

CLIENT=$(dirname "$RKMEM_KO")/selftests/rkmem/client/rkmem_client.ko

hotplug_under_load_body() {
    local pid status i bad_before
    bad_before=$(zsum bad_frees)
    kmsg_mark
    # Time-bound (15 s), so every offline/online cycle runs under load.
    insmod "$CLIENT" irqstress=1000000000 irqstress_secs=15 &
    pid=$!
    for i in 1 2 3; do
        sleep 3
        echo 0 > "$ONLINE1" || { echo "# cannot offline CPU $C1"; break; }
        # What a dead CPU had listed is back; the knob works meanwhile.
        [ "$(psum count "" "" "$C1")" = 0 ] || echo "# CPU $C1 offline with $(psum count "" "" "$C1") listed pages"
        knob pcp "high=$((64 * i)) batch=$((8 * i))" >/dev/null
        sleep 1
        echo 1 > "$ONLINE1" || { echo "# cannot online CPU $C1"; break; }
    done
    wait $pid
    status=$?
    kmsg | grep rkmem_client | sed 's/^/# /'
    [ $status = 0 ] && rmmod rkmem_client && [ "$i" = 3 ] &&
    irqstress_clean "$bad_before" && all_blocks_return
}
hotplug_under_load() {
    local status
    hotplug_under_load_body
    status=$?
    [ "$(cat "$ONLINE1" 2>/dev/null)" = 0 ] && echo 1 > "$ONLINE1"
    restore_defaults >/dev/null || status=1
    return $status
}
check_if c1 "CPU C1 offline/online 3 times under hard-IRQ stress and pcp changes: nothing lost" hotplug_under_load
reset_rkmem

ktap_finished
