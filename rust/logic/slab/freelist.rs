// SPDX-License-Identifier: GPL-2.0
//! A slab's free list, its free pointers stored hardened.

use super::*;

// ---------------------------------------------------------------- free list

/// Free pointer of object `next` as stored at `slot_addr`
/// (`freelist_ptr_encode()` with `CONFIG_SLAB_FREELIST_HARDENED`).
///
/// The pointer is `index + 1` (0 ends the list), mixed with the cache's
/// `random` and the byte-swapped slot address, so a leaked word reveals
/// neither and a word copied to another slot or cache decodes to garbage.
pub const fn encode(next: Option<u16>, slot_addr: u64, random: u64) -> u64 {
    let ptr = match next {
        Some(i) => i as u64 + 1,
        None => 0,
    };
    ptr ^ random ^ slot_addr.swap_bytes()
}

/// A stored free pointer that does not decode to an object of the slab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPointer;

/// Inverse of [`encode`] for a slab of `nr` objects: anything decoding to
/// an index `>= nr` (a random overwrite does, but for a chance of about
/// `nr / 2^64`) is refused, so a corrupted pointer is never followed.
pub const fn decode(
    raw: u64,
    slot_addr: u64,
    random: u64,
    nr: u16,
) -> Result<Option<u16>, BadPointer> {
    let ptr = raw ^ random ^ slot_addr.swap_bytes();
    if ptr == 0 {
        Ok(None)
    } else if ptr <= nr as u64 {
        Ok(Some((ptr - 1) as u16))
    } else {
        Err(BadPointer)
    }
}

/// The memory of one slab, as the free list sees it: the free-pointer word
/// of each object. In the kernel `read`/`write` access the word at
/// `object + offset` and `slot_addr` is its address.
pub trait FreeSlots {
    /// The stored word of object `obj`.
    fn read(&self, obj: u16) -> u64;
    /// Stores `raw` as object `obj`'s word.
    fn write(&mut self, obj: u16, raw: u64);
    /// Address of object `obj`'s word (mixed into the encoding).
    fn slot_addr(&self, obj: u16) -> u64;
}

/// A free list is corrupt: object `obj`'s free pointer, `raw` as stored,
/// decodes out of the slab or makes the list disagree with the free count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt {
    /// The object whose free-pointer word is wrong.
    pub obj: u16,
    /// The word found there.
    pub raw: u64,
}

/// Why a free is refused; the object is not put on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeError {
    /// Index beyond the slab.
    OutOfRange,
    /// Address inside the slab but not an object start.
    NotObject,
    /// The object is already free.
    DoubleFree,
    /// The list is corrupt (found by the full check).
    Corrupt(Corrupt),
}

/// Raw word left in an allocated object's slot: decodes to an index far
/// out of range, so a list corrupted into pointing at an allocated object
/// whose owner has not overwritten the word is still caught.
const WIPE: u64 = 0xdead_0000_0000_0000;

/// The free list of one slab: head and counts here, links in the objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlabFreelist {
    head: Option<u16>,
    nr: u16,
    inuse: u16,
    random: u64,
}

impl SlabFreelist {
    /// A new slab of `nr` objects, all free, linked in address order (so
    /// allocations walk the slab forwards); `None` if `nr` is 0 or above
    /// [`MAX_OBJS_PER_SLAB`]. `random` is the cache's secret.
    pub fn init(slots: &mut impl FreeSlots, nr: u16, random: u64) -> Option<Self> {
        if nr == 0 || nr as usize > MAX_OBJS_PER_SLAB {
            return None;
        }
        for obj in 0..nr {
            let next = if obj + 1 < nr { Some(obj + 1) } else { None };
            slots.write(obj, encode(next, slots.slot_addr(obj), random));
        }
        Some(SlabFreelist {
            head: Some(0),
            nr,
            inuse: 0,
            random,
        })
    }

    /// Objects in the slab.
    pub fn nr(&self) -> u16 {
        self.nr
    }

    /// Objects not on the list (allocated, or lost to a corruption).
    pub fn inuse(&self) -> u16 {
        self.inuse
    }

    /// Objects on the list.
    pub fn nr_free(&self) -> u16 {
        self.nr - self.inuse
    }

    /// No object in use: the slab can go back to the buddy.
    pub fn is_empty(&self) -> bool {
        self.inuse == 0
    }

    /// No free object.
    pub fn is_full(&self) -> bool {
        self.head.is_none()
    }

    /// The next free object after `obj`, checked.
    fn next_of(&self, slots: &impl FreeSlots, obj: u16) -> Result<Option<u16>, Corrupt> {
        let raw = slots.read(obj);
        decode(raw, slots.slot_addr(obj), self.random, self.nr).map_err(|_| Corrupt { obj, raw })
    }

    /// Takes the first free object. The list must end exactly when the
    /// free count does; a pointer that does not is reported and nothing
    /// changes. The taken object's word is wiped (see [`WIPE`]).
    pub fn pop(&mut self, slots: &mut impl FreeSlots) -> Result<Option<u16>, Corrupt> {
        let Some(obj) = self.head else {
            return Ok(None);
        };
        let next = self.next_of(slots, obj)?;
        if next.is_none() != (self.nr_free() == 1) {
            return Err(Corrupt {
                obj,
                raw: slots.read(obj),
            });
        }
        slots.write(obj, WIPE ^ self.random ^ slots.slot_addr(obj).swap_bytes());
        self.head = next;
        self.inuse += 1;
        Ok(Some(obj))
    }

    /// Puts `obj` back at the head. Checks only what is cheap, as SLUB's
    /// fast path: range, a slab with nothing in use, and `obj` being the
    /// head (the last free); [`SlabFreelist::push_checked`] also walks.
    pub fn push(&mut self, slots: &mut impl FreeSlots, obj: u16) -> Result<(), FreeError> {
        if obj >= self.nr {
            return Err(FreeError::OutOfRange);
        }
        if self.inuse == 0 || self.head == Some(obj) {
            return Err(FreeError::DoubleFree);
        }
        slots.write(obj, encode(self.head, slots.slot_addr(obj), self.random));
        self.head = Some(obj);
        self.inuse -= 1;
        Ok(())
    }

    /// [`SlabFreelist::push`] after a full walk: any double free is caught
    /// (the debug check, `on_freelist()`), and so is a corrupt list.
    pub fn push_checked(&mut self, slots: &mut impl FreeSlots, obj: u16) -> Result<(), FreeError> {
        if obj >= self.nr {
            return Err(FreeError::OutOfRange);
        }
        match self.contains(slots, obj) {
            Ok(true) => Err(FreeError::DoubleFree),
            Ok(false) => self.push(slots, obj),
            Err(c) => Err(FreeError::Corrupt(c)),
        }
    }

    /// Visits every free object, checking each pointer and that the list
    /// holds exactly `nr_free` objects (so a cycle ends the walk as corrupt,
    /// after at most `nr` steps).
    pub fn for_each_free(
        &self,
        slots: &impl FreeSlots,
        mut f: impl FnMut(u16),
    ) -> Result<(), Corrupt> {
        let want = self.nr_free();
        let mut seen = 0u16;
        let mut cur = self.head;
        while let Some(obj) = cur {
            seen += 1;
            f(obj);
            let next = self.next_of(slots, obj)?;
            if next.is_none() != (seen == want) {
                return Err(Corrupt {
                    obj,
                    raw: slots.read(obj),
                });
            }
            cur = next;
        }
        Ok(())
    }

    /// Whether `obj` is free (a full, checked walk).
    pub fn contains(&self, slots: &impl FreeSlots, obj: u16) -> Result<bool, Corrupt> {
        let mut found = false;
        self.for_each_free(slots, |o| found |= o == obj)?;
        Ok(found)
    }

    /// After a [`Corrupt`]: forgets the rest of the list, whose objects then
    /// count as in use and are never handed out, so the slab is never freed
    /// while they may be live. Returns how many were dropped.
    pub fn drop_rest(&mut self) -> u16 {
        let dropped = self.nr_free();
        self.head = None;
        self.inuse = self.nr;
        dropped
    }

    /// The list of a slab whose shared state is `state` (the kernel keeps
    /// the head and count in the slab's state word).
    pub fn from_state(state: SlabState, nr: u16, random: u64) -> Self {
        SlabFreelist {
            head: state.head,
            nr,
            inuse: state.inuse,
            random,
        }
    }

    /// The head and in-use count back, for the state word.
    pub fn parts(&self) -> (Option<u16>, u16) {
        (self.head, self.inuse)
    }
}
