// SPDX-License-Identifier: GPL-2.0
//! Parsers of the page allocator's knobs: `limit`, `prefill`, `shrink` and
//! `pcp` name (node, zone) arenas; `test` drives the allocator.

use super::{node_id, CmdError, Words, MAX_TEST_COUNT};
use crate::logic::order::MAX_ORDER;
use crate::logic::pcp::{validate_high_batch, HighBatchError};
use crate::logic::zonelist::ZoneType;

/// Most blocks one knob write may name.
pub const MAX_BLOCKS: u64 = 1 << 20;

/// A (node, zone) arena named by a knob write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaRef {
    /// Node id.
    pub node: usize,
    /// Zone.
    pub zone: ZoneType,
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

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
}
