// SPDX-License-Identifier: GPL-2.0
//! `/sys/kernel/debug/rkmem/`: reports in the host's formats and knobs.
//!
//! Every knob parses its whole input first (rust/logic/cmd.rs) and checks
//! ranges against the current state before it changes anything, so a
//! refused write (-EINVAL, -ERANGE) leaves rkmem as it was. The slab
//! layer's files are in [`slab`].

use core::fmt::Write;
use core::sync::atomic::Ordering::Relaxed;

use kernel::c_str;
use kernel::prelude::*;

use crate::host::slab::slabs;
use crate::host::{self, DebugfsDir};
use crate::logic::bad_input::BadInput;
use crate::logic::cmd::{self, ArenaRef, CmdError, TestCmd};
use crate::logic::order::{pages, NR_ORDERS};
use crate::logic::zonelist::{Placement, ZoneType, NR_ZONES};
use crate::Rkmem;

mod mempool;
mod slab;

pub(crate) use slab::{create_slab_dirs, remove_slab_dirs, slab_cache_created, slab_cache_removed};
use slab::{show_slab_debug, show_slab_test, show_slabinfo, write_slab_debug, SLAB_FILE_BASE};

#[derive(Clone, Copy)]
enum File {
    Topology,
    Buddyinfo,
    Zoneinfo,
    Limit,
    Prefill,
    Shrink,
    Test,
    Drain,
    Pcp,
    Slabinfo,
    SlabDebug,
    SlabTest,
    Mempools,
    MempoolTest,
    Blocks,
}

const FILES: [(File, &CStr, u16); 15] = [
    (File::Topology, c_str!("topology"), 0o400),
    (File::Buddyinfo, c_str!("buddyinfo"), 0o400),
    (File::Zoneinfo, c_str!("zoneinfo"), 0o400),
    (File::Limit, c_str!("limit"), 0o600),
    (File::Prefill, c_str!("prefill"), 0o200),
    (File::Shrink, c_str!("shrink"), 0o200),
    (File::Test, c_str!("test"), 0o600),
    (File::Drain, c_str!("drain"), 0o200),
    (File::Pcp, c_str!("pcp"), 0o600),
    (File::Slabinfo, c_str!("slabinfo"), 0o400),
    (File::SlabDebug, c_str!("slab_debug"), 0o600),
    (File::SlabTest, c_str!("slab_test"), 0o600),
    (File::Mempools, c_str!("mempools"), 0o400),
    (File::MempoolTest, c_str!("mempool_test"), 0o600),
    (File::Blocks, c_str!("blocks"), 0o400),
];

/// Creates every file in `dir`.
pub(crate) fn create_files(dir: &DebugfsDir) {
    for (id, (_, name, mode)) in FILES.iter().enumerate() {
        dir.file(name, *mode, id);
    }
}

fn fmt_err(_: core::fmt::Error) -> Error {
    ENOMEM
}

fn cmd_err(e: CmdError) -> Error {
    match e {
        CmdError::Invalid => EINVAL,
        CmdError::Range => ERANGE,
    }
}

impl Rkmem {
    /// A read of debugfs file `id`.
    pub(crate) fn show(&self, id: usize, out: &mut impl Write) -> Result {
        if id >= SLAB_FILE_BASE {
            return self.show_cache_file(id, out);
        }
        let (file, _, _) = FILES.get(id).ok_or(EINVAL)?;
        match file {
            File::Topology => self.show_topology(out),
            File::Buddyinfo => self.show_buddyinfo(out),
            File::Zoneinfo => self.show_zoneinfo(out),
            File::Limit => self.show_limits(out),
            File::Test => self.show_test(out),
            File::Pcp => self.show_pcp(out),
            File::Slabinfo => show_slabinfo(out),
            File::SlabDebug => show_slab_debug(out),
            File::SlabTest => show_slab_test(out),
            File::Mempools => mempool::show_mempools(out),
            File::MempoolTest => mempool::show_mempool_test(out),
            File::Blocks => self.show_blocks(out),
            File::Prefill | File::Shrink | File::Drain => Ok(()),
        }
        .map_err(fmt_err)
    }

    /// A write to debugfs file `id`.
    pub(crate) fn write(&self, id: usize, text: &str) -> Result {
        if id >= SLAB_FILE_BASE {
            return self.write_cache_file(id, text);
        }
        let (file, _, _) = FILES.get(id).ok_or(EINVAL)?;
        match file {
            File::Limit => self.write_limit(text),
            File::Prefill => self.write_prefill(text),
            File::Shrink => self.write_shrink(text),
            File::Test => self.write_test(text),
            File::Drain => self.write_drain(text),
            File::Pcp => self.write_pcp(text),
            File::SlabDebug => write_slab_debug(text),
            File::SlabTest => self.write_slab_test(text),
            File::MempoolTest => self.write_mempool_test(text),
            _ => Err(EPERM),
        }
    }

    /// One line per (node, zone): the host's numbers, live, plus the CPUs.
    fn show_topology(&self, out: &mut impl Write) -> core::fmt::Result {
        for arena in self.arenas.iter() {
            let info = host::zone_info(arena.node, arena.zone).unwrap_or(arena.info);
            write!(
                out,
                "node={} zone={} start_pfn={} spanned={} present={} managed={} cpus=",
                arena.node,
                arena.zone.name(),
                info.start_pfn,
                info.spanned_pages,
                info.present_pages,
                info.managed_pages
            )?;
            host::write_node_cpulist(arena.node, out)?;
            writeln!(out)?;
        }
        Ok(())
    }

    /// Exactly the layout of the host's /proc/buddyinfo.
    fn show_buddyinfo(&self, out: &mut impl Write) -> core::fmt::Result {
        for arena in self.arenas.iter() {
            let snap = arena.snapshot();
            write!(out, "Node {}, zone {:>8} ", arena.node, arena.zone.name())?;
            for n in snap.nr_free {
                write!(out, "{:>6} ", n)?;
            }
            writeln!(out)?;
        }
        Ok(())
    }

    fn show_zoneinfo(&self, out: &mut impl Write) -> core::fmt::Result {
        self.show_metadata(out)?;
        for arena in self.arenas.iter() {
            let s = arena.snapshot();
            writeln!(out, "Node {}, zone {:>8}", arena.node, arena.zone.name())?;
            let rows: [(&str, u64); 15] = [
                ("blocks", s.blocks as u64),
                ("limit", s.limit as u64),
                ("max_blocks", arena.max_blocks as u64),
                ("free_pages", s.free_pages as u64),
                ("grows", s.stats.grows),
                ("shrinks", s.stats.shrinks),
                ("zone_mismatches", s.stats.mismatches),
                ("grow_failures", s.stats.grow_failures),
                ("grow_capped", s.stats.capped),
                ("alloc_failures", arena.alloc_failures.load(Relaxed)),
                // Held blocks had no chunk: growth or fallback followed.
                ("buddy_empty", s.buddy.failures),
                (
                    "bad_frees",
                    s.buddy.bad_frees + arena.refused_frees.load(Relaxed),
                ),
                ("fallback_in", arena.fallback_in.load(Relaxed)),
                ("pcp_pages", arena.pcp_pages() as u64),
                // Free blocks given back to a memory offline (in `shrinks`).
                ("offline_returned", s.stats.offline_returned),
            ];
            for (name, value) in rows {
                writeln!(out, "  {:<16} {}", name, value)?;
            }
            for (name, per_order) in [("allocs", s.buddy.allocs), ("frees", s.buddy.frees)] {
                write!(out, "  {:<16}", name)?;
                for n in per_order {
                    write!(out, " {}", n)?;
                }
                writeln!(out)?;
            }
            self.show_pagesets(arena, out)?;
            for (to, n) in arena.fallback_to.targets() {
                let Some(to) = self.arenas.get(to) else {
                    continue;
                };
                writeln!(
                    out,
                    "  fallback_to      node={} zone={} {}",
                    to.node,
                    to.zone.name(),
                    n
                )?;
            }
            let others = arena.fallback_to.others();
            if others > 0 {
                writeln!(out, "  fallback_to      others {}", others)?;
            }
        }
        Ok(())
    }

    /// The host's /proc/zoneinfo `pagesets` layout, plus rkmem's counters.
    fn show_pagesets(
        &self,
        arena: &crate::arena::Arena,
        out: &mut impl Write,
    ) -> core::fmt::Result {
        writeln!(out, "  pagesets")?;
        for cpu in crate::host::percpu::possible_cpus() {
            let Some(p) = arena.pcp_snapshot(cpu) else {
                continue;
            };
            writeln!(out, "    cpu: {}", p.cpu)?;
            writeln!(out, "              count: {}", p.count)?;
            writeln!(out, "              high:  {}", p.high)?;
            writeln!(out, "              batch: {}", p.batch)?;
            writeln!(out, "              hits: {}", p.stats.hits)?;
            writeln!(out, "              refills: {}", p.stats.refills)?;
            writeln!(out, "              drains: {}", p.stats.drains)?;
            writeln!(out, "              remote_frees: {}", p.stats.remote_frees)?;
        }
        Ok(())
    }

    /// Every block held: node, zone, base pfn, free pages (in the buddy;
    /// per-CPU lists count as allocated). One slot per lock hold, and a
    /// reschedule now and then (a read, in process context: a 1 TiB zone
    /// has 262144 slots).
    fn show_blocks(&self, out: &mut impl Write) -> core::fmt::Result {
        for arena in self.arenas.iter() {
            for slot in 0..arena.max_blocks {
                if slot % 64 == 63 {
                    host::cond_resched();
                }
                let Some((pfn, free)) = arena.block_at(slot) else {
                    continue;
                };
                writeln!(
                    out,
                    "node={} zone={} pfn={} free={}",
                    arena.node,
                    arena.zone.name(),
                    pfn,
                    free
                )?;
            }
        }
        Ok(())
    }

    /// rkmem's own metadata against the memory it manages, as one figure:
    /// block metadata (objects of its own cache) plus the tables (per-slot
    /// tables and tags, the block map, the per-CPU lists). The host spends
    /// 64 bytes of `struct page` per 4 KiB page (1.6 %).
    fn show_metadata(&self, out: &mut impl Write) -> core::fmt::Result {
        use crate::logic::order::BLOCK_PAGES;
        let blocks: usize = self.arenas.iter().map(|a| a.snapshot().blocks).sum();
        let per_block = self.meta_object_size;
        let cpus = crate::host::percpu::possible_cpus().count();
        let lists = self.arenas.len()
            * cpus
            * crate::host::percpu::PerCpuCells::<crate::logic::pcp::PcpLists>::BYTES_PER_CPU;
        let tables: usize =
            self.arenas.iter().map(|a| a.table_bytes()).sum::<usize>() + self.map.bytes() + lists;
        let total = blocks * per_block + tables;
        writeln!(out, "rkmem")?;
        // Bad input to the C API, refused, one row per kind.
        for kind in BadInput::ALL {
            writeln!(
                out,
                "  {:<16} {}",
                kind.counter(),
                self.bad_input_count(kind)
            )?;
        }
        writeln!(out, "  {:<16} {}", "blocks_held", blocks)?;
        writeln!(
            out,
            "  {:<16} {}",
            "offline_refused",
            self.offline_refused.load(Relaxed)
        )?;
        writeln!(out, "  {:<16} {}", "block_meta_bytes", per_block)?;
        writeln!(out, "  {:<16} {}", "table_bytes", tables)?;
        writeln!(out, "  {:<16} {}", "meta_bytes", total)?;
        for kind in host::fault::FaultKind::ALL {
            writeln!(
                out,
                "  {:<16} {}",
                kind.stat_name(),
                host::fault::injected(kind)
            )?;
        }
        if blocks > 0 {
            let milli = total * 1000 / (blocks * BLOCK_PAGES);
            writeln!(
                out,
                "  {:<16} {}.{:03}",
                "meta_bytes_per_page",
                milli / 1000,
                milli % 1000
            )?;
        }
        Ok(())
    }

    fn show_pcp(&self, out: &mut impl Write) -> core::fmt::Result {
        for arena in self.arenas.iter() {
            // Every CPU has the same setting (the knob sets them together).
            let (high, batch) = crate::host::percpu::possible_cpus()
                .find_map(|cpu| arena.pcp_snapshot(cpu))
                .map_or((0, 0), |p| (p.high, p.batch));
            writeln!(
                out,
                "node={} zone={} high={} batch={}",
                arena.node,
                arena.zone.name(),
                high,
                batch
            )?;
        }
        Ok(())
    }

    fn write_drain(&self, text: &str) -> Result {
        match cmd::parse_shrink(text, self.nr_nodes()).map_err(cmd_err)? {
            Some(r) => {
                self.arena_ref(r)?.drain_lists(&self.map);
            }
            None => {
                self.drain_all();
            }
        }
        Ok(())
    }

    fn write_pcp(&self, text: &str) -> Result {
        let (target, high, batch) = cmd::parse_pcp(text, self.nr_nodes()).map_err(cmd_err)?;
        let apply = |arena: &crate::arena::Arena| {
            arena.set_pcp(high, batch);
            // Lowered or turned off: what is above `high` goes back now.
            arena.drain_lists(&self.map);
        };
        match target {
            Some(r) => apply(self.arena_ref(r)?),
            None => self.arenas.iter().for_each(|a| apply(a)),
        }
        Ok(())
    }

    fn show_limits(&self, out: &mut impl Write) -> core::fmt::Result {
        for arena in self.arenas.iter() {
            let s = arena.snapshot();
            writeln!(
                out,
                "node={} zone={} blocks={} held={} max={}",
                arena.node,
                arena.zone.name(),
                s.limit,
                s.blocks,
                arena.max_blocks
            )?;
        }
        Ok(())
    }

    fn show_test(&self, out: &mut impl Write) -> core::fmt::Result {
        let test = self.test.lock();
        let held_pages: usize = test.held.iter().map(|&(_, o)| pages(o)).sum();
        writeln!(out, "held {} pages {}", test.held.len(), held_pages)?;
        // Where the host says the held pages really are: a count per
        // (node, zone), sized by the host's node ids (may sleep: a read).
        let mut landed = KVVec::new();
        landed
            .extend_with(self.nr_nodes() * NR_ZONES, 0usize, GFP_KERNEL)
            .map_err(|_| core::fmt::Error)?;
        let mut elsewhere = 0;
        for &(pfn, _) in test.held.iter() {
            match host::page_location(pfn) {
                (node, Some(zone)) if node < self.nr_nodes() => {
                    landed[node * NR_ZONES + zone as usize] += 1
                }
                _ => elsewhere += 1,
            }
        }
        for (i, &count) in landed.iter().enumerate() {
            if count > 0 {
                let (node, zone) = (i / NR_ZONES, i % NR_ZONES);
                let name = ZoneType::from_index(zone).map_or("?", |z| z.name());
                writeln!(out, "landed node={} zone={} count={}", node, name, count)?;
            }
        }
        if elsewhere > 0 {
            writeln!(out, "landed elsewhere count={}", elsewhere)?;
        }
        Ok(())
    }

    /// The arena a knob names: -ERANGE for a node id the host does not
    /// have, -EINVAL for a zone the node does not have.
    fn arena_ref(&self, r: ArenaRef) -> Result<&crate::arena::Arena> {
        self.check_node(r.node)?;
        self.arena(r.node, r.zone).ok_or(EINVAL)
    }

    fn check_node(&self, node: usize) -> Result {
        if node >= self.nr_nodes() {
            return Err(ERANGE);
        }
        if !host::node_online(node) {
            return Err(EINVAL);
        }
        Ok(())
    }

    fn write_limit(&self, text: &str) -> Result {
        let (r, blocks) = cmd::parse_arena_blocks(text, self.nr_nodes()).map_err(cmd_err)?;
        let arena = self.arena_ref(r)?;
        if blocks as usize > arena.max_blocks {
            return Err(ERANGE);
        }
        arena.set_limit(blocks as usize);
        Ok(())
    }

    fn write_prefill(&self, text: &str) -> Result {
        let (r, blocks) = cmd::parse_prefill(text, self.nr_nodes()).map_err(cmd_err)?;
        let arena = self.arena_ref(r)?;
        let s = arena.snapshot();
        if s.blocks + blocks as usize > s.limit {
            return Err(ERANGE);
        }
        for done in 0..blocks {
            // Killed part way: keep what was taken (as a host shortage).
            if done > 0 && host::LongLoop::Killable.should_stop() {
                return Err(EINTR);
            }
            // Strict: only blocks of this very zone. A host shortage part
            // way keeps what was taken (-ENOMEM).
            self.grow(arena, host::pages::GFP_KERNEL, false, false, true)
                .map_err(|_| ENOMEM)?;
        }
        Ok(())
    }

    fn write_shrink(&self, text: &str) -> Result {
        let target = cmd::parse_shrink(text, self.nr_nodes()).map_err(cmd_err)?;
        // Top down: empty slabs go back to the buddy first.
        if let Some(slabs) = slabs() {
            slabs.shrink_all(self, true);
        }
        match target {
            // A fatal signal stops it part way: what went back stays back.
            Some(r) => {
                let arena = self.arena_ref(r)?;
                arena.drain_lists(&self.map);
                arena.shrink(&self.map, usize::MAX, host::LongLoop::Killable);
            }
            None => {
                self.drain_all();
                for arena in self.arenas.iter() {
                    if host::LongLoop::Killable.should_stop() {
                        break;
                    }
                    arena.shrink(&self.map, usize::MAX, host::LongLoop::Killable);
                }
            }
        }
        // As prefill and test: a write stopped part way says so.
        if host::LongLoop::Killable.should_stop() {
            return Err(EINTR);
        }
        Ok(())
    }

    fn write_test(&self, text: &str) -> Result {
        match cmd::parse_test(text, self.nr_nodes()).map_err(cmd_err)? {
            TestCmd::Alloc {
                arena,
                order,
                count,
                this_node,
                atomic,
            } => {
                self.check_node(arena.node)?;
                let placement = Placement {
                    node: arena.node,
                    highest_zone: arena.zone,
                    this_node,
                };
                let mut test = self.test.lock();
                test.held.reserve(count as usize)?;
                for done in 0..count {
                    // Killed part way: what was taken stays held.
                    if done > 0 && host::LongLoop::Killable.should_stop() {
                        return Err(EINTR);
                    }
                    let req = crate::AllocRequest::plain(placement, order, !atomic);
                    let got = if atomic {
                        host::in_atomic_section(|| self.alloc_pages_client(&req))
                    } else {
                        self.alloc_pages_client(&req)
                    };
                    // Room was reserved above, so this cannot fail.
                    if !test.held.push((got?, order)) {
                        return Err(ENOMEM);
                    }
                }
                Ok(())
            }
            TestCmd::Free { count } => {
                let mut test = self.test.lock();
                let count = count.map_or(test.held.len(), |c| c as usize);
                if count > test.held.len() {
                    return Err(ERANGE);
                }
                for done in 0..count {
                    if done > 0 && host::LongLoop::Killable.should_stop() {
                        return Err(EINTR);
                    }
                    if let Some((pfn, order)) = test.held.pop() {
                        self.free_pages(pfn, order);
                    }
                }
                Ok(())
            }
            TestCmd::BadFree => self.bad_free_test(),
            TestCmd::Verify => {
                for arena in self.arenas.iter() {
                    host::cond_resched();
                    if let Err(why) = arena.verify() {
                        pr_err!(
                            "node {} zone {}: buddy invariant broken: {}\n",
                            arena.node,
                            arena.zone.name(),
                            why
                        );
                        return Err(EIO);
                    }
                }
                Ok(())
            }
        }
    }

    /// Frees the last held chunk, then frees it again, with a wrong order,
    /// and a page rkmem never had: all three must be refused (-EIO if not).
    fn bad_free_test(&self) -> Result {
        let (pfn, order) = self.test.lock().held.pop().ok_or(EINVAL)?;
        self.free_pages(pfn, order);
        let before = self.bad_free_total();
        self.free_pages(pfn, order);
        self.free_pages(pfn, order ^ 1);
        self.free_pages(0, 0);
        if self.bad_free_total() != before + 3 {
            return Err(EIO);
        }
        Ok(())
    }

    /// Every refused free, of every kind.
    fn bad_free_total(&self) -> u64 {
        BadInput::ALL
            .iter()
            .filter(|k| k.is_free())
            .map(|&k| self.bad_input_count(k))
            .sum()
    }
}

// buddyinfo has the host's 11 columns.
const _: () = assert!(NR_ORDERS == 11);
