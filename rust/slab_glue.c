// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem's slab C API (rkmem.h): object caches and kmalloc; argument checks
 * and gfp decoding, the caches themselves are rust/slab/ (entry points in
 * rust/host/slab/mod.rs).
 */
#include <linux/export.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/nodemask.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "host_glue.h"
#include "rkmem.h"

/* As the host's slab: a node that is offline, impossible or without memory means any node. */
static int slab_node(int nid)
{
	if (nid < 0 || nid >= MAX_NUMNODES || !node_online(nid) || !node_state(nid, N_MEMORY))
		return NUMA_NO_NODE;
	return nid;
}

struct rkmem_cache *rkmem_cache_create(const char *name, unsigned int size,
				       unsigned int align, slab_flags_t flags,
				       void (*ctor)(void *))
{
	void *s;

	might_sleep();
	s = rkmem_rust_cache_create(name, size, align, (__force unsigned int)flags, ctor);
	if (!s && (flags & SLAB_PANIC))
		panic("%s: failed to create cache %s\n", __func__, name);
	return s;
}
EXPORT_SYMBOL_GPL(rkmem_cache_create);

void *rkmem_cache_alloc(struct rkmem_cache *s, gfp_t gfp)
{
	might_alloc(gfp);
	return rkmem_rust_cache_alloc(s, gfp, alloc_flags_of(gfp), NUMA_NO_NODE, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_cache_alloc);

void *rkmem_cache_alloc_node(struct rkmem_cache *s, gfp_t gfp, int nid)
{
	might_alloc(gfp);
	return rkmem_rust_cache_alloc(s, gfp, alloc_flags_of(gfp), slab_node(nid), _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_cache_alloc_node);

void rkmem_cache_free(struct rkmem_cache *s, void *obj)
{
	if (obj)
		rkmem_rust_cache_free(s, obj, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_cache_free);

int rkmem_cache_alloc_bulk(struct rkmem_cache *s, gfp_t gfp, size_t nr, void **p)
{
	might_alloc(gfp);
	return rkmem_rust_cache_alloc_bulk(s, gfp, alloc_flags_of(gfp), nr, p, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_cache_alloc_bulk);

void rkmem_cache_free_bulk(struct rkmem_cache *s, size_t nr, void **p)
{
	rkmem_rust_cache_free_bulk(s, nr, p, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_cache_free_bulk);

int rkmem_cache_shrink(struct rkmem_cache *s)
{
	might_sleep();
	rkmem_rust_cache_shrink(s);
	return 0;
}
EXPORT_SYMBOL_GPL(rkmem_cache_shrink);

void rkmem_cache_destroy(struct rkmem_cache *s)
{
	might_sleep();
	if (s)
		rkmem_rust_cache_destroy(s);
}
EXPORT_SYMBOL_GPL(rkmem_cache_destroy);

/* Zone modifiers that name no zone: refused as rkmem_alloc_pages() does. */
static void *kmalloc_bad_zone(size_t size, gfp_t gfp, int nid)
{
	rkmem_rust_bad_alloc(RKMEM_BAD_ZONE, nid, gfp, get_order(size));
	return NULL;
}

void *rkmem_kmalloc_node(size_t size, gfp_t gfp, int nid)
{
	int highest = gfp_zone_kind(gfp);

	might_alloc(gfp);
	if (!size)
		return NULL;
	if (highest < 0)
		return kmalloc_bad_zone(size, gfp, nid);
	return rkmem_rust_kmalloc(size, gfp, alloc_flags_of(gfp), highest, slab_node(nid),
				  _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_kmalloc_node);

void *rkmem_kmalloc(size_t size, gfp_t gfp)
{
	int highest = gfp_zone_kind(gfp);

	might_alloc(gfp);
	if (!size)
		return NULL;
	if (highest < 0)
		return kmalloc_bad_zone(size, gfp, NUMA_NO_NODE);
	return rkmem_rust_kmalloc(size, gfp, alloc_flags_of(gfp), highest, NUMA_NO_NODE,
				  _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_kmalloc);

void rkmem_kfree(const void *obj)
{
	if (!ZERO_OR_NULL_PTR(obj))
		rkmem_rust_kfree(obj, _RET_IP_);
}
EXPORT_SYMBOL_GPL(rkmem_kfree);

size_t rkmem_ksize(const void *obj)
{
	if (ZERO_OR_NULL_PTR(obj))
		return 0;
	return rkmem_rust_ksize(obj);
}
EXPORT_SYMBOL_GPL(rkmem_ksize);
