/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rkmem: a parallel memory-management subsystem in a module.
 * The C API other modules link against (EXPORT_SYMBOL_GPL).
 */
#ifndef _RKMEM_H
#define _RKMEM_H

#include <linux/gfp.h>
#include <linux/mempool.h>
#include <linux/mm_types.h>
#include <linux/slab.h>

/*
 * rkmem_alloc_pages - allocate 2^@order contiguous pages from rkmem, with
 * the semantics of alloc_pages_node().
 * @nid:   preferred node, or NUMA_NO_NODE for the local node. Any other id
 *         that is not a possible, online node is bad input (below), with or
 *         without __GFP_THISNODE.
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
 * Bad input gets NULL, is counted per kind in zoneinfo's rkmem section and,
 * unless __GFP_NOWARN, warned about with a stack trace, at most one warning
 * per kind per 5 s: "rkmem: refused allocation: <what>: order:%u,
 * mode:%#x(%pGg), nid=%d (counted in zoneinfo <row>; ...)". Checked in this
 * order, the first found counts: an invalid @nid (bad_node_allocs); zone
 * modifiers that name no zone, such as __GFP_DMA|__GFP_DMA32 or
 * __GFP_HIGHMEM|__GFP_DMA (the host's GFP_ZONE_BAD, on which its gfp_zone()
 * would BUG with CONFIG_DEBUG_VM: bad_zone_allocs); @order above
 * MAX_PAGE_ORDER (order_too_big_allocs).
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
 * NULL is a no-op (counted nowhere). Bad input is refused: rkmem's state
 * does not change, the free is counted per kind in zoneinfo's rkmem section
 * and reported with a stack trace, at most one warning per kind per 5 s
 * ("rkmem: refused free of pfn %#x order %u: <what> (counted in zoneinfo
 * <row>; ...)"). The kinds: a page rkmem does not own, such as a host page
 * (unowned_frees); a page inside a live chunk that is not its first, also a
 * tail of a compound page (tail_frees); the first page of a live chunk with
 * another @order (wrong_order_frees); @order above MAX_PAGE_ORDER
 * (order_too_big_frees); a page rkmem holds free, i.e. a double free, also
 * of pages sitting on a per-CPU list (double_frees). Refusals inside an
 * arena (tail, wrong order, double) also count in its bad_frees row.
 */
void rkmem_free_pages(struct page *page, unsigned int order);


/* ---- object caches (SLUB-style, on rkmem's own pages) ---- */

struct rkmem_cache;

/*
 * Cache flags: the host's SLAB_* bits with the host's meanings.
 *   SLAB_HWCACHE_ALIGN   align objects to cache lines (halved for small ones)
 *   SLAB_RED_ZONE        guard bytes on both sides of each object (0xbb free,
 *                        0xcc in use), checked on free and by validate
 *   SLAB_POISON          free objects filled with 0x6b (last byte 0xa5),
 *                        checked on allocation: catches writes after free
 *   SLAB_STORE_USER      the last allocation and free of each object (caller,
 *                        CPU, pid, jiffies) is recorded and printed in reports
 *   SLAB_CONSISTENCY_CHECKS  full checks (double free, pointer validity,
 *                        free list) on every free
 *   SLAB_PANIC           panic if the cache cannot be created
 * Any of the four debug flags makes a debug cache: it takes the locked slow
 * path for every call, as SLUB's debug caches do. SLAB_ACCOUNT,
 * SLAB_RECLAIM_ACCOUNT, and SLAB_NO_MERGE are accepted and
 * have no effect; SLAB_TYPESAFE_BY_RCU and SLAB_CACHE_DMA* are refused.
 * The debugfs knob slab_debug (and the module parameter slub_debug=, which
 * also reaches the kmalloc caches) adds debug flags to caches created later,
 * with slub_debug's letters: F consistency, Z red zone, P poison, U user.
 */

/*
 * rkmem_cache_create - a cache of @size-byte objects aligned to @align
 * (0: 8 bytes; a power of two up to 8192), as kmem_cache_create(). @ctor,
 * if set, runs once for each object when its slab is created (not on every
 * allocation); objects must be freed in their constructed state. @name is
 * copied (at most 31 characters) and appears in slabinfo and in
 * /sys/kernel/debug/rkmem/slab/<name>/. May sleep.
 * Return: the cache, or NULL (bad size, align or flags, or no memory).
 */
struct rkmem_cache *rkmem_cache_create(const char *name, unsigned int size,
				       unsigned int align, slab_flags_t flags,
				       void (*ctor)(void *));

/*
 * rkmem_cache_alloc - one object, as kmem_cache_alloc(): gfp as for
 * rkmem_alloc_pages() (reclaim bits reach the pages of a new slab; without
 * __GFP_DIRECT_RECLAIM any context, hard IRQ included); __GFP_ZERO zeroes
 * the object (also init_on_alloc=1). Slabs come from the local node.
 * Return: the object, or NULL.
 */
void *rkmem_cache_alloc(struct rkmem_cache *s, gfp_t gfp);

/*
 * rkmem_cache_alloc_node - as rkmem_cache_alloc(), the object from a slab of
 * node @nid (NUMA_NO_NODE: any, local first). With __GFP_THISNODE only
 * @nid; without it another node when @nid has no memory for rkmem.
 */
void *rkmem_cache_alloc_node(struct rkmem_cache *s, gfp_t gfp, int nid);

/*
 * rkmem_cache_free - give back an object of @s; any context. The slab is
 * found from the address alone. A pointer rkmem does not own, one that is
 * not an object start or one of another cache is reported (once per kind,
 * in SLUB's style), counted, and changes nothing. Double frees: every one
 * is caught in a debug cache (a walk of the slab's list); otherwise, as
 * SLUB's cheap checks, a free of the object freed last on that CPU or into
 * a slab with nothing in use, and a CPU list that loops is caught when the
 * CPU gives its slab up (the slab is then kept, never freed under a live
 * object).
 */
void rkmem_cache_free(struct rkmem_cache *s, void *obj);

/*
 * rkmem_cache_alloc_bulk - @nr objects into @p, as kmem_cache_alloc_bulk():
 * all or nothing. Return: @nr, or 0 with nothing allocated.
 */
int rkmem_cache_alloc_bulk(struct rkmem_cache *s, gfp_t gfp, size_t nr, void **p);

/* rkmem_cache_free_bulk - frees @nr objects of @s (NULL entries skipped). */
void rkmem_cache_free_bulk(struct rkmem_cache *s, size_t nr, void **p);

/*
 * rkmem_cache_shrink - flushes every CPU's slabs of @s and gives its empty
 * slabs back to rkmem's buddy. May sleep. Return: 0.
 */
int rkmem_cache_shrink(struct rkmem_cache *s);

/*
 * rkmem_cache_destroy - as kmem_cache_destroy(): NULL is a no-op. With
 * objects still allocated it warns "rkmem: kmem_cache_destroy <name>: Slab
 * cache still has objects" with their count, and keeps those slabs (their
 * pages stay accounted to rkmem and go back at unload). May sleep.
 */
void rkmem_cache_destroy(struct rkmem_cache *s);

/*
 * rkmem_kmalloc - @size bytes from rkmem's kmalloc caches (kmalloc-8 ..
 * kmalloc-8192, with 96 and 192, aligned like the host's: a power-of-two
 * class is aligned to its size), as kmalloc(); above 8192 bytes a compound
 * page chunk of rkmem. gfp as rkmem_cache_alloc(). There are no DMA
 * classes: up to 8192 bytes, __GFP_DMA/__GFP_DMA32 get NULL (above, the
 * chunk comes from the zone asked for). Zone modifiers that name no zone
 * are bad input, as for rkmem_alloc_pages() (bad_zone_allocs). Return: NULL for size 0 (the host
 * returns ZERO_SIZE_PTR) or on failure.
 */
void *rkmem_kmalloc(size_t size, gfp_t gfp);
void *rkmem_kmalloc_node(size_t size, gfp_t gfp, int nid);
static inline void *rkmem_kzalloc(size_t size, gfp_t gfp)
{
	return rkmem_kmalloc(size, gfp | __GFP_ZERO);
}

/* rkmem_kfree - frees rkmem_kmalloc() memory; NULL is a no-op. */
void rkmem_kfree(const void *obj);

/*
 * rkmem_ksize - usable bytes of an rkmem_kmalloc() object: its class size
 * (or the page chunk's size); 0 for NULL or memory rkmem does not own.
 */
size_t rkmem_ksize(const void *obj);


/* ---- mempools: guaranteed-progress reserves (as mm/mempool.c) ---- */

struct rkmem_mempool;

/*
 * rkmem_mempool_create_node - a pool that keeps @min_nr elements in reserve,
 * as mempool_create_node(): @alloc_fn(gfp, @pool_data) and
 * @free_fn(element, @pool_data) are the backing allocator (the host's
 * mempool_alloc_t/mempool_free_t, so the host's mempool_alloc_slab() and
 * friends work as backings too). The pool and its reserve array are
 * metadata of rkmem, allocated with @gfp; @min_nr elements are taken from
 * the backing with @gfp at once. @nid must be NUMA_NO_NODE or an online
 * node (the host puts the pool's struct there; rkmem's metadata is not
 * node-bound, and a client's backing decides its own placement). The pool
 * is named after its creator (%ps of the caller) in
 * /sys/kernel/debug/rkmem/mempools. May sleep, whatever @gfp (per-CPU
 * counters). Return: the pool, or NULL (@min_nr < 0 or above 2^19, bad
 * @nid, or the backing could not give @min_nr elements: what it gave went
 * back).
 */
struct rkmem_mempool *rkmem_mempool_create_node(int min_nr, mempool_alloc_t *alloc_fn,
						mempool_free_t *free_fn, void *pool_data,
						gfp_t gfp, int nid);
static inline struct rkmem_mempool *rkmem_mempool_create(int min_nr, mempool_alloc_t *alloc_fn,
							 mempool_free_t *free_fn,
							 void *pool_data)
{
	return rkmem_mempool_create_node(min_nr, alloc_fn, free_fn, pool_data, GFP_KERNEL,
					 NUMA_NO_NODE);
}

/*
 * Pools whose backing is rkmem itself (the allocation runs in rkmem, with no
 * callback): objects of @cache (freed with rkmem_mempool_free(), which
 * returns them with rkmem_cache_free() when the reserve is full), kmalloc
 * objects of @size bytes (rkmem_kfree()), or 2^@order pages
 * (struct page *, rkmem_free_pages()). Elements come from the local node.
 * May sleep. Return: the pool or NULL.
 */
struct rkmem_mempool *rkmem_mempool_create_slab_pool(int min_nr, struct rkmem_cache *cache);
struct rkmem_mempool *rkmem_mempool_create_kmalloc_pool(int min_nr, size_t size);
struct rkmem_mempool *rkmem_mempool_create_page_pool(int min_nr, unsigned int order);

/*
 * rkmem_mempool_alloc - an element, as mempool_alloc(): first the backing
 * without __GFP_DIRECT_RECLAIM and __GFP_IO (and always with
 * __GFP_NOMEMALLOC | __GFP_NORETRY | __GFP_NOWARN; __GFP_NOFAIL and
 * __GFP_ZERO are not passed on), then the reserve, then the backing with
 * the full @gfp. If @gfp may sleep it never returns NULL: with both empty
 * it sleeps (uninterruptible) until rkmem_mempool_free() refills the
 * reserve, retrying the backing every 5 s. Without __GFP_DIRECT_RECLAIM
 * (GFP_ATOMIC, GFP_NOWAIT) it returns NULL when both are empty; callable
 * from any context, hard IRQ included, for rkmem's own backings (a
 * callback backing must be safe in the caller's context). Zone modifiers
 * that name no zone are bad input, as for rkmem_alloc_pages(): NULL at
 * once, whatever @gfp (bad_zone_allocs).
 */
void *rkmem_mempool_alloc(struct rkmem_mempool *pool, gfp_t gfp);

/* rkmem_mempool_alloc_preallocated - only from the reserve; never sleeps. */
void *rkmem_mempool_alloc_preallocated(struct rkmem_mempool *pool);

/*
 * rkmem_mempool_free - as mempool_free(): while the reserve is below its
 * minimum the element refills it (and wakes a waiter), else it goes back to
 * the backing. NULL is a no-op. Any context for rkmem's own backings.
 */
void rkmem_mempool_free(void *element, struct rkmem_mempool *pool);

/*
 * rkmem_mempool_resize - as mempool_resize(): a new minimum (> 0). Shrinking
 * gives reserve elements above it back to the backing; growing allocates
 * new ones with GFP_KERNEL (a shortfall is refilled by later frees). No
 * element is lost either way. May sleep. Return: 0, -EINVAL or -ENOMEM.
 */
int rkmem_mempool_resize(struct rkmem_mempool *pool, int new_min_nr);

/*
 * rkmem_mempool_destroy - gives the reserve back to the backing and frees
 * the pool; NULL is a no-op. With elements still out (allocated and not
 * freed) it warns "rkmem: mempool_destroy <name>: <n> elements still out",
 * keeps the pool (listed as destroyed, so their later frees still work) and
 * frees nothing a client holds. Frees of elements out may run at any time,
 * also while destroy runs; every other call on the pool must have returned
 * before destroy (as on the host). May sleep.
 */
void rkmem_mempool_destroy(struct rkmem_mempool *pool);

#endif /* _RKMEM_H */
