// SPDX-License-Identifier: GPL-2.0
//! What the mempool layer needs of the host: a wait queue to sleep on until
//! a free refills a reserve, a client's backing callbacks, per-CPU counters
//! and the C API's entry points (rust/mempool_glue.c calls them).

use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use kernel::prelude::*;
use kernel::types::Opaque;

use super::percpu;
use super::slab::slabs;
use crate::logic::mempool::PoolCounts;
use crate::mempool::{AllocCall, Backing, Mempool, Mempools, PoolSpec};

extern "C" {
    fn rkmem_host_waitqueue_init(head: *mut bindings::wait_queue_head);
    fn rkmem_host_wake_up_sleepers(head: *mut bindings::wait_queue_head);
    fn rkmem_host_mempool_gfp(
        gfp: bindings::gfp_t,
        full: *mut bindings::gfp_t,
        reduced: *mut bindings::gfp_t,
        flags: *mut c_uint,
        highest_kind: *mut c_int,
    );
    fn rkmem_host_percpu_alloc_zeroed(size: usize, align: usize) -> *mut c_void;
    fn rkmem_host_percpu_free(base: *mut c_void);
    fn rkmem_host_percpu_ptr(base: *mut c_void, cpu: c_int) -> *mut c_void;
}

// ------------------------------------------------------------ wait queue

/// How a wait ended.
pub(crate) enum Waited<T> {
    /// The check passed (before or after sleeping).
    Got(T),
    /// Woken before the timeout, the check not retried.
    Woken,
    /// The timeout passed.
    TimedOut,
}

/// A `wait_queue_head` (as mempool's `pool->wait`).
///
/// Invariant: `head` was initialised by `__init_waitqueue_head` and is
/// pinned.
#[pin_data]
pub(crate) struct WaitQueue {
    #[pin]
    head: Opaque<bindings::wait_queue_head>,
}

// SAFETY: a wait queue head is used from any CPU under its own lock.
unsafe impl Send for WaitQueue {}
// SAFETY: as above.
unsafe impl Sync for WaitQueue {}

impl WaitQueue {
    /// An initialiser (every pool's queue shares one lockdep class).
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(WaitQueue {
            // SAFETY: `slot` is valid, pinned memory for the head.
            head <- Opaque::ffi_init(|slot| unsafe { rkmem_host_waitqueue_init(slot) }),
        })
    }

    /// Sleeps (uninterruptible, as an I/O wait) until [`WaitQueue::wake`]
    /// or `timeout_ms`, unless `check` finds what it waits for: it runs
    /// after this task is queued, so a wake between a failed check and the
    /// sleep is not lost. May sleep: process context only.
    pub(crate) fn wait_for<T>(
        &self,
        timeout_ms: u32,
        check: impl FnOnce() -> Option<T>,
    ) -> Waited<T> {
        let entry = Opaque::<bindings::wait_queue_entry>::uninit();
        // SAFETY: `entry` lives on this frame until `finish_wait` below has
        // taken it off the queue, and is not moved meanwhile; `head` is
        // initialised (invariant).
        unsafe {
            bindings::init_wait(entry.get());
            bindings::prepare_to_wait(
                self.head.get(),
                entry.get(),
                kernel::task::TASK_UNINTERRUPTIBLE as c_int,
            )
        };
        let got = check();
        let left = match got {
            Some(_) => 1,
            // SAFETY: plain sleep; the task state was set by prepare_to_wait.
            None => unsafe {
                bindings::io_schedule_timeout(kernel::time::msecs_to_jiffies(timeout_ms) as _)
            },
        };
        // SAFETY: `entry` was queued on `head` above.
        unsafe { bindings::finish_wait(self.head.get(), entry.get()) };
        match got {
            Some(v) => Waited::Got(v),
            None if left > 0 => Waited::Woken,
            None => Waited::TimedOut,
        }
    }

    /// Wakes every waiter (`wake_up`) if there is one (`wq_has_sleeper`:
    /// a full barrier orders the caller's change before the check, and a
    /// waiter is queued before it checks, so none is missed). Any context.
    pub(crate) fn wake(&self) {
        // SAFETY: `head` is initialised (invariant).
        unsafe { rkmem_host_wake_up_sleepers(self.head.get()) };
    }
}

// --------------------------------------------------- a client's backing

/// The host's `mempool_alloc_t`.
type AllocFn = unsafe extern "C" fn(bindings::gfp_t, *mut c_void) -> *mut c_void;
/// The host's `mempool_free_t`.
type FreeFn = unsafe extern "C" fn(*mut c_void, *mut c_void);

/// A client's backing allocator: its two functions and their data.
///
/// Invariant: the functions are a client's `mempool_alloc_t` and
/// `mempool_free_t`, callable with `data` while the pool exists (the
/// client destroys its pools before its module goes; rkmem cannot unload
/// while a client is linked to it).
pub(crate) struct Callbacks {
    alloc: AllocFn,
    free: FreeFn,
    data: *mut c_void,
    /// The client's module is gone (rkmem unloads): never call them again.
    gone: core::sync::atomic::AtomicBool,
}

// SAFETY: the callbacks are the client's to make safe across CPUs, as
// they are for the host's mempool.
unsafe impl Send for Callbacks {}
// SAFETY: as above.
unsafe impl Sync for Callbacks {}

impl Callbacks {
    /// `alloc(gfp, data)`: an element or `None`.
    pub(crate) fn alloc(&self, gfp: bindings::gfp_t) -> Option<usize> {
        if self.gone.load(Ordering::Relaxed) {
            return None;
        }
        // SAFETY: the client's function with its data (invariant).
        let e = unsafe { (self.alloc)(gfp, self.data) };
        (!e.is_null()).then_some(e as usize)
    }

    /// `free(element, data)`.
    pub(crate) fn free(&self, element: usize) {
        if !self.gone.load(Ordering::Relaxed) {
            // SAFETY: the client's function with its data (invariant), on
            // an element its alloc gave.
            unsafe { (self.free)(element as *mut c_void, self.data) }
        }
    }

    /// At rkmem's unload: the client is gone, its code with it.
    pub(crate) fn forget(&self) {
        self.gone.store(true, Ordering::Relaxed);
    }
}

// ------------------------------------------------------ per-CPU counters

/// `N` counters per possible CPU, each bumped with one `incq %gs:` (as
/// `this_cpu_inc`): exact against preemption and interrupts, no lock.
///
/// Invariant: `base` is zeroed `alloc_percpu` memory of `[u64; N]`.
pub(crate) struct PerCpuCounters<const N: usize> {
    base: *mut c_void,
}

// SAFETY: each CPU's counters change only by single instructions on that
// CPU; readers sum them.
unsafe impl<const N: usize> Send for PerCpuCounters<N> {}
// SAFETY: as above.
unsafe impl<const N: usize> Sync for PerCpuCounters<N> {}

impl<const N: usize> PerCpuCounters<N> {
    /// Zeroed counters (may sleep).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: a plain zeroed per-CPU allocation.
        let base = unsafe { rkmem_host_percpu_alloc_zeroed(N * 8, 8) };
        if base.is_null() {
            return Err(ENOMEM);
        }
        Ok(PerCpuCounters { base })
    }

    /// Adds one to counter `i` of this CPU.
    #[inline(always)]
    pub(crate) fn inc(&self, i: usize) {
        let p = (self.base as usize).wrapping_add(i.min(N - 1) * 8);
        // SAFETY: `p` is a per-CPU address of our allocation (invariant);
        // `%gs:` makes it this CPU's copy, as `this_cpu_inc` does.
        unsafe { core::arch::asm!("incq %gs:({0})", in(reg) p, options(att_syntax, nostack)) };
    }

    /// Counter `i` summed over every possible CPU.
    pub(crate) fn sum(&self, i: usize) -> u64 {
        percpu::possible_cpus()
            .map(|cpu| {
                // SAFETY: a possible CPU's copy of our allocation; an 8-byte
                // aligned word read whole.
                unsafe {
                    let p = rkmem_host_percpu_ptr(self.base, cpu as c_int).cast::<u64>();
                    core::ptr::read_volatile(p.add(i.min(N - 1)))
                }
            })
            .sum()
    }
}

impl<const N: usize> Drop for PerCpuCounters<N> {
    fn drop(&mut self) {
        // SAFETY: allocated in `new`, freed once.
        unsafe { rkmem_host_percpu_free(self.base) };
    }
}

// ---------------------------------------------- the layer, for C callers

static MEMPOOLS: AtomicPtr<Mempools> = AtomicPtr::new(core::ptr::null_mut());

/// Owns the mempool layer and makes it reachable from the C API (as
/// [`super::slab::PublishedSlabs`] does).
pub(crate) struct PublishedMempools(*mut Mempools);

// SAFETY: the pointee is `Sync` and owned by this value.
unsafe impl Send for PublishedMempools {}
// SAFETY: as above.
unsafe impl Sync for PublishedMempools {}

impl PublishedMempools {
    /// Publishes `pools`.
    pub(crate) fn new(pools: Pin<KBox<Mempools>>) -> Self {
        // SAFETY: the box is only ever used pinned: through `get` and
        // `from_raw` back into a `Pin` in `drop`.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(pools) });
        MEMPOOLS.store(raw, Ordering::Release);
        PublishedMempools(raw)
    }

    /// The layer.
    pub(crate) fn get(&self) -> &Mempools {
        // SAFETY: from `KBox::into_raw`, alive until `drop`.
        unsafe { &*self.0 }
    }
}

impl Drop for PublishedMempools {
    fn drop(&mut self) {
        MEMPOOLS.store(core::ptr::null_mut(), Ordering::Release);
        // SAFETY: from `KBox::into_raw`; nobody can reach it any more.
        drop(unsafe { Pin::new_unchecked(KBox::from_raw(self.0)) });
    }
}

/// The published mempool layer.
pub(crate) fn mempools() -> Option<&'static Mempools> {
    let p = MEMPOOLS.load(Ordering::Acquire);
    // SAFETY: non-null only while a `PublishedMempools` owns it.
    (!p.is_null()).then(|| unsafe { &*p })
}

// ------------------------------------------------------ C API entry points

/// `rkmem_mempool_create*()`'s arguments (rust/host_glue.h).
#[repr(C)]
pub(crate) struct RawPoolSpec {
    kind: c_int,
    min_nr: c_int,
    nid: c_int,
    alloc_fn: Option<AllocFn>,
    free_fn: Option<FreeFn>,
    pool_data: *mut c_void,
    cache: *mut c_void,
    param: usize,
    gfp: bindings::gfp_t,
    flags: c_uint,
    name: [c_char; 48],
    backing_name: [c_char; 48],
}

/// The bytes of a NUL-terminated C array (without the NUL).
fn c_bytes(a: &[c_char]) -> &[u8] {
    // SAFETY: `c_char` and `u8` have the same layout.
    let bytes = unsafe { core::slice::from_raw_parts(a.as_ptr().cast::<u8>(), a.len()) };
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

const BACKING_CUSTOM: c_int = 0;
const BACKING_SLAB: c_int = 1;
const BACKING_KMALLOC: c_int = 2;
const BACKING_PAGES: c_int = 3;

/// Backs `rkmem_mempool_create*()`: the pool or NULL.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_mempool_create(raw: *const RawPoolSpec) -> *mut c_void {
    let Some(pools) = mempools() else {
        return core::ptr::null_mut();
    };
    // SAFETY: the glue passes a valid spec for the call.
    let raw = unsafe { &*raw };
    let backing = match raw.kind {
        BACKING_CUSTOM => match (raw.alloc_fn, raw.free_fn) {
            (Some(alloc), Some(free)) => Backing::Custom(Callbacks {
                alloc,
                free,
                data: raw.pool_data,
                gone: core::sync::atomic::AtomicBool::new(false),
            }),
            _ => return core::ptr::null_mut(),
        },
        BACKING_SLAB => match super::slab::cache_handle(raw.cache) {
            Some(cache) => Backing::Slab(cache),
            None => return core::ptr::null_mut(),
        },
        BACKING_KMALLOC => {
            Backing::Kmalloc(raw.param, slabs().and_then(|s| s.kmalloc_cache(raw.param)))
        }
        BACKING_PAGES => match u32::try_from(raw.param) {
            Ok(order) => Backing::Pages(order),
            Err(_) => return core::ptr::null_mut(),
        },
        _ => return core::ptr::null_mut(),
    };
    let spec = PoolSpec {
        min_nr: raw.min_nr,
        node: usize::try_from(raw.nid).ok(),
        gfp: raw.gfp,
        flags: raw.flags,
        name: c_bytes(&raw.name),
        backing_name: c_bytes(&raw.backing_name),
    };
    match pools.create(spec, backing) {
        Ok(pool) => pool as *const Mempool as *mut c_void,
        Err(_) => core::ptr::null_mut(),
    }
}

/// A `mempool_alloc(pool, gfp)` call decoded as the C API decodes it (for
/// rkmem's own callers: the trigger).
pub(crate) fn alloc_call(gfp: bindings::gfp_t) -> AllocCall {
    let (mut full, mut reduced, mut flags, mut highest) = (0, 0, 0, 0);
    // SAFETY: four out-pointers to locals.
    unsafe { rkmem_host_mempool_gfp(gfp, &mut full, &mut reduced, &mut flags, &mut highest) };
    AllocCall {
        gfp: full,
        reduced_gfp: reduced,
        flags,
        highest_kind: highest,
        caller: 0,
    }
}

/// A registered pool for as long as it stays registered.
///
/// Invariant kept by [`Mempools`]: a pool's box is freed only by its
/// destroy (or unload), after which its creator no longer uses it, as the
/// C API's contract says (`rkmem_mempool_destroy`).
pub(crate) fn registered(pool: &Mempool) -> &'static Mempool {
    // SAFETY: pinned in its box, which lives until destroy (invariant).
    unsafe { &*(pool as *const Mempool) }
}

/// The pool behind a C handle.
#[inline(always)]
fn pool_ref(handle: *mut c_void) -> Option<&'static Mempool> {
    if handle.is_null() {
        return None;
    }
    // The C API's contract: `handle` came from `rkmem_mempool_create*()`
    // and was not destroyed (or was kept by a destroy with elements out).
    // SAFETY: so the pool is alive and pinned.
    Some(unsafe { &*(handle as *const Mempool) })
}

/// Backs `rkmem_mempool_alloc()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_mempool_alloc(
    pool: *mut c_void,
    gfp: bindings::gfp_t,
    reduced_gfp: bindings::gfp_t,
    flags: c_uint,
    highest_kind: c_int,
    caller: c_ulong,
) -> *mut c_void {
    let Some(pool) = pool_ref(pool) else {
        return core::ptr::null_mut();
    };
    let call = AllocCall {
        gfp,
        reduced_gfp,
        flags,
        highest_kind,
        caller: caller as usize,
    };
    pool.alloc(&call)
        .map_or(core::ptr::null_mut(), |e| e as *mut c_void)
}

/// Backs `rkmem_mempool_alloc_preallocated()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_mempool_alloc_preallocated(pool: *mut c_void) -> *mut c_void {
    pool_ref(pool)
        .and_then(|p| p.alloc_preallocated())
        .map_or(core::ptr::null_mut(), |e| e as *mut c_void)
}

/// Backs `rkmem_mempool_free()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_mempool_free(
    pool: *mut c_void,
    element: *mut c_void,
    caller: c_ulong,
) {
    if let Some(pool) = pool_ref(pool) {
        pool.free(element as usize, caller as usize);
    }
}

/// Backs `rkmem_mempool_resize()`: 0 or -errno.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_mempool_resize(pool: *mut c_void, new_min_nr: c_int) -> c_int {
    let Some(pool) = pool_ref(pool) else {
        return -(bindings::EINVAL as c_int);
    };
    match usize::try_from(new_min_nr) {
        Ok(n) if n > 0 => match pool.resize(n) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        },
        _ => -(bindings::EINVAL as c_int),
    }
}

/// Backs `rkmem_mempool_destroy()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_mempool_destroy(pool: *mut c_void) {
    if let (Some(pools), Some(pool)) = (mempools(), pool_ref(pool)) {
        pools.destroy(pool);
    }
}

/// A pool's counters, for the `mempools` file.
pub(crate) fn counts_of(c: &PerCpuCounters<{ crate::mempool::NR_COUNTERS }>) -> PoolCounts {
    use crate::mempool::Counter::*;
    PoolCounts {
        backing_allocs: c.sum(BackingAllocs as usize),
        reserve_allocs: c.sum(ReserveAllocs as usize),
        backing_frees: c.sum(BackingFrees as usize),
        reserve_frees: c.sum(ReserveFrees as usize),
        waits: c.sum(Waits as usize),
        wakeups: c.sum(Wakeups as usize),
        timeouts: c.sum(Timeouts as usize),
        atomic_failures: c.sum(AtomicFailures as usize),
    }
}
