// SPDX-License-Identifier: GPL-2.0
//! Parsing of debugfs knob writes. A write is one line of words: an optional
//! verb, `key=value` pairs and bare flags. Anything malformed, unknown,
//! repeated or missing is `Invalid` (-EINVAL); a well-formed number outside
//! its range is `Range` (-ERANGE). Parsing has no side effects, so a refused
//! write changes nothing.

use super::order::MAX_ORDER;
use super::pcp::{validate_high_batch, HighBatchError};
use super::zonelist::ZoneType;

/// Why a knob write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdError {
    /// Malformed, unknown or missing words: -EINVAL.
    Invalid,
    /// A number outside its allowed range: -ERANGE.
    Range,
}

/// Most pages objects a single `alloc` test command may take.
pub const MAX_TEST_COUNT: u64 = 1 << 20;
/// Most blocks one knob write may name.
pub const MAX_BLOCKS: u64 = 1 << 20;

const MAX_WORDS: usize = 8;

/// A number in plain decimal digits. Rust's `u64::from_str` also takes a
/// leading `+`: refused here (-EINVAL), as are signs, spaces, hex and empty
/// words; all digits but too big for u64 is -ERANGE, as kstrtou64.
fn decimal(text: &str) -> Result<u64, CmdError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CmdError::Invalid);
    }
    text.parse().map_err(|_| CmdError::Range)
}

/// The words of one write.
struct Words<'a> {
    verb: Option<&'a str>,
    pairs: [(&'a str, &'a str); MAX_WORDS],
    n_pairs: usize,
    flags: [&'a str; MAX_WORDS],
    n_flags: usize,
    used: [bool; MAX_WORDS],
}

impl<'a> Words<'a> {
    /// Splits `input` (one line; a trailing newline is allowed). With
    /// `has_verb`, the first word is the verb.
    fn split(input: &'a str, has_verb: bool) -> Result<Self, CmdError> {
        let input = input.strip_suffix('\n').unwrap_or(input);
        if input.contains(['\n', '\0']) {
            return Err(CmdError::Invalid);
        }
        let mut words = Words {
            verb: None,
            pairs: [("", ""); MAX_WORDS],
            n_pairs: 0,
            flags: [""; MAX_WORDS],
            n_flags: 0,
            used: [false; MAX_WORDS],
        };
        let mut it = input.split_ascii_whitespace();
        if has_verb {
            words.verb = Some(it.next().ok_or(CmdError::Invalid)?);
        }
        for word in it {
            if let Some((key, value)) = word.split_once('=') {
                if key.is_empty()
                    || value.is_empty()
                    || words.n_pairs == MAX_WORDS
                    || words.pairs[..words.n_pairs].iter().any(|p| p.0 == key)
                {
                    return Err(CmdError::Invalid);
                }
                words.pairs[words.n_pairs] = (key, value);
                words.n_pairs += 1;
            } else {
                if words.n_flags == MAX_WORDS || words.flags[..words.n_flags].contains(&word) {
                    return Err(CmdError::Invalid);
                }
                words.flags[words.n_flags] = word;
                words.n_flags += 1;
            }
        }
        Ok(words)
    }

    fn value(&mut self, key: &str) -> Option<&'a str> {
        let i = self.pairs[..self.n_pairs].iter().position(|p| p.0 == key)?;
        self.used[i] = true;
        Some(self.pairs[i].1)
    }

    fn number(&mut self, key: &str, max: u64) -> Result<Option<u64>, CmdError> {
        let Some(text) = self.value(key) else {
            return Ok(None);
        };
        let n = decimal(text)?;
        if n > max {
            return Err(CmdError::Range);
        }
        Ok(Some(n))
    }

    fn required(&mut self, key: &str, max: u64) -> Result<u64, CmdError> {
        self.number(key, max)?.ok_or(CmdError::Invalid)
    }

    fn zone(&mut self) -> Result<ZoneType, CmdError> {
        ZoneType::from_name(self.value("zone").ok_or(CmdError::Invalid)?).ok_or(CmdError::Invalid)
    }

    fn flag(&mut self, name: &str) -> bool {
        self.flags[..self.n_flags].contains(&name)
    }

    /// Every pair was consumed and every flag is in `known`.
    fn finish(&self, known: &[&str]) -> Result<(), CmdError> {
        if self.used[..self.n_pairs].iter().all(|&u| u)
            && self.flags[..self.n_flags].iter().all(|f| known.contains(f))
        {
            Ok(())
        } else {
            Err(CmdError::Invalid)
        }
    }
}

/// A (node, zone) arena named by a knob write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaRef {
    /// Node id.
    pub node: usize,
    /// Zone.
    pub zone: ZoneType,
}

/// A node id: `0..nr_nodes` (the host's `nr_node_ids`), -ERANGE beyond.
fn node_id(value: u64, nr_nodes: usize) -> Result<usize, CmdError> {
    usize::try_from(value)
        .ok()
        .filter(|&n| n < nr_nodes)
        .ok_or(CmdError::Range)
}

fn arena_ref(words: &mut Words<'_>, nr_nodes: usize) -> Result<ArenaRef, CmdError> {
    let node = node_id(words.required("node", u64::MAX)?, nr_nodes)?;
    Ok(ArenaRef {
        node,
        zone: words.zone()?,
    })
}

/// `node=N zone=Z blocks=B`, for the `limit` knob: `blocks=0` is a valid
/// limit (the arena takes no block from the host).
pub fn parse_arena_blocks(input: &str, nr_nodes: usize) -> Result<(ArenaRef, u64), CmdError> {
    let mut words = Words::split(input, false)?;
    let arena = arena_ref(&mut words, nr_nodes)?;
    let blocks = words.required("blocks", MAX_BLOCKS)?;
    words.finish(&[])?;
    Ok((arena, blocks))
}

/// `node=N zone=Z blocks=B`, for the `prefill` knob: take `B` more blocks,
/// `1..=MAX_BLOCKS` (`blocks=0` asks for nothing: -ERANGE, as any count
/// outside its range).
pub fn parse_prefill(input: &str, nr_nodes: usize) -> Result<(ArenaRef, u64), CmdError> {
    let (arena, blocks) = parse_arena_blocks(input, nr_nodes)?;
    if blocks == 0 {
        return Err(CmdError::Range);
    }
    Ok((arena, blocks))
}

/// `all` or `node=N zone=Z`, for the `shrink` knob: `None` means all arenas.
pub fn parse_shrink(input: &str, nr_nodes: usize) -> Result<Option<ArenaRef>, CmdError> {
    let mut words = Words::split(input, false)?;
    if words.flag("all") {
        words.finish(&["all"])?;
        if words.n_pairs != 0 {
            return Err(CmdError::Invalid);
        }
        return Ok(None);
    }
    let arena = arena_ref(&mut words, nr_nodes)?;
    words.finish(&[])?;
    Ok(Some(arena))
}

/// Parses a `pcp` knob write: `high=H batch=B [node=N zone=Z]` (no arena:
/// all arenas). `high=0` turns the lists off; `batch` must be `1..=high`
/// otherwise (-EINVAL); either above its maximum is -ERANGE.
pub fn parse_pcp(input: &str, nr_nodes: usize) -> Result<(Option<ArenaRef>, u32, u32), CmdError> {
    let mut words = Words::split(input, false)?;
    let high = words.required("high", u64::MAX)?;
    let batch = words.required("batch", u64::MAX)?;
    let arena = if words.value("node").is_some() || words.value("zone").is_some() {
        Some(arena_ref(&mut words, nr_nodes)?)
    } else {
        None
    };
    words.finish(&[])?;
    let (high, batch) = validate_high_batch(high, batch).map_err(|e| match e {
        HighBatchError::Invalid => CmdError::Invalid,
        HighBatchError::Range => CmdError::Range,
    })?;
    Ok((arena, high, batch))
}

/// A command of the `test` knob, which lets selftests drive the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestCmd {
    /// `alloc node=N zone=Z order=O count=C [thisnode] [atomic]`: allocate and
    /// hold `count` chunks (`1..=MAX_TEST_COUNT`), `zone` being the highest
    /// zone allowed, `order` `0..=MAX_ORDER` (above: -ERANGE).
    Alloc {
        /// Where and how.
        arena: ArenaRef,
        /// Chunk order.
        order: u32,
        /// How many chunks.
        count: u64,
        /// Never leave the node.
        this_node: bool,
        /// Must not sleep (no direct reclaim when growing).
        atomic: bool,
    },
    /// `free [count=C]`: free the `count` most recently held chunks (all by default).
    Free {
        /// How many, `None` for all.
        count: Option<u64>,
    },
    /// `badfree`: free the most recently held chunk twice (the second free
    /// must be refused and reported) and once with a wrong order.
    BadFree,
    /// `verify`: check every arena's buddy invariants.
    Verify,
}

/// Parses one write to the `test` knob.
pub fn parse_test(input: &str, nr_nodes: usize) -> Result<TestCmd, CmdError> {
    let mut words = Words::split(input, true)?;
    let cmd = match words.verb {
        Some("alloc") => {
            let arena = arena_ref(&mut words, nr_nodes)?;
            let order = words.required("order", MAX_ORDER as u64)? as u32;
            let count = words.required("count", MAX_TEST_COUNT)?;
            if count == 0 {
                return Err(CmdError::Range);
            }
            let (this_node, atomic) = (words.flag("thisnode"), words.flag("atomic"));
            words.finish(&["thisnode", "atomic"])?;
            TestCmd::Alloc {
                arena,
                order,
                count,
                this_node,
                atomic,
            }
        }
        Some("free") => {
            let count = words.number("count", MAX_TEST_COUNT)?;
            words.finish(&[])?;
            TestCmd::Free { count }
        }
        Some("badfree") => {
            words.finish(&[])?;
            TestCmd::BadFree
        }
        Some("verify") => {
            words.finish(&[])?;
            TestCmd::Verify
        }
        _ => return Err(CmdError::Invalid),
    };
    if words.n_flags > 0 && !matches!(cmd, TestCmd::Alloc { .. }) {
        return Err(CmdError::Invalid);
    }
    Ok(cmd)
}

// ------------------------------------------------------------ slab knobs

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

/// Longest cache name the slab test trigger takes.
pub const SLAB_TEST_NAME_MAX: usize = 31;

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

/// The words of a trigger write (one line, at most `N` words) and how many.
fn positional<const N: usize>(input: &str) -> Result<([&str; N], usize), CmdError> {
    let input = input.strip_suffix('\n').unwrap_or(input);
    if input.contains(['\n', '\0']) {
        return Err(CmdError::Invalid);
    }
    let mut w = [""; N];
    let mut n = 0;
    for word in input.split_ascii_whitespace() {
        if n == w.len() {
            return Err(CmdError::Invalid);
        }
        w[n] = word;
        n += 1;
    }
    Ok((w, n))
}

/// A decimal word: -EINVAL if it is no number, -ERANGE outside `min..=max`.
fn ranged(s: &str, min: u64, max: u64) -> Result<u64, CmdError> {
    let v = decimal(s)?;
    if v < min || v > max {
        Err(CmdError::Range)
    } else {
        Ok(v)
    }
}

/// A trigger's object name: 1..=`SLAB_TEST_NAME_MAX` of `[A-Za-z0-9_-]`.
fn test_name(name: &str) -> Result<&str, CmdError> {
    if name.is_empty()
        || name.len() > SLAB_TEST_NAME_MAX
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(CmdError::Invalid);
    }
    Ok(name)
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
    use std::string::String;

    // The parsers on an 8-node host (the tests below name nodes 0..=8).
    const NODES: usize = 8;
    fn parse_arena_blocks(input: &str) -> Result<(ArenaRef, u64), CmdError> {
        super::parse_arena_blocks(input, NODES)
    }
    fn parse_prefill(input: &str) -> Result<(ArenaRef, u64), CmdError> {
        super::parse_prefill(input, NODES)
    }
    fn parse_shrink(input: &str) -> Result<Option<ArenaRef>, CmdError> {
        super::parse_shrink(input, NODES)
    }
    fn parse_pcp(input: &str) -> Result<(Option<ArenaRef>, u32, u32), CmdError> {
        super::parse_pcp(input, NODES)
    }
    fn parse_test(input: &str) -> Result<TestCmd, CmdError> {
        super::parse_test(input, NODES)
    }
    fn parse_slab_test(input: &str) -> Result<SlabTestCmd<'_>, CmdError> {
        super::parse_slab_test(input, NODES)
    }

    /// Every parser that names a node takes ids up to the host's
    /// `nr_node_ids - 1` and refuses `nr_node_ids` (and beyond, and ids
    /// too big for any integer) with -ERANGE, on hosts of 1, 64 and 1024
    /// nodes: no fixed cap.
    #[test]
    fn node_ids_bounded_by_nr_node_ids() {
        type Parse = fn(&str, usize) -> Result<(), CmdError>;
        let parsers: [(&str, Parse); 7] = [
            ("limit", |s, n| {
                super::parse_arena_blocks(&std::format!("node={s} zone=Normal blocks=1"), n)
                    .map(drop)
            }),
            ("prefill", |s, n| {
                super::parse_prefill(&std::format!("node={s} zone=Normal blocks=1"), n).map(drop)
            }),
            ("shrink", |s, n| {
                super::parse_shrink(&std::format!("node={s} zone=Normal"), n).map(drop)
            }),
            ("drain", |s, n| {
                super::parse_shrink(&std::format!("zone=Normal node={s}"), n).map(drop)
            }),
            ("pcp", |s, n| {
                super::parse_pcp(&std::format!("high=64 batch=8 node={s} zone=Normal"), n).map(drop)
            }),
            ("test", |s, n| {
                super::parse_test(
                    &std::format!("alloc node={s} zone=Normal order=0 count=1"),
                    n,
                )
                .map(drop)
            }),
            ("slab_test", |s, n| {
                super::parse_slab_test(&std::format!("alloc t 1 {s}"), n).map(drop)
            }),
        ];
        for nr_nodes in [1usize, 64, 1024] {
            for (name, parse) in parsers {
                for ok in [0, nr_nodes / 2, nr_nodes - 1] {
                    assert_eq!(
                        parse(&std::format!("{ok}"), nr_nodes),
                        Ok(()),
                        "{name} {ok}/{nr_nodes}"
                    );
                }
                for bad in [
                    std::format!("{nr_nodes}"),
                    std::format!("{}", nr_nodes + 1),
                    String::from("99999999999999999999"),
                ] {
                    assert_eq!(
                        parse(&bad, nr_nodes),
                        Err(CmdError::Range),
                        "{name} {bad}/{nr_nodes}"
                    );
                }
                assert_eq!(parse("-1", nr_nodes), Err(CmdError::Invalid), "{name}");
            }
        }
    }

    #[test]
    fn alloc_command() {
        let cmd = parse_test("alloc node=1 zone=Normal order=3 count=100\n").unwrap();
        assert_eq!(
            cmd,
            TestCmd::Alloc {
                arena: ArenaRef {
                    node: 1,
                    zone: ZoneType::Normal
                },
                order: 3,
                count: 100,
                this_node: false,
                atomic: false
            }
        );
        let cmd = parse_test("alloc zone=dma32 node=0 count=1 order=0 atomic thisnode").unwrap();
        assert!(matches!(
            cmd,
            TestCmd::Alloc {
                this_node: true,
                atomic: true,
                ..
            }
        ));
    }

    #[test]
    fn malformed_is_invalid() {
        for bad in [
            "",
            "\n",
            "alloc",
            "alloc node=1 zone=Normal order=3",
            "alloc node=1 zone=Highmem order=3 count=1",
            "alloc node=x zone=Normal order=3 count=1",
            "alloc node=1 node=1 zone=Normal order=3 count=1",
            "alloc node=1 zone=Normal order=3 count=1 bogus",
            "alloc node=1 zone=Normal order=3 count=1 extra=2",
            "frob",
            "free all",
            "free count=-1",
            "verify now",
            "alloc node=1 zone=Normal order=3 count=1\nfree",
            "alloc node= zone=Normal order=3 count=1",
            "free count=1x",
            "alloc node=0 zone=Normal order=+5 count=1",
            "alloc node=+0 zone=Normal order=0 count=1",
            "alloc node=0 zone=Normal order=0 count=+1",
            "alloc node=0 zone=Normal order=-0 count=1",
            "alloc node=0 zone=Normal order=0x1 count=1",
            "alloc node=0 zone=Normal order=1.0 count=1",
            "free count=+5",
            "free count= 5",
        ] {
            assert_eq!(parse_test(bad), Err(CmdError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn out_of_range_is_range() {
        for bad in [
            "alloc node=1 zone=Normal order=11 count=1",
            "alloc node=8 zone=Normal order=0 count=1",
            "alloc node=0 zone=Normal order=0 count=99999999",
            "free count=99999999999999999999999",
            "alloc node=0 zone=Normal order=12 count=1",
            "alloc node=0 zone=Normal order=99999999999999999999999 count=1",
            "alloc node=0 zone=Normal order=0 count=0",
        ] {
            assert_eq!(parse_test(bad), Err(CmdError::Range), "{bad:?}");
        }
    }

    #[test]
    fn knob_lines() {
        assert_eq!(
            parse_arena_blocks("node=0 zone=DMA32 blocks=4"),
            Ok((
                ArenaRef {
                    node: 0,
                    zone: ZoneType::Dma32
                },
                4
            ))
        );
        assert_eq!(
            parse_arena_blocks("node=0 zone=DMA32"),
            Err(CmdError::Invalid)
        );
        assert_eq!(
            parse_arena_blocks("node=0 zone=DMA32 blocks=99999999"),
            Err(CmdError::Range)
        );
        let dma32 = ArenaRef {
            node: 0,
            zone: ZoneType::Dma32,
        };
        // blocks=0: a valid limit, no prefill at all.
        assert_eq!(
            parse_arena_blocks("node=0 zone=DMA32 blocks=0"),
            Ok((dma32, 0))
        );
        assert_eq!(
            parse_prefill("node=0 zone=DMA32 blocks=0"),
            Err(CmdError::Range)
        );
        assert_eq!(
            parse_prefill("node=0 zone=DMA32 blocks=2\n"),
            Ok((dma32, 2))
        );
        assert_eq!(
            parse_prefill("node=0 zone=DMA32 blocks=99999999"),
            Err(CmdError::Range)
        );
        // A sign is no digit: +5 is not 5.
        for bad in [
            "node=0 zone=DMA32 blocks=+5",
            "node=+0 zone=DMA32 blocks=5",
            "node=0 zone=DMA32 blocks=-0",
            "node=0 zone=DMA32 blocks=5k",
        ] {
            assert_eq!(parse_arena_blocks(bad), Err(CmdError::Invalid), "{bad:?}");
            assert_eq!(parse_prefill(bad), Err(CmdError::Invalid), "{bad:?}");
        }
        assert_eq!(parse_pcp("high=+64 batch=16"), Err(CmdError::Invalid));
        assert_eq!(parse_shrink("all\n"), Ok(None));
        assert_eq!(parse_shrink("all node=1"), Err(CmdError::Invalid));
        assert_eq!(
            parse_shrink("node=1 zone=Movable"),
            Ok(Some(ArenaRef {
                node: 1,
                zone: ZoneType::Movable
            }))
        );
        assert_eq!(parse_shrink("everything"), Err(CmdError::Invalid));
    }

    #[test]
    fn pcp_knob() {
        assert_eq!(parse_pcp("high=64 batch=16\n"), Ok((None, 64, 16)));
        assert_eq!(parse_pcp("high=0 batch=1"), Ok((None, 0, 1)));
        assert_eq!(
            parse_pcp("high=64 batch=16 node=1 zone=Normal"),
            Ok((
                Some(ArenaRef {
                    node: 1,
                    zone: ZoneType::Normal
                }),
                64,
                16
            ))
        );
        assert_eq!(parse_pcp("high=64 batch=0"), Err(CmdError::Invalid));
        assert_eq!(parse_pcp("high=8 batch=9"), Err(CmdError::Invalid));
        assert_eq!(parse_pcp("high=1025 batch=1"), Err(CmdError::Range));
        assert_eq!(parse_pcp("high=1024 batch=257"), Err(CmdError::Range));
        assert_eq!(parse_pcp("high=64"), Err(CmdError::Invalid));
        assert_eq!(parse_pcp("high=64 batch=8 node=0"), Err(CmdError::Invalid));
        assert_eq!(
            parse_pcp("high=64 batch=8 zone=Normal"),
            Err(CmdError::Invalid)
        );
        assert_eq!(parse_pcp("high=64 batch=8 bogus"), Err(CmdError::Invalid));
        assert_eq!(parse_pcp("high=x batch=8"), Err(CmdError::Invalid));
        assert_eq!(
            parse_pcp("high=99999999999999999999 batch=8"),
            Err(CmdError::Range)
        );
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
