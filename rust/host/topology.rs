// SPDX-License-Identifier: GPL-2.0
//! The host's NUMA topology: nodes, zones, distances and its zonelists.

use core::fmt;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong};

use crate::logic::zonelist::ZoneType;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct RawZoneInfo {
    start_pfn: c_ulong,
    spanned_pages: c_ulong,
    present_pages: c_ulong,
    managed_pages: c_ulong,
}

extern "C" {
    fn rkmem_host_max_order() -> c_uint;
    fn rkmem_host_nr_node_ids() -> c_int;
    fn rkmem_host_node_online(nid: c_int) -> bool;
    fn rkmem_host_node_has_cpus(nid: c_int) -> bool;
    fn rkmem_host_node_distance(a: c_int, b: c_int) -> c_int;
    fn rkmem_host_zonelist_nodes(nid: c_int, out: *mut u16, max: c_int) -> c_int;
    fn rkmem_host_zone_info(nid: c_int, kind: c_int, out: *mut RawZoneInfo) -> bool;
    fn rkmem_host_node_start_pfn(nid: c_int) -> c_ulong;
    fn rkmem_host_node_end_pfn(nid: c_int) -> c_ulong;
    fn rkmem_host_node_cpulist(nid: c_int, buf: *mut c_char, len: usize) -> usize;
    fn rkmem_host_numa_node_id() -> c_int;
}

/// The host's `MAX_PAGE_ORDER` (the C glue asserts it equals ours).
pub(crate) fn max_order() -> u32 {
    // SAFETY: reads a compile-time constant.
    unsafe { rkmem_host_max_order() }
}

/// `nr_node_ids`: node ids are below it.
pub(crate) fn nr_node_ids() -> usize {
    // SAFETY: reads a variable fixed at boot.
    unsafe { rkmem_host_nr_node_ids() as usize }
}

/// Whether `node` is online.
pub(crate) fn node_online(node: usize) -> bool {
    // SAFETY: `node_online` accepts any id below `nr_node_ids` (callers loop below it).
    node < nr_node_ids() && unsafe { rkmem_host_node_online(node as c_int) }
}

/// Whether `node` has CPUs (`cpumask_of_node`), for the zonelist order.
pub(crate) fn node_has_cpus(node: usize) -> bool {
    // SAFETY: `cpumask_of_node` accepts any id below `nr_node_ids`.
    node < nr_node_ids() && unsafe { rkmem_host_node_has_cpus(node as c_int) }
}

/// The nodes of the host's own fallback zonelist of `node`, in order, into
/// `out`; returns how many (0 for an id that is not a possible node).
pub(crate) fn zonelist_nodes(node: usize, out: &mut [u16]) -> usize {
    let (Ok(nid), Ok(max)) = (c_int::try_from(node), c_int::try_from(out.len())) else {
        return 0;
    };
    // SAFETY: `out` is valid for `max` writes of a `u16`; the glue checks
    // `nid` (possible, below `nr_node_ids`) and writes at most `max`.
    let n = unsafe { rkmem_host_zonelist_nodes(nid, out.as_mut_ptr(), max) };
    usize::try_from(n).unwrap_or(0).min(out.len())
}

/// `node_distance(a, b)` (the ACPI SLIT).
pub(crate) fn node_distance(a: usize, b: usize) -> u8 {
    // SAFETY: a pure lookup for any node id (ids past the SLIT get the
    // default local or remote distance, see `__node_distance`).
    unsafe { rkmem_host_node_distance(a as c_int, b as c_int) as u8 }
}

/// A populated zone of an online node, as the host sees it.
#[derive(Clone, Copy, Default)]
pub(crate) struct ZoneInfo {
    /// First pfn.
    pub(crate) start_pfn: u64,
    /// Pages spanned, holes included.
    pub(crate) spanned_pages: u64,
    /// Pages present.
    pub(crate) present_pages: u64,
    /// Pages the host buddy allocator manages.
    pub(crate) managed_pages: u64,
}

/// The host's view of (`node`, `zone`), or `None` if not populated.
pub(crate) fn zone_info(node: usize, zone: ZoneType) -> Option<ZoneInfo> {
    let mut raw = RawZoneInfo::default();
    // SAFETY: `raw` is a valid out pointer; the glue checks node and zone.
    let ok = unsafe { rkmem_host_zone_info(node as c_int, zone as c_int, &mut raw) };
    ok.then_some(ZoneInfo {
        start_pfn: raw.start_pfn as u64,
        spanned_pages: raw.spanned_pages as u64,
        present_pages: raw.present_pages as u64,
        managed_pages: raw.managed_pages as u64,
    })
}

/// `[start, end)` pfns of an online node.
pub(crate) fn node_pfn_range(node: usize) -> (u64, u64) {
    // SAFETY: reads the node's pgdat, which exists while the node is online.
    unsafe {
        (
            rkmem_host_node_start_pfn(node as c_int) as u64,
            rkmem_host_node_end_pfn(node as c_int) as u64,
        )
    }
}

/// Writes the node's CPU list ("0-1") to `out`.
pub(crate) fn write_node_cpulist(node: usize, out: &mut impl fmt::Write) -> fmt::Result {
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is valid for `buf.len()` bytes; scnprintf writes at most that.
    let len = unsafe { rkmem_host_node_cpulist(node as c_int, buf.as_mut_ptr().cast(), buf.len()) };
    out.write_str(core::str::from_utf8(&buf[..len.min(buf.len())]).unwrap_or("?"))
}

/// The node of the running CPU.
pub(crate) fn numa_node_id() -> usize {
    // SAFETY: a plain read; the answer may be stale once preempted, which
    // only affects placement.
    unsafe { rkmem_host_numa_node_id() as usize }
}
