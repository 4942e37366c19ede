// SPDX-License-Identifier: GPL-2.0
//! Object caches in SLUB's design (`mm/slub.c`) on rkmem's own pages.
//!
//! A slab is a chunk of rkmem's buddy (orders 0..3, through the per-CPU
//! page lists) whose head page holds the slab's state: one word with the
//! head of the slab's free list, the objects not on it and where the slab
//! is ([`SlabState`], changed by compare-and-swap as SLUB's
//! `freelist`/`counters` pair), the owning cache and the list links.
//!
//! - Each CPU has an active slab whose free list it owns outright: the
//!   fast paths pop and push there with interrupts off on that CPU and no
//!   shared lock ([`PerCpuSlab::fast`]).
//! - Frees into any other slab push onto that slab's own list with a
//!   compare-and-swap. A free into a full slab takes it onto the freeing
//!   CPU's partial list (`put_cpu_partial`); too many there go to their
//!   node's partial list.
//! - Per node, partial slabs under the node's lock, with `min_partial`
//!   empty slabs kept and the rest given back to the buddy.
//! - Debug caches (red zones, poisoning, user tracking, consistency
//!   checks) take the node lock for every operation, as SLUB's do, and
//!   check everything ([`Cache::debug_alloc`], [`Cache::debug_free`]).
//!
//! Calls go down only: this layer allocates and frees pages through
//! [`Rkmem`]; the pages layer never calls up.

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::c_str;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::CString;
use kernel::sync::Mutex;

use crate::host::percpu::{self, cpu_node};
use crate::host::slab::{
    count_inc, slab_bug, Ctor, DeadCpu, PerCpuSlab, RcuRead, Registry, SlabList, SlabMem, SlabPage,
    Track,
};
use crate::host::IrqSpinLock;
use crate::logic::order::{order_for_bytes, BLOCK_PAGES};
use crate::logic::slab::{
    class_align, class_size, cpu_partial_objects, cpu_partial_slabs, decode, encode,
    index_by_reciprocal, kmalloc_class, min_partial, objects_per_slab, reciprocal, unfreeze_place,
    Corrupt, FreeSlots, FreeTransition, NodePartial, ObjectLayout, Place, SlabFlags, SlabFreelist,
    SlabState, KMALLOC_CLASSES, TRACK_SIZE,
};
use crate::logic::zonelist::{Placement, ZoneType};
use crate::{AllocRequest, Rkmem};

mod caches;
mod debug;

use caches::rk_slabs;
pub(crate) use caches::{Slabs, TestCache};

/// Most caches at once (the kmalloc classes included).
pub(crate) const MAX_CACHES: usize = 256;
/// Longest cache name kept.
const NAME_MAX: usize = 31;

/// The host's `SLAB_*` bits the API takes (`include/linux/slab.h`).
pub(crate) mod flags {
    /// `SLAB_CONSISTENCY_CHECKS`.
    pub(crate) const CONSISTENCY_CHECKS: u32 = 1 << 0;
    /// `SLAB_RED_ZONE`.
    pub(crate) const RED_ZONE: u32 = 1 << 1;
    /// `SLAB_POISON`.
    pub(crate) const POISON: u32 = 1 << 2;
    /// `SLAB_HWCACHE_ALIGN`.
    pub(crate) const HWCACHE_ALIGN: u32 = 1 << 4;
    /// `SLAB_CACHE_DMA`, `SLAB_CACHE_DMA32`: refused.
    pub(crate) const CACHE_DMA: u32 = (1 << 5) | (1 << 6);
    /// `SLAB_STORE_USER`.
    pub(crate) const STORE_USER: u32 = 1 << 7;
    /// `SLAB_PANIC` (the glue panics).
    pub(crate) const PANIC: u32 = 1 << 8;
    /// `SLAB_TYPESAFE_BY_RCU`: refused (slabs are freed at once).
    pub(crate) const TYPESAFE_BY_RCU: u32 = 1 << 9;
    /// `SLAB_NO_MERGE`, `SLAB_ACCOUNT`, `SLAB_RECLAIM_ACCOUNT`: accepted,
    /// no effect (rkmem never merges caches and has no memcg).
    pub(crate) const NO_EFFECT: u32 = (1 << 13) | (1 << 15) | (1 << 20);
    /// The debug flags (`SLAB_DEBUG_FLAGS`).
    pub(crate) const DEBUG: u32 = CONSISTENCY_CHECKS | RED_ZONE | POISON | STORE_USER;
}

// SLUB's patterns (`include/linux/poison.h`).
const POISON_FREE: u8 = 0x6b;
const POISON_END: u8 = 0xa5;
const RED_INACTIVE: u8 = 0xbb;
const RED_ACTIVE: u8 = 0xcc;

// ------------------------------------------------------------------ stats

/// SLUB's statistics (`enum stat_item`), counted per CPU.
#[derive(Clone, Copy)]
pub(crate) enum Stat {
    AllocFastpath,
    AllocSlowpath,
    FreeFastpath,
    FreeSlowpath,
    FreeFrozen,
    FreeAddPartial,
    FreeRemovePartial,
    AllocFromPartial,
    AllocSlab,
    AllocRefill,
    AllocNodeMismatch,
    FreeSlab,
    CpuslabFlush,
    DeactivateFull,
    DeactivateEmpty,
    DeactivateRemoteFrees,
    CpuPartialAlloc,
    CpuPartialFree,
    CpuPartialNode,
    CpuPartialDrain,
}

/// Statistics, with the file names SLUB uses in `/sys/kernel/slab/<cache>/`.
pub(crate) const STATS: [(Stat, &CStr); NR_STATS] = [
    (Stat::AllocFastpath, c_str!("alloc_fastpath")),
    (Stat::AllocSlowpath, c_str!("alloc_slowpath")),
    (Stat::FreeFastpath, c_str!("free_fastpath")),
    (Stat::FreeSlowpath, c_str!("free_slowpath")),
    (Stat::FreeFrozen, c_str!("free_frozen")),
    (Stat::FreeAddPartial, c_str!("free_add_partial")),
    (Stat::FreeRemovePartial, c_str!("free_remove_partial")),
    (Stat::AllocFromPartial, c_str!("alloc_from_partial")),
    (Stat::AllocSlab, c_str!("alloc_slab")),
    (Stat::AllocRefill, c_str!("alloc_refill")),
    (Stat::AllocNodeMismatch, c_str!("alloc_node_mismatch")),
    (Stat::FreeSlab, c_str!("free_slab")),
    (Stat::CpuslabFlush, c_str!("cpuslab_flush")),
    (Stat::DeactivateFull, c_str!("deactivate_full")),
    (Stat::DeactivateEmpty, c_str!("deactivate_empty")),
    (
        Stat::DeactivateRemoteFrees,
        c_str!("deactivate_remote_frees"),
    ),
    (Stat::CpuPartialAlloc, c_str!("cpu_partial_alloc")),
    (Stat::CpuPartialFree, c_str!("cpu_partial_free")),
    (Stat::CpuPartialNode, c_str!("cpu_partial_node")),
    (Stat::CpuPartialDrain, c_str!("cpu_partial_drain")),
];
/// Number of statistics.
pub(crate) const NR_STATS: usize = 20;

/// One CPU's counters: written by that CPU only (a plain load and store,
/// no locked instruction), read by anyone.
pub(crate) struct CpuStats {
    counters: [AtomicU64; NR_STATS],
    /// Slabs the CPU holds (active + partial), published after each slow
    /// path.
    slabs: AtomicU64,
}

impl CpuStats {
    fn publish(&self, c: &CpuSlab) {
        let n = c.active().is_some() as u64 + c.partial.len() as u64;
        self.slabs.store(n, Ordering::Relaxed);
    }

    #[inline]
    fn inc(&self, s: Stat) {
        self.add(s, 1)
    }

    #[inline]
    fn add(&self, s: Stat, n: u64) {
        let c = &self.counters[s as usize];
        if n == 1 {
            count_inc(c);
        } else {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn get(&self, s: Stat) -> u64 {
        self.counters[s as usize].load(Ordering::Relaxed)
    }
}

// ---------------------------------------------------------- per-CPU slab

/// One CPU's state for one cache (SLUB's `kmem_cache_cpu`): its active
/// slab with the free list it owns, and its partial slabs. All-zero is
/// "no slab".
#[derive(Default)]
pub(crate) struct CpuSlab {
    /// First object of this CPU's list, + 1 (0: empty).
    free: u32,
    /// The active slab's head page, as stored (0: none).
    slab: usize,
    /// The active slab's memory (empty: none).
    mem: SlabMem,
    /// The active slab's node.
    node: u32,
    /// Partial slabs this CPU took (frees into full slabs).
    partial: SlabList,
}

impl CpuSlab {
    fn active(&self) -> Option<SlabPage> {
        SlabPage::from_stored(self.slab)
    }
}

/// A node's slabs of one cache (SLUB's `kmem_cache_node`).
struct NodeLists {
    partial: SlabList,
    /// Full slabs of a debug cache (SLUB keeps them for validation).
    full: SlabList,
    counts: NodePartial,
}

struct NodeSlabs {
    lists: Pin<KBox<IrqSpinLock<NodeLists>>>,
    nr_slabs: AtomicU64,
    total_objects: AtomicU64,
}

/// What one allocation asks, decoded by the C API.
pub(crate) struct ObjReq {
    pub(crate) gfp: u32,
    /// Node asked (`None`: any, local first).
    pub(crate) node: Option<usize>,
    pub(crate) this_node: bool,
    pub(crate) can_sleep: bool,
    /// `__GFP_ZERO`.
    pub(crate) zero: bool,
    /// `init_on_alloc` (without `__GFP_ZERO`): zero unless the cache has a
    /// constructor or poisons (`slab_want_init_on_alloc`).
    pub(crate) init: bool,
    pub(crate) nofail: bool,
    /// The caller's return address (`SLAB_STORE_USER`).
    pub(crate) caller: usize,
}

/// The result of the last `validate`.
#[derive(Default)]
struct ValidateResult {
    slabs: AtomicU64,
    objects: AtomicU64,
    errors: AtomicU64,
}

/// One object cache (SLUB's `struct kmem_cache`).
pub(crate) struct Cache {
    pub(crate) id: usize,
    pub(crate) name: CString,
    pub(crate) layout: ObjectLayout,
    /// Slab order and objects per slab.
    pub(crate) order: u32,
    pub(crate) nr: u16,
    /// Secret mixed into stored free pointers.
    random: u64,
    /// Bytes of a slab's objects (`nr * size`), and `ceil(2^32 / size)`:
    /// for offsets below 32 KiB, `off * recip >> 32 == off / size`.
    span: usize,
    recip: usize,
    ctor: Option<Ctor>,
    /// Every operation under the node lock, with checks.
    pub(crate) debug: bool,
    consistency: bool,
    init_on_free: bool,
    pub(crate) min_partial: AtomicU32,
    /// `cpu_partial` in objects, and the slab count it makes.
    pub(crate) cpu_partial: AtomicU32,
    cpu_partial_slabs: AtomicU32,
    cpu: PerCpuSlab<CpuSlab, CpuStats>,
    nodes: KVec<NodeSlabs>,
    pub(crate) corruptions: AtomicU64,
    /// Destroyed with live objects: kept, and reported.
    pub(crate) orphaned: AtomicBool,
    validated: ValidateResult,
    /// Each kind of report once per cache.
    warned: [AtomicBool; NR_REPORTS],
}

/// Kinds of reports (see [`Report`]).
const NR_REPORTS: usize = 9;

/// What a check found.
#[derive(Clone, Copy)]
enum Report {
    RightRedzone,
    LeftRedzone,
    Poison,
    AlreadyFree,
    InvalidPointer,
    WrongCache,
    FreepointerCorrupt,
    NotOwned,
    NotSlab,
}

impl Report {
    fn what(self) -> &'static CStr {
        match self {
            Report::RightRedzone => c_str!("Right Redzone overwritten"),
            Report::LeftRedzone => c_str!("Left Redzone overwritten"),
            Report::Poison => c_str!("Poison overwritten"),
            Report::AlreadyFree => c_str!("Object already free"),
            Report::InvalidPointer => c_str!("Invalid object pointer"),
            Report::WrongCache => c_str!("Wrong slab cache, object is from another cache"),
            Report::FreepointerCorrupt => c_str!("Freepointer corrupt"),
            Report::NotOwned => c_str!("Free of memory rkmem does not own"),
            Report::NotSlab => c_str!("Free of an rkmem page that is no slab object"),
        }
    }
}

/// The free-pointer words of one slab, for [`SlabFreelist`].
struct Slots<'a> {
    mem: SlabMem,
    layout: &'a ObjectLayout,
}

impl FreeSlots for Slots<'_> {
    fn read(&self, obj: u16) -> u64 {
        self.mem
            .read_word(self.layout.obj_offset(obj) + self.layout.offset)
    }
    fn write(&mut self, obj: u16, raw: u64) {
        self.mem
            .write_word(self.layout.obj_offset(obj) + self.layout.offset, raw)
    }
    fn slot_addr(&self, obj: u16) -> u64 {
        (self.mem.addr() + self.layout.obj_offset(obj) + self.layout.offset) as u64
    }
}

/// What the free fast path did (`None`: the CPU's part was held).
#[derive(Clone, Copy)]
pub(crate) struct FreeFast(Option<Pushed>);

impl FreeFast {
    /// The object is on the CPU's list: nothing left to do.
    #[inline(always)]
    pub(crate) fn done(self) -> bool {
        self.0 == Some(Pushed::Done)
    }
}

/// What the free fast path did.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pushed {
    /// On the CPU's list.
    Done,
    /// The object the CPU freed last: a double free.
    Again,
    /// Not an object of the CPU's active slab.
    NotActive,
}

/// A slab found from an object address.
struct Located {
    slab: SlabPage,
    mem: SlabMem,
    node: usize,
    idx: u16,
}

/// The head page of the chunk holding `obj` and its owner word, if rkmem
/// owns it (any rkmem page: whether it is a slab is for the caller to
/// check). A tail's head is trusted only if rkmem owns it too and it is
/// within a slab's reach (order 3).
#[inline(always)]
fn slab_page_of(rk: &Rkmem, obj: usize) -> Option<(SlabPage, u64)> {
    let pfn = crate::host::slab::addr_to_pfn(obj)?;
    let page = SlabPage::of(rk.owns(pfn)?);
    let head = page.head_pfn();
    let page = if head == pfn {
        page
    } else {
        // A chunk never crosses a block: a head in the same block is
        // rkmem's too.
        if head > pfn
            || pfn - head >= 1 << MAX_SLAB_ORDER
            || head / BLOCK_PAGES as u64 != pfn / BLOCK_PAGES as u64
        {
            return None;
        }
        SlabPage::of(rk.owns(head)?)
    };
    let owner = page.owner().load(Ordering::Acquire);
    Some((page, owner))
}

/// Largest slab order (and large kmalloc chunks start at their head).
const MAX_SLAB_ORDER: u32 = 3;

/// Slab owner word: cache id + 1, and the node above bit 32.
fn owner_word(id: usize, node: usize) -> u64 {
    (id as u64 + 1) | (node as u64) << 32
}

fn owner_of(word: u64) -> Option<(usize, usize)> {
    let id = (word & 0xffff_ffff) as usize;
    (id != 0).then(|| (id - 1, (word >> 32) as usize))
}

impl Cache {
    /// A cache for the C API or the kmalloc classes (may sleep).
    fn new(
        id: usize,
        name: &[u8],
        size: usize,
        align: usize,
        bits: u32,
        ctor: Option<Ctor>,
        nr_nodes: usize,
        random: u64,
    ) -> Result<KBox<Self>> {
        if bits & (flags::CACHE_DMA | flags::TYPESAFE_BY_RCU) != 0 {
            return Err(EINVAL);
        }
        let known = flags::DEBUG | flags::HWCACHE_ALIGN | flags::PANIC | flags::NO_EFFECT;
        if bits & !known != 0 {
            return Err(EINVAL);
        }
        let layout_bits = bits & SlabFlags::KNOWN;
        let layout = ObjectLayout::new(
            size,
            align,
            SlabFlags::from_bits(layout_bits).ok_or(EINVAL)?,
            ctor.is_some(),
        )
        .map_err(|_| EINVAL)?;
        let nr_cpus = percpu::possible_cpus().count() as u32;
        let order = layout.order(nr_cpus).ok_or(EINVAL)?;
        if order > 3 {
            return Err(EINVAL);
        }
        let nr = objects_per_slab(order, layout.size) as u16;
        if nr == 0 {
            return Err(EINVAL);
        }
        let debug = bits & flags::DEBUG != 0;
        let cpu_partial = if debug {
            0
        } else {
            cpu_partial_objects(layout.size)
        };
        let mut nodes = KVec::new();
        for _ in 0..nr_nodes {
            nodes.push(
                NodeSlabs {
                    lists: KBox::pin_init(
                        crate::new_irq_spinlock!(
                            NodeLists {
                                partial: SlabList::default(),
                                full: SlabList::default(),
                                counts: NodePartial::new(min_partial(layout.size)),
                            },
                            "rkmem_slab_node"
                        ),
                        GFP_KERNEL,
                    )?,
                    nr_slabs: AtomicU64::new(0),
                    total_objects: AtomicU64::new(0),
                },
                GFP_KERNEL,
            )?;
        }
        let shown = &name[..name.len().min(NAME_MAX)];
        let name = CString::try_from_fmt(format_args!("{}", BStrDisplay(shown)))?;
        Ok(KBox::new(
            Cache {
                id,
                name,
                layout,
                order,
                nr,
                random,
                span: nr as usize * layout.size,
                recip: reciprocal(layout.size),
                ctor,
                debug,
                consistency: bits & flags::CONSISTENCY_CHECKS != 0,
                init_on_free: crate::host::slab::init_on_free() && ctor.is_none() && !debug,
                min_partial: AtomicU32::new(min_partial(layout.size)),
                cpu_partial: AtomicU32::new(cpu_partial),
                cpu_partial_slabs: AtomicU32::new(cpu_partial_slabs(cpu_partial, nr as usize)),
                cpu: PerCpuSlab::new()?,
                nodes,
                corruptions: AtomicU64::new(0),
                orphaned: AtomicBool::new(false),
                validated: ValidateResult::default(),
                warned: [const { AtomicBool::new(false) }; NR_REPORTS],
            },
            GFP_KERNEL,
        )?)
    }

    /// Metadata bytes of this cache: itself, its per-CPU and per-node parts
    /// (slabs need none: their state lives in their head pages).
    pub(crate) fn meta_bytes(&self) -> usize {
        core::mem::size_of::<Self>()
            + PerCpuSlab::<CpuSlab, CpuStats>::BYTES_PER_CPU * percpu::possible_cpus().count()
            + self.nodes.len()
                * (core::mem::size_of::<NodeSlabs>()
                    + core::mem::size_of::<IrqSpinLock<NodeLists>>())
    }

    /// Whether an object for `req` is zeroed.
    #[inline(always)]
    fn want_zero(&self, req: &ObjReq) -> bool {
        self.zero_for(req.zero, req.init)
    }

    /// Whether `__GFP_ZERO` (`zero`) or `init_on_alloc` (`init`) zero an
    /// object of this cache.
    #[inline(always)]
    pub(crate) fn zero_for(&self, zero: bool, init: bool) -> bool {
        zero || (init && self.ctor.is_none() && !self.layout.poison_object)
    }

    /// Counts `s` on this CPU.
    fn count(&self, s: Stat) {
        self.cpu.here().1.inc(s);
    }

    // ---------------------------------------------------------- reports

    /// Reports a finding once per kind (SLUB's `slab_bug` + details) and
    /// counts it always.
    fn report(
        &self,
        kind: Report,
        mem: Option<(SlabMem, usize)>,
        detail: core::fmt::Arguments<'_>,
    ) {
        self.corruptions.fetch_add(1, Ordering::Relaxed);
        if self.warned[kind as usize].swap(true, Ordering::Relaxed) {
            return;
        }
        let mut buf = StackStr::<160>::new();
        let _ = buf.write_fmt(detail);
        slab_bug(&self.name, kind.what(), buf.as_cstr());
        if let Some((mem, off)) = mem {
            let start = off.saturating_sub(16) & !15;
            mem.hex_dump(start, 16 + self.layout.size.min(128) + 16);
            if let Some(t) = self.layout.track_offset() {
                let obj = self.obj_start(off);
                self.read_track(&mem, obj + t).print(c_str!("Allocated"));
                self.read_track(&mem, obj + t + TRACK_SIZE)
                    .print(c_str!("Freed"));
            }
        }
    }

    /// The object start of the stride holding byte `off` of a slab.
    fn obj_start(&self, off: usize) -> usize {
        let rel = off.saturating_sub(self.layout.red_left_pad);
        (rel / self.layout.size) * self.layout.size + self.layout.red_left_pad
    }

    fn read_track(&self, mem: &SlabMem, off: usize) -> Track {
        Track {
            addr: mem.read_word(off),
            cpu: mem.read_word(off + 8),
            pid: mem.read_word(off + 16),
            when: mem.read_word(off + 24),
        }
    }

    fn write_track(&self, mem: &SlabMem, obj_off: usize, free: bool, caller: usize, cpu: usize) {
        if let Some(t) = self.layout.track_offset() {
            let off = obj_off + t + if free { TRACK_SIZE } else { 0 };
            let t = Track::now(caller, cpu);
            mem.write_word(off, t.addr);
            mem.write_word(off + 8, t.cpu);
            mem.write_word(off + 16, t.pid);
            mem.write_word(off + 24, t.when);
        }
    }

    // ------------------------------------------------------------ slabs

    /// A new slab from rkmem's pages, its objects linked in address order
    /// (and constructed): `state` is its initial state. Interrupts as the
    /// caller's gfp allows.
    fn new_slab(
        &self,
        rk: &Rkmem,
        req: &ObjReq,
        local: usize,
        state: SlabState,
    ) -> Option<(SlabPage, usize)> {
        let node = req.node.unwrap_or(local);
        let pages = AllocRequest {
            placement: Placement {
                node,
                highest_zone: ZoneType::Normal,
                this_node: req.this_node,
            },
            order: self.order,
            gfp: req.gfp,
            can_sleep: req.can_sleep,
            zero: false,
            comp: self.order > 0,
            nofail: req.nofail,
        };
        // `fail_slab`: as if rkmem had no pages for it.
        if !req.nofail
            && crate::host::fault::should_fail(
                crate::host::fault::FaultKind::Slab,
                crate::logic::order::pages(self.order),
                req.can_sleep,
            )
        {
            return None;
        }
        let pfn = rk.alloc_pages(&pages).ok()?;
        let (owned, landed) = rk.owned_pfn(pfn)?;
        let slab = SlabPage::of(owned);
        let mem = slab.mem(self.order);
        let mut slots = Slots {
            mem,
            layout: &self.layout,
        };
        for i in 0..self.nr {
            let off = self.layout.obj_offset(i);
            if self.debug {
                self.init_debug_object(&mem, off);
            }
            if let Some(ctor) = self.ctor {
                mem.construct(ctor, off);
            }
        }
        // Links after the constructor ran: a ctor may use the whole object.
        SlabFreelist::init(&mut slots, self.nr, self.random)?;
        slab.owner()
            .store(owner_word(self.id, landed), Ordering::Relaxed);
        slab.state().store(state.pack(), Ordering::Release);
        let n = &self.nodes[landed.min(self.nodes.len() - 1)];
        n.nr_slabs.fetch_add(1, Ordering::Relaxed);
        n.total_objects.fetch_add(self.nr as u64, Ordering::Relaxed);
        Some((slab, landed))
    }

    /// Gives an empty slab (already off every list) back to the buddy.
    fn discard(&self, rk: &Rkmem, slab: SlabPage, st: Option<&CpuStats>) {
        let node = owner_of(slab.owner().load(Ordering::Relaxed)).map_or(0, |(_, n)| n);
        let n = &self.nodes[node.min(self.nodes.len() - 1)];
        n.nr_slabs.fetch_sub(1, Ordering::Relaxed);
        n.total_objects.fetch_sub(self.nr as u64, Ordering::Relaxed);
        let pfn = slab.pfn();
        slab.clear();
        rk.free_pages(pfn, self.order);
        if let Some(st) = st {
            st.inc(Stat::FreeSlab);
        }
    }

    /// Finds the slab of `obj` from its address alone; reports and `None`
    /// if it is not an object of this cache.
    fn locate(&self, rk: &Rkmem, obj: usize) -> Option<Located> {
        let Some((slab, owner)) = slab_page_of(rk, obj) else {
            self.report(Report::NotOwned, None, format_args!("object {:#x}", obj));
            return None;
        };
        let state = SlabState::unpack(slab.state().load(Ordering::Acquire));
        let Some((id, node)) = owner_of(owner).filter(|_| state.is_some()) else {
            self.report(Report::NotSlab, None, format_args!("object {:#x}", obj));
            return None;
        };
        if id != self.id {
            // The other cache may be destroyed meanwhile: read its name
            // inside an RCU section.
            let rcu = RcuRead::lock();
            let other = rk_slabs().and_then(|s| s.caches.get(id));
            let mut name = [0u8; 32];
            let n = other.map_or(0, |c| {
                let b = c.name.as_bytes();
                let n = b.len().min(31);
                name[..n].copy_from_slice(&b[..n]);
                n
            });
            drop(rcu);
            self.report(
                Report::WrongCache,
                None,
                format_args!("object {:#x} is from {}", obj, BStrDisplay(&name[..n])),
            );
            return None;
        }
        let mem = slab.mem(self.order);
        let off = obj.wrapping_sub(mem.addr());
        match self.index_of(off) {
            Ok(idx) => Some(Located {
                slab,
                mem,
                node,
                idx,
            }),
            Err(_) => {
                self.report(
                    Report::InvalidPointer,
                    Some((mem, off)),
                    format_args!("object {:#x} @offset={} is no object start", obj, off),
                );
                None
            }
        }
    }

    /// The object starting at byte `off` of a slab (no divide).
    #[inline]
    fn index_of(&self, off: usize) -> core::result::Result<u16, ()> {
        let rel = off.wrapping_sub(self.layout.red_left_pad);
        if rel >= self.span {
            return Err(());
        }
        let idx = index_by_reciprocal(rel, self.recip);
        if idx * self.layout.size != rel {
            return Err(());
        }
        Ok(idx as u16)
    }

    fn node(&self, node: usize) -> &NodeSlabs {
        &self.nodes[node.min(self.nodes.len() - 1)]
    }

    // ------------------------------------------------------------ alloc

    /// Allocates one object (`kmem_cache_alloc_node`).
    #[inline(always)]
    pub(crate) fn alloc(&self, rk: &Rkmem, req: &ObjReq) -> Option<usize> {
        self.alloc_fast(req.node, self.want_zero(req))
            .or_else(|| self.alloc_slow(rk, req))
    }

    /// The allocation fast path alone (what the C entry point tries
    /// before it decodes anything else): `None` means the slow path.
    #[inline(always)]
    pub(crate) fn alloc_fast(&self, node: Option<usize>, zero: bool) -> Option<usize> {
        if !self.debug {
            let want = node.map_or(u32::MAX, |n| n as u32);
            let got = self.cpu.fast(|c, st| {
                if want != u32::MAX && c.node != want {
                    return None;
                }
                // A pointer that does not decode: the slow path reports it.
                let off = self.pop_cpu_list(c)?.ok()?;
                st.inc(Stat::AllocFastpath);
                Some((c.mem, off))
            });
            if let Some((mem, off)) = got.flatten() {
                if zero {
                    mem.fill(off, self.layout.object_size, 0);
                }
                return Some(mem.addr() + off);
            }
        }
        None
    }

    /// Pops the next object of the CPU's list; a corrupt pointer is
    /// reported and the rest of the list dropped (those objects count as
    /// in use forever: never handed out, their slab never freed).
    fn pop_local(&self, c: &mut CpuSlab) -> Option<usize> {
        match self.pop_cpu_list(c)? {
            Ok(off) => Some(off),
            Err(raw) => {
                let off = self.layout.obj_offset((c.free - 1) as u16);
                self.report(
                    Report::FreepointerCorrupt,
                    Some((c.mem, off)),
                    format_args!("object {:#x}: free pointer {:#x}", c.mem.addr() + off, raw),
                );
                c.free = 0;
                None
            }
        }
    }

    /// The free pointer of object `idx` of the slab at `mem`, decoded: the
    /// next free object, or the raw word if it does not decode (then it is
    /// never followed).
    #[inline(always)]
    fn next_free(&self, mem: &SlabMem, idx: u16) -> core::result::Result<Option<u16>, u64> {
        let slot = self.layout.obj_offset(idx) + self.layout.offset;
        let raw = mem.read_word(slot);
        decode(raw, (mem.addr() + slot) as u64, self.random, self.nr).map_err(|_| raw)
    }

    /// Pops the head of the CPU's list without reporting: the object's
    /// offset, or the word that does not decode (the list left as it was);
    /// `None` if the list is empty.
    #[inline(always)]
    fn pop_cpu_list(&self, c: &mut CpuSlab) -> Option<core::result::Result<usize, u64>> {
        let idx = c.free.checked_sub(1)? as u16;
        Some(self.next_free(&c.mem, idx).map(|next| {
            c.free = next.map_or(0, |n| n as u32 + 1);
            self.layout.obj_offset(idx)
        }))
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn alloc_slow(&self, rk: &Rkmem, req: &ObjReq) -> Option<usize> {
        if self.debug {
            return self.debug_alloc(rk, req);
        }
        let mut spare: Option<(SlabPage, usize)> = None;
        let mut first = true;
        let got = loop {
            let r = self.cpu.local(|cpu, c, st| {
                if core::mem::take(&mut first) {
                    st.inc(Stat::AllocSlowpath);
                }
                let local = cpu_node(cpu);
                let mut r = self.refill_local(rk, c, st, req, local).ok_or(local);
                if r.is_err() {
                    if let Some((slab, node)) = spare.take() {
                        self.install(c, slab, node, None);
                        st.inc(Stat::AllocSlab);
                        r = self.pop_local(c).map(|off| (c.mem, off)).ok_or(local);
                    }
                }
                st.publish(c);
                r
            });
            match r {
                Some(Ok(off)) => break Some(off),
                Some(Err(local)) => {
                    // A new slab, as the caller's gfp allows (perhaps
                    // asleep); installed when we hold the part again (or,
                    // if the CPU found objects meanwhile, parked).
                    spare = Some(self.new_slab(rk, req, local, SlabState::new_active(self.nr))?);
                }
                // The part is held: we interrupted its owner (or a flush
                // has it). Work on the node lists directly.
                None => break None,
            }
        };
        if let Some((slab, node)) = spare {
            self.park_spare(rk, slab, node);
        }
        let Some((mem, off)) = got else {
            return self.alloc_nocpu(rk, req);
        };
        if self.want_zero(req) {
            mem.fill(off, self.layout.object_size, 0);
        }
        Some(mem.addr() + off)
    }

    /// Finds an object for this CPU without a new slab: the active slab's
    /// remote frees, the CPU's partial slabs, the node's partial list.
    fn refill_local(
        &self,
        rk: &Rkmem,
        c: &mut CpuSlab,
        st: &CpuStats,
        req: &ObjReq,
        local: usize,
    ) -> Option<(SlabMem, usize)> {
        let want = req.node;
        if let Some(slab) = c.active() {
            if want.is_some_and(|n| n as u32 != c.node) {
                st.inc(Stat::AllocNodeMismatch);
                self.deactivate(rk, c, st);
            } else {
                if let Some(off) = self.pop_local(c) {
                    return Some((c.mem, off));
                }
                // The CPU's own list is empty: take the slab's (remote
                // frees), or give up the full slab.
                let word = slab.state();
                let mut old = word.load(Ordering::Acquire);
                loop {
                    let Some(s) = SlabState::unpack(old) else {
                        break;
                    };
                    let new = if s.head.is_some() {
                        s.take_all(self.nr).0
                    } else {
                        SlabState {
                            place: Place::Full,
                            ..s
                        }
                    };
                    match word.compare_exchange(
                        old,
                        new.pack(),
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            if let Some(h) = s.head {
                                c.free = h as u32 + 1;
                                st.inc(Stat::AllocRefill);
                                if let Some(off) = self.pop_local(c) {
                                    return Some((c.mem, off));
                                }
                            } else {
                                st.inc(Stat::DeactivateFull);
                            }
                            break;
                        }
                        Err(now) => old = now,
                    }
                }
                self.forget_active(c);
            }
        }
        // The CPU's partial slabs (any node when none was asked).
        while let Some(slab) = c.partial.pop_front() {
            let node = owner_of(slab.owner().load(Ordering::Relaxed)).map_or(0, |(_, n)| n);
            if want.is_some_and(|n| n != node) {
                // Not for this request: to its node's list.
                self.unfreeze(rk, slab, node, None, Some(st));
                continue;
            }
            if let Some(head) = self.take_slab(slab) {
                self.install(c, slab, node, head);
                st.inc(Stat::CpuPartialAlloc);
                if let Some(off) = self.pop_local(c) {
                    return Some((c.mem, off));
                }
                // A corrupt list: give the slab up (what was good of it
                // goes back) before trying the next.
                self.deactivate(rk, c, st);
            }
        }
        // The nodes' partial lists: the one asked, or local first, then by
        // distance unless __GFP_THISNODE.
        let first = want.unwrap_or(local);
        for node in rk.node_order(first) {
            if node != first && (req.this_node && want.is_some()) {
                break;
            }
            let n = self.node(node);
            let taken = {
                // Taken off the list and out of `Node` in one hold, so a
                // free emptying it never looks for it on the list.
                let mut l = n.lists.lock();
                let slab = l.partial.pop_front();
                if slab.is_some() {
                    l.counts.remove();
                }
                slab.map(|slab| (slab, self.take_slab(slab)))
            };
            if let Some((slab, head)) = taken {
                if let Some(head) = head {
                    self.install(c, slab, node, head);
                    st.inc(Stat::AllocFromPartial);
                    if let Some(off) = self.pop_local(c) {
                        return Some((c.mem, off));
                    }
                    self.deactivate(rk, c, st);
                }
            }
        }
        None
    }

    /// Takes a listed slab's whole free list for a CPU (its place becomes
    /// `Cpu`); `None` (and the slab is left full) if it has none.
    fn take_slab(&self, slab: SlabPage) -> Option<Option<u16>> {
        let word = slab.state();
        let mut old = word.load(Ordering::Acquire);
        loop {
            let s = SlabState::unpack(old)?;
            let (new, head) = s.take_all(self.nr);
            let new = if head.is_none() {
                SlabState {
                    place: Place::Full,
                    ..s
                }
            } else {
                new
            };
            match word.compare_exchange(old, new.pack(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return head.map(Some),
                Err(now) => old = now,
            }
        }
    }

    /// Makes `slab` this CPU's active slab with list `head` (a new slab's
    /// list starts at object 0).
    fn install(&self, c: &mut CpuSlab, slab: SlabPage, node: usize, head: Option<u16>) {
        c.slab = slab.stored();
        c.mem = slab.mem(self.order);
        c.node = node as u32;
        c.free = head.map_or(1, |h| h as u32 + 1);
    }

    fn forget_active(&self, c: &mut CpuSlab) {
        c.slab = 0;
        c.free = 0;
        c.mem = SlabMem::default();
    }

    /// A new slab that was not needed after all: its objects go to its
    /// node like a deactivated slab's.
    fn park_spare(&self, rk: &Rkmem, slab: SlabPage, node: usize) {
        let mut c = CpuSlab::default();
        self.install(&mut c, slab, node, None);
        self.deactivate(rk, &mut c, self.cpu.here().1);
    }

    /// An allocation that cannot have its CPU's part (it interrupted the
    /// part's owner): one object from a node's partial slabs, as a debug
    /// cache allocates, or a new slab for the node's list.
    #[cold]
    #[inline(never)]
    fn alloc_nocpu(&self, rk: &Rkmem, req: &ObjReq) -> Option<usize> {
        let (cpu, st) = self.cpu.here();
        self.alloc_listed(rk, req, cpu_node(cpu), |node| {
            let got = self.pop_node(node);
            if got.is_some() {
                st.inc(Stat::AllocFromPartial);
            }
            got
        })
    }

    /// One object by `take` from the nodes a request may use (the one
    /// asked, or `local` first, then by distance unless `__GFP_THISNODE`);
    /// when none has one, a new slab goes on the node's partial list and
    /// the nodes are tried again.
    fn alloc_listed(
        &self,
        rk: &Rkmem,
        req: &ObjReq,
        local: usize,
        mut take: impl FnMut(usize) -> Option<(SlabMem, usize)>,
    ) -> Option<usize> {
        let first = req.node.unwrap_or(local);
        // __GFP_NOFAIL keeps going (each round adds a slab; others may
        // take it first).
        let mut rounds = 0;
        while rounds < 4 || req.nofail {
            rounds += 1;
            for node in rk.node_order(first) {
                if node != first && req.this_node && req.node.is_some() {
                    break;
                }
                if let Some((mem, off)) = take(node) {
                    if self.want_zero(req) {
                        mem.fill(off, self.layout.object_size, 0);
                    }
                    return Some(mem.addr() + off);
                }
            }
            let init = SlabState {
                head: Some(0),
                inuse: 0,
                place: Place::Node,
            };
            let (slab, node) = self.new_slab(rk, req, first, init)?;
            let mut l = self.node(node).lists.lock();
            l.partial.push_front(slab);
            l.counts.add();
            self.count(Stat::AllocSlab);
        }
        None
    }

    /// One object off the own list of a slab on `node`'s partial list,
    /// under the node lock: only holders of the lock pop from a listed
    /// slab, remote frees push meanwhile, so a compare-and-swap pop has no
    /// ABA. A slab left without free objects goes off the list (`Full`).
    fn pop_node(&self, node: usize) -> Option<(SlabMem, usize)> {
        let mut l = self.node(node).lists.lock();
        while let Some(slab) = l.partial.first() {
            let word = slab.state();
            let mem = slab.mem(self.order);
            let mut old = word.load(Ordering::Acquire);
            loop {
                let s = SlabState::unpack(old)?;
                let (new, got) = match s.head {
                    None => (
                        SlabState {
                            place: Place::Full,
                            ..s
                        },
                        None,
                    ),
                    Some(h) => {
                        let off = self.layout.obj_offset(h);
                        match self.next_free(&mem, h) {
                            Ok(next) => (
                                SlabState {
                                    head: next,
                                    inuse: s.inuse + 1,
                                    place: if next.is_some() {
                                        Place::Node
                                    } else {
                                        Place::Full
                                    },
                                },
                                Some(off),
                            ),
                            Err(raw) => {
                                self.report(
                                    Report::FreepointerCorrupt,
                                    Some((mem, off)),
                                    format_args!(
                                        "object {:#x}: free pointer {:#x}",
                                        mem.addr() + off,
                                        raw
                                    ),
                                );
                                // The rest of the list is lost: in use.
                                (
                                    SlabState {
                                        head: None,
                                        inuse: self.nr,
                                        place: Place::Full,
                                    },
                                    None,
                                )
                            }
                        }
                    }
                };
                match word.compare_exchange(old, new.pack(), Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {
                        if new.place == Place::Full {
                            l.partial.remove(slab);
                            l.counts.remove();
                        }
                        match got {
                            Some(off) => return Some((mem, off)),
                            None => break,
                        }
                    }
                    Err(now) => old = now,
                }
            }
        }
        None
    }

    /// Gives the CPU's active slab up (`deactivate_slab`): the CPU's list
    /// goes back onto the slab's, and the slab to its node's partial list,
    /// nowhere (full) or back to the buddy (empty, node has enough).
    fn deactivate(&self, rk: &Rkmem, c: &mut CpuSlab, st: &CpuStats) {
        let Some(slab) = c.active() else {
            return;
        };
        let node = c.node as usize;
        // Walk the CPU's list to its tail (bounded by the slab's objects).
        // Only objects whose free pointer decodes go back: a corrupt one
        // and everything after it stay counted in use, and a list that
        // loops (a double free the fast path could not see) gives nothing
        // back, so the slab can never be freed under a live object.
        let mut count: u16 = 0;
        let mut tail: Option<u16> = None;
        let mut cur = c.free.checked_sub(1).map(|i| i as u16);
        while let Some(i) = cur {
            if count >= self.nr {
                self.report(
                    Report::FreepointerCorrupt,
                    Some((c.mem, self.layout.obj_offset(i))),
                    format_args!("free list of a CPU slab loops (a double free): slab kept in use"),
                );
                count = 0;
                tail = None;
                break;
            }
            match self.next_free(&c.mem, i) {
                Ok(next) => {
                    count += 1;
                    tail = Some(i);
                    cur = next;
                }
                Err(raw) => {
                    let off = self.layout.obj_offset(i);
                    self.report(
                        Report::FreepointerCorrupt,
                        Some((c.mem, off)),
                        format_args!("object {:#x}: free pointer {:#x}", c.mem.addr() + off, raw),
                    );
                    break;
                }
            }
        }
        let local_head = if count == 0 {
            None
        } else {
            c.free.checked_sub(1).map(|i| i as u16)
        };
        let mem = c.mem;
        self.forget_active(c);
        let discard = {
            let n = self.node(node);
            let mut l = n.lists.lock();
            let word = slab.state();
            let mut old = word.load(Ordering::Acquire);
            loop {
                let Some(s) = SlabState::unpack(old) else {
                    break false;
                };
                if let Some(t) = tail {
                    let slot = self.layout.obj_offset(t) + self.layout.offset;
                    mem.write_word(
                        slot,
                        encode(s.head, (mem.addr() + slot) as u64, self.random),
                    );
                }
                let Some(mut new) = s.deactivate(local_head, count) else {
                    break false;
                };
                let mut counts = l.counts;
                let place = unfreeze_place(new, &mut counts);
                new.place = place.unwrap_or(Place::Full);
                let packed = if place.is_none() { 0 } else { new.pack() };
                if word
                    .compare_exchange(old, packed, Ordering::AcqRel, Ordering::Acquire)
                    .map_err(|now| old = now)
                    .is_ok()
                {
                    if s.head.is_some() {
                        st.inc(Stat::DeactivateRemoteFrees);
                    }
                    l.counts = counts;
                    match place {
                        Some(Place::Node) => l.partial.push_front(slab),
                        Some(_) => st.inc(Stat::DeactivateFull),
                        None => st.inc(Stat::DeactivateEmpty),
                    }
                    break place.is_none();
                }
            }
        };
        if discard {
            self.discard(rk, slab, Some(st));
        }
    }

    /// Moves a slab off a CPU's partial list to its node (SLUB's
    /// `__put_partials`): onto the node's list, or back to the buddy if
    /// empty and the node has `min_partial` slabs.
    fn unfreeze(
        &self,
        rk: &Rkmem,
        slab: SlabPage,
        node: usize,
        _c: Option<&mut CpuSlab>,
        st: Option<&CpuStats>,
    ) {
        let discard = {
            let mut l = self.node(node).lists.lock();
            let word = slab.state();
            let mut old = word.load(Ordering::Acquire);
            loop {
                let Some(s) = SlabState::unpack(old) else {
                    break false;
                };
                let mut counts = l.counts;
                let place = unfreeze_place(s, &mut counts);
                let packed = match place {
                    Some(p) => SlabState { place: p, ..s }.pack(),
                    None => 0,
                };
                if word
                    .compare_exchange(old, packed, Ordering::AcqRel, Ordering::Acquire)
                    .map_err(|now| old = now)
                    .is_ok()
                {
                    l.counts = counts;
                    if place == Some(Place::Node) {
                        l.partial.push_front(slab);
                    }
                    break place.is_none();
                }
            }
        };
        if let Some(st) = st {
            st.inc(Stat::CpuPartialNode);
        }
        if discard {
            self.discard(rk, slab, st);
        }
    }

    /// Empties a CPU: its active slab and its partial slabs go to their
    /// nodes (`flush_cpu_slab`).
    fn flush_cpu(&self, rk: &Rkmem, c: &mut CpuSlab, st: &CpuStats) {
        if c.active().is_some() {
            st.inc(Stat::CpuslabFlush);
            self.deactivate(rk, c, st);
        }
        self.drain_partial(rk, c, st);
        st.publish(c);
    }

    fn drain_partial(&self, rk: &Rkmem, c: &mut CpuSlab, st: &CpuStats) {
        while let Some(slab) = c.partial.pop_front() {
            let node = owner_of(slab.owner().load(Ordering::Relaxed)).map_or(0, |(_, n)| n);
            self.unfreeze(rk, slab, node, None, Some(st));
        }
    }

    // ------------------------------------------------------------- free

    /// Frees one object (`kmem_cache_free`).
    #[inline(always)]
    pub(crate) fn free(&self, rk: &Rkmem, obj: usize, caller: usize) {
        let fast = self.free_fast(obj);
        if !fast.done() {
            self.free_rest(rk, obj, caller, fast)
        }
    }

    /// The free fast path alone; unless it is done, [`Cache::free_rest`]
    /// takes it from there.
    #[inline(always)]
    pub(crate) fn free_fast(&self, obj: usize) -> FreeFast {
        if self.debug {
            return FreeFast(None);
        }
        FreeFast(self.cpu.fast(|c, st| {
            let r = self.push_active(c, obj);
            if r == Pushed::Done {
                st.inc(Stat::FreeFastpath);
            }
            r
        }))
    }

    /// Everything but the fast path: a repeated free the fast path saw
    /// (at the head of the CPU's list) reported, else the slow path.
    #[cold]
    #[inline(never)]
    pub(crate) fn free_rest(&self, rk: &Rkmem, obj: usize, caller: usize, fast: FreeFast) {
        if fast.0 == Some(Pushed::Again) {
            return self.report_double_free(rk, obj);
        }
        self.free_slow(rk, obj, caller)
    }

    /// The free fast path: `obj` goes on the CPU's own list if it is an
    /// object of the CPU's active slab (and not its last free: that is a
    /// double free, left to the slow path to report).
    #[inline(always)]
    fn push_active(&self, c: &mut CpuSlab, obj: usize) -> Pushed {
        let rel = obj.wrapping_sub(c.mem.addr() + self.layout.red_left_pad);
        if c.slab == 0 || rel >= self.span {
            return Pushed::NotActive;
        }
        // `rel / size` without a divide (`obj_to_index`'s reciprocal).
        let idx = index_by_reciprocal(rel, self.recip);
        if idx * self.layout.size != rel {
            return Pushed::NotActive;
        }
        if c.free == idx as u32 + 1 {
            return Pushed::Again;
        }
        if self.init_on_free {
            // Bounded (one object, at most 32 KiB).
            c.mem
                .fill(rel + self.layout.red_left_pad, self.layout.object_size, 0);
        }
        let slot = rel + self.layout.red_left_pad + self.layout.offset;
        let head = c.free.checked_sub(1).map(|h| h as u16);
        c.mem.write_word(
            slot,
            encode(head, (c.mem.addr() + slot) as u64, self.random),
        );
        c.free = idx as u32 + 1;
        Pushed::Done
    }

    /// The fast path saw `obj` freed twice in a row on this CPU.
    #[cold]
    #[inline(never)]
    fn report_double_free(&self, rk: &Rkmem, obj: usize) {
        if let Some(at) = self.locate(rk, obj) {
            let off = self.layout.obj_offset(at.idx);
            self.report(
                Report::AlreadyFree,
                Some((at.mem, off)),
                format_args!("object {:#x}", obj),
            );
        }
    }

    #[cold]
    #[inline(never)]
    fn free_slow(&self, rk: &Rkmem, obj: usize, caller: usize) {
        let Some(at) = self.locate(rk, obj) else {
            return;
        };
        if self.debug {
            return self.debug_free(rk, at, caller);
        }
        let off = self.layout.obj_offset(at.idx);
        let slot = off + self.layout.offset;
        let slot_addr = (at.mem.addr() + slot) as u64;
        let word = at.slab.state();
        let mut old = word.load(Ordering::Acquire);
        // Zeroed only once it is known not to be the slab's first free
        // object freed again (whose free pointer zeroing would wipe).
        if self.init_on_free && SlabState::unpack(old).is_some_and(|s| s.free(at.idx, true).is_ok())
        {
            at.mem.fill(off, self.layout.object_size, 0);
        }
        let frozen = SlabState::unpack(old).is_some_and(|s| s.place == Place::Cpu);
        let (_, st) = self.cpu.here();
        st.inc(Stat::FreeSlowpath);
        if frozen {
            st.inc(Stat::FreeFrozen);
        }
        // Onto the slab's own list with a compare-and-swap, interrupts on
        // (`__slab_free`); the node lock only if the free may empty a
        // listed slab.
        loop {
            let Some(s) = SlabState::unpack(old) else {
                return self.report(Report::NotSlab, None, format_args!("object {:#x}", obj));
            };
            let (new, t) = match s.free(at.idx, false) {
                Ok(r) => r,
                Err(_) => {
                    return self.report(
                        Report::AlreadyFree,
                        Some((at.mem, off)),
                        format_args!("object {:#x}", obj),
                    );
                }
            };
            if t == FreeTransition::EmptiedOnNode {
                break;
            }
            at.mem
                .write_word(slot, encode(s.head, slot_addr, self.random));
            match word.compare_exchange(old, new.pack(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if t == FreeTransition::ToCpuPartial {
                        // Ours now (`CpuPartial`, on no list yet): onto
                        // whichever CPU we run on.
                        let took = self.cpu.local(|_, c, st| {
                            c.partial.push_front(at.slab);
                            st.inc(Stat::CpuPartialFree);
                            if c.partial.len()
                                > self.cpu_partial_slabs.load(Ordering::Relaxed) as usize
                            {
                                st.inc(Stat::CpuPartialDrain);
                                self.drain_partial(rk, c, st);
                            }
                            st.publish(c);
                        });
                        if took.is_none() {
                            // No CPU part to take it: to its node.
                            self.unfreeze(rk, at.slab, at.node, None, Some(self.cpu.here().1));
                        }
                    }
                    return;
                }
                Err(now) => old = now,
            }
        }
        let discard = {
            let mut l = self.node(at.node).lists.lock();
            old = word.load(Ordering::Acquire);
            loop {
                let Some(s) = SlabState::unpack(old) else {
                    break false;
                };
                let (new, t) = match s.free(at.idx, true) {
                    Ok(r) => r,
                    Err(_) => {
                        self.report(
                            Report::AlreadyFree,
                            Some((at.mem, off)),
                            format_args!("object {:#x}", obj),
                        );
                        break false;
                    }
                };
                let mut counts = l.counts;
                let discard = t == FreeTransition::EmptiedOnNode
                    && counts.emptied(true) == crate::logic::slab::EmptySlab::Discard;
                // Full meanwhile: under the lock it goes straight to the
                // node's list.
                let to_node = t == FreeTransition::ToCpuPartial;
                let new = if to_node {
                    SlabState {
                        place: Place::Node,
                        ..new
                    }
                } else {
                    new
                };
                at.mem
                    .write_word(slot, encode(s.head, slot_addr, self.random));
                let packed = if discard { 0 } else { new.pack() };
                if word
                    .compare_exchange(old, packed, Ordering::AcqRel, Ordering::Acquire)
                    .map_err(|now| old = now)
                    .is_ok()
                {
                    if to_node {
                        l.counts.add();
                        l.partial.push_front(at.slab);
                        self.count(Stat::FreeAddPartial);
                    }
                    if discard {
                        l.counts = counts;
                        l.partial.remove(at.slab);
                        self.count(Stat::FreeRemovePartial);
                    }
                    break discard;
                }
            }
        };
        if discard {
            self.discard(rk, at.slab, None);
            self.count(Stat::FreeSlab);
        }
    }

    // ------------------------------------------------------------ bulk

    /// Fills `out` with objects, all or none (`kmem_cache_alloc_bulk`).
    pub(crate) fn alloc_bulk(&self, rk: &Rkmem, req: &ObjReq, out: &mut [usize]) -> bool {
        let mut i = 0;
        if !self.debug && req.node.is_none() {
            // One hold of the CPU's part for what its list has.
            i = self
                .cpu
                .fast(|c, st| {
                    let mut i = 0;
                    // Up to a word that does not decode: the slow path
                    // reports it.
                    while i < out.len() {
                        let Some(Ok(off)) = self.pop_cpu_list(c) else {
                            break;
                        };
                        out[i] = c.mem.addr() + off;
                        i += 1;
                    }
                    st.add(Stat::AllocFastpath, i as u64);
                    i
                })
                .unwrap_or(0);
            if self.want_zero(req) {
                for &o in &out[..i] {
                    self.zero_obj(rk, o);
                }
            }
        }
        while i < out.len() {
            match self.alloc(rk, req) {
                Some(o) => out[i] = o,
                None => {
                    self.free_bulk(rk, &out[..i], req.caller);
                    return false;
                }
            }
            i += 1;
        }
        true
    }

    fn zero_obj(&self, rk: &Rkmem, obj: usize) {
        if let Some((slab, _)) = slab_page_of(rk, obj) {
            let mem = slab.mem(self.order);
            mem.fill(obj - mem.addr(), self.layout.object_size, 0);
        }
    }

    /// Frees every non-null object of `objs` (`kmem_cache_free_bulk`).
    pub(crate) fn free_bulk(&self, rk: &Rkmem, objs: &[usize], caller: usize) {
        if self.debug {
            for &o in objs.iter().filter(|&&o| o != 0) {
                self.free_slow(rk, o, caller);
            }
            return;
        }
        let mut i = 0;
        while i < objs.len() {
            // One hold of the CPU's part for a run of objects of the
            // active slab; the first other one takes the slow path.
            i += self
                .cpu
                .fast(|c, st| {
                    let mut n = 0;
                    for &o in &objs[i..] {
                        if o != 0 && self.push_active(c, o) != Pushed::Done {
                            break;
                        }
                        n += 1;
                    }
                    st.add(Stat::FreeFastpath, n as u64);
                    n
                })
                .unwrap_or(0);
            if let Some(&o) = objs.get(i) {
                // The run stopped here: free it on its own (which also
                // reports a repeated free), NULL skipped.
                if o != 0 {
                    self.free(rk, o, caller);
                }
                i += 1;
            }
        }
    }

    // ------------------------------------------------- shrink, validate

    /// Empties every CPU's slabs of this cache (`flush_all`). Process
    /// context.
    pub(crate) fn flush_all(&self, rk: &Rkmem) {
        if self.debug {
            return;
        }
        self.cpu.for_each_cpu(|c, st| self.flush_cpu(rk, c, st));
    }

    /// A dead CPU's slabs go to their nodes.
    pub(crate) fn cpu_dead(&self, rk: &Rkmem, cpu: DeadCpu) {
        self.cpu.dead(cpu, |c, st| self.flush_cpu(rk, c, st));
    }

    /// Gives every empty slab on the node lists back to the buddy
    /// (`__kmem_cache_shrink`), after flushing the CPUs' slabs there if
    /// `flush` (process context; the host shrinker does not flush: it
    /// takes what the nodes hold); returns slabs freed.
    pub(crate) fn shrink(&self, rk: &Rkmem, flush: bool) -> usize {
        if flush {
            self.flush_all(rk);
        }
        let mut freed = 0;
        for n in self.nodes.iter() {
            let mut empty = SlabList::default();
            {
                let mut l = n.lists.lock();
                let slabs: KVec<SlabPage> = KVec::new();
                let _ = slabs;
                let mut cur = l.partial.iter().next();
                while let Some(slab) = cur {
                    cur = slab.next();
                    let word = slab.state();
                    let old = word.load(Ordering::Acquire);
                    if SlabState::unpack(old).is_some_and(|s| s.inuse == 0)
                        && word
                            .compare_exchange(old, 0, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    {
                        l.partial.remove(slab);
                        l.counts.remove();
                        empty.push_front(slab);
                    }
                }
            }
            while let Some(slab) = empty.pop_front() {
                self.discard(rk, slab, None);
                freed += 1;
            }
        }
        freed
    }

    /// Slabs and objects now, per node: (slabs, objects, free objects on
    /// partial lists, partial slabs).
    pub(crate) fn node_counts(&self, node: usize) -> (u64, u64, u64, u64) {
        let Some(n) = self.nodes.get(node) else {
            return (0, 0, 0, 0);
        };
        let (free, partial) = {
            let l = n.lists.lock();
            let free: u64 = l
                .partial
                .iter()
                .filter_map(|s| SlabState::unpack(s.state().load(Ordering::Relaxed)))
                .map(|s| (self.nr - s.inuse.min(self.nr)) as u64)
                .sum();
            (free, l.partial.len() as u64)
        };
        (
            n.nr_slabs.load(Ordering::Relaxed),
            n.total_objects.load(Ordering::Relaxed),
            free,
            partial,
        )
    }

    /// Slabs the cache has now, on every node.
    pub(crate) fn nr_slabs(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| n.nr_slabs.load(Ordering::Relaxed))
            .sum()
    }

    /// Nodes of this cache.
    pub(crate) fn nr_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// A statistic on `cpu`.
    pub(crate) fn stat(&self, cpu: usize, s: Stat) -> u64 {
        self.cpu.shared(cpu).map_or(0, |st| st.get(s))
    }

    /// `cpu`'s slabs: its active one and its partial ones (as the CPU
    /// last published them).
    pub(crate) fn cpu_slabs(&self, cpu: usize) -> u64 {
        self.cpu
            .shared(cpu)
            .map_or(0, |st| st.slabs.load(Ordering::Relaxed))
    }

    /// Checks every slab on the node lists (after flushing the CPUs, as
    /// `validate_slab_cache`): the free list, counts, and in a debug cache
    /// every object's red zones and poison. Returns errors found. Like
    /// the host's `validate_slab_node`, each node's lists are walked in one
    /// hold of their lock (IRQs off for as long as the node has slabs): a
    /// debug command, run on request, never on an allocation path.
    pub(crate) fn validate(&self, rk: &Rkmem) -> u64 {
        self.flush_all(rk);
        let before = self.corruptions.load(Ordering::Relaxed);
        let (mut slabs, mut objects) = (0u64, 0u64);
        let mut bad_counts = 0u64;
        let mut free_map: KVec<bool> = KVec::new();
        if free_map
            .extend_with(self.nr as usize, false, GFP_KERNEL)
            .is_err()
        {
            return 0;
        }
        for n in self.nodes.iter() {
            let l = n.lists.lock();
            for slab in Iterator::chain(l.partial.iter(), l.full.iter()) {
                slabs += 1;
                objects += self.nr as u64;
                let Some(s) = SlabState::unpack(slab.state().load(Ordering::Acquire)) else {
                    bad_counts += 1;
                    continue;
                };
                let mem = slab.mem(self.order);
                let slots = Slots {
                    mem,
                    layout: &self.layout,
                };
                let list = SlabFreelist::from_state(s, self.nr, self.random);
                free_map.iter_mut().for_each(|f| *f = false);
                if let Err(Corrupt { obj, raw }) =
                    list.for_each_free(&slots, |o| free_map[o as usize] = true)
                {
                    let off = self.layout.obj_offset(obj);
                    self.report(
                        Report::FreepointerCorrupt,
                        Some((mem, off)),
                        format_args!("object {:#x}: free pointer {:#x}", mem.addr() + off, raw),
                    );
                    continue;
                }
                if self.debug {
                    for i in 0..self.nr {
                        let off = self.layout.obj_offset(i);
                        if free_map[i as usize] {
                            let _ = self.check_poison(&mem, off)
                                && self.check_redzones(&mem, off, RED_INACTIVE);
                        } else {
                            let _ = self.check_redzones(&mem, off, RED_ACTIVE);
                        }
                    }
                }
            }
        }
        let errors = self.corruptions.load(Ordering::Relaxed) - before + bad_counts;
        self.validated.slabs.store(slabs, Ordering::Relaxed);
        self.validated.objects.store(objects, Ordering::Relaxed);
        self.validated.errors.store(errors, Ordering::Relaxed);
        errors
    }

    /// The last validation: (slabs, objects, errors).
    pub(crate) fn validated(&self) -> (u64, u64, u64) {
        (
            self.validated.slabs.load(Ordering::Relaxed),
            self.validated.objects.load(Ordering::Relaxed),
            self.validated.errors.load(Ordering::Relaxed),
        )
    }

    /// Objects in use: all objects minus the free ones on node lists.
    pub(crate) fn objects_in_use(&self) -> u64 {
        (0..self.nodes.len())
            .map(|n| {
                let (_, total, free, _) = self.node_counts(n);
                total - free.min(total)
            })
            .sum()
    }

    /// Sets `min_partial`.
    pub(crate) fn set_min_partial(&self, v: u32) {
        self.min_partial.store(v, Ordering::Relaxed);
        for n in self.nodes.iter() {
            n.lists.lock().counts.min_partial = v;
        }
    }

    /// Sets `cpu_partial` (objects); `EINVAL` for a nonzero value on a
    /// debug cache, which has no per-CPU slabs.
    pub(crate) fn set_cpu_partial(&self, objects: u32) -> Result {
        if self.debug && objects != 0 {
            return Err(EINVAL);
        }
        self.cpu_partial.store(objects, Ordering::Relaxed);
        self.cpu_partial_slabs.store(
            cpu_partial_slabs(objects, self.nr as usize),
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// Whether `flag` was given at creation.
    pub(crate) fn has(&self, flag: u32) -> bool {
        match flag {
            flags::CONSISTENCY_CHECKS => self.consistency,
            _ => self.layout.flags.has(flag),
        }
    }

    /// Whether the cache has a constructor.
    pub(crate) fn has_ctor(&self) -> bool {
        self.ctor.is_some()
    }
}

/// Text formatted on the stack (reports may run in any context, so no
/// allocation), cut at `N - 1` bytes.
struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }

    fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.buf[..self.len + 1]).unwrap_or(c_str!(""))
    }
}

impl<const N: usize> Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.len + 1 >= N {
                break;
            }
            // No NUL inside: the text ends at the first one.
            self.buf[self.len] = if b == 0 { b'?' } else { b };
            self.len += 1;
        }
        Ok(())
    }
}

/// Displays bytes as text (non-UTF-8 as '?').
struct BStrDisplay<'a>(&'a [u8]);

impl core::fmt::Display for BStrDisplay<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            f.write_char(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            })?;
        }
        Ok(())
    }
}
