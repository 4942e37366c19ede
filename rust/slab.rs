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
//!
//! Parts (this file holds the [`Cache`] type, its per-CPU and per-node
//! state and its creation):
//! - `alloc`: the allocation fast and slow paths;
//! - `free`: the free fast and slow paths;
//! - `bulk`: bulk allocation and free;
//! - `node`: slabs back to their nodes (deactivate, unfreeze, flush),
//!   shrink and the partial-list tunables;
//! - `page`: slabs as rkmem pages (new, discarded, found from an address);
//! - `debug`: debug caches' checked allocation and free;
//! - `report`: reports of what the checks find;
//! - `stats`: statistics, counts and `validate`;
//! - `caches`: the set of caches, the kmalloc classes and the test caches.

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
    class_align, class_size, cpu_partial_objects, cpu_partial_put, cpu_partial_refill,
    cpu_partial_slabs, decode, encode, index_by_reciprocal, kmalloc_class, min_partial,
    objects_per_slab, reciprocal, unfreeze_place, Corrupt, CpuPartialPut, FreeSlots,
    FreeTransition, NodePartial, ObjectLayout, Place, SlabFlags, SlabFreelist, SlabState,
    KMALLOC_CLASSES, TRACK_SIZE,
};
use crate::logic::zonelist::{Placement, ZoneType};
use crate::{AllocRequest, Rkmem};

mod alloc;
mod bulk;
mod caches;
mod debug;
mod free;
mod node;
mod page;
mod report;
mod stats;

use caches::rk_slabs;
pub(crate) use caches::{Slabs, TestCache};
use free::Pushed;
use page::{owner_of, slab_page_of, Located, Slots};
use report::{BStrDisplay, Report, NR_REPORTS};
pub(crate) use stats::{CpuStats, STATS};
use stats::{Stat, ValidateResult};

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
    /// Partial slabs this CPU took (frees into full slabs, and slabs
    /// taken from a node's list along with a new active slab).
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
#[derive(Clone, Copy)]
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
