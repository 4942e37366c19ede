// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem's mempool C API (rkmem.h): argument checks and gfp decoding; the
 * pools themselves are rust/mempool.rs.
 */
#include <linux/export.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/mempool.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/sched/mm.h>
#include <linux/string.h>
#include <linux/wait.h>

#include "host_glue.h"
#include "rkmem.h"

/*
 * As mempool_alloc(): the backing never dips into emergency reserves, does
 * not retry hard and does not warn; __GFP_NOFAIL would make it loop instead
 * of using the reserve, and __GFP_ZERO is not a mempool flag.
 */
static inline gfp_t mempool_gfp(gfp_t gfp)
{
	return (gfp | __GFP_NOMEMALLOC | __GFP_NORETRY | __GFP_NOWARN) &
	       ~(__GFP_NOFAIL | __GFP_ZERO);
}

/* The Rust trigger's calls decode gfp as the C API does. */
void rkmem_host_mempool_gfp(gfp_t gfp, gfp_t *full, gfp_t *reduced, unsigned int *flags,
			    int *highest_kind)
{
	*full = mempool_gfp(gfp);
	*reduced = *full & ~(__GFP_DIRECT_RECLAIM | __GFP_IO);
	*flags = alloc_flags_of(*full);
	*highest_kind = gfp_zone_kind(*full);
}

void rkmem_host_waitqueue_init(struct wait_queue_head *head)
{
	init_waitqueue_head(head);
}

/* "%ps" of @fn as one word: "func [module]" becomes "func[module]". */
static void symbol_word(char *buf, size_t len, void *fn)
{
	char *space;

	snprintf(buf, len, "%ps", fn);
	space = strchr(buf, ' ');
	if (space)
		memmove(space, space + 1, strlen(space + 1) + 1);
}

/* wake_up() only with sleepers: wq_has_sleeper() has the barrier. */
void rkmem_host_wake_up_sleepers(struct wait_queue_head *head)
{
	if (wq_has_sleeper(head))
		wake_up(head);
}

static struct rkmem_mempool *create(struct rkmem_pool_spec *spec, unsigned long caller)
{
	if (spec->min_nr < 0)
		return NULL;
	if (spec->nid != NUMA_NO_NODE &&
	    (spec->nid < 0 || spec->nid >= MAX_NUMNODES || !node_online(spec->nid)))
		return NULL;
	/* The pool's per-CPU counters and the list of pools: always may sleep. */
	might_sleep();
	spec->flags = alloc_flags_of(spec->gfp) & ~RKMEM_ALLOC_NOFAIL;
	symbol_word(spec->name, sizeof(spec->name), (void *)caller);
	return rkmem_rust_mempool_create(spec);
}

struct rkmem_mempool *rkmem_mempool_create_node(int min_nr, mempool_alloc_t *alloc_fn,
						mempool_free_t *free_fn, void *pool_data,
						gfp_t gfp, int nid)
{
	struct rkmem_pool_spec spec = {
		.kind = RKMEM_BACKING_CUSTOM, .min_nr = min_nr, .nid = nid,
		.alloc_fn = alloc_fn, .free_fn = free_fn, .pool_data = pool_data,
		.gfp = gfp,
	};

	if (!alloc_fn || !free_fn)
		return NULL;
	symbol_word(spec.backing_name, sizeof(spec.backing_name), alloc_fn);
	return create(&spec, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_mempool_create_node);

struct rkmem_mempool *rkmem_mempool_create_slab_pool(int min_nr, struct rkmem_cache *cache)
{
	struct rkmem_pool_spec spec = {
		.kind = RKMEM_BACKING_SLAB, .min_nr = min_nr, .nid = NUMA_NO_NODE,
		.cache = cache, .gfp = GFP_KERNEL,
	};

	might_sleep();
	return cache ? create(&spec, _RET_IP_) : NULL;
}
EXPORT_SYMBOL_GPL(rkmem_mempool_create_slab_pool);

struct rkmem_mempool *rkmem_mempool_create_kmalloc_pool(int min_nr, size_t size)
{
	struct rkmem_pool_spec spec = {
		.kind = RKMEM_BACKING_KMALLOC, .min_nr = min_nr, .nid = NUMA_NO_NODE,
		.param = size, .gfp = GFP_KERNEL,
	};

	might_sleep();
	return create(&spec, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_mempool_create_kmalloc_pool);

struct rkmem_mempool *rkmem_mempool_create_page_pool(int min_nr, unsigned int order)
{
	struct rkmem_pool_spec spec = {
		.kind = RKMEM_BACKING_PAGES, .min_nr = min_nr, .nid = NUMA_NO_NODE,
		.param = order, .gfp = GFP_KERNEL,
	};

	might_sleep();
	return create(&spec, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_mempool_create_page_pool);

void *rkmem_mempool_alloc(struct rkmem_mempool *pool, gfp_t gfp)
{
	gfp_t full = mempool_gfp(gfp);
	void *element;
	int highest;

	VM_WARN_ON_ONCE(gfp & __GFP_ZERO);
	might_alloc(gfp);
	highest = gfp_zone_kind(full);
	if (highest < 0) {
		/* Zone modifiers that name no zone: refused as rkmem_alloc_pages(). */
		rkmem_rust_bad_alloc(RKMEM_BAD_ZONE, NUMA_NO_NODE, gfp, 0);
		return NULL;
	}
	element = rkmem_rust_mempool_alloc(pool, full, full & ~(__GFP_DIRECT_RECLAIM | __GFP_IO),
					   alloc_flags_of(full), highest, _RET_IP_);
	/* Paired with the rmb in rkmem_mempool_free(), as mempool.c's. */
	smp_wmb();
	return element;
}
EXPORT_SYMBOL_GPL(rkmem_mempool_alloc);

void *rkmem_mempool_alloc_preallocated(struct rkmem_mempool *pool)
{
	void *element = rkmem_rust_mempool_alloc_preallocated(pool);

	/* Paired with the rmb in rkmem_mempool_free(), as mempool.c's. */
	smp_wmb();
	return element;
}
EXPORT_SYMBOL_GPL(rkmem_mempool_alloc_preallocated);

void rkmem_mempool_free(void *element, struct rkmem_mempool *pool)
{
	if (unlikely(!element))
		return;
	/* Paired with the wmb in rkmem_mempool_alloc() (see mempool_free()). */
	smp_rmb();
	rkmem_rust_mempool_free(pool, element, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_mempool_free);

int rkmem_mempool_resize(struct rkmem_mempool *pool, int new_min_nr)
{
	might_sleep();
	return rkmem_rust_mempool_resize(pool, new_min_nr);
}
EXPORT_SYMBOL_GPL(rkmem_mempool_resize);

void rkmem_mempool_destroy(struct rkmem_mempool *pool)
{
	might_sleep();
	if (pool)
		rkmem_rust_mempool_destroy(pool);
}
EXPORT_SYMBOL_GPL(rkmem_mempool_destroy);
