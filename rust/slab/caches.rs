// SPDX-License-Identifier: GPL-2.0
//! The slab layer as a whole: every cache (created, destroyed, shrunk,
//! flushed for a dead CPU, torn down at unload), the kmalloc classes, and
//! the caches of the `slab_test` trigger.

use super::*;

/// A cache made through the `slab_test` trigger and the objects it holds.
pub(crate) struct TestCache {
    pub(crate) id: usize,
    pub(crate) held: crate::Held<usize>,
}

impl TestCache {
    pub(crate) fn new(id: usize) -> Self {
        TestCache {
            id,
            held: crate::Held::new(),
        }
    }
}

/// Caches the test trigger may hold at once.
pub(crate) const MAX_TEST_CACHES: usize = 16;

/// The slab layer: every cache, the kmalloc classes, the debug default.
pub(crate) struct Slabs {
    /// The `slab_test` trigger's caches.
    pub(crate) test: Pin<KBox<Mutex<[Option<TestCache>; MAX_TEST_CACHES]>>>,
    pub(crate) caches: Registry<Cache, MAX_CACHES>,
    kmalloc: [usize; KMALLOC_CLASSES],
    /// Debug flags added to caches created from now on (`slab_debug`).
    pub(crate) debug_flags: AtomicU32,
    /// Seed for the caches' free-pointer secrets.
    seed: AtomicU64,
    nr_nodes: usize,
}

pub(super) fn rk_slabs() -> Option<&'static Slabs> {
    crate::host::slab::slabs()
}

impl Slabs {
    /// The layer, with its kmalloc caches (debug flags `debug` on all).
    pub(crate) fn new(nr_nodes: usize, debug: u32, seed: u64) -> Result<Self> {
        let mut s = Slabs {
            test: KBox::pin_init(
                new_mutex!([const { None }; MAX_TEST_CACHES], "rkmem_slab_test"),
                GFP_KERNEL,
            )?,
            caches: Registry::new(),
            kmalloc: [0; KMALLOC_CLASSES],
            debug_flags: AtomicU32::new(debug),
            seed: AtomicU64::new(seed | 1),
            nr_nodes: nr_nodes.max(1),
        };
        for class in 0..KMALLOC_CLASSES {
            let size = class_size(class).ok_or(EINVAL)?;
            let align = class_align(class).ok_or(EINVAL)?;
            let name = CString::try_from_fmt(format_args!("kmalloc-{}", size))?;
            let id = s.create(name.as_bytes(), size, align, 0, None)?;
            s.kmalloc[class] = id;
        }
        Ok(s)
    }

    fn next_random(&self) -> u64 {
        // xorshift over the load-time seed: each cache its own secret.
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        x
    }

    /// Creates a cache; its id.
    pub(crate) fn create(
        &self,
        name: &[u8],
        size: usize,
        align: usize,
        bits: u32,
        ctor: Option<Ctor>,
    ) -> Result<usize> {
        let bits = bits | self.debug_flags.load(Ordering::Relaxed);
        let random = self.next_random();
        let nr_nodes = self.nr_nodes;
        let id = self
            .caches
            .insert(|id| Cache::new(id, name, size, align, bits, ctor, nr_nodes, random))?;
        crate::debugfs::slab_cache_created(self, id);
        Ok(id)
    }

    /// The kmalloc cache for `size` (`None` above 8 KiB).
    #[inline]
    pub(crate) fn kmalloc_cache(&self, size: usize) -> Option<&Cache> {
        self.caches.get(self.kmalloc[kmalloc_class(size)?])
    }

    /// `kmalloc_node`: an object of the class of `size`, or above 8 KiB a
    /// chunk of pages from zones up to `highest_kind`.
    #[inline(always)]
    pub(crate) fn kmalloc(
        &self,
        rk: &Rkmem,
        size: usize,
        highest_kind: i32,
        req: &ObjReq,
    ) -> Option<usize> {
        match self.kmalloc_cache(size) {
            // No DMA kmalloc classes: a small GFP_DMA/GFP_DMA32 request fails
            // rather than get memory from a zone it did not ask for.
            Some(_) if highest_kind < ZoneType::Normal as i32 => None,
            Some(cache) => {
                let zero = cache.zero_for(req.zero, req.init);
                match cache.alloc_fast(req.node, zero) {
                    Some(o) => Some(o),
                    None => cache.alloc_slow(rk, req),
                }
            }
            None => usize::try_from(highest_kind)
                .ok()
                .and_then(ZoneType::from_index)
                .and_then(|zone| self.kmalloc_large(rk, size, zone, req)),
        }
    }

    /// `kmalloc_node` above 8 KiB: a compound chunk of rkmem's pages.
    #[cold]
    pub(crate) fn kmalloc_large(
        &self,
        rk: &Rkmem,
        size: usize,
        highest: ZoneType,
        req: &ObjReq,
    ) -> Option<usize> {
        {
            let order = order_for_bytes(size)?;
            let pfn = rk
                .alloc_pages(&AllocRequest {
                    placement: Placement {
                        node: req.node.unwrap_or_else(crate::host::numa_node_id),
                        highest_zone: highest,
                        this_node: req.this_node,
                    },
                    order,
                    gfp: req.gfp,
                    can_sleep: req.can_sleep,
                    zero: req.zero || req.init,
                    comp: true,
                    nofail: req.nofail,
                })
                .ok()?;
            Some(crate::host::slab::pfn_to_addr(pfn))
        }
    }

    /// `kfree`.
    pub(crate) fn kfree(&self, rk: &Rkmem, obj: usize, caller: usize) {
        match self.owner_cache(rk, obj) {
            Some(Ok(cache)) => cache.free(rk, obj, caller),
            Some(Err(order)) => {
                let pfn = crate::host::slab::addr_to_pfn(obj).unwrap_or(0);
                if crate::host::slab::pfn_to_addr(pfn) != obj {
                    self.report_kfree(obj);
                    return;
                }
                rk.free_pages(pfn, order);
            }
            None => self.report_kfree(obj),
        }
    }

    fn report_kfree(&self, obj: usize) {
        if let Some(c) = self.caches.get(self.kmalloc[0]) {
            c.report(Report::NotOwned, None, format_args!("kfree of {:#x}", obj));
        }
    }

    /// The cache of `obj` (`Ok`), or the order of the large kmalloc chunk
    /// it starts (`Err`); `None` if rkmem does not own it.
    #[inline(always)]
    fn owner_cache(&self, rk: &Rkmem, obj: usize) -> Option<core::result::Result<&Cache, u32>> {
        let (slab, owner) = slab_page_of(rk, obj)?;
        if SlabState::unpack(slab.state().load(Ordering::Acquire)).is_some() {
            let (id, _) = owner_of(owner)?;
            return self.caches.get(id).map(Ok);
        }
        crate::host::pages::compound_order(slab.pfn()).map(Err)
    }

    /// `ksize`.
    pub(crate) fn ksize(&self, rk: &Rkmem, obj: usize) -> usize {
        match self.owner_cache(rk, obj) {
            Some(Ok(c)) => c.layout.object_size,
            Some(Err(order)) => 4096 << order,
            None => 0,
        }
    }

    /// Shrinks every cache; slabs freed. No rescheduling inside the RCU
    /// section, and none needed: a cache keeps at most `min_partial` empty
    /// slabs per node plus its CPUs' partial lists (emptier ones go back to
    /// the buddy when they empty), so each cache's shrink is bounded.
    pub(crate) fn shrink_all(&self, rk: &Rkmem, flush: bool) -> usize {
        let mut freed = 0;
        let rcu = RcuRead::lock();
        self.caches.for_each(&rcu, |c| freed += c.shrink(rk, flush));
        freed
    }

    /// Pages in empty slabs on node lists (what a shrink could free).
    pub(crate) fn reclaimable_pages(&self) -> usize {
        let mut pages = 0;
        let rcu = RcuRead::lock();
        self.caches.for_each(&rcu, |c| {
            for n in c.nodes.iter() {
                let l = n.lists.lock();
                pages += l
                    .partial
                    .iter()
                    .filter(|s| {
                        SlabState::unpack(s.state().load(Ordering::Relaxed))
                            .is_some_and(|s| s.inuse == 0)
                    })
                    .count()
                    << c.order;
            }
        });
        pages
    }

    /// A dead CPU: every cache's slabs there go to their nodes.
    pub(crate) fn cpu_dead(&self, rk: &Rkmem, cpu: DeadCpu) {
        let rcu = RcuRead::lock();
        self.caches.for_each(&rcu, |c| c.cpu_dead(rk, cpu));
    }

    /// `kmem_cache_destroy`: shrinks, and frees the cache if nothing is
    /// left; with live objects warns and keeps it (and its slabs).
    pub(crate) fn destroy(&self, rk: &Rkmem, id: usize) {
        let Some(c) = self.caches.get(id) else {
            return;
        };
        if c.orphaned.load(Ordering::Relaxed) {
            return;
        }
        c.shrink(rk, true);
        let live = c.objects_in_use();
        if c.nr_slabs() != 0 {
            c.orphaned.store(true, Ordering::Relaxed);
            pr_err!(
                "kmem_cache_destroy {}: Slab cache still has objects: {}\n",
                BStrDisplay(c.name.as_bytes()),
                live
            );
            return;
        }
        crate::debugfs::slab_cache_removed(id);
        drop(self.caches.remove(id));
    }

    /// Unload: every cache destroyed; caches with live objects keep their
    /// slabs' pages (which the pages layer then keeps from the host).
    pub(crate) fn teardown(&self, rk: &Rkmem) {
        // What the test trigger holds goes back first.
        {
            let mut test = self.test.lock();
            for t in test.iter_mut() {
                if let Some(mut t) = t.take() {
                    if let Some(c) = self.caches.get(t.id) {
                        while let Some(o) = t.held.pop() {
                            c.free(rk, o, 0);
                        }
                    }
                }
            }
        }
        let ids: KVec<usize> = {
            let mut v = KVec::new();
            for id in self.caches.ids() {
                let _ = v.push(id, GFP_KERNEL);
            }
            v
        };
        let mut kept = 0;
        for &id in ids.iter() {
            if let Some(c) = self.caches.get(id) {
                c.shrink(rk, true);
                let slabs = c.nr_slabs();
                if slabs != 0 {
                    kept += slabs;
                    pr_warn!(
                        "unload: cache {} keeps {} slabs with {} live objects\n",
                        BStrDisplay(c.name.as_bytes()),
                        slabs,
                        c.objects_in_use()
                    );
                }
            }
            crate::debugfs::slab_cache_removed(id);
            drop(self.caches.remove(id));
        }
        if kept != 0 {
            pr_warn!("unload: {} slabs still hold objects\n", kept);
        }
    }
}
