// SPDX-License-Identifier: GPL-2.0
//! The host's `struct page` as rkmem's callers see it, and the cache that
//! holds rkmem's block metadata.
//!
//! rkmem hands out pages the way `alloc_pages_node` does: one reference on
//! the first page, compound on `__GFP_COMP`, zeroed on `__GFP_ZERO` or
//! `init_on_alloc`; and takes them back as `__free_pages` does (the last
//! reference frees). These wrappers touch only pages of chunks rkmem owns.

use core::ops::{Deref, DerefMut};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use kernel::prelude::*;

extern "C" {
    fn rkmem_host_page_prep(pfn: c_ulong, order: c_uint, zero: bool, comp: bool);
    fn rkmem_host_compound_order(pfn: c_ulong) -> c_int;
    fn rkmem_host_page_put_chunk(pfn: c_ulong, order: c_uint) -> c_int;
    fn rkmem_host_cache_create(name: *const c_char, size: usize, align: usize) -> *mut c_void;
    fn rkmem_host_cache_destroy(cache: *mut c_void);
    fn rkmem_host_cache_alloc(cache: *mut c_void, reclaim: bindings::gfp_t) -> *mut c_void;
    fn rkmem_host_cache_free(cache: *mut c_void, obj: *mut c_void);
    fn rkmem_host_cache_size(cache: *mut c_void) -> usize;
}

/// `GFP_KERNEL`, for rkmem's own requests (knobs, tests).
pub(crate) const GFP_KERNEL: u32 = bindings::GFP_KERNEL;
/// `GFP_ATOMIC`, for the test triggers' atomic requests.
pub(crate) const GFP_ATOMIC: u32 = bindings::GFP_ATOMIC;
/// `GFP_NOWAIT`, for rkmem's own requests that must not sleep.
pub(crate) const GFP_NOWAIT: u32 = bindings::GFP_NOWAIT;
/// `__GFP_NOWARN`: a refused request logs nothing.
pub(crate) const GFP_NOWARN: u32 = bindings::__GFP_NOWARN;

/// Prepares a chunk rkmem is handing out: its first page gets the caller's
/// reference; `comp` makes it a compound page; `zero` clears it.
/// `pfn` must start a free chunk of `order` that rkmem owns.
pub(crate) fn prep_chunk(pfn: u64, order: u32, zero: bool, comp: bool) {
    // SAFETY: the caller owns the chunk: nobody else reads or writes these
    // `struct page`s or their memory now.
    unsafe { rkmem_host_page_prep(pfn as c_ulong, order, zero, comp) }
}

/// The order of the compound page headed by `pfn` (`None` if it heads
/// none). `pfn` is in a block rkmem owns.
pub(crate) fn compound_order(pfn: u64) -> Option<u32> {
    // SAFETY: reads the flags and order of a `struct page` rkmem owns.
    let order = unsafe { rkmem_host_compound_order(pfn as c_ulong) };
    u32::try_from(order).ok()
}

/// What a caller's free did to a chunk's first page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Put {
    /// The last reference: rkmem owns the chunk again (compound page
    /// undone, zeroed if `init_on_free`).
    Last,
    /// Others still hold references; nothing else to do.
    Referenced,
    /// The count was already 0 (a double free); nothing changed.
    AlreadyFree,
    /// A tail page, or a compound page of another order; nothing changed.
    WrongOrder,
}

/// A caller's free of the chunk of `order` at `pfn`, as `__free_pages`:
/// drops one reference unless it is already 0.
pub(crate) fn put_chunk(pfn: u64, order: u32) -> Put {
    // SAFETY: `pfn` starts a chunk in a block rkmem owns; the glue changes
    // its `struct page`s only when this free drops the last reference, and
    // then nobody else may touch them.
    match unsafe { rkmem_host_page_put_chunk(pfn as c_ulong, order) } {
        0 => Put::Last,
        1 => Put::Referenced,
        2 => Put::AlreadyFree,
        _ => Put::WrongOrder,
    }
}

// ---- the block metadata cache ----

static META_CACHE: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
/// Size and alignment of `META_CACHE`'s objects (a `CacheBox<T>` checks its
/// `T` fits them).
static META_SIZE: AtomicUsize = AtomicUsize::new(0);
static META_ALIGN: AtomicUsize = AtomicUsize::new(0);

/// A `kmem_cache` sized to `T`, the one cache of block metadata.
///
/// Invariant: while a `MetaCache` exists, `META_CACHE` points to the cache
/// it created; every [`CacheBox`] is freed before it is dropped (the module
/// drops it after its state).
pub(crate) struct MetaCache<T> {
    cache: *mut c_void,
    _t: core::marker::PhantomData<T>,
}

// SAFETY: a kmem_cache may be used and destroyed from any thread.
unsafe impl<T> Send for MetaCache<T> {}
// SAFETY: as above; the handle has no interior mutability.
unsafe impl<T> Sync for MetaCache<T> {}

impl<T> MetaCache<T> {
    /// Creates the cache `name`.
    pub(crate) fn new(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a static NUL-terminated string (the slab keeps it).
        let cache = unsafe {
            rkmem_host_cache_create(
                name.as_char_ptr(),
                core::mem::size_of::<T>(),
                core::mem::align_of::<T>(),
            )
        };
        if cache.is_null() {
            return Err(ENOMEM);
        }
        META_SIZE.store(core::mem::size_of::<T>(), Ordering::Relaxed);
        META_ALIGN.store(core::mem::align_of::<T>(), Ordering::Relaxed);
        META_CACHE.store(cache, Ordering::Release);
        Ok(MetaCache {
            cache,
            _t: core::marker::PhantomData,
        })
    }

    /// Bytes one object really takes in the cache.
    pub(crate) fn object_size(&self) -> usize {
        // SAFETY: our live cache.
        unsafe { rkmem_host_cache_size(self.cache) }
    }
}

impl<T> Drop for MetaCache<T> {
    fn drop(&mut self) {
        META_CACHE.store(ptr::null_mut(), Ordering::Release);
        // SAFETY: ours, and by the invariant every object is back.
        unsafe { rkmem_host_cache_destroy(self.cache) }
    }
}

/// One object of the metadata cache holding a `T`, freed on drop.
pub(crate) struct CacheBox<T> {
    obj: NonNull<T>,
}

// SAFETY: owns its `T` exclusively, like a `KBox`.
unsafe impl<T: Send> Send for CacheBox<T> {}
// SAFETY: shared access only hands out `&T`.
unsafe impl<T: Sync> Sync for CacheBox<T> {}

impl<T> CacheBox<T> {
    /// Allocates from the metadata cache with the caller's reclaim bits
    /// (`gfp`), then moves `value` in.
    pub(crate) fn new(value: T, gfp: u32) -> Result<Self> {
        let cache = META_CACHE.load(Ordering::Acquire);
        if cache.is_null() {
            return Err(ENODEV);
        }
        // The cache was made for one type: a `T` must fit its objects.
        if core::mem::size_of::<T>() > META_SIZE.load(Ordering::Relaxed)
            || META_ALIGN.load(Ordering::Relaxed) % core::mem::align_of::<T>() != 0
        {
            return Err(EINVAL);
        }
        // SAFETY: a live cache whose objects hold a `T` (checked above).
        let obj = unsafe { rkmem_host_cache_alloc(cache, gfp) }.cast::<T>();
        let obj = NonNull::new(obj).ok_or(ENOMEM)?;
        // SAFETY: a fresh object, valid for writes of a `T`.
        unsafe { obj.as_ptr().write(value) };
        Ok(CacheBox { obj })
    }
}

impl<T> Deref for CacheBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: initialised in `new`, owned until drop.
        unsafe { self.obj.as_ref() }
    }
}

impl<T> DerefMut for CacheBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` is exclusive.
        unsafe { self.obj.as_mut() }
    }
}

impl<T> Drop for CacheBox<T> {
    fn drop(&mut self) {
        // SAFETY: the object holds a valid `T`, dropped once here; the cache
        // outlives every object (`MetaCache` invariant).
        unsafe {
            ptr::drop_in_place(self.obj.as_ptr());
            rkmem_host_cache_free(META_CACHE.load(Ordering::Acquire), self.obj.as_ptr().cast());
        }
    }
}
