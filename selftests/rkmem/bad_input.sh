#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bad input: to the C API from a client module (each kind refused, counted
# in zoneinfo, one rate-limited warning with a stack trace per kind, rkmem
# unchanged), to debugfs from a user that is not root (refused, every file),
# and to the knobs (a command split over two write() calls is refused whole;
# numbers with a sign, counts of 0 and orders above the maximum get the
# right error).
source "$(dirname "$0")/lib.sh"
CLIENT=$(dirname "$RKMEM_KO")/selftests/rkmem/client/rkmem_client.ko
PY=/usr/bin/python3

EINVAL="Invalid argument"
ERANGE="Numerical result out of range"

ktap_print_header
ktap_set_plan 6
reset_rkmem

# The zoneinfo rows of the kinds (rust/logic/bad_input.rs), and what one
# round of the client's badinput adds to each (kmalloc and a mempool add
# two more impossible zones per round; the __GFP_NOWARN invalid node, made
# once per load, is added below).
KINDS="unowned_frees tail_frees wrong_order_frees order_too_big_frees double_frees bad_node_allocs bad_zone_allocs order_too_big_allocs"
declare -A PER_ROUND=([unowned_frees]=1 [tail_frees]=1 [wrong_order_frees]=1
    [order_too_big_frees]=1 [double_frees]=1 [bad_node_allocs]=1 [bad_zone_allocs]=3
    [order_too_big_allocs]=1)

counters() { local k; for k in $KINDS; do echo "$k $(zsum "$k")"; done; }
# Objects the slab layer refused (rkmem_kfree, rkmem_cache_free of foreign
# pointers), over every cache.
corruptions() { cat "$D"/slab/*/corruptions | awk '{ n += $1 } END { print n + 0 }'; }

# warned KIND: "LINES TRACES" since kmsg_mark: rkmem's warning lines for
# that kind, and how many of them are followed by a stack trace.
warned() {
    kmsg | awk -v k="counted in zoneinfo $1;" '
        index($0, k) { n++; p = 9; next }
        p > 0 && /Call Trace:/ { t++; p = 0 }
        { if (p > 0) p-- }
        END { print n + 0, t + 0 }'
}

# A new 5 s rate-limit window for rkmem's warnings.
new_window() { sleep 6; }

# badinput_round ROUNDS: loads the client with badinput=ROUNDS; every
# counter must rise by exactly ROUNDS times its share, each kind must log
# exactly one warning with a stack trace, and rkmem must verify.
badinput_round() {
    local rounds=$1 before after k want got bad_before corr_before ok=0
    before=$(counters) bad_before=$(zsum bad_frees) corr_before=$(corruptions)
    load_client "$CLIENT" "rkmem_client: |rkmem: refused" badinput="$rounds" || return 1
    # One report as it looks (the first one).
    kmsg | grep -m1 -A14 "rkmem: refused free" | grep -B20 -m1 "</TASK>\|Call Trace:" | sed 's/^/#   /' | head -16
    kmsg | grep -q "rkmem_client: 0 checks failed" || return 1
    after=$(counters)
    for k in $KINDS; do
        want=$((PER_ROUND[$k] * rounds))
        [ "$k" = bad_node_allocs ] && want=$((want + 1))
        got=$(($(awk -v k="$k" '$1 == k { print $2 }' <<<"$after") -
               $(awk -v k="$k" '$1 == k { print $2 }' <<<"$before")))
        echo "# $k +$got (want +$want), warnings with a trace: $(warned "$k")"
        [ "$got" = "$want" ] && [ "$(warned "$k")" = "1 1" ] || ok=1
    done
    # Per arena only what was refused inside one: tail, wrong order, double.
    echo "# bad_frees +$(($(zsum bad_frees) - bad_before)) (want +$((3 * rounds))), slab corruptions +$(($(corruptions) - corr_before)) (want +$((2 * rounds)))"
    [ $(($(zsum bad_frees) - bad_before)) = $((3 * rounds)) ] || ok=1
    [ $(($(corruptions) - corr_before)) = $((2 * rounds)) ] || ok=1
    rmmod rkmem_client || ok=1
    knob test verify >/dev/null || { echo "# verify failed"; ok=1; }
    no_splat || ok=1
    return $ok
}

c_api_bad_input() {
    new_window
    # Two rounds: the second, within the interval, adds no warning.
    badinput_round 2
}
check "C API bad input: refused, counted per kind, one warning with a trace per kind" c_api_bad_input

rate_limit_window() {
    new_window
    badinput_round 1
}
check "a new rate-limit interval: one more warning per kind" rate_limit_window

# ---- debugfs as a user that is not root ----

# nobody_refused: every file under $D, opened for reading and for writing
# as nobody, must fail with EACCES or EPERM.
nobody_refused() {
    local list
    list=$(mktemp)
    find "$D" -type f > "$list"
    chmod 644 "$list"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c '
import errno, os, sys
files = [l for l in open(sys.argv[1]).read().split("\n") if l]
bad = 0
for path in files:
    for how, flags in (("read", os.O_RDONLY), ("write", os.O_WRONLY)):
        try:
            fd = os.open(path, flags)
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EPERM):
                print("# %s %s: %s" % (how, path, errno.errorcode[e.errno]))
                bad += 1
            continue
        os.close(fd)
        print("# %s %s: opened as uid %d" % (how, path, os.getuid()))
        bad += 1
print("# uid %d: %d files, %d opens not refused" % (os.getuid(), len(files), bad))
sys.exit(1 if bad or len(files) < 20 else 0)' "$list"
    local status=$?
    rm -f "$list"
    return $status
}

debugfs_root_only() {
    local top=/sys/kernel/debug mode status
    # Owned by root, no group or other bits on any file (slab/<cache>/ too).
    [ -z "$(find "$D" ! -user root)" ] || { echo "# not owned by root:"; find "$D" ! -user root | head; return 1; }
    [ -z "$(find "$D" -type f -perm /077)" ] || { echo "# group/other bits:"; find "$D" -type f -perm /077 | head; return 1; }
    # As the system leaves debugfs (its top directory root-only, usually).
    echo "# $top: mode $(stat -c %a "$top")"
    nobody_refused || return 1
    # With the top directory opened for others, the files' own modes are
    # what refuses.
    mode=$(stat -c %a "$top")
    chmod o+x "$top" || { echo "# cannot chmod $top"; return 1; }
    nobody_refused
    status=$?
    chmod "$mode" "$top"
    return $status
}
check "debugfs: a user that is not root can read and write no file" debugfs_root_only

# ---- knob writes ----

held() { sed -n 's/^held \([0-9]*\) .*/\1/p' "$D/test"; }

# split_write FILE PART...: one open of FILE, one write() per PART; prints
# each write's result (ok or the errno name).
split_write() {
    "$PY" -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
out = []
for part in sys.argv[2:]:
    try:
        os.write(fd, part.encode())
        out.append("ok")
    except OSError as e:
        out.append(errno.errorcode[e.errno])
os.close(fd)
print(" ".join(out))' "$D/$1" "${@:2}"
}

split_writes_refused() {
    local h0 lim0 r
    knob test free >/dev/null
    h0=$(held) lim0=$(cat "$D/limit")
    # Neither half is run: the first alone is incomplete, the second is a
    # continuation (before, it ran alone as a command of its own).
    r=$(split_write test "alloc node=0 zone=Normal order=0" $' count=1\n')
    echo "# test, split alloc: $r; held $h0 -> $(held)"
    [ "$r" = "EINVAL EINVAL" ] && [ "$(held)" = "$h0" ] || return 1
    r=$(split_write limit "x" $'node=0 zone=Normal blocks=0\n')
    echo "# limit, junk then a whole command: $r"
    [ "$r" = "EINVAL EINVAL" ] && [ "$(cat "$D/limit")" = "$lim0" ] || return 1
    # A whole command in the first write runs; a second write is refused.
    r=$(split_write test "alloc node=0 zone=Normal order=0 count=1" $'alloc node=0 zone=Normal order=0 count=1\n')
    echo "# test, two commands on one open: $r; held $h0 -> $(held)"
    [ "$r" = "ok EINVAL" ] && [ "$(held)" = $((h0 + 1)) ] || return 1
    knob test free >/dev/null
    # dd writing 3 bytes at a time: refused from the first write on.
    printf 'alloc node=0 zone=Normal order=0 count=1\n' | dd of="$D/test" bs=3 2>/dev/null &&
        { echo "# dd bs=3 succeeded"; return 1; }
    [ "$(held)" = "$h0" ] || { echo "# dd bs=3: held $(held)"; return 1; }
    # A write at a nonzero position is refused (pwrite already by the VFS:
    # seq_file files are not pwritable).
    r=$("$PY" -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
out = []
for at in (None, 4):
    try:
        if at is None:
            os.pwrite(fd, b"verify\n", 4)
        else:
            os.lseek(fd, at, os.SEEK_SET)
            os.write(fd, b"verify\n")
        out.append("ok")
    except OSError as e:
        out.append(errno.errorcode[e.errno])
print(" ".join(out))' "$D/test")
    echo "# pwrite at 4, write after lseek to 4: $r"
    [ "$r" = "ESPIPE EINVAL" ]
}
check "knob writes: one command per open, a split command refused whole" split_writes_refused

knob_state() {
    cat "$D/limit" "$D/pcp" "$D/slab/kmalloc-64/min_partial" "$D/mempools"
    held
}

bad_numbers() {
    local before
    before=$(knob_state)
    knob_fails limit "$EINVAL" "node=0 zone=Normal blocks=+5" &&
    knob_fails limit "$EINVAL" "node=+0 zone=Normal blocks=5" &&
    knob_fails prefill "$EINVAL" "node=0 zone=DMA32 blocks=+5" &&
    knob_fails prefill "$ERANGE" "node=0 zone=DMA32 blocks=0" &&
    knob_fails test "$EINVAL" "alloc node=0 zone=Normal order=+5 count=1" &&
    knob_fails test "$EINVAL" "alloc node=0 zone=Normal order=0 count=+1" &&
    knob_fails test "$ERANGE" "alloc node=0 zone=Normal order=0 count=0" &&
    knob_fails test "$ERANGE" "alloc node=0 zone=Normal order=11 count=1" &&
    knob_fails test "$ERANGE" "alloc node=0 zone=Normal order=99999999999999999999 count=1" &&
    knob_fails test "$EINVAL" "free count=+1" &&
    knob_fails pcp "$EINVAL" "high=+64 batch=16" &&
    knob_fails slab/kmalloc-64/min_partial "$EINVAL" "+5" &&
    knob_fails mempool_test "$EINVAL" "create p pages +1 1" &&
    knob_fails mempool_test "$ERANGE" "create p pages 11 1" || return 1
    diff <(echo "$before") <(knob_state) | sed 's/^/# /'
    [ "${PIPESTATUS[0]}" = 0 ]
}
check "knob numbers: '+5' -EINVAL, counts of 0 and orders above the maximum -ERANGE" bad_numbers

limit_zero() {
    local max
    max=$(sed -n 's/^node=0 zone=DMA32 .*max=//p' "$D/limit")
    knob shrink "node=0 zone=DMA32" >/dev/null &&
    knob limit "node=0 zone=DMA32 blocks=0" >/dev/null &&
    grep -q '^node=0 zone=DMA32 blocks=0 ' "$D/limit" &&
    knob_fails prefill "$ERANGE" "node=0 zone=DMA32 blocks=1" &&
    knob limit "node=0 zone=DMA32 blocks=$max" >/dev/null
}
check "limit blocks=0 is a valid limit: no block can be taken" limit_zero
reset_rkmem

ktap_finished
