// SPDX-License-Identifier: GPL-2.0
//! The host boundary: the only Rust code of rkmem with `unsafe`.
//!
//! Split by topic: this file (topology, host blocks, locks, debugfs,
//! shrinker, the C API entry points), [`pages`] (`struct page` semantics and
//! the metadata cache), [`percpu`] (per-CPU cells, CPU hotplug), [`fault`]
//! (fault injection points), [`memhotplug`] (the memory hotplug notifier),
//! [`mempool`] and [`slab`] (those layers' host needs).
//!
//! Everything that touches the kernel through raw pointers or C calls is
//! wrapped here in a small safe type with a documented invariant:
//! [`HostBlock`] owns pages taken from the host buddy allocator,
//! [`IrqSpinLock`] is an interrupt-safe spinlock, [`DebugfsDir`] and
//! [`Shrinker`] are registrations undone on drop, and the `rkmem_rust_*`
//! functions are the entry points C calls (debugfs, shrinker, the C API).

use core::fmt;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::lock::{Backend, Lock};

use crate::logic::bad_input::BadInput;
use crate::logic::order::BLOCK_PAGES;
use crate::logic::zonelist::ZoneType;
use crate::Rkmem;

pub(crate) mod fault;
pub(crate) mod memhotplug;
pub(crate) mod mempool;
pub(crate) mod pages;
pub(crate) mod percpu;
pub(crate) mod slab;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct RawZoneInfo {
    start_pfn: c_ulong,
    spanned_pages: c_ulong,
    present_pages: c_ulong,
    managed_pages: c_ulong,
}

extern "C" {
    fn rkmem_host_max_order() -> c_uint;
    fn rkmem_host_nr_node_ids() -> c_int;
    fn rkmem_host_node_online(nid: c_int) -> bool;
    fn rkmem_host_node_has_cpus(nid: c_int) -> bool;
    fn rkmem_host_node_distance(a: c_int, b: c_int) -> c_int;
    fn rkmem_host_zonelist_nodes(nid: c_int, out: *mut u16, max: c_int) -> c_int;
    fn rkmem_host_zone_info(nid: c_int, kind: c_int, out: *mut RawZoneInfo) -> bool;
    fn rkmem_host_node_start_pfn(nid: c_int) -> c_ulong;
    fn rkmem_host_node_end_pfn(nid: c_int) -> c_ulong;
    fn rkmem_host_node_cpulist(nid: c_int, buf: *mut c_char, len: usize) -> usize;
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
    fn rkmem_host_numa_node_id() -> c_int;
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
    fn rkmem_host_debugfs_dir(name: *const c_char) -> *mut c_void;
    fn rkmem_host_debugfs_subdir(parent: *mut c_void, name: *const c_char) -> *mut c_void;
    fn rkmem_host_slub_debug() -> *const c_char;
    fn rkmem_host_random_u64() -> u64;
    fn rkmem_host_debugfs_file(dir: *mut c_void, name: *const c_char, mode: u16, id: c_ulong);
    fn rkmem_host_debugfs_remove(dir: *mut c_void);
    fn rkmem_host_seq_write(m: *mut c_void, s: *const c_char, len: usize);
    fn rkmem_host_shrinker_register() -> *mut c_void;
    fn rkmem_host_shrinker_unregister(s: *mut c_void);
    fn rkmem_host_bad_input_ratelimit(kind: c_uint) -> bool;
    fn rkmem_host_dump_stack();
    fn rkmem_host_warn_bad_alloc(
        what: *const c_char,
        what_len: c_int,
        counter: *const c_char,
        counter_len: c_int,
        nid: c_int,
        gfp: bindings::gfp_t,
        order: c_uint,
    );
}

// ---- topology ----

/// The host's `MAX_PAGE_ORDER` (the C glue asserts it equals ours).
pub(crate) fn max_order() -> u32 {
    // SAFETY: reads a compile-time constant.
    unsafe { rkmem_host_max_order() }
}

/// `nr_node_ids`: node ids are below it.
pub(crate) fn nr_node_ids() -> usize {
    // SAFETY: reads a variable fixed at boot.
    unsafe { rkmem_host_nr_node_ids() as usize }
}

/// Whether `node` is online.
pub(crate) fn node_online(node: usize) -> bool {
    // SAFETY: `node_online` accepts any id below `nr_node_ids` (callers loop below it).
    node < nr_node_ids() && unsafe { rkmem_host_node_online(node as c_int) }
}

/// Whether `node` has CPUs (`cpumask_of_node`), for the zonelist order.
pub(crate) fn node_has_cpus(node: usize) -> bool {
    // SAFETY: `cpumask_of_node` accepts any id below `nr_node_ids`.
    node < nr_node_ids() && unsafe { rkmem_host_node_has_cpus(node as c_int) }
}

/// The nodes of the host's own fallback zonelist of `node`, in order, into
/// `out`; returns how many (0 for an id that is not a possible node).
pub(crate) fn zonelist_nodes(node: usize, out: &mut [u16]) -> usize {
    let (Ok(nid), Ok(max)) = (c_int::try_from(node), c_int::try_from(out.len())) else {
        return 0;
    };
    // SAFETY: `out` is valid for `max` writes of a `u16`; the glue checks
    // `nid` (possible, below `nr_node_ids`) and writes at most `max`.
    let n = unsafe { rkmem_host_zonelist_nodes(nid, out.as_mut_ptr(), max) };
    usize::try_from(n).unwrap_or(0).min(out.len())
}

/// `node_distance(a, b)` (the ACPI SLIT).
pub(crate) fn node_distance(a: usize, b: usize) -> u8 {
    // SAFETY: a pure lookup for any node id (ids past the SLIT get the
    // default local or remote distance, see `__node_distance`).
    unsafe { rkmem_host_node_distance(a as c_int, b as c_int) as u8 }
}

/// A populated zone of an online node, as the host sees it.
#[derive(Clone, Copy, Default)]
pub(crate) struct ZoneInfo {
    /// First pfn.
    pub(crate) start_pfn: u64,
    /// Pages spanned, holes included.
    pub(crate) spanned_pages: u64,
    /// Pages present.
    pub(crate) present_pages: u64,
    /// Pages the host buddy allocator manages.
    pub(crate) managed_pages: u64,
}

/// The host's view of (`node`, `zone`), or `None` if not populated.
pub(crate) fn zone_info(node: usize, zone: ZoneType) -> Option<ZoneInfo> {
    let mut raw = RawZoneInfo::default();
    // SAFETY: `raw` is a valid out pointer; the glue checks node and zone.
    let ok = unsafe { rkmem_host_zone_info(node as c_int, zone as c_int, &mut raw) };
    ok.then_some(ZoneInfo {
        start_pfn: raw.start_pfn as u64,
        spanned_pages: raw.spanned_pages as u64,
        present_pages: raw.present_pages as u64,
        managed_pages: raw.managed_pages as u64,
    })
}

/// `[start, end)` pfns of an online node.
pub(crate) fn node_pfn_range(node: usize) -> (u64, u64) {
    // SAFETY: reads the node's pgdat, which exists while the node is online.
    unsafe {
        (
            rkmem_host_node_start_pfn(node as c_int) as u64,
            rkmem_host_node_end_pfn(node as c_int) as u64,
        )
    }
}

/// Writes the node's CPU list ("0-1") to `out`.
pub(crate) fn write_node_cpulist(node: usize, out: &mut impl fmt::Write) -> fmt::Result {
    let mut buf = [0u8; 64];
    // SAFETY: `buf` is valid for `buf.len()` bytes; scnprintf writes at most that.
    let len = unsafe { rkmem_host_node_cpulist(node as c_int, buf.as_mut_ptr().cast(), buf.len()) };
    out.write_str(core::str::from_utf8(&buf[..len.min(buf.len())]).unwrap_or("?"))
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

// ---- debugfs ----

/// A debugfs directory, removed with everything in it on drop.
pub(crate) struct DebugfsDir {
    dentry: *mut c_void,
}

// SAFETY: debugfs dentries may be used and removed from any thread.
unsafe impl Send for DebugfsDir {}
// SAFETY: the handle has no interior mutability.
unsafe impl Sync for DebugfsDir {}

impl DebugfsDir {
    /// Creates `/sys/kernel/debug/<name>`.
    pub(crate) fn new(name: &CStr) -> Self {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        DebugfsDir {
            dentry: unsafe { rkmem_host_debugfs_dir(name.as_char_ptr()) },
        }
    }

    /// Creates `<name>` inside this directory (removed with it too: drop
    /// the child first).
    pub(crate) fn subdir(&self, name: &CStr) -> Self {
        // SAFETY: `self.dentry` is our directory (or an error pointer, which
        // debugfs accepts); `name` outlives the call.
        DebugfsDir {
            dentry: unsafe { rkmem_host_debugfs_subdir(self.dentry, name.as_char_ptr()) },
        }
    }

    /// Adds a file whose reads call [`Rkmem::show`] and writes
    /// [`Rkmem::write`] with `id`.
    pub(crate) fn file(&self, name: &CStr, mode: u16, id: usize) {
        // SAFETY: `self.dentry` is our directory (or an error pointer, which
        // debugfs accepts and ignores); `name` outlives the call.
        unsafe { rkmem_host_debugfs_file(self.dentry, name.as_char_ptr(), mode, id as c_ulong) }
    }
}

impl Drop for DebugfsDir {
    fn drop(&mut self) {
        // SAFETY: removes what `new` created; waits for open files' callbacks.
        unsafe { rkmem_host_debugfs_remove(self.dentry) }
    }
}

/// A `seq_file` being filled by a debugfs read.
pub(crate) struct SeqFile {
    m: *mut c_void,
}

impl fmt::Write for SeqFile {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // SAFETY: `m` is the seq_file of the running `show` callback.
        unsafe { rkmem_host_seq_write(self.m, s.as_ptr().cast(), s.len()) };
        Ok(())
    }
}

/// debugfs read of file `id`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_show(m: *mut c_void, id: c_ulong) -> c_int {
    let Some(state) = published() else {
        return -(bindings::ENODEV as c_int);
    };
    let mut seq = SeqFile { m };
    match state.show(id as usize, &mut seq) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// debugfs write of file `id`: `buf` holds `len` bytes plus a NUL.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_write(id: c_ulong, buf: *const c_char, len: usize) -> c_int {
    let Some(state) = published() else {
        return -(bindings::ENODEV as c_int);
    };
    // SAFETY: the glue passes a kernel copy of the user's `len` bytes.
    let bytes = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), len) };
    let Ok(text) = core::str::from_utf8(bytes) else {
        return -(bindings::EINVAL as c_int);
    };
    match state.write(id as usize, text) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

// ---- shrinker ----

/// rkmem's registration with the host's shrinker (memory pressure).
pub(crate) struct Shrinker {
    shrinker: *mut c_void,
}

// SAFETY: a registered shrinker may be freed from any thread.
unsafe impl Send for Shrinker {}
// SAFETY: the handle has no interior mutability.
unsafe impl Sync for Shrinker {}

impl Shrinker {
    /// Registers the NUMA-aware shrinker "rkmem"; its callbacks call
    /// [`Rkmem::shrink_count`] and [`Rkmem::shrink_scan`].
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: plain registration; callbacks only reach published state.
        let shrinker = unsafe { rkmem_host_shrinker_register() };
        if shrinker.is_null() {
            return Err(ENOMEM);
        }
        Ok(Shrinker { shrinker })
    }
}

impl Drop for Shrinker {
    fn drop(&mut self) {
        // SAFETY: ours; `shrinker_free` waits for running callbacks.
        unsafe { rkmem_host_shrinker_unregister(self.shrinker) }
    }
}

/// Shrinker count: pages rkmem could give back on `nid` now.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_shrink_count(nid: c_int) -> c_ulong {
    // Empty slabs count too: a scan gives them back first.
    let slab_pages = slab::slabs().map_or(0, |s| s.reclaimable_pages());
    published().map_or(0, |s| {
        (s.shrink_count(nid as usize) + slab_pages) as c_ulong
    })
}

/// Shrinker scan: give back up to `nr` pages on `nid`; returns pages freed.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_shrink_scan(nid: c_int, nr: c_ulong) -> c_ulong {
    let Some(rk) = published() else {
        return 0;
    };
    // Top down: empty slabs back to the buddy, then whole blocks back.
    if let Some(slabs) = slab::slabs() {
        slabs.shrink_all(rk, false);
    }
    rk.shrink_scan(nid as usize, nr as usize) as c_ulong
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

/// The node of the running CPU.
pub(crate) fn numa_node_id() -> usize {
    // SAFETY: a plain read; the answer may be stale once preempted, which
    // only affects placement.
    unsafe { rkmem_host_numa_node_id() as usize }
}

// ---- the C API ----

// `enum rkmem_alloc_flags` of host_glue.h (the slab and mempool layers'
// entry points decode the same bits).
pub(crate) const ALLOC_THISNODE: c_uint = 1;
pub(crate) const ALLOC_CAN_SLEEP: c_uint = 2;
pub(crate) const ALLOC_ZERO: c_uint = 4;
const ALLOC_COMP: c_uint = 8;
pub(crate) const ALLOC_NOFAIL: c_uint = 16;
pub(crate) const ALLOC_INIT: c_uint = 32;

/// A page request from the C API's decoded gfp (`None`: no such zone).
pub(crate) fn alloc_request(
    node: usize,
    highest_kind: c_int,
    gfp: bindings::gfp_t,
    flags: c_uint,
    order: u32,
) -> Option<crate::AllocRequest> {
    let zone = usize::try_from(highest_kind)
        .ok()
        .and_then(ZoneType::from_index)?;
    Some(crate::AllocRequest {
        placement: crate::logic::zonelist::Placement {
            node,
            highest_zone: zone,
            this_node: flags & ALLOC_THISNODE != 0,
        },
        order,
        gfp,
        can_sleep: flags & ALLOC_CAN_SLEEP != 0,
        zero: flags & (ALLOC_ZERO | ALLOC_INIT) != 0,
        comp: flags & ALLOC_COMP != 0,
        nofail: flags & ALLOC_NOFAIL != 0,
    })
}

/// Backs `rkmem_alloc_pages()`: 0 and `*pfn` set, or a negative errno.
/// `flags` are the `RKMEM_ALLOC_*` bits the glue decoded from `gfp`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_alloc(
    nid: c_int,
    highest_kind: c_int,
    gfp: bindings::gfp_t,
    flags: c_uint,
    order: c_uint,
    pfn: *mut c_ulong,
) -> c_int {
    let Some(state) = published() else {
        return -(bindings::ENODEV as c_int);
    };
    let Some(request) = usize::try_from(nid)
        .ok()
        .and_then(|node| alloc_request(node, highest_kind, gfp, flags, order))
    else {
        return -(bindings::EINVAL as c_int);
    };
    match state.alloc_pages_client(&request) {
        Ok(got) => {
            // SAFETY: the glue passes a valid out pointer.
            unsafe { *pfn = got as c_ulong };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// The interval of the bad-input warnings' rate limit (host_glue.c).
pub(crate) const BAD_INPUT_INTERVAL_SECS: u32 = 5;

/// Whether a warning about bad input of `kind` may be printed now: one per
/// kind per [`BAD_INPUT_INTERVAL_SECS`] (`__ratelimit`).
pub(crate) fn bad_input_ratelimit(kind: BadInput) -> bool {
    // SAFETY: the glue checks the index against its table.
    unsafe { rkmem_host_bad_input_ratelimit(kind as c_uint) }
}

/// `dump_stack()`: the stack trace of a report.
pub(crate) fn dump_stack() {
    // SAFETY: a plain call, any context.
    unsafe { rkmem_host_dump_stack() }
}

/// The warning of a refused allocation, in the host's `warn_alloc` words
/// (`mode:%#x(%pGg)`), with a stack trace.
pub(crate) fn warn_bad_alloc(kind: BadInput, nid: i32, gfp: u32, order: u32) {
    let (what, counter) = (kind.what(), kind.counter());
    // SAFETY: both strings are valid for their lengths, printed with "%.*s".
    unsafe {
        rkmem_host_warn_bad_alloc(
            what.as_ptr().cast(),
            what.len() as c_int,
            counter.as_ptr().cast(),
            counter.len() as c_int,
            nid,
            gfp,
            order,
        )
    }
}

/// Backs the C API's refusals of bad allocation input (`kind`: a
/// [`BadInput`] number the glue passes).
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_bad_alloc(
    kind: c_int,
    nid: c_int,
    gfp: bindings::gfp_t,
    order: c_uint,
) {
    let kind = usize::try_from(kind).ok().and_then(BadInput::from_index);
    if let (Some(state), Some(kind)) = (published(), kind) {
        state.refused_alloc(kind, nid, gfp, order);
    }
}

/// Backs `rkmem_free_pages()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_free(pfn: c_ulong, order: c_uint) {
    if let Some(state) = published() {
        state.free_pages(pfn as u64, order);
    }
}
