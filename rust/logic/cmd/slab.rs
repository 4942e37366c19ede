// SPDX-License-Identifier: GPL-2.0
//! Parsers of the slab layer's knobs: cache flag letters (`slab_debug`,
//! `slab_test create`), one-number knobs and the `slab_test` trigger.

use super::{decimal, node_id, positional, ranged, test_name, CmdError, MAX_TEST_COUNT};

/// `SLAB_CONSISTENCY_CHECKS`, `SLAB_RED_ZONE`, `SLAB_POISON`,
/// `SLAB_HWCACHE_ALIGN`, `SLAB_STORE_USER`: the host's bits.
const SLAB_LETTERS: [(u8, u32); 5] = [
    (b'F', 1 << 0),
    (b'Z', 1 << 1),
    (b'P', 1 << 2),
    (b'U', 1 << 7),
    (b'H', 1 << 4),
];

/// Cache flags from slub_debug-style letters (F Z P U, and H for
/// `SLAB_HWCACHE_ALIGN` when `allow_align`), any case; "-" is none.
pub fn parse_slab_letters(word: &str, allow_align: bool) -> Result<u32, CmdError> {
    let word = word.trim_end_matches('\n');
    if word == "-" {
        return Ok(0);
    }
    if word.is_empty() {
        return Err(CmdError::Invalid);
    }
    let mut bits = 0;
    for b in word.bytes() {
        let up = b.to_ascii_uppercase();
        let (_, bit) = SLAB_LETTERS
            .iter()
            .find(|(l, _)| *l == up && (allow_align || up != b'H'))
            .ok_or(CmdError::Invalid)?;
        bits |= bit;
    }
    Ok(bits)
}

/// The letters of the debug flags in `bits` ("-" if none), for reading
/// the `slab_debug` knob.
pub fn slab_letters(bits: u32) -> ([u8; 4], usize) {
    let mut out = [0u8; 4];
    let mut n = 0;
    for (l, bit) in SLAB_LETTERS.iter().take(4) {
        if bits & bit != 0 {
            out[n] = *l;
            n += 1;
        }
    }
    if n == 0 {
        out[0] = b'-';
        n = 1;
    }
    (out, n)
}

/// One number for a knob, `0..=max`.
pub fn parse_knob_number(input: &str, max: u64) -> Result<u64, CmdError> {
    let input = input.strip_suffix('\n').unwrap_or(input).trim();
    let v = decimal(input)?;
    if v > max {
        return Err(CmdError::Range);
    }
    Ok(v)
}

/// A command to the `slab_test` trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlabTestCmd<'a> {
    /// `create NAME SIZE ALIGN FLAGS`.
    Create {
        name: &'a str,
        size: usize,
        align: usize,
        flags: u32,
    },
    /// `alloc NAME COUNT [NODE]`.
    Alloc {
        name: &'a str,
        count: usize,
        node: Option<usize>,
    },
    /// `free NAME COUNT`.
    Free { name: &'a str, count: usize },
    /// `destroy NAME`.
    Destroy { name: &'a str },
    /// `leak NAME`: destroy, objects still held.
    Leak { name: &'a str },
}

/// Parses a `slab_test` write (positional words, one line).
pub fn parse_slab_test(input: &str, nr_nodes: usize) -> Result<SlabTestCmd<'_>, CmdError> {
    let (w, n) = positional::<6>(input)?;
    let num = |s: &str, max: u64| ranged(s, 0, max);
    if n < 2 {
        return Err(CmdError::Invalid);
    }
    let name = test_name(w[1])?;
    match (w[0], n) {
        ("create", 5) => Ok(SlabTestCmd::Create {
            name,
            size: num(w[2], 1 << 20)? as usize,
            align: num(w[3], 1 << 20)? as usize,
            flags: parse_slab_letters(w[4], true)?,
        }),
        ("alloc", 3 | 4) => Ok(SlabTestCmd::Alloc {
            name,
            count: num(w[2], MAX_TEST_COUNT)? as usize,
            node: if n == 4 {
                Some(node_id(num(w[3], u64::MAX)?, nr_nodes)?)
            } else {
                None
            },
        }),
        ("free", 3) => Ok(SlabTestCmd::Free {
            name,
            count: num(w[2], MAX_TEST_COUNT)? as usize,
        }),
        ("destroy", 2) => Ok(SlabTestCmd::Destroy { name }),
        ("leak", 2) => Ok(SlabTestCmd::Leak { name }),
        _ => Err(CmdError::Invalid),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    // The parsers on an 8-node host (the tests below name nodes 0..=8).
    const NODES: usize = 8;
    fn parse_slab_test(input: &str) -> Result<SlabTestCmd<'_>, CmdError> {
        super::parse_slab_test(input, NODES)
    }

    #[test]
    fn slab_knobs_parse() {
        assert_eq!(parse_slab_letters("FZPU\n", false), Ok(0x87));
        assert_eq!(parse_slab_letters("zp", false), Ok(0x6));
        assert_eq!(parse_slab_letters("-", false), Ok(0));
        assert_eq!(parse_slab_letters("H", false), Err(CmdError::Invalid));
        assert_eq!(parse_slab_letters("HZ", true), Ok(0x12));
        assert_eq!(parse_slab_letters("X", true), Err(CmdError::Invalid));
        assert_eq!(parse_slab_letters("", true), Err(CmdError::Invalid));
        assert_eq!(slab_letters(0x87), (*b"FZPU", 4));
        assert_eq!(slab_letters(0).1, 1);
        assert_eq!(parse_knob_number("5\n", 10), Ok(5));
        assert_eq!(parse_knob_number("11", 10), Err(CmdError::Range));
        assert_eq!(parse_knob_number("-1", 10), Err(CmdError::Invalid));
        assert_eq!(parse_knob_number("x", 10), Err(CmdError::Invalid));
        assert_eq!(
            parse_knob_number("99999999999999999999", 10),
            Err(CmdError::Range)
        );
        assert_eq!(parse_knob_number("", 10), Err(CmdError::Invalid));
        assert_eq!(parse_knob_number("+5", 10), Err(CmdError::Invalid));
        assert_eq!(parse_knob_number(" 5 \n", 10), Ok(5));
        assert_eq!(parse_slab_test("alloc t1 +10"), Err(CmdError::Invalid));
        assert_eq!(
            parse_slab_test("create t1 +100 0 -"),
            Err(CmdError::Invalid)
        );
        assert_eq!(
            parse_slab_test("create t1 100 0 -\n"),
            Ok(SlabTestCmd::Create {
                name: "t1",
                size: 100,
                align: 0,
                flags: 0
            })
        );
        assert_eq!(
            parse_slab_test("alloc t1 10 1"),
            Ok(SlabTestCmd::Alloc {
                name: "t1",
                count: 10,
                node: Some(1)
            })
        );
        assert_eq!(parse_slab_test("alloc t1 10 99"), Err(CmdError::Range));
        assert_eq!(parse_slab_test("free t1"), Err(CmdError::Invalid));
        assert_eq!(parse_slab_test("destroy t1 x"), Err(CmdError::Invalid));
        assert_eq!(parse_slab_test("leak t/1"), Err(CmdError::Invalid));
        assert_eq!(parse_slab_test("create t 1 0 Q"), Err(CmdError::Invalid));
        assert_eq!(parse_slab_test(""), Err(CmdError::Invalid));
    }
}
