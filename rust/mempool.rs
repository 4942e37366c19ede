// SPDX-License-Identifier: GPL-2.0
//! Mempools: guaranteed-progress reserves, with the semantics of the
//! kernel's `mm/mempool.c`, over rkmem's caches, kmalloc and pages (or a
//! client's own backing callbacks).
//!
//! An allocation tries the backing first without direct reclaim and I/O;
//! then the reserve; then the backing with the caller's whole gfp; then,
//! if it may sleep, it waits for a free (5 s at most, then tries the
//! backing again), so it never fails; without direct reclaim it fails.
//! A free refills the reserve first while it is below its minimum. The
//! decisions are [`crate::logic::mempool`]'s; this file makes the calls,
//! holds the pool's lock (interrupt-safe: pools are used from hard IRQs)
//! and counts, per CPU. Calls go down only: to the slab layer and pages.

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use kernel::alloc::flags::{__GFP_NOWARN, GFP_KERNEL, GFP_NOWAIT};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use crate::host::mempool::{counts_of, Callbacks, PerCpuCounters, WaitQueue, Waited};
use crate::host::slab::slabs;
use crate::host::{self, IrqSpinLock};
use crate::logic::mempool::{AfterBackingFailed, AllocAttempt, PoolCounts, Reserve};
use crate::logic::zonelist::ZoneType;
use crate::slab::Cache;

/// How long a sleeping allocation waits for a free before it tries the
/// backing again (mempool.c's `io_schedule_timeout(5*HZ)`).
const WAIT_MS: u32 = 5000;

/// Most elements a pool may keep: its slot array stays within one 4 MiB
/// kmalloc (`KMALLOC_MAX_SIZE`).
const MAX_MIN_NR: usize = 1 << 19;

/// The per-CPU counters of a pool.
#[derive(Clone, Copy)]
#[repr(usize)]
pub(crate) enum Counter {
    BackingAllocs,
    ReserveAllocs,
    BackingFrees,
    ReserveFrees,
    Waits,
    Wakeups,
    Timeouts,
    AtomicFailures,
}

/// Number of [`Counter`]s.
pub(crate) const NR_COUNTERS: usize = 8;

/// Where a pool's elements come from.
pub(crate) enum Backing {
    /// A client's `mempool_alloc_t`/`mempool_free_t`.
    Custom(Callbacks),
    /// Objects of an rkmem cache.
    Slab(&'static Cache),
    /// rkmem kmalloc of this many bytes: the class's cache, found at
    /// creation (`None` above 8 KiB: page chunks).
    Kmalloc(usize, Option<&'static Cache>),
    /// rkmem pages of this order (elements are `struct page *`).
    Pages(u32),
}

/// A pool's creation request.
pub(crate) struct PoolSpec<'a> {
    pub(crate) min_nr: i32,
    /// Node for the pool's metadata and rkmem-backed elements (`None`: local).
    pub(crate) node: Option<usize>,
    /// gfp (and its decoded flags) for the metadata and the prefill.
    pub(crate) gfp: u32,
    pub(crate) flags: u32,
    /// Shown in `mempools`: the creator.
    pub(crate) name: &'a [u8],
    /// A custom backing's name (its alloc function).
    pub(crate) backing_name: &'a [u8],
}

/// One `mempool_alloc` call, as the C API decoded it.
pub(crate) struct AllocCall {
    /// The caller's gfp with `__GFP_NOMEMALLOC | __GFP_NORETRY | __GFP_NOWARN`.
    pub(crate) gfp: u32,
    /// That without `__GFP_DIRECT_RECLAIM | __GFP_IO` (the first tries).
    pub(crate) reduced_gfp: u32,
    /// `gfp`'s rkmem alloc flags.
    pub(crate) flags: u32,
    /// Highest zone `gfp` allows (page and large kmalloc backings).
    pub(crate) highest_kind: i32,
    pub(crate) caller: usize,
}

/// A short name, stored inline.
struct Name {
    bytes: [u8; 48],
    len: usize,
}

impl Name {
    fn new(b: &[u8]) -> Self {
        let mut bytes = [0; 48];
        let len = b.len().min(bytes.len());
        bytes[..len].copy_from_slice(&b[..len]);
        Name { bytes, len }
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("?")
    }
}

/// A mempool.
#[pin_data]
pub(crate) struct Mempool {
    #[pin]
    reserve: IrqSpinLock<Reserve<KVec<usize>>>,
    #[pin]
    waiters: WaitQueue,
    /// `curr_nr` and `min_nr` as of the last change under the lock, for
    /// the free path's unlocked refill check (mempool.c's `READ_ONCE`).
    curr_hint: AtomicUsize,
    min_hint: AtomicUsize,
    backing: Backing,
    node: Option<usize>,
    counters: PerCpuCounters<NR_COUNTERS>,
    name: Name,
    backing_name: Name,
    /// Destroyed with elements out: kept so their frees still work.
    destroyed: AtomicBool,
}

impl Mempool {
    #[inline(always)]
    fn count(&self, c: Counter) {
        self.counters.inc(c as usize);
    }

    /// The counters summed over CPUs.
    pub(crate) fn counts(&self) -> PoolCounts {
        counts_of(&self.counters)
    }

    /// Publishes the reserve's state for unlocked readers (lock held).
    fn sync_hints(&self, r: &Reserve<KVec<usize>>) {
        self.curr_hint.store(r.curr(), Relaxed);
        self.min_hint.store(r.min(), Relaxed);
    }

    /// The node for rkmem-backed elements.
    fn node(&self) -> usize {
        self.node.unwrap_or_else(host::numa_node_id)
    }

    /// One element from the backing, or `None`. `gfp`/`flags` as decoded
    /// by the C API; never `__GFP_NOFAIL` (the C API takes it out).
    #[inline(always)]
    pub(crate) fn backing_alloc(
        &self,
        gfp: u32,
        flags: u32,
        highest: i32,
        caller: usize,
    ) -> Option<usize> {
        // `fail_mempool_backing`: as if the backing had nothing.
        if host::fault::should_fail(
            host::fault::FaultKind::Mempool,
            1,
            flags & host::slab::ALLOC_CAN_SLEEP != 0,
        ) {
            return None;
        }
        match &self.backing {
            Backing::Slab(cache) => {
                let rk = host::published()?;
                cache.alloc(rk, &host::slab::obj_req(gfp, flags, -1, caller as _))
            }
            // As kmalloc: no DMA classes (a small GFP_DMA request fails).
            Backing::Kmalloc(_, Some(cache)) if highest >= ZoneType::Normal as i32 => {
                let rk = host::published()?;
                cache.alloc(rk, &host::slab::obj_req(gfp, flags, -1, caller as _))
            }
            Backing::Kmalloc(size, _) => {
                let (rk, slabs) = (host::published()?, slabs()?);
                let req = host::slab::obj_req(gfp, flags, self.node() as i32, caller as _);
                slabs.kmalloc(rk, *size, highest, &req)
            }
            Backing::Pages(order) => {
                let rk = host::published()?;
                let req = host::alloc_request(self.node(), highest, gfp, flags, *order)?;
                rk.alloc_pages(&req).ok().map(host::slab::pfn_to_page)
            }
            Backing::Custom(callbacks) => callbacks.alloc(gfp),
        }
    }

    /// Gives `element` back to the backing.
    pub(crate) fn backing_free(&self, element: usize, caller: usize) {
        let Some(rk) = host::published() else {
            return;
        };
        match &self.backing {
            Backing::Slab(cache) => cache.free(rk, element, caller),
            Backing::Kmalloc(_, Some(cache)) => cache.free(rk, element, caller),
            Backing::Kmalloc(_, None) => {
                if let Some(slabs) = slabs() {
                    slabs.kfree(rk, element, caller);
                }
            }
            Backing::Pages(order) => rk.free_pages(host::slab::page_to_pfn(element), *order),
            Backing::Custom(callbacks) => callbacks.free(element),
        }
    }

    /// `mempool_alloc`: the backing (reduced gfp) first, inline; the rest
    /// out of line.
    #[inline(always)]
    pub(crate) fn alloc(&self, call: &AllocCall) -> Option<usize> {
        let reduced = call.flags & !host::slab::ALLOC_CAN_SLEEP;
        if let Some(e) =
            self.backing_alloc(call.reduced_gfp, reduced, call.highest_kind, call.caller)
        {
            self.count(Counter::BackingAllocs);
            return Some(e);
        }
        self.alloc_slow(call)
    }

    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, call: &AllocCall) -> Option<usize> {
        let may_sleep = call.flags & host::slab::ALLOC_CAN_SLEEP != 0;
        let mut attempt = AllocAttempt::new(call.reduced_gfp != call.gfp, may_sleep);
        loop {
            let next = {
                let mut r = self.reserve.lock();
                let next = attempt.backing_failed(&mut r);
                self.sync_hints(&r);
                next
            };
            match next {
                AfterBackingFailed::Take(e) => {
                    self.count(Counter::ReserveAllocs);
                    return Some(e);
                }
                AfterBackingFailed::RetryFull => {}
                AfterBackingFailed::Fail => {
                    self.count(Counter::AtomicFailures);
                    return None;
                }
                AfterBackingFailed::Wait => {
                    self.count(Counter::Waits);
                    match self.waiters.wait_for(WAIT_MS, || self.take_reserved()) {
                        Waited::Got(e) => {
                            self.count(Counter::Wakeups);
                            self.count(Counter::ReserveAllocs);
                            return Some(e);
                        }
                        Waited::Woken => self.count(Counter::Wakeups),
                        Waited::TimedOut => self.count(Counter::Timeouts),
                    }
                }
            }
            let (gfp, flags) = if attempt.reduced {
                (call.reduced_gfp, call.flags & !host::slab::ALLOC_CAN_SLEEP)
            } else {
                (call.gfp, call.flags)
            };
            if let Some(e) = self.backing_alloc(gfp, flags, call.highest_kind, call.caller) {
                self.count(Counter::BackingAllocs);
                return Some(e);
            }
        }
    }

    /// One element of the reserve, if it has one.
    fn take_reserved(&self) -> Option<usize> {
        let mut r = self.reserve.lock();
        let e = r.take();
        self.sync_hints(&r);
        e
    }

    /// `mempool_alloc_preallocated`: the reserve only.
    pub(crate) fn alloc_preallocated(&self) -> Option<usize> {
        let e = self.take_reserved();
        if e.is_some() {
            self.count(Counter::ReserveAllocs);
        }
        e
    }

    /// `mempool_free`: refills the reserve while it is low, else back to
    /// the backing. Any context (for rkmem's backings).
    ///
    /// The count is the last access to the pool: a destroy that sees no
    /// element out (the counts) may free the pool at once, and on x86 a
    /// store is not seen before this CPU's earlier loads and stores.
    #[inline(always)]
    pub(crate) fn free(&self, element: usize, caller: usize) {
        if element == 0 {
            return;
        }
        if self.curr_hint.load(Relaxed) < self.min_hint.load(Relaxed) && self.refill(element) {
            self.count(Counter::ReserveFrees);
            return;
        }
        self.backing_free(element, caller);
        self.count(Counter::BackingFrees);
    }

    /// Puts `element` into a low reserve and wakes the waiters; `false` if
    /// the reserve filled meanwhile.
    #[cold]
    #[inline(never)]
    fn refill(&self, element: usize) -> bool {
        let kept = {
            let mut r = self.reserve.lock();
            let kept = r.put(element).is_ok();
            self.sync_hints(&r);
            kept
        };
        if kept {
            self.waiters.wake();
        }
        kept
    }

    /// Tops the reserve up to its minimum from the backing with `gfp`;
    /// `false` if the backing ran out first.
    fn fill(&self, gfp: u32, flags: u32) -> bool {
        loop {
            if !self.reserve.lock().is_low() {
                return true;
            }
            let Some(e) = self.backing_alloc(gfp, flags, ZoneType::Normal as i32, 0) else {
                return false;
            };
            let kept = {
                let mut r = self.reserve.lock();
                let kept = r.put(e);
                self.sync_hints(&r);
                kept
            };
            if let Err(e) = kept {
                // Frees filled it meanwhile.
                self.backing_free(e, 0);
                return true;
            }
        }
    }

    /// `mempool_resize` (`new_min > 0`): no element is lost; a growth the
    /// backing cannot meet now is left for frees to refill. May sleep.
    pub(crate) fn resize(&self, new_min: usize) -> Result {
        if new_min == 0 || new_min > MAX_MIN_NR || self.destroyed.load(Relaxed) {
            return Err(EINVAL);
        }
        let mut r = self.reserve.lock();
        if new_min <= r.min() {
            while let Some(e) = r.shrink_step(new_min) {
                self.sync_hints(&r);
                drop(r);
                self.backing_free(e, 0);
                r = self.reserve.lock();
            }
            self.sync_hints(&r);
            return Ok(());
        }
        drop(r);
        let slots = KVec::from_elem(0usize, new_min, GFP_KERNEL | __GFP_NOWARN)?;
        let old = {
            let mut r = self.reserve.lock();
            let old = r.grow(slots, new_min);
            self.sync_hints(&r);
            old
        };
        // The old slots (or the new ones, if a racing resize did it) go
        // now, outside the lock.
        drop(old);
        self.fill(host::pages::GFP_KERNEL, host::slab::ALLOC_CAN_SLEEP);
        Ok(())
    }

    /// Empties the reserve into the backing for good (the pool goes).
    fn close(&self) {
        self.reserve.lock().close();
        self.min_hint.store(0, Relaxed);
        while let Some(e) = self.take_reserved() {
            self.backing_free(e, 0);
        }
    }

    /// `curr_nr`, `min_nr`.
    pub(crate) fn levels(&self) -> (usize, usize) {
        let r = self.reserve.lock();
        (r.curr(), r.min())
    }

    /// The `mempools` line of this pool.
    pub(crate) fn show(&self, out: &mut impl Write) -> core::fmt::Result {
        let (curr, min) = self.levels();
        let c = self.counts();
        write!(out, "{} backing=", self.name.as_str())?;
        match &self.backing {
            Backing::Custom(_) => write!(out, "custom:{}", self.backing_name.as_str())?,
            // The cache's name as of creation: a pool destroyed with
            // elements out may outlive its cache's other users.
            Backing::Slab(_) => write!(out, "slab:{}", self.backing_name.as_str())?,
            Backing::Kmalloc(size, _) => write!(out, "kmalloc:{}", size)?,
            Backing::Pages(order) => write!(out, "pages:{}", order)?,
        }
        write!(
            out,
            " min_nr={} curr_nr={} out={} backing_allocs={} reserve_allocs={} \
             backing_frees={} reserve_frees={} waits={} wakeups={} timeouts={} \
             atomic_failures={}",
            min,
            curr,
            c.out(),
            c.backing_allocs,
            c.reserve_allocs,
            c.backing_frees,
            c.reserve_frees,
            c.waits,
            c.wakeups,
            c.timeouts,
            c.atomic_failures
        )?;
        if self.destroyed.load(Relaxed) {
            write!(out, " destroyed")?;
        }
        writeln!(out)
    }

    /// The trigger's name of this pool.
    pub(crate) fn name(&self) -> &str {
        self.name.as_str()
    }
}

/// Every pool, for the `mempools` file and for unload.
#[pin_data]
pub(crate) struct Mempools {
    #[pin]
    pools: Mutex<KVec<Option<Pin<KBox<Mempool>>>>>,
    /// The `mempool_test` trigger's pools.
    #[pin]
    pub(crate) test: Mutex<[Option<Arc<TestPool>>; MAX_TEST_POOLS]>,
}

/// Pools the `mempool_test` trigger may hold at once.
pub(crate) const MAX_TEST_POOLS: usize = 16;

/// A pool made through the `mempool_test` trigger, and what it holds.
#[pin_data]
pub(crate) struct TestPool {
    pub(crate) pool: &'static Mempool,
    /// The cache made for a slab pool (its id).
    pub(crate) cache: Option<usize>,
    /// Elements allocated from the pool.
    #[pin]
    pub(crate) held: Mutex<crate::Held<usize>>,
    /// Memory `drain` took from the backing.
    #[pin]
    pub(crate) drained: Mutex<crate::Held<usize>>,
    /// Commands using it now (a destroy waits for none).
    pub(crate) busy: AtomicUsize,
    /// Its pool was destroyed with elements out.
    pub(crate) destroyed: AtomicBool,
}

impl TestPool {
    /// A trigger pool around `pool`.
    pub(crate) fn new(pool: &'static Mempool, cache: Option<usize>) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(TestPool {
                pool,
                cache,
                held <- new_mutex!(crate::Held::new(), "rkmem_mempool_test_held"),
                drained <- new_mutex!(crate::Held::new(), "rkmem_mempool_test_drained"),
                busy: AtomicUsize::new(0),
                destroyed: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )
    }
}

impl Mempools {
    /// No pools yet.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Mempools {
            pools <- new_mutex!(KVec::new(), "rkmem_mempools"),
            test <- new_mutex!([const { None }; MAX_TEST_POOLS], "rkmem_mempool_test"),
        })
    }

    /// `mempool_create_node`: the pool, prefilled with `min_nr` elements.
    pub(crate) fn create(&self, spec: PoolSpec<'_>, backing: Backing) -> Result<&'static Mempool> {
        let min = usize::try_from(spec.min_nr).map_err(|_| EINVAL)?;
        if min > MAX_MIN_NR {
            return Err(EINVAL);
        }
        match backing {
            Backing::Kmalloc(0, _) => return Err(EINVAL),
            Backing::Kmalloc(size, _) if crate::logic::order::order_for_bytes(size).is_none() => {
                return Err(EINVAL)
            }
            Backing::Pages(order) if order > crate::logic::order::MAX_ORDER => return Err(EINVAL),
            _ => {}
        }
        let backing_name = match &backing {
            Backing::Slab(cache) => Name::new(cache.name.as_bytes()),
            _ => Name::new(spec.backing_name),
        };
        let can_sleep = spec.flags & host::slab::ALLOC_CAN_SLEEP != 0;
        let meta_gfp = if can_sleep { GFP_KERNEL } else { GFP_NOWAIT };
        let slots_gfp = meta_gfp | __GFP_NOWARN;
        let reserve = Reserve::new(KVec::from_elem(0usize, min, slots_gfp)?, min).ok_or(EINVAL)?;
        let counters = PerCpuCounters::new()?;
        let pool = KBox::pin_init(
            pin_init!(Mempool {
                reserve <- crate::new_irq_spinlock!(reserve, "rkmem_mempool"),
                waiters <- WaitQueue::new(),
                curr_hint: AtomicUsize::new(0),
                min_hint: AtomicUsize::new(min),
                backing,
                node: spec.node,
                counters,
                name: Name::new(spec.name),
                backing_name,
                destroyed: AtomicBool::new(false),
            }),
            meta_gfp,
        )?;
        if !pool.fill(spec.gfp, spec.flags) {
            pool.close();
            return Err(ENOMEM);
        }
        let handle = crate::host::mempool::registered(&pool);
        let mut pools = self.pools.lock();
        if let Some(slot) = pools.iter_mut().find(|p| p.is_none()) {
            *slot = Some(pool);
            return Ok(handle);
        }
        // Room first: a failed push would drop the pool with its reserve.
        if pools.reserve(1, meta_gfp).is_err() {
            drop(pools);
            pool.close();
            return Err(ENOMEM);
        }
        pools.push(Some(pool), meta_gfp)?;
        Ok(handle)
    }

    /// `mempool_destroy`: the reserve goes back and the pool with it; with
    /// elements out, a warning and the pool stays (marked destroyed).
    pub(crate) fn destroy(&self, pool: &Mempool) {
        let mut pools = self.pools.lock();
        let Some(i) = pools
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| core::ptr::eq(&**p, pool)))
        else {
            drop(pools);
            pr_warn!("mempool_destroy of a pool rkmem does not know\n");
            return;
        };
        if pool.destroyed.load(Relaxed) {
            drop(pools);
            pr_warn!("mempool_destroy {}: destroyed twice\n", pool.name());
            return;
        }
        let out = pool.counts().out();
        if out > 0 {
            pool.destroyed.store(true, Relaxed);
            drop(pools);
            pr_warn!(
                "mempool_destroy {}: {} elements still out\n",
                pool.name(),
                out
            );
            pool.close();
            return;
        }
        let gone = pools[i].take();
        drop(pools);
        if let Some(gone) = gone {
            gone.close();
        }
    }

    /// Frees `pool` if it was destroyed with elements out and all of them
    /// came back since; `true` if it is gone.
    pub(crate) fn reap(&self, pool: &Mempool) -> bool {
        let mut pools = self.pools.lock();
        let Some(i) = pools
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| core::ptr::eq(&**p, pool)))
        else {
            return false;
        };
        if !pool.destroyed.load(Relaxed) || pool.counts().out() > 0 {
            return false;
        }
        let gone = pools[i].take();
        drop(pools);
        drop(gone);
        true
    }

    /// Calls `f` on each pool, in creation order, under the list's lock.
    pub(crate) fn for_each(
        &self,
        mut f: impl FnMut(&Mempool) -> core::fmt::Result,
    ) -> core::fmt::Result {
        let pools = self.pools.lock();
        for p in pools.iter().flatten() {
            f(p)?;
        }
        Ok(())
    }

    /// At unload, after the trigger's pools went: pools their owners did
    /// not destroy are reported; rkmem-backed reserves go back (a client's
    /// callbacks are gone with its module and are not called).
    pub(crate) fn teardown(&self) {
        let mut pools = self.pools.lock();
        for pool in pools.iter_mut().filter_map(|p| p.take()) {
            let (curr, _) = pool.levels();
            if let Backing::Custom(callbacks) = &pool.backing {
                callbacks.forget();
                if curr > 0 {
                    pr_warn!(
                        "mempool {}: {} reserve elements of a client's backing not returned (its module is gone)\n",
                        pool.name(),
                        curr
                    );
                }
            }
            if !pool.destroyed.load(Relaxed) {
                pr_warn!(
                    "mempool {}: not destroyed by its owner ({} elements out)\n",
                    pool.name(),
                    pool.counts().out()
                );
            }
            pool.close();
        }
    }
}
