// SPDX-License-Identifier: GPL-2.0
//! Memory offline, rkmem's side of the memory-hotplug notifier
//! (`host/memhotplug.rs`): while the host takes a pfn range offline, growth
//! keeps no block from it ([`OfflineWindow`](crate::arena::OfflineWindow)),
//! and the blocks rkmem holds there are given back, or the offline is
//! refused if pages there are in use.

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use crate::arena::OfflineBlock;
use crate::logic::order::BLOCK_PAGES;
use crate::Rkmem;

/// A pfn range the host is taking offline, holding blocks of rkmem's.
pub(crate) struct OfflineRange {
    start: u64,
    end: u64,
}

impl OfflineRange {
    /// The base pfn of every block that has pages in the range.
    fn block_pfns(&self) -> impl Iterator<Item = u64> {
        let first = self.start - self.start % BLOCK_PAGES as u64;
        (first..self.end).step_by(BLOCK_PAGES)
    }
}

impl Rkmem {
    /// Memory offline, first step: the host has isolated `[start, start +
    /// nr)` to take it offline, so no new block comes from there. A growth
    /// that took its block before and installs it now sees the range and
    /// gives the block back ([`Arena::install`]), or has installed it (after
    /// the fence below, the map shows it). `None` if rkmem holds no block
    /// there: nothing to do, and the caches stay as they are.
    pub(crate) fn offline_range(&self, start: u64, nr: u64) -> Option<OfflineRange> {
        let range = OfflineRange {
            start,
            end: start.saturating_add(nr),
        };
        self.offlining.open(range.start, range.end);
        for arena in self.arenas.iter() {
            arena.fence_installs();
        }
        range
            .block_pfns()
            .any(|pfn| self.map.lookup(pfn).is_some())
            .then_some(range)
    }

    /// Memory offline, second step (the slab layer has given its empty
    /// slabs back): drains the per-CPU lists and gives every wholly free
    /// block in the range back to the host, one block per lock hold.
    /// `EBUSY` if pages of rkmem's are in use there: they cannot migrate,
    /// so the offline could never finish. Free blocks go back either way.
    pub(crate) fn offline_give_back(&self, range: OfflineRange) -> Result {
        self.drain_all();
        let (mut returned, mut in_use, mut used_pages) = (0, 0, 0);
        for pfn in range.block_pfns() {
            let Some(owner) = self.map.lookup(pfn) else {
                continue;
            };
            let Some(arena) = self.arenas.get(owner.arena) else {
                continue;
            };
            match arena.offline_block(&self.map, owner.slot, pfn) {
                OfflineBlock::Returned => returned += 1,
                OfflineBlock::InUse(pages) => {
                    in_use += 1;
                    used_pages += pages;
                }
                OfflineBlock::Gone => {}
            }
        }
        if in_use == 0 {
            if returned > 0 {
                pr_info!(
                    "offline of pfn range {:#x}-{:#x}: gave back {} free blocks\n",
                    range.start,
                    range.end - 1,
                    returned
                );
            }
            return Ok(());
        }
        self.offline_refused.fetch_add(1, Ordering::Relaxed);
        pr_warn!(
            "refusing offline of pfn range {:#x}-{:#x}: {} blocks in use ({} pages allocated; {} free blocks given back)\n",
            range.start,
            range.end - 1,
            in_use,
            used_pages,
            returned
        );
        Err(EBUSY)
    }

    /// Memory offline, done or cancelled (also after a refusal): growth may
    /// keep blocks of that range again (after a cancel it is back in use).
    pub(crate) fn offline_over(&self) {
        self.offlining.close();
    }
}
