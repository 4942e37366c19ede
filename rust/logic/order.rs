// SPDX-License-Identifier: GPL-2.0
//! Page orders and the buddy index arithmetic.

/// Largest order rkmem's buddy allocator manages; equals the host's
/// `MAX_PAGE_ORDER` (x86-64 default, checked at build time by the C glue).
pub const MAX_ORDER: u32 = 10;
/// Number of distinct orders, `0..=MAX_ORDER`.
pub const NR_ORDERS: usize = MAX_ORDER as usize + 1;
/// Pages in one host block, the unit rkmem takes from and gives back to the host.
pub const BLOCK_PAGES: usize = 1 << MAX_ORDER;
/// Base page size.
pub const PAGE_SIZE: usize = 4096;

/// Pages in a chunk of `order`.
pub const fn pages(order: u32) -> usize {
    1 << order
}

/// Smallest order whose chunk holds `bytes` (the kernel's `get_order()`);
/// `None` if that is beyond `MAX_ORDER` or `bytes` is zero.
pub const fn order_for_bytes(bytes: usize) -> Option<u32> {
    if bytes == 0 {
        return None;
    }
    let pages = bytes.div_ceil(PAGE_SIZE);
    let order = pages.next_power_of_two().trailing_zeros();
    if order > MAX_ORDER {
        None
    } else {
        Some(order)
    }
}

/// Index of the chunk at `order` that contains page offset `page` of a block.
pub const fn chunk_index(page: usize, order: u32) -> usize {
    page >> order
}

/// Index of the buddy of chunk `index` (both at the same order).
pub const fn buddy_index(index: usize) -> usize {
    index ^ 1
}

/// Index of the parent chunk (one order up) of chunk `index`.
pub const fn parent_index(index: usize) -> usize {
    index >> 1
}

/// Whether page offset `page` is a valid start of an `order` chunk.
pub const fn is_aligned(page: usize, order: u32) -> bool {
    page & (pages(order) - 1) == 0
}

/// Number of chunks of `order` in one block.
pub const fn chunks_per_block(order: u32) -> usize {
    BLOCK_PAGES >> order
}

/// Bit offset of order `order`'s bitmap inside a block's flat per-order
/// bitmap: order 0 first (BLOCK_PAGES bits), then order 1 (half as many) ...
pub const fn order_bit_base(order: u32) -> usize {
    // Sum of BLOCK_PAGES >> k for k < order = 2 * BLOCK_PAGES - (2 * BLOCK_PAGES >> order).
    2 * BLOCK_PAGES - ((2 * BLOCK_PAGES) >> order)
}

/// Total bits of a block's flat per-order bitmap (2 * BLOCK_PAGES - 1).
pub const ORDER_BITS: usize = order_bit_base(MAX_ORDER + 1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_order_matches_kernel_semantics() {
        assert_eq!(order_for_bytes(0), None);
        assert_eq!(order_for_bytes(1), Some(0));
        assert_eq!(order_for_bytes(PAGE_SIZE), Some(0));
        assert_eq!(order_for_bytes(PAGE_SIZE + 1), Some(1));
        assert_eq!(order_for_bytes(3 * PAGE_SIZE), Some(2));
        assert_eq!(order_for_bytes(BLOCK_PAGES * PAGE_SIZE), Some(MAX_ORDER));
        assert_eq!(order_for_bytes(BLOCK_PAGES * PAGE_SIZE + 1), None);
    }

    #[test]
    fn buddy_math() {
        assert_eq!(buddy_index(6), 7);
        assert_eq!(buddy_index(7), 6);
        assert_eq!(parent_index(7), 3);
        assert_eq!(chunk_index(13, 2), 3);
        assert!(is_aligned(8, 3));
        assert!(!is_aligned(12, 3));
        assert!(is_aligned(0, MAX_ORDER));
    }

    #[test]
    fn flat_bitmap_layout_is_contiguous() {
        assert_eq!(order_bit_base(0), 0);
        assert_eq!(order_bit_base(1), BLOCK_PAGES);
        for order in 0..=MAX_ORDER {
            assert_eq!(
                order_bit_base(order) + chunks_per_block(order),
                order_bit_base(order + 1)
            );
        }
        assert_eq!(ORDER_BITS, 2 * BLOCK_PAGES - 1);
    }
}
