// SPDX-License-Identifier: GPL-2.0
//! Tests of the buddy logic against a model (userspace only: `make unit`).

extern crate std;
use super::*;
use std::boxed::Box;
use std::collections::BTreeMap;
use std::vec;
use std::vec::Vec;

type Arena = BuddyArena<Vec<Option<Box<BlockMeta>>>, Vec<u32>, Box<BlockMeta>>;

fn empty_arena(capacity: usize) -> Arena {
    Arena::new((0..capacity).map(|_| None).collect(), vec![0; capacity])
}

fn arena(blocks: usize) -> Arena {
    let mut a = empty_arena(blocks);
    for b in 0..blocks {
        let base = (b as u64 + 3) * BLOCK_PAGES as u64;
        assert_eq!(a.add_block(Box::new(BlockMeta::new(base))).ok(), Some(b));
    }
    a
}

#[test]
fn split_then_merge_restores_whole_block() {
    let mut a = arena(1);
    let (pfn, slot) = a.alloc(0).unwrap();
    assert_eq!(pfn, 3 * BLOCK_PAGES as u64);
    for order in 0..MAX_ORDER {
        assert_eq!(a.nr_free(order), 1, "one free buddy per order after split");
    }
    assert_eq!(a.nr_free(MAX_ORDER), 0);
    a.verify().unwrap();
    a.free(slot, pfn, 0).unwrap();
    assert_eq!(a.nr_free(MAX_ORDER), 1);
    assert_eq!(a.free_pages(), BLOCK_PAGES);
    a.verify().unwrap();
}

#[test]
fn bad_frees_are_refused_without_change() {
    let mut a = arena(2);
    let (pfn, slot) = a.alloc(3).unwrap();
    let before = (a.free_pages(), a.nr_free(3));
    assert_eq!(
        a.free(slot, pfn, 2),
        Err(FreeError::NotAllocated),
        "wrong order"
    );
    assert_eq!(
        a.free(slot, pfn + 1, 0),
        Err(FreeError::NotAllocated),
        "inside allocation"
    );
    assert_eq!(a.free(slot, pfn + 4, 3), Err(FreeError::Misaligned));
    assert_eq!(a.free(slot, pfn + 5000, 0), Err(FreeError::NotOwned));
    assert_eq!(a.free(7, pfn, 3), Err(FreeError::NotOwned));
    assert_eq!((a.free_pages(), a.nr_free(3)), before);
    a.free(slot, pfn, 3).unwrap();
    assert_eq!(
        a.free(slot, pfn, 3),
        Err(FreeError::NotAllocated),
        "double free"
    );
    assert_eq!(a.stats.bad_frees, 6);
    a.verify().unwrap();
}

#[test]
fn exhaustion_and_pop_whole_block() {
    let mut a = arena(2);
    let x = a.alloc(MAX_ORDER).unwrap();
    let y = a.alloc(MAX_ORDER).unwrap();
    assert!(a.alloc(0).is_none());
    assert_eq!(a.stats.failures, 1);
    assert!(a.pop_whole_block().is_none());
    a.free(y.1, y.0, MAX_ORDER).unwrap();
    let popped = a.pop_whole_block().unwrap();
    assert_eq!(popped.base_pfn(), y.0);
    assert_eq!(a.blocks(), 1);
    let vacant = a.vacant_slot().unwrap();
    assert_eq!(vacant, y.1, "the slot just emptied is reused first");
    assert_eq!(a.add_block(popped).ok(), Some(vacant));
    assert!(a.vacant_slot().is_none());
    a.free(x.1, x.0, MAX_ORDER).unwrap();
    a.verify().unwrap();
    assert_eq!(a.nr_free(MAX_ORDER), 2);
}

use crate::logic::test_rng::XorShift;

/// Random alloc/free sequences against a model: live allocations never
/// overlap, every refused free leaves state unchanged, accounting always
/// adds up, and freeing everything gives back whole blocks.
#[test]
fn property_random_sequences_match_model() {
    for seed in 1..=40u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let blocks = 1 + (rng.next() % 4) as usize;
        let mut a = arena(blocks);
        let mut live: BTreeMap<u64, (u32, usize)> = BTreeMap::new();
        for step in 0..3000 {
            let r = rng.next();
            if !r.is_multiple_of(3) || live.is_empty() {
                let order = (rng.next() % (MAX_ORDER as u64 + 1)) as u32;
                let order = if r.is_multiple_of(5) {
                    order
                } else {
                    order % 4
                };
                let used: usize = live.values().map(|(o, _)| pages(*o)).sum();
                match a.alloc(order) {
                    Some((pfn, slot)) => {
                        assert!(is_aligned(pfn as usize, order));
                        let end = pfn + pages(order) as u64;
                        if let Some((&p, &(o, _))) = live.range(..end).next_back() {
                            assert!(p + pages(o) as u64 <= pfn, "overlap at step {step}");
                        }
                        live.insert(pfn, (order, slot));
                    }
                    None => {
                        // Refusal is only allowed when no chunk that big is free.
                        assert!(!a.can_alloc(order));
                        assert!(used + pages(order) > blocks * BLOCK_PAGES || order > 0);
                    }
                }
            } else {
                let k = (rng.next() as usize) % live.len();
                let (&pfn, &(order, slot)) = live.iter().nth(k).unwrap();
                if r.is_multiple_of(7) {
                    let before = (a.free_pages(), a.nr_free(order));
                    assert!(a.free(slot, pfn, order + 1).is_err() || order == MAX_ORDER);
                    assert_eq!((a.free_pages(), a.nr_free(order)), before);
                }
                a.free(slot, pfn, order).unwrap();
                live.remove(&pfn);
                assert_eq!(a.free(slot, pfn, order), Err(FreeError::NotAllocated));
            }
            let used: usize = live.values().map(|(o, _)| pages(*o)).sum();
            assert_eq!(a.free_pages() + used, blocks * BLOCK_PAGES);
            if step % 500 == 0 {
                a.verify().unwrap();
            }
        }
        for (pfn, (order, slot)) in std::mem::take(&mut live) {
            a.free(slot, pfn, order).unwrap();
        }
        a.verify().unwrap();
        assert_eq!(a.nr_free(MAX_ORDER), blocks, "seed {seed}");
        for order in 0..MAX_ORDER {
            assert_eq!(a.nr_free(order), 0);
        }
        let mut popped = vec![];
        while let Some(b) = a.pop_whole_block() {
            popped.push(b);
        }
        assert_eq!(popped.len(), blocks);
        assert_eq!(a.blocks(), 0);
    }
}

#[test]
fn take_whole_block_takes_only_free_blocks() {
    let mut a = arena(3);
    let (pfn, slot) = a.alloc(0).unwrap();
    let other = (0..3).find(|&s| s != slot).unwrap();
    assert!(a.take_whole_block(slot).is_none(), "a page is allocated");
    assert!(a.take_whole_block(7).is_none(), "out of range");
    let before = a.free_pages();
    let b = a.take_whole_block(other).unwrap();
    assert!(b.is_whole());
    assert_eq!(a.blocks(), 2);
    assert_eq!(a.free_pages(), before - BLOCK_PAGES);
    assert!(a.block(other).is_none());
    assert!(a.take_whole_block(other).is_none(), "slot now empty");
    a.verify().unwrap();
    // The rest still works: the partly used block serves and merges.
    let (q, s2) = a.alloc(MAX_ORDER - 1).unwrap();
    a.free(s2, q, MAX_ORDER - 1).unwrap();
    a.free(slot, pfn, 0).unwrap();
    a.verify().unwrap();
    assert!(
        a.take_whole_block(slot).is_some(),
        "whole again after the free"
    );
    assert_eq!(a.blocks(), 1);
    // The taken block can be added again, and is whole.
    assert_eq!(
        a.add_block(b).ok(),
        Some(slot),
        "last emptied, first filled"
    );
    assert_eq!(a.nr_free(MAX_ORDER), 2);
    a.verify().unwrap();
}

/// Random use, then every wholly free block taken by slot: exactly the
/// whole blocks go, the rest keep serving, totals always add up.
#[test]
fn property_take_whole_blocks_by_slot() {
    for seed in 1..=20u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let blocks = 2 + (rng.next() % 6) as usize;
        let mut a = arena(blocks);
        let mut live = vec![];
        for _ in 0..(rng.next() % 40) {
            let order = (rng.next() % 4) as u32;
            if let Some(got) = a.alloc(order) {
                live.push((got, order));
            }
            if rng.next().is_multiple_of(3) && !live.is_empty() {
                let ((pfn, slot), order) = live.swap_remove(0);
                a.free(slot, pfn, order).unwrap();
            }
        }
        let used: std::collections::BTreeSet<usize> = live.iter().map(|((_, s), _)| *s).collect();
        let mut taken = 0;
        for slot in 0..blocks {
            match a.take_whole_block(slot) {
                Some(b) => {
                    assert!(!used.contains(&slot), "seed {seed}: took a used block");
                    assert_eq!(b.free_pages(), BLOCK_PAGES);
                    taken += 1;
                }
                None => assert!(used.contains(&slot), "seed {seed}: left a whole block"),
            }
            a.verify().unwrap();
        }
        assert_eq!(taken + used.len(), blocks);
        assert_eq!(a.blocks(), used.len());
        assert_eq!(a.nr_free(MAX_ORDER), 0);
        for ((pfn, slot), order) in live {
            a.free(slot, pfn, order).unwrap();
        }
        a.verify().unwrap();
        assert_eq!(a.nr_free(MAX_ORDER), used.len());
    }
}

#[test]
fn take_any_block_detaches_partly_used_block() {
    let mut a = arena(1);
    let (_pfn, slot) = a.alloc(2).unwrap();
    let b = a.take_any_block(slot).unwrap();
    assert_eq!(b.free_pages(), BLOCK_PAGES - 4);
    assert_eq!(a.free_pages(), 0);
    assert_eq!(a.blocks(), 0);
    a.verify().unwrap();
}

/// Random adds, pops, takes by slot and takes of partly used blocks,
/// against a model of which slots hold which block: `vacant_slot` always
/// names an empty slot when there is one (and `None` only when full),
/// `add_block` fills exactly that slot, and `verify` (which checks the
/// vacant stack against the table) holds throughout.
#[test]
fn property_vacant_stack_matches_model() {
    for seed in 1..=30u64 {
        let mut rng = XorShift(seed.wrapping_mul(0xA24B_AED4_963E_E407));
        let capacity = 1 + (rng.next() % 12) as usize;
        let mut a = empty_arena(capacity);
        let mut model: Vec<Option<u64>> = vec![None; capacity];
        let mut next_base = 0u64;
        let mut live: Vec<(u64, usize)> = vec![];
        for step in 0..800 {
            let vacant = a.vacant_slot();
            let empties = model.iter().filter(|m| m.is_none()).count();
            match vacant {
                Some(v) => assert!(model[v].is_none(), "seed {seed} step {step}"),
                None => assert_eq!(empties, 0, "seed {seed} step {step}: full?"),
            }
            match rng.next() % 5 {
                0 | 1 => {
                    next_base += BLOCK_PAGES as u64;
                    match a.add_block(Box::new(BlockMeta::new(next_base))) {
                        Ok(slot) => {
                            assert_eq!(Some(slot), vacant);
                            model[slot] = Some(next_base);
                        }
                        Err(_) => assert!(vacant.is_none()),
                    }
                }
                2 => {
                    if let Some(b) = a.pop_whole_block() {
                        let slot = model.iter().position(|m| *m == Some(b.base_pfn()));
                        model[slot.unwrap()] = None;
                    }
                }
                3 => {
                    let slot = (rng.next() as usize) % capacity;
                    if let Some(b) = a.take_whole_block(slot) {
                        assert_eq!(model[slot], Some(b.base_pfn()));
                        model[slot] = None;
                    }
                }
                _ => {
                    // Use a page (so the block is not whole), or give
                    // up a partly used block as an unload would.
                    if rng.next().is_multiple_of(2) {
                        if let Some((pfn, slot)) = a.alloc(0) {
                            live.push((pfn, slot));
                        }
                    } else if let Some((_, slot)) = live.pop() {
                        assert!(a.take_any_block(slot).is_some());
                        model[slot] = None;
                        live.retain(|&(_, s)| s != slot);
                    }
                }
            }
            a.verify().unwrap();
            assert_eq!(a.blocks(), model.iter().filter(|m| m.is_some()).count());
            for (slot, m) in model.iter().enumerate() {
                assert_eq!(a.block(slot).map(|b| b.base_pfn()), *m);
            }
        }
    }
}

/// A stack that repeats slots (so hides others) fails `verify`, also
/// where sums of indices and of their squares agree.
#[test]
fn verify_catches_a_repeating_vacant_stack() {
    let mut a = arena(8);
    for slot in [1, 2, 3, 5, 6, 7] {
        assert!(a.take_whole_block(slot).is_some());
    }
    a.verify().unwrap();
    let good = a.vacant.clone();
    a.vacant[..6].copy_from_slice(&[2, 3, 7, 2, 3, 7]);
    assert_eq!(a.verify(), Err("vacant stack repeats a slot"));
    a.vacant = good;
    a.vacant[0] = a.vacant[1];
    assert_eq!(a.verify(), Err("vacant stack repeats a slot"));
}

/// Blocks in a 1 TiB zone: 4 MiB each.
const TIB_BLOCKS: usize = (1 << 40) / (BLOCK_PAGES * crate::logic::order::PAGE_SIZE);

/// One grow (find a vacant slot, add a block) and one free back to the
/// host (a page freed, making the block whole; the block popped):
/// returns the slot-table entries touched by each.
fn grow_and_give_back(a: &mut Arena, base: u64) -> (u64, u64) {
    let before = a.touched();
    let slot = a.vacant_slot().expect("a vacant slot");
    assert_eq!(a.add_block(Box::new(BlockMeta::new(base))).ok(), Some(slot));
    let (pfn, got) = a.alloc(0).unwrap();
    assert_eq!((pfn, got), (base, slot), "served from the new block");
    let grow = a.touched() - before;
    let before = a.touched();
    a.free(slot, pfn, 0).unwrap();
    let b = a.pop_whole_block().unwrap();
    assert_eq!(b.base_pfn(), base);
    (grow, a.touched() - before)
}

/// A zone of 1 TiB (262144 blocks) with every slot held but the last
/// costs what a zone of 4 blocks does, per grow and per free: the
/// vacant slot is found without a scan. (Blocks of the big zone are
/// used up with MAX_ORDER allocations so they sit on no free list.)
#[test]
fn grow_and_free_cost_independent_of_zone_size() {
    assert_eq!(TIB_BLOCKS, 262_144);
    let mut cost = vec![];
    for capacity in [4, TIB_BLOCKS] {
        let mut a = empty_arena(capacity);
        for b in 0..capacity - 1 {
            let base = (b as u64 + 1) * BLOCK_PAGES as u64;
            assert_eq!(a.add_block(Box::new(BlockMeta::new(base))).ok(), Some(b));
            assert!(a.alloc(MAX_ORDER).is_some());
        }
        assert_eq!(a.vacant_slot(), Some(capacity - 1), "only the last slot");
        let base = (capacity as u64 + 1) * BLOCK_PAGES as u64;
        let first = grow_and_give_back(&mut a, base);
        let second = grow_and_give_back(&mut a, base + BLOCK_PAGES as u64);
        assert_eq!(first, second);
        cost.push(first);
    }
    assert_eq!(cost[0], cost[1], "small zone vs 1 TiB zone (grow, free)");
    std::println!("slot entries touched per grow, free: {:?}", cost[0]);
    assert!(cost[0].0 < 8 * NR_ORDERS as u64 && cost[0].1 < 8 * NR_ORDERS as u64);
}
