// SPDX-License-Identifier: GPL-2.0
//! The host boundary: the only Rust code of rkmem with `unsafe`.
//!
//! Split by topic: this file (host blocks, locks, the published module
//! state), [`topology`] (nodes, zones, distances, zonelists), [`debugfs`],
//! [`shrinker`], [`c_api`] (the C API's page entry points and bad-input
//! reports), [`pages`] (`struct page` semantics and the metadata cache),
//! [`percpu`] (per-CPU cells, CPU hotplug), [`fault`] (fault injection
//! points), [`memhotplug`] (the memory hotplug notifier), [`mempool`] and
//! [`slab`] (those layers' host needs).
//!
//! Everything that touches the kernel through raw pointers or C calls is
//! wrapped here in a small safe type with a documented invariant:
//! [`HostBlock`] owns pages taken from the host buddy allocator,
//! [`IrqSpinLock`] is an interrupt-safe spinlock, [`DebugfsDir`] and
//! [`Shrinker`] are registrations undone on drop, and the `rkmem_rust_*`
//! functions are the entry points C calls (debugfs, shrinker, the C API).

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::ffi::{c_char, c_int, c_ulong};

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::lock::{Backend, Lock};

use crate::logic::order::BLOCK_PAGES;
use crate::logic::zonelist::ZoneType;
use crate::Rkmem;

mod c_api;
mod debugfs;
pub(crate) mod fault;
pub(crate) mod memhotplug;
pub(crate) mod mempool;
pub(crate) mod pages;
pub(crate) mod percpu;
mod shrinker;
pub(crate) mod slab;
mod topology;

pub(crate) use c_api::*;
pub(crate) use debugfs::*;
pub(crate) use shrinker::*;
pub(crate) use topology::*;

extern "C" {
    fn rkmem_host_alloc_block(
        nid: c_int,
        kind: c_int,
        reclaim: bindings::gfp_t,
        opportunistic: bool,
        pfn: *mut c_ulong,
        landed: *mut c_int,
    ) -> c_int;
    fn rkmem_host_free_block(pfn: c_ulong);
    fn rkmem_host_pfn_nid(pfn: c_ulong) -> c_int;
    fn rkmem_host_pfn_zone_kind(pfn: c_ulong) -> c_int;
    fn rkmem_host_atomic_begin();
    fn rkmem_host_atomic_end();
    fn rkmem_host_nofail_wait(can_sleep: bool);
    fn rkmem_host_cond_resched();
    fn rkmem_host_fatal_signal_pending() -> bool;
    fn rkmem_host_spin_lock_init(
        lock: *mut bindings::spinlock_t,
        name: *const c_char,
        key: *mut bindings::lock_class_key,
    );
    fn rkmem_host_spin_lock_irqsave(lock: *mut bindings::spinlock_t) -> c_ulong;
    fn rkmem_host_spin_unlock_irqrestore(lock: *mut bindings::spinlock_t, flags: c_ulong);
    fn rkmem_host_slub_debug() -> *const c_char;
    fn rkmem_host_random_u64() -> u64;
}

// ---- pages ----

/// Why the host gave no block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TakeError {
    /// The host had no free block there (or would have had to sleep).
    NoMemory,
    /// The host gave a block from another node or zone; it went back at once.
    Mismatch,
}

/// A block of `2^MAX_PAGE_ORDER` pages taken from the host buddy allocator.
///
/// Invariant: `pfn` is the first pfn of a block this value alone owns, taken
/// with `alloc_pages_node(.., MAX_PAGE_ORDER)`; dropping it gives it back.
pub(crate) struct HostBlock {
    pfn: u64,
    zone: ZoneType,
}

impl HostBlock {
    /// Takes one block on `node` with `zone` as the highest zone, as the
    /// host's zonelist for that zone modifier allows (its `lowmem_reserve`
    /// protects the lower zones), and the caller's reclaim bits `gfp`
    /// (`GFP_NOFS` stays `GFP_NOFS`). With `opportunistic` the host does not
    /// retry hard (`__GFP_NORETRY`). The block may land in a lower zone of
    /// the node ([`HostBlock::zone`]); never on another node.
    pub(crate) fn take(
        node: usize,
        zone: ZoneType,
        gfp: u32,
        opportunistic: bool,
    ) -> Result<Self, TakeError> {
        // `fail_grow`: as if the host had no block.
        if fault::should_fail_gfp(fault::FaultKind::Grow, BLOCK_PAGES, gfp) {
            return Err(TakeError::NoMemory);
        }
        let mut pfn: c_ulong = 0;
        let mut landed: c_int = -1;
        // SAFETY: valid out pointers; the glue frees a mismatched block itself.
        let ret = unsafe {
            rkmem_host_alloc_block(
                node as c_int,
                zone as c_int,
                gfp,
                opportunistic,
                &mut pfn,
                &mut landed,
            )
        };
        let landed = usize::try_from(landed).ok().and_then(ZoneType::from_index);
        match (ret, landed) {
            (0, Some(zone)) => Ok(HostBlock {
                pfn: pfn as u64,
                zone,
            }),
            (0, None) => {
                // Cannot happen (the glue checks the zone); do not leak it.
                drop(HostBlock {
                    pfn: pfn as u64,
                    zone,
                });
                Err(TakeError::Mismatch)
            }
            (2, _) => Err(TakeError::Mismatch),
            _ => Err(TakeError::NoMemory),
        }
    }

    /// First pfn of the block.
    pub(crate) fn pfn(&self) -> u64 {
        self.pfn
    }

    /// The zone the block really is in.
    pub(crate) fn zone(&self) -> ZoneType {
        self.zone
    }

    /// Keeps the pages from the host for good (unload with pages still in
    /// use: never free memory someone may still use).
    pub(crate) fn leak(self) {
        core::mem::forget(self);
    }
}

impl Drop for HostBlock {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own this block and nobody else uses it.
        unsafe { rkmem_host_free_block(self.pfn as c_ulong) };
    }
}

/// Where the host says a page rkmem handed out really is: (node, zone).
/// `pfn` must be a page rkmem owns (it is only read, never written).
pub(crate) fn page_location(pfn: u64) -> (usize, Option<ZoneType>) {
    // SAFETY: the page is in a block rkmem holds, so its struct page exists.
    let (nid, kind) = unsafe {
        (
            rkmem_host_pfn_nid(pfn as c_ulong),
            rkmem_host_pfn_zone_kind(pfn as c_ulong),
        )
    };
    (
        nid as usize,
        usize::try_from(kind).ok().and_then(ZoneType::from_index),
    )
}

/// Runs `f` with preemption disabled: in atomic context, where sleeping
/// would trip `DEBUG_ATOMIC_SLEEP`.
pub(crate) fn in_atomic_section<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: balanced with the `preempt_enable` below; `f` cannot skip it
    // (a panic in the kernel does not unwind).
    unsafe { rkmem_host_atomic_begin() };
    let r = f();
    // SAFETY: pairs with the `preempt_disable` above.
    unsafe { rkmem_host_atomic_end() };
    r
}

/// Pause between `__GFP_NOFAIL` retries: one tick asleep if the caller may
/// sleep, else a CPU relax.
pub(crate) fn nofail_wait(can_sleep: bool) {
    // SAFETY: sleeps only when the caller's gfp allows it.
    unsafe { rkmem_host_nofail_wait(can_sleep) }
}

/// How a long loop (shrink, prefill, teardown, slab validate) yields
/// between its steps, called with no lock held. Only where the caller may
/// sleep: debugfs writes, module unload, the host shrinker's scan (which
/// runs in reclaim, in process context; `do_shrink_slab` reschedules too).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum LongLoop {
    /// Reschedules; stops early on a fatal signal (a knob write: the
    /// writer was killed, so return what was done).
    Killable,
    /// Reschedules; runs to the end (unload must give every block back).
    ToTheEnd,
}

impl LongLoop {
    /// Between two steps: lets others run; true if the loop should stop.
    pub(crate) fn should_stop(self) -> bool {
        cond_resched();
        self == LongLoop::Killable && fatal_signal_pending()
    }
}

/// `cond_resched()`: only where the caller may sleep (no lock held, not in
/// an atomic context; `might_sleep` checks it on debug kernels).
pub(crate) fn cond_resched() {
    // SAFETY: a plain call; callers are in process context with no
    // spinlock held (see `LongLoop`).
    unsafe { rkmem_host_cond_resched() }
}

/// `fatal_signal_pending(current)`: the task is being killed.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: reads the current task's signal state.
    unsafe { rkmem_host_fatal_signal_pending() }
}

// ---- IRQ-safe spinlock ----

/// Lock backend: `spin_lock_irqsave`, so the allocator may be called from
/// interrupt handlers (GFP_ATOMIC) without deadlocking on its own lock.
pub(crate) struct IrqSpinLockBackend;

/// A spinlock taken with interrupts disabled.
pub(crate) type IrqSpinLock<T> = Lock<T, IrqSpinLockBackend>;

/// Creates an [`IrqSpinLock`] initialiser with its own lockdep class.
#[macro_export]
macro_rules! new_irq_spinlock {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::host::IrqSpinLock::new(
            $inner, ::kernel::optional_name!($($name)?), ::kernel::static_lock_class!())
    };
}

// SAFETY: `spin_lock_irqsave` gives exclusive ownership until the matching
// `spin_unlock_irqrestore`, which gets the flags saved by the lock call.
unsafe impl Backend for IrqSpinLockBackend {
    type State = bindings::spinlock_t;
    type GuardState = c_ulong;

    unsafe fn init(ptr: *mut Self::State, name: *const c_char, key: *mut bindings::lock_class_key) {
        // SAFETY: the caller passes a valid, pinned `ptr` and static `name`/`key`.
        unsafe { rkmem_host_spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller guarantees `init` was called on `ptr`.
        unsafe { rkmem_host_spin_lock_irqsave(ptr) }
    }

    unsafe fn unlock(ptr: *mut Self::State, flags: &Self::GuardState) {
        // SAFETY: the caller owns the lock; `flags` come from its `lock`.
        unsafe { rkmem_host_spin_unlock_irqrestore(ptr, *flags) }
    }
}

// ---- the module state, for C callbacks ----

static STATE: AtomicPtr<Rkmem> = AtomicPtr::new(ptr::null_mut());

/// Owns the module state and makes it reachable from C callbacks.
///
/// Invariant: while a `Published` exists, `STATE` points to the state it
/// owns. The module drops its debugfs files and shrinker (whose removal waits
/// for running callbacks) before this, and no other module can call the C
/// API then (they hold a reference on rkmem while linked to it).
pub(crate) struct Published {
    state: *mut Rkmem,
}

// SAFETY: the pointee is `Sync` and owned by this value.
unsafe impl Send for Published {}
// SAFETY: as above; only shared references are handed out.
unsafe impl Sync for Published {}

impl Published {
    /// Publishes `state` to the C entry points.
    pub(crate) fn new(state: Pin<KBox<Rkmem>>) -> Self {
        // SAFETY: we never move the state out of the pointer: it is only
        // rebuilt into the same pinned box in `drop`.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(state) });
        STATE.store(raw, Ordering::Release);
        Published { state: raw }
    }

    /// The state.
    pub(crate) fn get(&self) -> &Rkmem {
        // SAFETY: `state` came from `KBox::into_raw` and lives until `drop`.
        unsafe { &*self.state }
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        STATE.store(ptr::null_mut(), Ordering::Release);
        // SAFETY: from `KBox::into_raw` in `new`; no callback can run any more
        // (type invariant), so this is the last reference.
        drop(unsafe { KBox::from_raw(self.state) });
    }
}

pub(super) fn published() -> Option<&'static Rkmem> {
    let p = STATE.load(Ordering::Acquire);
    // SAFETY: non-null only while a `Published` owns the state, and the
    // callbacks that use this reference end before it is dropped.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// The `slub_debug=` module parameter, if given.
pub(crate) fn slub_debug_param() -> Option<&'static CStr> {
    // SAFETY: a module parameter: NULL or a NUL-terminated string that
    // lives as long as the module.
    let p = unsafe { rkmem_host_slub_debug() };
    // SAFETY: as above.
    (!p.is_null()).then(|| unsafe { CStr::from_char_ptr(p) })
}

/// A random number (`get_random_u64`).
pub(crate) fn random_u64() -> u64 {
    // SAFETY: a plain call.
    unsafe { rkmem_host_random_u64() }
}
