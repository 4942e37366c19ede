// SPDX-License-Identifier: GPL-2.0
//! A slab's head page and memory: the `struct page` words the slab layer
//! owns (SLUB's `struct slab` overlay), slab lists through them, the bytes
//! of objects, and constructors.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::ffi::c_void;

use super::{rkmem_host_hex_dump, rkmem_host_page_geometry};

/// Size of `struct page` (checked by the glue at build time).
const STRUCT_PAGE: usize = 64;
/// `lru.next` (`compound_head` in tail pages): our list link.
const OFF_NEXT: usize = 8;
/// `lru.prev`: our list link back.
const OFF_PREV: usize = 16;
/// `index`: the slab's packed state.
const OFF_STATE: usize = 32;
/// `private`: the owning cache's id.
const OFF_OWNER: usize = 40;

const PAGE_SHIFT: u32 = 12;

/// The direct map and the page array, read once at load (they are fixed
/// after boot, randomized or not).
static GEOMETRY: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Reads the direct map's base and `vmemmap` (at module load).
pub(crate) fn init_geometry() {
    let (mut po, mut vm) = (0, 0);
    // SAFETY: two out-pointers to locals.
    unsafe { rkmem_host_page_geometry(&mut po, &mut vm) };
    GEOMETRY[0].store(po as u64, Ordering::Relaxed);
    GEOMETRY[1].store(vm as u64, Ordering::Relaxed);
}

/// The pfn of a direct-map address (`None` below the direct map). Whether
/// rkmem owns it is for the pages layer to say.
#[inline]
pub(crate) fn addr_to_pfn(addr: usize) -> Option<u64> {
    let base = GEOMETRY[0].load(Ordering::Relaxed) as usize;
    addr.checked_sub(base).map(|off| (off >> PAGE_SHIFT) as u64)
}

/// The direct-map address of `pfn`.
#[inline]
pub(crate) fn pfn_to_addr(pfn: u64) -> usize {
    GEOMETRY[0].load(Ordering::Relaxed) as usize + ((pfn as usize) << PAGE_SHIFT)
}

/// The address of `pfn`'s `struct page` (`pfn_to_page`, vmemmap).
#[inline]
pub(crate) fn pfn_to_page(pfn: u64) -> usize {
    GEOMETRY[1].load(Ordering::Relaxed) as usize + pfn as usize * STRUCT_PAGE
}

/// The pfn of a `struct page` address (`page_to_pfn`); whether rkmem owns
/// it is for the pages layer to say.
#[inline]
pub(crate) fn page_to_pfn(page: usize) -> u64 {
    (page.wrapping_sub(GEOMETRY[1].load(Ordering::Relaxed) as usize) / STRUCT_PAGE) as u64
}

/// A pfn inside one of rkmem's blocks, as the pages layer confirmed it
/// (made only by `Rkmem::owned_pfn`): its `struct page` exists and is never
/// the host's to use while rkmem holds the block.
#[derive(Clone, Copy)]
pub(crate) struct OwnedPfn(u64);

impl OwnedPfn {
    /// Vouches for `pfn`. Only the pages layer calls this, after its block
    /// map said the pfn is in a block rkmem holds.
    pub(crate) fn vouched(pfn: u64) -> Self {
        OwnedPfn(pfn)
    }
}

/// The `struct page` of a pfn of rkmem, seen through the fields the slab
/// layer uses. A `SlabPage` of a page that is not (or no longer) a slab is
/// harmless: its fields are only read atomically, and only written by the
/// slab layer on chunks it allocated.
///
/// Invariant: `0` is the address of the `struct page` of an [`OwnedPfn`];
/// the page array is never freed (no memory hot-remove of rkmem's blocks),
/// so the fields stay readable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct SlabPage(usize);

impl SlabPage {
    /// The page of `pfn`.
    #[inline]
    pub(crate) fn of(pfn: OwnedPfn) -> Self {
        SlabPage(GEOMETRY[1].load(Ordering::Relaxed) as usize + pfn.0 as usize * STRUCT_PAGE)
    }

    /// The page from a raw link value read from a list field (0: none).
    fn from_link(link: u64) -> Option<Self> {
        (link != 0).then_some(SlabPage(link as usize))
    }

    #[inline]
    fn field(&self, off: usize) -> &AtomicU64 {
        // The `lru`/`index`/`private` words belong to the page's owner,
        // which for slab pages is the slab layer; every access is atomic.
        // SAFETY: a `struct page` of rkmem (invariant): 8-byte aligned, lives forever.
        unsafe { &*((self.0 + off) as *const AtomicU64) }
    }

    /// The pfn of the head page if this is a compound tail (else its
    /// own): as `compound_head()`, a tail's first word after `flags` is the
    /// head's address with bit 0 set. Not trusted: the caller checks the
    /// head is rkmem's before making a `SlabPage` of it.
    #[inline]
    pub(crate) fn head_pfn(self) -> u64 {
        let w = self.field(OFF_NEXT).load(Ordering::Acquire);
        if w & 1 != 0 {
            let vmemmap = GEOMETRY[1].load(Ordering::Relaxed);
            ((w - 1).wrapping_sub(vmemmap) / STRUCT_PAGE as u64) as u64
        } else {
            self.pfn()
        }
    }

    /// The value kept in per-CPU state for this page ([`SlabPage::from_stored`]).
    pub(crate) fn stored(&self) -> usize {
        self.0
    }

    /// The page [`SlabPage::stored`] gave (0: none). Only values it gave
    /// may be passed.
    pub(crate) fn from_stored(v: usize) -> Option<Self> {
        (v != 0).then_some(SlabPage(v))
    }

    /// The pfn of this page.
    #[inline]
    pub(crate) fn pfn(&self) -> u64 {
        ((self.0 - GEOMETRY[1].load(Ordering::Relaxed) as usize) / STRUCT_PAGE) as u64
    }

    /// The slab's packed state word (`SlabState`).
    #[inline]
    pub(crate) fn state(&self) -> &AtomicU64 {
        self.field(OFF_STATE)
    }

    /// The owning cache's id + 1 (0: none).
    #[inline]
    pub(crate) fn owner(&self) -> &AtomicU64 {
        self.field(OFF_OWNER)
    }

    /// Next slab on the list this one is on.
    pub(crate) fn next(&self) -> Option<SlabPage> {
        Self::from_link(self.field(OFF_NEXT).load(Ordering::Relaxed))
    }

    fn set_next(&self, n: Option<SlabPage>) {
        self.field(OFF_NEXT)
            .store(n.map_or(0, |p| p.0 as u64), Ordering::Relaxed)
    }

    fn prev(&self) -> Option<SlabPage> {
        Self::from_link(self.field(OFF_PREV).load(Ordering::Relaxed))
    }

    fn set_prev(&self, p: Option<SlabPage>) {
        self.field(OFF_PREV)
            .store(p.map_or(0, |p| p.0 as u64), Ordering::Relaxed)
    }

    /// Clears every field the slab layer used: the page goes back to the
    /// pages layer as it came (`lru`, `index`, `private` zero).
    pub(crate) fn clear(&self) {
        for off in [OFF_NEXT, OFF_PREV, OFF_STATE, OFF_OWNER] {
            self.field(off).store(0, Ordering::Release);
        }
    }

    /// The slab's memory, `PAGE_SIZE << order` bytes. The caller allocated
    /// this chunk for a slab and has not freed it.
    pub(crate) fn mem(&self, order: u32) -> SlabMem {
        SlabMem {
            addr: pfn_to_addr(self.pfn()),
            bytes: 4096 << order,
        }
    }
}

/// A doubly linked list of slabs through their head pages' `lru` words
/// (SLUB's `slab_list`). The list's owner (a node lock, or a CPU with
/// interrupts off) serialises every use; a slab is on one list at most.
/// All-zero is the empty list (per-CPU memory starts zeroed).
#[derive(Default)]
pub(crate) struct SlabList {
    first: u64,
    last: u64,
    len: usize,
}

impl SlabList {
    /// Slabs on the list.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds `s` at the head (cache-hot slabs are reused first).
    pub(crate) fn push_front(&mut self, s: SlabPage) {
        let first = SlabPage::from_link(self.first);
        s.set_prev(None);
        s.set_next(first);
        match first {
            Some(f) => f.set_prev(Some(s)),
            None => self.last = s.0 as u64,
        }
        self.first = s.0 as u64;
        self.len += 1;
    }

    /// The first slab.
    pub(crate) fn first(&self) -> Option<SlabPage> {
        SlabPage::from_link(self.first)
    }

    /// Takes the first slab.
    pub(crate) fn pop_front(&mut self) -> Option<SlabPage> {
        let s = SlabPage::from_link(self.first)?;
        self.remove(s);
        Some(s)
    }

    /// Takes `s` off the list (it must be on this one).
    pub(crate) fn remove(&mut self, s: SlabPage) {
        let (p, n) = (s.prev(), s.next());
        match p {
            Some(p) => p.set_next(n),
            None => self.first = n.map_or(0, |n| n.0 as u64),
        }
        match n {
            Some(n) => n.set_prev(p),
            None => self.last = p.map_or(0, |p| p.0 as u64),
        }
        s.set_next(None);
        s.set_prev(None);
        self.len = self.len.saturating_sub(1);
    }

    /// The slabs, first to last (the list must not change meanwhile).
    pub(crate) fn iter(&self) -> impl Iterator<Item = SlabPage> + '_ {
        let mut cur = SlabPage::from_link(self.first);
        core::iter::from_fn(move || {
            let s = cur?;
            cur = s.next();
            Some(s)
        })
    }
}

/// The bytes of one slab. Made only by [`SlabPage::mem`] for a chunk the
/// slab layer holds (or empty, the default); every access is
/// bounds-checked (out of range: reads 0, writes nothing) and volatile,
/// since users write their objects at will.
#[derive(Clone, Copy, Default)]
pub(crate) struct SlabMem {
    addr: usize,
    bytes: usize,
}

impl SlabMem {
    /// The slab's first byte.
    #[inline]
    pub(crate) fn addr(&self) -> usize {
        self.addr
    }

    #[inline]
    fn ok(&self, off: usize, len: usize) -> bool {
        off <= self.bytes && len <= self.bytes - off
    }

    /// The word at `off`.
    #[inline]
    pub(crate) fn read_word(&self, off: usize) -> u64 {
        if !self.ok(off, 8) || off % 8 != 0 {
            return 0;
        }
        // SAFETY: in bounds of the slab's memory (checked), aligned.
        unsafe { core::ptr::read_volatile((self.addr + off) as *const u64) }
    }

    /// Stores `v` at `off`.
    #[inline]
    pub(crate) fn write_word(&self, off: usize, v: u64) {
        if !self.ok(off, 8) || off % 8 != 0 {
            return;
        }
        // SAFETY: as `read_word`; the slab layer writes only free objects
        // and their metadata, which no user holds.
        unsafe { core::ptr::write_volatile((self.addr + off) as *mut u64, v) }
    }

    /// Fills `len` bytes at `off` with `byte`.
    pub(crate) fn fill(&self, off: usize, len: usize, byte: u8) {
        if self.ok(off, len) {
            // SAFETY: in bounds (checked); bytes the slab layer owns now.
            unsafe { core::ptr::write_bytes((self.addr + off) as *mut u8, byte, len) }
        }
    }

    /// The first byte in `off..off + len` that is not `byte`, as (offset,
    /// value found).
    pub(crate) fn first_mismatch(&self, off: usize, len: usize, byte: u8) -> Option<(usize, u8)> {
        if !self.ok(off, len) {
            return None;
        }
        (off..off + len).find_map(|o| {
            // SAFETY: in bounds (checked above).
            let b = unsafe { core::ptr::read_volatile((self.addr + o) as *const u8) };
            (b != byte).then_some((o, b))
        })
    }

    /// Runs a cache's constructor on the object at `off` (a new slab's).
    pub(crate) fn construct(&self, ctor: Ctor, off: usize) {
        if self.ok(off, 1) {
            // SAFETY: `ctor` is the function the cache's creator gave, called
            // as `ctor(void *object)` on an object of its cache.
            unsafe { (ctor.0)((self.addr + off) as *mut c_void) }
        }
    }

    /// Logs `len` bytes at `off` as a hex dump (SLUB's `print_section`).
    pub(crate) fn hex_dump(&self, off: usize, len: usize) {
        let off = off.min(self.bytes);
        let len = len.min(self.bytes - off);
        // SAFETY: in bounds of the slab (clamped above).
        unsafe { rkmem_host_hex_dump((self.addr + off) as *const c_void, len) }
    }
}

/// A cache's constructor, as the C API received it.
#[derive(Clone, Copy)]
pub(crate) struct Ctor(unsafe extern "C" fn(*mut c_void));

impl Ctor {
    /// The constructor at `f` (`None` for NULL). The C API's contract: a
    /// function taking the object pointer.
    pub(crate) fn from_raw(f: *const c_void) -> Option<Self> {
        if f.is_null() {
            None
        } else {
            // SAFETY: a non-NULL function pointer of type `void (*)(void *)`,
            // per `rkmem_cache_create()`'s contract.
            Some(Ctor(unsafe {
                core::mem::transmute::<*const c_void, unsafe extern "C" fn(*mut c_void)>(f)
            }))
        }
    }
}
