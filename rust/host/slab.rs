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

use core::arch::asm;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

use kernel::ffi::{c_char, c_int, c_ulong, c_void};
use kernel::prelude::*;

use super::percpu::ZeroValid;

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
        // SAFETY: a `struct page` of rkmem (invariant) is 8-byte aligned and
        // lives forever; its `lru`/`index`/`private` words belong to the
        // page's owner, which for slab pages is the slab layer, and every
        // access here is atomic.
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

// ------------------------------------------------------------ per-CPU slabs

/// This CPU's offset into per-CPU memory (`this_cpu_off`). With preemption
/// on the answer may be stale at once: callers only use it to pick a part,
/// which they then own through its busy flag, not through the CPU.
#[inline(always)]
fn this_cpu_offset() -> usize {
    let off: u64;
    // SAFETY: `this_cpu_off` is the host's exported per-CPU variable, read
    // %gs-relative as `raw_cpu_read` does; a plain load.
    unsafe {
        asm!("movq %gs:{v}, {o}", v = sym this_cpu_off, o = out(reg) off,
             options(att_syntax, nostack, readonly, preserves_flags))
    };
    off as usize
}

/// Adds one to a counter with a single instruction, without a lock prefix
/// (as `this_cpu_inc`): exact against interrupts on this CPU; a rare race
/// with another CPU (a task that migrated) may lose a count, which only
/// statistics use.
#[inline(always)]
pub(crate) fn count_inc(c: &AtomicU64) {
    // SAFETY: `c` is a valid, aligned 8-byte counter; the asm writes only it.
    unsafe { asm!("incq ({0})", in(reg) c.as_ptr(), options(att_syntax, nostack)) };
}

/// One CPU's part of a [`PerCpuSlab`].
#[repr(C)]
struct CpuPart<T, S> {
    /// 1 while someone owns `own` (a trylock, the host's
    /// `pcp_spin_trylock` pattern without the spinlock).
    busy: AtomicU32,
    /// The CPU this part belongs to.
    cpu: u32,
    own: UnsafeCell<T>,
    shared: S,
}

/// Per CPU, a `T` owned by whoever holds its busy flag (the CPU's own
/// allocations and frees, or a flush from process context), and an `S`
/// anyone reads (counters).
///
/// The owning CPU takes its part with one `xchg` and no interrupt or
/// preemption control: an interrupt that arrives while the part is held
/// finds it busy and does without it (the slab layer then works on the
/// node lists directly), so nothing is corrupted, nothing deadlocks, and
/// interrupts stay on. A task that is preempted or migrated while holding
/// a part keeps it exclusively until it lets go; others meanwhile do
/// without it.
///
/// Invariant: `base` is zeroed `alloc_percpu` memory of `CpuPart<T, S>` for
/// every possible CPU, each `cpu` set; a `T` is reached mutably only with
/// its busy flag taken (Acquire) and released after (Release).
pub(crate) struct PerCpuSlab<T: ZeroValid, S: ZeroValid + Sync> {
    base: *mut c_void,
    _t: PhantomData<(T, S)>,
}

// SAFETY: each `T` is used by one owner at a time (invariant); `S` is `Sync`.
unsafe impl<T: ZeroValid + Send, S: ZeroValid + Sync> Send for PerCpuSlab<T, S> {}
// SAFETY: as above.
unsafe impl<T: ZeroValid + Send, S: ZeroValid + Sync> Sync for PerCpuSlab<T, S> {}

/// A CPU that went offline and is dead (made only by the hotplug callback).
#[derive(Clone, Copy)]
pub(crate) struct DeadCpu(pub(super) usize);

impl<T: ZeroValid, S: ZeroValid + Sync> PerCpuSlab<T, S> {
    /// Zeroed parts for every possible CPU (may sleep).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: a plain zeroed per-CPU allocation of a Rust type's layout.
        let base = unsafe {
            rkmem_host_percpu_alloc_zeroed(
                core::mem::size_of::<CpuPart<T, S>>(),
                core::mem::align_of::<CpuPart<T, S>>(),
            )
        };
        if base.is_null() {
            return Err(ENOMEM);
        }
        let me = PerCpuSlab {
            base,
            _t: PhantomData,
        };
        for cpu in super::percpu::possible_cpus() {
            // SAFETY: a possible CPU's part of our new allocation; nobody
            // else sees it yet.
            unsafe { (*me.part(cpu)).cpu = cpu as u32 };
        }
        Ok(me)
    }

    /// Bytes per CPU.
    pub(crate) const BYTES_PER_CPU: usize = core::mem::size_of::<CpuPart<T, S>>();

    fn part(&self, cpu: usize) -> *mut CpuPart<T, S> {
        // SAFETY: `base` is live per-CPU memory; callers pass possible CPUs.
        unsafe { rkmem_host_percpu_ptr(self.base, cpu as c_int).cast() }
    }

    #[inline(always)]
    fn here_part(&self) -> &CpuPart<T, S> {
        let p = (self.base as usize).wrapping_add(this_cpu_offset()) as *const CpuPart<T, S>;
        // SAFETY: a CPU's part (base + its offset, as `this_cpu_ptr`),
        // alive as long as `self`; only `busy`, `cpu` and `shared` are
        // read through this shared reference (`own` is an `UnsafeCell`).
        unsafe { &*p }
    }

    /// The fast paths: `f` on this CPU's parts if its part is free now;
    /// `None` if it is held (we interrupted its owner, or a flush has it).
    /// Any context. Preemption stays on: `f` must be a few instructions on
    /// the part (pop or push; no slab changes hands), so a holder that is
    /// preempted, even migrated, lets go within them, and a part that is no
    /// longer its CPU's (it went offline) is only flushed after.
    #[inline(always)]
    pub(crate) fn fast<R>(&self, f: impl FnOnce(&mut T, &S) -> R) -> Option<R> {
        let part = self.here_part();
        if part.busy.swap(1, Ordering::Acquire) != 0 {
            return None;
        }
        // SAFETY: we hold the busy flag, so this is the only reference to
        // `own` (invariant).
        let r = f(unsafe { &mut *part.own.get() }, &part.shared);
        part.busy.store(0, Ordering::Release);
        Some(r)
    }

    /// The slow paths: `f` with this CPU's id and parts, preemption off for
    /// the whole hold (bounded work that moves slabs: never stranded on a
    /// CPU that went away, never held by a preempted task); `None` if the
    /// part is held. Any context; `f` must not sleep.
    pub(crate) fn local<R>(&self, f: impl FnOnce(usize, &mut T, &S) -> R) -> Option<R> {
        // SAFETY: paired with `rkmem_host_atomic_end` on every path below.
        unsafe { rkmem_host_atomic_begin() };
        let part = self.here_part();
        let r = if part.busy.swap(1, Ordering::Acquire) != 0 {
            None
        } else {
            // SAFETY: we hold the busy flag (invariant); preemption is off,
            // so this is our CPU's part for the whole hold.
            let r = f(
                part.cpu as usize,
                unsafe { &mut *part.own.get() },
                &part.shared,
            );
            part.busy.store(0, Ordering::Release);
            Some(r)
        };
        // SAFETY: pairs with the `rkmem_host_atomic_begin` above.
        unsafe { rkmem_host_atomic_end() };
        r
    }

    /// This CPU's id and shared part, without taking anything.
    #[inline(always)]
    pub(crate) fn here(&self) -> (usize, &S) {
        let part = self.here_part();
        (part.cpu as usize, &part.shared)
    }

    /// `cpu`'s shared part (counters), from anywhere (`None` for a CPU
    /// that is not possible).
    pub(crate) fn shared(&self, cpu: usize) -> Option<&S> {
        if !super::percpu::cpu_possible(cpu) {
            return None;
        }
        // SAFETY: a possible CPU's part; `S` is only ever shared (`Sync`);
        // the memory lives as long as `self`.
        Some(unsafe { &(*self.part(cpu)).shared })
    }

    /// `f` on `cpu`'s parts, spinning until its busy flag is free, then
    /// with preemption off for the hold. Slow-path holders run with
    /// preemption off; a fast-path holder keeps the flag a few
    /// instructions, and if it was preempted there it runs again when we
    /// are (we spin preemptible). Process context; does not sleep, so RCU
    /// readers may call it.
    pub(crate) fn with_cpu<R>(&self, cpu: usize, f: impl FnOnce(&mut T, &S) -> R) -> R {
        // SAFETY: a possible CPU's part of our allocation.
        let part = unsafe { &*self.part(cpu) };
        loop {
            // Test, then test-and-set: spin on a plain load.
            while part.busy.load(Ordering::Relaxed) != 0 {
                core::hint::spin_loop();
            }
            // SAFETY: paired with `rkmem_host_atomic_end` below; taken
            // before the flag, so we are never preempted holding it (a
            // spinner on this CPU could then wait for us forever).
            unsafe { rkmem_host_atomic_begin() };
            if part.busy.swap(1, Ordering::Acquire) == 0 {
                break;
            }
            // SAFETY: pairs with the begin above; spin preemptible.
            unsafe { rkmem_host_atomic_end() };
        }
        // SAFETY: we hold the busy flag (invariant).
        let r = f(unsafe { &mut *part.own.get() }, &part.shared);
        part.busy.store(0, Ordering::Release);
        // SAFETY: pairs with the begin that preceded the winning swap.
        unsafe { rkmem_host_atomic_end() };
        r
    }

    /// `f` on a dead CPU's parts (from its hotplug teardown).
    pub(crate) fn dead<R>(&self, cpu: DeadCpu, f: impl FnOnce(&mut T, &S) -> R) -> R {
        self.with_cpu(cpu.0, f)
    }

    /// `f` on every possible CPU's parts, one after the other, each taken
    /// as [`PerCpuSlab::with_cpu`] does (no IPIs). Process context.
    pub(crate) fn for_each_cpu(&self, mut f: impl FnMut(&mut T, &S)) {
        for cpu in super::percpu::possible_cpus() {
            self.with_cpu(cpu, |t, s| f(t, s));
        }
    }
}

impl<T: ZeroValid, S: ZeroValid + Sync> Drop for PerCpuSlab<T, S> {
    fn drop(&mut self) {
        // SAFETY: ours; `T` and `S` hold no resources of their own.
        unsafe { rkmem_host_percpu_free(self.base) }
    }
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

// ----------------------------------------------------------------- registry

/// Marks a slot taken while its entry is being built.
const RESERVED: usize = 1;

/// Entries by small id, reachable from any context without a lock (the
/// slab layer's caches: a free finds its cache from the id in the slab).
///
/// Invariant: a slot holds null, [`RESERVED`], or a pointer from
/// `KBox::into_raw` that only [`Registry::remove`] takes back, after an RCU
/// grace period. Users of an entry are either inside an RCU read-side
/// section ([`RcuRead`]: rkmem's own walks over all entries, the shrinker,
/// CPU hotplug, reports) or callers of the C API, whose contract is that
/// nothing uses a cache once `kmem_cache_destroy()` is called; rkmem's
/// debugfs files of an entry are removed before it.
pub(crate) struct Registry<T, const N: usize> {
    slots: [AtomicPtr<T>; N],
}

// SAFETY: entries are shared between threads as `&T`.
unsafe impl<T: Sync + Send, const N: usize> Sync for Registry<T, N> {}
// SAFETY: as above.
unsafe impl<T: Sync + Send, const N: usize> Send for Registry<T, N> {}

impl<T, const N: usize> Registry<T, N> {
    /// No entries.
    pub(crate) const fn new() -> Self {
        Registry {
            slots: [const { AtomicPtr::new(core::ptr::null_mut()) }; N],
        }
    }

    /// Builds an entry with its id and stores it; `EMFILE` when full.
    pub(crate) fn insert(&self, make: impl FnOnce(usize) -> Result<KBox<T>>) -> Result<usize> {
        let reserved = RESERVED as *mut T;
        let id = (0..N)
            .find(|&i| {
                self.slots[i]
                    .compare_exchange(
                        core::ptr::null_mut(),
                        reserved,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            })
            .ok_or(EMFILE)?;
        match make(id) {
            Ok(b) => {
                self.slots[id].store(KBox::into_raw(b), Ordering::Release);
                Ok(id)
            }
            Err(e) => {
                self.slots[id].store(core::ptr::null_mut(), Ordering::Release);
                Err(e)
            }
        }
    }

    /// The entry `id`.
    #[inline]
    pub(crate) fn get(&self, id: usize) -> Option<&T> {
        let p = self.slots.get(id)?.load(Ordering::Acquire);
        if p.is_null() || p as usize == RESERVED {
            return None;
        }
        // SAFETY: from `KBox::into_raw` and not yet removed (invariant).
        Some(unsafe { &*p })
    }

    /// Ids of every entry.
    pub(crate) fn ids(&self) -> impl Iterator<Item = usize> + '_ {
        (0..N).filter(|&i| self.get(i).is_some())
    }

    /// Stores `b` as entry `id`; `EBUSY` if the slot is taken.
    pub(crate) fn insert_at(&self, id: usize, b: KBox<T>) -> Result {
        let slot = self.slots.get(id).ok_or(EINVAL)?;
        let raw = KBox::into_raw(b);
        match slot.compare_exchange(
            core::ptr::null_mut(),
            raw,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => Ok(()),
            Err(_) => {
                // SAFETY: from `into_raw` just above, never published.
                drop(unsafe { KBox::from_raw(raw) });
                Err(EBUSY)
            }
        }
    }

    /// Takes entry `id` out, once every RCU reader that may have seen it
    /// is done (may sleep).
    pub(crate) fn remove(&self, id: usize) -> Option<KBox<T>> {
        let slot = self.slots.get(id)?;
        let p = slot.load(Ordering::Acquire);
        if p.is_null() || p as usize == RESERVED {
            return None;
        }
        // Exactly one remover wins the slot.
        if slot
            .compare_exchange(
                p,
                core::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return None;
        }
        // SAFETY: waits for RCU readers; callable from process context,
        // which `remove`'s callers are (destroy, unload).
        unsafe { rkmem_host_synchronize_rcu() };
        // SAFETY: from `KBox::into_raw`; the slot no longer hands it out,
        // readers that saw it are done, and C API users are gone
        // (invariant).
        Some(unsafe { KBox::from_raw(p) })
    }
}

impl<T, const N: usize> Drop for Registry<T, N> {
    fn drop(&mut self) {
        for slot in self.slots.iter() {
            let p = slot.swap(core::ptr::null_mut(), Ordering::AcqRel);
            if !p.is_null() && p as usize != RESERVED {
                // SAFETY: from `KBox::into_raw`; the registry is going away
                // (`&mut self`), so nothing can reach the entry any more.
                drop(unsafe { KBox::from_raw(p) });
            }
        }
    }
}

/// An RCU read-side section: entries of a [`Registry`] seen inside stay
/// valid until it ends. Must not sleep inside.
pub(crate) struct RcuRead(());

impl RcuRead {
    /// Enters the section.
    pub(crate) fn lock() -> Self {
        // SAFETY: paired with the unlock in `drop`.
        unsafe { rkmem_host_rcu_read_lock() };
        RcuRead(())
    }
}

impl Drop for RcuRead {
    fn drop(&mut self) {
        // SAFETY: pairs with `lock`.
        unsafe { rkmem_host_rcu_read_unlock() };
    }
}

impl<T, const N: usize> Registry<T, N> {
    /// Every entry, inside an RCU read-side section.
    pub(crate) fn for_each<'a>(&'a self, _rcu: &'a RcuRead, mut f: impl FnMut(&'a T)) {
        for slot in self.slots.iter() {
            let p = slot.load(Ordering::Acquire);
            if !p.is_null() && p as usize != RESERVED {
                // SAFETY: not removed before the RCU section ends (remove
                // waits for a grace period), from `KBox::into_raw`.
                f(unsafe { &*p })
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

const ALLOC_THISNODE: c_uint = 1;
const ALLOC_CAN_SLEEP: c_uint = 2;
const ALLOC_ZERO: c_uint = 4;
const ALLOC_NOFAIL: c_uint = 16;
const ALLOC_INIT: c_uint = 32;

/// The cache behind a C handle (the cache's address, as the host's
/// `struct kmem_cache *`), and the pages layer.
#[inline(always)]
fn cache_of(handle: *mut c_void) -> Option<(&'static crate::Rkmem, &'static Cache)> {
    Some((super::published()?, cache_ref(handle)?))
}

/// The cache behind a C handle.
#[inline(always)]
fn cache_ref(handle: *mut c_void) -> Option<&'static Cache> {
    if handle.is_null() {
        return None;
    }
    // SAFETY: the C API's contract: `handle` came from
    // `rkmem_cache_create()` (a cache in the registry, from
    // `KBox::into_raw`) and `rkmem_cache_destroy()` has not been called,
    // so the cache is alive and not moving.
    Some(unsafe { &*(handle as *const Cache) })
}

#[inline]
fn obj_req(gfp: kernel::bindings::gfp_t, flags: c_uint, nid: c_int, caller: c_ulong) -> ObjReq {
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
    let got = match slabs.kmalloc_cache(size) {
        // No DMA kmalloc classes: a small GFP_DMA/GFP_DMA32 request fails
        // rather than get memory from a zone it did not ask for.
        Some(_) if highest_kind < crate::logic::zonelist::ZoneType::Normal as c_int => None,
        Some(cache) => {
            let zero = cache.zero_for(flags & ALLOC_ZERO != 0, flags & ALLOC_INIT != 0);
            match cache.alloc_fast(usize::try_from(nid).ok(), zero) {
                Some(o) => Some(o),
                None => cache.alloc_slow(rk, &obj_req(gfp, flags, nid, caller)),
            }
        }
        None => usize::try_from(highest_kind)
            .ok()
            .and_then(crate::logic::zonelist::ZoneType::from_index)
            .and_then(|zone| {
                slabs.kmalloc_large(rk, size, zone, &obj_req(gfp, flags, nid, caller))
            }),
    };
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
