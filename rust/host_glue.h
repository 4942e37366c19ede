/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Glue between rkmem's Rust code and kernel APIs that are static inline,
 * macros, or callbacks (debugfs, seq_file, shrinker, CPU hotplug). Only thin
 * wrappers live in C; every decision is made in Rust (the Rust code under
 * rust/host/ is the only code that calls these).
 */
#ifndef _RKMEM_HOST_GLUE_H
#define _RKMEM_HOST_GLUE_H

#include <linux/types.h>
#include <linux/spinlock_types.h>
#include <linux/mempool.h>

struct dentry;
struct seq_file;
struct shrinker;
struct lock_class_key;

/* Zone kinds as rkmem numbers them (rust/logic/zonelist.rs ZoneType). */
enum rkmem_zone_kind {
	RKMEM_ZONE_DMA = 0,
	RKMEM_ZONE_DMA32 = 1,
	RKMEM_ZONE_NORMAL = 2,
	RKMEM_ZONE_MOVABLE = 3,
};

struct rkmem_zone_info {
	unsigned long start_pfn;
	unsigned long spanned_pages;
	unsigned long present_pages;
	unsigned long managed_pages;
};

/* rkmem_rust_alloc() flags, decoded from the caller's gfp by the C API. */
enum rkmem_alloc_flags {
	RKMEM_ALLOC_THISNODE = 1,
	RKMEM_ALLOC_CAN_SLEEP = 2,
	RKMEM_ALLOC_ZERO = 4,
	RKMEM_ALLOC_COMP = 8,
	RKMEM_ALLOC_NOFAIL = 16,
	/* init_on_alloc without __GFP_ZERO: pages zero; objects of caches with no ctor */
	RKMEM_ALLOC_INIT = 32,
};

/* Result of taking one block from the host. */
enum rkmem_block_result {
	RKMEM_BLOCK_OK = 0,
	RKMEM_BLOCK_NOMEM = 1,
	RKMEM_BLOCK_MISMATCH = 2, /* wrong node or zone: already given back */
};

/* gfp decoding, shared by the C API's files */
#include <linux/gfp.h>
#include <linux/mm.h>

static inline int zone_kind_of(enum zone_type z)
{
	switch (z) {
	case ZONE_DMA:
		return RKMEM_ZONE_DMA;
	case ZONE_DMA32:
		return RKMEM_ZONE_DMA32;
	case ZONE_NORMAL:
		return RKMEM_ZONE_NORMAL;
	case ZONE_MOVABLE:
		return RKMEM_ZONE_MOVABLE;
	default:
		return -1;
	}
}

/*
 * The zone kind of a gfp mask's highest zone, or -1 for zone modifiers that
 * name no zone (__GFP_DMA with __GFP_DMA32, __GFP_HIGHMEM with __GFP_DMA,
 * ...: the host's GFP_ZONE_BAD, on which gfp_zone() would VM_BUG_ON).
 */
static inline int gfp_zone_kind(gfp_t gfp)
{
	int bit = (__force int)(gfp & GFP_ZONEMASK);

	if ((GFP_ZONE_BAD >> bit) & 1)
		return -1;
	return zone_kind_of(gfp_zone(gfp));
}

/* Bad input the C API refuses itself (rust/logic/bad_input.rs BadInput). */
enum rkmem_bad_alloc {
	RKMEM_BAD_NODE = 5,
	RKMEM_BAD_ZONE = 6,
	RKMEM_BAD_ORDER = 7,
};
#define RKMEM_BAD_INPUT_KINDS 8

/* The rkmem_rust_* flags of a gfp mask (pages and objects; __GFP_COMP apart). */
static inline unsigned int alloc_flags_of(gfp_t gfp)
{
	unsigned int flags = 0;

	if (gfp & __GFP_THISNODE)
		flags |= RKMEM_ALLOC_THISNODE;
	if (gfpflags_allow_blocking(gfp))
		flags |= RKMEM_ALLOC_CAN_SLEEP;
	/* As slab_want_init_on_alloc(): __GFP_ZERO always, init_on_alloc not for ctor caches. */
	if (gfp & __GFP_ZERO)
		flags |= RKMEM_ALLOC_ZERO;
	else if (want_init_on_alloc(gfp))
		flags |= RKMEM_ALLOC_INIT;
	if (gfp & __GFP_NOFAIL)
		flags |= RKMEM_ALLOC_NOFAIL;
	return flags;
}

/* Topology */
unsigned int rkmem_host_max_order(void);
int rkmem_host_nr_node_ids(void);
bool rkmem_host_node_online(int nid);
bool rkmem_host_node_has_cpus(int nid);
int rkmem_host_node_distance(int a, int b);
int rkmem_host_zonelist_nodes(int nid, u16 *out, int max);
bool rkmem_host_zone_info(int nid, int kind, struct rkmem_zone_info *out);
unsigned long rkmem_host_node_start_pfn(int nid);
unsigned long rkmem_host_node_end_pfn(int nid);
size_t rkmem_host_node_cpulist(int nid, char *buf, size_t len);

/* Pages */
gfp_t rkmem_host_block_gfp(gfp_t gfp);
int rkmem_host_alloc_block(int nid, int kind, gfp_t reclaim, bool opportunistic,
			   unsigned long *pfn, int *landed);
void rkmem_host_free_block(unsigned long pfn);
int rkmem_host_pfn_nid(unsigned long pfn);
int rkmem_host_pfn_zone_kind(unsigned long pfn);
void rkmem_host_atomic_begin(void);
void rkmem_host_atomic_end(void);
void rkmem_host_nofail_wait(bool can_sleep);
void rkmem_host_cond_resched(void);
bool rkmem_host_fatal_signal_pending(void);

/* Block metadata cache */
struct kmem_cache;
struct kmem_cache *rkmem_host_cache_create(const char *name, size_t size, size_t align);
void rkmem_host_cache_destroy(struct kmem_cache *cache);
void *rkmem_host_cache_alloc(struct kmem_cache *cache, gfp_t reclaim);
void rkmem_host_cache_free(struct kmem_cache *cache, void *obj);
size_t rkmem_host_cache_size(struct kmem_cache *cache);

/* Page semantics */
void rkmem_host_page_prep(unsigned long pfn, unsigned int order, bool zero, bool comp);
enum rkmem_put_result {
	RKMEM_PUT_LAST = 0,		/* the last reference: rkmem owns it again */
	RKMEM_PUT_REFERENCED = 1,	/* others still hold references */
	RKMEM_PUT_ALREADY_FREE = 2,	/* the count was 0: nothing changed */
	RKMEM_PUT_WRONG_ORDER = 3,	/* a tail page or another compound order */
};
int rkmem_host_page_put_chunk(unsigned long pfn, unsigned int order);

/* Per-CPU list cells and CPU hotplug */
void __percpu *rkmem_host_percpu_alloc(size_t size, size_t align);
void rkmem_host_percpu_free(void __percpu *base);
void *rkmem_host_percpu_ptr(void __percpu *base, int cpu);
int rkmem_host_nr_cpu_ids(void);
bool rkmem_host_cpu_possible(int cpu);
int rkmem_host_cpu_to_node(int cpu);
void *rkmem_host_pcp_trylock_local(void __percpu *base, int *cpu);
void rkmem_host_pcp_unlock_local(void *cell);
void *rkmem_host_pcp_lock_cpu(void __percpu *base, int cpu);
void rkmem_host_pcp_unlock_cpu(void *cell);
int rkmem_host_cpuhp_register(void);
void rkmem_host_cpuhp_unregister(int state);

/* IRQ-safe spinlock (6.12's Rust has no irqsave lock backend) */
void rkmem_host_spin_lock_init(spinlock_t *lock, const char *name,
			       struct lock_class_key *key);
unsigned long rkmem_host_spin_lock_irqsave(spinlock_t *lock);
void rkmem_host_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags);

/* debugfs: file @id's reads and writes call back into Rust */
struct dentry *rkmem_host_debugfs_dir(const char *name);
void rkmem_host_debugfs_file(struct dentry *dir, const char *name, umode_t mode,
			     unsigned long id);
void rkmem_host_debugfs_remove(struct dentry *dir);
void rkmem_host_seq_write(struct seq_file *m, const char *s, size_t len);

/* Bad input: one rate-limited warning with a stack trace per kind */
bool rkmem_host_bad_input_ratelimit(unsigned int kind);
void rkmem_host_dump_stack(void);
void rkmem_host_warn_bad_alloc(const char *what, int what_len, const char *counter,
			       int counter_len, int nid, gfp_t gfp, unsigned int order);

/* Shrinker: counts and scans call back into Rust */
struct shrinker *rkmem_host_shrinker_register(void);
void rkmem_host_shrinker_unregister(struct shrinker *s);

/* Implemented in Rust (rust/host/) */
int rkmem_rust_show(struct seq_file *m, unsigned long id);
int rkmem_rust_write(unsigned long id, const char *buf, size_t len);
unsigned long rkmem_rust_shrink_count(int nid);
unsigned long rkmem_rust_shrink_scan(int nid, unsigned long nr_pages);
int rkmem_rust_alloc(int nid, int highest_kind, gfp_t gfp, unsigned int flags,
		     unsigned int order, unsigned long *pfn);
void rkmem_rust_cpu_dead(unsigned int cpu);
void rkmem_rust_free(unsigned long pfn, unsigned int order);
void rkmem_rust_bad_alloc(int kind, int nid, gfp_t gfp, unsigned int order);


/* ---- the slab layer (rust/slab.rs) ---- */
void *rkmem_rust_cache_create(const char *name, unsigned int size, unsigned int align,
			      unsigned int flags, void (*ctor)(void *));
void *rkmem_rust_cache_alloc(void *cache, gfp_t gfp, unsigned int flags, int nid,
			     unsigned long caller);
void rkmem_rust_cache_free(void *cache, void *obj, unsigned long caller);
int rkmem_rust_cache_alloc_bulk(void *cache, gfp_t gfp, unsigned int flags, size_t nr,
				void **p, unsigned long caller);
void rkmem_rust_cache_free_bulk(void *cache, size_t nr, void **p, unsigned long caller);
void rkmem_rust_cache_shrink(void *cache);
void rkmem_rust_cache_destroy(void *cache);
void *rkmem_rust_kmalloc(size_t size, gfp_t gfp, unsigned int flags, int highest_kind,
			 int nid, unsigned long caller);
void rkmem_rust_kfree(const void *obj, unsigned long caller);
size_t rkmem_rust_ksize(const void *obj);


/* ---- host helpers of rust/host/slab.rs ---- */
int rkmem_host_compound_order(unsigned long pfn);
int rkmem_host_numa_node_id(void);
void rkmem_host_page_geometry(unsigned long *page_offset, unsigned long *page_array);
void __percpu *rkmem_host_percpu_alloc_zeroed(size_t size, size_t align);
void rkmem_host_rcu_read_lock(void);
void rkmem_host_rcu_read_unlock(void);
void rkmem_host_synchronize_rcu(void);
void rkmem_host_slab_bug(const char *cache, const char *what, const char *detail);
void rkmem_host_hex_dump(const void *addr, size_t len);
void rkmem_host_print_track(const char *kind, unsigned long addr, int cpu, int pid,
			    unsigned long when);
void rkmem_host_track_now(int *pid, unsigned long *when);
bool rkmem_host_init_on_free(void);
const char *rkmem_host_slub_debug(void);
u64 rkmem_host_random_u64(void);
struct dentry *rkmem_host_debugfs_subdir(struct dentry *parent, const char *name);


/* ---- the mempool layer (rust/mempool.rs) ---- */
enum rkmem_backing_kind {
	RKMEM_BACKING_CUSTOM = 0,
	RKMEM_BACKING_SLAB = 1,
	RKMEM_BACKING_KMALLOC = 2,
	RKMEM_BACKING_PAGES = 3,
};

/* rkmem_mempool_create*()'s arguments (rust/host/mempool.rs RawPoolSpec). */
struct rkmem_pool_spec {
	int kind;
	int min_nr;
	int nid;
	mempool_alloc_t *alloc_fn;
	mempool_free_t *free_fn;
	void *pool_data;
	void *cache;
	size_t param;
	gfp_t gfp;
	unsigned int flags;
	char name[48];
	char backing_name[48];
};

void *rkmem_rust_mempool_create(const struct rkmem_pool_spec *spec);
void *rkmem_rust_mempool_alloc(void *pool, gfp_t gfp, gfp_t reduced_gfp, unsigned int flags,
			       int highest_kind, unsigned long caller);
void *rkmem_rust_mempool_alloc_preallocated(void *pool);
void rkmem_rust_mempool_free(void *pool, void *element, unsigned long caller);
int rkmem_rust_mempool_resize(void *pool, int new_min_nr);
void rkmem_rust_mempool_destroy(void *pool);
struct wait_queue_head;
void rkmem_host_waitqueue_init(struct wait_queue_head *head);
void rkmem_host_wake_up_sleepers(struct wait_queue_head *head);
void rkmem_host_mempool_gfp(gfp_t gfp, gfp_t *full, gfp_t *reduced, unsigned int *flags,
			    int *highest_kind);

/* Fault injection points (rust/fault_glue.c, rust/host/fault.rs FaultKind). */
enum rkmem_fault_kind {
	RKMEM_FAULT_GROW = 0,	 /* a block from the host */
	RKMEM_FAULT_PAGE = 1,	 /* a client's page allocation */
	RKMEM_FAULT_SLAB = 2,	 /* a new slab */
	RKMEM_FAULT_MEMPOOL = 3, /* a mempool's backing */
	RKMEM_FAULT_KINDS = 4,
};

void rkmem_host_fault_init(struct dentry *parent);
unsigned long *rkmem_host_fault_probability(int kind);
bool rkmem_host_should_fail(int kind, size_t size, bool can_sleep);
unsigned int rkmem_host_gfp_flags(gfp_t gfp);

/* ---- memory hotplug (rust/hotplug_glue.c, rust/host/memhotplug.rs) ---- */
int rkmem_host_memory_notifier_register(void);
void rkmem_host_memory_notifier_unregister(void);
int rkmem_rust_memory_going_offline(unsigned long start_pfn, unsigned long nr_pages);
void rkmem_rust_memory_offline_over(void);

#endif /* _RKMEM_HOST_GLUE_H */
