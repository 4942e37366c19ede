// SPDX-License-Identifier: GPL-2.0
//! Fault injection with the kernel's framework (`include/linux/fault-inject.h`).
//!
//! `rust/fault_glue.c` owns one `struct fault_attr` per [`FaultKind`] and
//! shows it as `/sys/kernel/debug/rkmem/fail_<kind>/` (`probability`,
//! `interval`, `times`, `space`, `verbose`, `task-filter`, ... and
//! `ignore-gfp-wait`), as `fail_page_alloc` and `failslab` do. The hooks
//! call [`should_fail`], which reads the attribute's `probability` first:
//! while it is 0 (the default, and always without `CONFIG_FAULT_INJECTION`)
//! a hook costs one load and a compare, and makes no call. Every injected
//! failure is counted per kind ([`injected`], shown in `zoneinfo`).

use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering::Relaxed};

use kernel::bindings;
use kernel::ffi::{c_int, c_uint, c_ulong, c_void};

use super::DebugfsDir;

/// Where rkmem can be made to fail (`enum rkmem_fault_kind` of host_glue.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// `fail_grow`: taking a block from the host (the page source).
    Grow = 0,
    /// `fail_page`: a client's page allocation (the C API, the `test` knob).
    Page = 1,
    /// `fail_slab`: the pages of a new slab.
    Slab = 2,
    /// `fail_mempool_backing`: a mempool's backing allocation.
    Mempool = 3,
}

/// Number of kinds.
pub(crate) const KINDS: usize = 4;

impl FaultKind {
    /// Every kind, in `zoneinfo`'s order.
    pub(crate) const ALL: [FaultKind; KINDS] = [
        FaultKind::Grow,
        FaultKind::Page,
        FaultKind::Slab,
        FaultKind::Mempool,
    ];

    /// The `zoneinfo` row of its count.
    pub(crate) fn stat_name(self) -> &'static str {
        match self {
            FaultKind::Grow => "injected_grow",
            FaultKind::Page => "injected_page",
            FaultKind::Slab => "injected_slab",
            FaultKind::Mempool => "injected_mempool",
        }
    }
}

extern "C" {
    fn rkmem_host_fault_init(parent: *mut c_void);
    fn rkmem_host_fault_probability(kind: c_int) -> *mut c_ulong;
    fn rkmem_host_should_fail(kind: c_int, size: usize, can_sleep: bool) -> bool;
    fn rkmem_host_gfp_flags(gfp: bindings::gfp_t) -> c_uint;
}

/// Each kind's `attr.probability`, while the attributes are registered
/// (null before and after, and without `CONFIG_FAULT_INJECTION`).
static PROBABILITY: [AtomicPtr<c_ulong>; KINDS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; KINDS];

/// Failures injected, per kind, since the module was loaded.
static INJECTED: [AtomicU64; KINDS] = [const { AtomicU64::new(0) }; KINDS];

/// The `fail_*` directories, armed while this lives. Dropping it disarms
/// every hook (unload: teardown then runs without injection); the files go
/// with rkmem's debugfs directory.
pub(crate) struct FaultAttrs(());

impl FaultAttrs {
    /// Creates `fail_grow`, `fail_page`, `fail_slab`, `fail_mempool_backing`
    /// in `dir` and arms the hooks.
    pub(crate) fn register(dir: &DebugfsDir) -> Self {
        // SAFETY: `dir.dentry` is rkmem's directory (or an error pointer,
        // which debugfs accepts); the attributes are static in the module.
        unsafe { rkmem_host_fault_init(dir.dentry) };
        for kind in FaultKind::ALL {
            // SAFETY: a plain lookup of a static's address (or NULL).
            let p = unsafe { rkmem_host_fault_probability(kind as c_int) };
            PROBABILITY[kind as usize].store(p, Relaxed);
        }
        FaultAttrs(())
    }
}

impl Drop for FaultAttrs {
    fn drop(&mut self) {
        for p in PROBABILITY.iter() {
            p.store(ptr::null_mut(), Relaxed);
        }
    }
}

/// Whether `kind`'s attribute may inject now (its `probability` is not 0):
/// one load and a compare, no call.
#[inline(always)]
fn armed(kind: FaultKind) -> bool {
    let p = PROBABILITY[kind as usize].load(Relaxed);
    // SAFETY: a non-null `p` points to the attribute's `unsigned long
    // probability`, a static of this module, aligned as a u64 and only ever
    // written whole (by debugfs); it lives as long as the module.
    !p.is_null() && unsafe { AtomicU64::from_ptr(p.cast::<u64>()) }.load(Relaxed) != 0
}

/// Whether to fail this request of `kind` now (and count it if so):
/// `size` is what `space` is spent in (pages for grow, page and slab, one per
/// mempool element); `can_sleep`: the request may sleep (`ignore-gfp-wait`
/// spares it). The caller leaves out `__GFP_NOFAIL` requests, as the host.
#[inline(always)]
pub(crate) fn should_fail(kind: FaultKind, size: usize, can_sleep: bool) -> bool {
    armed(kind) && inject(kind, size, can_sleep)
}

#[cold]
#[inline(never)]
fn inject(kind: FaultKind, size: usize, can_sleep: bool) -> bool {
    // SAFETY: a plain call; `should_fail` may run in any context.
    let fail = unsafe { rkmem_host_should_fail(kind as c_int, size, can_sleep) };
    if fail {
        INJECTED[kind as usize].fetch_add(1, Relaxed);
    }
    fail
}

/// [`should_fail`] for a request known by its gfp only (a host block):
/// `__GFP_NOFAIL` is never failed, `__GFP_DIRECT_RECLAIM` may sleep.
pub(crate) fn should_fail_gfp(kind: FaultKind, size: usize, gfp: bindings::gfp_t) -> bool {
    if !armed(kind) {
        return false;
    }
    // SAFETY: a plain computation on a gfp mask.
    let flags = unsafe { rkmem_host_gfp_flags(gfp) };
    flags & super::ALLOC_NOFAIL == 0 && inject(kind, size, flags & super::ALLOC_CAN_SLEEP != 0)
}

/// Failures injected so far at `kind`.
pub(crate) fn injected(kind: FaultKind) -> u64 {
    INJECTED[kind as usize].load(Relaxed)
}
