/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rkmem: a parallel memory-management subsystem in a module.
 * The C API other modules link against (EXPORT_SYMBOL_GPL).
 */
#ifndef _RKMEM_H
#define _RKMEM_H

#include <linux/gfp.h>
#include <linux/mm_types.h>

/*
 * rkmem_alloc_pages - allocate 2^@order contiguous pages from rkmem.
 * @nid:   preferred node, or NUMA_NO_NODE for the local node.
 * @gfp:   the zone modifiers (__GFP_DMA, __GFP_DMA32, __GFP_MOVABLE with
 *         __GFP_HIGHMEM as in GFP_HIGHUSER_MOVABLE) choose the highest zone;
 *         __GFP_THISNODE forbids other nodes; without __GFP_DIRECT_RECLAIM
 *         (GFP_ATOMIC, GFP_NOWAIT) rkmem never sleeps, also when it grows.
 * @order: 0..MAX_PAGE_ORDER.
 *
 * Falls back like the host's zonelists: @nid first, then the other nodes by
 * distance; within a node from the highest allowed zone down. The pages are
 * not compound and have no reference taken: free them with rkmem_free_pages().
 * Callable from any context if @gfp does not allow blocking.
 * Return: the first page, or NULL.
 */
struct page *rkmem_alloc_pages(int nid, gfp_t gfp, unsigned int order);

/*
 * rkmem_free_pages - give back pages from rkmem_alloc_pages().
 * A double free, a wrong @order or a page rkmem does not own is refused,
 * counted and reported once; rkmem's state is not changed by it.
 */
void rkmem_free_pages(struct page *page, unsigned int order);

#endif /* _RKMEM_H */
