// SPDX-License-Identifier: GPL-2.0
//! Parsing of debugfs knob writes. A write is one line of words: an optional
//! verb, `key=value` pairs and bare flags. Anything malformed, unknown,
//! repeated or missing is `Invalid` (-EINVAL); a well-formed number outside
//! its range is `Range` (-ERANGE). Parsing has no side effects, so a refused
//! write changes nothing.

use super::order::MAX_ORDER;
use super::pcp::{validate_high_batch, HighBatchError};
use super::zonelist::{ZoneType, MAX_NODES};

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
        let n: u64 = text.parse().map_err(|_| {
            if text.bytes().all(|b| b.is_ascii_digit()) {
                CmdError::Range
            } else {
                CmdError::Invalid
            }
        })?;
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

fn arena_ref(words: &mut Words<'_>) -> Result<ArenaRef, CmdError> {
    let node = words.required("node", MAX_NODES as u64 - 1)? as usize;
    Ok(ArenaRef {
        node,
        zone: words.zone()?,
    })
}

/// `node=N zone=Z blocks=B`, for the `limit` and `prefill` knobs.
pub fn parse_arena_blocks(input: &str) -> Result<(ArenaRef, u64), CmdError> {
    let mut words = Words::split(input, false)?;
    let arena = arena_ref(&mut words)?;
    let blocks = words.required("blocks", MAX_BLOCKS)?;
    words.finish(&[])?;
    Ok((arena, blocks))
}

/// `all` or `node=N zone=Z`, for the `shrink` knob: `None` means all arenas.
pub fn parse_shrink(input: &str) -> Result<Option<ArenaRef>, CmdError> {
    let mut words = Words::split(input, false)?;
    if words.flag("all") {
        words.finish(&["all"])?;
        if words.n_pairs != 0 {
            return Err(CmdError::Invalid);
        }
        return Ok(None);
    }
    let arena = arena_ref(&mut words)?;
    words.finish(&[])?;
    Ok(Some(arena))
}

/// Parses a `pcp` knob write: `high=H batch=B [node=N zone=Z]` (no arena:
/// all arenas). `high=0` turns the lists off; `batch` must be `1..=high`
/// otherwise (-EINVAL); either above its maximum is -ERANGE.
pub fn parse_pcp(input: &str) -> Result<(Option<ArenaRef>, u32, u32), CmdError> {
    let mut words = Words::split(input, false)?;
    let high = words.required("high", u64::MAX)?;
    let batch = words.required("batch", u64::MAX)?;
    let arena = if words.value("node").is_some() || words.value("zone").is_some() {
        Some(arena_ref(&mut words)?)
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
    /// hold `count` chunks, `zone` being the highest zone allowed.
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
pub fn parse_test(input: &str) -> Result<TestCmd, CmdError> {
    let mut words = Words::split(input, true)?;
    let cmd = match words.verb {
        Some("alloc") => {
            let arena = arena_ref(&mut words)?;
            let order = words.required("order", MAX_ORDER as u64)? as u32;
            let count = words.required("count", MAX_TEST_COUNT)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
