// SPDX-License-Identifier: GPL-2.0
//! An arena: rkmem's memory of one (node, zone), a buddy allocator over
//! blocks taken from the host, growing on demand up to a limit.
//!
//! Locking: `state` is an IRQ-safe spinlock owned by the arena; it is held
//! only for bounded bookkeeping (one buddy operation, adding or removing one
//! block). Talking to the host happens outside it: a grower reserves a
//! place (`growing`) under the lock, takes the block unlocked, then adds it.

use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;

use crate::host::{HostBlock, IrqSpinLock, TakeError, ZoneInfo};
use crate::logic::blockmap::{BlockMap, Owner};
use crate::logic::buddy::{BlockMeta, BuddyArena, BuddyStats, FreeError};
use crate::logic::order::{BLOCK_PAGES, NR_ORDERS};
use crate::logic::zonelist::{ZoneType, MAX_NODES, NR_ZONES};

use crate::new_irq_spinlock;

/// Most arenas: one per (node, zone).
pub(crate) const MAX_ARENAS: usize = MAX_NODES * NR_ZONES;

/// The module-wide map from host blocks to (arena, slot).
pub(crate) type PfnMap = BlockMap<KVec<AtomicU32>>;

/// A block held by an arena: its host pages and their buddy metadata.
/// Dropping it gives the pages back to the host.
pub(crate) struct OwnedBlock {
    meta: KBox<BlockMeta>,
    _host: HostBlock,
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

type Buddy = BuddyArena<KVec<Option<OwnedBlock>>, OwnedBlock>;

/// The locked part of an arena.
pub(crate) struct ArenaState {
    buddy: Buddy,
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
}

/// A snapshot of an arena for reports.
pub(crate) struct ArenaSnapshot {
    /// Blocks held.
    pub(crate) blocks: usize,
    /// Block limit.
    pub(crate) limit: usize,
    /// Free pages.
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
    state: IrqSpinLock<ArenaState>,
    /// Allocations that preferred this arena but were served by arena `i`.
    pub(crate) fallback_to: [AtomicU64; MAX_ARENAS],
    /// Allocations served here that preferred another arena.
    pub(crate) fallback_in: AtomicU64,
    /// Requests preferring this arena that nothing could serve (-ENOMEM).
    pub(crate) alloc_failures: AtomicU64,
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
        let mut slots = KVec::with_capacity(max_blocks, GFP_KERNEL)?;
        for _ in 0..max_blocks {
            slots.push(None, GFP_KERNEL)?;
        }
        let locked = ArenaState {
            buddy: BuddyArena::new(slots),
            limit: max_blocks,
            growing: 0,
            stats: ArenaStats::default(),
        };
        KBox::pin_init(
            pin_init!(Arena {
                id,
                node,
                zone,
                info,
                max_blocks,
                state <- new_irq_spinlock!(locked, "rkmem_arena"),
                fallback_to: [const { AtomicU64::new(0) }; MAX_ARENAS],
                fallback_in: AtomicU64::new(0),
                alloc_failures: AtomicU64::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// Allocates from the blocks already held; never grows, never sleeps.
    pub(crate) fn alloc_held(&self, order: u32) -> Option<u64> {
        self.state.lock().buddy.alloc(order).map(|(pfn, _slot)| pfn)
    }

    /// Bytes of the slot table (one entry per block the zone could hold).
    pub(crate) fn slot_table_bytes(&self) -> usize {
        self.max_blocks * core::mem::size_of::<Option<OwnedBlock>>()
    }

    /// Takes one more block from the host and adds it. Sleeps only if
    /// `can_sleep`.
    pub(crate) fn grow(
        &self,
        map: &PfnMap,
        can_sleep: bool,
        opportunistic: bool,
    ) -> Result<(), GrowError> {
        {
            let mut st = self.state.lock();
            if st.buddy.blocks() + st.growing >= st.limit {
                st.stats.capped += 1;
                return Err(GrowError::Capped);
            }
            st.growing += 1;
        }
        let taken = HostBlock::take(self.node, self.zone, can_sleep, opportunistic);
        let flags = if can_sleep { GFP_KERNEL } else { GFP_NOWAIT };
        let block = taken.map_err(Some).and_then(|host| {
            let meta = KBox::new(BlockMeta::new(host.pfn()), flags).map_err(|_| None)?;
            Ok(OwnedBlock { meta, _host: host })
        });
        let mut st = self.state.lock();
        st.growing -= 1;
        let block = match block {
            Ok(block) => block,
            Err(why) => {
                match why {
                    Some(TakeError::Mismatch) => st.stats.mismatches += 1,
                    _ => st.stats.grow_failures += 1,
                }
                return Err(GrowError::NoMemory);
            }
        };
        match self.install(&mut st, map, block) {
            Ok(()) => {
                st.stats.grows += 1;
                Ok(())
            }
            Err(block) => {
                st.stats.grow_failures += 1;
                // The block goes back to the host after unlocking.
                drop(st);
                drop(block);
                Err(GrowError::NoMemory)
            }
        }
    }

    /// Puts a new block in a vacant slot and in the block map; hands the
    /// block back if either is impossible (no vacant slot cannot happen while
    /// `limit <= max_blocks`).
    fn install(
        &self,
        st: &mut ArenaState,
        map: &PfnMap,
        block: OwnedBlock,
    ) -> Result<(), OwnedBlock> {
        let pfn = block.base_pfn();
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
        st.buddy
            .add_block(slot, block)
            .inspect_err(|_| map.remove(pfn))
    }

    /// Frees `order` pages at `pfn` in `slot`.
    pub(crate) fn free(&self, slot: usize, pfn: u64, order: u32) -> Result<(), FreeError> {
        self.state.lock().buddy.free(slot, pfn, order)
    }

    /// Gives up to `max_blocks` wholly free blocks back to the host; returns
    /// how many. One block per lock hold; pages go back outside the lock.
    pub(crate) fn shrink(&self, map: &PfnMap, max_blocks: usize) -> usize {
        let mut done = 0;
        while done < max_blocks {
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

    /// Checks the buddy invariants.
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

    /// Unload: gives back every wholly free block; blocks with pages still
    /// allocated are detached and deliberately kept from the host (never
    /// free memory someone may still use). Returns (blocks kept, pages in use).
    pub(crate) fn teardown(&self, map: &PfnMap) -> (usize, usize) {
        self.shrink(map, usize::MAX);
        let mut kept = (0, 0);
        let mut st = self.state.lock();
        for slot in 0..st.buddy.capacity() {
            if let Some(block) = st.buddy.take_any_block(slot) {
                map.remove(block.base_pfn());
                kept.0 += 1;
                kept.1 += BLOCK_PAGES - block.free_pages();
                // Leak on purpose: the pages stay out of the host allocator.
                core::mem::forget(block);
            }
        }
        kept
    }

    /// Counts a fallback from `self` (preferred) to `to`.
    pub(crate) fn count_fallback(&self, to: &Arena) {
        if let Some(counter) = self.fallback_to.get(to.id) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        to.fallback_in.fetch_add(1, Ordering::Relaxed);
    }
}
