// SPDX-License-Identifier: GPL-2.0

//! A small deterministic generator (xorshift64) for the model tests: the same cases on
//! every run, no crate needed.

/// The generator; seed it with any non-zero value.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// The next value.
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value below `n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
