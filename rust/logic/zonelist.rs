// SPDX-License-Identifier: GPL-2.0
//! Zone types and the fallback order of an allocation, like the host's
//! node-ordered zonelists: the preferred node first, then the other nodes by
//! distance; within a node from the highest allowed zone down.

/// Most NUMA nodes rkmem manages (nodes beyond are ignored, with a warning).
pub const MAX_NODES: usize = 8;
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

/// Node distances (the SLIT) and which (node, zone) arenas exist.
pub struct Topology {
    /// Number of node ids in use (`0..nr_nodes`).
    pub nr_nodes: usize,
    /// `distance[a][b]`, as `node_distance(a, b)`.
    pub distance: [[u8; MAX_NODES]; MAX_NODES],
    /// `present[node][zone]`: the arena exists (node online, zone populated).
    pub present: [[bool; NR_ZONES]; MAX_NODES],
}

/// An ordered list of (node, zone) to try.
pub struct Fallback {
    entries: [(u8, ZoneType); MAX_NODES * NR_ZONES],
    len: usize,
}

impl Fallback {
    /// The (node, zone) pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, ZoneType)> + '_ {
        self.entries[..self.len]
            .iter()
            .map(|&(n, z)| (n as usize, z))
    }
}

impl Topology {
    /// Nodes in the order a request preferring `node` visits them: `node`
    /// first, then the rest by distance (ties by node id, like the host).
    pub fn node_order(&self, node: usize) -> ([u8; MAX_NODES], usize) {
        let mut order = [0u8; MAX_NODES];
        let mut len = 0;
        if node < self.nr_nodes {
            order[0] = node as u8;
            len = 1;
        }
        let mut others = [0u8; MAX_NODES];
        let mut n_others = 0;
        for other in 0..self.nr_nodes.min(MAX_NODES) {
            if other != node {
                others[n_others] = other as u8;
                n_others += 1;
            }
        }
        let row = node.min(MAX_NODES - 1);
        others[..n_others].sort_unstable_by_key(|&o| (self.distance[row][o as usize], o));
        order[len..len + n_others].copy_from_slice(&others[..n_others]);
        (order, len + n_others)
    }

    /// The fallback list of `placement`: only arenas that exist.
    pub fn fallback(&self, placement: Placement) -> Fallback {
        let mut list = Fallback {
            entries: [(0, ZoneType::Dma); MAX_NODES * NR_ZONES],
            len: 0,
        };
        let (nodes, n) = self.node_order(placement.node);
        let n = if placement.this_node { n.min(1) } else { n };
        for &node in &nodes[..n] {
            for zone in ZoneType::ALL.iter().rev() {
                if *zone <= placement.highest_zone && self.present[node as usize][*zone as usize] {
                    list.entries[list.len] = (node, *zone);
                    list.len += 1;
                }
            }
        }
        list
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// The standard test VM: node 0 DMA, DMA32, Normal, Movable; node 1 Normal, Movable.
    fn vm() -> Topology {
        let mut t = Topology {
            nr_nodes: 2,
            distance: [[0; MAX_NODES]; MAX_NODES],
            present: [[false; NR_ZONES]; MAX_NODES],
        };
        t.distance[0][0] = 10;
        t.distance[1][1] = 10;
        t.distance[0][1] = 20;
        t.distance[1][0] = 20;
        t.present[0] = [true, true, true, true];
        t.present[1] = [false, false, true, true];
        t
    }

    fn list(
        t: &Topology,
        node: usize,
        zone: ZoneType,
        this_node: bool,
    ) -> Vec<(usize, &'static str)> {
        t.fallback(Placement {
            node,
            highest_zone: zone,
            this_node,
        })
        .iter()
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
    }

    #[test]
    fn nodes_sorted_by_distance() {
        let mut t = vm();
        t.nr_nodes = 4;
        for a in 0..4 {
            for b in 0..4 {
                t.distance[a][b] = if a == b {
                    10
                } else {
                    10 + 10 * (a as i32 - b as i32).unsigned_abs() as u8
                };
            }
        }
        t.distance[2][0] = 15;
        let (order, n) = t.node_order(2);
        assert_eq!(&order[..n], &[2, 0, 1, 3]);
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
