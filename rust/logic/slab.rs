// SPDX-License-Identifier: GPL-2.0
//! Object caches in the design of the host's SLUB (mm/slub.c): the pure parts.
//!
//! - [`layout`]: kmalloc size classes, as the host's `kmalloc_info` /
//!   `kmalloc_index()`; the object layout inside a slab, as
//!   `calculate_sizes()` (red zones, free pointer placement, user tracking)
//!   and `calculate_alignment()`; the slab order, as `calculate_order()` /
//!   `calc_slab_order()`;
//! - [`freelist`]: a slab's free list with the free pointer stored hardened,
//!   as `CONFIG_SLAB_FREELIST_HARDENED`, over an abstract memory
//!   ([`FreeSlots`]);
//! - [`partial`]: the partial-list policy, as `set_min_partial()`,
//!   `set_cpu_partial()`, `put_cpu_partial()`, `get_partial_node()` and the
//!   empty-slab test of `__slab_free()`;
//! - [`state`]: a slab's shared state word and its transitions.
//!
//! Objects are named by their index in the slab (`u16`: a slab holds at most
//! [`MAX_OBJS_PER_SLAB`], SLUB's `MAX_OBJS_PER_PAGE`). Nothing here locks.

use super::order::{order_for_bytes, MAX_ORDER, PAGE_SIZE};

mod freelist;
mod layout;
mod partial;
mod state;

pub use freelist::*;
pub use layout::*;
pub use partial::*;
pub use state::*;

#[cfg(test)]
mod tests;
