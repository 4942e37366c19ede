// SPDX-License-Identifier: GPL-2.0
//! The buddy allocator of one arena (one node and zone) over host blocks.
//!
//! A block is `BLOCK_PAGES` contiguous, naturally aligned pages taken from the
//! host. Its metadata ([`BlockMeta`]) is two flat bitmaps with one bit per
//! chunk of every order (`free`: the chunk is on a free list; `head`: the chunk
//! is handed out as one allocation) and the links of per-order block lists:
//! about 0.6 bytes per managed page, against the host's 64-byte `struct page`.
//!
//! The arena keeps, per order, a doubly linked list of the blocks that hold at
//! least one free chunk of that order, so allocation is O(MAX_ORDER) list
//! lookups plus a bounded bitmap scan inside one block, and free is
//! O(MAX_ORDER) merges: no operation walks all of memory. Vacant slots are
//! a stack, so finding room for a new block is O(1) however big the zone.

use core::ops::DerefMut;

use super::order::{
    buddy_index, chunk_index, chunks_per_block, is_aligned, order_bit_base, pages, parent_index,
    BLOCK_PAGES, MAX_ORDER, NR_ORDERS, ORDER_BITS,
};

const WORDS: usize = ORDER_BITS.div_ceil(64);
const NIL: u32 = u32::MAX;

/// Bookkeeping of one host block.
pub struct BlockMeta {
    base_pfn: u64,
    /// Bit `order_bit_base(o) + i`: chunk `i` of order `o` is free (on a list).
    free: [u64; WORDS],
    /// Bit `order_bit_base(o) + i`: chunk `i` of order `o` is one live allocation.
    head: [u64; WORDS],
    free_chunks: [u16; NR_ORDERS],
    free_pages: u32,
    next: [u32; NR_ORDERS],
    prev: [u32; NR_ORDERS],
}

impl BlockMeta {
    /// Metadata of a block starting at `base_pfn` (aligned to `BLOCK_PAGES`),
    /// wholly free: one free chunk of `MAX_ORDER`.
    pub const fn new(base_pfn: u64) -> Self {
        let mut meta = BlockMeta {
            base_pfn,
            free: [0; WORDS],
            head: [0; WORDS],
            free_chunks: [0; NR_ORDERS],
            free_pages: BLOCK_PAGES as u32,
            next: [NIL; NR_ORDERS],
            prev: [NIL; NR_ORDERS],
        };
        let bit = order_bit_base(MAX_ORDER);
        meta.free[bit / 64] |= 1 << (bit % 64);
        meta.free_chunks[MAX_ORDER as usize] = 1;
        meta
    }

    /// First page frame number of the block.
    pub fn base_pfn(&self) -> u64 {
        self.base_pfn
    }

    /// Free pages in the block.
    pub fn free_pages(&self) -> usize {
        self.free_pages as usize
    }

    /// Whether no page of the block is allocated.
    pub fn is_whole(&self) -> bool {
        self.free_pages as usize == BLOCK_PAGES
    }

    fn test(bits: &[u64; WORDS], order: u32, index: usize) -> bool {
        let bit = order_bit_base(order) + index;
        bits[bit / 64] & (1 << (bit % 64)) != 0
    }

    fn set(bits: &mut [u64; WORDS], order: u32, index: usize, value: bool) {
        let bit = order_bit_base(order) + index;
        if value {
            bits[bit / 64] |= 1 << (bit % 64);
        } else {
            bits[bit / 64] &= !(1 << (bit % 64));
        }
    }

    fn set_free(&mut self, order: u32, index: usize, value: bool) {
        Self::set(&mut self.free, order, index, value);
        if value {
            self.free_chunks[order as usize] += 1;
            self.free_pages += pages(order) as u32;
        } else {
            self.free_chunks[order as usize] -= 1;
            self.free_pages -= pages(order) as u32;
        }
    }

    /// Index of the first free chunk of `order`; scans at most
    /// `BLOCK_PAGES / 64` words (order 0), fewer for higher orders.
    fn first_free(&self, order: u32) -> Option<usize> {
        let start = order_bit_base(order);
        let end = start + chunks_per_block(order);
        let mut word = start / 64;
        while word * 64 < end {
            let mut bits = self.free[word];
            let lo = word * 64;
            if lo < start {
                bits &= !0u64 << (start - lo);
            }
            if lo + 64 > end {
                bits &= !0u64 >> (lo + 64 - end);
            }
            if bits != 0 {
                return Some(lo + bits.trailing_zeros() as usize - start);
            }
            word += 1;
        }
        None
    }
}

/// Why a free was refused. State is unchanged in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeError {
    /// The page is not in a block of this arena's slot.
    NotOwned,
    /// The page is not the start of a chunk of the given order.
    Misaligned,
    /// No live allocation of that order starts there: a double free or a
    /// free with the wrong order.
    NotAllocated,
    /// The page's reference count is already 0: it is free (on a per-CPU
    /// list or in the buddy).
    DoubleFree,
}

/// Counters kept by the buddy allocator itself.
#[derive(Default, Clone, Copy)]
pub struct BuddyStats {
    /// Successful allocations per order.
    pub allocs: [u64; NR_ORDERS],
    /// Frees per order.
    pub frees: [u64; NR_ORDERS],
    /// Allocations refused for lack of a free chunk.
    pub failures: u64,
    /// Frees refused (see [`FreeError`]).
    pub bad_frees: u64,
}

/// One arena's buddy allocator. `S` is the slot table and `V` the stack of
/// vacant slots, as long as `S` (a kernel `KVVec` in the module, a `Vec` in
/// tests); `B` owns one block's metadata (and, in the module, the host pages,
/// returned when `B` is dropped).
pub struct BuddyArena<S, V, B> {
    slots: S,
    /// Vacant slots: `vacant[..nr_vacant]`, the next to fill on top. Kept in
    /// step with `slots` by [`Self::add_block`] and [`Self::detach`].
    vacant: V,
    nr_vacant: usize,
    heads: [u32; NR_ORDERS],
    nr_free: [usize; NR_ORDERS],
    blocks: usize,
    free_pages: usize,
    /// Counters of allocations and frees.
    pub stats: BuddyStats,
    /// Slot-table entries touched (tests count work with it).
    #[cfg(test)]
    touched: u64,
    _block: core::marker::PhantomData<B>,
}

impl<S, V, B> BuddyArena<S, V, B>
where
    S: DerefMut<Target = [Option<B>]>,
    V: DerefMut<Target = [u32]>,
    B: DerefMut<Target = BlockMeta>,
{
    /// An arena with no blocks; `slots` (all `None`) bounds how many it can
    /// hold, `vacant` (any contents, at least as long) becomes the stack of
    /// vacant slots. O(slots), once, at init.
    pub fn new(slots: S, mut vacant: V) -> Self {
        let capacity = slots.len().min(vacant.len()).min(NIL as usize);
        let mut nr_vacant = 0;
        // Lowest slot on top: blocks fill the table from the start.
        for slot in (0..capacity).rev() {
            if slots[slot].is_none() {
                vacant[nr_vacant] = slot as u32;
                nr_vacant += 1;
            }
        }
        BuddyArena {
            slots,
            vacant,
            nr_vacant,
            heads: [NIL; NR_ORDERS],
            nr_free: [0; NR_ORDERS],
            blocks: 0,
            free_pages: 0,
            stats: BuddyStats::default(),
            #[cfg(test)]
            touched: 0,
            _block: core::marker::PhantomData,
        }
    }

    /// Blocks held.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// Capacity of the slot table.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Free pages over all blocks.
    pub fn free_pages(&self) -> usize {
        self.free_pages
    }

    /// Free chunks of `order` (one column of buddyinfo).
    pub fn nr_free(&self, order: u32) -> usize {
        self.nr_free[order as usize]
    }

    /// Whether the arena can satisfy an `order` allocation without growing.
    pub fn can_alloc(&self, order: u32) -> bool {
        (order..=MAX_ORDER).any(|o| self.heads[o as usize] != NIL)
    }

    /// The block in `slot`, if any.
    pub fn block(&self, slot: usize) -> Option<&BlockMeta> {
        self.slots.get(slot)?.as_deref()
    }

    /// The slot the next [`Self::add_block`] fills, if any is vacant: O(1).
    pub fn vacant_slot(&self) -> Option<usize> {
        let top = self.nr_vacant.checked_sub(1)?;
        Some(self.vacant[top] as usize)
    }

    /// Slot-table entries touched so far (tests compare work done).
    #[cfg(test)]
    pub fn touched(&self) -> u64 {
        self.touched
    }

    fn meta(&mut self, slot: u32) -> &mut BlockMeta {
        #[cfg(test)]
        {
            self.touched += 1;
        }
        // Invariant: list links and callers only name occupied slots.
        match self.slots[slot as usize].as_deref_mut() {
            Some(meta) => meta,
            None => unreachable!("rkmem buddy: empty slot {} on a list", slot),
        }
    }

    fn list_push(&mut self, order: u32, slot: u32) {
        let o = order as usize;
        let old = self.heads[o];
        {
            let m = self.meta(slot);
            m.prev[o] = NIL;
            m.next[o] = old;
        }
        if old != NIL {
            self.meta(old).prev[o] = slot;
        }
        self.heads[o] = slot;
    }

    fn list_remove(&mut self, order: u32, slot: u32) {
        let o = order as usize;
        let (prev, next) = {
            let m = self.meta(slot);
            let links = (m.prev[o], m.next[o]);
            m.prev[o] = NIL;
            m.next[o] = NIL;
            links
        };
        if prev != NIL {
            self.meta(prev).next[o] = next;
        } else {
            self.heads[o] = next;
        }
        if next != NIL {
            self.meta(next).prev[o] = prev;
        }
    }

    /// Marks chunk (`order`, `index`) of `slot` free, keeping lists and counts.
    fn put_free(&mut self, slot: u32, order: u32, index: usize) {
        let m = self.meta(slot);
        m.set_free(order, index, true);
        let first = m.free_chunks[order as usize] == 1;
        if first {
            self.list_push(order, slot);
        }
        self.nr_free[order as usize] += 1;
        self.free_pages += pages(order);
    }

    /// Takes chunk (`order`, `index`) of `slot` off the free bitmap.
    fn take_free(&mut self, slot: u32, order: u32, index: usize) {
        let m = self.meta(slot);
        m.set_free(order, index, false);
        let last = m.free_chunks[order as usize] == 0;
        if last {
            self.list_remove(order, slot);
        }
        self.nr_free[order as usize] -= 1;
        self.free_pages -= pages(order);
    }

    /// Adds a wholly free block in the slot [`Self::vacant_slot`] named, and
    /// returns that slot. Returns the block back if no slot is vacant or the
    /// block is not wholly free.
    pub fn add_block(&mut self, block: B) -> Result<usize, B> {
        if !block.is_whole() {
            return Err(block);
        }
        let Some(top) = self.nr_vacant.checked_sub(1) else {
            return Err(block);
        };
        let slot = self.vacant[top];
        match self.slots.get_mut(slot as usize) {
            Some(entry @ None) => *entry = Some(block),
            // Invariant: the stack names only vacant slots of the table.
            _ => unreachable!("rkmem buddy: slot {} on the vacant stack is taken", slot),
        }
        self.nr_vacant = top;
        let m = self.meta(slot);
        m.next = [NIL; NR_ORDERS];
        m.prev = [NIL; NR_ORDERS];
        self.list_push(MAX_ORDER, slot);
        self.nr_free[MAX_ORDER as usize] += 1;
        self.free_pages += BLOCK_PAGES;
        self.blocks += 1;
        Ok(slot as usize)
    }

    /// Allocates a chunk of `order`: returns its first pfn and its slot.
    pub fn alloc(&mut self, order: u32) -> Option<(u64, usize)> {
        let Some(found) = (order..=MAX_ORDER).find(|&o| self.heads[o as usize] != NIL) else {
            self.stats.failures += 1;
            return None;
        };
        let slot = self.heads[found as usize];
        let Some(mut index) = self.meta(slot).first_free(found) else {
            unreachable!(
                "rkmem buddy: block {} listed at order {} has none",
                slot, found
            )
        };
        self.take_free(slot, found, index);
        // Split down: keep the lower half, free the upper half at each order.
        let mut current = found;
        while current > order {
            current -= 1;
            index *= 2;
            self.put_free(slot, current, buddy_index(index));
        }
        let m = self.meta(slot);
        BlockMeta::set(&mut m.head, order, index, true);
        let pfn = m.base_pfn + (index << order) as u64;
        self.stats.allocs[order as usize] += 1;
        Some((pfn, slot as usize))
    }

    /// Frees the `order` chunk at `pfn` in `slot`, merging with free buddies.
    pub fn free(&mut self, slot: usize, pfn: u64, order: u32) -> Result<(), FreeError> {
        let result = self.try_free(slot, pfn, order);
        match result {
            Ok(()) => self.stats.frees[order as usize] += 1,
            Err(_) => self.stats.bad_frees += 1,
        }
        result
    }

    fn try_free(&mut self, slot: usize, pfn: u64, order: u32) -> Result<(), FreeError> {
        if order > MAX_ORDER {
            return Err(FreeError::Misaligned);
        }
        let Some(m) = self.slots.get_mut(slot).and_then(|s| s.as_deref_mut()) else {
            return Err(FreeError::NotOwned);
        };
        if pfn < m.base_pfn || pfn - m.base_pfn >= BLOCK_PAGES as u64 {
            return Err(FreeError::NotOwned);
        }
        let page = (pfn - m.base_pfn) as usize;
        if !is_aligned(page, order) {
            return Err(FreeError::Misaligned);
        }
        let mut index = chunk_index(page, order);
        if !BlockMeta::test(&m.head, order, index) {
            return Err(FreeError::NotAllocated);
        }
        BlockMeta::set(&mut m.head, order, index, false);
        let slot = slot as u32;
        let mut current = order;
        while current < MAX_ORDER {
            let buddy = buddy_index(index);
            if !BlockMeta::test(&self.meta(slot).free, current, buddy) {
                break;
            }
            self.take_free(slot, current, buddy);
            index = parent_index(index);
            current += 1;
        }
        self.put_free(slot, current, index);
        Ok(())
    }

    /// Takes out one wholly free block (to give back to the host). Its
    /// metadata still describes it as whole, so it can be added again.
    pub fn pop_whole_block(&mut self) -> Option<B> {
        let slot = self.heads[MAX_ORDER as usize];
        if slot == NIL {
            return None;
        }
        self.detach(slot as usize)
    }

    /// Takes out the block in `slot` if it is wholly free (memory offline
    /// gives back the free blocks of a range, whatever their place on the
    /// lists); `None` for an empty slot or a block with pages allocated.
    /// Its metadata still describes it as whole, as [`Self::pop_whole_block`].
    pub fn take_whole_block(&mut self, slot: usize) -> Option<B> {
        if !self.slots.get(slot)?.as_deref()?.is_whole() {
            return None;
        }
        self.detach(slot)
    }

    /// Takes out whatever block is in `slot`, wholly free or not: only for
    /// teardown of a module whose clients leaked memory, where the caller
    /// decides what to do with pages still allocated. The block's metadata
    /// keeps its free and allocated bits.
    pub fn take_any_block(&mut self, slot: usize) -> Option<B> {
        self.slots.get(slot)?.as_ref()?;
        self.detach(slot)
    }

    /// Unlinks an occupied `slot` from the arena's lists and totals.
    fn detach(&mut self, slot: usize) -> Option<B> {
        for order in 0..=MAX_ORDER {
            let chunks = self.meta(slot as u32).free_chunks[order as usize] as usize;
            if chunks > 0 {
                self.list_remove(order, slot as u32);
                self.nr_free[order as usize] -= chunks;
            }
        }
        self.free_pages -= self.meta(slot as u32).free_pages();
        self.blocks -= 1;
        // Room for it: a slot leaves the stack for each block it holds.
        self.vacant[self.nr_vacant] = slot as u32;
        self.nr_vacant += 1;
        self.slots[slot].take()
    }

    /// Checks every internal invariant against a recount (tests and the
    /// debugfs `verify` command). Returns a description of the first break.
    pub fn verify(&self) -> Result<(), &'static str> {
        let mut nr_free = [0usize; NR_ORDERS];
        let mut free_pages = 0;
        let mut blocks = 0;
        for (slot, entry) in self.slots.iter().enumerate() {
            let Some(m) = entry.as_deref() else { continue };
            blocks += 1;
            let mut block_free = 0;
            for order in 0..=MAX_ORDER {
                let mut count = 0;
                for index in 0..chunks_per_block(order) {
                    if BlockMeta::test(&m.free, order, index) {
                        count += 1;
                        if BlockMeta::test(&m.head, order, index) {
                            return Err("chunk both free and allocated");
                        }
                        if order < MAX_ORDER && BlockMeta::test(&m.free, order, buddy_index(index))
                        {
                            return Err("two free buddies not merged");
                        }
                    }
                }
                if count != m.free_chunks[order as usize] as usize {
                    return Err("per-block free chunk count wrong");
                }
                let listed = self.listed(order, slot as u32);
                if listed != (count > 0) {
                    return Err("block list membership wrong");
                }
                nr_free[order as usize] += count;
                block_free += count * pages(order);
            }
            if block_free != m.free_pages as usize {
                return Err("per-block free page count wrong");
            }
            free_pages += block_free;
        }
        if nr_free != self.nr_free || free_pages != self.free_pages || blocks != self.blocks {
            return Err("arena totals wrong");
        }
        self.verify_vacant()
    }

    /// The vacant stack holds exactly the empty slots: as many entries as
    /// empty slots, each empty, and the same multiset hash as the empty
    /// slots (sums of two 64-bit mixes of each index: a repeated entry,
    /// which hides an empty slot, changes them but for a chance of about
    /// 2^-64; plain sums of indices and squares do not: {2, 3, 7} twice
    /// matches {1, 2, 3, 5, 6, 7}).
    fn verify_vacant(&self) -> Result<(), &'static str> {
        let capacity = self.slots.len().min(self.vacant.len());
        if self.nr_vacant + self.blocks != capacity {
            return Err("vacant slot count wrong");
        }
        fn mix(mut z: u64) -> u64 {
            // splitmix64's finalizer.
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        let sums = |acc: (u64, u64), slot: usize| {
            let s = slot as u64;
            (
                acc.0
                    .wrapping_add(mix(s.wrapping_add(0x9E37_79B9_7F4A_7C15))),
                acc.1.wrapping_add(mix(s ^ 0xD1B5_4A32_D192_ED03)),
            )
        };
        let mut stacked = (0, 0);
        for &slot in &self.vacant[..self.nr_vacant] {
            match self.slots.get(slot as usize) {
                Some(None) => stacked = sums(stacked, slot as usize),
                _ => return Err("vacant stack names a held slot"),
            }
        }
        let empty = self.slots[..capacity]
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_none())
            .fold((0, 0), |acc, (slot, _)| sums(acc, slot));
        if stacked != empty {
            return Err("vacant stack repeats a slot");
        }
        Ok(())
    }

    fn listed(&self, order: u32, slot: u32) -> bool {
        let mut at = self.heads[order as usize];
        let mut steps = 0;
        while at != NIL && steps <= self.slots.len() {
            if at == slot {
                return true;
            }
            at = match self.slots[at as usize].as_deref() {
                Some(m) => m.next[order as usize],
                None => return false,
            };
            steps += 1;
        }
        false
    }
}

/// Bytes of buddy metadata per block, for the overhead report.
pub const BLOCK_META_BYTES: usize = core::mem::size_of::<BlockMeta>();
// Under a byte per managed page (the host's struct page costs 64).
const _: () = assert!(BLOCK_META_BYTES < BLOCK_PAGES);

#[cfg(test)]
mod tests;
