// SPDX-License-Identifier: GPL-2.0
//! Slabs as rkmem pages: a new slab from the buddy, an empty one given
//! back, and the slab (and object) an address belongs to.

use super::*;

/// The free-pointer words of one slab, for [`SlabFreelist`].
pub(super) struct Slots<'a> {
    pub(super) mem: SlabMem,
    pub(super) layout: &'a ObjectLayout,
}

impl FreeSlots for Slots<'_> {
    fn read(&self, obj: u16) -> u64 {
        self.mem
            .read_word(self.layout.obj_offset(obj) + self.layout.offset)
    }
    fn write(&mut self, obj: u16, raw: u64) {
        self.mem
            .write_word(self.layout.obj_offset(obj) + self.layout.offset, raw)
    }
    fn slot_addr(&self, obj: u16) -> u64 {
        (self.mem.addr() + self.layout.obj_offset(obj) + self.layout.offset) as u64
    }
}

/// A slab found from an object address.
pub(super) struct Located {
    pub(super) slab: SlabPage,
    pub(super) mem: SlabMem,
    pub(super) node: usize,
    pub(super) idx: u16,
    /// The slab's state word as `locate` read it (a first guess for a
    /// compare-and-swap).
    pub(super) state: u64,
}

/// The head page of the chunk holding `obj` and its owner word, if rkmem
/// owns it (any rkmem page: whether it is a slab is for the caller to
/// check). A tail's head is trusted only if rkmem owns it too and it is
/// within a slab's reach (order 3).
#[inline(always)]
pub(super) fn slab_page_of(rk: &Rkmem, obj: usize) -> Option<(SlabPage, u64)> {
    let pfn = crate::host::slab::addr_to_pfn(obj)?;
    let page = SlabPage::of(rk.owns(pfn)?);
    let head = page.head_pfn();
    let page = if head == pfn {
        page
    } else {
        // A chunk never crosses a block: a head in the same block is
        // rkmem's too.
        if head > pfn
            || pfn - head >= 1 << MAX_SLAB_ORDER
            || head / BLOCK_PAGES as u64 != pfn / BLOCK_PAGES as u64
        {
            return None;
        }
        SlabPage::of(rk.owns(head)?)
    };
    let owner = page.owner().load(Ordering::Acquire);
    Some((page, owner))
}

/// Largest slab order (and large kmalloc chunks start at their head).
const MAX_SLAB_ORDER: u32 = 3;

/// Slab owner word: cache id + 1, and the node above bit 32.
fn owner_word(id: usize, node: usize) -> u64 {
    (id as u64 + 1) | (node as u64) << 32
}

pub(super) fn owner_of(word: u64) -> Option<(usize, usize)> {
    let id = (word & 0xffff_ffff) as usize;
    (id != 0).then(|| (id - 1, (word >> 32) as usize))
}

impl Cache {
    /// A new slab from rkmem's pages, its objects linked in address order
    /// (and constructed): `state` is its initial state. Interrupts as the
    /// caller's gfp allows.
    pub(super) fn new_slab(
        &self,
        rk: &Rkmem,
        req: &ObjReq,
        local: usize,
        state: SlabState,
    ) -> Option<(SlabPage, usize)> {
        let node = req.node.unwrap_or(local);
        let pages = AllocRequest {
            placement: Placement {
                node,
                highest_zone: ZoneType::Normal,
                this_node: req.this_node,
            },
            order: self.order,
            gfp: req.gfp,
            can_sleep: req.can_sleep,
            zero: false,
            comp: self.order > 0,
            nofail: req.nofail,
        };
        // `fail_slab`: as if rkmem had no pages for it.
        if !req.nofail
            && crate::host::fault::should_fail(
                crate::host::fault::FaultKind::Slab,
                crate::logic::order::pages(self.order),
                req.can_sleep,
            )
        {
            return None;
        }
        let pfn = rk.alloc_pages(&pages).ok()?;
        let (owned, landed) = rk.owned_pfn(pfn)?;
        let slab = SlabPage::of(owned);
        let mem = slab.mem(self.order);
        let mut slots = Slots {
            mem,
            layout: &self.layout,
        };
        for i in 0..self.nr {
            let off = self.layout.obj_offset(i);
            if self.debug {
                self.init_debug_object(&mem, off);
            }
            if let Some(ctor) = self.ctor {
                mem.construct(ctor, off);
            }
        }
        // Links after the constructor ran: a ctor may use the whole object.
        SlabFreelist::init(&mut slots, self.nr, self.random)?;
        slab.owner()
            .store(owner_word(self.id, landed), Ordering::Relaxed);
        slab.state().store(state.pack(), Ordering::Release);
        let n = &self.nodes[landed.min(self.nodes.len() - 1)];
        n.nr_slabs.fetch_add(1, Ordering::Relaxed);
        n.total_objects.fetch_add(self.nr as u64, Ordering::Relaxed);
        Some((slab, landed))
    }

    /// Gives an empty slab (already off every list) back to the buddy.
    pub(super) fn discard(&self, rk: &Rkmem, slab: SlabPage, st: Option<&CpuStats>) {
        let node = owner_of(slab.owner().load(Ordering::Relaxed)).map_or(0, |(_, n)| n);
        let n = &self.nodes[node.min(self.nodes.len() - 1)];
        n.nr_slabs.fetch_sub(1, Ordering::Relaxed);
        n.total_objects.fetch_sub(self.nr as u64, Ordering::Relaxed);
        let pfn = slab.pfn();
        slab.clear();
        rk.free_pages(pfn, self.order);
        if let Some(st) = st {
            st.inc(Stat::FreeSlab);
        }
    }

    /// Finds the slab of `obj` from its address alone; reports and `None`
    /// if it is not an object of this cache. Inlined into the free slow
    /// path (the reports stay out of line).
    #[inline(always)]
    pub(super) fn locate(&self, rk: &Rkmem, obj: usize) -> Option<Located> {
        let Some((slab, owner)) = slab_page_of(rk, obj) else {
            self.report_located(Report::NotOwned, obj);
            return None;
        };
        let state = slab.state().load(Ordering::Acquire);
        let Some((id, node)) = owner_of(owner).filter(|_| SlabState::unpack(state).is_some())
        else {
            self.report_located(Report::NotSlab, obj);
            return None;
        };
        if id != self.id {
            self.report_wrong_cache(id, obj);
            return None;
        }
        let mem = slab.mem(self.order);
        let off = obj.wrapping_sub(mem.addr());
        match self.index_of(off) {
            Ok(idx) => Some(Located {
                slab,
                mem,
                node,
                idx,
                state,
            }),
            Err(_) => {
                self.report_invalid_pointer(mem, obj, off);
                None
            }
        }
    }

    /// [`Cache::locate`]'s report of an address that is no slab's.
    #[cold]
    #[inline(never)]
    fn report_located(&self, kind: Report, obj: usize) {
        self.report(kind, None, format_args!("object {:#x}", obj));
    }

    /// [`Cache::locate`]'s report of an object of cache `id`.
    #[cold]
    #[inline(never)]
    fn report_wrong_cache(&self, id: usize, obj: usize) {
        // The other cache may be destroyed meanwhile: read its name
        // inside an RCU section.
        let rcu = RcuRead::lock();
        let other = rk_slabs().and_then(|s| s.caches.get(id));
        let mut name = [0u8; 32];
        let n = other.map_or(0, |c| {
            let b = c.name.as_bytes();
            let n = b.len().min(31);
            name[..n].copy_from_slice(&b[..n]);
            n
        });
        drop(rcu);
        self.report(
            Report::WrongCache,
            None,
            format_args!("object {:#x} is from {}", obj, BStrDisplay(&name[..n])),
        );
    }

    /// [`Cache::locate`]'s report of an address inside a slab of this
    /// cache that is no object start.
    #[cold]
    #[inline(never)]
    fn report_invalid_pointer(&self, mem: SlabMem, obj: usize, off: usize) {
        self.report(
            Report::InvalidPointer,
            Some((mem, off)),
            format_args!("object {:#x} @offset={} is no object start", obj, off),
        );
    }

    /// The object starting at byte `off` of a slab (no divide).
    #[inline]
    fn index_of(&self, off: usize) -> core::result::Result<u16, ()> {
        let rel = off.wrapping_sub(self.layout.red_left_pad);
        if rel >= self.span {
            return Err(());
        }
        let idx = index_by_reciprocal(rel, self.recip);
        if idx * self.layout.size != rel {
            return Err(());
        }
        Ok(idx as u16)
    }

    pub(super) fn node(&self, node: usize) -> &NodeSlabs {
        &self.nodes[node.min(self.nodes.len() - 1)]
    }
}
