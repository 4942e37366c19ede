// SPDX-License-Identifier: GPL-2.0
//! Per arena, how many allocations that preferred it another arena served:
//! a few (target, count) slots filled on first use, lock-free, plus one
//! count for all further targets. A full matrix of arenas by arenas would
//! be 128 MiB on a host of 1024 nodes; a request only falls back along its
//! zonelist, so a few targets take nearly all fallbacks.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Targets counted one by one per arena.
pub const FALLBACK_TARGETS: usize = 8;

const EMPTY: u32 = 0;

/// The counters of one arena.
pub struct FallbackCounts {
    /// Target arena id + 1, `EMPTY` while unused; set once.
    targets: [AtomicU32; FALLBACK_TARGETS],
    counts: [AtomicU64; FALLBACK_TARGETS],
    /// Fallbacks to targets beyond the first `FALLBACK_TARGETS`.
    others: AtomicU64,
}

impl FallbackCounts {
    /// No fallback yet.
    pub const fn new() -> Self {
        FallbackCounts {
            targets: [const { AtomicU32::new(EMPTY) }; FALLBACK_TARGETS],
            counts: [const { AtomicU64::new(0) }; FALLBACK_TARGETS],
            others: AtomicU64::new(0),
        }
    }

    /// Counts one fallback to arena `to`: O(FALLBACK_TARGETS), no lock.
    pub fn count(&self, to: usize) {
        let Some(key) = u32::try_from(to).ok().and_then(|t| t.checked_add(1)) else {
            self.others.fetch_add(1, Ordering::Relaxed);
            return;
        };
        for (target, count) in self.targets.iter().zip(&self.counts) {
            // A plain load first: slots are set once, so a taken one is
            // never written again (a failed compare-exchange is a locked
            // write on x86: eight of them per fallback, on a cache line
            // every CPU falling back from this arena shares).
            let mut seen = target.load(Ordering::Relaxed);
            if seen == EMPTY {
                seen =
                    match target.compare_exchange(EMPTY, key, Ordering::Relaxed, Ordering::Relaxed)
                    {
                        Ok(_) => key,
                        Err(current) => current,
                    };
            }
            if seen == key {
                count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.others.fetch_add(1, Ordering::Relaxed);
    }

    /// (target arena, count) of each target counted one by one.
    pub fn targets(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.targets.iter().zip(&self.counts).filter_map(|(t, c)| {
            let key = t.load(Ordering::Relaxed);
            (key != EMPTY).then(|| (key as usize - 1, c.load(Ordering::Relaxed)))
        })
    }

    /// Fallbacks to all other targets.
    pub fn others(&self) -> u64 {
        self.others.load(Ordering::Relaxed)
    }
}

impl Default for FallbackCounts {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn first_targets_one_by_one_then_others() {
        let c = FallbackCounts::new();
        assert_eq!(c.targets().count(), 0);
        // 4095: the last arena of 1024 nodes x 4 zones.
        let ids: Vec<usize> = (0..FALLBACK_TARGETS - 1).chain([4095]).collect();
        for (i, &id) in ids.iter().enumerate() {
            for _ in 0..=i {
                c.count(id);
            }
        }
        c.count(4096);
        c.count(7);
        c.count(usize::MAX);
        c.count(0);
        let got: Vec<(usize, u64)> = c.targets().collect();
        let mut want: Vec<(usize, u64)> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i as u64 + 1))
            .collect();
        want[0].1 += 1;
        assert_eq!(got, want);
        assert_eq!(c.others(), 3);
    }

    #[test]
    fn concurrent_counts_add_up() {
        let c = FallbackCounts::new();
        std::thread::scope(|s| {
            for t in 0..4 {
                let c = &c;
                s.spawn(move || {
                    for i in 0..10_000usize {
                        c.count((i + t) % 12);
                    }
                });
            }
        });
        let one_by_one: u64 = c.targets().map(|(_, n)| n).sum();
        assert_eq!(one_by_one + c.others(), 40_000);
        let mut ids: Vec<usize> = c.targets().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), FALLBACK_TARGETS, "every slot taken");
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), FALLBACK_TARGETS, "each target in one slot");
    }
}
