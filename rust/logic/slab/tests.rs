// SPDX-License-Identifier: GPL-2.0
//! Tests of the slab logic against a model (userspace only: `make unit`).

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
    assert_eq!(kmalloc_class(192), Some(6));
    assert_eq!(kmalloc_class(193), Some(7));
    assert_eq!(kmalloc_class(1024), Some(9));
    assert_eq!(kmalloc_class(1025), Some(10));
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
            let min_order = order_for_bytes(min_objects(nr_cpus).min(max_objects) * size).unwrap();
            let good =
                (min_order..=SLAB_MAX_ORDER).find(|&o| slab_waste(o, size) <= slab_bytes(o) / 16);
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

/// `put_cpu_partial()`: a full list is drained before the new slab joins
/// it, so the slab being freed into stays with the CPU and the list never
/// holds more than `cpu_partial_slabs`.
#[test]
fn cpu_partial_put_drains_before_the_new_slab() {
    assert_eq!(cpu_partial_put(0, 4), CpuPartialPut::Push);
    assert_eq!(cpu_partial_put(3, 4), CpuPartialPut::Push);
    // The list holds 4: those go, the fifth stays (not all five).
    assert_eq!(cpu_partial_put(4, 4), CpuPartialPut::DrainThenPush);
    assert_eq!(cpu_partial_put(9, 4), CpuPartialPut::DrainThenPush);
    assert_eq!(cpu_partial_put(0, 0), CpuPartialPut::PushThenDrain);
    for max in 0..10u32 {
        let mut list: Vec<u32> = Vec::new();
        for slab in 0..100u32 {
            match cpu_partial_put(list.len(), max) {
                CpuPartialPut::Push => list.push(slab),
                CpuPartialPut::DrainThenPush => {
                    list.clear();
                    list.push(slab);
                }
                CpuPartialPut::PushThenDrain => list.clear(),
            }
            assert!(
                list.len() <= max as usize,
                "max {max}: {} slabs",
                list.len()
            );
            assert_eq!(list.last().copied(), (max > 0).then_some(slab));
        }
    }
}

/// `get_partial_node()`: up to `cpu_partial_slabs / 2 + 1` slabs besides
/// the active one, none without a CPU partial list, never past the limit.
#[test]
fn cpu_partial_refill_as_get_partial_node() {
    assert_eq!(cpu_partial_refill(0, 0), 0);
    assert_eq!(cpu_partial_refill(1, 0), 1);
    assert_eq!(cpu_partial_refill(4, 0), 3);
    assert_eq!(cpu_partial_refill(7, 0), 4);
    assert_eq!(cpu_partial_refill(4, 3), 1);
    assert_eq!(cpu_partial_refill(4, 9), 0);
    for max in 0..40u32 {
        for len in 0..50usize {
            let n = cpu_partial_refill(max, len);
            assert!(n + len <= (max as usize).max(len));
            assert!(n <= max as usize / 2 + 1);
        }
    }
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
                    let on: Vec<usize> = (0..slabs.len()).filter(|&i| slabs[i].on_list).collect();
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
