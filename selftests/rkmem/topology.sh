#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rkmem's topology file matches the host's /proc/zoneinfo and sysfs.
source "$(dirname "$0")/lib.sh"

ktap_print_header
ktap_set_plan 6

check "debugfs directory with its files" test -r "$D/topology" -a -r "$D/buddyinfo" -a -r "$D/zoneinfo" -a -w "$D/test"

# Every populated host zone is an rkmem arena, and only those.
host_zones() {
    awk '/^Node/ { n = $2; sub(",", "", n); z = $4 }
         $1 == "present" && $2 > 0 && z != "Device" { print n, z }' /proc/zoneinfo | sort
}
same_zones() {
    [ "$(host_zones)" = "$(arenas | sort)" ] || { echo "# host: $(host_zones | tr '\n' ' '); rkmem: $(arenas | sort | tr '\n' ' ')"; return 1; }
}
check "one arena per populated (node, zone)" same_zones

zone_matches() {
    local ok=0 n z line key want got
    while read -r line; do
        n=$(sed 's/.*node=\([0-9]*\).*/\1/' <<<"$line")
        z=$(sed 's/.* zone=\([A-Za-z0-9]*\).*/\1/' <<<"$line")
        for key in start_pfn spanned present managed; do
            want=$(awk -v n="$n" -v z="$z" -v k="$key" '
                /^Node/ { nn = $2; sub(",", "", nn); in_z = (nn == n && $4 == z) }
                in_z && ($1 == k || $1 == k ":") { print $2; exit }' /proc/zoneinfo)
            got=$(sed "s/.* $key=\([0-9]*\).*/\1/" <<<"$line")
            if [ "$want" != "$got" ]; then
                echo "# node $n zone $z $key: rkmem $got, host $want"; ok=1
            fi
        done
    done < "$D/topology"
    return $ok
}
check "start_pfn, spanned, present, managed match /proc/zoneinfo" zone_matches

cpus_match() {
    local ok=0 n cpus
    while read -r n cpus; do
        if [ "$cpus" != "$(cat /sys/devices/system/node/node$n/cpulist)" ]; then
            echo "# node $n cpus: rkmem $cpus, sysfs $(cat /sys/devices/system/node/node$n/cpulist)"; ok=1
        fi
    done < <(sed -n 's/^node=\([0-9]*\) .* cpus=\(.*\)$/\1 \2/p' "$D/topology" | sort -u)
    return $ok
}
check "node CPUs match /sys/devices/system/node" cpus_match

# The topology qemu/run was asked for (RKMEM_NODES, RKMEM_CPUS,
# RKMEM_NODE_MEM in MiB per node; the standard one if run otherwise).
asked_topology() {
    local zones mem=(${RKMEM_NODE_MEM:-3072 3072}) want_mem= i
    for i in "${!mem[@]}"; do [ "${mem[i]}" = 0 ] || want_mem+="$i "; done
    zones=$(arenas | cut -d' ' -f2 | sort -u | tr '\n' ' ')
    echo "# nodes: $NNODES online, with memory: $(nodes_with_memory | tr '\n' ' ')(asked ${RKMEM_NODES:-2}: $want_mem); CPUs: $NCPUS (asked ${RKMEM_CPUS:-2}); zones: $zones"
    echo "# roles: N0=$N0 N1=${N1:--} NMOV=${NMOV:--} C0=$C0 C1=${C1:--}"
    [ "$NNODES" = "${RKMEM_NODES:-2}" ] && [ "$NCPUS" = "${RKMEM_CPUS:-2}" ] &&
    [ "$(nodes_with_memory | tr '\n' ' ')" = "$want_mem" ] && [ "$zones" = "DMA DMA32 Movable Normal " ]
}
check "the VM's topology is the one asked for; DMA, DMA32, Normal, Movable" asked_topology

buddyinfo_layout() {
    # Same zones in the same order, and byte for byte the host's layout: the
    # "Node N, zone %8s " prefix, then 11 columns of "%6lu ".
    [ "$(cut -c1-21 "$D/buddyinfo")" = "$(grep -v Device /proc/buddyinfo | cut -c1-21)" ] &&
    [ "$(awk '{ print length($0), NF }' "$D/buddyinfo")" = "$(grep -v Device /proc/buddyinfo | awk '{ print length($0), NF }')" ] ||
        { echo "# rkmem:"; sed 's/^/#   /' "$D/buddyinfo"; echo "# host:"; sed 's/^/#   /' /proc/buddyinfo; return 1; }
}
check "buddyinfo has the host's layout" buddyinfo_layout

ktap_finished
