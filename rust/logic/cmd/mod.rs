// SPDX-License-Identifier: GPL-2.0
//! Parsing of debugfs knob writes. A write is one line of words: an optional
//! verb, `key=value` pairs and bare flags. Anything malformed, unknown,
//! repeated or missing is `Invalid` (-EINVAL); a well-formed number outside
//! its range is `Range` (-ERANGE). Parsing has no side effects, so a refused
//! write changes nothing.
//!
//! The parsers, by the layer whose knobs they serve (all re-exported here):
//! - [`pages`]: the page/arena knobs (`limit`, `prefill`, `shrink`, `pcp`)
//!   and the `test` knob;
//! - [`slab`]: cache flag letters (`slab_debug`), numeric slab knobs and the
//!   `slab_test` trigger;
//! - [`mempool`]: the `mempool_test` trigger.
//!
//! This file holds what they share: the error type, the splitting of a write
//! into words, and the number, node id and trigger name rules.

mod mempool;
mod pages;
mod slab;

pub use mempool::{parse_mempool_test, MempoolTestCmd, TestBacking};
pub use pages::{
    parse_arena_blocks, parse_pcp, parse_prefill, parse_shrink, parse_test, ArenaRef, TestCmd,
};
pub use slab::{parse_knob_number, parse_slab_letters, parse_slab_test, slab_letters, SlabTestCmd};

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

/// A node id: `0..nr_nodes` (the host's `nr_node_ids`), -ERANGE beyond.
fn node_id(value: u64, nr_nodes: usize) -> Result<usize, CmdError> {
    usize::try_from(value)
        .ok()
        .filter(|&n| n < nr_nodes)
        .ok_or(CmdError::Range)
}

/// Longest cache name the slab test trigger takes.
pub const SLAB_TEST_NAME_MAX: usize = 31;

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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::String;

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
}
