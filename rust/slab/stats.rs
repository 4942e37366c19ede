// SPDX-License-Identifier: GPL-2.0
//! Statistics and checks: SLUB's per-CPU event counters, the per-node
//! slab and object counts, and `validate`.

use super::*;

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
    pub(super) fn publish(&self, c: &CpuSlab) {
        let n = c.active().is_some() as u64 + c.partial.len() as u64;
        self.slabs.store(n, Ordering::Relaxed);
    }

    #[inline]
    pub(super) fn inc(&self, s: Stat) {
        self.add(s, 1)
    }

    #[inline]
    pub(super) fn add(&self, s: Stat, n: u64) {
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

/// The result of the last `validate`.
#[derive(Default)]
pub(super) struct ValidateResult {
    slabs: AtomicU64,
    objects: AtomicU64,
    errors: AtomicU64,
}

impl Cache {
    /// Counts `s` on this CPU.
    pub(super) fn count(&self, s: Stat) {
        self.cpu.here().1.inc(s);
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
}
