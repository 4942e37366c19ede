// SPDX-License-Identifier: GPL-2.0
//! An arena: rkmem's memory of one (node, zone), a buddy allocator over
//! blocks taken from the host, growing on demand up to a limit.
//!
//! Locking: `state` is an IRQ-safe spinlock owned by the arena; it is held
//! only for bounded bookkeeping (one buddy operation, adding or removing one
//! block, or one per-CPU refill or flush of at most `batch` pages). Talking to
//! the host happens outside it: a grower reserves a place (`growing`) under
//! the lock, takes the block unlocked, then adds it. The per-CPU lists in
//! front of the buddy live in [`crate::pcp`]; their lock is always taken
//! before this one, never after.

use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;

use crate::host::pages::CacheBox;
use crate::host::percpu::PerCpuCells;
use crate::host::{HostBlock, IrqSpinLock, LongLoop, ZoneInfo};
use crate::logic::blockmap::{BlockMap, Owner};
use crate::logic::buddy::{BlockMeta, BuddyArena, BuddyStats, FreeError};
use crate::logic::fallback_counts::FallbackCounts;
use crate::logic::order::{BLOCK_PAGES, NR_ORDERS};
use crate::logic::pcp::PcpLists;
use crate::logic::tags::{BlockTags, BLOCK_TAG_BYTES};
use crate::logic::zonelist::ZoneType;

use crate::new_irq_spinlock;

/// The module-wide map from host blocks to (arena, slot): 2 MiB per TiB of
/// the host's pfn span, so kvmalloc'd.
pub(crate) type PfnMap = BlockMap<KVVec<AtomicU64>>;

/// A block held by an arena: its host pages and their buddy metadata (one
/// object of rkmem's metadata cache). Dropping it gives the pages back.
pub(crate) struct OwnedBlock {
    meta: CacheBox<BlockMeta>,
    host: HostBlock,
}

impl OwnedBlock {
    /// Metadata for a block just taken from the host, allocated with the
    /// caller's reclaim bits; on failure the block goes back.
    pub(crate) fn new(host: HostBlock, gfp: u32) -> Result<Self> {
        let meta = CacheBox::new(BlockMeta::new(host.pfn()), gfp)?;
        Ok(OwnedBlock { meta, host })
    }

    /// The zone the block really is in.
    pub(crate) fn zone(&self) -> ZoneType {
        self.host.zone()
    }

    /// Unload with pages in use: frees the metadata, keeps the pages from
    /// the host for good.
    fn leak_pages(self) {
        let OwnedBlock { meta, host } = self;
        drop(meta);
        host.leak();
    }
}

impl Deref for OwnedBlock {
    type Target = BlockMeta;
    fn deref(&self) -> &BlockMeta {
        &self.meta
    }
}

impl DerefMut for OwnedBlock {
    fn deref_mut(&mut self) -> &mut BlockMeta {
        &mut self.meta
    }
}

// Tables sized by the zone (a 1 TiB zone: 262144 slots) may pass what
// kmalloc gives: `KVVec` falls back to vmalloc.
type Buddy = BuddyArena<KVVec<Option<OwnedBlock>>, KVVec<u32>, OwnedBlock>;

/// The locked part of an arena.
pub(crate) struct ArenaState {
    pub(crate) buddy: Buddy,
    /// Most blocks the arena may hold.
    limit: usize,
    /// Blocks being taken from the host right now (counted against `limit`).
    growing: usize,
    stats: ArenaStats,
}

/// Counters shown in `zoneinfo`.
#[derive(Default, Clone, Copy)]
pub(crate) struct ArenaStats {
    /// Blocks taken from the host.
    pub(crate) grows: u64,
    /// Blocks given back to the host.
    pub(crate) shrinks: u64,
    /// Host blocks refused because they were on another node or zone.
    pub(crate) mismatches: u64,
    /// Growth attempts the host could not satisfy.
    pub(crate) grow_failures: u64,
    /// Growth attempts refused by the limit.
    pub(crate) capped: u64,
    /// Wholly free blocks given back because the host takes their memory
    /// offline (also counted in `shrinks`).
    pub(crate) offline_returned: u64,
}

/// A snapshot of an arena for reports.
pub(crate) struct ArenaSnapshot {
    /// Blocks held.
    pub(crate) blocks: usize,
    /// Block limit.
    pub(crate) limit: usize,
    /// Free pages in the buddy (not counting per-CPU lists).
    pub(crate) free_pages: usize,
    /// Free chunks per order.
    pub(crate) nr_free: [usize; NR_ORDERS],
    /// Buddy counters.
    pub(crate) buddy: BuddyStats,
    /// Arena counters.
    pub(crate) stats: ArenaStats,
}

/// One (node, zone) arena.
#[pin_data]
pub(crate) struct Arena {
    /// Index in the module's arena table.
    pub(crate) id: usize,
    /// NUMA node.
    pub(crate) node: usize,
    /// Zone.
    pub(crate) zone: ZoneType,
    /// The host's view of the zone at load time.
    pub(crate) info: ZoneInfo,
    /// Most blocks the zone could ever give (its managed pages in blocks).
    pub(crate) max_blocks: usize,
    #[pin]
    pub(crate) state: IrqSpinLock<ArenaState>,
    /// Per-CPU page lists in front of the buddy ([`crate::pcp`]).
    pub(crate) pcp: PerCpuCells<PcpLists>,
    /// Per slot: which chunks are live with a caller (lock-free checks).
    tags: KVVec<BlockTags>,
    /// Allocations that preferred this arena but another served, by target
    /// (the first few targets one by one: any number of arenas).
    pub(crate) fallback_to: FallbackCounts,
    /// Allocations served here that preferred another arena.
    pub(crate) fallback_in: AtomicU64,
    /// Requests preferring this arena that nothing could serve (-ENOMEM).
    pub(crate) alloc_failures: AtomicU64,
    /// Frees refused before reaching the buddy: double frees (reference
    /// count already 0), wrong orders, tail pages.
    pub(crate) refused_frees: AtomicU64,
}

/// The pfn range a memory offline is taking away now, or none (`end` 0).
/// The host runs one offline at a time (under its hotplug locks).
///
/// Written by the memory notifier, which then takes every arena lock once
/// ([`Arena::fence_installs`]); read by [`Arena::install`] under its arena
/// lock: an install either ran before that fence (its block is in the map
/// for the notifier to find) or sees the range. A racy read elsewhere can
/// only refuse a block spuriously.
pub(crate) struct OfflineWindow {
    start: AtomicU64,
    end: AtomicU64,
}

impl OfflineWindow {
    /// No offline going on.
    pub(crate) const fn new() -> Self {
        OfflineWindow {
            start: AtomicU64::new(0),
            end: AtomicU64::new(0),
        }
    }

    /// `MEM_GOING_OFFLINE` of `[start, end)`.
    pub(crate) fn open(&self, start: u64, end: u64) {
        self.start.store(start, Ordering::Relaxed);
        self.end.store(end, Ordering::Relaxed);
    }

    /// `MEM_OFFLINE` or `MEM_CANCEL_OFFLINE`: the offline is over.
    pub(crate) fn close(&self) {
        self.end.store(0, Ordering::Relaxed);
    }

    /// Whether the block at `base_pfn` has pages in the range.
    fn covers(&self, base_pfn: u64) -> bool {
        let (start, end) = (
            self.start.load(Ordering::Relaxed),
            self.end.load(Ordering::Relaxed),
        );
        base_pfn < end && base_pfn + BLOCK_PAGES as u64 > start
    }
}

/// What memory offline found in one block ([`Arena::offline_block`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OfflineBlock {
    /// Wholly free: given back to the host.
    Returned,
    /// Pages allocated (this many): kept.
    InUse(usize),
    /// No longer this arena's block (a racing shrink gave it back).
    Gone,
}

/// Why an arena could not grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GrowError {
    /// At its block limit.
    Capped,
    /// The host gave nothing (or a block elsewhere, already returned).
    NoMemory,
}

impl Arena {
    /// A new, empty arena for a populated zone.
    pub(crate) fn new(
        id: usize,
        node: usize,
        zone: ZoneType,
        info: ZoneInfo,
    ) -> Result<Pin<KBox<Self>>> {
        let max_blocks = (info.managed_pages as usize).div_ceil(BLOCK_PAGES);
        let mut slots = KVVec::with_capacity(max_blocks, GFP_KERNEL)?;
        let mut tags = KVVec::with_capacity(max_blocks, GFP_KERNEL)?;
        for _ in 0..max_blocks {
            slots.push(None, GFP_KERNEL)?;
            tags.push(BlockTags::new(), GFP_KERNEL)?;
        }
        let mut vacant = KVVec::new();
        vacant.extend_with(max_blocks, 0u32, GFP_KERNEL)?;
        let locked = ArenaState {
            buddy: BuddyArena::new(slots, vacant),
            limit: max_blocks,
            growing: 0,
            stats: ArenaStats::default(),
        };
        let pcp = PerCpuCells::new()?;
        KBox::pin_init(
            pin_init!(Arena {
                id,
                node,
                zone,
                info,
                max_blocks,
                state <- new_irq_spinlock!(locked, "rkmem_arena"),
                pcp,
                tags,
                fallback_to: FallbackCounts::new(),
                fallback_in: AtomicU64::new(0),
                alloc_failures: AtomicU64::new(0),
                refused_frees: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// Allocates from the blocks already held, straight from the buddy;
    /// never grows, never sleeps. Returns the pfn.
    pub(crate) fn alloc_buddy(&self, order: u32) -> Option<u64> {
        self.state.lock().buddy.alloc(order).map(|(pfn, _slot)| pfn)
    }

    /// The tags of the block holding `owner`'s slot.
    pub(crate) fn tags(&self, slot: usize) -> Option<&BlockTags> {
        self.tags.get(slot)
    }

    /// Bytes of the per-slot tables (slots, the vacant-slot stack and tags:
    /// one entry per block the zone could hold).
    pub(crate) fn table_bytes(&self) -> usize {
        self.max_blocks
            * (core::mem::size_of::<Option<OwnedBlock>>()
                + core::mem::size_of::<u32>()
                + BLOCK_TAG_BYTES)
    }

    /// Reserves room for one more block (against the limit unless
    /// `ignore_limit`, for `__GFP_NOFAIL`). Pair with [`Arena::end_growth`].
    pub(crate) fn begin_growth(&self, ignore_limit: bool) -> Result<(), GrowError> {
        let mut st = self.state.lock();
        if !ignore_limit && st.buddy.blocks() + st.growing >= st.limit {
            st.stats.capped += 1;
            return Err(GrowError::Capped);
        }
        st.growing += 1;
        Ok(())
    }

    /// Ends a growth begun with [`Arena::begin_growth`]; counts a failure
    /// of the host (`Some(mismatch)`) if there was one.
    pub(crate) fn end_growth(&self, failure: Option<bool>) {
        let mut st = self.state.lock();
        st.growing -= 1;
        match failure {
            Some(true) => st.stats.mismatches += 1,
            Some(false) => st.stats.grow_failures += 1,
            None => {}
        }
    }

    /// Adds a block taken from the host (in this arena's zone). With
    /// `reserved`, this arena reserved its room; otherwise the block landed
    /// here from a growth of a higher zone and must fit under the limit.
    /// Hands the block back on failure (the caller drops it: to the host).
    pub(crate) fn install(
        &self,
        map: &PfnMap,
        offlining: &OfflineWindow,
        block: OwnedBlock,
        reserved: bool,
    ) -> Result<(), OwnedBlock> {
        let mut st = self.state.lock();
        if !reserved && st.buddy.blocks() + st.growing >= st.limit {
            st.stats.capped += 1;
            return Err(block);
        }
        let pfn = block.base_pfn();
        // A block the host gave before it isolated a range it now takes
        // offline (see `Rkmem::offline_range`): never keep it, or the
        // offline would wait for it forever.
        if offlining.covers(pfn) {
            st.stats.grow_failures += 1;
            return Err(block);
        }
        let Some(slot) = st.buddy.vacant_slot() else {
            return Err(block);
        };
        let owner = Owner {
            arena: self.id,
            slot,
        };
        if !map.insert(pfn, owner) {
            return Err(block);
        }
        // Fills the slot `vacant_slot` named (same lock hold).
        st.buddy.add_block(block).inspect_err(|_| map.remove(pfn))?;
        st.stats.grows += 1;
        Ok(())
    }

    /// Frees `order` pages at `pfn` in `slot` straight to the buddy, which
    /// refuses a chunk it did not hand out at that order.
    pub(crate) fn buddy_free(&self, slot: usize, pfn: u64, order: u32) -> Result<(), FreeError> {
        self.state.lock().buddy.free(slot, pfn, order)
    }

    /// Gives up to `max_blocks` wholly free blocks back to the host; returns
    /// how many. One block per lock hold; pages go back outside the lock,
    /// where the loop also yields as `how` says (a knob write stops on a
    /// fatal signal: what was given back stays given back). Per-CPU lists
    /// must be drained first for their pages to count.
    pub(crate) fn shrink(&self, map: &PfnMap, max_blocks: usize, how: LongLoop) -> usize {
        let mut done = 0;
        while done < max_blocks {
            if done > 0 && how.should_stop() {
                break;
            }
            let block = {
                let mut st = self.state.lock();
                let Some(block) = st.buddy.pop_whole_block() else {
                    break;
                };
                map.remove(block.base_pfn());
                st.stats.shrinks += 1;
                block
            };
            drop(block);
            done += 1;
        }
        done
    }

    /// Memory offline: the block at `base_pfn`, which the map put in `slot`,
    /// goes back to the host if it is wholly free (per-CPU lists drained
    /// first for their pages to count). One lock hold; pages go back
    /// outside it.
    pub(crate) fn offline_block(&self, map: &PfnMap, slot: usize, base_pfn: u64) -> OfflineBlock {
        let block = {
            let mut st = self.state.lock();
            let Some(meta) = st.buddy.block(slot) else {
                return OfflineBlock::Gone;
            };
            if meta.base_pfn() != base_pfn {
                return OfflineBlock::Gone;
            }
            let used = BLOCK_PAGES - meta.free_pages();
            let Some(block) = st.buddy.take_whole_block(slot) else {
                return OfflineBlock::InUse(used);
            };
            map.remove(base_pfn);
            st.stats.shrinks += 1;
            st.stats.offline_returned += 1;
            block
        };
        drop(block);
        OfflineBlock::Returned
    }

    /// Waits for an install running now to finish: one that starts later
    /// sees what the caller wrote before (the host's isolation of a range).
    pub(crate) fn fence_installs(&self) {
        drop(self.state.lock());
    }

    /// Base pfn and free pages of the block in `slot`, if any (one short
    /// lock hold: the `blocks` report walks slots one by one).
    pub(crate) fn block_at(&self, slot: usize) -> Option<(u64, usize)> {
        let st = self.state.lock();
        st.buddy.block(slot).map(|m| (m.base_pfn(), m.free_pages()))
    }

    /// Wholly free blocks that [`Arena::shrink`] could give back now.
    pub(crate) fn whole_free_blocks(&self) -> usize {
        self.state
            .lock()
            .buddy
            .nr_free(crate::logic::order::MAX_ORDER)
    }

    /// Sets the block limit (`1..=max_blocks`, checked by the caller). Blocks
    /// above a lowered limit stay until freed and shrunk.
    pub(crate) fn set_limit(&self, limit: usize) {
        self.state.lock().limit = limit;
    }

    /// Checks the buddy invariants: a recount of every held block's bits
    /// and the vacant-slot stack, in one lock hold (it needs a consistent
    /// picture), so IRQs stay off for O(slots + blocks x chunks). Only the
    /// `verify` test command runs it, one arena at a time, never in
    /// production paths.
    pub(crate) fn verify(&self) -> Result<(), &'static str> {
        self.state.lock().buddy.verify()
    }

    /// Current numbers, for reports.
    pub(crate) fn snapshot(&self) -> ArenaSnapshot {
        let st = self.state.lock();
        let mut nr_free = [0; NR_ORDERS];
        for (order, n) in nr_free.iter_mut().enumerate() {
            *n = st.buddy.nr_free(order as u32);
        }
        ArenaSnapshot {
            blocks: st.buddy.blocks(),
            limit: st.limit,
            free_pages: st.buddy.free_pages(),
            nr_free,
            buddy: st.buddy.stats,
            stats: st.stats,
        }
    }

    /// Unload (per-CPU lists already drained): gives back every wholly free
    /// block; blocks with pages still allocated are detached and their pages
    /// deliberately kept from the host (never free memory someone may still
    /// use). Returns (blocks kept, pages in use). Never stops early; one
    /// slot per lock hold and a reschedule between (a 1 TiB zone has
    /// 262144 slots: not one IRQs-off walk).
    pub(crate) fn teardown(&self, map: &PfnMap) -> (usize, usize) {
        self.shrink(map, usize::MAX, LongLoop::ToTheEnd);
        let mut kept = (0, 0);
        for slot in 0..self.max_blocks {
            let block = {
                let mut st = self.state.lock();
                if st.buddy.blocks() == 0 {
                    break;
                }
                st.buddy.take_any_block(slot)
            };
            if let Some(block) = block {
                map.remove(block.base_pfn());
                kept.0 += 1;
                kept.1 += BLOCK_PAGES - block.free_pages();
                // Frees only the metadata; the pages stay out of the host
                // allocator.
                block.leak_pages();
            }
            LongLoop::ToTheEnd.should_stop();
        }
        kept
    }

    /// Counts a fallback from `self` (preferred) to `to`.
    pub(crate) fn count_fallback(&self, to: &Arena) {
        self.fallback_to.count(to.id);
        to.fallback_in.fetch_add(1, Ordering::Relaxed);
    }
}
