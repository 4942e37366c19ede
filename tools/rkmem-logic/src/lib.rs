//! The module's pure allocator logic, built from the very same files as the
//! kernel module (`rust/logic/`), so `cargo test` checks what the kernel runs.
#![no_std]

#[path = "../../../rust/logic/mod.rs"]
pub mod logic;
