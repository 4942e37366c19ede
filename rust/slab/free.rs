// SPDX-License-Identifier: GPL-2.0
//! Freeing: the per-CPU fast path (onto the active slab's own list), the
//! slow path's compare-and-swap onto a slab's list, and the moves a free
//! makes (a full slab to the CPU's partial list, an empty one off its
//! node).

use super::*;

/// What the free fast path did (`None`: the CPU's part was held).
#[derive(Clone, Copy)]
pub(crate) struct FreeFast(Option<Pushed>);

impl FreeFast {
    /// The object is on the CPU's list: nothing left to do.
    #[inline(always)]
    pub(crate) fn done(self) -> bool {
        self.0 == Some(Pushed::Done)
    }
}

/// What the free fast path did.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Pushed {
    /// On the CPU's list.
    Done,
    /// The object the CPU freed last: a double free.
    Again,
    /// Not an object of the CPU's active slab.
    NotActive,
}

impl Cache {
    /// Frees one object (`kmem_cache_free`).
    #[inline(always)]
    pub(crate) fn free(&self, rk: &Rkmem, obj: usize, caller: usize) {
        let fast = self.free_fast(obj);
        if !fast.done() {
            self.free_rest(rk, obj, caller, fast)
        }
    }

    /// The free fast path alone; unless it is done, [`Cache::free_rest`]
    /// takes it from there.
    #[inline(always)]
    pub(crate) fn free_fast(&self, obj: usize) -> FreeFast {
        if self.debug {
            return FreeFast(None);
        }
        FreeFast(self.cpu.fast(|c, st| {
            let r = self.push_active(c, obj);
            if r == Pushed::Done {
                st.inc(Stat::FreeFastpath);
            }
            r
        }))
    }

    /// Everything but the fast path: a repeated free the fast path saw
    /// (at the head of the CPU's list) reported, else the slow path.
    #[cold]
    #[inline(never)]
    pub(crate) fn free_rest(&self, rk: &Rkmem, obj: usize, caller: usize, fast: FreeFast) {
        if fast.0 == Some(Pushed::Again) {
            return self.report_double_free(rk, obj);
        }
        self.free_slow(rk, obj, caller)
    }

    /// The free fast path: `obj` goes on the CPU's own list if it is an
    /// object of the CPU's active slab (and not its last free: that is a
    /// double free, left to the slow path to report).
    #[inline(always)]
    pub(super) fn push_active(&self, c: &mut CpuSlab, obj: usize) -> Pushed {
        let rel = obj.wrapping_sub(c.mem.addr() + self.layout.red_left_pad);
        if c.slab == 0 || rel >= self.span {
            return Pushed::NotActive;
        }
        // `rel / size` without a divide (`obj_to_index`'s reciprocal).
        let idx = index_by_reciprocal(rel, self.recip);
        if idx * self.layout.size != rel {
            return Pushed::NotActive;
        }
        if c.free == idx as u32 + 1 {
            return Pushed::Again;
        }
        if self.init_on_free {
            // Bounded (one object, at most 32 KiB).
            c.mem
                .fill(rel + self.layout.red_left_pad, self.layout.object_size, 0);
        }
        let slot = rel + self.layout.red_left_pad + self.layout.offset;
        let head = c.free.checked_sub(1).map(|h| h as u16);
        c.mem.write_word(
            slot,
            encode(head, (c.mem.addr() + slot) as u64, self.random),
        );
        c.free = idx as u32 + 1;
        Pushed::Done
    }

    /// The fast path saw `obj` freed twice in a row on this CPU.
    #[cold]
    #[inline(never)]
    fn report_double_free(&self, rk: &Rkmem, obj: usize) {
        if let Some(at) = self.locate(rk, obj) {
            let off = self.layout.obj_offset(at.idx);
            self.report(
                Report::AlreadyFree,
                Some((at.mem, off)),
                format_args!("object {:#x}", obj),
            );
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn free_slow(&self, rk: &Rkmem, obj: usize, caller: usize) {
        let Some(at) = self.locate(rk, obj) else {
            return;
        };
        if self.debug {
            return self.debug_free(rk, at, caller);
        }
        let off = self.layout.obj_offset(at.idx);
        let slot = off + self.layout.offset;
        let slot_addr = (at.mem.addr() + slot) as u64;
        let word = at.slab.state();
        // As `locate` read it: the compare-and-swap below checks it.
        let mut old = at.state;
        // Zeroed only once it is known not to be the slab's first free
        // object freed again (whose free pointer zeroing would wipe).
        if self.init_on_free && SlabState::unpack(old).is_some_and(|s| s.free(at.idx, true).is_ok())
        {
            at.mem.fill(off, self.layout.object_size, 0);
        }
        let frozen = SlabState::unpack(old).is_some_and(|s| s.place == Place::Cpu);
        let (_, st) = self.cpu.here();
        st.inc(Stat::FreeSlowpath);
        if frozen {
            st.inc(Stat::FreeFrozen);
        }
        // Onto the slab's own list with a compare-and-swap, interrupts on
        // (`__slab_free`); the node lock only if the free may empty a
        // listed slab.
        loop {
            let Some(s) = SlabState::unpack(old) else {
                return self.report(Report::NotSlab, None, format_args!("object {:#x}", obj));
            };
            let (new, t) = match s.free(at.idx, false) {
                Ok(r) => r,
                Err(_) => {
                    return self.report(
                        Report::AlreadyFree,
                        Some((at.mem, off)),
                        format_args!("object {:#x}", obj),
                    );
                }
            };
            if t == FreeTransition::EmptiedOnNode {
                break;
            }
            at.mem
                .write_word(slot, encode(s.head, slot_addr, self.random));
            match word.compare_exchange(old, new.pack(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if t == FreeTransition::ToCpuPartial {
                        // Ours now (`CpuPartial`, on no list yet): onto
                        // whichever CPU we run on.
                        let took = self.cpu.local(|_, c, st| {
                            let max = self.cpu_partial_slabs.load(Ordering::Relaxed);
                            // As `put_cpu_partial`: a full list goes to
                            // the nodes before this slab joins it (its
                            // other objects are likely being freed here
                            // now: it stays, and they stay lock-free).
                            let put = cpu_partial_put(c.partial.len(), max);
                            if put == CpuPartialPut::DrainThenPush {
                                st.inc(Stat::CpuPartialDrain);
                                self.drain_partial(rk, c, st);
                            }
                            c.partial.push_front(at.slab);
                            st.inc(Stat::CpuPartialFree);
                            if put == CpuPartialPut::PushThenDrain {
                                st.inc(Stat::CpuPartialDrain);
                                self.drain_partial(rk, c, st);
                            }
                            st.publish(c);
                        });
                        if took.is_none() {
                            // No CPU part to take it: to its node.
                            self.unfreeze(rk, at.slab, at.node, None, Some(self.cpu.here().1));
                        }
                    }
                    return;
                }
                Err(now) => old = now,
            }
        }
        let discard = {
            let mut l = self.node(at.node).lists.lock();
            old = word.load(Ordering::Acquire);
            loop {
                let Some(s) = SlabState::unpack(old) else {
                    break false;
                };
                let (new, t) = match s.free(at.idx, true) {
                    Ok(r) => r,
                    Err(_) => {
                        self.report(
                            Report::AlreadyFree,
                            Some((at.mem, off)),
                            format_args!("object {:#x}", obj),
                        );
                        break false;
                    }
                };
                let mut counts = l.counts;
                let discard = t == FreeTransition::EmptiedOnNode
                    && counts.emptied(true) == crate::logic::slab::EmptySlab::Discard;
                // Full meanwhile: under the lock it goes straight to the
                // node's list.
                let to_node = t == FreeTransition::ToCpuPartial;
                let new = if to_node {
                    SlabState {
                        place: Place::Node,
                        ..new
                    }
                } else {
                    new
                };
                at.mem
                    .write_word(slot, encode(s.head, slot_addr, self.random));
                let packed = if discard { 0 } else { new.pack() };
                if word
                    .compare_exchange(old, packed, Ordering::AcqRel, Ordering::Acquire)
                    .map_err(|now| old = now)
                    .is_ok()
                {
                    if to_node {
                        l.counts.add();
                        l.partial.push_front(at.slab);
                        self.count(Stat::FreeAddPartial);
                    }
                    if discard {
                        l.counts = counts;
                        l.partial.remove(at.slab);
                        self.count(Stat::FreeRemovePartial);
                    }
                    break discard;
                }
            }
        };
        if discard {
            self.discard(rk, at.slab, None);
            self.count(Stat::FreeSlab);
        }
    }
}
