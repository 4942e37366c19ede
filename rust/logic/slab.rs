// SPDX-License-Identifier: GPL-2.0
//! Object caches in the design of the host's SLUB (mm/slub.c): the pure parts.
//!
//! - kmalloc size classes, as the host's `kmalloc_info` / `kmalloc_index()`;
//! - the object layout inside a slab, as `calculate_sizes()` (red zones, free
//!   pointer placement, user tracking) and `calculate_alignment()`;
//! - the slab order, as `calculate_order()` / `calc_slab_order()`;
//! - a slab's free list with the free pointer stored hardened, as
//!   `CONFIG_SLAB_FREELIST_HARDENED`, over an abstract memory ([`FreeSlots`]);
//! - the node partial-list policy, as `set_min_partial()`,
//!   `set_cpu_partial()` and the empty-slab test of `__slab_free()`.
//!
//! Objects are named by their index in the slab (`u16`: a slab holds at most
//! [`MAX_OBJS_PER_SLAB`], SLUB's `MAX_OBJS_PER_PAGE`). Nothing here locks.

use super::order::{order_for_bytes, MAX_ORDER, PAGE_SIZE};

// ---------------------------------------------------------------- kmalloc

/// Sizes of the kmalloc classes, smallest first (the host's with
/// `KMALLOC_MIN_SIZE` 8 on x86-64, up to `KMALLOC_MAX_CACHE_SIZE`, 2 pages).
pub const KMALLOC_SIZES: [usize; 13] = [
    8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192,
];
/// Number of kmalloc classes.
pub const KMALLOC_CLASSES: usize = KMALLOC_SIZES.len();
/// Largest size served by a kmalloc class; bigger requests go to pages.
pub const KMALLOC_MAX_SIZE: usize = 8192;
/// Minimum alignment of every kmalloc object (`ARCH_KMALLOC_MINALIGN`, 8 on
/// x86-64) and of every slab object (`arch_slab_minalign()`).
pub const KMALLOC_MINALIGN: usize = 8;

/// `ceil(log2(n))` for `n >= 2`.
const fn ceil_log2(n: usize) -> u32 {
    usize::BITS - (n - 1).leading_zeros()
}

/// Class of the sizes up to 192 bytes by `(size - 1) / 8` (the host's
/// `kmalloc_size_index[]`): one load instead of a chain of compares.
const SMALL_CLASS: [u8; 24] = [
    0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6,
];

/// Index of the smallest class holding `size` bytes (`kmalloc_index()`;
/// up to 192 bytes by table, as the host's `kmalloc_slab()`).
///
/// `None` for sizes above [`KMALLOC_MAX_SIZE`] (served by pages) and for 0:
/// the host returns `ZERO_SIZE_PTR` for a zero-sized kmalloc, a pointer that
/// faults when used and that kfree accepts; the caller does the same (or
/// returns NULL), no class is involved.
#[inline]
pub const fn kmalloc_class(size: usize) -> Option<usize> {
    if size == 0 || size > KMALLOC_MAX_SIZE {
        return None;
    }
    if size <= 192 {
        return Some(SMALL_CLASS[(size - 1) / 8] as usize);
    }
    Some(7 + (ceil_log2(size) - 8) as usize)
}

/// Object size of class `index` (`None` past the last class).
pub const fn class_size(index: usize) -> Option<usize> {
    if index < KMALLOC_CLASSES {
        Some(KMALLOC_SIZES[index])
    } else {
        None
    }
}

/// Alignment the host guarantees for class `index` (`create_boot_cache()`):
/// the largest power of two dividing the size, so power-of-two classes are
/// naturally aligned and 96 / 192 are aligned to 32 / 64; never below
/// [`KMALLOC_MINALIGN`]. Alignments above a page are met because slabs are
/// buddy chunks, naturally aligned to their (larger) size.
pub const fn class_align(index: usize) -> Option<usize> {
    match class_size(index) {
        Some(size) => {
            let pow2 = size & size.wrapping_neg();
            Some(if pow2 > KMALLOC_MINALIGN {
                pow2
            } else {
                KMALLOC_MINALIGN
            })
        }
        None => None,
    }
}

// ----------------------------------------------------------- object layout

/// Size of the free pointer and of a red-zone word.
pub const WORD: usize = 8;
/// Cache line size for `HWCACHE_ALIGN` (`cache_line_size()` on x86-64).
pub const CACHE_LINE: usize = 64;
/// Bytes of one user-tracking record (`struct track` with stack depot:
/// address, handle, cpu, pid, jiffies); `STORE_USER` keeps two (alloc, free).
pub const TRACK_SIZE: usize = 32;
/// Largest object a cache accepts: one object in an order-3 slab.
pub const MAX_OBJECT_SIZE: usize = PAGE_SIZE << SLAB_MAX_ORDER;
/// Largest alignment a cache accepts (the 8192 class needs 8192).
pub const MAX_ALIGN: usize = KMALLOC_MAX_SIZE;

/// Cache flags, with the host's bit values (`include/linux/slab.h`) so the C
/// API can pass them through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabFlags(u32);

impl SlabFlags {
    /// `SLAB_RED_ZONE`: guard bytes on both sides of every object.
    pub const RED_ZONE: u32 = 1 << 1;
    /// `SLAB_POISON`: free objects filled with a pattern, checked on alloc.
    pub const POISON: u32 = 1 << 2;
    /// `SLAB_HWCACHE_ALIGN`: align objects to cache lines.
    pub const HWCACHE_ALIGN: u32 = 1 << 4;
    /// `SLAB_STORE_USER`: record the last alloc and free of every object.
    pub const STORE_USER: u32 = 1 << 7;
    /// Every flag the layout knows.
    pub const KNOWN: u32 = Self::RED_ZONE | Self::POISON | Self::HWCACHE_ALIGN | Self::STORE_USER;

    /// The flags of `bits`; `None` if a bit is not in [`SlabFlags::KNOWN`]
    /// (the caller masks flags it handles elsewhere, e.g. `SLAB_PANIC`).
    pub const fn from_bits(bits: u32) -> Option<Self> {
        if bits & !Self::KNOWN != 0 {
            None
        } else {
            Some(SlabFlags(bits))
        }
    }

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `flag` is set.
    pub const fn has(self, flag: u32) -> bool {
        self.0 & flag == flag
    }
}

/// Why a cache's parameters are refused (-EINVAL for all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// Object size 0 or above [`MAX_OBJECT_SIZE`].
    BadSize,
    /// Alignment not a power of two (0 means "no requirement" and is fine),
    /// or above [`MAX_ALIGN`].
    BadAlign,
}

/// Where everything lives in one object's stride, as SLUB lays it out:
///
/// `[left red zone][object ... right red zone][free ptr][tracks][pad]`
///
/// The object pointer handed out is `slab + index * size + red_left_pad`;
/// `offset`, the red zones and the tracks are relative to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLayout {
    /// Bytes the user asked for.
    pub object_size: usize,
    /// Stride between objects (`s->size`), a multiple of `align`.
    pub size: usize,
    /// Object alignment after `HWCACHE_ALIGN` and the minimum.
    pub align: usize,
    /// Bytes of object plus right red zone (`s->inuse`).
    pub inuse: usize,
    /// Left red zone before each object (0 without `RED_ZONE`).
    pub red_left_pad: usize,
    /// Where the free pointer lives: in the middle of the object when the
    /// object may be overwritten while free, else at `inuse`, after it.
    pub offset: usize,
    /// A constructor runs on new slabs: free objects keep their contents.
    pub has_ctor: bool,
    /// Free objects are poisoned (`__OBJECT_POISON`: `POISON` and no ctor).
    pub poison_object: bool,
    /// The flags the layout was made with.
    pub flags: SlabFlags,
}

const fn align_up(x: usize, a: usize) -> usize {
    (x + a - 1) & !(a - 1)
}

impl ObjectLayout {
    /// The layout of a cache of `object_size`-byte objects (`calculate_sizes()`).
    ///
    /// One deviation from SLUB: with `RED_ZONE` the right red zone is always
    /// at least a word (SLUB adds the word only when the size is already
    /// word-aligned, leaving as little as 1 byte of guard).
    pub const fn new(
        object_size: usize,
        align: usize,
        flags: SlabFlags,
        has_ctor: bool,
    ) -> Result<Self, LayoutError> {
        if object_size == 0 || object_size > MAX_OBJECT_SIZE {
            return Err(LayoutError::BadSize);
        }
        if align > MAX_ALIGN || (align != 0 && !align.is_power_of_two()) {
            return Err(LayoutError::BadAlign);
        }
        // calculate_alignment(): cache lines only for objects big enough to
        // use them (halving while the object fits in half), never below the
        // caller's request or a word.
        let mut align = align;
        if flags.has(SlabFlags::HWCACHE_ALIGN) {
            let mut ralign = CACHE_LINE;
            while object_size <= ralign / 2 {
                ralign /= 2;
            }
            if ralign > align {
                align = ralign;
            }
        }
        if align < KMALLOC_MINALIGN {
            align = KMALLOC_MINALIGN;
        }
        let red_zone = flags.has(SlabFlags::RED_ZONE);
        let poison = flags.has(SlabFlags::POISON);
        // The free pointer sits on a word boundary.
        let mut size = align_up(object_size, WORD);
        if red_zone {
            size += WORD;
        }
        let inuse = size;
        // A constructed or poisoned free object must keep its bytes, and a
        // sub-word red-zoned object has no word of its own: the free pointer
        // goes after the object. Otherwise in the middle, away from the
        // edges small overflows of neighbours hit.
        let offset;
        if poison || has_ctor || (red_zone && object_size < WORD) {
            offset = size;
            size += WORD;
        } else {
            offset = (object_size / 2) & !(WORD - 1);
        }
        if flags.has(SlabFlags::STORE_USER) {
            size += 2 * TRACK_SIZE;
        }
        let mut red_left_pad = 0;
        if red_zone {
            // A word of padding at the end, and a left red zone (aligned, so
            // the object after it stays aligned) that catches underflows
            // before they reach the previous object's metadata.
            size += WORD;
            red_left_pad = align_up(WORD, align);
            size += red_left_pad;
        }
        Ok(ObjectLayout {
            object_size,
            size: align_up(size, align),
            align,
            inuse,
            red_left_pad,
            offset,
            has_ctor,
            poison_object: poison && !has_ctor,
            flags,
        })
    }

    /// Whether the free pointer is after the object (`freeptr_outside_object()`).
    pub const fn freeptr_outside(&self) -> bool {
        self.offset >= self.inuse
    }

    /// End of object, red zone and free pointer (`get_info_end()`): the two
    /// track records start here with `STORE_USER`.
    pub const fn info_end(&self) -> usize {
        if self.freeptr_outside() {
            self.offset + WORD
        } else {
            self.inuse
        }
    }

    /// Offset of the first track record (alloc; free follows), if tracked.
    pub const fn track_offset(&self) -> Option<usize> {
        if self.flags.has(SlabFlags::STORE_USER) {
            Some(self.info_end())
        } else {
            None
        }
    }

    /// Byte offset of object `index`'s pointer from the slab start.
    pub const fn obj_offset(&self, index: u16) -> usize {
        index as usize * self.size + self.red_left_pad
    }

    /// Index of the object at byte offset `off` of a slab of `nr` objects;
    /// an offset that is not an object start is an invalid free.
    pub const fn index_of(&self, off: usize, nr: u16) -> Result<u16, FreeError> {
        if off < self.red_left_pad || self.size == 0 {
            return Err(FreeError::NotObject);
        }
        let rel = off - self.red_left_pad;
        let idx = rel / self.size;
        if idx * self.size != rel {
            return Err(FreeError::NotObject);
        }
        if idx >= nr as usize {
            return Err(FreeError::OutOfRange);
        }
        Ok(idx as u16)
    }

    /// Slab order for this layout on a machine of `nr_cpus` CPUs.
    pub const fn order(&self, nr_cpus: u32) -> Option<u32> {
        slab_order(self.size, nr_cpus)
    }
}

// --------------------------------------------------------------- slab order

/// Highest order chosen while objects fit (`PAGE_ALLOC_COSTLY_ORDER`, the
/// host's `slub_max_order`): higher orders fragment the buddy.
pub const SLAB_MAX_ORDER: u32 = 3;
/// Most objects in one slab (SLUB's `MAX_OBJS_PER_PAGE`, a 15-bit count).
pub const MAX_OBJS_PER_SLAB: usize = 32767;

/// Bytes of a slab of `order`.
pub const fn slab_bytes(order: u32) -> usize {
    PAGE_SIZE << order
}

/// Objects of stride `size` in a slab of `order`, at most [`MAX_OBJS_PER_SLAB`].
pub const fn objects_per_slab(order: u32, size: usize) -> usize {
    if size == 0 {
        return 0;
    }
    let n = slab_bytes(order) / size;
    if n > MAX_OBJS_PER_SLAB {
        MAX_OBJS_PER_SLAB
    } else {
        n
    }
}

/// Bytes left over at the end of a slab of `order` with stride `size`
/// (the whole slab for size 0).
pub const fn slab_waste(order: u32, size: usize) -> usize {
    slab_bytes(order) - objects_per_slab(order, size) * size
}

/// Find last set bit, 1-based (`fls()`; 0 for 0).
const fn fls(x: u32) -> u32 {
    u32::BITS - x.leading_zeros()
}

/// SLUB's default `min_objects`: more CPUs contend more on the partial
/// lists, so they get slabs with more objects.
pub const fn min_objects(nr_cpus: u32) -> usize {
    4 * (fls(nr_cpus) as usize + 1)
}

/// Smallest order in `min_order..=max_order` leaving at most
/// `1/fract_leftover` of the slab unused; `max_order + 1` if none.
const fn calc_slab_order(
    size: usize,
    min_order: u32,
    max_order: u32,
    fract_leftover: usize,
) -> u32 {
    let mut order = min_order;
    while order <= max_order {
        let bytes = slab_bytes(order);
        if bytes % size <= bytes / fract_leftover {
            break;
        }
        order += 1;
    }
    order
}

/// Slab order for stride `size` (`calculate_order()` with `slub_min_order`
/// 0 and `slub_max_order` [`SLAB_MAX_ORDER`]). `nr_cpus` is what the host
/// uses: present CPUs, or possible CPUs if only one is present.
///
/// Start at the order holding `min_objects`, take the smallest order up to
/// 3 wasting at most 1/16, relax to 1/8 and 1/4 before giving up; objects
/// too big for order 3 get the order that holds one (`None` for size 0 or
/// beyond [`MAX_ORDER`]).
pub const fn slab_order(size: usize, nr_cpus: u32) -> Option<u32> {
    if size == 0 {
        return None;
    }
    let mut max_objects = slab_bytes(SLAB_MAX_ORDER) / size;
    if max_objects == 0 {
        max_objects = 1;
    }
    let mut min_objs = min_objects(nr_cpus);
    if min_objs > max_objects {
        min_objs = max_objects;
    }
    let min_order = match order_for_bytes(min_objs * size) {
        Some(o) => o,
        None => return None,
    };
    if slab_bytes(min_order) / size > MAX_OBJS_PER_SLAB {
        return match order_for_bytes(size * MAX_OBJS_PER_SLAB) {
            Some(o) if o > 0 => Some(o - 1),
            _ => Some(0),
        };
    }
    let mut fraction = 16;
    while fraction > 1 {
        let order = calc_slab_order(size, min_order, SLAB_MAX_ORDER, fraction);
        if order <= SLAB_MAX_ORDER {
            return Some(order);
        }
        fraction /= 2;
    }
    match order_for_bytes(size) {
        Some(o) if o <= MAX_ORDER => Some(o),
        _ => None,
    }
}

/// `ceil(2^32 / size)`, for [`index_by_reciprocal`] (`size` > 0).
pub const fn reciprocal(size: usize) -> usize {
    (1usize << 32).div_ceil(size)
}

/// `off / size` by a multiply (SLUB's `obj_to_index` uses
/// `reciprocal_divide` alike): exact for every `off` below a slab's 32 KiB
/// and `size` up to 32 KiB, since the rounding error stays below `1/size`.
pub const fn index_by_reciprocal(off: usize, recip: usize) -> usize {
    (off * recip) >> 32
}

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
}

// ------------------------------------------------------------- partial lists

/// Fewest empty slabs a node keeps on its partial list (`MIN_PARTIAL`).
pub const MIN_PARTIAL: u32 = 5;
/// Most the default `min_partial` goes (`MAX_PARTIAL`).
pub const MAX_PARTIAL: u32 = 10;

/// Default `min_partial` for stride `size` (`set_min_partial()`): bigger
/// objects make slabs costlier to get again, so keep a few more.
pub const fn min_partial(size: usize) -> u32 {
    let m = if size == 0 { 0 } else { size.ilog2() / 2 };
    if m < MIN_PARTIAL {
        MIN_PARTIAL
    } else if m > MAX_PARTIAL {
        MAX_PARTIAL
    } else {
        m
    }
}

/// Default `cpu_partial` in objects for stride `size` (`set_cpu_partial()`,
/// the host's current values; older kernels used 2 / 6 / 13 / 30).
pub const fn cpu_partial_objects(size: usize) -> u32 {
    if size >= PAGE_SIZE {
        6
    } else if size >= 1024 {
        24
    } else if size >= 256 {
        52
    } else {
        120
    }
}

/// Slabs a CPU's partial list may hold for `cpu_partial` objects
/// (`slub_set_cpu_partial()`: slabs assumed half full).
pub const fn cpu_partial_slabs(cpu_partial: u32, objects_per_slab: usize) -> u32 {
    if objects_per_slab == 0 {
        return 0;
    }
    (cpu_partial as usize * 2).div_ceil(objects_per_slab) as u32
}

/// What a free that took a full slab for its CPU does with the CPU's
/// partial list (`put_cpu_partial()` with `drain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuPartialPut {
    /// Onto the list; it has room.
    Push,
    /// The list already holds its `cpu_partial_slabs`: those go to their
    /// nodes first, and the new slab starts the list again (it is the one
    /// whose objects are being freed now, so it stays with the CPU).
    DrainThenPush,
    /// `cpu_partial_slabs` is 0: the slab goes to its node at once.
    PushThenDrain,
}

/// [`CpuPartialPut`] for a list of `len` slabs and a limit of `max` slabs
/// (`slub_get_cpu_partial()`). As SLUB: the list is drained when it is
/// already full, before the slab joins it, never with the slab.
pub const fn cpu_partial_put(len: usize, max: u32) -> CpuPartialPut {
    if max == 0 {
        CpuPartialPut::PushThenDrain
    } else if len >= max as usize {
        CpuPartialPut::DrainThenPush
    } else {
        CpuPartialPut::Push
    }
}

/// Slabs a CPU takes from a node's partial list onto its own partial list
/// besides the one it makes its active slab (`get_partial_node()`: up to
/// `cpu_partial_slabs / 2 + 1`, none when it is 0), its list holding
/// `len` slabs; never beyond `max`.
pub const fn cpu_partial_refill(max: u32, len: usize) -> usize {
    if max == 0 {
        return 0;
    }
    let want = max as usize / 2 + 1;
    let room = (max as usize).saturating_sub(len);
    if want < room {
        want
    } else {
        room
    }
}

/// What to do with a slab whose last object was just freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptySlab {
    /// Keep it on the node's partial list (it is counted there now).
    Keep,
    /// Take it off the list (if it was on it) and free it to the buddy.
    Discard,
}

/// The count side of one node's partial list; the caller holds the node
/// lock and keeps the slabs' list itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodePartial {
    nr_partial: u32,
    /// Empty slabs kept rather than freed (the `min_partial` knob).
    pub min_partial: u32,
}

impl NodePartial {
    /// An empty list.
    pub const fn new(min_partial: u32) -> Self {
        NodePartial {
            nr_partial: 0,
            min_partial,
        }
    }

    /// Slabs on the list.
    pub fn nr_partial(&self) -> u32 {
        self.nr_partial
    }

    /// A slab with free objects joins the list (`add_partial()`).
    pub fn add(&mut self) {
        self.nr_partial += 1;
    }

    /// A slab leaves the list (taken by a CPU, discarded by shrink).
    pub fn remove(&mut self) {
        self.nr_partial = self.nr_partial.saturating_sub(1);
    }

    /// A slab became empty; `on_list` says whether it is on this list. As
    /// `__slab_free()`: discard it once the list holds `min_partial` slabs
    /// (itself included), so at most `min_partial` empty slabs are kept.
    pub fn emptied(&mut self, on_list: bool) -> EmptySlab {
        if self.nr_partial >= self.min_partial {
            if on_list {
                self.remove();
            }
            EmptySlab::Discard
        } else {
            if !on_list {
                self.add();
            }
            EmptySlab::Keep
        }
    }
}

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

impl SlabFreelist {
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

#[cfg(test)]
mod tests;
