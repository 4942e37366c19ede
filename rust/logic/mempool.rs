// SPDX-License-Identifier: GPL-2.0
//! A mempool's reserve and its decisions, as `mm/mempool.c` makes them:
//! which element an allocation gets when the backing allocator fails, when
//! it may sleep, what a free keeps (refill first) and how a resize moves
//! elements without losing one. The kernel side (rust/mempool.rs) runs this
//! under the pool's lock and does the backing calls and the sleeping.

use core::ops::DerefMut;

/// The reserved elements: `slots[..curr]`, at most `min` of them (the
/// pool's `min_nr`), and `slots.len() >= min`.
pub struct Reserve<S> {
    slots: S,
    curr: usize,
    min: usize,
}

impl<S: DerefMut<Target = [usize]>> Reserve<S> {
    /// An empty reserve that wants `min` elements; `None` if `slots` has
    /// room for fewer.
    pub fn new(slots: S, min: usize) -> Option<Self> {
        (slots.len() >= min).then_some(Reserve {
            slots,
            curr: 0,
            min,
        })
    }

    /// Elements held (`curr_nr`).
    pub fn curr(&self) -> usize {
        self.curr
    }

    /// Elements wanted (`min_nr`).
    pub fn min(&self) -> usize {
        self.min
    }

    /// Below its minimum: a free refills it.
    pub fn is_low(&self) -> bool {
        self.curr < self.min
    }

    /// Takes the element put last (`remove_element`).
    pub fn take(&mut self) -> Option<usize> {
        self.curr = self.curr.checked_sub(1)?;
        Some(self.slots[self.curr])
    }

    /// Keeps `element` if the reserve is below its minimum; else hands it
    /// back (`Err`): it goes to the backing allocator.
    pub fn put(&mut self, element: usize) -> Result<(), usize> {
        if !self.is_low() {
            return Err(element);
        }
        self.slots[self.curr] = element;
        self.curr += 1;
        Ok(())
    }

    /// Shrinking to `new_min`: an element above it to give back to the
    /// backing, one at a time (the caller frees it without the lock, then
    /// asks again); `None` when at most `new_min` are held, and then the
    /// minimum is `new_min` (as mempool.c, also if a racing resize moved
    /// the minimum meanwhile; never beyond the slots there are).
    pub fn shrink_step(&mut self, new_min: usize) -> Option<usize> {
        if self.curr > new_min {
            return self.take();
        }
        self.min = new_min.min(self.slots.len());
        None
    }

    /// Growing to `new_min` with `slots` (room for `new_min`): the held
    /// elements move over and the old slots come back to be freed. `Err`
    /// gives `slots` back unused when the minimum is already at least
    /// `new_min` (a resize that raced: it did the work) or `slots` is too
    /// small.
    pub fn grow(&mut self, mut slots: S, new_min: usize) -> Result<S, S> {
        if new_min <= self.min || slots.len() < new_min {
            return Err(slots);
        }
        slots[..self.curr].copy_from_slice(&self.slots[..self.curr]);
        self.min = new_min;
        Ok(core::mem::replace(&mut self.slots, slots))
    }

    /// Empties the reserve for good (the pool is destroyed): its minimum
    /// becomes 0, so no free refills it; the caller takes every element.
    pub fn close(&mut self) {
        self.min = 0;
    }
}

/// What a `mempool_alloc` does after the backing allocator failed, decided
/// under the pool's lock.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterBackingFailed {
    /// The reserve had one: the caller gets it.
    Take(usize),
    /// The reserve is empty and the first try went without direct
    /// reclaim and I/O: try the backing again with the caller's whole gfp.
    RetryFull,
    /// Empty, and the caller may not sleep: NULL.
    Fail,
    /// Empty, and the caller may sleep: wait for a free (or the timeout),
    /// then try the backing again.
    Wait,
}

/// One allocation's progress: whether its backing tries still leave out
/// direct reclaim and I/O (`gfp_temp` in mempool.c).
#[derive(Clone, Copy, Debug)]
pub struct AllocAttempt {
    /// The next backing try uses the reduced gfp.
    pub reduced: bool,
    /// The caller's gfp allows direct reclaim.
    pub may_sleep: bool,
}

impl AllocAttempt {
    /// A new allocation: the first try is reduced if that changes the gfp
    /// (it had direct reclaim or I/O to leave out).
    pub fn new(reduced_differs: bool, may_sleep: bool) -> Self {
        AllocAttempt {
            reduced: reduced_differs,
            may_sleep,
        }
    }

    /// The backing failed: what now (the reserve is locked).
    pub fn backing_failed<S: DerefMut<Target = [usize]>>(
        &mut self,
        reserve: &mut Reserve<S>,
    ) -> AfterBackingFailed {
        if let Some(element) = reserve.take() {
            return AfterBackingFailed::Take(element);
        }
        if self.reduced {
            self.reduced = false;
            return AfterBackingFailed::RetryFull;
        }
        if !self.may_sleep {
            return AfterBackingFailed::Fail;
        }
        AfterBackingFailed::Wait
    }
}

/// A pool's counters, summed over CPUs (see rust/mempool.rs for when each
/// counts).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct PoolCounts {
    /// Allocations the backing served.
    pub backing_allocs: u64,
    /// Allocations the reserve served.
    pub reserve_allocs: u64,
    /// Frees that went to the backing.
    pub backing_frees: u64,
    /// Frees that refilled the reserve.
    pub reserve_frees: u64,
    /// Sleeps for a free.
    pub waits: u64,
    /// Sleeps a free ended.
    pub wakeups: u64,
    /// Sleeps that timed out.
    pub timeouts: u64,
    /// NULL returns.
    pub atomic_failures: u64,
}

impl PoolCounts {
    /// Elements allocated and not freed yet (0 if the counts disagree,
    /// which only a free of something the pool never gave out causes).
    pub fn out(&self) -> u64 {
        (self.backing_allocs + self.reserve_allocs)
            .saturating_sub(self.backing_frees + self.reserve_frees)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::logic::test_rng::XorShift;
    use std::collections::BTreeMap;
    use std::vec;
    use std::vec::Vec;

    /// Where a model element is.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Place {
        Backing,
        Reserve,
        Client,
    }

    /// A pool driven as rust/mempool.rs drives it, with a backing that can
    /// be told to fail, and the model: the place of every element.
    struct Sim {
        reserve: Reserve<Vec<usize>>,
        next_id: usize,
        backing_works: bool,
        places: BTreeMap<usize, Place>,
        held: Vec<usize>,
        counts: PoolCounts,
        waiting: bool,
    }

    impl Sim {
        fn new(min: usize) -> Self {
            let mut sim = Sim {
                reserve: Reserve::new(vec![0; min], min).unwrap(),
                next_id: 1,
                backing_works: true,
                places: BTreeMap::new(),
                held: Vec::new(),
                counts: PoolCounts::default(),
                waiting: false,
            };
            // Prefill, as create does.
            while sim.reserve.is_low() {
                let e = sim.backing_alloc().unwrap();
                sim.reserve.put(e).unwrap();
                sim.places.insert(e, Place::Reserve);
            }
            sim
        }

        fn backing_alloc(&mut self) -> Option<usize> {
            if !self.backing_works {
                return None;
            }
            let e = self.next_id;
            self.next_id += 1;
            self.places.insert(e, Place::Backing);
            Some(e)
        }

        fn backing_free(&mut self, e: usize) {
            assert!(self.places.remove(&e).is_some(), "{e} freed twice");
        }

        /// `mempool_alloc`; `Wait` ends the call (the model's caller then sleeps).
        fn alloc(&mut self, may_sleep: bool) -> Result<usize, AfterBackingFailed> {
            let mut attempt = AllocAttempt::new(may_sleep, may_sleep);
            loop {
                if let Some(e) = self.backing_alloc() {
                    self.counts.backing_allocs += 1;
                    return Ok(self.hand_out(e));
                }
                match attempt.backing_failed(&mut self.reserve) {
                    AfterBackingFailed::Take(e) => {
                        assert_eq!(self.places[&e], Place::Reserve);
                        self.counts.reserve_allocs += 1;
                        return Ok(self.hand_out(e));
                    }
                    AfterBackingFailed::RetryFull => continue,
                    AfterBackingFailed::Fail => {
                        self.counts.atomic_failures += 1;
                        return Err(AfterBackingFailed::Fail);
                    }
                    AfterBackingFailed::Wait => {
                        // A caller only ever sleeps on an empty reserve.
                        assert_eq!(self.reserve.curr(), 0);
                        self.waiting = true;
                        return Err(AfterBackingFailed::Wait);
                    }
                }
            }
        }

        fn hand_out(&mut self, e: usize) -> usize {
            self.places.insert(e, Place::Client);
            self.held.push(e);
            e
        }

        /// `mempool_free`: refill first.
        fn free(&mut self, i: usize) {
            let e = self.held.swap_remove(i);
            assert_eq!(self.places[&e], Place::Client);
            let was_low = self.reserve.is_low();
            match self.reserve.put(e) {
                Ok(()) => {
                    assert!(was_low);
                    self.places.insert(e, Place::Reserve);
                    self.counts.reserve_frees += 1;
                    self.waiting = false;
                }
                Err(e) => {
                    assert!(!was_low, "a free skipped a low reserve");
                    self.backing_free(e);
                    self.counts.backing_frees += 1;
                }
            }
        }

        fn resize(&mut self, new_min: usize) {
            if new_min <= self.reserve.min() {
                while let Some(e) = self.reserve.shrink_step(new_min) {
                    self.backing_free(e);
                }
                assert_eq!(self.reserve.min(), new_min);
                return;
            }
            self.reserve.grow(vec![0; new_min], new_min).unwrap();
            while self.reserve.is_low() {
                let Some(e) = self.backing_alloc() else { break };
                self.reserve.put(e).unwrap();
                self.places.insert(e, Place::Reserve);
            }
        }

        /// Every element is in exactly one place, and the counts agree.
        fn check(&self) {
            let in_reserve: Vec<usize> = self
                .places
                .iter()
                .filter(|(_, p)| **p == Place::Reserve)
                .map(|(e, _)| *e)
                .collect();
            let mut listed: Vec<usize> = self.reserve.slots[..self.reserve.curr()].to_vec();
            listed.sort();
            assert_eq!(listed, in_reserve, "reserve slots and model differ");
            assert!(self.reserve.curr() <= self.reserve.min());
            let clients = self
                .places
                .values()
                .filter(|p| **p == Place::Client)
                .count();
            assert_eq!(clients, self.held.len());
            assert_eq!(self.counts.out(), self.held.len() as u64);
        }
    }

    #[test]
    fn exhausted_backing_serves_exactly_min_then_fails() {
        let mut sim = Sim::new(4);
        sim.backing_works = false;
        for _ in 0..4 {
            assert!(sim.alloc(false).is_ok());
        }
        assert_eq!(sim.counts.reserve_allocs, 4);
        assert_eq!(sim.alloc(false), Err(AfterBackingFailed::Fail));
        assert_eq!(sim.alloc(true), Err(AfterBackingFailed::Wait));
        // A free refills first and ends the wait; the waiter then gets it.
        sim.free(0);
        assert!(!sim.waiting);
        assert_eq!(sim.reserve.curr(), 1);
        assert!(sim.alloc(true).is_ok());
        sim.check();
    }

    #[test]
    fn backing_first_reserve_untouched() {
        let mut sim = Sim::new(3);
        for _ in 0..10 {
            sim.alloc(false).unwrap();
        }
        assert_eq!(sim.reserve.curr(), 3);
        assert_eq!(sim.counts.backing_allocs, 10);
        sim.check();
    }

    #[test]
    fn reduced_first_then_full_then_wait() {
        let mut r = Reserve::new(vec![0; 1], 1).unwrap();
        let mut a = AllocAttempt::new(true, true);
        assert_eq!(a.backing_failed(&mut r), AfterBackingFailed::RetryFull);
        assert_eq!(a.backing_failed(&mut r), AfterBackingFailed::Wait);
        // GFP_ATOMIC: its reduced gfp is its gfp, no second try.
        let mut a = AllocAttempt::new(false, false);
        assert_eq!(a.backing_failed(&mut r), AfterBackingFailed::Fail);
        r.put(7).unwrap();
        assert_eq!(a.backing_failed(&mut r), AfterBackingFailed::Take(7));
    }

    #[test]
    fn racing_shrinks_settle_on_the_last() {
        let mut r = Reserve::new(vec![0; 10], 10).unwrap();
        for e in 1..=10 {
            r.put(e).unwrap();
        }
        // T1 shrinks to 5 and drops the lock after one element...
        assert_eq!(r.shrink_step(5), Some(10));
        // ...T2 shrinks to 2 meanwhile...
        while r.shrink_step(2).is_some() {}
        assert_eq!((r.curr(), r.min()), (2, 2));
        // ...and T1 goes on: nothing more to give back, its minimum wins,
        // within the slots there are.
        assert_eq!(r.shrink_step(5), None);
        assert_eq!((r.curr(), r.min()), (2, 5));
        assert_eq!(r.shrink_step(50), None);
        assert_eq!(r.min(), 10);
    }

    #[test]
    fn grow_keeps_elements_and_refuses_a_raced_resize() {
        let mut r = Reserve::new(vec![0; 2], 2).unwrap();
        r.put(10).unwrap();
        r.put(11).unwrap();
        assert_eq!(r.put(12), Err(12));
        let old = r.grow(vec![0; 4], 4).unwrap();
        assert_eq!(old.len(), 2);
        assert_eq!((r.curr(), r.min()), (2, 4));
        assert!(r.grow(vec![0; 3], 3).is_err());
        assert!(r.grow(vec![0; 2], 5).is_err());
        r.put(12).unwrap();
        assert_eq!(r.take(), Some(12));
        assert_eq!(r.take(), Some(11));
        r.close();
        assert_eq!(r.put(13), Err(13));
    }

    #[test]
    fn random_ops_against_the_model() {
        let mut rng = XorShift(0x3e3_9001);
        let mut below = move |n: u64| rng.next() % n;
        for _ in 0..200 {
            let mut sim = Sim::new(below(8) as usize);
            for _ in 0..400 {
                match below(10) {
                    0..=3 => {
                        let sleep = below(2) == 0;
                        let _ = sim.alloc(sleep);
                    }
                    4..=6 if !sim.held.is_empty() => {
                        let i = below(sim.held.len() as u64) as usize;
                        sim.free(i);
                    }
                    7 => sim.backing_works = !sim.backing_works,
                    8 => {
                        let new_min = 1 + below(10) as usize;
                        sim.resize(new_min);
                    }
                    _ => {}
                }
                sim.check();
            }
            // Everything back: nothing lost.
            while !sim.held.is_empty() {
                sim.free(0);
            }
            sim.resize(1);
            sim.reserve.close();
            while let Some(e) = sim.reserve.take() {
                sim.backing_free(e);
            }
            assert!(sim.places.is_empty(), "elements lost: {:?}", sim.places);
        }
    }
}
