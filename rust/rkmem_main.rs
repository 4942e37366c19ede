// SPDX-License-Identifier: GPL-2.0
//! rkmem: a parallel memory-management subsystem, as a module.
//!
//! Layers (see README.md, "Design"): host page source and buddy allocator
//! per (node, zone) arena ([`arena`]), over the pure logic in [`logic`]; the
//! host boundary ([`host`], the only `unsafe` code) and C glue
//! (`host_glue.c`); debugfs reports and knobs ([`debugfs`]). Refused bad
//! input to the C API is in [`bad_input`], memory offline in
//! [`memory_offline`].

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::{c_str, new_mutex};

mod arena;
mod bad_input;
mod debugfs;
pub(crate) mod host;
mod memory_offline;
mod mempool;
mod pcp;
mod slab;
// Pure logic shared with the userspace test crate; later layers use more of it.
#[allow(dead_code, unreachable_pub)]
mod logic;

use arena::{Arena, GrowError, OfflineWindow, OwnedBlock, PfnMap};
use host::memhotplug::MemoryNotifier;
use host::pages::{self, MetaCache};
use host::percpu::CpuHotplug;
use host::{DebugfsDir, HostBlock, Published, Shrinker, TakeError};
use logic::bad_input::{classify_refused_free, BadInput};
use logic::blockmap::BlockMap;
use logic::buddy::{BlockMeta, FreeError};
use logic::order::{BLOCK_PAGES, MAX_ORDER};
use logic::zonelist::{topology_storage, Placement, Topology, ZoneType, NR_ZONES};

module! {
    type: RkmemModule,
    name: "rkmem",
    author: "rkmem developers",
    description: "A parallel memory-management subsystem: page source, buddy, per-CPU lists, debugfs",
    license: "GPL",
}

/// Pages the `test` knob holds for selftests.
pub(crate) struct TestState {
    held: Held<(u64, u32)>,
}

/// A stack of things a test trigger holds (pages, objects, elements).
/// (6.12's kernel `Vec` has no `pop`: entries beyond `len` are stale and
/// get overwritten.)
pub(crate) struct Held<T: Copy + Default> {
    items: KVVec<T>,
    len: usize,
}

impl<T: Copy + Default> Held<T> {
    pub(crate) fn new() -> Self {
        Held {
            items: KVVec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.as_slice()[..self.len].iter()
    }

    /// Makes room for `additional` more (may sleep).
    pub(crate) fn reserve(&mut self, additional: usize) -> Result {
        let short = (self.len + additional).saturating_sub(self.items.len());
        self.items.extend_with(short, T::default(), GFP_KERNEL)?;
        Ok(())
    }

    /// Pushes into reserved room; `false` if there is none.
    pub(crate) fn push(&mut self, item: T) -> bool {
        match self.items.as_mut_slice().get_mut(self.len) {
            Some(slot) => {
                *slot = item;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        self.len = self.len.checked_sub(1)?;
        self.items.as_slice().get(self.len).copied()
    }
}

/// One page allocation, as the C API decodes a gfp mask.
pub(crate) struct AllocRequest {
    /// Node, highest zone, `__GFP_THISNODE`.
    pub(crate) placement: Placement,
    /// `0..=MAX_ORDER`.
    pub(crate) order: u32,
    /// The caller's gfp: its reclaim bits go to the host when rkmem grows.
    pub(crate) gfp: u32,
    /// `__GFP_DIRECT_RECLAIM`: rkmem may sleep (in the host, when growing).
    pub(crate) can_sleep: bool,
    /// `__GFP_ZERO` or `init_on_alloc`.
    pub(crate) zero: bool,
    /// `__GFP_COMP`.
    pub(crate) comp: bool,
    /// `__GFP_NOFAIL`.
    pub(crate) nofail: bool,
}

impl AllocRequest {
    /// A request of rkmem's own (knobs, tests): plain pages, `GFP_KERNEL`,
    /// or `GFP_NOWAIT` when it must not sleep.
    pub(crate) fn plain(placement: Placement, order: u32, can_sleep: bool) -> Self {
        AllocRequest {
            placement,
            order,
            gfp: if can_sleep {
                pages::GFP_KERNEL
            } else {
                pages::GFP_NOWAIT
            },
            can_sleep,
            zero: false,
            comp: false,
            nofail: false,
        }
    }
}

/// Distances, zones and node orders, sized by the host's `nr_node_ids`
/// (about 3 bytes per pair of node ids: 3 MiB for 1024 nodes).
pub(crate) type HostTopology = Topology<KVVec<u8>, KVVec<u16>>;

/// The module's state: every arena and the map from blocks to arenas.
#[pin_data]
pub(crate) struct Rkmem {
    topology: HostTopology,
    arenas: KVVec<Pin<KBox<Arena>>>,
    /// `arena_of[node * NR_ZONES + zone]`: index in `arenas`.
    arena_of: KVVec<Option<u32>>,
    map: PfnMap,
    #[pin]
    test: Mutex<TestState>,
    /// Bad input to the C API refused, per kind ([`BadInput`]).
    bad_input: [AtomicU64; BadInput::COUNT],
    /// Bytes of one block-metadata object in its cache.
    meta_object_size: usize,
    /// Memory offlines refused because rkmem's pages there were in use.
    offline_refused: AtomicU64,
    /// The range a memory offline is taking away now, if any.
    offlining: OfflineWindow,
}

impl Rkmem {
    /// Node ids, distances and zones as the host has them now: every
    /// table sized by `nr_node_ids` (init may sleep; nothing here is on a
    /// hot path).
    fn new_topology(nr_nodes: usize) -> Result<HostTopology> {
        let (distances, flags, orders) = topology_storage(nr_nodes);
        let mut d = KVVec::new();
        d.extend_with(distances, 0u8, GFP_KERNEL)?;
        let mut f = KVVec::new();
        f.extend_with(flags, 0u8, GFP_KERNEL)?;
        let mut o = KVVec::new();
        o.extend_with(orders, 0u16, GFP_KERNEL)?;
        let mut topology = Topology::new(nr_nodes, d, f, o).ok_or(EINVAL)?;
        for node in 0..nr_nodes {
            // As the host's zonelists, built over every node id.
            for other in 0..nr_nodes {
                topology.set_distance(node, other, host::node_distance(node, other));
            }
            if host::node_has_cpus(node) {
                topology.set_has_cpus(node);
            }
            host::cond_resched();
        }
        Ok(topology)
    }

    fn new(meta_object_size: usize) -> Result<Pin<KBox<Self>>> {
        let nr_nodes = host::nr_node_ids();
        let mut topology = Self::new_topology(nr_nodes)?;
        let mut arenas = KVVec::new();
        let mut arena_of = KVVec::new();
        arena_of.extend_with(nr_nodes * NR_ZONES, None, GFP_KERNEL)?;
        let (mut first_pfn, mut end_pfn) = (u64::MAX, 0);
        for node in (0..nr_nodes).filter(|&n| host::node_online(n)) {
            let (start, end) = host::node_pfn_range(node);
            first_pfn = first_pfn.min(start);
            end_pfn = end_pfn.max(end);
            for zone in ZoneType::ALL {
                let Some(info) = host::zone_info(node, zone) else {
                    continue;
                };
                topology.set_present(node, zone);
                let id = arenas.len();
                arena_of[node * NR_ZONES + zone as usize] = Some(u32::try_from(id)?);
                let arena = Arena::new(id, node, zone, info)?;
                arena.init_pcp();
                arenas.push(arena, GFP_KERNEL)?;
            }
        }
        if arenas.is_empty() {
            return Err(ENODEV);
        }
        topology.build();
        // The host's own zonelists where it has them (see
        // `Topology::adopt_host_order`): the computed order fills gaps.
        let mut host_order = KVVec::new();
        host_order.extend_with(nr_nodes, 0u16, GFP_KERNEL)?;
        for node in 0..nr_nodes {
            let len = host::zonelist_nodes(node, &mut host_order);
            topology.adopt_host_order(node, &host_order[..len]);
        }
        let blocks = PfnMap::blocks_for(first_pfn, end_pfn);
        let mut entries = KVVec::with_capacity(blocks, GFP_KERNEL)?;
        for _ in 0..blocks {
            entries.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        let map = BlockMap::new(first_pfn, entries);
        KBox::pin_init(
            pin_init!(Rkmem {
                topology,
                arenas,
                arena_of,
                map,
                test <- new_mutex!(TestState { held: Held::new() }, "rkmem_test"),
                bad_input: [const { AtomicU64::new(0) }; BadInput::COUNT],
                meta_object_size,
                offline_refused: AtomicU64::new(0),
                offlining: OfflineWindow::new(),
            }),
            GFP_KERNEL,
        )
    }

    fn arena(&self, node: usize, zone: ZoneType) -> Option<&Arena> {
        if node >= self.topology.nr_nodes() {
            return None;
        }
        let index = (*self.arena_of.get(node * NR_ZONES + zone as usize)?)?;
        self.arenas.get(index as usize).map(|a| &**a)
    }

    /// Node ids are below this (the host's `nr_node_ids`).
    pub(crate) fn nr_nodes(&self) -> usize {
        self.topology.nr_nodes()
    }

    /// Allocates `2^order` pages as `alloc_pages_node` would; returns the
    /// first pfn, its page prepared for the caller ([`Rkmem::hand_out`]).
    ///
    /// Fast path: the preferred arena's per-CPU list. Then the fallback list
    /// (the host's zonelist order), each arena from its lists or buddy; the
    /// first arena of each node may grow, with the request's own highest
    /// zone, so the host applies its zone reserves; lower zones of a node
    /// serve only from blocks they already hold. A request that may sleep
    /// makes one last pass that lets the host reclaim. `__GFP_NOFAIL` then
    /// keeps trying, past rkmem's block limits, if it may sleep (see
    /// rkmem.h for its bound).
    #[inline]
    pub(crate) fn alloc_pages(&self, req: &AllocRequest) -> Result<u64> {
        let order = req.order;
        if order > MAX_ORDER {
            return Err(EINVAL);
        }
        let p = req.placement;
        // An arena whose list and buddy were just found empty: the first
        // pass goes straight to growing it (and counts it empty once).
        let mut known_empty = None;
        if let Some(arena) = self.arena(p.node, p.highest_zone) {
            match arena.alloc_listed(order) {
                pcp::Listed::Got(pfn) => return self.hand_out(arena, pfn, req),
                pcp::Listed::Empty => known_empty = Some(arena.id),
                pcp::Listed::Bypass => {}
            }
        }
        self.alloc_pages_slow(req, known_empty)
    }

    /// A client's page allocation (the C API, the `test` knob): the
    /// `fail_page` injection point, then [`Rkmem::alloc_pages`]. The
    /// slab and mempool layers call `alloc_pages` directly (they have their
    /// own points); `__GFP_NOFAIL` is never failed, as on the host.
    #[inline]
    pub(crate) fn alloc_pages_client(&self, req: &AllocRequest) -> Result<u64> {
        if !req.nofail
            && host::fault::should_fail(
                host::fault::FaultKind::Page,
                logic::order::pages(req.order.min(MAX_ORDER)),
                req.can_sleep,
            )
        {
            return Err(ENOMEM);
        }
        self.alloc_pages(req)
    }

    /// Everything but the per-CPU fast path (kept out of line so the fast
    /// path is a few instructions in its caller).
    #[cold]
    #[inline(never)]
    fn alloc_pages_slow(&self, req: &AllocRequest, mut known_empty: Option<usize>) -> Result<u64> {
        let p = req.placement;
        let list = self.topology.fallback(p);
        let preferred = list
            .iter()
            .next()
            .and_then(|(n, z)| self.arena(n, z))
            .ok_or(ENOMEM)?;
        let passes: &[bool] = if req.can_sleep {
            &[true, false]
        } else {
            &[true]
        };
        for &opportunistic in passes {
            let found = self.alloc_from_list(&list, req, opportunistic, false, known_empty.take());
            if let Some((arena, pfn)) = found {
                if arena.id != preferred.id {
                    preferred.count_fallback(arena);
                }
                return self.hand_out(arena, pfn, req);
            }
        }
        preferred.alloc_failures.fetch_add(1, Ordering::Relaxed);
        // As the host: __GFP_NOFAIL without direct reclaim cannot be
        // honoured (spinning in atomic context could lock up the CPU).
        if req.nofail && req.can_sleep {
            loop {
                if let Some((arena, pfn)) = self.alloc_from_list(&list, req, false, true, None) {
                    return self.hand_out(arena, pfn, req);
                }
                host::nofail_wait(req.can_sleep);
            }
        }
        Err(ENOMEM)
    }

    /// One pass over the fallback list; `ignore_limit` for `__GFP_NOFAIL`;
    /// `known_empty`: an arena not to ask again before growing it.
    fn alloc_from_list(
        &self,
        list: &logic::zonelist::Fallback<'_>,
        req: &AllocRequest,
        opportunistic: bool,
        ignore_limit: bool,
        known_empty: Option<usize>,
    ) -> Option<(&Arena, u64)> {
        // The arena of each node that may grow (the node's first in the
        // list: the request's highest zone there), and its growths in this
        // pass: a new block can be taken by another CPU before we allocate
        // from it, so retry, but boundedly.
        const MAX_GROWS: u8 = 4;
        // The list comes node by node: the first arena met of a node grows.
        let mut last_node = None;
        for (node, zone) in list.iter() {
            let Some(arena) = self.arena(node, zone) else {
                continue;
            };
            let may_grow = last_node != Some(node);
            last_node = Some(node);
            let mut grows = 0u8;
            let mut ask = known_empty != Some(arena.id);
            loop {
                if ask {
                    let got = arena.alloc_listed(req.order).or_buddy(arena, req.order);
                    if let Some(pfn) = got {
                        return Some((arena, pfn));
                    }
                }
                ask = true;
                if !may_grow || grows >= MAX_GROWS {
                    break;
                }
                grows += 1;
                match self.grow(arena, req.gfp, opportunistic, ignore_limit, false) {
                    // Another CPU may take the new block first: try again.
                    Ok(landed) if landed == arena.id => {}
                    // Landed in a lower zone (served when the list gets
                    // there), or no block.
                    Ok(_) | Err(_) => break,
                }
            }
        }
        None
    }

    /// Takes one block from the host for `arena`'s node with `arena`'s zone
    /// as the highest, and files it under the arena of the zone it really
    /// landed in (`strict`: only `arena` itself, for the prefill knob).
    /// Returns the id of the arena that got it.
    pub(crate) fn grow(
        &self,
        arena: &Arena,
        gfp: u32,
        opportunistic: bool,
        ignore_limit: bool,
        strict: bool,
    ) -> Result<usize, GrowError> {
        arena.begin_growth(ignore_limit)?;
        let taken = HostBlock::take(arena.node, arena.zone, gfp, opportunistic);
        let block = match taken {
            Ok(host) => OwnedBlock::new(host, gfp).map_err(|_| Some(false)),
            Err(TakeError::Mismatch) => Err(Some(true)),
            Err(TakeError::NoMemory) => Err(Some(false)),
        };
        let block = match block {
            Ok(block) => block,
            Err(failure) => {
                arena.end_growth(failure);
                return Err(GrowError::NoMemory);
            }
        };
        // Movable growth may take movable (and CMA) pageblocks of lower
        // zones; rkmem's pages cannot migrate, so only Movable keeps them.
        let target = if block.zone() == arena.zone {
            Some(arena)
        } else if strict || arena.zone == ZoneType::Movable {
            None
        } else {
            self.arena(arena.node, block.zone())
        };
        let Some(target) = target else {
            arena.end_growth(Some(true));
            drop(block);
            return Err(GrowError::NoMemory);
        };
        let result = target.install(&self.map, &self.offlining, block, target.id == arena.id);
        arena.end_growth(None);
        match result {
            Ok(()) => Ok(target.id),
            // Dropping the block gives it back to the host.
            Err(block) => {
                drop(block);
                Err(GrowError::NoMemory)
            }
        }
    }

    /// Marks a chunk handed out and prepares its pages for the caller.
    #[inline]
    fn hand_out(&self, arena: &Arena, pfn: u64, req: &AllocRequest) -> Result<u64> {
        let tagged = self
            .map
            .lookup(pfn)
            .filter(|owner| owner.arena == arena.id)
            .and_then(|owner| arena.tags(owner.slot))
            .is_some_and(|tags| tags.set(block_offset(pfn), req.order));
        if !tagged {
            // The chunk was already live: a bug in rkmem. Never hand it out
            // twice; keep it out of circulation and say so.
            pr_err!(
                "pfn {:#x} order {} was about to be handed out twice; withheld\n",
                pfn,
                req.order
            );
            return Err(EIO);
        }
        pages::prep_chunk(pfn, req.order, req.zero, req.comp);
        Ok(pfn)
    }

    /// Frees pages from [`Rkmem::alloc_pages`] as `__free_pages` does: drops
    /// the caller's reference and takes the chunk back when it was the last.
    /// A bad free (foreign page, tail page, wrong order, order above the
    /// maximum, a page already free) is refused, counted per kind and
    /// reported with a rate-limited warning; state does not change.
    #[inline]
    pub(crate) fn free_pages(&self, pfn: u64, order: u32) {
        if let Err(kind) = self.try_free(pfn, order) {
            self.report_refused_free(pfn, order, kind);
        }
    }

    #[inline]
    fn try_free(&self, pfn: u64, order: u32) -> Result<(), BadInput> {
        if order > MAX_ORDER {
            return Err(BadInput::FreeOrderTooBig);
        }
        let owner = self.map.lookup(pfn);
        let arena = owner.and_then(|o| self.arenas.get(o.arena));
        let (Some(owner), Some(arena)) = (owner, arena) else {
            return Err(BadInput::FreeUnowned);
        };
        let refuse = |e| {
            arena.refused_frees.fetch_add(1, Ordering::Relaxed);
            Err(e)
        };
        let Some(tags) = arena.tags(owner.slot) else {
            return Err(BadInput::FreeUnowned);
        };
        let offset = block_offset(pfn);
        if !tags.is_set(offset, order) {
            // No chunk of this order handed out here: what is live around
            // it tells a wrong order, a tail page and a page already free
            // (on a per-CPU list or in the buddy) apart.
            return refuse(classify_refused_free(offset, order, |start, o| {
                tags.is_set(start, o)
            }));
        }
        match pages::put_chunk(pfn, order) {
            pages::Put::Last => {}
            // Someone still holds a reference (get_page): the last free frees.
            pages::Put::Referenced => return Ok(()),
            pages::Put::AlreadyFree => return refuse(BadInput::DoubleFree),
            // The head of a compound page of another order.
            pages::Put::WrongOrder => return refuse(BadInput::FreeWrongOrder),
        }
        if !tags.clear(offset, order) {
            // Only the free that dropped the last reference gets here, and
            // the tag was set: rkmem's own bookkeeping is broken.
            pr_err!("pfn {:#x} order {}: tag lost under a free\n", pfn, order);
            return refuse(BadInput::DoubleFree);
        }
        if arena.free_listed(&self.map, pfn, order) {
            return Ok(());
        }
        arena
            .buddy_free(owner.slot, pfn, order)
            .map_err(|e| match e {
                FreeError::NotOwned => BadInput::FreeUnowned,
                FreeError::Misaligned | FreeError::NotAllocated => BadInput::FreeWrongOrder,
                FreeError::DoubleFree => BadInput::DoubleFree,
            })
    }

    /// `pfn`, if it is in a block rkmem holds, vouched for the slab layer,
    /// with its node.
    pub(crate) fn owned_pfn(&self, pfn: u64) -> Option<(host::slab::OwnedPfn, usize)> {
        let owner = self.map.lookup(pfn)?;
        let arena = self.arenas.get(owner.arena)?;
        Some((host::slab::OwnedPfn::vouched(pfn), arena.node))
    }

    /// `pfn`, if it is in a block rkmem holds, vouched for the slab layer.
    #[inline]
    pub(crate) fn owns(&self, pfn: u64) -> Option<host::slab::OwnedPfn> {
        self.map
            .lookup(pfn)
            .map(|_| host::slab::OwnedPfn::vouched(pfn))
    }

    /// Nodes with memory in the order a request preferring `node` visits
    /// them (the host's zonelist order).
    pub(crate) fn node_order(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        self.topology
            .node_order(node)
            .iter()
            .map(|&n| usize::from(n))
    }

    /// Gives every CPU's listed pages of every arena back to the buddy.
    pub(crate) fn drain_all(&self) -> usize {
        self.arenas.iter().map(|a| a.drain_lists(&self.map)).sum()
    }

    /// CPU hotplug: `cpu` is dead; its lists go back to the buddy.
    pub(crate) fn cpu_dead(&self, cpu: usize) {
        for arena in self.arenas.iter() {
            arena.drain_cpu(&self.map, cpu);
        }
    }

    /// Pages on `node` that a shrink could give back now.
    /// Pages on per-CPU lists count too: a scan drains them first, which
    /// may free whole blocks.
    pub(crate) fn shrink_count(&self, node: usize) -> usize {
        self.arenas
            .iter()
            .filter(|a| a.node == node)
            .map(|a| a.whole_free_blocks() * BLOCK_PAGES + a.pcp_pages())
            .sum()
    }

    /// Gives back at least `nr_pages` pages on `node` if it can (whole
    /// blocks, after draining the node's per-CPU lists); returns pages
    /// given back.
    pub(crate) fn shrink_scan(&self, node: usize, nr_pages: usize) -> usize {
        let mut freed = 0;
        for arena in self.arenas.iter().filter(|a| a.node == node) {
            arena.drain_lists(&self.map);
        }
        for arena in self.arenas.iter().filter(|a| a.node == node) {
            if freed >= nr_pages {
                break;
            }
            // The host's reclaim, in process context (`do_shrink_slab`
            // reschedules between batches too); bounded by `nr_pages`.
            let blocks = (nr_pages - freed).div_ceil(BLOCK_PAGES);
            freed += arena.shrink(&self.map, blocks, host::LongLoop::ToTheEnd) * BLOCK_PAGES;
        }
        freed
    }

    /// Unload: frees what the test knob holds, gives every free block back,
    /// and accounts for every block ever taken.
    fn teardown(&self) {
        {
            let mut test = self.test.lock();
            while let Some((pfn, order)) = test.held.pop() {
                self.free_pages(pfn, order);
                host::cond_resched();
            }
        }
        self.drain_all();
        let (mut taken, mut returned, mut kept, mut in_use) = (0, 0, 0, 0);
        for arena in self.arenas.iter() {
            let (k, u) = arena.teardown(&self.map);
            let snap = arena.snapshot();
            taken += snap.stats.grows;
            returned += snap.stats.shrinks;
            kept += k;
            in_use += u;
        }
        if kept > 0 {
            pr_err!(
                "unload with {} pages still allocated: keeping their {} blocks from the host (leaked on purpose)\n",
                in_use,
                kept
            );
        }
        pr_info!(
            "unload: took {} blocks from the host, returned {}, kept {}\n",
            taken,
            returned,
            kept
        );
    }
}

/// Where a pfn sits inside its block.
fn block_offset(pfn: u64) -> usize {
    (pfn % BLOCK_PAGES as u64) as usize
}

/// The loaded module: its state and registrations, torn down in order.
struct RkmemModule {
    /// The `fail_*` attributes: disarmed first at unload.
    faults: Option<host::fault::FaultAttrs>,
    debugfs: Option<DebugfsDir>,
    /// The mempool layer; torn down before the slab layer it allocates from.
    mempools: Option<host::mempool::PublishedMempools>,
    /// The slab layer; torn down before the pages layer it allocates from.
    slabs: Option<host::slab::PublishedSlabs>,
    shrinker: Option<Shrinker>,
    memory_notifier: Option<MemoryNotifier>,
    hotplug: Option<CpuHotplug>,
    state: Option<Published>,
    /// Block metadata objects; destroyed after the state (all freed).
    meta_cache: Option<MetaCache<BlockMeta>>,
}

impl kernel::Module for RkmemModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if host::max_order() != MAX_ORDER {
            return Err(EINVAL);
        }
        let meta_cache = MetaCache::new(c_str!("rkmem_block_meta"))?;
        let state = Published::new(Rkmem::new(meta_cache.object_size())?);
        host::slab::init_geometry();
        let debug = match host::slub_debug_param() {
            Some(p) => {
                let text = p.to_str().map_err(|_| EINVAL)?;
                logic::cmd::parse_slab_letters(text, false).map_err(|_| EINVAL)?
            }
            None => 0,
        };
        let slabs = host::slab::PublishedSlabs::new(KBox::new(
            slab::Slabs::new(state.get().nr_nodes(), debug, host::random_u64())?,
            GFP_KERNEL,
        )?);
        let mempools = host::mempool::PublishedMempools::new(KBox::pin_init(
            mempool::Mempools::new(),
            GFP_KERNEL,
        )?);
        let hotplug = CpuHotplug::register()?;
        let shrinker = Shrinker::register()?;
        let memory_notifier = MemoryNotifier::register()?;
        let dir = DebugfsDir::new(c_str!("rkmem"));
        debugfs::create_files(&dir);
        debugfs::create_slab_dirs(&dir, slabs.get());
        let faults = host::fault::FaultAttrs::register(&dir);
        let rk = state.get();
        pr_info!(
            "loaded: {} arenas on {} nodes\n",
            rk.arenas.len(),
            rk.nr_nodes()
        );
        Ok(RkmemModule {
            faults: Some(faults),
            debugfs: Some(dir),
            mempools: Some(mempools),
            slabs: Some(slabs),
            shrinker: Some(shrinker),
            memory_notifier: Some(memory_notifier),
            hotplug: Some(hotplug),
            state: Some(state),
            meta_cache: Some(meta_cache),
        })
    }
}

impl Drop for RkmemModule {
    fn drop(&mut self) {
        // Teardown runs without injection.
        drop(self.faults.take());
        // No callback may run once these are gone: then the state can go.
        debugfs::remove_slab_dirs();
        drop(self.debugfs.take());
        drop(self.shrinker.take());
        drop(self.memory_notifier.take());
        drop(self.hotplug.take());
        if let (Some(pools), Some(state)) = (self.mempools.take(), self.state.as_ref()) {
            state.get().teardown_test_pools(pools.get());
            pools.get().teardown();
            drop(pools);
        }
        if let (Some(slabs), Some(state)) = (self.slabs.take(), self.state.as_ref()) {
            slabs.get().teardown(state.get());
            drop(slabs);
        }
        if let Some(state) = self.state.take() {
            state.get().teardown();
            drop(state);
        }
        drop(self.meta_cache.take());
    }
}
