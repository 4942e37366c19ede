// SPDX-License-Identifier: GPL-2.0
//! Parser of the mempool layer's `mempool_test` trigger.

use super::{positional, ranged, test_name, CmdError, SLAB_TEST_NAME_MAX};

/// Longest pool name the mempool test trigger takes.
pub const MEMPOOL_TEST_NAME_MAX: usize = SLAB_TEST_NAME_MAX - 8;

/// Most elements one `mempool_test` alloc or free takes.
pub const MEMPOOL_TEST_MAX_COUNT: u64 = 100_000;

/// Most elements a `mempool_test` pool keeps in reserve.
pub const MEMPOOL_TEST_MAX_MIN: u64 = 4096;

/// What a `mempool_test` pool is backed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBacking {
    /// A new cache of objects of this size.
    Slab(usize),
    /// kmalloc of this size.
    Kmalloc(usize),
    /// Pages of this order.
    Pages(u32),
}

/// A command to the `mempool_test` trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MempoolTestCmd<'a> {
    /// `create POOL slab|kmalloc|pages SIZE|ORDER MIN_NR`.
    Create {
        name: &'a str,
        backing: TestBacking,
        min_nr: usize,
    },
    /// `alloc POOL COUNT [atomic]`.
    Alloc {
        name: &'a str,
        count: usize,
        atomic: bool,
    },
    /// `free POOL COUNT`.
    Free { name: &'a str, count: usize },
    /// `drain POOL`: the backing's memory taken until it fails.
    Drain { name: &'a str },
    /// `release POOL`: what `drain` took, given back.
    Release { name: &'a str },
    /// `resize POOL MIN_NR`.
    Resize { name: &'a str, min_nr: usize },
    /// `destroy POOL`.
    Destroy { name: &'a str },
}

/// Parses a `mempool_test` write (positional words, one line).
pub fn parse_mempool_test(input: &str) -> Result<MempoolTestCmd<'_>, CmdError> {
    let (w, n) = positional::<5>(input)?;
    if n < 2 {
        return Err(CmdError::Invalid);
    }
    let name = test_name(w[1])?;
    // A slab pool's cache is named `mempool-POOL`, within a cache name.
    if name.len() > MEMPOOL_TEST_NAME_MAX {
        return Err(CmdError::Invalid);
    }
    let min_nr = |s: &str, min: u64| ranged(s, min, MEMPOOL_TEST_MAX_MIN).map(|v| v as usize);
    let count = |s: &str| ranged(s, 1, MEMPOOL_TEST_MAX_COUNT).map(|v| v as usize);
    match (w[0], n) {
        ("create", 5) => {
            let backing = match w[2] {
                "slab" => TestBacking::Slab(ranged(w[3], 1, 8192)? as usize),
                "kmalloc" => TestBacking::Kmalloc(ranged(w[3], 1, 4 << 20)? as usize),
                "pages" => {
                    TestBacking::Pages(
                        ranged(w[3], 0, crate::logic::order::MAX_ORDER as u64)? as u32
                    )
                }
                _ => return Err(CmdError::Invalid),
            };
            Ok(MempoolTestCmd::Create {
                name,
                backing,
                min_nr: min_nr(w[4], 1)?,
            })
        }
        ("alloc", 3) | ("alloc", 4) => {
            if n == 4 && w[3] != "atomic" {
                return Err(CmdError::Invalid);
            }
            Ok(MempoolTestCmd::Alloc {
                name,
                count: count(w[2])?,
                atomic: n == 4,
            })
        }
        ("free", 3) => Ok(MempoolTestCmd::Free {
            name,
            count: count(w[2])?,
        }),
        ("drain", 2) => Ok(MempoolTestCmd::Drain { name }),
        ("release", 2) => Ok(MempoolTestCmd::Release { name }),
        ("resize", 3) => Ok(MempoolTestCmd::Resize {
            name,
            min_nr: min_nr(w[2], 1)?,
        }),
        ("destroy", 2) => Ok(MempoolTestCmd::Destroy { name }),
        _ => Err(CmdError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn mempool_trigger_parses() {
        assert_eq!(
            parse_mempool_test("create p slab 64 8\n"),
            Ok(MempoolTestCmd::Create {
                name: "p",
                backing: TestBacking::Slab(64),
                min_nr: 8
            })
        );
        assert_eq!(
            parse_mempool_test("create p pages 2 1"),
            Ok(MempoolTestCmd::Create {
                name: "p",
                backing: TestBacking::Pages(2),
                min_nr: 1
            })
        );
        assert_eq!(
            parse_mempool_test("alloc p 3 atomic"),
            Ok(MempoolTestCmd::Alloc {
                name: "p",
                count: 3,
                atomic: true
            })
        );
        assert_eq!(
            parse_mempool_test("resize p 4"),
            Ok(MempoolTestCmd::Resize {
                name: "p",
                min_nr: 4
            })
        );
        assert_eq!(
            parse_mempool_test("drain p"),
            Ok(MempoolTestCmd::Drain { name: "p" })
        );
        for (bad, why) in [
            ("create p pages 11 1", CmdError::Range),
            ("create p pages 99999999999999999999999 1", CmdError::Range),
            ("create p pages +1 1", CmdError::Invalid),
            ("alloc p +3", CmdError::Invalid),
            ("create p slab 0 1", CmdError::Range),
            ("create p slab 8193 1", CmdError::Range),
            ("create p kmalloc 64 4097", CmdError::Range),
            ("create p heap 64 1", CmdError::Invalid),
            ("create p slab 64", CmdError::Invalid),
            ("alloc p 0", CmdError::Range),
            ("alloc p 100001", CmdError::Range),
            ("create p pages 0 0", CmdError::Range),
            ("alloc p 2 sleepy", CmdError::Invalid),
            ("alloc p -1", CmdError::Invalid),
            ("free p", CmdError::Invalid),
            ("resize p 0", CmdError::Range),
            ("destroy p q", CmdError::Invalid),
            ("destroy p/q", CmdError::Invalid),
            ("destroy abcdefghijklmnopqrstuvwxyz", CmdError::Invalid),
            ("grow p", CmdError::Invalid),
            ("", CmdError::Invalid),
            ("alloc p 1\nfree p 1", CmdError::Invalid),
        ] {
            assert_eq!(parse_mempool_test(bad), Err(why), "{bad:?}");
        }
    }
}
