// SPDX-License-Identifier: GPL-2.0
//! Allocation: the per-CPU fast path (the active slab's own list), the
//! slow path refilling a CPU from its slab's remote frees, its partial
//! slabs and the node lists, and allocation off the node lists when the
//! CPU's part is held.

use super::*;

impl Cache {
    /// Allocates one object (`kmem_cache_alloc_node`).
    #[inline(always)]
    pub(crate) fn alloc(&self, rk: &Rkmem, req: &ObjReq) -> Option<usize> {
        self.alloc_fast(req.node, self.want_zero(req))
            .or_else(|| self.alloc_slow(rk, req))
    }

    /// The allocation fast path alone (what the C entry point tries
    /// before it decodes anything else): `None` means the slow path.
    #[inline(always)]
    pub(crate) fn alloc_fast(&self, node: Option<usize>, zero: bool) -> Option<usize> {
        if !self.debug {
            let want = node.map_or(u32::MAX, |n| n as u32);
            let got = self.cpu.fast(|c, st| {
                if want != u32::MAX && c.node != want {
                    return None;
                }
                // A pointer that does not decode: the slow path reports it.
                let off = self.pop_cpu_list(c)?.ok()?;
                st.inc(Stat::AllocFastpath);
                Some((c.mem, off))
            });
            if let Some((mem, off)) = got.flatten() {
                if zero {
                    mem.fill(off, self.layout.object_size, 0);
                }
                return Some(mem.addr() + off);
            }
        }
        None
    }

    /// Pops the next object of the CPU's list; a corrupt pointer is
    /// reported and the rest of the list dropped (those objects count as
    /// in use forever: never handed out, their slab never freed).
    fn pop_local(&self, c: &mut CpuSlab) -> Option<usize> {
        match self.pop_cpu_list(c)? {
            Ok(off) => Some(off),
            Err(raw) => {
                let off = self.layout.obj_offset((c.free - 1) as u16);
                self.report(
                    Report::FreepointerCorrupt,
                    Some((c.mem, off)),
                    format_args!("object {:#x}: free pointer {:#x}", c.mem.addr() + off, raw),
                );
                c.free = 0;
                None
            }
        }
    }

    /// The free pointer of object `idx` of the slab at `mem`, decoded: the
    /// next free object, or the raw word if it does not decode (then it is
    /// never followed).
    #[inline(always)]
    pub(super) fn next_free(
        &self,
        mem: &SlabMem,
        idx: u16,
    ) -> core::result::Result<Option<u16>, u64> {
        let slot = self.layout.obj_offset(idx) + self.layout.offset;
        let raw = mem.read_word(slot);
        decode(raw, (mem.addr() + slot) as u64, self.random, self.nr).map_err(|_| raw)
    }

    /// Pops the head of the CPU's list without reporting: the object's
    /// offset, or the word that does not decode (the list left as it was);
    /// `None` if the list is empty.
    #[inline(always)]
    pub(super) fn pop_cpu_list(&self, c: &mut CpuSlab) -> Option<core::result::Result<usize, u64>> {
        let idx = c.free.checked_sub(1)? as u16;
        Some(self.next_free(&c.mem, idx).map(|next| {
            c.free = next.map_or(0, |n| n as u32 + 1);
            self.layout.obj_offset(idx)
        }))
    }

    /// A request for a node without `__GFP_THISNODE` first tries that node
    /// alone, as SLUB's `___slab_alloc` (`try_thisnode`): its partial slabs,
    /// then a new slab there without sleeping (`GFP_NOWAIT`); only if both
    /// fail do other nodes' partial slabs and the caller's gfp get a turn.
    /// Otherwise a node's request would take any node's partial slab first.
    fn this_node_first(req: &ObjReq) -> Option<ObjReq> {
        (req.node.is_some() && !req.this_node).then_some(ObjReq {
            gfp: crate::host::pages::GFP_NOWAIT,
            this_node: true,
            can_sleep: false,
            nofail: false,
            ..*req
        })
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn alloc_slow(&self, rk: &Rkmem, req: &ObjReq) -> Option<usize> {
        if self.debug {
            return self.debug_alloc(rk, req);
        }
        let mut spare: Option<(SlabPage, usize)> = None;
        let mut first = true;
        let mut this_node_first = Self::this_node_first(req);
        let got = loop {
            let try_req = this_node_first.as_ref().unwrap_or(req);
            let r = self.cpu.local(|cpu, c, st| {
                if core::mem::take(&mut first) {
                    st.inc(Stat::AllocSlowpath);
                }
                let local = cpu_node(cpu);
                let mut r = self.refill_local(rk, c, st, try_req, local).ok_or(local);
                if r.is_err() {
                    if let Some((slab, node)) = spare.take() {
                        self.install(c, slab, node, None);
                        st.inc(Stat::AllocSlab);
                        r = self.pop_local(c).map(|off| (c.mem, off)).ok_or(local);
                    }
                }
                st.publish(c);
                r
            });
            match r {
                Some(Ok(off)) => break Some(off),
                Some(Err(local)) => {
                    // A new slab, as the caller's gfp allows (perhaps
                    // asleep); installed when we hold the part again (or,
                    // if the CPU found objects meanwhile, parked).
                    match self.new_slab(rk, try_req, local, SlabState::new_active(self.nr)) {
                        Some(slab) => spare = Some(slab),
                        // The node asked has nothing at once: any node now.
                        None if this_node_first.take().is_some() => {}
                        None => return None,
                    }
                }
                // The part is held: we interrupted its owner (or a flush
                // has it). Work on the node lists directly.
                None => break None,
            }
        };
        if let Some((slab, node)) = spare {
            self.park_spare(rk, slab, node);
        }
        let Some((mem, off)) = got else {
            return self.alloc_nocpu(rk, req);
        };
        if self.want_zero(req) {
            mem.fill(off, self.layout.object_size, 0);
        }
        Some(mem.addr() + off)
    }

    /// Finds an object for this CPU without a new slab: the active slab's
    /// remote frees, the CPU's partial slabs, the node's partial list.
    fn refill_local(
        &self,
        rk: &Rkmem,
        c: &mut CpuSlab,
        st: &CpuStats,
        req: &ObjReq,
        local: usize,
    ) -> Option<(SlabMem, usize)> {
        let want = req.node;
        if let Some(slab) = c.active() {
            if want.is_some_and(|n| n as u32 != c.node) {
                st.inc(Stat::AllocNodeMismatch);
                self.deactivate(rk, c, st);
            } else {
                if let Some(off) = self.pop_local(c) {
                    return Some((c.mem, off));
                }
                // The CPU's own list is empty: take the slab's (remote
                // frees), or give up the full slab.
                let word = slab.state();
                let mut old = word.load(Ordering::Acquire);
                loop {
                    let Some(s) = SlabState::unpack(old) else {
                        break;
                    };
                    let new = if s.head.is_some() {
                        s.take_all(self.nr).0
                    } else {
                        SlabState {
                            place: Place::Full,
                            ..s
                        }
                    };
                    match word.compare_exchange(
                        old,
                        new.pack(),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            if let Some(h) = s.head {
                                c.free = h as u32 + 1;
                                st.inc(Stat::AllocRefill);
                                if let Some(off) = self.pop_local(c) {
                                    return Some((c.mem, off));
                                }
                            } else {
                                st.inc(Stat::DeactivateFull);
                            }
                            break;
                        }
                        Err(now) => old = now,
                    }
                }
                self.forget_active(c);
            }
        }
        // The CPU's partial slabs (any node when none was asked).
        while let Some(slab) = c.partial.pop_front() {
            let node = owner_of(slab.owner().load(Ordering::Relaxed)).map_or(0, |(_, n)| n);
            if want.is_some_and(|n| n != node) {
                // Not for this request: to its node's list.
                self.unfreeze(rk, slab, node, None, Some(st));
                continue;
            }
            if let Some(head) = self.take_slab(slab) {
                self.install(c, slab, node, head);
                st.inc(Stat::CpuPartialAlloc);
                if let Some(off) = self.pop_local(c) {
                    return Some((c.mem, off));
                }
                // A corrupt list: give the slab up (what was good of it
                // goes back) before trying the next.
                self.deactivate(rk, c, st);
            }
        }
        // The nodes' partial lists: the one asked, or local first, then by
        // distance unless __GFP_THISNODE.
        let first = want.unwrap_or(local);
        for node in rk.node_order(first) {
            if node != first && (req.this_node && want.is_some()) {
                break;
            }
            let n = self.node(node);
            let taken = {
                // Taken off the list and out of `Node` in one hold, so a
                // free emptying it never looks for it on the list.
                let mut l = n.lists.lock();
                let slab = l.partial.pop_front();
                if slab.is_some() {
                    l.counts.remove();
                }
                let taken = slab.map(|slab| (slab, self.take_slab(slab)));
                if matches!(taken, Some((_, Some(_)))) {
                    // As `get_partial_node`: a few more for this CPU's
                    // partial list in the same hold.
                    let max = self.cpu_partial_slabs.load(Ordering::Relaxed);
                    for _ in 0..cpu_partial_refill(max, c.partial.len()) {
                        let Some(more) = l.partial.first() else {
                            break;
                        };
                        if !self.freeze_partial(more) {
                            break;
                        }
                        l.partial.remove(more);
                        l.counts.remove();
                        c.partial.push_front(more);
                        st.inc(Stat::CpuPartialNode);
                    }
                }
                taken
            };
            if let Some((slab, head)) = taken {
                if let Some(head) = head {
                    self.install(c, slab, node, head);
                    st.inc(Stat::AllocFromPartial);
                    if let Some(off) = self.pop_local(c) {
                        return Some((c.mem, off));
                    }
                    self.deactivate(rk, c, st);
                }
            }
        }
        None
    }

    /// Takes a listed slab's whole free list for a CPU (its place becomes
    /// `Cpu`); `None` (and the slab is left full) if it has none.
    fn take_slab(&self, slab: SlabPage) -> Option<Option<u16>> {
        let word = slab.state();
        let mut old = word.load(Ordering::Acquire);
        loop {
            let s = SlabState::unpack(old)?;
            let (new, head) = s.take_all(self.nr);
            let new = if head.is_none() {
                SlabState {
                    place: Place::Full,
                    ..s
                }
            } else {
                new
            };
            match word.compare_exchange(old, new.pack(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return head.map(Some),
                Err(now) => old = now,
            }
        }
    }

    /// A slab on a node's partial list (whose lock the caller holds) goes
    /// to `CpuPartial`, for the caller's CPU partial list; false (and the
    /// slab is left as it was) if its state is not a node slab's.
    fn freeze_partial(&self, slab: SlabPage) -> bool {
        slab.state()
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                let s = SlabState::unpack(old).filter(|s| s.place == Place::Node)?;
                Some(
                    SlabState {
                        place: Place::CpuPartial,
                        ..s
                    }
                    .pack(),
                )
            })
            .is_ok()
    }

    /// Makes `slab` this CPU's active slab with list `head` (a new slab's
    /// list starts at object 0).
    fn install(&self, c: &mut CpuSlab, slab: SlabPage, node: usize, head: Option<u16>) {
        c.slab = slab.stored();
        c.mem = slab.mem(self.order);
        c.node = node as u32;
        c.free = head.map_or(1, |h| h as u32 + 1);
    }

    pub(super) fn forget_active(&self, c: &mut CpuSlab) {
        c.slab = 0;
        c.free = 0;
        c.mem = SlabMem::default();
    }

    /// A new slab that was not needed after all: its objects go to its
    /// node like a deactivated slab's.
    fn park_spare(&self, rk: &Rkmem, slab: SlabPage, node: usize) {
        let mut c = CpuSlab::default();
        self.install(&mut c, slab, node, None);
        self.deactivate(rk, &mut c, self.cpu.here().1);
    }

    /// An allocation that cannot have its CPU's part (it interrupted the
    /// part's owner): one object from a node's partial slabs, as a debug
    /// cache allocates, or a new slab for the node's list.
    #[cold]
    #[inline(never)]
    fn alloc_nocpu(&self, rk: &Rkmem, req: &ObjReq) -> Option<usize> {
        let (cpu, st) = self.cpu.here();
        self.alloc_listed(rk, req, cpu_node(cpu), |node| {
            let got = self.pop_node(node);
            if got.is_some() {
                st.inc(Stat::AllocFromPartial);
            }
            got
        })
    }

    /// One object by `take` from the nodes a request may use (the one
    /// asked, or `local` first, then by distance unless `__GFP_THISNODE`);
    /// when none has one, a new slab goes on the node's partial list and
    /// the nodes are tried again.
    pub(super) fn alloc_listed(
        &self,
        rk: &Rkmem,
        req: &ObjReq,
        local: usize,
        mut take: impl FnMut(usize) -> Option<(SlabMem, usize)>,
    ) -> Option<usize> {
        let first = req.node.unwrap_or(local);
        let mut this_node_first = Self::this_node_first(req);
        // __GFP_NOFAIL keeps going (each round adds a slab; others may
        // take it first).
        let mut rounds = 0;
        while rounds < 4 || req.nofail {
            let try_req = this_node_first.as_ref().unwrap_or(req);
            rounds += 1;
            for node in rk.node_order(first) {
                if node != first && try_req.this_node && try_req.node.is_some() {
                    break;
                }
                if let Some((mem, off)) = take(node) {
                    if self.want_zero(req) {
                        mem.fill(off, self.layout.object_size, 0);
                    }
                    return Some(mem.addr() + off);
                }
            }
            let init = SlabState {
                head: Some(0),
                inuse: 0,
                place: Place::Node,
            };
            let Some((slab, node)) = self.new_slab(rk, try_req, first, init) else {
                // The node asked has nothing at once: any node now.
                if this_node_first.take().is_some() {
                    rounds -= 1;
                    continue;
                }
                return None;
            };
            let mut l = self.node(node).lists.lock();
            l.partial.push_front(slab);
            l.counts.add();
            self.count(Stat::AllocSlab);
        }
        None
    }

    /// One object off the own list of a slab on `node`'s partial list,
    /// under the node lock: only holders of the lock pop from a listed
    /// slab, remote frees push meanwhile, so a compare-and-swap pop has no
    /// ABA. A slab left without free objects goes off the list (`Full`).
    fn pop_node(&self, node: usize) -> Option<(SlabMem, usize)> {
        let mut l = self.node(node).lists.lock();
        while let Some(slab) = l.partial.first() {
            let word = slab.state();
            let mem = slab.mem(self.order);
            let mut old = word.load(Ordering::Acquire);
            loop {
                let s = SlabState::unpack(old)?;
                let (new, got) = match s.head {
                    None => (
                        SlabState {
                            place: Place::Full,
                            ..s
                        },
                        None,
                    ),
                    Some(h) => {
                        let off = self.layout.obj_offset(h);
                        match self.next_free(&mem, h) {
                            Ok(next) => (
                                SlabState {
                                    head: next,
                                    inuse: s.inuse + 1,
                                    place: if next.is_some() {
                                        Place::Node
                                    } else {
                                        Place::Full
                                    },
                                },
                                Some(off),
                            ),
                            Err(raw) => {
                                self.report(
                                    Report::FreepointerCorrupt,
                                    Some((mem, off)),
                                    format_args!(
                                        "object {:#x}: free pointer {:#x}",
                                        mem.addr() + off,
                                        raw
                                    ),
                                );
                                // The rest of the list is lost: in use.
                                (
                                    SlabState {
                                        head: None,
                                        inuse: self.nr,
                                        place: Place::Full,
                                    },
                                    None,
                                )
                            }
                        }
                    }
                };
                match word.compare_exchange(old, new.pack(), Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {
                        if new.place == Place::Full {
                            l.partial.remove(slab);
                            l.counts.remove();
                        }
                        match got {
                            Some(off) => return Some((mem, off)),
                            None => break,
                        }
                    }
                    Err(now) => old = now,
                }
            }
        }
        None
    }
}
