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

/// Index of the smallest class holding `size` bytes (`kmalloc_index()`).
///
/// `None` for sizes above [`KMALLOC_MAX_SIZE`] (served by pages) and for 0:
/// the host returns `ZERO_SIZE_PTR` for a zero-sized kmalloc, a pointer that
/// faults when used and that kfree accepts; the caller does the same (or
/// returns NULL), no class is involved.
pub const fn kmalloc_class(size: usize) -> Option<usize> {
    Some(match size {
        0 => return None,
        1..=8 => 0,
        9..=16 => 1,
        17..=32 => 2,
        33..=64 => 3,
        65..=96 => 4,
        97..=128 => 5,
        129..=192 => 6,
        193..=KMALLOC_MAX_SIZE => 7 + (ceil_log2(size) - 8) as usize,
        _ => return None,
    })
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
mod tests {
    extern crate std;
    use super::*;
    use std::collections::HashSet;
    use std::vec::Vec;

    use crate::logic::test_rng::XorShift as Rng;

    #[test]
    fn kmalloc_classes_are_smallest_fit() {
        assert_eq!(kmalloc_class(0), None);
        assert_eq!(kmalloc_class(KMALLOC_MAX_SIZE + 1), None);
        assert_eq!(kmalloc_class(usize::MAX), None);
        for size in 1..=KMALLOC_MAX_SIZE + 1 {
            let want = KMALLOC_SIZES.iter().position(|&c| c >= size);
            assert_eq!(kmalloc_class(size), want, "size {size}");
        }
        assert_eq!(class_size(KMALLOC_CLASSES), None);
        assert_eq!(kmalloc_class(96), Some(4));
        assert_eq!(kmalloc_class(97), Some(5));
        assert_eq!(kmalloc_class(193), Some(7));
    }

    #[test]
    fn kmalloc_class_alignment_and_layout() {
        for i in 0..KMALLOC_CLASSES {
            let (size, align) = (class_size(i).unwrap(), class_align(i).unwrap());
            assert!(align.is_power_of_two() && align >= KMALLOC_MINALIGN);
            assert_eq!(size % align, 0);
            if size.is_power_of_two() {
                assert_eq!(align, size);
            }
            let l = ObjectLayout::new(size, align, SlabFlags::default(), false).unwrap();
            assert_eq!((l.size, l.align), (size, align));
            let order = l.order(2).unwrap();
            // Slabs are naturally aligned buddy chunks: every object is too.
            assert_eq!(slab_bytes(order) % align, 0);
            for idx in 0..objects_per_slab(order, l.size) as u16 {
                assert_eq!(l.obj_offset(idx) % align, 0);
            }
        }
        assert_eq!(class_align(4), Some(32));
        assert_eq!(class_align(6), Some(64));
        assert_eq!(class_align(KMALLOC_CLASSES), None);
    }

    #[test]
    fn layout_matches_host_examples() {
        let plain = ObjectLayout::new(64, 0, SlabFlags::default(), false).unwrap();
        assert_eq!(
            (plain.size, plain.inuse, plain.offset, plain.align),
            (64, 64, 32, 8)
        );
        assert!(!plain.freeptr_outside());
        // slub_debug=FZPU on 64 bytes: 64 + 8 right red zone, free pointer
        // after it, two tracks, a padding word, an 8-byte left red zone.
        let all = SlabFlags::from_bits(SlabFlags::KNOWN & !SlabFlags::HWCACHE_ALIGN).unwrap();
        let dbg = ObjectLayout::new(64, 0, all, false).unwrap();
        assert_eq!((dbg.inuse, dbg.offset, dbg.red_left_pad), (72, 72, 8));
        assert_eq!(dbg.size, 72 + 8 + 2 * TRACK_SIZE + 8 + 8);
        assert_eq!(dbg.track_offset(), Some(80));
        assert!(dbg.poison_object);
        // A ctor keeps objects unpoisoned and moves the free pointer out.
        let ctor = ObjectLayout::new(
            20,
            0,
            SlabFlags::from_bits(SlabFlags::POISON).unwrap(),
            true,
        )
        .unwrap();
        assert!(!ctor.poison_object && ctor.freeptr_outside());
        assert_eq!((ctor.offset, ctor.size), (24, 32));
        // Cache-line alignment only for objects over half a line.
        let hw = SlabFlags::from_bits(SlabFlags::HWCACHE_ALIGN).unwrap();
        assert_eq!(ObjectLayout::new(100, 0, hw, false).unwrap().align, 64);
        assert_eq!(ObjectLayout::new(33, 0, hw, false).unwrap().align, 64);
        assert_eq!(ObjectLayout::new(32, 0, hw, false).unwrap().align, 32);
        assert_eq!(ObjectLayout::new(5, 0, hw, false).unwrap().align, 8);
        assert_eq!(ObjectLayout::new(5, 128, hw, false).unwrap().align, 128);
    }

    #[test]
    fn layout_validation() {
        let f = SlabFlags::default();
        assert_eq!(ObjectLayout::new(0, 8, f, false), Err(LayoutError::BadSize));
        assert_eq!(
            ObjectLayout::new(MAX_OBJECT_SIZE + 1, 8, f, false),
            Err(LayoutError::BadSize)
        );
        assert_eq!(
            ObjectLayout::new(64, 24, f, false),
            Err(LayoutError::BadAlign)
        );
        assert_eq!(
            ObjectLayout::new(64, MAX_ALIGN * 2, f, false),
            Err(LayoutError::BadAlign)
        );
        assert!(ObjectLayout::new(MAX_OBJECT_SIZE, MAX_ALIGN, f, false).is_ok());
        assert_eq!(SlabFlags::from_bits(1 << 8), None);
        assert_eq!(
            SlabFlags::from_bits(SlabFlags::KNOWN).map(|f| f.bits()),
            Some(SlabFlags::KNOWN)
        );
    }

    /// Every combination of flags, ctor, alignment and many sizes: the parts
    /// of a stride do not overlap and fit, alignment holds.
    #[test]
    fn layout_invariants() {
        let mut rng = Rng(0x5eed_1a70_u64);
        for _ in 0..20_000 {
            let object_size = match rng.next() % 3 {
                0 => (rng.next() % 64 + 1) as usize,
                1 => (rng.next() % 4096 + 1) as usize,
                _ => (rng.next() % MAX_OBJECT_SIZE as u64 + 1) as usize,
            };
            let align = [0, 1, 8, 16, 64, 256, 4096][(rng.next() % 7) as usize];
            let flags = SlabFlags::from_bits(rng.next() as u32 & SlabFlags::KNOWN).unwrap();
            let ctor = rng.next().is_multiple_of(2);
            let l = ObjectLayout::new(object_size, align, flags, ctor).unwrap();
            assert!(l.align.is_power_of_two() && l.align >= align.max(8));
            assert_eq!(l.size % l.align, 0);
            assert_eq!(l.red_left_pad % l.align, 0);
            assert!(l.inuse >= object_size && l.inuse.is_multiple_of(WORD));
            assert_eq!(l.offset % WORD, 0);
            let room = l.size - l.red_left_pad;
            assert!(l.offset + WORD <= room);
            if flags.has(SlabFlags::RED_ZONE) {
                assert!(l.inuse - object_size >= WORD && l.red_left_pad >= WORD);
            } else {
                assert_eq!(l.red_left_pad, 0);
            }
            if ctor || flags.has(SlabFlags::POISON) {
                assert!(l.freeptr_outside() && l.offset >= l.inuse);
            } else if !(flags.has(SlabFlags::RED_ZONE) && object_size < WORD) {
                assert!(l.offset + WORD <= l.inuse.max(WORD) && !l.freeptr_outside());
            }
            if let Some(t) = l.track_offset() {
                assert!(t >= l.inuse && t + 2 * TRACK_SIZE <= room);
            }
            let order = l.order(4).unwrap();
            let nr = objects_per_slab(order, l.size) as u16;
            assert!(nr >= 1);
            let last = nr - 1;
            assert_eq!(l.index_of(l.obj_offset(last), nr), Ok(last));
            assert_eq!(
                l.index_of(l.obj_offset(last) + 1, nr),
                Err(FreeError::NotObject)
            );
            assert_eq!(l.index_of(l.obj_offset(nr), nr), Err(FreeError::OutOfRange));
        }
    }

    #[test]
    fn slab_order_examples() {
        // Host kmalloc caches with 2 CPUs: 4k and 8k in order-3 slabs.
        assert_eq!(slab_order(4096, 2), Some(3));
        assert_eq!(slab_order(8192, 2), Some(3));
        assert_eq!(slab_order(256, 8), Some(1));
        assert_eq!(slab_order(64, 1), Some(0));
        assert_eq!(slab_order(0, 1), None);
        // Too big for order 3: the order holding one object.
        assert_eq!(slab_order(PAGE_SIZE * 9, 1), Some(4));
        assert_eq!(slab_order(PAGE_SIZE << (MAX_ORDER + 1), 1), None);
        assert_eq!(min_objects(1), 8);
        assert_eq!(min_objects(8), 20);
    }

    #[test]
    fn slab_order_keeps_waste_small() {
        let mut sizes: Vec<usize> = KMALLOC_SIZES.to_vec();
        sizes.extend([
            24, 40, 72, 100, 136, 200, 328, 700, 1000, 1100, 1500, 3000, 5000, 10_000,
        ]);
        sizes.extend((8..=MAX_OBJECT_SIZE).step_by(8).filter(|s| s % 37 == 0));
        for &size in &sizes {
            for nr_cpus in [1, 2, 4, 64, 1024] {
                let order = slab_order(size, nr_cpus).unwrap();
                let nr = objects_per_slab(order, size);
                assert!((1..=MAX_OBJS_PER_SLAB).contains(&nr), "size {size}");
                let max_objects = (slab_bytes(SLAB_MAX_ORDER) / size).max(1);
                let min_order =
                    order_for_bytes(min_objects(nr_cpus).min(max_objects) * size).unwrap();
                let good = (min_order..=SLAB_MAX_ORDER)
                    .find(|&o| slab_waste(o, size) <= slab_bytes(o) / 16);
                if let Some(best) = good {
                    assert_eq!(order, best, "size {size} cpus {nr_cpus}");
                    assert!(slab_waste(order, size) <= slab_bytes(order) / 16);
                } else {
                    assert!(order >= min_order.min(SLAB_MAX_ORDER));
                }
                if size <= slab_bytes(SLAB_MAX_ORDER) {
                    assert!(order <= SLAB_MAX_ORDER);
                }
            }
        }
    }

    /// A slab's words in a Vec; slot addresses as in a real slab.
    struct Mem {
        words: Vec<u64>,
        base: u64,
        stride: u64,
    }

    impl FreeSlots for Mem {
        fn read(&self, obj: u16) -> u64 {
            self.words[obj as usize]
        }
        fn write(&mut self, obj: u16, raw: u64) {
            self.words[obj as usize] = raw;
        }
        fn slot_addr(&self, obj: u16) -> u64 {
            self.base + obj as u64 * self.stride + 32
        }
    }

    #[test]
    fn encoding_round_trips_and_rejects() {
        let (addr, random) = (0xffff_8880_1234_5678, 0x0123_4567_89ab_cdef);
        for next in [None, Some(0), Some(99)] {
            assert_eq!(
                decode(encode(next, addr, random), addr, random, 100),
                Ok(next)
            );
        }
        assert_eq!(
            decode(encode(Some(100), addr, random), addr, random, 100),
            Err(BadPointer)
        );
        // A word moved to another slot does not decode.
        assert_eq!(
            decode(encode(Some(3), addr, random), addr + 64, random, 100),
            Err(BadPointer)
        );
        // The stored word is not the plain index.
        assert_ne!(encode(Some(3), addr, random) & 0xffff_ffff_ffff_0000, 0);
    }

    #[test]
    fn freelist_basics() {
        let mut m = Mem {
            words: std::vec![0; 4],
            base: 0x1000,
            stride: 64,
        };
        assert!(SlabFreelist::init(&mut m, 0, 1).is_none());
        let mut fl = SlabFreelist::init(&mut m, 4, 0xabc).unwrap();
        assert!(fl.is_empty() && !fl.is_full());
        assert_eq!(fl.push(&mut m, 0), Err(FreeError::DoubleFree));
        for want in 0..4 {
            assert_eq!(fl.pop(&mut m), Ok(Some(want)));
        }
        assert_eq!(fl.pop(&mut m), Ok(None));
        assert!(fl.is_full() && fl.inuse() == 4);
        assert_eq!(fl.push(&mut m, 4), Err(FreeError::OutOfRange));
        fl.push(&mut m, 2).unwrap();
        assert_eq!(fl.push(&mut m, 2), Err(FreeError::DoubleFree));
        fl.push(&mut m, 1).unwrap();
        // 2 is no longer the head: only the full check sees it.
        assert_eq!(fl.push_checked(&mut m, 2), Err(FreeError::DoubleFree));
        assert_eq!(fl.contains(&m, 1), Ok(true));
        assert_eq!(fl.contains(&m, 3), Ok(false));
        fl.push_checked(&mut m, 3).unwrap();
        assert_eq!(fl.nr_free(), 3);
        // Corruption: reported, nothing changes, drop_rest quarantines.
        m.words[3] ^= 1 << 40;
        let before = fl;
        assert_eq!(
            fl.pop(&mut m),
            Err(Corrupt {
                obj: 3,
                raw: m.words[3]
            })
        );
        assert_eq!(fl, before);
        assert_eq!(fl.drop_rest(), 3);
        assert_eq!(fl.pop(&mut m), Ok(None));
        assert_eq!(fl.inuse(), 4);
    }

    /// Random allocs and frees against a model set of free objects: no
    /// object handed out twice, counts exact, double frees refused; then one
    /// stored word of a free object is overwritten and the checked walk must
    /// report it (never yield an index out of the slab or loop).
    #[test]
    fn freelist_matches_model() {
        let mut rng = Rng(0x0dd_ba11_cafe_f00d);
        for round in 0..300 {
            let nr = (rng.next() % 300 + 1) as u16;
            let random = rng.next();
            let mut m = Mem {
                words: std::vec![0; nr as usize],
                base: 0xffff_8880_0000_0000 + round * 0x10_0000,
                stride: 8 + (rng.next() % 64) * 8,
            };
            let mut fl = SlabFreelist::init(&mut m, nr, random).unwrap();
            let mut free: HashSet<u16> = (0..nr).collect();
            let mut live: Vec<u16> = Vec::new();
            for _ in 0..2000 {
                match rng.next() % 5 {
                    0 | 1 => match fl.pop(&mut m).unwrap() {
                        Some(obj) => {
                            assert!(free.remove(&obj), "object {obj} handed out twice");
                            live.push(obj);
                            // The owner may overwrite the word (or not).
                            if rng.next().is_multiple_of(2) {
                                m.words[obj as usize] = rng.next();
                            }
                        }
                        None => assert!(free.is_empty()),
                    },
                    2 | 3 if !live.is_empty() => {
                        let obj = live.swap_remove((rng.next() % live.len() as u64) as usize);
                        if rng.next().is_multiple_of(2) {
                            fl.push_checked(&mut m, obj).unwrap();
                        } else {
                            fl.push(&mut m, obj).unwrap();
                        }
                        free.insert(obj);
                    }
                    _ => {
                        if let Some(&obj) = free.iter().next() {
                            assert_eq!(fl.push_checked(&mut m, obj), Err(FreeError::DoubleFree));
                        }
                    }
                }
                assert_eq!(fl.nr_free() as usize, free.len());
                assert_eq!(fl.inuse() as usize, live.len());
            }
            let mut walked = HashSet::new();
            fl.for_each_free(&m, |o| assert!(walked.insert(o))).unwrap();
            assert_eq!(walked, free);

            let Some(&victim) = free
                .iter()
                .nth((rng.next() % free.len().max(1) as u64) as usize)
            else {
                continue;
            };
            let old = m.words[victim as usize];
            m.words[victim as usize] = match round % 3 {
                0 => rng.next(),
                1 => old ^ (1 << (rng.next() % 16)),
                _ => old ^ (1 << (rng.next() % 64)),
            };
            let mut steps = 0;
            let r = fl.for_each_free(&m, |o| {
                assert!(o < nr);
                steps += 1;
            });
            assert!(steps <= nr as usize);
            assert!(
                matches!(r, Err(Corrupt { .. })),
                "round {round}: corruption missed"
            );
            assert!(fl.contains(&m, victim).is_err());
            // Popping everything hits the corruption, never an out-of-range
            // object and never an object twice.
            loop {
                match fl.pop(&mut m) {
                    Ok(Some(obj)) => assert!(free.remove(&obj)),
                    Ok(None) => panic!("round {round}: popped past a corrupt list"),
                    Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn partial_defaults() {
        assert_eq!(min_partial(8), MIN_PARTIAL);
        assert_eq!(min_partial(4096), 6);
        assert_eq!(min_partial(1 << 20), MAX_PARTIAL);
        assert_eq!(min_partial(1 << 30), MAX_PARTIAL);
        assert_eq!(cpu_partial_objects(64), 120);
        assert_eq!(cpu_partial_objects(256), 52);
        assert_eq!(cpu_partial_objects(1024), 24);
        assert_eq!(cpu_partial_objects(4096), 6);
        // kmalloc-4k, 8 objects a slab: 6 objects -> 2 slabs.
        assert_eq!(cpu_partial_slabs(6, 8), 2);
        assert_eq!(cpu_partial_slabs(120, 64), 4);
        assert_eq!(cpu_partial_slabs(1, 0), 0);
    }

    /// Slabs allocated full, freed one object at a time, taken back from
    /// the partial list: the policy's count matches the slabs on the list,
    /// and empty slabs kept never exceed `min_partial`.
    #[test]
    fn node_partial_keeps_at_most_min_partial_empty() {
        struct Slab {
            inuse: u32,
            cap: u32,
            on_list: bool,
        }
        let mut rng = Rng(0xfee1_600d);
        for _ in 0..200 {
            let min = (rng.next() % 12) as u32;
            let mut node = NodePartial::new(min);
            let mut slabs: Vec<Slab> = Vec::new();
            let mut discarded = 0;
            for _ in 0..3000 {
                match rng.next() % 8 {
                    0 => {
                        let cap = (rng.next() % 16 + 1) as u32;
                        slabs.push(Slab {
                            inuse: cap,
                            cap,
                            on_list: false,
                        });
                    }
                    1 => {
                        // A CPU takes a partial slab and fills it.
                        let on: Vec<usize> =
                            (0..slabs.len()).filter(|&i| slabs[i].on_list).collect();
                        if let Some(&i) = on.get(rng.next() as usize % on.len().max(1)) {
                            node.remove();
                            slabs[i].on_list = false;
                            slabs[i].inuse = slabs[i].cap;
                        }
                    }
                    _ if slabs.iter().any(|s| s.inuse > 0) => {
                        let mut i = rng.next() as usize % slabs.len();
                        while slabs[i].inuse == 0 {
                            i = (i + 1) % slabs.len();
                        }
                        let s = &mut slabs[i];
                        s.inuse -= 1;
                        if s.inuse == 0 {
                            match node.emptied(s.on_list) {
                                EmptySlab::Keep => s.on_list = true,
                                EmptySlab::Discard => {
                                    slabs.swap_remove(i);
                                    discarded += 1;
                                }
                            }
                        } else if !s.on_list {
                            node.add();
                            s.on_list = true;
                        }
                    }
                    _ => {}
                }
                let on = slabs.iter().filter(|s| s.on_list).count() as u32;
                let empty = slabs.iter().filter(|s| s.on_list && s.inuse == 0).count() as u32;
                assert_eq!(node.nr_partial(), on);
                assert!(empty <= min, "{empty} empty slabs kept, min_partial {min}");
                assert!(slabs.iter().all(|s| s.inuse > 0 || s.on_list));
            }
            if min == 0 {
                assert!(slabs.iter().all(|s| s.inuse > 0));
            }
            let _ = discarded;
        }
    }

    #[test]
    fn state_packs_and_rejects() {
        for place in [Place::Cpu, Place::CpuPartial, Place::Node, Place::Full] {
            for head in [None, Some(0), Some(32766)] {
                let st = SlabState {
                    head,
                    inuse: 77,
                    place,
                };
                assert_eq!(SlabState::unpack(st.pack()), Some(st));
                assert_ne!(st.pack(), 0);
            }
        }
        assert_eq!(SlabState::unpack(0), None);
        assert_eq!(SlabState::unpack(0x1234_0003_0000_0001), None);
    }

    /// A model of every object's owner (slab list, a CPU's list, a user),
    /// driven through the state transitions at random: counts stay exact,
    /// no object is handed out twice, places follow SLUB's rules and at
    /// most `min_partial` empty slabs stay on the node.
    #[test]
    fn state_transitions_match_model() {
        #[derive(Clone, Copy, PartialEq, Debug)]
        enum Owner {
            Slab,
            Cpu,
            User,
        }
        let mut rng = Rng(7);
        for _ in 0..200 {
            let nr = 1 + (rng.next() % 20) as u16;
            let mut node = NodePartial::new(1 + (rng.next() % 3) as u32);
            // The CPU's private list, the slab's list (as a stack).
            let mut cpu_list: Vec<u16> = (0..nr).collect();
            let mut slab_list: Vec<u16> = Vec::new();
            let mut owner = std::vec![Owner::Cpu; nr as usize];
            let mut st = SlabState::new_active(nr);
            let mut discarded = false;
            for _ in 0..300 {
                if discarded {
                    break;
                }
                match rng.next() % 4 {
                    // The owner CPU allocates from its list (or refills).
                    0 if st.place == Place::Cpu => {
                        if let Some(o) = cpu_list.pop() {
                            assert_eq!(owner[o as usize], Owner::Cpu);
                            owner[o as usize] = Owner::User;
                        } else if st.head.is_some() {
                            let (n, head) = st.take_all(nr);
                            assert_eq!(head, slab_list.last().copied());
                            for o in slab_list.drain(..) {
                                owner[o as usize] = Owner::Cpu;
                                cpu_list.push(o);
                            }
                            st = n;
                        }
                    }
                    // A user frees (a remote free: onto the slab's list).
                    1 | 2 => {
                        let users: Vec<u16> = (0..nr)
                            .filter(|&o| owner[o as usize] == Owner::User)
                            .collect();
                        if users.is_empty() {
                            continue;
                        }
                        let o = users[(rng.next() % users.len() as u64) as usize];
                        let locked = rng.next().is_multiple_of(2);
                        let (n, t) = st.free(o, locked).unwrap();
                        if t == FreeTransition::EmptiedOnNode && !locked {
                            assert_eq!(n, st, "unlocked emptying must retry locked");
                            continue;
                        }
                        owner[o as usize] = Owner::Slab;
                        slab_list.push(o);
                        match t {
                            FreeTransition::ToCpuPartial => assert_eq!(st.place, Place::Full),
                            FreeTransition::EmptiedOnNode => {
                                assert_eq!(n.inuse, 0);
                                if node.emptied(true) == EmptySlab::Discard {
                                    discarded = true;
                                }
                            }
                            FreeTransition::None => {}
                        }
                        st = n;
                    }
                    // The CPU gives the slab up.
                    _ if st.place == Place::Cpu => {
                        let returned = cpu_list.len() as u16;
                        let local_head = cpu_list.first().copied();
                        let mut n = st.deactivate(local_head, returned).unwrap();
                        for o in cpu_list.drain(..).rev() {
                            owner[o as usize] = Owner::Slab;
                            slab_list.insert(0, o);
                        }
                        match unfreeze_place(n, &mut node) {
                            Some(p) => n.place = p,
                            None => discarded = true,
                        }
                        st = n;
                    }
                    _ => {}
                }
                if !discarded {
                    let users = owner.iter().filter(|&&w| w == Owner::User).count();
                    let on_cpu = owner.iter().filter(|&&w| w == Owner::Cpu).count();
                    assert_eq!(st.inuse as usize, users + on_cpu, "{st:?}");
                    assert_eq!(st.head.is_none(), slab_list.is_empty());
                }
            }
            if discarded {
                assert!(
                    owner.iter().all(|&w| w != Owner::User),
                    "discarded with users"
                );
            }
            assert!(node.nr_partial() <= node.min_partial + 1);
        }
    }

    #[test]
    fn double_free_of_head_or_empty_refused() {
        let st = SlabState {
            head: Some(3),
            inuse: 2,
            place: Place::Node,
        };
        assert_eq!(st.free(3, true), Err(FreeError::DoubleFree));
        let empty = SlabState {
            head: Some(1),
            inuse: 0,
            place: Place::Cpu,
        };
        assert_eq!(empty.free(2, false), Err(FreeError::DoubleFree));
        assert_eq!(st.deactivate(Some(0), 3), None);
    }

    #[test]
    fn reciprocal_index_is_exact_within_a_slab() {
        for size in (8..=MAX_OBJECT_SIZE).step_by(8) {
            let r = reciprocal(size);
            for off in 0..slab_bytes(SLAB_MAX_ORDER) {
                assert_eq!(
                    index_by_reciprocal(off, r),
                    off / size,
                    "size {size} off {off}"
                );
            }
        }
    }
}
