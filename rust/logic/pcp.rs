// SPDX-License-Identifier: GPL-2.0
//! Per-CPU page lists: the list logic of one CPU's lists for one arena.
//!
//! Modelled on the host's `struct per_cpu_pages` (mm/page_alloc.c): `count`
//! pages on the lists, `high` (above it, `batch` pages go back to the buddy),
//! `batch` (how many pages a refill or a flush moves under one buddy-lock
//! hold), one list per order `0..=PCP_MAX_ORDER` (`PAGE_ALLOC_COSTLY_ORDER`).
//! Each list is a ring: allocations and frees use its hot end (the most
//! recently freed chunk, likely still in cache), flushes take the cold end.
//!
//! An all-zero `PcpLists` is a valid, empty, disabled list set (`high` 0), so
//! per-CPU memory that the kernel hands out zeroed needs no constructor.
//! Nothing here locks: the caller holds the CPU's list lock.

use super::order::pages;

/// Highest order kept on per-CPU lists (the host's `PAGE_ALLOC_COSTLY_ORDER`).
pub const PCP_MAX_ORDER: u32 = 3;
/// Orders with a list.
pub const PCP_ORDERS: usize = PCP_MAX_ORDER as usize + 1;
/// Largest `high` the `pcp` knob accepts, in pages.
pub const PCP_HIGH_MAX: u32 = 1024;
/// Largest `batch` the `pcp` knob accepts, in pages.
pub const PCP_BATCH_MAX: u32 = 256;

/// Ring capacity of order `o`'s list, a power of two (index by mask): room
/// for `high + batch` pages of that order plus the refill overshoot.
const fn ring_capacity(order: usize) -> usize {
    2048 >> order
}
const RING_OFFSET: [usize; PCP_ORDERS + 1] = {
    let mut off = [0; PCP_ORDERS + 1];
    let mut o = 0;
    while o < PCP_ORDERS {
        off[o + 1] = off[o] + ring_capacity(o);
        o += 1;
    }
    off
};
const fn ring_offset(order: usize) -> usize {
    RING_OFFSET[order]
}
const _: () = assert!(
    ring_capacity(PCP_MAX_ORDER as usize) << PCP_MAX_ORDER
        >= (PCP_HIGH_MAX + PCP_BATCH_MAX) as usize + 15
);
/// Largest pfn a list can hold (entries are 32 bits, 16 TiB of memory; an
/// arena beyond it runs with its lists off).
pub const PCP_MAX_PFN: u64 = u32::MAX as u64;
const SLOTS: usize = ring_offset(PCP_ORDERS);

/// Counters of one CPU's lists, shown in `zoneinfo`'s pagesets.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcpStats {
    /// Allocations served from the lists.
    pub hits: u64,
    /// Refills from the buddy (one lock hold each).
    pub refills: u64,
    /// Flushes to the buddy (over `high`, drains, CPU offline).
    pub drains: u64,
    /// Frees of pages of an arena on another node than this CPU's.
    pub remote_frees: u64,
}

/// One CPU's lists for one arena.
pub struct PcpLists {
    slots: [u32; SLOTS],
    /// Ring start (cold end) per order.
    start: [u16; PCP_ORDERS],
    /// Chunks per order.
    len: [u16; PCP_ORDERS],
    /// Pages on all lists.
    count: u32,
    high: u32,
    batch: u32,
    /// Where the next flush starts (round robin over orders, as the host).
    flush_from: u8,
    /// The NUMA node of the CPU these lists belong to (for remote frees).
    pub cpu_node: u16,
    /// Counters.
    pub stats: PcpStats,
}

/// What a free onto the lists needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Kept on the list; nothing else to do.
    Kept,
    /// Kept, and the lists are above `high`: flush `batch` pages.
    OverHigh,
    /// Not kept (lists off, order not cached, or ring full): free it to the
    /// buddy directly.
    Refused,
}

impl PcpLists {
    /// Empty lists with `high` and `batch` (the all-zero value is the same
    /// with both 0: disabled).
    pub const fn new(high: u32, batch: u32) -> Self {
        PcpLists {
            slots: [0; SLOTS],
            start: [0; PCP_ORDERS],
            len: [0; PCP_ORDERS],
            count: 0,
            high,
            batch,
            flush_from: 0,
            cpu_node: 0,
            stats: PcpStats {
                hits: 0,
                refills: 0,
                drains: 0,
                remote_frees: 0,
            },
        }
    }

    /// Pages on the lists.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// `high` in pages (0: lists off).
    pub fn high(&self) -> u32 {
        self.high
    }

    /// `batch` in pages.
    pub fn batch(&self) -> u32 {
        self.batch
    }

    /// Whether the lists are in use.
    pub fn enabled(&self) -> bool {
        self.high > 0 && self.batch > 0
    }

    /// Chunks on order `order`'s list.
    pub fn len(&self, order: u32) -> usize {
        self.len.get(order as usize).map_or(0, |&n| n as usize)
    }

    /// Sets `high` and `batch` (validated by the caller, see
    /// [`validate_high_batch`]). Chunks above a lowered `high` stay until
    /// the next free or drain.
    pub fn set_high_batch(&mut self, high: u32, batch: u32) {
        self.high = high;
        self.batch = batch;
    }

    fn slot(order: usize, start: u16, i: usize) -> usize {
        ring_offset(order) + ((start as usize + i) & (ring_capacity(order) - 1))
    }

    /// Takes the hottest chunk of `order`; counts a hit.
    pub fn pop(&mut self, order: u32) -> Option<u64> {
        let o = order as usize;
        if o >= PCP_ORDERS || self.len[o] == 0 {
            return None;
        }
        self.len[o] -= 1;
        let pfn = self.slots[Self::slot(o, self.start[o], self.len[o] as usize)];
        self.count -= pages(order) as u32;
        self.stats.hits += 1;
        Some(pfn as u64)
    }

    /// Chunks a refill of `order` should take from the buddy: `batch` pages'
    /// worth, but not past `high + batch` pages in all, at least one chunk,
    /// within the ring. 0 if the lists are off.
    pub fn refill_chunks(&self, order: u32) -> usize {
        let o = order as usize;
        if o >= PCP_ORDERS || !self.enabled() {
            return 0;
        }
        let room = (self.high + self.batch).saturating_sub(self.count) as usize >> order;
        let want = ((self.batch as usize) >> order).min(room).max(1);
        want.min(ring_capacity(o) - self.len[o] as usize)
    }

    /// Adds a chunk taken from the buddy by a refill (never refused while
    /// the caller stays within [`PcpLists::refill_chunks`]).
    pub fn add_refilled(&mut self, order: u32, pfn: u64) -> bool {
        let o = order as usize;
        if o >= PCP_ORDERS || self.len[o] as usize >= ring_capacity(o) || pfn > PCP_MAX_PFN {
            return false;
        }
        self.slots[Self::slot(o, self.start[o], self.len[o] as usize)] = pfn as u32;
        self.len[o] += 1;
        self.count += pages(order) as u32;
        true
    }

    /// Puts a freed chunk on its list (hot end).
    pub fn push(&mut self, order: u32, pfn: u64) -> PushOutcome {
        if !self.enabled() || !self.add_refilled(order, pfn) {
            return PushOutcome::Refused;
        }
        if self.count > self.high {
            PushOutcome::OverHigh
        } else {
            PushOutcome::Kept
        }
    }

    fn pop_cold(&mut self, o: usize) -> Option<(u64, u32)> {
        if self.len[o] == 0 {
            return None;
        }
        let pfn = self.slots[Self::slot(o, self.start[o], 0)];
        self.start[o] = ((self.start[o] as usize + 1) & (ring_capacity(o) - 1)) as u16;
        self.len[o] -= 1;
        self.count -= pages(o as u32) as u32;
        Some((pfn as u64, o as u32))
    }

    /// Takes the coldest chunks, round robin over the orders, until at least
    /// `min_pages` pages (or everything) are out; each goes to `give`.
    /// Returns pages taken and counts one drain if any were.
    pub fn flush(&mut self, min_pages: usize, mut give: impl FnMut(u64, u32)) -> usize {
        let mut taken = 0;
        while taken < min_pages && self.count > 0 {
            for _ in 0..PCP_ORDERS {
                let o = self.flush_from as usize % PCP_ORDERS;
                self.flush_from = ((o + 1) % PCP_ORDERS) as u8;
                if let Some((pfn, order)) = self.pop_cold(o) {
                    give(pfn, order);
                    taken += pages(order);
                    break;
                }
            }
        }
        if taken > 0 {
            self.stats.drains += 1;
        }
        taken
    }

    /// A flush after [`PushOutcome::OverHigh`]: `batch` pages, or more if
    /// needed to get back to `high` (a large chunk may have pushed it over).
    pub fn flush_batch(&mut self, give: impl FnMut(u64, u32)) -> usize {
        let over = self.count.saturating_sub(self.high);
        self.flush(self.batch.max(over).max(1) as usize, give)
    }

    /// Everything back (drain knob, shrink, CPU offline, unload).
    pub fn drain(&mut self, give: impl FnMut(u64, u32)) -> usize {
        self.flush(usize::MAX, give)
    }
}

/// The host's `zone_batchsize()` reasoning: about a thousandth of the zone,
/// at most 1 MiB, a quarter of that per batch, rounded to `2^n - 1` so
/// batches do not keep hitting the same cache colours; at least 1.
pub fn default_batch(managed_pages: u64) -> u32 {
    let mut batch = (managed_pages >> 10).min(256) / 4;
    if batch < 1 {
        return 1;
    }
    batch += batch / 2;
    let pow2 = 1u64 << (63 - batch.leading_zeros());
    ((pow2 - 1).max(1) as u32).min(PCP_BATCH_MAX)
}

/// Default `high`: the host sizes it from the zone's low watermark split
/// over the CPUs of the zone's node; rkmem uses 1/256 of the zone (about the
/// low watermark of a 1-4 GiB zone) over those CPUs, at least `4 * batch`,
/// at most [`PCP_HIGH_MAX`].
pub fn default_high(managed_pages: u64, node_cpus: u32, batch: u32) -> u32 {
    let share = managed_pages / 256 / node_cpus.max(1) as u64;
    (share.min(PCP_HIGH_MAX as u64) as u32).clamp((4 * batch).min(PCP_HIGH_MAX), PCP_HIGH_MAX)
}

/// Why a `high`/`batch` pair is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HighBatchError {
    /// `batch` 0, or above `high` while lists are on: -EINVAL.
    Invalid,
    /// Above [`PCP_HIGH_MAX`] / [`PCP_BATCH_MAX`]: -ERANGE.
    Range,
}

/// Checks a `pcp` knob setting: `high == 0` turns the lists off.
pub fn validate_high_batch(high: u64, batch: u64) -> Result<(u32, u32), HighBatchError> {
    if high > PCP_HIGH_MAX as u64 || batch > PCP_BATCH_MAX as u64 {
        return Err(HighBatchError::Range);
    }
    if batch == 0 || (high > 0 && batch > high) {
        return Err(HighBatchError::Invalid);
    }
    Ok((high as u32, batch as u32))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::collections::VecDeque;
    use std::vec::Vec;

    use crate::logic::test_rng::XorShift as Rng;

    fn boxed(high: u32, batch: u32) -> std::boxed::Box<PcpLists> {
        std::boxed::Box::new(PcpLists::new(high, batch))
    }

    #[test]
    fn pfns_beyond_32_bits_are_refused() {
        let mut p = boxed(64, 8);
        assert_eq!(p.push(0, PCP_MAX_PFN + 1), PushOutcome::Refused);
        assert!(!p.add_refilled(0, PCP_MAX_PFN + 1));
        assert_eq!(p.push(0, PCP_MAX_PFN), PushOutcome::Kept);
        assert_eq!(p.pop(0), Some(PCP_MAX_PFN));
    }

    #[test]
    fn zeroed_is_disabled_and_empty() {
        let mut p = boxed(0, 0);
        assert!(!p.enabled());
        assert_eq!(p.push(0, 5), PushOutcome::Refused);
        assert_eq!(p.pop(0), None);
        assert_eq!(p.refill_chunks(0), 0);
    }

    #[test]
    fn lifo_hot_end_and_cold_flush() {
        let mut p = boxed(16, 4);
        for pfn in 0..4 {
            assert_eq!(p.push(0, pfn), PushOutcome::Kept);
        }
        assert_eq!(p.pop(0), Some(3));
        let mut out = Vec::new();
        p.drain(|pfn, o| out.push((pfn, o)));
        assert_eq!(out, [(0, 0), (1, 0), (2, 0)]);
        assert_eq!(p.count(), 0);
    }

    #[test]
    fn over_high_flushes_batch() {
        let mut p = boxed(8, 4);
        for pfn in 0..8 {
            assert_eq!(p.push(0, pfn), PushOutcome::Kept);
        }
        assert_eq!(p.push(0, 8), PushOutcome::OverHigh);
        let n = p.flush_batch(|_, _| {});
        assert_eq!(n, 4);
        assert_eq!(p.count(), 5);
        assert_eq!(p.stats.drains, 1);
    }

    #[test]
    fn validation() {
        assert_eq!(validate_high_batch(0, 1), Ok((0, 1)));
        assert_eq!(validate_high_batch(8, 0), Err(HighBatchError::Invalid));
        assert_eq!(validate_high_batch(8, 9), Err(HighBatchError::Invalid));
        assert_eq!(validate_high_batch(1025, 1), Err(HighBatchError::Range));
        assert_eq!(validate_high_batch(1024, 257), Err(HighBatchError::Range));
        assert_eq!(validate_high_batch(1024, 256), Ok((1024, 256)));
    }

    #[test]
    fn defaults_follow_the_host() {
        // 1 GiB zone: the host's batch is 63.
        assert_eq!(default_batch(262_144), 63);
        // 16 MiB DMA zone: tiny batch, at least 1.
        assert_eq!(default_batch(3_976), 1);
        let b = default_batch(262_144);
        let h = default_high(262_144, 1, b);
        assert!(h >= 4 * b && h <= PCP_HIGH_MAX);
        assert!(default_high(262_144, 2, b) <= h);
        for managed in [0, 1, 1000, 1 << 20, 1 << 30] {
            let b = default_batch(managed);
            let h = default_high(managed, 1, b);
            assert_eq!(validate_high_batch(h as u64, b as u64), Ok((h, b)));
        }
    }

    /// Random pushes, pops, refills and flushes against a model of per-order
    /// deques: same chunks out, `count` always the sum of pages, never above
    /// `high + one chunk` after handling OverHigh, nothing lost or duplicated.
    #[test]
    fn matches_model() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..50 {
            let batch = (rng.next() % 64 + 1) as u32;
            let high = batch + (rng.next() % 512) as u32;
            let mut p = boxed(high, batch);
            let mut model: [VecDeque<u64>; PCP_ORDERS] = Default::default();
            let mut buddy: Vec<(u64, u32)> = Vec::new();
            let mut next_pfn = round * 1_000_000;
            for _ in 0..5000 {
                let order = (rng.next() % PCP_ORDERS as u64) as u32;
                match rng.next() % 4 {
                    0 | 1 => {
                        next_pfn += 16;
                        match p.push(order, next_pfn) {
                            PushOutcome::Refused => buddy.push((next_pfn, order)),
                            outcome => {
                                model[order as usize].push_back(next_pfn);
                                if outcome == PushOutcome::OverHigh {
                                    let before = p.count();
                                    p.flush_batch(|pfn, o| {
                                        assert_eq!(model[o as usize].pop_front(), Some(pfn));
                                        buddy.push((pfn, o));
                                    });
                                    assert!(p.count() <= before - batch.min(before));
                                    assert!(p.count() <= high);
                                }
                                // Refills stop at high + batch but always take
                                // one chunk: at most one chunk per order over.
                                let limit = high + batch + 15;
                                assert!(
                                    p.count() <= limit,
                                    "count {} high {} batch {}",
                                    p.count(),
                                    high,
                                    batch
                                );
                            }
                        }
                    }
                    2 => {
                        let got = p.pop(order);
                        assert_eq!(got, model[order as usize].pop_back());
                        if got.is_none() {
                            for _ in 0..p.refill_chunks(order) {
                                next_pfn += 16;
                                assert!(p.add_refilled(order, next_pfn));
                                model[order as usize].push_back(next_pfn);
                            }
                        }
                    }
                    _ => {
                        if rng.next().is_multiple_of(50) {
                            p.drain(|pfn, o| {
                                assert_eq!(model[o as usize].pop_front(), Some(pfn));
                                buddy.push((pfn, o));
                            });
                            assert_eq!(p.count(), 0);
                        }
                    }
                }
                let want: usize = (0..PCP_ORDERS)
                    .map(|o| model[o].len() * pages(o as u32))
                    .sum();
                assert_eq!(p.count() as usize, want);
                for (o, list) in model.iter().enumerate() {
                    assert_eq!(p.len(o as u32), list.len());
                }
            }
            let mut seen: Vec<u64> = buddy.iter().map(|b| b.0).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), buddy.len(), "a chunk was given back twice");
        }
    }
}
