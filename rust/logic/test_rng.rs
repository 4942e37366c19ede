// SPDX-License-Identifier: GPL-2.0
//! A tiny deterministic PRNG so the property tests need no crates.

/// xorshift64; the seed must not be 0.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next value.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
