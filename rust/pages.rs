// SPDX-License-Identifier: GPL-2.0
//! The page layer's kernel side: a page request, its way through the per-CPU
//! lists, the fallback arenas and growth from the host, and the free.

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use crate::arena::{Arena, GrowError, OwnedBlock};
use crate::host::{self, pages, HostBlock, TakeError};
use crate::logic::bad_input::{classify_refused_free, BadInput};
use crate::logic::buddy::FreeError;
use crate::logic::order::{BLOCK_PAGES, MAX_ORDER};
use crate::logic::zonelist::{Placement, ZoneType};
use crate::{logic, pcp, Rkmem};

/// One page allocation, as the C API decodes a gfp mask.
pub(crate) struct AllocRequest {
    /// Node, highest zone, `__GFP_THISNODE`.
    pub(crate) placement: Placement,
    /// `0..=MAX_ORDER`.
    pub(crate) order: u32,
    /// The caller's gfp: its reclaim bits go to the host when rkmem grows.
    pub(crate) gfp: u32,
    /// `__GFP_DIRECT_RECLAIM`: rkmem may sleep (in the host, when growing).
    pub(crate) can_sleep: bool,
    /// `__GFP_ZERO` or `init_on_alloc`.
    pub(crate) zero: bool,
    /// `__GFP_COMP`.
    pub(crate) comp: bool,
    /// `__GFP_NOFAIL`.
    pub(crate) nofail: bool,
}

impl AllocRequest {
    /// A request of rkmem's own (knobs, tests): plain pages, `GFP_KERNEL`,
    /// or `GFP_NOWAIT` when it must not sleep.
    pub(crate) fn plain(placement: Placement, order: u32, can_sleep: bool) -> Self {
        AllocRequest {
            placement,
            order,
            gfp: if can_sleep {
                pages::GFP_KERNEL
            } else {
                pages::GFP_NOWAIT
            },
            can_sleep,
            zero: false,
            comp: false,
            nofail: false,
        }
    }
}

impl Rkmem {
    /// Allocates `2^order` pages as `alloc_pages_node` would; returns the
    /// first pfn, its page prepared for the caller ([`Rkmem::hand_out`]).
    ///
    /// Fast path: the preferred arena's per-CPU list. Then the fallback list
    /// (the host's zonelist order), each arena from its lists or buddy; the
    /// first arena of each node may grow, with the request's own highest
    /// zone, so the host applies its zone reserves; lower zones of a node
    /// serve only from blocks they already hold. A request that may sleep
    /// makes one last pass that lets the host reclaim. `__GFP_NOFAIL` then
    /// keeps trying, past rkmem's block limits, if it may sleep (see
    /// rkmem.h for its bound).
    #[inline]
    pub(crate) fn alloc_pages(&self, req: &AllocRequest) -> Result<u64> {
        let order = req.order;
        if order > MAX_ORDER {
            return Err(EINVAL);
        }
        let p = req.placement;
        // An arena whose list and buddy were just found empty: the first
        // pass goes straight to growing it (and counts it empty once).
        let mut known_empty = None;
        if let Some(arena) = self.arena(p.node, p.highest_zone) {
            match arena.alloc_listed(order) {
                pcp::Listed::Got(pfn) => return self.hand_out(arena, pfn, req),
                pcp::Listed::Empty => known_empty = Some(arena.id),
                pcp::Listed::Bypass => {}
            }
        }
        self.alloc_pages_slow(req, known_empty)
    }

    /// A client's page allocation (the C API, the `test` knob): the
    /// `fail_page` injection point, then [`Rkmem::alloc_pages`]. The
    /// slab and mempool layers call `alloc_pages` directly (they have their
    /// own points); `__GFP_NOFAIL` is never failed, as on the host.
    #[inline]
    pub(crate) fn alloc_pages_client(&self, req: &AllocRequest) -> Result<u64> {
        if !req.nofail
            && host::fault::should_fail(
                host::fault::FaultKind::Page,
                logic::order::pages(req.order.min(MAX_ORDER)),
                req.can_sleep,
            )
        {
            return Err(ENOMEM);
        }
        self.alloc_pages(req)
    }

    /// Everything but the per-CPU fast path (kept out of line so the fast
    /// path is a few instructions in its caller).
    #[cold]
    #[inline(never)]
    fn alloc_pages_slow(&self, req: &AllocRequest, mut known_empty: Option<usize>) -> Result<u64> {
        let p = req.placement;
        let list = self.topology.fallback(p);
        let preferred = list
            .iter()
            .next()
            .and_then(|(n, z)| self.arena(n, z))
            .ok_or(ENOMEM)?;
        let passes: &[bool] = if req.can_sleep {
            &[true, false]
        } else {
            &[true]
        };
        for &opportunistic in passes {
            let found = self.alloc_from_list(&list, req, opportunistic, false, known_empty.take());
            if let Some((arena, pfn)) = found {
                if arena.id != preferred.id {
                    preferred.count_fallback(arena);
                }
                return self.hand_out(arena, pfn, req);
            }
        }
        preferred.alloc_failures.fetch_add(1, Ordering::Relaxed);
        // As the host: __GFP_NOFAIL without direct reclaim cannot be
        // honoured (spinning in atomic context could lock up the CPU).
        if req.nofail && req.can_sleep {
            loop {
                if let Some((arena, pfn)) = self.alloc_from_list(&list, req, false, true, None) {
                    return self.hand_out(arena, pfn, req);
                }
                host::nofail_wait(req.can_sleep);
            }
        }
        Err(ENOMEM)
    }

    /// One pass over the fallback list; `ignore_limit` for `__GFP_NOFAIL`;
    /// `known_empty`: an arena not to ask again before growing it.
    fn alloc_from_list(
        &self,
        list: &logic::zonelist::Fallback<'_>,
        req: &AllocRequest,
        opportunistic: bool,
        ignore_limit: bool,
        known_empty: Option<usize>,
    ) -> Option<(&Arena, u64)> {
        // The arena of each node that may grow (the node's first in the
        // list: the request's highest zone there), and its growths in this
        // pass: a new block can be taken by another CPU before we allocate
        // from it, so retry, but boundedly.
        const MAX_GROWS: u8 = 4;
        // The list comes node by node: the first arena met of a node grows.
        let mut last_node = None;
        for (node, zone) in list.iter() {
            let Some(arena) = self.arena(node, zone) else {
                continue;
            };
            let may_grow = last_node != Some(node);
            last_node = Some(node);
            let mut grows = 0u8;
            let mut ask = known_empty != Some(arena.id);
            loop {
                if ask {
                    let got = arena.alloc_listed(req.order).or_buddy(arena, req.order);
                    if let Some(pfn) = got {
                        return Some((arena, pfn));
                    }
                }
                ask = true;
                if !may_grow || grows >= MAX_GROWS {
                    break;
                }
                grows += 1;
                match self.grow(arena, req.gfp, opportunistic, ignore_limit, false) {
                    // Another CPU may take the new block first: try again.
                    Ok(landed) if landed == arena.id => {}
                    // Landed in a lower zone (served when the list gets
                    // there), or no block.
                    Ok(_) | Err(_) => break,
                }
            }
        }
        None
    }

    /// Takes one block from the host for `arena`'s node with `arena`'s zone
    /// as the highest, and files it under the arena of the zone it really
    /// landed in (`strict`: only `arena` itself, for the prefill knob).
    /// Returns the id of the arena that got it.
    pub(crate) fn grow(
        &self,
        arena: &Arena,
        gfp: u32,
        opportunistic: bool,
        ignore_limit: bool,
        strict: bool,
    ) -> Result<usize, GrowError> {
        arena.begin_growth(ignore_limit)?;
        let taken = HostBlock::take(arena.node, arena.zone, gfp, opportunistic);
        let block = match taken {
            Ok(host) => OwnedBlock::new(host, gfp).map_err(|_| Some(false)),
            Err(TakeError::Mismatch) => Err(Some(true)),
            Err(TakeError::NoMemory) => Err(Some(false)),
        };
        let block = match block {
            Ok(block) => block,
            Err(failure) => {
                arena.end_growth(failure);
                return Err(GrowError::NoMemory);
            }
        };
        // Movable growth may take movable (and CMA) pageblocks of lower
        // zones; rkmem's pages cannot migrate, so only Movable keeps them.
        let target = if block.zone() == arena.zone {
            Some(arena)
        } else if strict || arena.zone == ZoneType::Movable {
            None
        } else {
            self.arena(arena.node, block.zone())
        };
        let Some(target) = target else {
            arena.end_growth(Some(true));
            drop(block);
            return Err(GrowError::NoMemory);
        };
        let result = target.install(&self.map, &self.offlining, block, target.id == arena.id);
        arena.end_growth(None);
        match result {
            Ok(()) => Ok(target.id),
            // Dropping the block gives it back to the host.
            Err(block) => {
                drop(block);
                Err(GrowError::NoMemory)
            }
        }
    }

    /// Marks a chunk handed out and prepares its pages for the caller.
    #[inline]
    fn hand_out(&self, arena: &Arena, pfn: u64, req: &AllocRequest) -> Result<u64> {
        let tagged = self
            .map
            .lookup(pfn)
            .filter(|owner| owner.arena == arena.id)
            .and_then(|owner| arena.tags(owner.slot))
            .is_some_and(|tags| tags.set(block_offset(pfn), req.order));
        if !tagged {
            // The chunk was already live: a bug in rkmem. Never hand it out
            // twice; keep it out of circulation and say so.
            pr_err!(
                "pfn {:#x} order {} was about to be handed out twice; withheld\n",
                pfn,
                req.order
            );
            return Err(EIO);
        }
        pages::prep_chunk(pfn, req.order, req.zero, req.comp);
        Ok(pfn)
    }

    /// Frees pages from [`Rkmem::alloc_pages`] as `__free_pages` does: drops
    /// the caller's reference and takes the chunk back when it was the last.
    /// A bad free (foreign page, tail page, wrong order, order above the
    /// maximum, a page already free) is refused, counted per kind and
    /// reported with a rate-limited warning; state does not change.
    #[inline]
    pub(crate) fn free_pages(&self, pfn: u64, order: u32) {
        if let Err(kind) = self.try_free(pfn, order) {
            self.report_refused_free(pfn, order, kind);
        }
    }

    #[inline]
    fn try_free(&self, pfn: u64, order: u32) -> Result<(), BadInput> {
        if order > MAX_ORDER {
            return Err(BadInput::FreeOrderTooBig);
        }
        let owner = self.map.lookup(pfn);
        let arena = owner.and_then(|o| self.arenas.get(o.arena));
        let (Some(owner), Some(arena)) = (owner, arena) else {
            return Err(BadInput::FreeUnowned);
        };
        let refuse = |e| {
            arena.refused_frees.fetch_add(1, Ordering::Relaxed);
            Err(e)
        };
        let Some(tags) = arena.tags(owner.slot) else {
            return Err(BadInput::FreeUnowned);
        };
        let offset = block_offset(pfn);
        if !tags.is_set(offset, order) {
            // No chunk of this order handed out here: what is live around
            // it tells a wrong order, a tail page and a page already free
            // (on a per-CPU list or in the buddy) apart.
            return refuse(classify_refused_free(offset, order, |start, o| {
                tags.is_set(start, o)
            }));
        }
        match pages::put_chunk(pfn, order) {
            pages::Put::Last => {}
            // Someone still holds a reference (get_page): the last free frees.
            pages::Put::Referenced => return Ok(()),
            pages::Put::AlreadyFree => return refuse(BadInput::DoubleFree),
            // The head of a compound page of another order.
            pages::Put::WrongOrder => return refuse(BadInput::FreeWrongOrder),
        }
        if !tags.clear(offset, order) {
            // Only the free that dropped the last reference gets here, and
            // the tag was set: rkmem's own bookkeeping is broken.
            pr_err!("pfn {:#x} order {}: tag lost under a free\n", pfn, order);
            return refuse(BadInput::DoubleFree);
        }
        if arena.free_listed(&self.map, pfn, order) {
            return Ok(());
        }
        arena
            .buddy_free(owner.slot, pfn, order)
            .map_err(|e| match e {
                FreeError::NotOwned => BadInput::FreeUnowned,
                FreeError::Misaligned | FreeError::NotAllocated => BadInput::FreeWrongOrder,
                FreeError::DoubleFree => BadInput::DoubleFree,
            })
    }
}

/// Where a pfn sits inside its block.
fn block_offset(pfn: u64) -> usize {
    (pfn % BLOCK_PAGES as u64) as usize
}
