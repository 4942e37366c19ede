// SPDX-License-Identifier: GPL-2.0
//! kmalloc size classes, the object layout inside a slab and the slab order.

use super::*;

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
