// SPDX-License-Identifier: GPL-2.0
//! Per-CPU page lists in front of each arena's buddy (the kernel side of
//! `logic/pcp.rs`), as the host's `per_cpu_pages`.
//!
//! Orders `0..=PCP_MAX_ORDER` are served from the current CPU's list without
//! the arena lock. An empty list is refilled with `batch` pages' worth of
//! chunks under one arena-lock hold; a free goes to the freeing CPU's list
//! and a list above `high` gives chunks back under one hold.
//!
//! Context: the current CPU's lists are taken with a trylock (see
//! [`PerCpuCells`]): a hard or soft interrupt that allocates or frees while
//! its CPU is in the middle of a list operation finds the lock taken and goes
//! to the buddy directly. Other CPUs' lists (drain knob, shrinker, reports,
//! a dead CPU) are locked and waited for, from process context only.
//! Lock order: a CPU's list lock, then the arena lock.

use kernel::prelude::*;

use crate::arena::{Arena, PfnMap};
use crate::host::percpu;
use crate::logic::pcp::{self as logic, PcpLists, PcpStats, PushOutcome, PCP_MAX_ORDER};

/// What this CPU's list could do for an allocation.
pub(crate) enum Listed {
    /// A chunk.
    Got(u64),
    /// The list and the buddy behind it are empty: grow or fall back.
    Empty,
    /// Not a list order, lists off, or busy (an interrupted list operation
    /// on this CPU): use the buddy directly.
    Bypass,
}

impl Listed {
    /// The chunk, else what the buddy gives (unless it is known empty).
    pub(crate) fn or_buddy(self, arena: &Arena, order: u32) -> Option<u64> {
        match self {
            Listed::Got(pfn) => Some(pfn),
            Listed::Empty => None,
            Listed::Bypass => arena.alloc_buddy(order),
        }
    }
}

/// One CPU's list numbers, for `zoneinfo`'s pagesets.
pub(crate) struct PcpSnapshot {
    pub(crate) cpu: usize,
    pub(crate) count: u32,
    pub(crate) high: u32,
    pub(crate) batch: u32,
    pub(crate) stats: PcpStats,
}

/// Gives `pfn` (a chunk of `order` taken off a list of `arena`) back to the
/// buddy; the arena lock is held by the caller (`st`).
fn give_back(arena: &Arena, map: &PfnMap, st: &mut crate::arena::ArenaState, pfn: u64, order: u32) {
    let result = match map.lookup(pfn) {
        Some(owner) if owner.arena == arena.id => st.buddy.free(owner.slot, pfn, order),
        _ => Err(crate::logic::buddy::FreeError::NotOwned),
    };
    if let Err(e) = result {
        // A list only ever holds chunks this arena's buddy handed out.
        pr_err!(
            "node {} zone {}: per-CPU chunk pfn {:#x} order {} refused by the buddy: {:?}\n",
            arena.node,
            arena.zone.name(),
            pfn,
            order,
            e
        );
    }
}

impl Arena {
    /// Sets the host-style defaults on every CPU's lists (at load).
    pub(crate) fn init_pcp(&self) {
        let (high, batch) = self.default_high_batch();
        self.set_pcp(high, batch);
    }

    /// `high` and `batch` as the host would size them for this zone.
    pub(crate) fn default_high_batch(&self) -> (u32, u32) {
        let node_cpus = percpu::possible_cpus()
            .filter(|&c| percpu::cpu_node(c) == self.node)
            .count() as u32;
        let batch = logic::default_batch(self.info.managed_pages);
        (
            logic::default_high(self.info.managed_pages, node_cpus, batch),
            batch,
        )
    }

    /// Sets `high` and `batch` (validated) on every CPU. Chunks above a
    /// lowered `high` stay until the next flush or drain.
    pub(crate) fn set_pcp(&self, high: u32, batch: u32) {
        // Entries are 32-bit pfns: an arena beyond them keeps its lists off.
        let end_pfn = self.info.start_pfn + self.info.spanned_pages;
        let high = if end_pfn > logic::PCP_MAX_PFN {
            0
        } else {
            high
        };
        for cpu in percpu::possible_cpus() {
            let node = percpu::cpu_node(cpu) as u16;
            self.pcp.with_cpu(cpu, |lists| {
                lists.set_high_batch(high, batch);
                lists.cpu_node = node;
            });
        }
    }

    /// An allocation of `order` from this CPU's list, refilling it from the
    /// buddy if empty.
    #[inline]
    pub(crate) fn alloc_listed(&self, order: u32) -> Listed {
        if order > PCP_MAX_ORDER {
            return Listed::Bypass;
        }
        self.pcp
            .try_local(|_cpu, lists| {
                if let Some(pfn) = lists.pop(order) {
                    return Listed::Got(pfn);
                }
                let want = lists.refill_chunks(order);
                if want == 0 {
                    return Listed::Bypass;
                }
                let mut got = 0;
                {
                    let mut st = self.state.lock();
                    while got < want {
                        let Some((pfn, slot)) = st.buddy.alloc(order) else {
                            break;
                        };
                        if !lists.add_refilled(order, pfn) {
                            // Cannot happen within `refill_chunks`; never
                            // lose the chunk if it does.
                            let _ = st.buddy.free(slot, pfn, order);
                            break;
                        }
                        got += 1;
                    }
                }
                if got == 0 {
                    return Listed::Empty;
                }
                lists.stats.refills += 1;
                lists.pop(order).map_or(Listed::Empty, Listed::Got)
            })
            .unwrap_or(Listed::Bypass)
    }

    /// Puts a freed chunk on this CPU's list; `false` if it was not taken
    /// (not a list order, lists off or busy): the caller frees it to the
    /// buddy. A page of another node than this CPU's counts a remote free.
    #[inline]
    pub(crate) fn free_listed(&self, map: &PfnMap, pfn: u64, order: u32) -> bool {
        if order > PCP_MAX_ORDER {
            return false;
        }
        let node = self.node;
        self.pcp
            .try_local(|_cpu, lists| {
                if lists.cpu_node as usize != node {
                    lists.stats.remote_frees += 1;
                }
                match lists.push(order, pfn) {
                    PushOutcome::Kept => true,
                    PushOutcome::OverHigh => {
                        let mut st = self.state.lock();
                        lists.flush_batch(|p, o| give_back(self, map, &mut st, p, o));
                        true
                    }
                    PushOutcome::Refused => false,
                }
            })
            .unwrap_or(false)
    }

    /// Gives everything on `cpu`'s lists back to the buddy (process
    /// context); returns pages.
    pub(crate) fn drain_cpu(&self, map: &PfnMap, cpu: usize) -> usize {
        self.pcp
            .with_cpu(cpu, |lists| {
                if lists.count() == 0 {
                    return 0;
                }
                let mut st = self.state.lock();
                lists.drain(|p, o| give_back(self, map, &mut st, p, o))
            })
            .unwrap_or(0)
    }

    /// Drains every CPU's lists of this arena; returns pages.
    pub(crate) fn drain_lists(&self, map: &PfnMap) -> usize {
        percpu::possible_cpus()
            .map(|cpu| self.drain_cpu(map, cpu))
            .sum()
    }

    /// Pages on all CPUs' lists.
    pub(crate) fn pcp_pages(&self) -> usize {
        percpu::possible_cpus()
            .filter_map(|cpu| self.pcp.with_cpu(cpu, |l| l.count() as usize))
            .sum()
    }

    /// `cpu`'s numbers, if it is a possible CPU.
    pub(crate) fn pcp_snapshot(&self, cpu: usize) -> Option<PcpSnapshot> {
        self.pcp.with_cpu(cpu, |l: &mut PcpLists| PcpSnapshot {
            cpu,
            count: l.count(),
            high: l.high(),
            batch: l.batch(),
            stats: l.stats,
        })
    }
}
