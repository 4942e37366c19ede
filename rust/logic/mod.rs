// SPDX-License-Identifier: GPL-2.0
//! rkmem's pure allocator logic: no kernel calls, no `unsafe`, no allocation.
//!
//! The same files build inside the module (`rust/rkmem.rs` includes this
//! directory) and in the userspace test crate `tools/rkmem-logic/`, where
//! `cargo test` exercises them with unit and property tests.

pub mod bad_input;
pub mod blockmap;
pub mod buddy;
pub mod cmd;
pub mod fallback_counts;
pub mod mempool;
pub mod order;
pub mod pcp;
pub mod slab;
pub mod tags;
#[cfg(test)]
pub mod test_rng;
pub mod zonelist;
