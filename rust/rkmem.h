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
 * rkmem_alloc_pages - allocate 2^@order contiguous pages from rkmem, with
 * the semantics of alloc_pages_node().
 * @nid:   preferred node, or NUMA_NO_NODE for the local node. Any other id
 *         that is not a possible, online node gets NULL and a (rate-limited)
 *         "invalid node" warning unless __GFP_NOWARN, with or without
 *         __GFP_THISNODE.
 * @gfp:   the caller's gfp mask, honoured as the host does:
 *   zone modifiers (__GFP_DMA, __GFP_DMA32, __GFP_MOVABLE with __GFP_HIGHMEM
 *         as in GFP_HIGHUSER_MOVABLE) choose the highest zone; lower zones
 *         follow, then other nodes by distance (the host's zonelist order).
 *         When rkmem grows it asks the host with this highest zone, so the
 *         host's lowmem_reserve protects DMA/DMA32; a lower zone's arena
 *         serves only from blocks it already holds.
 *   __GFP_THISNODE: never a page from another node.
 *   __GFP_DIRECT_RECLAIM (GFP_KERNEL, GFP_NOFS, GFP_NOIO): rkmem may sleep,
 *         only when it grows. Without it (GFP_ATOMIC, GFP_NOWAIT) rkmem never
 *         sleeps and is callable from any context, hard IRQ included.
 *   reclaim bits (__GFP_IO, __GFP_FS, __GFP_RECLAIM, __GFP_NORETRY,
 *         __GFP_RETRY_MAYFAIL, __GFP_NOMEMALLOC) reach the host when rkmem
 *         takes a block and its metadata: a GFP_NOFS caller never enters FS
 *         reclaim. __GFP_HIGH and __GFP_MEMALLOC do not: a whole 4 MiB block
 *         never comes from the host's reserves. might_alloc(@gfp) is checked
 *         on every call, as the host does.
 *   __GFP_ZERO: the pages are zeroed (also always with init_on_alloc=1).
 *   __GFP_COMP: a compound page of @order (head + tails, compound_order()),
 *         freed with rkmem_free_pages(head, @order).
 *   __GFP_NOWARN: no warning on failure. Otherwise a failure logs
 *         "rkmem: page allocation failure: order:%u, mode:%#x(%pGg), nid=%d",
 *         at most once per 5 s (one line per burst).
 *   __GFP_NOFAIL: never NULL, with __GFP_DIRECT_RECLAIM (as on the host,
 *         which cannot honour it without: an atomic __GFP_NOFAIL request can
 *         fail, with the usual warning). After the normal passes fail, rkmem
 *         retries without end, past its own block limits (the limit knob):
 *         held blocks on every allowed arena, then a new 4 MiB block from
 *         the host, sleeping one tick between attempts. Its bound is the
 *         host's ability to produce one free block on an allowed node: the
 *         host reclaims and compacts for it but does not OOM-kill for costly
 *         orders, so on memory that is full or too fragmented to free a
 *         whole block the caller waits until some is freed.
 * @order: 0..MAX_PAGE_ORDER. Orders 0..3 are served from per-CPU lists.
 *
 * The first page has a reference count of 1 (tails of a non-compound chunk
 * have 0, as the host leaves them), so get_page()/put_page() pairs and
 * page_count() behave as on host pages. The last reference must be dropped
 * with rkmem_free_pages() and the order of the allocation, never put_page()
 * (which would hand rkmem's page to the host allocator): mapping the page
 * into user space or lending it to code that ends with put_page() is not
 * supported, nor is split_page().
 * Return: the first page, or NULL.
 */
struct page *rkmem_alloc_pages(int nid, gfp_t gfp, unsigned int order);

/*
 * rkmem_free_pages - drop a reference to pages from rkmem_alloc_pages(),
 * as __free_pages(): the pages go back when it was the last one (to this
 * CPU's per-CPU list for orders 0..3, else to the buddy); init_on_free=1
 * zeroes them. Any context.
 * A double free (reference count already 0, also for pages sitting on a
 * per-CPU list), a wrong @order, a tail page or a page rkmem does not own is
 * refused, counted (zoneinfo bad_frees, unowned_frees) and reported once per
 * kind; rkmem's state is not changed by it.
 */
void rkmem_free_pages(struct page *page, unsigned int order);

#endif /* _RKMEM_H */
