// SPDX-License-Identifier: GPL-2.0
//! rkmem: a parallel memory-management subsystem, as a module.
//!
//! Layers (see README.md, "Design"): host page source and buddy allocator
//! per (node, zone) arena ([`arena`]), over the pure logic in [`logic`]; the
//! host boundary ([`host`], the only `unsafe` code) and C glue
//! (`host_glue.c`); debugfs reports and knobs ([`debugfs`]).

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::{c_str, new_mutex};

mod arena;
mod debugfs;
pub(crate) mod host;
// Pure logic shared with the userspace test crate; later layers use more of it.
#[allow(dead_code, unreachable_pub)]
mod logic;

use arena::{Arena, GrowError, PfnMap};
use host::{DebugfsDir, Published, Shrinker};
use logic::blockmap::BlockMap;
use logic::buddy::FreeError;
use logic::order::{BLOCK_PAGES, MAX_ORDER};
use logic::zonelist::{Placement, Topology, ZoneType, MAX_NODES, NR_ZONES};

module! {
    type: RkmemModule,
    name: "rkmem",
    author: "rkmem developers",
    description: "A parallel memory-management subsystem: page source, buddy, debugfs",
    license: "GPL",
}

/// Pages the `test` knob holds for selftests, and its last benchmark.
pub(crate) struct TestState {
    held: Held,
    bench: Option<BenchResult>,
}

/// A stack of held (pfn, order) chunks. (6.12's kernel `Vec` has no `pop`:
/// entries beyond `len` are stale and get overwritten.)
pub(crate) struct Held {
    items: KVVec<(u64, u32)>,
    len: usize,
}

impl Held {
    fn new() -> Self {
        Held {
            items: KVVec::new(),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn iter(&self) -> impl Iterator<Item = &(u64, u32)> {
        self.items.as_slice()[..self.len].iter()
    }

    /// Makes room for `additional` more chunks (may sleep).
    fn reserve(&mut self, additional: usize) -> Result {
        let short = (self.len + additional).saturating_sub(self.items.len());
        self.items.extend_with(short, (0, 0), GFP_KERNEL)?;
        Ok(())
    }

    /// Pushes into reserved room; `false` if there is none.
    fn push(&mut self, item: (u64, u32)) -> bool {
        match self.items.as_mut_slice().get_mut(self.len) {
            Some(slot) => {
                *slot = item;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    fn pop(&mut self) -> Option<(u64, u32)> {
        self.len = self.len.checked_sub(1)?;
        self.items.as_slice().get(self.len).copied()
    }
}

/// Median ns of one alloc+free pair, rkmem and host, from one interleaved run.
#[derive(Clone, Copy)]
pub(crate) struct BenchResult {
    order: u32,
    count: u64,
    rkmem_ns: u64,
    host_ns: u64,
}

/// The module's state: every arena and the map from blocks to arenas.
#[pin_data]
pub(crate) struct Rkmem {
    topology: Topology,
    arenas: KVec<Pin<KBox<Arena>>>,
    /// `arena_of[node][zone]`: index in `arenas`.
    arena_of: [[Option<u8>; NR_ZONES]; MAX_NODES],
    map: PfnMap,
    #[pin]
    test: Mutex<TestState>,
    /// Frees refused because no arena owns the page.
    unowned_frees: AtomicU64,
    /// Each kind of refused free is reported once.
    warned: [AtomicBool; 3],
}

impl Rkmem {
    fn new() -> Result<Pin<KBox<Self>>> {
        let nr_nodes = host::nr_node_ids().min(MAX_NODES);
        if host::nr_node_ids() > MAX_NODES {
            pr_warn!("only the first {} nodes are managed\n", MAX_NODES);
        }
        let mut topology = Topology {
            nr_nodes,
            distance: [[0; MAX_NODES]; MAX_NODES],
            present: [[false; NR_ZONES]; MAX_NODES],
        };
        let mut arenas = KVec::new();
        let mut arena_of = [[None; NR_ZONES]; MAX_NODES];
        let (mut first_pfn, mut end_pfn) = (u64::MAX, 0);
        for node in (0..nr_nodes).filter(|&n| host::node_online(n)) {
            for other in (0..nr_nodes).filter(|&n| host::node_online(n)) {
                topology.distance[node][other] = host::node_distance(node, other);
            }
            let (start, end) = host::node_pfn_range(node);
            first_pfn = first_pfn.min(start);
            end_pfn = end_pfn.max(end);
            for zone in ZoneType::ALL {
                let Some(info) = host::zone_info(node, zone) else {
                    continue;
                };
                topology.present[node][zone as usize] = true;
                arena_of[node][zone as usize] = Some(arenas.len() as u8);
                arenas.push(Arena::new(arenas.len(), node, zone, info)?, GFP_KERNEL)?;
            }
        }
        if arenas.is_empty() {
            return Err(ENODEV);
        }
        let blocks = PfnMap::blocks_for(first_pfn, end_pfn);
        let mut entries = KVec::with_capacity(blocks, GFP_KERNEL)?;
        for _ in 0..blocks {
            entries.push(AtomicU32::new(0), GFP_KERNEL)?;
        }
        let map = BlockMap::new(first_pfn, entries);
        KBox::pin_init(
            pin_init!(Rkmem {
                topology,
                arenas,
                arena_of,
                map,
                test <- new_mutex!(TestState { held: Held::new(), bench: None }, "rkmem_test"),
                unowned_frees: AtomicU64::new(0),
                warned: [const { AtomicBool::new(false) }; 3],
            }),
            GFP_KERNEL,
        )
    }

    fn arena(&self, node: usize, zone: ZoneType) -> Option<&Arena> {
        let index = (*self.arena_of.get(node)?.get(zone as usize)?)?;
        self.arenas.get(index as usize).map(|a| &**a)
    }

    /// Allocates `2^order` pages; returns the first pfn. Tries the arenas of
    /// the fallback list in order, each first from held blocks, then by
    /// growing (up to its limit); a request that may sleep makes one last
    /// pass that lets the host reclaim.
    pub(crate) fn alloc_pages(
        &self,
        placement: Placement,
        order: u32,
        can_sleep: bool,
    ) -> Result<u64> {
        if order > MAX_ORDER {
            return Err(EINVAL);
        }
        let list = self.topology.fallback(placement);
        let preferred = list
            .iter()
            .next()
            .and_then(|(n, z)| self.arena(n, z))
            .ok_or(ENOMEM)?;
        let passes: &[bool] = if can_sleep { &[true, false] } else { &[true] };
        for &opportunistic in passes {
            for (node, zone) in list.iter() {
                let Some(arena) = self.arena(node, zone) else {
                    continue;
                };
                let mut pfn = arena.alloc_held(order);
                while pfn.is_none() {
                    match arena.grow(&self.map, can_sleep, opportunistic) {
                        // Another CPU may take the new block first: try again.
                        Ok(()) => pfn = arena.alloc_held(order),
                        Err(GrowError::Capped | GrowError::NoMemory) => break,
                    }
                }
                if let Some(pfn) = pfn {
                    if arena.id != preferred.id {
                        preferred.count_fallback(arena);
                    }
                    return Ok(pfn);
                }
            }
        }
        preferred.alloc_failures.fetch_add(1, Ordering::Relaxed);
        Err(ENOMEM)
    }

    /// Frees pages from [`Rkmem::alloc_pages`]. A bad free is refused,
    /// counted, and reported once per kind; state does not change.
    pub(crate) fn free_pages(&self, pfn: u64, order: u32) {
        let result = match self.map.lookup(pfn) {
            Some(owner) => match self.arenas.get(owner.arena) {
                Some(arena) => arena.free(owner.slot, pfn, order),
                None => Err(FreeError::NotOwned),
            },
            None => Err(FreeError::NotOwned),
        };
        let Err(error) = result else { return };
        if error == FreeError::NotOwned {
            self.unowned_frees.fetch_add(1, Ordering::Relaxed);
        }
        let kind = error as usize;
        if !self.warned[kind].swap(true, Ordering::Relaxed) {
            pr_warn!(
                "refused free of pfn {:#x} order {}: {:?} (reported once per kind)\n",
                pfn,
                order,
                error
            );
        }
    }

    /// Pages on `node` that a shrink could give back now.
    pub(crate) fn shrink_count(&self, node: usize) -> usize {
        self.arenas
            .iter()
            .filter(|a| a.node == node)
            .map(|a| a.whole_free_blocks() * BLOCK_PAGES)
            .sum()
    }

    /// Gives back at least `nr_pages` pages on `node` if it can (whole
    /// blocks); returns pages given back.
    pub(crate) fn shrink_scan(&self, node: usize, nr_pages: usize) -> usize {
        let mut freed = 0;
        for arena in self.arenas.iter().filter(|a| a.node == node) {
            if freed >= nr_pages {
                break;
            }
            freed +=
                arena.shrink(&self.map, (nr_pages - freed).div_ceil(BLOCK_PAGES)) * BLOCK_PAGES;
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
            }
        }
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
    debugfs: Option<DebugfsDir>,
    shrinker: Option<Shrinker>,
    state: Published,
}

impl kernel::Module for RkmemModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        if host::max_order() != MAX_ORDER {
            return Err(EINVAL);
        }
        let state = Published::new(Rkmem::new()?);
        let shrinker = Shrinker::register()?;
        let dir = DebugfsDir::new(c_str!("rkmem"));
        debugfs::create_files(&dir);
        let rk = state.get();
        pr_info!(
            "loaded: {} arenas on {} nodes\n",
            rk.arenas.len(),
            rk.topology.nr_nodes
        );
        Ok(RkmemModule {
            debugfs: Some(dir),
            shrinker: Some(shrinker),
            state,
        })
    }
}

impl Drop for RkmemModule {
    fn drop(&mut self) {
        // No callback may run once these are gone: then the state can go.
        drop(self.debugfs.take());
        drop(self.shrinker.take());
        self.state.get().teardown();
    }
}
