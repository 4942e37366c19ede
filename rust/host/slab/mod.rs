// SPDX-License-Identifier: GPL-2.0
//! What the slab layer needs of the host: the `struct page` fields of a
//! slab's head page, the bytes of its objects, per-CPU memory reached with
//! interrupts off, cross-CPU calls, constructors and reports.
//!
//! As SLUB does, a slab's shared state lives in its head page (the fields
//! a page's owner may use: `lru`, `index`, `private`), so a free finds its
//! slab from the object address alone and no slab needs memory of its own.
//! Pages rkmem does not own are never touched: [`SlabPage`] is only made
//! for a pfn the pages layer vouched for ([`OwnedPfn`]).

//!
//! Split by topic: [`page`] (the `struct page` fields and slab memory),
//! [`cpu`] (per-CPU slab parts), [`registry`] (caches by id, RCU); this file
//! has the reports, the published layer and the C API's entry points.

use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::ffi::{c_char, c_int, c_ulong, c_void};
use kernel::prelude::*;

use super::percpu::ZeroValid;

mod cpu;
mod page;
mod registry;

pub(crate) use cpu::{count_inc, DeadCpu, PerCpuSlab};
pub(crate) use page::{
    addr_to_pfn, init_geometry, page_to_pfn, pfn_to_addr, pfn_to_page, Ctor, OwnedPfn, SlabList,
    SlabMem, SlabPage,
};
pub(crate) use registry::{RcuRead, Registry};

extern "C" {
    fn rkmem_host_page_geometry(page_offset: *mut c_ulong, vmemmap: *mut c_ulong);
    fn rkmem_host_percpu_alloc_zeroed(size: usize, align: usize) -> *mut c_void;
    fn rkmem_host_percpu_free(base: *mut c_void);
    fn rkmem_host_percpu_ptr(base: *mut c_void, cpu: c_int) -> *mut c_void;
    fn rkmem_host_rcu_read_lock();
    fn rkmem_host_rcu_read_unlock();
    fn rkmem_host_synchronize_rcu();
    fn rkmem_host_slab_bug(cache: *const c_char, what: *const c_char, detail: *const c_char);
    fn rkmem_host_hex_dump(addr: *const c_void, len: usize);
    fn rkmem_host_print_track(
        kind: *const c_char,
        addr: c_ulong,
        cpu: c_int,
        pid: c_int,
        when: c_ulong,
    );
    fn rkmem_host_track_now(pid: *mut c_int, when: *mut c_ulong);
    fn rkmem_host_atomic_begin();
    fn rkmem_host_atomic_end();
    fn rkmem_host_init_on_free() -> bool;
    static this_cpu_off: c_ulong;
}

// ------------------------------------------------------------------ reports

/// Logs SLUB's report header for `cache`: the `BUG` line and `detail`.
pub(crate) fn slab_bug(cache: &CStr, what: &CStr, detail: &CStr) {
    // SAFETY: NUL-terminated strings that outlive the call.
    unsafe {
        rkmem_host_slab_bug(
            cache.as_char_ptr(),
            what.as_char_ptr(),
            detail.as_char_ptr(),
        )
    }
}

/// A `SLAB_STORE_USER` record: who last allocated or freed an object.
#[derive(Clone, Copy, Default)]
pub(crate) struct Track {
    /// The caller's return address.
    pub(crate) addr: u64,
    /// CPU it ran on.
    pub(crate) cpu: u64,
    /// Its pid.
    pub(crate) pid: u64,
    /// `jiffies` then.
    pub(crate) when: u64,
}

impl Track {
    /// A record of `addr` now, on `cpu`.
    pub(crate) fn now(addr: usize, cpu: usize) -> Self {
        let (mut pid, mut when) = (0, 0);
        // SAFETY: two out-pointers to locals.
        unsafe { rkmem_host_track_now(&mut pid, &mut when) };
        Track {
            addr: addr as u64,
            cpu: cpu as u64,
            pid: pid as u64,
            when: when as u64,
        }
    }

    /// Logs the record ("Allocated"/"Freed" in `%pS` age cpu pid).
    pub(crate) fn print(&self, kind: &CStr) {
        if self.addr != 0 {
            // SAFETY: plain values and a NUL-terminated string.
            unsafe {
                rkmem_host_print_track(
                    kind.as_char_ptr(),
                    self.addr as c_ulong,
                    self.cpu as c_int,
                    self.pid as c_int,
                    self.when as c_ulong,
                )
            }
        }
    }
}

/// `want_init_on_free()`: freed objects are zeroed.
pub(crate) fn init_on_free() -> bool {
    // SAFETY: reads a boot-time static key.
    unsafe { rkmem_host_init_on_free() }
}

// SAFETY: all-zero is "no slab, empty list" (`free` 0, `slab` 0, empty
// memory, empty list).
unsafe impl ZeroValid for crate::slab::CpuSlab {}
// SAFETY: atomics only.
unsafe impl ZeroValid for crate::slab::CpuStats {}

// ------------------------------------------------- the layer, for C callers

static SLABS: AtomicPtr<crate::slab::Slabs> = AtomicPtr::new(core::ptr::null_mut());

/// Owns the slab layer and makes it reachable from the C API (as
/// [`super::Published`] does for the pages layer, with the same invariant).
pub(crate) struct PublishedSlabs(*mut crate::slab::Slabs);

// SAFETY: the pointee is `Sync` and owned by this value.
unsafe impl Send for PublishedSlabs {}
// SAFETY: as above.
unsafe impl Sync for PublishedSlabs {}

impl PublishedSlabs {
    /// Publishes `slabs`.
    pub(crate) fn new(slabs: KBox<crate::slab::Slabs>) -> Self {
        let raw = KBox::into_raw(slabs);
        SLABS.store(raw, Ordering::Release);
        PublishedSlabs(raw)
    }

    /// The layer.
    pub(crate) fn get(&self) -> &crate::slab::Slabs {
        // SAFETY: from `KBox::into_raw`, alive until `drop`.
        unsafe { &*self.0 }
    }
}

impl Drop for PublishedSlabs {
    fn drop(&mut self) {
        SLABS.store(core::ptr::null_mut(), Ordering::Release);
        // SAFETY: from `KBox::into_raw`; no caller can reach it any more
        // (the module is going away: no linked client, callbacks removed).
        drop(unsafe { KBox::from_raw(self.0) });
    }
}

/// The published slab layer.
#[inline]
pub(crate) fn slabs() -> Option<&'static crate::slab::Slabs> {
    let p = SLABS.load(Ordering::Acquire);
    // SAFETY: non-null only while a `PublishedSlabs` owns it; callers are
    // C API calls and callbacks, which end before it is dropped.
    (!p.is_null()).then(|| unsafe { &*p })
}

// ------------------------------------------------------ C API entry points

use crate::slab::{Cache, ObjReq};
use kernel::ffi::c_uint;

pub(crate) use super::{ALLOC_CAN_SLEEP, ALLOC_INIT, ALLOC_NOFAIL, ALLOC_THISNODE, ALLOC_ZERO};

/// The cache behind a C handle (the cache's address, as the host's
/// `struct kmem_cache *`), and the pages layer.
#[inline(always)]
fn cache_of(handle: *mut c_void) -> Option<(&'static crate::Rkmem, &'static Cache)> {
    Some((super::published()?, cache_ref(handle)?))
}

/// The cache behind a C handle (for the mempool layer's slab pools).
pub(crate) fn cache_handle(handle: *mut c_void) -> Option<&'static Cache> {
    cache_ref(handle)
}

/// The cache behind a C handle.
#[inline(always)]
fn cache_ref(handle: *mut c_void) -> Option<&'static Cache> {
    if handle.is_null() {
        return None;
    }
    // The C API's contract: `handle` came from `rkmem_cache_create()` (a
    // registry entry, from `KBox::into_raw`) and was not destroyed yet.
    // SAFETY: so the cache is alive and does not move.
    Some(unsafe { &*(handle as *const Cache) })
}

/// An object request from the C API's decoded gfp.
#[inline]
pub(crate) fn obj_req(
    gfp: kernel::bindings::gfp_t,
    flags: c_uint,
    nid: c_int,
    caller: c_ulong,
) -> ObjReq {
    ObjReq {
        gfp,
        node: usize::try_from(nid).ok(),
        this_node: flags & ALLOC_THISNODE != 0,
        can_sleep: flags & ALLOC_CAN_SLEEP != 0,
        zero: flags & ALLOC_ZERO != 0,
        init: flags & ALLOC_INIT != 0,
        nofail: flags & ALLOC_NOFAIL != 0,
        caller: caller as usize,
    }
}

/// Backs `rkmem_cache_create()`: the cache's handle (id + 1), or NULL.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_cache_create(
    name: *const c_char,
    size: c_uint,
    align: c_uint,
    flags: c_uint,
    ctor: *const c_void,
) -> *mut c_void {
    let Some(slabs) = slabs() else {
        return core::ptr::null_mut();
    };
    if name.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: the C API takes a NUL-terminated name.
    let name = unsafe { CStr::from_char_ptr(name) };
    match slabs.create(
        name.as_bytes(),
        size as usize,
        align as usize,
        flags,
        Ctor::from_raw(ctor),
    ) {
        Ok(id) => slabs
            .caches
            .get(id)
            .map_or(core::ptr::null_mut(), |c| c as *const Cache as *mut c_void),
        Err(_) => core::ptr::null_mut(),
    }
}

/// Backs `rkmem_cache_alloc{,_node}()`.
#[no_mangle]
#[inline(never)]
pub(crate) extern "C" fn rkmem_rust_cache_alloc(
    cache: *mut c_void,
    gfp: kernel::bindings::gfp_t,
    flags: c_uint,
    nid: c_int,
    caller: c_ulong,
) -> *mut c_void {
    let Some(c) = cache_ref(cache) else {
        return core::ptr::null_mut();
    };
    let zero = c.zero_for(flags & ALLOC_ZERO != 0, flags & ALLOC_INIT != 0);
    if let Some(o) = c.alloc_fast(usize::try_from(nid).ok(), zero) {
        return o as *mut c_void;
    }
    let Some(rk) = super::published() else {
        return core::ptr::null_mut();
    };
    c.alloc_slow(rk, &obj_req(gfp, flags, nid, caller))
        .map_or(core::ptr::null_mut(), |o| o as *mut c_void)
}

/// Backs `rkmem_cache_free()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_cache_free(
    cache: *mut c_void,
    obj: *mut c_void,
    caller: c_ulong,
) {
    let Some(c) = cache_ref(cache) else {
        return;
    };
    let fast = c.free_fast(obj as usize);
    if !fast.done() {
        if let Some(rk) = super::published() {
            c.free_rest(rk, obj as usize, caller as usize, fast);
        }
    }
}

/// `nr` object slots at `p`, from the C API's caller.
fn slots<'a>(p: *mut *mut c_void, nr: usize) -> Option<&'a mut [usize]> {
    if p.is_null() || nr == 0 || nr > isize::MAX as usize / 8 {
        return None;
    }
    // SAFETY: the C API's contract: `p` points to `nr` pointers the caller
    // owns for the call; a pointer and a `usize` have the same layout.
    Some(unsafe { core::slice::from_raw_parts_mut(p.cast::<usize>(), nr) })
}

/// Backs `rkmem_cache_alloc_bulk()`: `nr` or 0.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_cache_alloc_bulk(
    cache: *mut c_void,
    gfp: kernel::bindings::gfp_t,
    flags: c_uint,
    nr: usize,
    p: *mut *mut c_void,
    caller: c_ulong,
) -> c_int {
    let (Some((rk, c)), Some(out)) = (cache_of(cache), slots(p, nr)) else {
        return 0;
    };
    if c.alloc_bulk(rk, &obj_req(gfp, flags, -1, caller), out) {
        nr as c_int
    } else {
        0
    }
}

/// Backs `rkmem_cache_free_bulk()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_cache_free_bulk(
    cache: *mut c_void,
    nr: usize,
    p: *mut *mut c_void,
    caller: c_ulong,
) {
    if let (Some((rk, c)), Some(objs)) = (cache_of(cache), slots(p, nr)) {
        c.free_bulk(rk, objs, caller as usize);
    }
}

/// Backs `rkmem_cache_shrink()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_cache_shrink(cache: *mut c_void) {
    if let Some((rk, c)) = cache_of(cache) {
        c.shrink(rk, true);
    }
}

/// Backs `rkmem_cache_destroy()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_cache_destroy(cache: *mut c_void) {
    if let (Some((rk, c)), Some(slabs)) = (cache_of(cache), slabs()) {
        slabs.destroy(rk, c.id);
    }
}

/// Backs `rkmem_kmalloc{,_node}()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_kmalloc(
    size: usize,
    gfp: kernel::bindings::gfp_t,
    flags: c_uint,
    highest_kind: c_int,
    nid: c_int,
    caller: c_ulong,
) -> *mut c_void {
    let (Some(rk), Some(slabs)) = (super::published(), slabs()) else {
        return core::ptr::null_mut();
    };
    let got = slabs.kmalloc(rk, size, highest_kind, &obj_req(gfp, flags, nid, caller));
    got.map_or(core::ptr::null_mut(), |o| o as *mut c_void)
}

/// Backs `rkmem_kfree()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_kfree(obj: *const c_void, caller: c_ulong) {
    if let (Some(rk), Some(slabs)) = (super::published(), slabs()) {
        slabs.kfree(rk, obj as usize, caller as usize);
    }
}

/// Backs `rkmem_ksize()`.
#[no_mangle]
pub(crate) extern "C" fn rkmem_rust_ksize(obj: *const c_void) -> usize {
    match (super::published(), slabs()) {
        (Some(rk), Some(slabs)) => slabs.ksize(rk, obj as usize),
        _ => 0,
    }
}
