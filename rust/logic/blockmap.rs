// SPDX-License-Identifier: GPL-2.0
//! Which arena and slot own a host block, found from any pfn in O(1).
//!
//! One `AtomicU64` per `BLOCK_PAGES` of physical address space between the
//! lowest and highest pfn of all nodes (2 KiB per GiB: 2 MiB per TiB, so
//! the module keeps it in kvmalloc'd memory). An entry holds the arena + 1
//! in its high 32 bits and the slot in its low 32: any number of arenas a
//! host can have (nodes x zones) and any number of blocks a zone can hold
//! (16 TiB of 4 MiB blocks is 2^22). Entries are
//! written under the owning arena's lock when a block is added or removed and
//! read without a lock on the free path; the reader then re-checks the block
//! under that arena's lock, so a stale read can only make a free fail cleanly.

use core::ops::Deref;
use core::sync::atomic::{AtomicU64, Ordering};

use super::order::MAX_ORDER;

const SLOT_BITS: u32 = 32;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
/// Most arenas the map can name.
pub const MAX_ARENAS: usize = u32::MAX as usize - 1;
/// Most slots per arena the map can name.
pub const MAX_SLOTS: usize = 1 << SLOT_BITS;

/// The owner of a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Arena index.
    pub arena: usize,
    /// Slot in the arena's buddy allocator.
    pub slot: usize,
}

/// The map, over any slice-like storage of atomics (zeroed = no owners).
pub struct BlockMap<T> {
    first_block: u64,
    entries: T,
}

impl<T: Deref<Target = [AtomicU64]>> BlockMap<T> {
    /// A map covering blocks from the one holding `first_pfn` on; `entries`
    /// must hold one zeroed atomic per block up to the highest pfn.
    pub fn new(first_pfn: u64, entries: T) -> Self {
        BlockMap {
            first_block: first_pfn >> MAX_ORDER,
            entries,
        }
    }

    /// Bytes of the map's entries.
    pub fn bytes(&self) -> usize {
        core::mem::size_of_val(&*self.entries)
    }

    /// Number of blocks needed to cover `[first_pfn, end_pfn)`.
    pub fn blocks_for(first_pfn: u64, end_pfn: u64) -> usize {
        ((end_pfn.saturating_sub(1) >> MAX_ORDER) - (first_pfn >> MAX_ORDER) + 1) as usize
    }

    fn entry(&self, pfn: u64) -> Option<&AtomicU64> {
        let block = (pfn >> MAX_ORDER).checked_sub(self.first_block)?;
        self.entries.get(usize::try_from(block).ok()?)
    }

    /// The owner of the block holding `pfn`, if any.
    pub fn lookup(&self, pfn: u64) -> Option<Owner> {
        let value = self.entry(pfn)?.load(Ordering::Acquire);
        if value == 0 {
            return None;
        }
        Some(Owner {
            arena: (value >> SLOT_BITS) as usize - 1,
            slot: (value & SLOT_MASK) as usize,
        })
    }

    /// Records `owner` for the block holding `pfn`; false if out of range,
    /// not encodable, or already owned.
    pub fn insert(&self, pfn: u64, owner: Owner) -> bool {
        if owner.arena >= MAX_ARENAS || owner.slot >= MAX_SLOTS {
            return false;
        }
        let value = ((owner.arena as u64 + 1) << SLOT_BITS) | owner.slot as u64;
        match self.entry(pfn) {
            Some(e) => e
                .compare_exchange(0, value, Ordering::Release, Ordering::Relaxed)
                .is_ok(),
            None => false,
        }
    }

    /// Forgets the owner of the block holding `pfn`.
    pub fn remove(&self, pfn: u64) {
        if let Some(e) = self.entry(pfn) {
            e.store(0, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::logic::order::BLOCK_PAGES;
    use std::vec::Vec;

    #[test]
    fn insert_lookup_remove() {
        let first = 4096 + 17;
        let n = BlockMap::<Vec<AtomicU64>>::blocks_for(first, 10 * 1024);
        assert_eq!(n, 6); // blocks 4..=9
        let map = BlockMap::new(first, (0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>());
        assert_eq!(map.bytes(), 6 * 8);
        let owner = Owner { arena: 3, slot: 77 };
        assert!(map.insert(5 * 1024, owner));
        assert!(
            !map.insert(5 * 1024 + 9, Owner { arena: 0, slot: 0 }),
            "already owned"
        );
        assert_eq!(map.lookup(5 * 1024 + 1023), Some(owner));
        assert_eq!(map.lookup(6 * 1024), None);
        assert_eq!(map.lookup(3 * 1024), None, "below the map");
        assert_eq!(map.lookup(11 * 1024), None, "above the map");
        assert!(!map.insert(11 * 1024, owner));
        map.remove(5 * 1024 + 3);
        assert_eq!(map.lookup(5 * 1024), None);
        assert!(map.insert(5 * 1024, Owner { arena: 0, slot: 0 }));
        assert_eq!(map.lookup(5 * 1024), Some(Owner { arena: 0, slot: 0 }));
    }

    /// A big host: 1024 nodes x 4 zones of arenas, and a 16 TiB zone
    /// (2^22 blocks): the largest arena and slot ids round-trip, next to
    /// the smallest, and what cannot be named is refused, not truncated.
    #[test]
    fn big_hosts_arena_and_slot_ids_round_trip() {
        let map = BlockMap::new(0, (0..8).map(|_| AtomicU64::new(0)).collect::<Vec<_>>());
        let block = |b: u64| b * BLOCK_PAGES as u64;
        let owners = [
            Owner { arena: 0, slot: 0 },
            Owner {
                arena: 1024 * 4 - 1,
                slot: (1 << 22) - 1,
            },
            Owner {
                arena: 255,
                slot: 1 << 24,
            },
            Owner {
                arena: MAX_ARENAS - 1,
                slot: MAX_SLOTS - 1,
            },
        ];
        for (b, owner) in owners.iter().enumerate() {
            assert!(map.insert(block(b as u64), *owner), "{owner:?}");
        }
        for (b, owner) in owners.iter().enumerate() {
            assert_eq!(map.lookup(block(b as u64) + 5), Some(*owner));
        }
        let too_big = [
            Owner {
                arena: MAX_ARENAS,
                slot: 0,
            },
            Owner {
                arena: 0,
                slot: MAX_SLOTS,
            },
        ];
        for owner in too_big {
            assert!(!map.insert(block(6), owner), "{owner:?}");
        }
        assert_eq!(map.lookup(block(6)), None);
    }
}
