# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the rkmem kselftests (sourced).
: "${KDIR:?KDIR must name the kernel tree}"
# shellcheck source=/dev/null
source "$KDIR/tools/testing/selftests/kselftest/ktap_helpers.sh"

D=/sys/kernel/debug/rkmem
RKMEM_KO=${RKMEM_KO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/rkmem.ko}

# knob FILE WORDS...: write one line to a knob; prints the error text, if any.
knob() {
    local file=$1; shift
    { printf '%s\n' "$*" > "$D/$file"; } 2>&1 | sed 's/.*write error: //'
    return "${PIPESTATUS[0]}"
}

# knob_fails FILE "Error text" WORDS...: the write must fail with that error.
knob_fails() {
    local file=$1 want=$2 got; shift 2
    got=$(knob "$file" "$@") && { echo "# write '$*' to $file succeeded"; return 1; }
    [ "$got" = "$want" ] || { echo "# write '$*' to $file: got '$got', wanted '$want'"; return 1; }
}

# zinfo NODE ZONE KEY: one number from rkmem's zoneinfo.
zinfo() {
    awk -v hdr="Node $1, zone" -v zone="$2" -v key="$3" '
        $0 ~ "^" hdr { in_zone = ($NF == zone); next }
        /^Node / { in_zone = 0 }
        in_zone && $1 == key { print $2; exit }' "$D/zoneinfo"
}

# landed NODE ZONE: how many held test chunks the host places there.
landed() {
    sed -n "s/^landed node=$1 zone=$2 count=//p" "$D/test" | grep . || echo 0
}

# arenas: "node zone" lines of every arena.
arenas() { sed -n 's/^node=\([0-9]*\) zone=\([A-Za-z0-9]*\) .*/\1 \2/p' "$D/topology"; }

# pcp_kb: the pages on the host's per-CPU lists ("count:" in /proc/zoneinfo).
# They are free to the host but left out of MemFree, and since 6.7 (pcp high
# auto-tuning) a list may grow to several MiB a CPU and zone.
pcp_kb() {
    awk -v page_kb=$(( $(getconf PAGESIZE) / 1024 )) '$1 == "count:" { n += $2 }
        END { print n * page_kb }' /proc/zoneinfo
}
# mem_free_kb: the host's free memory, MemFree and its per-CPU lists (MemFree
# alone moves by tens of MiB with nothing lost).
mem_free_kb() { echo $(( $(awk '/^MemFree:/ { print $2 }' /proc/meminfo) + $(pcp_kb) )); }

# reset: nothing held, every block back to the host, limits at their maximum.
reset_rkmem() {
    knob test free >/dev/null
    while read -r n z _ _ max; do
        knob limit "node=$n zone=$z blocks=${max#max=}" >/dev/null
    done < <(sed 's/node=\([0-9]*\) zone=\([A-Za-z0-9]*\) blocks=\([0-9]*\) held=\([0-9]*\)/\1 \2 \3 \4/' "$D/limit")
    knob shrink all >/dev/null
}

# zsum KEY: a zoneinfo row summed over every arena (grows, bad_frees, pcp_pages...).
zsum() { awk -v key="$1" '$1 == key { n += $2 } END { print n + 0 }' "$D/zoneinfo"; }

# pset NODE ZONE CPU KEY: one number of one CPU's pageset in rkmem's zoneinfo
# (count, high, batch, hits, refills, drains, remote_frees).
pset() {
    awk -v hdr="Node $1, zone" -v zone="$2" -v cpu="$3" -v key="$4:" '
        $0 ~ "^" hdr { in_zone = ($NF == zone); c = -1; next }
        /^Node / { in_zone = 0 }
        in_zone && $1 == "cpu:" { c = $2; next }
        in_zone && c == cpu && $1 == key { print $2; exit }' "$D/zoneinfo"
}

# psum KEY [NODE [ZONE [CPU]]]: a pageset number summed over the arenas and
# CPUs given (an empty or missing word: all of them).
psum() {
    awk -v key="$1:" -v node="${2:-}" -v zone="${3:-}" -v cpu="${4:-}" '
        /^Node / { n = $2; sub(",", "", n); z = $NF; c = -1; next }
        $1 == "cpu:" { c = $2; next }
        $1 == key && (node == "" || n == node) && (zone == "" || z == zone) &&
            (cpu == "" || c == cpu) { s += $2 }
        END { print s + 0 }' "$D/zoneinfo"
}

# cpu_list FILE: the CPU numbers of a sysfs list such as 0-3,6.
cpu_list() {
    local r
    for r in $(tr ',' ' ' < "$1"); do seq "${r%-*}" "${r#*-}"; done
}

# The VM's topology is read here, not assumed: qemu/run also boots 1 node,
# 4 nodes with 4 or 8 CPUs and memoryless nodes (NODES=, CPUS=,
# MEM_PER_NODE=). The tests name their nodes and CPUs by role:
#   N0    the first node with a DMA32 and a Normal arena (the standard
#         topology's node 0);
#   N1    another node with a Normal arena, one with an online CPU if there
#         is one (node 1); empty if there is none (one node);
#   NMOV  a node with a Movable arena, N1's if it has one (node 1);
#   C0    the first online CPU of N0 (CPU 0);
#   C1    another online CPU, one of N1's if it has any (CPU 1); empty on one
#         CPU;
#   NCPUS the online CPUs; NNODES the online nodes (with or without memory).
# cpu_node CPU: the node of a CPU.
cpu_node() { local n; n=$(ls -d /sys/devices/system/cpu/cpu"$1"/node* 2>/dev/null | head -1); echo "${n##*node}"; }
# node_cpus NODE: the online CPUs of a node, one a line.
node_cpus() {
    local c
    for c in $(cpu_list /sys/devices/system/node/node"$1"/cpulist 2>/dev/null); do
        [ "$c" = 0 ] || [ "$(cat /sys/devices/system/cpu/cpu"$c"/online 2>/dev/null)" != 0 ] && echo "$c"
    done
}
# online_cpus: the online CPUs, one a line.
online_cpus() { cpu_list /sys/devices/system/cpu/online; }
# nodes_with ZONE: the nodes with an arena of that zone, one a line.
nodes_with() { arenas | awk -v z="$1" '$2 == z { print $1 }' | sort -un; }
# nodes_with_memory: the nodes with any arena (memoryless nodes have none).
nodes_with_memory() { arenas | cut -d' ' -f1 | sort -un; }
read_topology() {
    local n c
    N0= N1= NMOV= C0= C1=
    for n in $(nodes_with DMA32); do
        nodes_with Normal | grep -qx "$n" && { N0=$n; break; }
    done
    [ -n "$N0" ] || N0=$(nodes_with Normal | head -1)
    for n in $(nodes_with Normal); do
        [ "$n" != "$N0" ] || continue
        [ -n "$N1" ] || N1=$n
        [ -z "$(node_cpus "$n")" ] || { N1=$n; break; }
    done
    NMOV=$(nodes_with Movable | head -1)
    [ -n "$N1" ] && nodes_with Movable | grep -qx "$N1" && NMOV=$N1
    C0=$(node_cpus "$N0" | head -1)
    [ -n "$C0" ] || C0=$(online_cpus | head -1)
    [ -z "$N1" ] || C1=$(node_cpus "$N1" | head -1)
    [ -n "$C1" ] || C1=$(online_cpus | grep -vx "$C0" | head -1)
    NCPUS=$(online_cpus | wc -l)
    NNODES=$(cpu_list /sys/devices/system/node/online | wc -l)
    # The host's nr_node_ids (highest possible node + 1): rkmem's tables'
    # size, so the first node id its knobs refuse.
    BAD_NODE=$(($(cpu_list /sys/devices/system/node/possible | tail -1) + 1))
}
[ -d "$D" ] && read_topology

# check_if NEED DESCRIPTION COMMAND [WORD...]: check, or a KTAP skip when
# the topology lacks what the test needs: n1 (a second node with Normal
# memory), c1 (a second CPU), n1cpu (N1 with a CPU: C1 is on N1),
# movable (a Movable arena).
check_if() {
    local need=$1 d=$2 why=
    case $need in
    n1) [ -n "$N1" ] || why="a second node with Normal memory" ;;
    c1) [ -n "$C1" ] || why="a second online CPU" ;;
    movable) [ -n "$NMOV" ] || why="a Movable arena" ;;
    n1cpu) [ -n "$N1" ] && [ -n "$C1" ] && [ "$(cpu_node "$C1")" = "$N1" ] ||
        why="second node with Normal memory and a CPU" ;;
    *) echo "# check_if: unknown need '$need'"; why=$need ;;
    esac
    if [ -n "$why" ]; then ktap_test_skip "$d (this topology has no $why)"; return; fi
    shift
    check "$@"
}

# on_cpu CPU COMMAND [WORD...]: run a function or command in a subshell bound
# to CPU (debugfs writes then run on that CPU).
on_cpu() { ( taskset -pc "$1" "$BASHPID" >/dev/null && shift && "$@" ); }

# The kernel log is never cleared (qemu/guest checks all of it for splats at
# the end): kmsg_mark writes a marker to it, kmsg prints what came after. If
# the marker was lost (writes to /dev/kmsg are rate-limited), kmsg counts
# lines instead.
kmsg_mark() {
    echo on > /proc/sys/kernel/printk_devkmsg 2>/dev/null
    KMSG_MARK="rkmem-selftest-mark-$BASHPID-$SECONDS-$RANDOM"
    KMSG_LINES=$(dmesg | wc -l)
    echo "$KMSG_MARK" > /dev/kmsg
}
# load_client KO LINES PARAM...: insmod a test client (bound to CPU
# $CLIENT_CPU if set) and show its log lines (those matching the regex
# LINES); fails if it did not load. The caller checks its verdict and
# unloads it.
load_client() {
    local ko=$1 lines=$2 status pin=()
    shift 2
    [ -n "${CLIENT_CPU:-}" ] && pin=(taskset -c "$CLIENT_CPU")
    kmsg_mark
    "${pin[@]}" insmod "$ko" "$@"
    status=$?
    kmsg | grep -E "$lines" | sed 's/^/# /'
    [ $status = 0 ] || { echo "# insmod $*: status $status"; return 1; }
}

kmsg() {
    if [ -n "${KMSG_MARK:-}" ] && dmesg | grep -qF "$KMSG_MARK"; then
        dmesg | awk -v m="$KMSG_MARK" 'found { print } index($0, m) { found = 1 }'
    else
        dmesg | tail -n +$((${KMSG_LINES:-0} + 1))
    fi
}

# no_splat: no lockdep report, atomic sleep, BUG or WARNING since kmsg_mark
# (the patterns of qemu/guest). The stack traces of rkmem's own bad-input
# warnings are deliberate: qemu/splat-filter drops them, and only them.
SPLAT='BUG:|WARNING:|Oops|INFO: possible|possible circular locking|inconsistent lock state|sleeping function called from invalid context|scheduling while atomic|Call Trace:|kernel panic'
SPLAT_FILTER=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/qemu/splat-filter
no_splat() {
    kmsg | "$SPLAT_FILTER" | grep -Eq "$SPLAT" || return 0
    echo "# the kernel logged a splat:"
    kmsg | "$SPLAT_FILTER" | grep -E -A20 "$SPLAT" | head -40 | sed 's/^/#   /'
    return 1
}

# check DESCRIPTION COMMAND [WORD...]: one KTAP result. ktap_test_result
# word-splits its arguments: pass a function and simple words only.
check() { local d=$1; shift; ktap_test_result "$d" "$@"; }

# irqstress_clean BAD_FREES_BEFORE [CPUS]: what the client's irqstress must
# leave, since kmsg_mark: hard-IRQ allocations on every online CPU (or CPUS)
# with 0 broken tags, no new refused free, the buddy invariants intact, no
# splat.
irqstress_clean() {
    kmsg | grep -Eq "rkmem_client: irqstress: [0-9]+ allocations \([1-9][0-9]* in hard irq\) on ${2:-$NCPUS} CPUs, 0 broken tags" &&
    [ "$(zsum bad_frees)" = "$1" ] && knob test verify >/dev/null && no_splat
}

# all_blocks_return: after a shrink (which drains the lists first) no block
# is held and no page is listed: nothing was stranded.
all_blocks_return() {
    knob shrink all >/dev/null
    echo "# after shrink: $(zsum blocks) blocks held, $(zsum pcp_pages) listed pages"
    [ "$(zsum blocks)" = 0 ] && [ "$(zsum pcp_pages)" = 0 ]
}

# pcp_restore SETTINGS: writes back what `cat $D/pcp` printed.
pcp_restore() {
    local n z h b
    while read -r n z h b; do
        knob pcp "$h $b $n $z" >/dev/null || { echo "# cannot restore '$n $z $h $b'"; return 1; }
    done <<<"$1"
}
