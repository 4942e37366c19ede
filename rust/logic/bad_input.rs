// SPDX-License-Identifier: GPL-2.0
//! Bad input to the C API: the kinds rkmem refuses, counts (each in its own
//! `zoneinfo` row) and reports with one rate-limited warning per kind, and
//! how a refused page free is told apart.

use super::order::{is_aligned, MAX_ORDER};

/// One kind of bad input. A refused call changes nothing in rkmem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadInput {
    /// `rkmem_free_pages` of a page rkmem does not hold (a host page).
    FreeUnowned = 0,
    /// `rkmem_free_pages` of a page inside a live chunk, not its first.
    FreeTail = 1,
    /// `rkmem_free_pages` of a live chunk's first page with another order.
    FreeWrongOrder = 2,
    /// `rkmem_free_pages` with an order above `MAX_PAGE_ORDER`.
    FreeOrderTooBig = 3,
    /// `rkmem_free_pages` of a page rkmem holds free: a double free (or a
    /// free of a page never handed out).
    DoubleFree = 4,
    /// `rkmem_alloc_pages` with a node id that is not `NUMA_NO_NODE` and
    /// not a possible, online node.
    AllocBadNode = 5,
    /// An allocation whose zone modifiers name no zone (`__GFP_DMA` with
    /// `__GFP_DMA32`, `__GFP_HIGHMEM` with `__GFP_DMA`, ...: the host's
    /// `GFP_ZONE_BAD`).
    AllocBadZone = 6,
    /// `rkmem_alloc_pages` with an order above `MAX_PAGE_ORDER`.
    AllocOrderTooBig = 7,
}

impl BadInput {
    /// How many kinds.
    pub const COUNT: usize = 8;

    /// Every kind, in `zoneinfo` order.
    pub const ALL: [BadInput; Self::COUNT] = [
        BadInput::FreeUnowned,
        BadInput::FreeTail,
        BadInput::FreeWrongOrder,
        BadInput::FreeOrderTooBig,
        BadInput::DoubleFree,
        BadInput::AllocBadNode,
        BadInput::AllocBadZone,
        BadInput::AllocOrderTooBig,
    ];

    /// Its counter's row in `zoneinfo`'s rkmem section.
    pub const fn counter(self) -> &'static str {
        match self {
            BadInput::FreeUnowned => "unowned_frees",
            BadInput::FreeTail => "tail_frees",
            BadInput::FreeWrongOrder => "wrong_order_frees",
            BadInput::FreeOrderTooBig => "order_too_big_frees",
            BadInput::DoubleFree => "double_frees",
            BadInput::AllocBadNode => "bad_node_allocs",
            BadInput::AllocBadZone => "bad_zone_allocs",
            BadInput::AllocOrderTooBig => "order_too_big_allocs",
        }
    }

    /// Its words in the warning.
    pub const fn what(self) -> &'static str {
        match self {
            BadInput::FreeUnowned => "page not owned by rkmem",
            BadInput::FreeTail => "tail page of a live chunk",
            BadInput::FreeWrongOrder => "wrong order",
            BadInput::FreeOrderTooBig => "order above MAX_PAGE_ORDER",
            BadInput::DoubleFree => "double free (page already free)",
            BadInput::AllocBadNode => "invalid node",
            BadInput::AllocBadZone => "impossible zone modifiers",
            BadInput::AllocOrderTooBig => "order above MAX_PAGE_ORDER",
        }
    }

    /// A refused `rkmem_free_pages`.
    pub const fn is_free(self) -> bool {
        (self as usize) <= BadInput::DoubleFree as usize
    }

    /// The kind with this number, as the C glue passes it.
    pub const fn from_index(i: usize) -> Option<BadInput> {
        if i < Self::COUNT {
            Some(Self::ALL[i])
        } else {
            None
        }
    }
}

/// Why a free of (`offset`, `order`) in a block rkmem holds was refused,
/// when no chunk of that order is live there. `live` answers whether a
/// chunk (start offset, order) is live with a caller.
///
/// A live chunk that starts at `offset` (of another order) makes it a wrong
/// order; one that starts before `offset` and covers it, a tail page; none,
/// a free of a free page (a double free).
pub fn classify_refused_free(
    offset: usize,
    order: u32,
    live: impl Fn(usize, u32) -> bool,
) -> BadInput {
    if order > MAX_ORDER {
        return BadInput::FreeOrderTooBig;
    }
    for o in 0..=MAX_ORDER {
        let start = offset & !((1usize << o) - 1);
        debug_assert!(is_aligned(start, o));
        if live(start, o) {
            return if start == offset {
                BadInput::FreeWrongOrder
            } else {
                BadInput::FreeTail
            };
        }
    }
    BadInput::DoubleFree
}

#[cfg(test)]
mod tests {
    use super::super::tags::BlockTags;
    use super::*;

    fn classify(t: &BlockTags, offset: usize, order: u32) -> BadInput {
        classify_refused_free(offset, order, |s, o| t.is_set(s, o))
    }

    #[test]
    fn kinds_are_numbered_in_order() {
        for (i, k) in BadInput::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i);
            assert_eq!(BadInput::from_index(i), Some(*k));
        }
        assert_eq!(BadInput::from_index(BadInput::COUNT), None);
        assert!(BadInput::DoubleFree.is_free() && BadInput::FreeUnowned.is_free());
        assert!(!BadInput::AllocBadNode.is_free() && !BadInput::AllocOrderTooBig.is_free());
        let mut names: [&str; BadInput::COUNT] = [""; BadInput::COUNT];
        for (i, k) in BadInput::ALL.iter().enumerate() {
            names[i] = k.counter();
            assert!(!k.counter().contains(' '));
        }
        for i in 0..names.len() {
            assert!(
                !names[i + 1..].contains(&names[i]),
                "duplicate {}",
                names[i]
            );
        }
    }

    #[test]
    fn refused_frees_are_told_apart() {
        let t = BlockTags::new();
        // An order-2 chunk at 8 and an order-0 page at 13.
        assert!(t.set(8, 2));
        assert!(t.set(13, 0));
        assert_eq!(classify(&t, 8, 0), BadInput::FreeWrongOrder);
        assert_eq!(classify(&t, 8, 1), BadInput::FreeWrongOrder);
        assert_eq!(classify(&t, 8, 3), BadInput::FreeWrongOrder);
        assert_eq!(classify(&t, 9, 0), BadInput::FreeTail);
        assert_eq!(classify(&t, 10, 1), BadInput::FreeTail);
        assert_eq!(classify(&t, 11, 0), BadInput::FreeTail);
        assert_eq!(classify(&t, 13, 1), BadInput::FreeWrongOrder);
        assert_eq!(classify(&t, 12, 0), BadInput::DoubleFree);
        assert_eq!(classify(&t, 12, 2), BadInput::DoubleFree);
        assert_eq!(classify(&t, 0, 0), BadInput::DoubleFree);
        assert_eq!(classify(&t, 8, MAX_ORDER + 1), BadInput::FreeOrderTooBig);
        // Freed: a second free is a double free, at any order.
        assert!(t.clear(8, 2));
        assert_eq!(classify(&t, 8, 2), BadInput::DoubleFree);
        assert_eq!(classify(&t, 9, 0), BadInput::DoubleFree);
        // A whole block handed out: every page but the first is a tail.
        let b = BlockTags::new();
        assert!(b.set(0, MAX_ORDER));
        assert_eq!(classify(&b, 1023, 0), BadInput::FreeTail);
        assert_eq!(classify(&b, 512, 9), BadInput::FreeTail);
        assert_eq!(classify(&b, 0, 9), BadInput::FreeWrongOrder);
    }
}
