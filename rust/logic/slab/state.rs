// SPDX-License-Identifier: GPL-2.0
//! A slab's shared state word: where it is, its list head and in-use count.

use super::*;

// ------------------------------------------------------------- slab state

/// Where a slab is, which says who may change its state (`frozen` and the
/// lists of SLUB, as one field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Active slab of one CPU: only that CPU allocates from it.
    Cpu = 1,
    /// On one CPU's partial list: only that CPU takes it or flushes it.
    CpuPartial = 2,
    /// On its node's partial list: changes under the node lock.
    Node = 3,
    /// No free object and on no list (a debug cache keeps it on the node's
    /// full list): the first free moves it.
    Full = 4,
}

impl Place {
    const fn from_bits(b: u64) -> Option<Place> {
        match b {
            1 => Some(Place::Cpu),
            2 => Some(Place::CpuPartial),
            3 => Some(Place::Node),
            4 => Some(Place::Full),
            _ => None,
        }
    }
}

/// Marks a word as a live slab's state (the top 16 bits).
const STATE_MAGIC: u64 = 0x5ab1;
const NO_HEAD: u64 = 0xffff;

/// One slab's shared state in a single word, changed with compare-and-swap
/// (SLUB's `freelist` + `counters` pair): the head of the slab's own free
/// list, the objects not on it, and the slab's [`Place`].
///
/// Objects a CPU took with [`SlabState::take_all`] count as in use until
/// they come back through [`SlabState::deactivate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlabState {
    /// First object of the slab's free list.
    pub head: Option<u16>,
    /// Objects not on the slab's free list.
    pub inuse: u16,
    /// Where the slab is.
    pub place: Place,
}

/// What a free did to its slab's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeTransition {
    /// Nothing changes besides the list and count.
    None,
    /// The slab was full: the freeing CPU takes it on its partial list
    /// (SLUB's `put_cpu_partial()`).
    ToCpuPartial,
    /// A node-partial slab became empty: decide under the node lock.
    EmptiedOnNode,
}

impl SlabState {
    /// A new slab whose objects all went to a CPU.
    pub const fn new_active(nr: u16) -> Self {
        SlabState {
            head: None,
            inuse: nr,
            place: Place::Cpu,
        }
    }

    /// The packed word (never 0, so a cleared page field is no slab).
    pub const fn pack(self) -> u64 {
        let head = match self.head {
            Some(h) => h as u64,
            None => NO_HEAD,
        };
        head | (self.inuse as u64) << 16 | (self.place as u64) << 32 | STATE_MAGIC << 48
    }

    /// The state in `word`; `None` if it is not a live slab's word.
    pub const fn unpack(word: u64) -> Option<Self> {
        if word >> 48 != STATE_MAGIC {
            return None;
        }
        let place = match Place::from_bits((word >> 32) & 0xffff) {
            Some(p) => p,
            None => return None,
        };
        let head = word & 0xffff;
        Some(SlabState {
            head: if head == NO_HEAD {
                None
            } else {
                Some(head as u16)
            },
            inuse: ((word >> 16) & 0xffff) as u16,
            place,
        })
    }

    /// `obj` goes on the slab's list (its free pointer must already hold
    /// the old head). A free with nothing in use, or of the head itself, is
    /// a double free. `locked`: the caller holds the node lock, so it may
    /// make a node slab empty.
    pub const fn free(self, obj: u16, locked: bool) -> Result<(Self, FreeTransition), FreeError> {
        if self.inuse == 0 {
            return Err(FreeError::DoubleFree);
        }
        if let Some(h) = self.head {
            if h == obj {
                return Err(FreeError::DoubleFree);
            }
        }
        let mut next = SlabState {
            head: Some(obj),
            inuse: self.inuse - 1,
            place: self.place,
        };
        let t = match self.place {
            Place::Full => {
                next.place = Place::CpuPartial;
                FreeTransition::ToCpuPartial
            }
            Place::Node if next.inuse == 0 => {
                if !locked {
                    return Ok((self, FreeTransition::EmptiedOnNode));
                }
                FreeTransition::EmptiedOnNode
            }
            _ => FreeTransition::None,
        };
        Ok((next, t))
    }

    /// A CPU takes the slab's whole free list (it becomes the CPU's active
    /// slab); returns the new state and the list's head.
    pub const fn take_all(self, nr: u16) -> (Self, Option<u16>) {
        (
            SlabState {
                head: None,
                inuse: nr,
                place: Place::Cpu,
            },
            self.head,
        )
    }

    /// A CPU gives the slab up with `returned` objects of its own list
    /// (whose tail now points at the old head; `local_head` is the first).
    /// `None` if more come back than are in use (a corrupt list).
    /// The place after is decided by [`unfreeze_place`].
    pub const fn deactivate(self, local_head: Option<u16>, returned: u16) -> Option<Self> {
        if returned > self.inuse {
            return None;
        }
        let head = match local_head {
            Some(h) => Some(h),
            None => self.head,
        };
        Some(SlabState {
            head,
            inuse: self.inuse - returned,
            place: self.place,
        })
    }
}

/// Where a slab a CPU gives up goes (`deactivate_slab()`), the node lock
/// held: `None` means discard it (empty, and the node keeps enough).
pub fn unfreeze_place(state: SlabState, node: &mut NodePartial) -> Option<Place> {
    if state.head.is_none() {
        Some(Place::Full)
    } else if state.inuse == 0 {
        match node.emptied(false) {
            EmptySlab::Keep => Some(Place::Node),
            EmptySlab::Discard => None,
        }
    } else {
        node.add();
        Some(Place::Node)
    }
}
