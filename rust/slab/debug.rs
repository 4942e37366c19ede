// SPDX-License-Identifier: GPL-2.0
//! Debug caches (`SLAB_RED_ZONE`, `SLAB_POISON`, `SLAB_STORE_USER`,
//! `SLAB_CONSISTENCY_CHECKS`): every allocation and free under the node
//! lock, each object checked, a corrupted one reported and never reused.

use super::*;

impl Cache {
    /// A new debug slab's object at `off`: red zones inactive, poisoned.
    pub(super) fn init_debug_object(&self, mem: &SlabMem, off: usize) {
        let l = &self.layout;
        if l.flags.has(SlabFlags::RED_ZONE) {
            mem.fill(off - l.red_left_pad, l.red_left_pad, RED_INACTIVE);
            mem.fill(off + l.object_size, l.inuse - l.object_size, RED_INACTIVE);
        }
        if l.poison_object {
            mem.fill(off, l.object_size - 1, POISON_FREE);
            mem.fill(off + l.object_size - 1, 1, POISON_END);
        }
    }

    /// Checks the red zones of the object at `off` hold `val`; reports the
    /// first difference.
    pub(super) fn check_redzones(&self, mem: &SlabMem, off: usize, val: u8) -> bool {
        let l = &self.layout;
        if !l.flags.has(SlabFlags::RED_ZONE) {
            return true;
        }
        // (kind, zone start, zone length, where the dump starts: the
        // object itself for the left zone, so its tracks are printed)
        let zones = [
            (
                Report::LeftRedzone,
                off - l.red_left_pad,
                l.red_left_pad,
                Some(off),
            ),
            (
                Report::RightRedzone,
                off + l.object_size,
                l.inuse - l.object_size,
                None,
            ),
        ];
        for (kind, start, len, dump_at) in zones {
            if let Some((at, b)) = mem.first_mismatch(start, len, val) {
                self.report(
                    kind,
                    Some((*mem, dump_at.unwrap_or(at))),
                    format_args!(
                        "0x{:x} @offset={}. First byte {:#x} instead of {:#x}",
                        mem.addr() + at,
                        at,
                        b,
                        val
                    ),
                );
                // Repaired once reported (SLUB's `restore_bytes`), so the
                // next check of this object finds only new damage.
                mem.fill(start, len, val);
                return false;
            }
        }
        true
    }

    /// Checks a free object's poison (a write after free).
    pub(super) fn check_poison(&self, mem: &SlabMem, off: usize) -> bool {
        let l = &self.layout;
        if !l.poison_object {
            return true;
        }
        let bad = mem
            .first_mismatch(off, l.object_size - 1, POISON_FREE)
            .or_else(|| mem.first_mismatch(off + l.object_size - 1, 1, POISON_END));
        if let Some((at, b)) = bad {
            self.report(
                Report::Poison,
                Some((*mem, at)),
                format_args!(
                    "0x{:x} @offset={}. First byte {:#x} instead of {:#x}",
                    mem.addr() + at,
                    at,
                    b,
                    if at == off + l.object_size - 1 {
                        POISON_END
                    } else {
                        POISON_FREE
                    }
                ),
            );
            return false;
        }
        true
    }

    /// Allocation in a debug cache: under the node lock, from the node's
    /// partial slabs, every object checked before it is handed out.
    pub(super) fn debug_alloc(&self, rk: &Rkmem, req: &ObjReq) -> Option<usize> {
        let (cpu, st) = self.cpu.here();
        st.inc(Stat::AllocSlowpath);
        self.alloc_listed(rk, req, cpu_node(cpu), |node| {
            self.debug_take(node, req.caller)
        })
    }

    /// Takes a checked object from `node`'s partial slabs.
    pub(super) fn debug_take(&self, node: usize, caller: usize) -> Option<(SlabMem, usize)> {
        let mut l = self.node(node).lists.lock();
        while let Some(slab) = l.partial.first() {
            let mem = slab.mem(self.order);
            let s = SlabState::unpack(slab.state().load(Ordering::Acquire))?;
            let mut list = SlabFreelist::from_state(s, self.nr, self.random);
            let mut slots = Slots {
                mem,
                layout: &self.layout,
            };
            let mut got = None;
            loop {
                match list.pop(&mut slots) {
                    Ok(Some(idx)) => {
                        let off = self.layout.obj_offset(idx);
                        // A corrupted free object is never handed out: it
                        // stays counted in use.
                        if self.check_poison(&mem, off)
                            && self.check_redzones(&mem, off, RED_INACTIVE)
                        {
                            got = Some(off);
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(Corrupt { obj, raw }) => {
                        let off = self.layout.obj_offset(obj);
                        self.report(
                            Report::FreepointerCorrupt,
                            Some((mem, off)),
                            format_args!("object {:#x}: free pointer {:#x}", mem.addr() + off, raw),
                        );
                        list.drop_rest();
                        break;
                    }
                }
            }
            let (head, inuse) = list.parts();
            let full = head.is_none();
            let new = SlabState {
                head,
                inuse,
                place: if full { Place::Full } else { Place::Node },
            };
            slab.state().store(new.pack(), Ordering::Release);
            if full {
                l.partial.remove(slab);
                l.counts.remove();
                l.full.push_front(slab);
            }
            if let Some(off) = got {
                let l2 = &self.layout;
                if l2.flags.has(SlabFlags::RED_ZONE) {
                    mem.fill(off - l2.red_left_pad, l2.red_left_pad, RED_ACTIVE);
                    mem.fill(off + l2.object_size, l2.inuse - l2.object_size, RED_ACTIVE);
                }
                if l2.poison_object {
                    // The object is the caller's now; SLUB leaves poison in
                    // it too (visible use of uninitialised memory).
                }
                let cpu = self.cpu.here().0;
                self.write_track(&mem, off, false, caller, cpu);
                return Some((mem, off));
            }
        }
        None
    }

    /// Free in a debug cache: every check, under the node lock.
    pub(super) fn debug_free(&self, rk: &Rkmem, at: Located, caller: usize) {
        let off = self.layout.obj_offset(at.idx);
        let mem = at.mem;
        let discard = {
            let mut l = self.node(at.node).lists.lock();
            let Some(s) = SlabState::unpack(at.slab.state().load(Ordering::Acquire)) else {
                drop(l);
                return self.report(
                    Report::NotSlab,
                    None,
                    format_args!("object {:#x}", mem.addr() + off),
                );
            };
            let mut list = SlabFreelist::from_state(s, self.nr, self.random);
            let mut slots = Slots {
                mem,
                layout: &self.layout,
            };
            match list.contains(&slots, at.idx) {
                Ok(true) => {
                    drop(l);
                    return self.report(
                        Report::AlreadyFree,
                        Some((mem, off)),
                        format_args!("object {:#x}", mem.addr() + off),
                    );
                }
                Ok(false) => {}
                Err(Corrupt { obj, raw }) => {
                    drop(l);
                    let o = self.layout.obj_offset(obj);
                    return self.report(
                        Report::FreepointerCorrupt,
                        Some((mem, o)),
                        format_args!("object {:#x}: free pointer {:#x}", mem.addr() + o, raw),
                    );
                }
            }
            // An overwritten red zone: reported, and the object is never
            // reused (it stays counted in use).
            if !self.check_redzones(&mem, off, RED_ACTIVE) {
                return;
            }
            let (cpu, st) = self.cpu.here();
            st.inc(Stat::FreeSlowpath);
            self.write_track(&mem, off, true, caller, cpu);
            self.init_debug_object(&mem, off);
            if list.push(&mut slots, at.idx).is_err() {
                return;
            }
            let (head, inuse) = list.parts();
            let was_full = s.place == Place::Full;
            let mut place = Place::Node;
            if was_full {
                l.full.remove(at.slab);
                l.partial.push_front(at.slab);
                l.counts.add();
            }
            let discard =
                inuse == 0 && l.counts.emptied(true) == crate::logic::slab::EmptySlab::Discard;
            if discard {
                l.partial.remove(at.slab);
                at.slab.state().store(0, Ordering::Release);
            } else {
                if head.is_none() {
                    place = Place::Full;
                }
                at.slab
                    .state()
                    .store(SlabState { head, inuse, place }.pack(), Ordering::Release);
            }
            discard
        };
        if discard {
            self.discard(rk, at.slab, None);
            self.count(Stat::FreeSlab);
        }
    }
}
