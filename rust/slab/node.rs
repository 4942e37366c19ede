// SPDX-License-Identifier: GPL-2.0
//! Slabs going back to their nodes: a CPU's active slab deactivated and
//! its partial slabs unfrozen onto the node partial lists (or to the
//! buddy), CPU flushes, shrinking, and the partial-list tunables.

use super::*;

impl Cache {
    /// Gives the CPU's active slab up (`deactivate_slab`): the CPU's list
    /// goes back onto the slab's, and the slab to its node's partial list,
    /// nowhere (full) or back to the buddy (empty, node has enough).
    pub(super) fn deactivate(&self, rk: &Rkmem, c: &mut CpuSlab, st: &CpuStats) {
        let Some(slab) = c.active() else {
            return;
        };
        let node = c.node as usize;
        // Walk the CPU's list to its tail (bounded by the slab's objects).
        // Only objects whose free pointer decodes go back: a corrupt one
        // and everything after it stay counted in use, and a list that
        // loops (a double free the fast path could not see) gives nothing
        // back, so the slab can never be freed under a live object.
        let mut count: u16 = 0;
        let mut tail: Option<u16> = None;
        let mut cur = c.free.checked_sub(1).map(|i| i as u16);
        while let Some(i) = cur {
            if count >= self.nr {
                self.report(
                    Report::FreepointerCorrupt,
                    Some((c.mem, self.layout.obj_offset(i))),
                    format_args!("free list of a CPU slab loops (a double free): slab kept in use"),
                );
                count = 0;
                tail = None;
                break;
            }
            match self.next_free(&c.mem, i) {
                Ok(next) => {
                    count += 1;
                    tail = Some(i);
                    cur = next;
                }
                Err(raw) => {
                    let off = self.layout.obj_offset(i);
                    self.report(
                        Report::FreepointerCorrupt,
                        Some((c.mem, off)),
                        format_args!("object {:#x}: free pointer {:#x}", c.mem.addr() + off, raw),
                    );
                    break;
                }
            }
        }
        let local_head = if count == 0 {
            None
        } else {
            c.free.checked_sub(1).map(|i| i as u16)
        };
        let mem = c.mem;
        self.forget_active(c);
        let discard = {
            let n = self.node(node);
            let mut l = n.lists.lock();
            let word = slab.state();
            let mut old = word.load(Ordering::Acquire);
            loop {
                let Some(s) = SlabState::unpack(old) else {
                    break false;
                };
                if let Some(t) = tail {
                    let slot = self.layout.obj_offset(t) + self.layout.offset;
                    mem.write_word(
                        slot,
                        encode(s.head, (mem.addr() + slot) as u64, self.random),
                    );
                }
                let Some(mut new) = s.deactivate(local_head, count) else {
                    break false;
                };
                let mut counts = l.counts;
                let place = unfreeze_place(new, &mut counts);
                new.place = place.unwrap_or(Place::Full);
                let packed = if place.is_none() { 0 } else { new.pack() };
                if word
                    .compare_exchange(old, packed, Ordering::AcqRel, Ordering::Acquire)
                    .map_err(|now| old = now)
                    .is_ok()
                {
                    if s.head.is_some() {
                        st.inc(Stat::DeactivateRemoteFrees);
                    }
                    l.counts = counts;
                    match place {
                        Some(Place::Node) => l.partial.push_front(slab),
                        Some(_) => st.inc(Stat::DeactivateFull),
                        None => st.inc(Stat::DeactivateEmpty),
                    }
                    break place.is_none();
                }
            }
        };
        if discard {
            self.discard(rk, slab, Some(st));
        }
    }

    /// Moves a slab off a CPU's partial list to its node (SLUB's
    /// `__put_partials`): onto the node's list, or back to the buddy if
    /// empty and the node has `min_partial` slabs.
    pub(super) fn unfreeze(
        &self,
        rk: &Rkmem,
        slab: SlabPage,
        node: usize,
        _c: Option<&mut CpuSlab>,
        st: Option<&CpuStats>,
    ) {
        let discard = {
            let mut l = self.node(node).lists.lock();
            let word = slab.state();
            let mut old = word.load(Ordering::Acquire);
            loop {
                let Some(s) = SlabState::unpack(old) else {
                    break false;
                };
                let mut counts = l.counts;
                let place = unfreeze_place(s, &mut counts);
                let packed = match place {
                    Some(p) => SlabState { place: p, ..s }.pack(),
                    None => 0,
                };
                if word
                    .compare_exchange(old, packed, Ordering::AcqRel, Ordering::Acquire)
                    .map_err(|now| old = now)
                    .is_ok()
                {
                    l.counts = counts;
                    if place == Some(Place::Node) {
                        l.partial.push_front(slab);
                    }
                    break place.is_none();
                }
            }
        };
        // Not `cpu_partial_node`: that counts slabs a refill takes from a
        // node for a CPU (SLUB's `CPU_PARTIAL_NODE`); a drain back is
        // `cpu_partial_drain`.
        if discard {
            self.discard(rk, slab, st);
        }
    }

    /// Empties a CPU: its active slab and its partial slabs go to their
    /// nodes (`flush_cpu_slab`).
    fn flush_cpu(&self, rk: &Rkmem, c: &mut CpuSlab, st: &CpuStats) {
        if c.active().is_some() {
            st.inc(Stat::CpuslabFlush);
            self.deactivate(rk, c, st);
        }
        self.drain_partial(rk, c, st);
        st.publish(c);
    }

    pub(super) fn drain_partial(&self, rk: &Rkmem, c: &mut CpuSlab, st: &CpuStats) {
        while let Some(slab) = c.partial.pop_front() {
            let node = owner_of(slab.owner().load(Ordering::Relaxed)).map_or(0, |(_, n)| n);
            self.unfreeze(rk, slab, node, None, Some(st));
        }
    }

    /// Empties every CPU's slabs of this cache (`flush_all`). Process
    /// context.
    pub(crate) fn flush_all(&self, rk: &Rkmem) {
        if self.debug {
            return;
        }
        self.cpu.for_each_cpu(|c, st| self.flush_cpu(rk, c, st));
    }

    /// A dead CPU's slabs go to their nodes.
    pub(crate) fn cpu_dead(&self, rk: &Rkmem, cpu: DeadCpu) {
        self.cpu.dead(cpu, |c, st| self.flush_cpu(rk, c, st));
    }

    /// Gives every empty slab on the node lists back to the buddy
    /// (`__kmem_cache_shrink`), after flushing the CPUs' slabs there if
    /// `flush` (process context; the host shrinker does not flush: it
    /// takes what the nodes hold); returns slabs freed.
    pub(crate) fn shrink(&self, rk: &Rkmem, flush: bool) -> usize {
        if flush {
            self.flush_all(rk);
        }
        let mut freed = 0;
        for n in self.nodes.iter() {
            let mut empty = SlabList::default();
            {
                let mut l = n.lists.lock();
                let slabs: KVec<SlabPage> = KVec::new();
                let _ = slabs;
                let mut cur = l.partial.iter().next();
                while let Some(slab) = cur {
                    cur = slab.next();
                    let word = slab.state();
                    let old = word.load(Ordering::Acquire);
                    if SlabState::unpack(old).is_some_and(|s| s.inuse == 0)
                        && word
                            .compare_exchange(old, 0, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    {
                        l.partial.remove(slab);
                        l.counts.remove();
                        empty.push_front(slab);
                    }
                }
            }
            while let Some(slab) = empty.pop_front() {
                self.discard(rk, slab, None);
                freed += 1;
            }
        }
        freed
    }

    /// Sets `min_partial`.
    pub(crate) fn set_min_partial(&self, v: u32) {
        self.min_partial.store(v, Ordering::Relaxed);
        for n in self.nodes.iter() {
            n.lists.lock().counts.min_partial = v;
        }
    }

    /// Sets `cpu_partial` (objects); `EINVAL` for a nonzero value on a
    /// debug cache, which has no per-CPU slabs.
    pub(crate) fn set_cpu_partial(&self, objects: u32) -> Result {
        if self.debug && objects != 0 {
            return Err(EINVAL);
        }
        self.cpu_partial.store(objects, Ordering::Relaxed);
        self.cpu_partial_slabs.store(
            cpu_partial_slabs(objects, self.nr as usize),
            Ordering::Relaxed,
        );
        Ok(())
    }
}
