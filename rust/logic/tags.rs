// SPDX-License-Identifier: GPL-2.0
//! Allocation tags: which chunks of a block are live with a caller, readable
//! and changeable without the arena lock.
//!
//! The buddy's own `head` bits say a chunk is out of the buddy; with per-CPU
//! lists a chunk can be out of the buddy and still free (on a list), and the
//! free fast path must check a caller's (pfn, order) without the arena lock.
//! So each block slot has one atomic bit per chunk of every order: set when a
//! chunk is handed to a caller, cleared (test-and-clear) when the caller frees
//! it. A free whose bit is clear is a double free or a wrong order, and two
//! racing frees of one chunk cannot both succeed.

use core::sync::atomic::{AtomicU64, Ordering};

use super::order::{chunk_index, is_aligned, order_bit_base, BLOCK_PAGES, MAX_ORDER, ORDER_BITS};

const WORDS: usize = ORDER_BITS.div_ceil(64);

/// The tags of one block slot (all clear: nothing handed out).
pub struct BlockTags([AtomicU64; WORDS]);

/// Bytes of one slot's tags.
pub const BLOCK_TAG_BYTES: usize = core::mem::size_of::<BlockTags>();

impl Default for BlockTags {
    fn default() -> Self {
        Self::new()
    }
}

impl BlockTags {
    /// No chunk handed out.
    pub const fn new() -> Self {
        BlockTags([const { AtomicU64::new(0) }; WORDS])
    }

    /// (word, mask) of the chunk at page offset `offset` and `order`, if it
    /// is a valid chunk start.
    fn bit(offset: usize, order: u32) -> Option<(usize, u64)> {
        if order > MAX_ORDER || offset >= BLOCK_PAGES || !is_aligned(offset, order) {
            return None;
        }
        let bit = order_bit_base(order) + chunk_index(offset, order);
        Some((bit / 64, 1 << (bit % 64)))
    }

    /// Marks the chunk handed out; `false` if it already was (a bug: the
    /// same chunk given twice) or is not a chunk start.
    pub fn set(&self, offset: usize, order: u32) -> bool {
        let Some((word, mask)) = Self::bit(offset, order) else {
            return false;
        };
        // Acquire/Release pair with `clear`: the caller's writes to the
        // pages happen before the next owner's.
        self.0[word].fetch_or(mask, Ordering::AcqRel) & mask == 0
    }

    /// Clears the chunk's tag; `false` (nothing changed) if it was not
    /// handed out at this order.
    pub fn clear(&self, offset: usize, order: u32) -> bool {
        let Some((word, mask)) = Self::bit(offset, order) else {
            return false;
        };
        self.0[word].fetch_and(!mask, Ordering::AcqRel) & mask != 0
    }

    /// Whether the chunk is handed out at this order.
    pub fn is_set(&self, offset: usize, order: u32) -> bool {
        Self::bit(offset, order).is_some_and(|(w, m)| self.0[w].load(Ordering::Acquire) & m != 0)
    }

    /// Whether no chunk of the block is handed out.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| w.load(Ordering::Acquire) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_clear_once() {
        let t = BlockTags::new();
        assert!(t.set(8, 3));
        assert!(!t.set(8, 3), "handed out twice");
        assert!(!t.clear(8, 2), "wrong order");
        assert!(!t.clear(9, 0), "inside, not the start");
        assert!(t.is_set(8, 3));
        assert!(t.clear(8, 3));
        assert!(!t.clear(8, 3), "double free");
        assert!(t.is_empty());
        assert!(!t.set(4, 3), "misaligned");
        assert!(!t.set(BLOCK_PAGES, 0), "outside");
        assert!(t.set(0, MAX_ORDER) && t.clear(0, MAX_ORDER));
    }

    #[test]
    fn racing_frees_one_wins() {
        extern crate std;
        use std::sync::Arc;
        let t = Arc::new(BlockTags::new());
        for round in 0..200 {
            let offset = (round % 128) * 8;
            assert!(t.set(offset, 3));
            let wins: usize = (0..4)
                .map(|_| {
                    let t = t.clone();
                    std::thread::spawn(move || t.clear(offset, 3) as usize)
                })
                .map(|h| h.join().unwrap())
                .sum();
            assert_eq!(wins, 1);
        }
        assert!(t.is_empty());
    }
}
