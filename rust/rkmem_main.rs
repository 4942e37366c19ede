// SPDX-License-Identifier: GPL-2.0
//! rkmem: a parallel memory-management subsystem, as a module.
//!
//! Layers (see README.md, "Design"): host page source and buddy allocator
//! per (node, zone) arena ([`arena`]), over the pure logic in [`logic`]; a
//! page request's way through them ([`pages`]), the per-CPU lists ([`pcp`]),
//! object caches ([`slab`]) and mempools ([`mempool`]); the host boundary ([`host`], the only `unsafe` code) and C glue
//! (`host_glue.c`); debugfs reports and knobs ([`debugfs`]). Refused bad
//! input to the C API is in [`bad_input`], memory offline in
//! [`memory_offline`].

use core::sync::atomic::AtomicU64;

use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::{c_str, new_mutex};

mod arena;
mod bad_input;
mod debugfs;
pub(crate) mod host;
mod memory_offline;
mod mempool;
mod pages;
mod pcp;
mod slab;
// Pure logic shared with the userspace test crate; later layers use more of it.
#[allow(dead_code, unreachable_pub)]
mod logic;

use arena::{Arena, OfflineWindow, PfnMap};
use host::memhotplug::MemoryNotifier;
use host::pages::MetaCache;
use host::percpu::CpuHotplug;
use host::{DebugfsDir, Published, Shrinker};
use logic::bad_input::BadInput;
use logic::blockmap::BlockMap;
use logic::buddy::BlockMeta;
use logic::order::{BLOCK_PAGES, MAX_ORDER};
use logic::zonelist::{topology_storage, Topology, ZoneType, NR_ZONES};
pub(crate) use pages::AllocRequest;

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
