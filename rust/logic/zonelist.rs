// SPDX-License-Identifier: GPL-2.0
//! Zone types and the fallback order of an allocation, like the host's
//! node-ordered zonelists: the preferred node first, then the other nodes by
//! distance; within a node from the highest allowed zone down.

/// Zones rkmem knows: the x86-64 zones that hold ordinary memory.
pub const NR_ZONES: usize = 4;

/// A memory zone, in the host's order (lower zones are more constrained).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ZoneType {
    /// Below 16 MiB.
    Dma = 0,
    /// Below 4 GiB.
    Dma32 = 1,
    /// Ordinary memory.
    Normal = 2,
    /// Memory for movable allocations only (`movablecore=`); rkmem pins what
    /// it takes, so it uses this zone only when asked to.
    Movable = 3,
}

impl ZoneType {
    /// All zones, lowest first.
    pub const ALL: [ZoneType; NR_ZONES] = [
        ZoneType::Dma,
        ZoneType::Dma32,
        ZoneType::Normal,
        ZoneType::Movable,
    ];

    /// The host's name of the zone, as in /proc/zoneinfo.
    pub const fn name(self) -> &'static str {
        match self {
            ZoneType::Dma => "DMA",
            ZoneType::Dma32 => "DMA32",
            ZoneType::Normal => "Normal",
            ZoneType::Movable => "Movable",
        }
    }

    /// Parses a zone name (as the host spells it, any case).
    pub fn from_name(name: &str) -> Option<ZoneType> {
        Self::ALL
            .into_iter()
            .find(|z| z.name().eq_ignore_ascii_case(name))
    }

    /// The zone with index `index` (0 = DMA).
    pub fn from_index(index: usize) -> Option<ZoneType> {
        Self::ALL.get(index).copied()
    }
}

/// What an allocation asks for: the GFP-like part of a request.
#[derive(Clone, Copy, Debug)]
pub struct Placement {
    /// Node to try first.
    pub node: usize,
    /// Highest zone allowed (the host's `gfp_zone()`); Movable only when asked.
    pub highest_zone: ZoneType,
    /// `__GFP_THISNODE`: never leave `node`.
    pub this_node: bool,
}

/// Node ids fit a `u16` (the host's `MAX_NUMNODES` is at most 1024).
pub const MAX_NODE_IDS: usize = 1 << 16;

const ZONE_MASK: u8 = (1 << NR_ZONES) - 1;
/// In a node's flags, above its zone bits: the node has CPUs.
const HAS_CPUS: u8 = 1 << NR_ZONES;

/// Node distances (the SLIT), which (node, zone) arenas exist, and every
/// node's fallback order of nodes, sized for the host's `nr_node_ids` at
/// load. `B` holds bytes (distances, node flags), `W` node ids: kernel
/// vectors in the module, `Vec`s in tests. Built once; then read only, on
/// the allocation path, without allocating.
pub struct Topology<B, W> {
    nr_nodes: usize,
    /// `distance[a * nr_nodes + b]`, as `node_distance(a, b)`.
    distance: B,
    /// Per node: bit `zone` when the (node, zone) arena exists; `HAS_CPUS`.
    flags: B,
    /// Row `node` (`nr_nodes` long): the nodes with memory in the order a
    /// request preferring `node` visits them; `nr_memory` of them are set.
    /// One more row at the end is scratch for [`Topology::build`].
    order: W,
    nr_memory: usize,
}

/// Storage a topology of `nr_nodes` nodes needs: bytes for distances, bytes
/// for node flags, node ids for the orders.
pub const fn topology_storage(nr_nodes: usize) -> (usize, usize, usize) {
    (nr_nodes * nr_nodes, nr_nodes, nr_nodes * (nr_nodes + 1))
}

/// The (node, zone) pairs a request tries, in order: nodes in the host's
/// fallback order (only `node` itself with `__GFP_THISNODE`), within a node
/// from the highest allowed zone down; only arenas that exist. Computed as
/// it goes, from the topology's precomputed node order: no storage.
#[derive(Clone)]
pub struct Fallback<'a> {
    flags: &'a [u8],
    nodes: &'a [u16],
    next_node: usize,
    allowed: u8,
    node: usize,
    zones_left: u8,
}

impl Fallback<'_> {
    /// The (node, zone) pairs in order, from the start.
    pub fn iter(&self) -> Self {
        self.clone()
    }
}

impl Iterator for Fallback<'_> {
    type Item = (usize, ZoneType);

    fn next(&mut self) -> Option<(usize, ZoneType)> {
        while self.zones_left == 0 {
            let &node = self.nodes.get(self.next_node)?;
            self.next_node += 1;
            self.node = node as usize;
            self.zones_left = self.flags.get(self.node).map_or(0, |f| f & self.allowed);
        }
        let zone = 7 - self.zones_left.leading_zeros() as usize;
        self.zones_left &= !(1 << zone);
        Some((self.node, ZoneType::from_index(zone)?))
    }
}

impl<B, W> Topology<B, W>
where
    B: core::ops::DerefMut<Target = [u8]>,
    W: core::ops::DerefMut<Target = [u16]>,
{
    /// A topology of `nr_nodes` nodes (no arena, no distance yet) over
    /// storage of the sizes [`topology_storage`] gives; `None` if it is
    /// shorter or there are more node ids than fit.
    pub fn new(nr_nodes: usize, mut distance: B, mut flags: B, order: W) -> Option<Self> {
        let need = topology_storage(nr_nodes);
        if nr_nodes == 0
            || nr_nodes > MAX_NODE_IDS
            || distance.len() < need.0
            || flags.len() < need.1
            || order.len() < need.2
        {
            return None;
        }
        distance.fill(0);
        flags.fill(0);
        Some(Topology {
            nr_nodes,
            distance,
            flags,
            order,
            nr_memory: 0,
        })
    }

    /// Number of node ids (`0..nr_nodes`), the host's `nr_node_ids`.
    pub fn nr_nodes(&self) -> usize {
        self.nr_nodes
    }

    /// Records `node_distance(a, b)`.
    pub fn set_distance(&mut self, a: usize, b: usize, distance: u8) {
        if a < self.nr_nodes && b < self.nr_nodes {
            self.distance[a * self.nr_nodes + b] = distance;
        }
    }

    /// `node_distance(a, b)`, 0 for ids out of range.
    pub fn distance(&self, a: usize, b: usize) -> u8 {
        if a < self.nr_nodes && b < self.nr_nodes {
            self.distance[a * self.nr_nodes + b]
        } else {
            0
        }
    }

    /// Records that the (node, zone) arena exists.
    pub fn set_present(&mut self, node: usize, zone: ZoneType) {
        if let Some(f) = self.flags.get_mut(node) {
            *f |= 1 << zone as u8;
        }
    }

    /// Whether the (node, zone) arena exists.
    pub fn present(&self, node: usize, zone: ZoneType) -> bool {
        self.flags
            .get(node)
            .is_some_and(|f| f & (1 << zone as u8) != 0)
    }

    /// Records that `node` has CPUs (the host prefers nodes without when
    /// distances tie, see [`Topology::build`]).
    pub fn set_has_cpus(&mut self, node: usize) {
        if let Some(f) = self.flags.get_mut(node) {
            *f |= HAS_CPUS;
        }
    }

    fn has_memory(&self, node: usize) -> bool {
        self.flags[node] & ZONE_MASK != 0
    }

    /// Computes every node's fallback order as the host's
    /// `build_zonelists()` does at boot (mm/page_alloc.c), nodes by id:
    /// the node itself first if it has memory, then by
    /// `find_next_best_node()`'s value: the distance, plus one for a node
    /// below it ("prefer the next node") and one for a node with CPUs,
    /// then the lowest `node_load` (the first node of each new distance
    /// group gets one more load, so equally far nodes take turns being
    /// first), then the lowest id. Only nodes with memory are listed.
    /// O(nodes^2 log nodes), once at load.
    pub fn build(&mut self) {
        let nr = self.nr_nodes;
        let memory: usize = (0..nr).filter(|&n| self.has_memory(n)).count();
        self.nr_memory = memory;
        let (rows, load) = self.order.split_at_mut(nr * nr);
        let load = &mut load[..nr];
        load.fill(0);
        for local in 0..nr {
            let row = &mut rows[local * nr..][..nr];
            let mut len = 0;
            for n in 0..nr {
                if self.flags[n] & ZONE_MASK != 0 {
                    row[len] = n as u16;
                    len += 1;
                }
            }
            let distance = &self.distance[local * nr..][..nr];
            let flags = &self.flags;
            let local_first = flags[local] & ZONE_MASK != 0;
            // Within one node's build, only the chosen node's load
            // changes, and it is then out of the running: one sort with
            // the loads as they were at the start gives the host's order.
            row[..len].sort_unstable_by_key(|&n| {
                let n = n as usize;
                let value =
                    distance[n] as u32 + u32::from(n < local) + u32::from(flags[n] & HAS_CPUS != 0);
                (!(local_first && n == local), value, load[n], n)
            });
            let mut prev = local;
            for &n in &row[..len] {
                let n = n as usize;
                if distance[n] != distance[prev] {
                    load[n] += 1;
                }
                prev = n;
            }
        }
    }

    /// Takes `node`'s order from the host's own zonelist (`host`: its nodes
    /// in order, as the host built them), after [`Topology::build`]: the
    /// host's inputs (which nodes had CPUs when it built them: none at
    /// boot on x86, where `build_all_zonelists` runs before any CPU joins
    /// `cpumask_of_node`; rebuilds on memory hotplug) cannot be recomputed
    /// at load. Ids without memory here, out of range or repeated are
    /// skipped; nodes with memory that `host` lacks follow, in the
    /// computed order. O(nodes).
    pub fn adopt_host_order(&mut self, node: usize, host: &[u16]) {
        let nr = self.nr_nodes;
        if node >= nr {
            return;
        }
        let len = self.nr_memory;
        let (rows, seen) = self.order.split_at_mut(nr * nr);
        let seen = &mut seen[..nr];
        let row = &mut rows[node * nr..][..len];
        // 1: listed by the host (first time); 2: placed.
        seen.fill(0);
        let mut taken = 0;
        for &n in host {
            let n = usize::from(n);
            if n < nr && self.flags[n] & ZONE_MASK != 0 && seen[n] == 0 {
                seen[n] = 1;
                taken += 1;
            }
        }
        // The computed nodes the host lacks, kept in order, to the end
        // (from the back: the write index never passes the read index).
        let mut write = len;
        for read in (0..len).rev() {
            let n = row[read];
            if seen[usize::from(n)] == 0 {
                write -= 1;
                row[write] = n;
            }
        }
        debug_assert_eq!(write, taken);
        let mut i = 0;
        for &n in host {
            let u = usize::from(n);
            if u < nr && seen[u] == 1 && i < write {
                seen[u] = 2;
                row[i] = n;
                i += 1;
            }
        }
    }

    /// Nodes with memory in the order a request preferring `node` visits
    /// them (empty for an id out of range).
    pub fn node_order(&self, node: usize) -> &[u16] {
        if node >= self.nr_nodes {
            return &[];
        }
        &self.order[node * self.nr_nodes..][..self.nr_memory]
    }

    /// The fallback list of `placement`: only arenas that exist.
    pub fn fallback(&self, placement: Placement) -> Fallback<'_> {
        let nodes = self.node_order(placement.node);
        let nodes = if placement.this_node {
            // Only the node itself: first in its order if it has memory.
            let own = nodes.first().is_some_and(|&n| n as usize == placement.node);
            &nodes[..usize::from(own)]
        } else {
            nodes
        };
        Fallback {
            flags: &self.flags,
            nodes,
            next_node: 0,
            allowed: (2u8 << placement.highest_zone as u8) - 1,
            node: 0,
            zones_left: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    type TestTopology = Topology<Vec<u8>, Vec<u16>>;

    fn topology(nr_nodes: usize) -> TestTopology {
        let (d, f, o) = topology_storage(nr_nodes);
        Topology::new(nr_nodes, vec![0; d], vec![0; f], vec![0; o]).unwrap()
    }

    /// The standard test VM: node 0 DMA, DMA32, Normal, Movable; node 1 Normal, Movable.
    fn vm() -> TestTopology {
        let mut t = topology(2);
        for a in 0..2 {
            for b in 0..2 {
                t.set_distance(a, b, if a == b { 10 } else { 20 });
            }
            t.set_has_cpus(a);
        }
        for z in ZoneType::ALL {
            t.set_present(0, z);
        }
        t.set_present(1, ZoneType::Normal);
        t.set_present(1, ZoneType::Movable);
        t.build();
        t
    }

    fn list(
        t: &TestTopology,
        node: usize,
        zone: ZoneType,
        this_node: bool,
    ) -> Vec<(usize, &'static str)> {
        t.fallback(Placement {
            node,
            highest_zone: zone,
            this_node,
        })
        .map(|(n, z)| (n, z.name()))
        .collect()
    }

    #[test]
    fn normal_request_falls_back_down_zones_then_to_far_node() {
        let t = vm();
        assert_eq!(
            list(&t, 1, ZoneType::Normal, false),
            [(1, "Normal"), (0, "Normal"), (0, "DMA32"), (0, "DMA")]
        );
        assert_eq!(
            list(&t, 0, ZoneType::Normal, false),
            [(0, "Normal"), (0, "DMA32"), (0, "DMA"), (1, "Normal")]
        );
    }

    #[test]
    fn movable_only_when_asked_and_thisnode_never_leaves() {
        let t = vm();
        assert_eq!(
            list(&t, 1, ZoneType::Movable, true),
            [(1, "Movable"), (1, "Normal")]
        );
        assert_eq!(
            list(&t, 0, ZoneType::Dma32, false),
            [(0, "DMA32"), (0, "DMA")]
        );
        assert_eq!(list(&t, 1, ZoneType::Dma, true), []);
        assert_eq!(list(&t, 2, ZoneType::Normal, false), [], "no such node");
    }

    #[test]
    fn nodes_sorted_by_distance_then_after_self() {
        let mut t = topology(4);
        for a in 0..4 {
            for b in 0..4 {
                let far = 10 + 10 * (a as i32 - b as i32).unsigned_abs() as u8;
                t.set_distance(a, b, if a == b { 10 } else { far });
            }
            t.set_present(a, ZoneType::Normal);
        }
        t.set_distance(2, 0, 15);
        t.build();
        // From 2: node 0 at 15 (+1: below 2), node 3 at 20, node 1 at 20
        // (+1: below 2), the host's "prefer the next node".
        assert_eq!(t.node_order(2), &[2, 0, 3, 1]);
        assert_eq!(t.node_order(9), &[] as &[u16]);
    }

    /// The host's own loop, transcribed from mm/page_alloc.c (6.12)
    /// `build_zonelists()` / `find_next_best_node()` over all node ids in
    /// order with one shared `node_load`, `MAX_NUMNODES` 1024: the
    /// reference the one-sort-per-node build is checked against.
    fn host_orders(t: &TestTopology, nr: usize) -> Vec<Vec<u16>> {
        const MAX_NUMNODES: i64 = 1024;
        let memory = |n: usize| t.flags[n] & ZONE_MASK != 0;
        let cpus = |n: usize| t.flags[n] & HAS_CPUS != 0;
        let mut node_load = vec![0i64; nr];
        let mut orders = vec![];
        for local in 0..nr {
            let mut used = vec![false; nr];
            let find_next_best_node = |used: &mut Vec<bool>, node_load: &Vec<i64>| {
                if !used[local] && memory(local) {
                    used[local] = true;
                    return Some(local);
                }
                let (mut min_val, mut best) = (i64::MAX, None);
                for n in (0..nr).filter(|&n| memory(n)) {
                    if used[n] {
                        continue;
                    }
                    let mut val = t.distance(local, n) as i64;
                    val += i64::from(n < local);
                    if cpus(n) {
                        val += 1;
                    }
                    val *= MAX_NUMNODES;
                    val += node_load[n];
                    if val < min_val {
                        min_val = val;
                        best = Some(n);
                    }
                }
                if let Some(b) = best {
                    used[b] = true;
                }
                best
            };
            let mut order = vec![];
            let mut prev = local;
            while let Some(node) = find_next_best_node(&mut used, &node_load) {
                if t.distance(local, node) != t.distance(local, prev) {
                    node_load[node] += 1;
                }
                order.push(node as u16);
                prev = node;
            }
            orders.push(order);
        }
        orders
    }

    /// 64 nodes as on a big server: 8 sockets of 8 sub-NUMA nodes; SLIT 10
    /// local, 12 in the socket, 21 to a neighbouring socket, 32 farther.
    /// Every fourth node has no CPUs (CXL-like memory), nodes 13 and 50
    /// have no memory (CPUs only), node 7 only DMA32, node 0 all zones.
    fn big_server() -> TestTopology {
        const NR: usize = 64;
        let mut t = topology(NR);
        for a in 0..NR {
            for b in 0..NR {
                let (sa, sb) = (a / 8, b / 8);
                let d = if a == b {
                    10
                } else if sa == sb {
                    12
                } else if sa.abs_diff(sb) == 1 || sa.abs_diff(sb) == 7 {
                    21
                } else {
                    32
                };
                t.set_distance(a, b, d);
            }
            if a % 4 != 3 {
                t.set_has_cpus(a);
            }
            match a {
                13 | 50 => {}
                0 => ZoneType::ALL.iter().for_each(|&z| t.set_present(0, z)),
                7 => t.set_present(7, ZoneType::Dma32),
                _ => {
                    t.set_present(a, ZoneType::Normal);
                    if a % 2 == 0 {
                        t.set_present(a, ZoneType::Movable);
                    }
                }
            }
        }
        t.build();
        t
    }

    #[test]
    fn sixty_four_nodes_follow_the_hosts_zonelist_rules() {
        let t = big_server();
        let reference = host_orders(&t, 64);
        for (node, host_order) in reference.iter().enumerate() {
            assert_eq!(t.node_order(node), &host_order[..], "node {node}");
            assert_eq!(t.node_order(node).len(), 62, "every node with memory once");
        }
        // Spot checks: own node first, then its socket: the CPU-less 11
        // and 15 (tied; 15 less loaded), the others above 9, then 8
        // (below 9); then the next socket up (23: CPU-less, above 9).
        assert_eq!(&t.node_order(9)[..8], &[9, 15, 11, 10, 12, 14, 8, 23]);
        assert!(
            !t.node_order(13).contains(&13),
            "memoryless node not listed"
        );
        assert_eq!(t.node_order(13)[0], 15, "a memoryless node starts nearby");
        // Equally far nodes take turns being first in a distance group.
        let firsts_far: std::collections::BTreeSet<u16> =
            (0..8).map(|n| t.node_order(n)[8]).collect();
        assert!(firsts_far.len() > 1, "node_load spreads the far groups");
    }

    #[test]
    fn sixty_four_nodes_fallback_lists() {
        let t = big_server();
        let all = list(&t, 40, ZoneType::Movable, false);
        let order = t.node_order(40);
        // Grouped by node in node order, each node's zones highest first.
        let mut expected = vec![];
        for &n in order {
            for z in ZoneType::ALL.iter().rev() {
                if t.present(n as usize, *z) {
                    expected.push((n as usize, z.name()));
                }
            }
        }
        assert_eq!(all, expected);
        // Node 0: 4 zones, node 7: 1; 30 more even nodes with 2, 30 odd with 1.
        assert_eq!(all.len(), 4 + 1 + 30 * 2 + 30, "zones over nodes");
        assert_eq!(
            list(&t, 40, ZoneType::Movable, true),
            [(40, "Movable"), (40, "Normal")]
        );
        assert_eq!(list(&t, 13, ZoneType::Normal, true), [], "memoryless");
        assert_eq!(list(&t, 13, ZoneType::Normal, false)[0], (15, "Normal"));
        let dma = list(&t, 63, ZoneType::Dma, false);
        assert_eq!(dma, [(0, "DMA")], "only node 0 has DMA");
        assert_eq!(list(&t, 64, ZoneType::Normal, false), []);
    }

    /// The host's own order wins over the computed one (on x86 the host
    /// built its zonelists before any node had CPUs); what the host lists
    /// that has no memory here, is out of range or repeated is skipped,
    /// and memory nodes it lacks follow in the computed order.
    #[test]
    fn host_order_adopted_with_junk_skipped_and_missing_appended() {
        let mut t = big_server();
        let computed: Vec<u16> = t.node_order(9).to_vec();
        // The host's order without the CPU penalty.
        let mut plain = big_server();
        for n in 0..64 {
            plain.flags[n] &= !HAS_CPUS;
        }
        plain.build();
        let host: Vec<u16> = plain.node_order(9).to_vec();
        assert_ne!(host, computed, "the CPU penalty changes node 9's order");
        t.adopt_host_order(9, &host);
        assert_eq!(t.node_order(9), &host[..]);
        // Junk and a short list: 13 (no memory), 99 (no such id), repeats;
        // the host lacks all but 3 nodes.
        t.adopt_host_order(20, &[20, 13, 99, 22, 20, 22, 5]);
        let row = t.node_order(20);
        assert_eq!(&row[..3], &[20, 22, 5]);
        let rest: Vec<u16> = computed_without(&big_server(), 20, &[20, 22, 5]);
        assert_eq!(&row[3..], &rest[..]);
        assert_eq!(row.len(), 62);
        // Empty host list (not a possible node): the computed order stays.
        let before = t.node_order(30).to_vec();
        t.adopt_host_order(30, &[]);
        assert_eq!(t.node_order(30), &before[..]);
        t.adopt_host_order(64, &[1, 2]);
        // Other rows untouched.
        assert_eq!(t.node_order(31), big_server().node_order(31));
    }

    fn computed_without(t: &TestTopology, node: usize, skip: &[u16]) -> Vec<u16> {
        t.node_order(node)
            .iter()
            .copied()
            .filter(|n| !skip.contains(n))
            .collect()
    }

    #[test]
    fn storage_too_small_or_too_many_nodes_is_refused() {
        assert!(TestTopology::new(4, vec![0; 15], vec![0; 4], vec![0; 20]).is_none());
        assert!(TestTopology::new(4, vec![0; 16], vec![0; 4], vec![0; 19]).is_none());
        assert!(TestTopology::new(0, vec![], vec![], vec![]).is_none());
        assert!(TestTopology::new(4, vec![0; 16], vec![0; 4], vec![0; 20]).is_some());
    }

    #[test]
    fn zone_names_round_trip() {
        for z in ZoneType::ALL {
            assert_eq!(ZoneType::from_name(z.name()), Some(z));
        }
        assert_eq!(ZoneType::from_name("normal"), Some(ZoneType::Normal));
        assert_eq!(ZoneType::from_name("HighMem"), None);
    }
}
