// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem_bench: rkmem against the host's allocators, through the calls a
 * client makes, same flags, same sizes, same loops:
 *   pages    rkmem_alloc_pages()/rkmem_free_pages() against
 *            alloc_pages_node()/__free_pages(), GFP_KERNEL, the CPU's node
 *   objects  rkmem_cache_alloc()/_free()/_alloc_bulk()/_free_bulk() against
 *            kmem_cache_alloc()/... of the host's SLUB, on a cache of each
 *            side made with the same size, align (0) and flags (0);
 *            rkmem_kmalloc()/rkmem_kfree() against kmalloc()/kfree() with
 *            the same constant size; GFP_KERNEL
 *   mempools rkmem_mempool_alloc()/_free() against mempool_alloc()/_free()
 *            on a pool of each side with the same min_nr and the same kind
 *            of backing (each side's own cache, kmalloc or pages, or one
 *            callback backing for both); GFP_KERNEL
 * insmod runs every case and logs one line per result, which tools/bench
 * turns into a table; the object caches stay, holding `hold` rkmem objects,
 * until rmmod, so that tools/bench can read their debugfs metadata, and so
 * do the rkmem mempools (with their reserves), for their debugfs counters.
 *
 * Every case runs in kthreads bound to CPUs, started together by a spinning
 * barrier, and timed with ktime_get_ns() around one whole batch. A case is
 * one untimed warm-up round (which also warms the caches), then `rounds`
 * rounds of one measurement per variant (rkmem, host; for scaling also 1
 * CPU, all CPUs) in an order that flips every round; the lines report
 * medians. Cases (the `cases` parameter names them):
 *
 *   single   alloc+free pairs on the first online CPU, orders 0-3, 9, 10
 *   batch    on that CPU, `batch` allocations then their `batch` frees
 *            (refill and drain of per-CPU lists), orders 0-3; per page
 *   scaling  order-0 and order-3 pairs on one CPU, then on every online CPU
 *            at once (the same count per CPU): aggregate ns per pair and
 *            the scaling (pairs/s on all CPUs) / (pairs/s on one CPU)
 *   remote   the first online CPU allocates order-0 pages and passes them
 *            through a lock-free single-producer single-consumer ring to
 *            the second, which frees them; ns per page from the first start
 *            to the last free
 *   cache    object alloc+free pairs, 64 and 256 bytes, on one CPU and on
 *            every online CPU at once (one cache shared, as clients do);
 *            per pair, and the scaling as for pages
 *   bulk     alloc_bulk of `bulk` objects then free_bulk of them, 64 and
 *            256 bytes, one CPU; per object. 64 times per measurement one
 *            more object is allocated and kept to its end, so that the
 *            batch walks through the positions in a slab (run_obj_bulk())
 *   kmalloc  kmalloc+kfree pairs of 64 and 1024 bytes, one CPU
 *   xcpu     cross-CPU frees, 64 and 256 bytes: the first online CPU
 *            allocates `xbatch` objects one by one, hands the batch to the
 *            second, which frees them one by one, and waits for that before
 *            the next batch; each side times only its own batches. Per
 *            object: the free side (ratio) and alloc + free side (pair)
 *   mempool  mempool alloc+free pairs, one CPU, on pools of `pool_min`
 *            elements: slab pools on the 64 and 256 byte caches
 *            (rkmem_mempool_create_slab_pool() on the rkmem cache,
 *            mempool_create_slab_pool() on the host's), kmalloc pools of 256
 *            bytes and page pools of order 0. The reserve is full, so every
 *            allocation comes from the backing and every free goes back to it
 *   reserve  the same pairs served by the reserve: both sides' pools get one
 *            callback backing, bench_backing_alloc()/_free(), kmalloc() and
 *            kfree() of 256 bytes of the host's. Measured once as it is
 *            (pairs through the backing, as in mempool) and once after
 *            creation with the backing failing: every attempt of the pool
 *            without __GFP_DIRECT_RECLAIM returns NULL, so every allocation
 *            comes from the reserve and every free refills it. (An attempt
 *            with it, made only once the reserve is empty, would get an
 *            element, so that nothing sleeps; it is counted as an error.)
 *            Also reported: reserve path / backing path for each side
 *
 * Result lines (ns with one decimal, ratio = rkmem / host with three):
 *   rkmem_bench: start rounds=R scale=S batch=K cpus=C nodes=N
 *   rkmem_bench: single order=O count=N rkmem_ns=X host_ns=Y ratio=Z
 *   rkmem_bench: batch order=O size=K count=N rkmem_ns=X host_ns=Y ratio=Z
 *   rkmem_bench: scaling order=O cpus=C count=N rkmem_1cpu_ns=A host_1cpu_ns=B
 *                rkmem_ns=X host_ns=Y ratio=Z rkmem_scaling=S host_scaling=T
 *   rkmem_bench: remote order=0 count=N rkmem_ns=X host_ns=Y ratio=Z
 *   rkmem_bench: cache size=B count=N rkmem_ns=X host_ns=Y ratio=Z
 *   rkmem_bench: cache_scaling size=B cpus=C count=N (then as scaling)
 *   rkmem_bench: bulk size=B nr=K count=N rkmem_ns=X host_ns=Y ratio=Z
 *   rkmem_bench: kmalloc size=B count=N rkmem_ns=X host_ns=Y ratio=Z
 *   rkmem_bench: xcpu size=B batch=K count=N rkmem_ns=X host_ns=Y ratio=Z
 *                rkmem_pair_ns=A host_pair_ns=B pair_ratio=P
 *   rkmem_bench: mempool backing=slab size=B min_nr=M count=N rkmem_ns=X
 *                host_ns=Y ratio=Z (backing=kmalloc size=B, backing=pages
 *                order=O: the same)
 *   rkmem_bench: reserve size=B min_nr=M count=N rkmem_ns=X host_ns=Y
 *                ratio=Z rkmem_backing_ns=A host_backing_ns=B
 *                backing_ratio=P rkmem_per_backing=Q host_per_backing=R
 *   rkmem_bench: hold cache=NAME objects=N
 *   rkmem_bench: done errors=E
 * (a scaling, xcpu or reserve line is one line; count: pairs, calls or
 * batches per CPU; ns of mempool and reserve lines are per pair). A failed
 * allocation ends that size or order of that case with "rkmem_bench:
 * error: ..." (every page and object is freed) and the bench goes on; done
 * counts them. insmod fails only on bad parameters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/gfp.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mempool.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/topology.h>

#include "rkmem.h"

#define MAX_ROUNDS 31
#define MAX_BATCH 512
#define MAX_BULK 64
#define MAX_XBATCH 1024
#define MAX_HOLD 1000000
#define MAX_POOL_MIN 4096
#define RING_SIZE 256 /* a power of two */

static unsigned int rounds = 7;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "timed rounds per case, 1-31 (median reported; default 7)");

static unsigned int scale = 100;
module_param(scale, uint, 0444);
MODULE_PARM_DESC(scale, "percent of the default counts (default 100)");

static unsigned int batch = 64;
module_param(batch, uint, 0444);
MODULE_PARM_DESC(batch, "pages allocated before freeing in the batch case, 1-512 (default 64)");

static unsigned int bulk = 16;
module_param(bulk, uint, 0444);
MODULE_PARM_DESC(bulk, "objects per alloc_bulk/free_bulk call in the bulk case, 1-64 (default 16)");

static unsigned int xbatch = 256;
module_param(xbatch, uint, 0444);
MODULE_PARM_DESC(xbatch, "objects per batch handed from CPU to CPU in the xcpu case, 1-1024 (default 256)");

static unsigned int hold = 10000;
module_param(hold, uint, 0444);
MODULE_PARM_DESC(hold, "objects of each rkmem bench cache held until rmmod, for the metadata report (default 10000)");

static unsigned int pool_min = 16;
module_param(pool_min, uint, 0444);
MODULE_PARM_DESC(pool_min, "min_nr of the mempools in the mempool and reserve cases, 1-4096 (default 16)");

static char *cases = "single,batch,scaling,remote,cache,bulk,kmalloc,xcpu,mempool,reserve";
module_param(cases, charp, 0444);
MODULE_PARM_DESC(cases, "comma-separated subset of single,batch,scaling,remote,cache,bulk,kmalloc,xcpu,mempool,reserve");

enum bench_kind {
	KIND_PAIRS, KIND_BATCH, KIND_REMOTE,
	KIND_OBJ_PAIRS, KIND_OBJ_BULK, KIND_KMALLOC, KIND_OBJ_XCPU, KIND_MEMPOOL,
};
static const char * const kind_name[] = {
	"pairs", "batch", "remote", "cache", "bulk", "kmalloc", "xcpu", "mempool",
};

/* The remote case's ring: head written by the producer, tail by the consumer. */
struct bench_ring {
	unsigned int head ____cacheline_aligned_in_smp;
	bool done;
	unsigned int tail ____cacheline_aligned_in_smp;
	struct page *slot[RING_SIZE] ____cacheline_aligned_in_smp;
};

/*
 * The xcpu case's hand-over: the allocating CPU fills obj[] and publishes
 * the batch count in filled, the freeing CPU empties it and publishes freed.
 */
struct bench_xfer {
	unsigned long filled ____cacheline_aligned_in_smp;
	bool stop;
	unsigned long freed ____cacheline_aligned_in_smp;
	void *obj[MAX_XBATCH] ____cacheline_aligned_in_smp;
};

/* A cache of each side with the same object size, align and flags. */
struct bench_cache {
	unsigned int size;
	struct rkmem_cache *rk;
	struct kmem_cache *host;
	char name[32];
	void **held;		/* rkmem objects held until rmmod */
	unsigned int nr_held;
};

static struct bench_cache caches[] = { { .size = 64 }, { .size = 256 } };

/* A pool of each side, with the same min_nr and the same kind of backing. */
struct bench_pool {
	struct rkmem_mempool *rk;
	mempool_t *host;
};

enum pool_backing { POOL_SLAB, POOL_KMALLOC, POOL_PAGES, POOL_CUSTOM };

/* The mempool case's pools (first 4) and the reserve case's (last). */
#define NR_POOLS 5
#define RESERVE_SIZE 256
static const struct {
	enum pool_backing backing;
	unsigned int arg;	/* cache index, size or order */
	unsigned long count;
} pool_specs[NR_POOLS] = {
	{ POOL_SLAB, 0, 100000 }, { POOL_SLAB, 1, 100000 },
	{ POOL_KMALLOC, 256, 100000 }, { POOL_PAGES, 0, 50000 },
	{ POOL_CUSTOM, RESERVE_SIZE, 100000 },
};

/* kept until rmmod: tools/bench reads the rkmem pools' debugfs counters */
static struct bench_pool pools[NR_POOLS];

/*
 * The reserve case's backing, one per side (its pool_data): fail makes the
 * attempts without __GFP_DIRECT_RECLAIM (mempool_alloc()'s first) fail.
 */
struct bench_backing {
	bool fail;
	unsigned long failed;		/* attempts that returned NULL */
	unsigned long fallbacks;	/* attempts with reclaim while failing */
};

static struct bench_backing backing_ctx[2];	/* rkmem, host */

struct bench_job {
	bool rk;
	enum bench_kind kind;
	unsigned int order;	/* pages */
	unsigned int size;	/* objects: bytes */
	struct bench_cache *cache;
	struct bench_pool *pool;
	unsigned long count;	/* pairs, batches, calls or pages per worker */
	unsigned int nr;	/* workers */
	atomic_t arrived;
};

struct bench_worker {
	struct bench_job *job;
	struct task_struct *task;
	struct completion done;
	unsigned int cpu;
	unsigned int index;
	u64 start, end;
	u64 busy;		/* xcpu: ns spent in this worker's own batches */
	int err;
};

static struct bench_worker *workers;	/* nr_cpu_ids of them */
static struct bench_ring *ring;
static struct bench_xfer *xfer;
static unsigned int *all_cpus;		/* the online CPUs, in order */
static unsigned int nr_cpus;
static int errors;

static __always_inline struct page *bench_alloc(bool rk, int nid, unsigned int order)
{
	if (rk)
		return rkmem_alloc_pages(nid, GFP_KERNEL, order);
	return alloc_pages_node(nid, GFP_KERNEL, order);
}

static __always_inline void bench_free(bool rk, struct page *page, unsigned int order)
{
	if (rk)
		rkmem_free_pages(page, order);
	else
		__free_pages(page, order);
}

static __always_inline void *obj_alloc(bool rk, const struct bench_cache *c)
{
	if (rk)
		return rkmem_cache_alloc(c->rk, GFP_KERNEL);
	return kmem_cache_alloc(c->host, GFP_KERNEL);
}

static __always_inline void obj_free(bool rk, const struct bench_cache *c, void *obj)
{
	if (rk)
		rkmem_cache_free(c->rk, obj);
	else
		kmem_cache_free(c->host, obj);
}

static __always_inline int run_pairs(bool rk, const struct bench_job *job, int nid)
{
	unsigned int order = job->order;
	unsigned long i;
	struct page *page;

	for (i = 0; i < job->count; i++) {
		page = bench_alloc(rk, nid, order);
		if (unlikely(!page))
			return -ENOMEM;
		bench_free(rk, page, order);
		if ((i & 255) == 255)
			cond_resched();
	}
	return 0;
}

static __always_inline int run_batch(bool rk, const struct bench_job *job, int nid,
				     struct page **pages)
{
	unsigned int order = job->order;
	unsigned int k, n = batch;
	unsigned long i;

	for (i = 0; i < job->count; i++) {
		for (k = 0; k < n; k++) {
			pages[k] = bench_alloc(rk, nid, order);
			if (unlikely(!pages[k])) {
				while (k--)
					bench_free(rk, pages[k], order);
				return -ENOMEM;
			}
		}
		for (k = 0; k < n; k++)
			bench_free(rk, pages[k], order);
		cond_resched();
	}
	return 0;
}

/* Both sides spin while the ring is full or empty. */
static inline void ring_wait(void)
{
	cpu_relax();
	cond_resched();
}

static __always_inline int run_produce(bool rk, const struct bench_job *job, int nid)
{
	unsigned int head = 0;
	unsigned long i;
	struct page *page;
	int err = 0;

	for (i = 0; i < job->count; i++) {
		page = bench_alloc(rk, nid, 0);
		if (unlikely(!page)) {
			err = -ENOMEM;
			break;
		}
		/* Pairs with the consumer's release of tail: the slot is free. */
		while (head - smp_load_acquire(&ring->tail) == RING_SIZE)
			ring_wait();
		ring->slot[head % RING_SIZE] = page;
		/* Publishes the slot to the consumer's acquire of head. */
		smp_store_release(&ring->head, ++head);
	}
	/* After the last head store: a consumer that sees done sees every page. */
	smp_store_release(&ring->done, true);
	return err;
}

static __always_inline int run_consume(bool rk)
{
	unsigned int head, tail = 0;

	for (;;) {
		/* Pairs with the producer's release of head: slots up to it are filled. */
		head = smp_load_acquire(&ring->head);
		if (head == tail) {
			/* Pairs with the release of done, which follows the last head store. */
			if (smp_load_acquire(&ring->done) && READ_ONCE(ring->head) == tail)
				return 0;
			ring_wait();
			continue;
		}
		while (tail != head) {
			bench_free(rk, ring->slot[tail % RING_SIZE], 0);
			/* The slot has been read: the producer may refill it. */
			smp_store_release(&ring->tail, ++tail);
		}
	}
}

static __always_inline int run_obj_pairs(bool rk, const struct bench_job *job)
{
	const struct bench_cache *c = job->cache;
	unsigned long i;
	void *obj;

	for (i = 0; i < job->count; i++) {
		obj = obj_alloc(rk, c);
		if (unlikely(!obj))
			return -ENOMEM;
		obj_free(rk, c, obj);
		if ((i & 255) == 255)
			cond_resched();
	}
	return 0;
}

/*
 * Where the 16 objects fall in a slab decides how often a call crosses into
 * another slab, and stays put for a whole run of calls (a freed batch is the
 * next one allocated): so one single object more is taken, and kept until
 * the end, every count/BULK_SHIFTS calls, which walks the batch through the
 * slab's positions in every measurement, the same on both sides.
 */
#define BULK_SHIFTS 64

static __always_inline int run_obj_bulk(bool rk, const struct bench_job *job, void **p)
{
	const struct bench_cache *c = job->cache;
	unsigned long i, every = max(job->count / BULK_SHIFTS, 1UL);
	unsigned int n = bulk, kept = 0;
	void **extra = p + n;
	int got, err = 0;

	for (i = 0; i < job->count; i++) {
		if (rk)
			got = rkmem_cache_alloc_bulk(c->rk, GFP_KERNEL, n, p);
		else
			got = kmem_cache_alloc_bulk(c->host, GFP_KERNEL, n, p);
		/* Both are all or nothing. */
		if (unlikely(got != n)) {
			err = -ENOMEM;
			break;
		}
		if (rk)
			rkmem_cache_free_bulk(c->rk, n, p);
		else
			kmem_cache_free_bulk(c->host, n, p);
		if (i % every == every - 1 && kept < BULK_SHIFTS) {
			extra[kept] = obj_alloc(rk, c);
			if (unlikely(!extra[kept])) {
				err = -ENOMEM;
				break;
			}
			kept++;
		}
		if ((i & 15) == 15)
			cond_resched();
	}
	while (kept)
		obj_free(rk, c, extra[--kept]);
	return err;
}

/* @size is a constant here: the host's kmalloc() picks its cache at build time, as in clients. */
static __always_inline int kmalloc_pairs(bool rk, unsigned long count, size_t size)
{
	unsigned long i;
	void *obj;

	for (i = 0; i < count; i++) {
		obj = rk ? rkmem_kmalloc(size, GFP_KERNEL) : kmalloc(size, GFP_KERNEL);
		if (unlikely(!obj))
			return -ENOMEM;
		if (rk)
			rkmem_kfree(obj);
		else
			kfree(obj);
		if ((i & 255) == 255)
			cond_resched();
	}
	return 0;
}

static __always_inline int run_kmalloc(bool rk, const struct bench_job *job)
{
	switch (job->size) {
	case 64:
		return kmalloc_pairs(rk, job->count, 64);
	case 1024:
		return kmalloc_pairs(rk, job->count, 1024);
	}
	return -EINVAL;
}

/* xcpu, first CPU: allocate a batch, hand it over, wait until it is freed. */
static __always_inline int run_xalloc(bool rk, struct bench_worker *w)
{
	const struct bench_job *job = w->job;
	const struct bench_cache *c = job->cache;
	unsigned int k, n = xbatch;
	unsigned long i;
	u64 t;

	for (i = 0; i < job->count; i++) {
		t = ktime_get_ns();
		for (k = 0; k < n; k++) {
			xfer->obj[k] = obj_alloc(rk, c);
			if (unlikely(!xfer->obj[k])) {
				while (k--)
					obj_free(rk, c, xfer->obj[k]);
				/* filled stays i: the freeing CPU sees stop and ends. */
				WRITE_ONCE(xfer->stop, true);
				return -ENOMEM;
			}
		}
		w->busy += ktime_get_ns() - t;
		/* Publishes obj[] to the freeing CPU's acquire of filled. */
		smp_store_release(&xfer->filled, i + 1);
		/* Pairs with its release of freed: obj[] may be refilled. */
		while (smp_load_acquire(&xfer->freed) != i + 1)
			ring_wait();
	}
	return 0;
}

/* xcpu, second CPU: free each batch handed over, one object at a time. */
static __always_inline int run_xfree(bool rk, struct bench_worker *w)
{
	const struct bench_job *job = w->job;
	const struct bench_cache *c = job->cache;
	unsigned int k, n = xbatch;
	unsigned long i;
	u64 t;

	for (i = 0; i < job->count; i++) {
		/* Pairs with the release of filled: obj[] holds batch i. */
		while (smp_load_acquire(&xfer->filled) != i + 1) {
			/* Set on an allocation failure only, with no batch i to come. */
			if (READ_ONCE(xfer->stop))
				return 0;
			ring_wait();
		}
		t = ktime_get_ns();
		for (k = 0; k < n; k++)
			obj_free(rk, c, xfer->obj[k]);
		w->busy += ktime_get_ns() - t;
		/* obj[] has been read: the allocating CPU may refill it. */
		smp_store_release(&xfer->freed, i + 1);
	}
	return 0;
}

static __always_inline int run_mempool(bool rk, const struct bench_job *job)
{
	const struct bench_pool *p = job->pool;
	unsigned long i;
	void *elem;

	for (i = 0; i < job->count; i++) {
		if (rk)
			elem = rkmem_mempool_alloc(p->rk, GFP_KERNEL);
		else
			elem = mempool_alloc(p->host, GFP_KERNEL);
		/* Never with GFP_KERNEL (it sleeps instead): a bug. */
		if (unlikely(!elem))
			return -ENOMEM;
		if (rk)
			rkmem_mempool_free(elem, p->rk);
		else
			mempool_free(elem, p->host);
		if ((i & 255) == 255)
			cond_resched();
	}
	return 0;
}

static __always_inline int run_kind(bool rk, struct bench_worker *w, void *scratch)
{
	const struct bench_job *job = w->job;
	int nid = cpu_to_node(w->cpu);

	switch (job->kind) {
	case KIND_PAIRS:
		return run_pairs(rk, job, nid);
	case KIND_BATCH:
		return run_batch(rk, job, nid, scratch);
	case KIND_REMOTE:
		return w->index == 0 ? run_produce(rk, job, nid) : run_consume(rk);
	case KIND_OBJ_PAIRS:
		return run_obj_pairs(rk, job);
	case KIND_OBJ_BULK:
		return run_obj_bulk(rk, job, scratch);
	case KIND_KMALLOC:
		return run_kmalloc(rk, job);
	case KIND_OBJ_XCPU:
		return w->index == 0 ? run_xalloc(rk, w) : run_xfree(rk, w);
	case KIND_MEMPOOL:
		return run_mempool(rk, job);
	}
	return -EINVAL;
}

/* The two allocators get the very same code, each with direct calls. */
static noinline int run_rkmem(struct bench_worker *w, void *scratch)
{
	return run_kind(true, w, scratch);
}

static noinline int run_host(struct bench_worker *w, void *scratch)
{
	return run_kind(false, w, scratch);
}

static int bench_thread(void *arg)
{
	struct bench_worker *w = arg;
	struct bench_job *job = w->job;
	void *scratch = NULL;

	if (job->kind == KIND_BATCH || job->kind == KIND_OBJ_BULK) {
		/* bulk: the batch, then the objects run_obj_bulk() keeps */
		scratch = kmalloc_array(job->kind == KIND_BATCH ? batch : bulk + BULK_SHIFTS,
					sizeof(void *), GFP_KERNEL);
		if (!scratch)
			w->err = -ENOMEM;
	}
	/* Start together: every worker runs on its own CPU. */
	atomic_inc(&job->arrived);
	while (atomic_read(&job->arrived) < job->nr) {
		cpu_relax();
		cond_resched();
	}
	w->start = ktime_get_ns();
	if (!w->err)
		w->err = job->rk ? run_rkmem(w, scratch) : run_host(w, scratch);
	w->end = ktime_get_ns();
	kfree(scratch);
	kthread_complete_and_exit(&w->done, 0);
}

/* What one timed job measured. */
struct bench_result {
	u64 span;	/* ns from the first worker's start to the last worker's end */
	u64 busy[2];	/* xcpu: ns in the first and the second worker's own batches */
};

/* One timed job like @tmpl (its rk and nr aside) on cpus[0..nr-1]. */
static int measure(const struct bench_job *tmpl, bool rk, const unsigned int *cpus,
		   unsigned int nr, struct bench_result *res)
{
	struct bench_job job = *tmpl;
	u64 first = U64_MAX, last = 0;
	struct bench_worker *w;
	unsigned int i;
	int err = 0;

	job.rk = rk;
	job.nr = nr;
	atomic_set(&job.arrived, 0);
	if (job.kind == KIND_REMOTE) {
		ring->head = 0;
		ring->tail = 0;
		ring->done = false;
	}
	if (job.kind == KIND_OBJ_XCPU) {
		xfer->filled = 0;
		xfer->freed = 0;
		xfer->stop = false;
	}
	for (i = 0; i < nr; i++) {
		w = &workers[i];
		w->job = &job;
		w->cpu = cpus[i];
		w->index = i;
		w->err = 0;
		w->busy = 0;
		init_completion(&w->done);
		w->task = kthread_create(bench_thread, w, "rkmem_bench/%u", cpus[i]);
		if (IS_ERR(w->task)) {
			err = PTR_ERR(w->task);
			/* Not woken yet: they exit without running bench_thread. */
			while (i--)
				kthread_stop(workers[i].task);
			return err;
		}
		kthread_bind(w->task, cpus[i]);
	}
	for (i = 0; i < nr; i++)
		wake_up_process(workers[i].task);
	for (i = 0; i < nr; i++) {
		w = &workers[i];
		wait_for_completion(&w->done);
		first = min(first, w->start);
		last = max(last, w->end);
		if (w->err && !err)
			err = w->err;
	}
	res->span = last - first;
	res->busy[0] = workers[0].busy;
	res->busy[1] = nr > 1 ? workers[1].busy : 0;
	return err;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static u64 median(u64 *v)
{
	sort(v, rounds, sizeof(*v), cmp_u64, NULL);
	return v[rounds / 2];
}

/* ns per unit, times 10 (printed with one decimal). */
static u64 ns10(u64 total, u64 units)
{
	return (total * 10 + units / 2) / max(units, 1ULL);
}

/* a / b, times 1000 (printed with three decimals). */
static u64 milli(u64 a, u64 b)
{
	return (a * 1000 + b / 2) / max(b, 1ULL);
}

static unsigned long scaled(unsigned long count)
{
	return max(count * scale / 100, 1UL);
}

/* Whether @name is one of the comma-separated words of cases. */
static bool want(const char *name)
{
	size_t len = strlen(name);
	const char *p = cases;

	while ((p = strstr(p, name))) {
		if ((p == cases || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
		p += len;
	}
	return false;
}

/* One side of a comparison: which allocator, on how many CPUs. */
struct variant {
	bool rk;
	unsigned int nr;
};

/*
 * Interleaved rounds of one kind of job, one measurement per variant per
 * round, in order on even rounds and in reverse on odd ones (round -1 is the
 * untimed warm-up); the medians go to med[]: of the spans, or for xcpu of the
 * free side's time, whose alloc + free time's medians go to pair[].
 */
static int compare_variants(const struct bench_job *tmpl, const struct variant *v,
			    unsigned int nv, u64 *med, u64 *pair)
{
	/* init runs one comparison at a time */
	static u64 spans[4][MAX_ROUNDS], pairs[4][MAX_ROUNDS];
	struct bench_result res;
	unsigned int i, k;
	int r, err;

	if (WARN_ON(nv > ARRAY_SIZE(spans)))
		return -EINVAL;

	for (r = -1; r < (int)rounds; r++) {
		for (i = 0; i < nv; i++) {
			k = r % 2 ? nv - 1 - i : i;
			err = measure(tmpl, v[k].rk, all_cpus, v[k].nr, &res);
			if (err) {
				pr_err("error: %s order=%u size=%u cpus=%u %s: %d\n",
				       kind_name[tmpl->kind], tmpl->order, tmpl->size, v[k].nr,
				       v[k].rk ? "rkmem" : "host", err);
				errors++;
				return err;
			}
			if (r >= 0) {
				spans[k][r] = tmpl->kind == KIND_OBJ_XCPU ? res.busy[1] : res.span;
				pairs[k][r] = res.busy[0] + res.busy[1];
			}
			cond_resched();
		}
	}
	for (k = 0; k < nv; k++) {
		med[k] = median(spans[k]);
		if (pair)
			pair[k] = median(pairs[k]);
	}
	return 0;
}

/* rkmem and the host on the first nr online CPUs: medians to *rk and *host. */
static int compare(const struct bench_job *tmpl, unsigned int nr, u64 *rk, u64 *host)
{
	const struct variant v[] = { { true, nr }, { false, nr } };
	u64 med[2] = {};
	int err;

	err = compare_variants(tmpl, v, 2, med, NULL);
	*rk = med[0];
	*host = med[1];
	return err;
}

static void bench_single(void)
{
	static const struct { unsigned int order; unsigned long count; } specs[] = {
		{ 0, 50000 }, { 1, 50000 }, { 2, 50000 }, { 3, 50000 }, { 9, 2000 }, { 10, 1000 },
	};
	struct bench_job job = { .kind = KIND_PAIRS };
	u64 rk, host, a, b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(specs); i++) {
		if (specs[i].order > MAX_PAGE_ORDER)
			continue;
		job.order = specs[i].order;
		job.count = scaled(specs[i].count);
		if (compare(&job, 1, &rk, &host))
			continue;
		a = ns10(rk, job.count);
		b = ns10(host, job.count);
		pr_info("single order=%u count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu\n",
			job.order, job.count, a / 10, a % 10, b / 10, b % 10,
			milli(rk, host) / 1000, milli(rk, host) % 1000);
	}
}

static void bench_batch(void)
{
	static const unsigned long pages[] = { 51200, 51200, 51200, 51200 };
	struct bench_job job = { .kind = KIND_BATCH };
	unsigned long units;
	u64 rk, host, a, b;
	unsigned int order;

	for (order = 0; order < ARRAY_SIZE(pages); order++) {
		job.order = order;
		job.count = max(scaled(pages[order]) / batch, 1UL);
		units = job.count * batch;
		if (compare(&job, 1, &rk, &host))
			continue;
		a = ns10(rk, units);
		b = ns10(host, units);
		pr_info("batch order=%u size=%u count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu\n",
			order, batch, job.count, a / 10, a % 10, b / 10, b % 10,
			milli(rk, host) / 1000, milli(rk, host) % 1000);
	}
}

/*
 * One CPU and every CPU at once, for rkmem and the host: @what is the line's
 * first words, @unit1 the line's unit word, e.g. "order=0" or "size=64".
 */
static void scaling_line(const char *what, const char *unit1, unsigned long count, const u64 *med)
{
	u64 rk1 = med[0], host1 = med[1], rkn = med[2], hostn = med[3];
	u64 a1 = ns10(rk1, count), b1 = ns10(host1, count);
	u64 a = ns10(rkn, count * nr_cpus), b = ns10(hostn, count * nr_cpus);
	/* (pairs/s on nr CPUs) / (pairs/s on one) = nr * span1 / span_nr */
	u64 rs = milli(rk1 * nr_cpus, rkn), hs = milli(host1 * nr_cpus, hostn);

	pr_info("%s %s cpus=%u count=%lu rkmem_1cpu_ns=%llu.%llu host_1cpu_ns=%llu.%llu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu rkmem_scaling=%llu.%03llu host_scaling=%llu.%03llu\n",
		what, unit1, nr_cpus, count, a1 / 10, a1 % 10, b1 / 10, b1 % 10,
		a / 10, a % 10, b / 10, b % 10,
		milli(rkn, hostn) / 1000, milli(rkn, hostn) % 1000,
		rs / 1000, rs % 1000, hs / 1000, hs % 1000);
}

static const struct variant scaling_variants[] = {
	{ true, 1 }, { false, 1 }, { true, 0 /* all */ }, { false, 0 },
};

static void bench_scaling(void)
{
	static const struct { unsigned int order; unsigned long count; } specs[] = {
		{ 0, 50000 }, { 3, 50000 },
	};
	struct variant v[ARRAY_SIZE(scaling_variants)];
	struct bench_job job = { .kind = KIND_PAIRS };
	char unit[16];
	unsigned int i;
	u64 med[4];

	memcpy(v, scaling_variants, sizeof(v));
	v[2].nr = v[3].nr = nr_cpus;
	for (i = 0; i < ARRAY_SIZE(specs); i++) {
		job.order = specs[i].order;
		job.count = scaled(specs[i].count);
		if (compare_variants(&job, v, 4, med, NULL))
			continue;
		snprintf(unit, sizeof(unit), "order=%u", job.order);
		scaling_line("scaling", unit, job.count, med);
	}
}

static void bench_remote(void)
{
	struct bench_job job = { .kind = KIND_REMOTE, .count = scaled(50000) };
	u64 rk, host, a, b;

	if (compare(&job, 2, &rk, &host))
		return;
	a = ns10(rk, job.count);
	b = ns10(host, job.count);
	pr_info("remote order=0 count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu\n",
		job.count, a / 10, a % 10, b / 10, b % 10,
		milli(rk, host) / 1000, milli(rk, host) % 1000);
}

/* Object pairs on one CPU, then (with two or more online) on all at once. */
static void bench_cache(void)
{
	struct variant v[ARRAY_SIZE(scaling_variants)];
	struct bench_job job = { .kind = KIND_OBJ_PAIRS, .count = scaled(100000) };
	unsigned int i, nv = nr_cpus >= 2 ? 4 : 2;
	u64 med[4], a, b;
	char unit[16];

	memcpy(v, scaling_variants, sizeof(v));
	v[2].nr = v[3].nr = nr_cpus;
	for (i = 0; i < ARRAY_SIZE(caches); i++) {
		job.cache = &caches[i];
		job.size = caches[i].size;
		if (compare_variants(&job, v, nv, med, NULL))
			continue;
		a = ns10(med[0], job.count);
		b = ns10(med[1], job.count);
		pr_info("cache size=%u count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu\n",
			job.size, job.count, a / 10, a % 10, b / 10, b % 10,
			milli(med[0], med[1]) / 1000, milli(med[0], med[1]) % 1000);
		if (nv == 4) {
			snprintf(unit, sizeof(unit), "size=%u", job.size);
			scaling_line("cache_scaling", unit, job.count, med);
		}
	}
}

static void bench_bulk(void)
{
	struct bench_job job = {
		.kind = KIND_OBJ_BULK, .count = max(scaled(102400) / bulk, 1UL),
	};
	unsigned long units = job.count * bulk;
	u64 rk, host, a, b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caches); i++) {
		job.cache = &caches[i];
		job.size = caches[i].size;
		if (compare(&job, 1, &rk, &host))
			continue;
		a = ns10(rk, units);
		b = ns10(host, units);
		pr_info("bulk size=%u nr=%u count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu\n",
			job.size, bulk, job.count, a / 10, a % 10, b / 10, b % 10,
			milli(rk, host) / 1000, milli(rk, host) % 1000);
	}
}

static void bench_kmalloc(void)
{
	static const unsigned int sizes[] = { 64, 1024 };	/* as in run_kmalloc() */
	struct bench_job job = { .kind = KIND_KMALLOC, .count = scaled(100000) };
	u64 rk, host, a, b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		job.size = sizes[i];
		if (compare(&job, 1, &rk, &host))
			continue;
		a = ns10(rk, job.count);
		b = ns10(host, job.count);
		pr_info("kmalloc size=%u count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu\n",
			job.size, job.count, a / 10, a % 10, b / 10, b % 10,
			milli(rk, host) / 1000, milli(rk, host) % 1000);
	}
}

static void bench_xcpu(void)
{
	const struct variant v[] = { { true, 2 }, { false, 2 } };
	struct bench_job job = {
		.kind = KIND_OBJ_XCPU, .count = max(scaled(102400) / xbatch, 1UL),
	};
	unsigned long units = job.count * xbatch;
	u64 med[2], pair[2], a, b, pa, pb;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caches); i++) {
		job.cache = &caches[i];
		job.size = caches[i].size;
		if (compare_variants(&job, v, 2, med, pair))
			continue;
		a = ns10(med[0], units);
		b = ns10(med[1], units);
		pa = ns10(pair[0], units);
		pb = ns10(pair[1], units);
		pr_info("xcpu size=%u batch=%u count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu rkmem_pair_ns=%llu.%llu host_pair_ns=%llu.%llu pair_ratio=%llu.%03llu\n",
			job.size, xbatch, job.count, a / 10, a % 10, b / 10, b % 10,
			milli(med[0], med[1]) / 1000, milli(med[0], med[1]) % 1000,
			pa / 10, pa % 10, pb / 10, pb % 10,
			milli(pair[0], pair[1]) / 1000, milli(pair[0], pair[1]) % 1000);
	}
}

/* The reserve case's callback backing, as the host's mempool_kmalloc(). */
static void *bench_backing_alloc(gfp_t gfp, void *data)
{
	struct bench_backing *b = data;

	if (unlikely(READ_ONCE(b->fail))) {
		if (!(gfp & __GFP_DIRECT_RECLAIM)) {
			b->failed++;
			return NULL;
		}
		/* The reserve is empty: an element rather than a sleep. */
		b->fallbacks++;
	}
	return kmalloc(RESERVE_SIZE, gfp);
}

static void bench_backing_free(void *element, void *data)
{
	kfree(element);
}

static const char * const backing_word[] = { "slab", "kmalloc", "pages", "custom" };

static void destroy_pool(struct bench_pool *p)
{
	rkmem_mempool_destroy(p->rk);
	p->rk = NULL;
	mempool_destroy(p->host);
	p->host = NULL;
}

static void destroy_pools(void)
{
	unsigned int i;

	for (i = 0; i < NR_POOLS; i++)
		destroy_pool(&pools[i]);
}

/*
 * The pools of pool_specs[i], both sides. Not inlined into the __init
 * function: rkmem names a pool after its creator's caller.
 */
static noinline int create_pool(unsigned int i)
{
	struct bench_pool *p = &pools[i];
	unsigned int arg = pool_specs[i].arg;

	switch (pool_specs[i].backing) {
	case POOL_SLAB:
		p->rk = rkmem_mempool_create_slab_pool(pool_min, caches[arg].rk);
		p->host = mempool_create_slab_pool(pool_min, caches[arg].host);
		break;
	case POOL_KMALLOC:
		p->rk = rkmem_mempool_create_kmalloc_pool(pool_min, arg);
		p->host = mempool_create_kmalloc_pool(pool_min, arg);
		break;
	case POOL_PAGES:
		p->rk = rkmem_mempool_create_page_pool(pool_min, arg);
		p->host = mempool_create_page_pool(pool_min, arg);
		break;
	case POOL_CUSTOM:
		p->rk = rkmem_mempool_create(pool_min, bench_backing_alloc, bench_backing_free,
					     &backing_ctx[0]);
		p->host = mempool_create(pool_min, bench_backing_alloc, bench_backing_free,
					 &backing_ctx[1]);
		break;
	}
	if (p->rk && p->host)
		return 0;
	pr_err("error: creating the %s pools (arg %u, min_nr %u) failed (rkmem %s, host %s)\n",
	       backing_word[pool_specs[i].backing], arg, pool_min, p->rk ? "ok" : "NULL",
	       p->host ? "ok" : "NULL");
	errors++;
	destroy_pool(p);
	return -ENOMEM;
}

/* The job for pool_specs[i]: count pairs; size or order for the lines. */
static void pool_job(struct bench_job *job, unsigned int i)
{
	unsigned int arg = pool_specs[i].arg;

	job->kind = KIND_MEMPOOL;
	job->pool = &pools[i];
	job->count = scaled(pool_specs[i].count);
	job->size = pool_specs[i].backing == POOL_SLAB ? caches[arg].size :
		    pool_specs[i].backing == POOL_PAGES ? 0 : arg;
	job->order = pool_specs[i].backing == POOL_PAGES ? arg : 0;
}

/* Pairs through a full reserve: from the backing and back to it. */
static void bench_mempool(void)
{
	struct bench_job job = {};
	u64 rk, host, a, b;
	unsigned int i;
	char unit[16];

	for (i = 0; i < NR_POOLS; i++) {
		if (pool_specs[i].backing == POOL_CUSTOM || create_pool(i))
			continue;
		pool_job(&job, i);
		if (compare(&job, 1, &rk, &host))
			continue;
		if (pool_specs[i].backing == POOL_PAGES)
			snprintf(unit, sizeof(unit), "order=%u", job.order);
		else
			snprintf(unit, sizeof(unit), "size=%u", job.size);
		a = ns10(rk, job.count);
		b = ns10(host, job.count);
		pr_info("mempool backing=%s %s min_nr=%u count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu\n",
			backing_word[pool_specs[i].backing], unit, pool_min, job.count,
			a / 10, a % 10, b / 10, b % 10,
			milli(rk, host) / 1000, milli(rk, host) % 1000);
	}
}

/*
 * The callback pools: pairs through the backing, then (the backing failing)
 * from the reserve and back to it.
 */
static void bench_reserve(void)
{
	unsigned int i = NR_POOLS - 1, k;
	struct bench_job job = {};
	u64 rk, host, rkb, hostb, a, b, ab, bb, q, r;
	unsigned long allocs;
	int err;

	if (create_pool(i))
		return;
	pool_job(&job, i);
	if (compare(&job, 1, &rkb, &hostb))
		return;
	for (k = 0; k < ARRAY_SIZE(backing_ctx); k++) {
		backing_ctx[k].failed = 0;
		backing_ctx[k].fallbacks = 0;
		WRITE_ONCE(backing_ctx[k].fail, true);
	}
	err = compare(&job, 1, &rk, &host);
	for (k = 0; k < ARRAY_SIZE(backing_ctx); k++)
		WRITE_ONCE(backing_ctx[k].fail, false);
	if (err)
		return;
	/* Each allocation (warm-up round too) tried the backing once, and got NULL. */
	allocs = job.count * (rounds + 1);
	for (k = 0; k < ARRAY_SIZE(backing_ctx); k++) {
		if (backing_ctx[k].failed == allocs && !backing_ctx[k].fallbacks)
			continue;
		pr_err("error: reserve %s: %lu allocations tried the failing backing %lu times without reclaim, %lu with\n",
		       k ? "host" : "rkmem", allocs, backing_ctx[k].failed,
		       backing_ctx[k].fallbacks);
		errors++;
	}
	a = ns10(rk, job.count);
	b = ns10(host, job.count);
	ab = ns10(rkb, job.count);
	bb = ns10(hostb, job.count);
	q = milli(rk, rkb);
	r = milli(host, hostb);
	pr_info("reserve size=%u min_nr=%u count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu rkmem_backing_ns=%llu.%llu host_backing_ns=%llu.%llu backing_ratio=%llu.%03llu rkmem_per_backing=%llu.%03llu host_per_backing=%llu.%03llu\n",
		job.size, pool_min, job.count, a / 10, a % 10, b / 10, b % 10,
		milli(rk, host) / 1000, milli(rk, host) % 1000,
		ab / 10, ab % 10, bb / 10, bb % 10,
		milli(rkb, hostb) / 1000, milli(rkb, hostb) % 1000,
		q / 1000, q % 1000, r / 1000, r % 1000);
}

static void destroy_caches(void)
{
	struct bench_cache *c;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caches); i++) {
		c = &caches[i];
		while (c->nr_held)
			rkmem_cache_free(c->rk, c->held[--c->nr_held]);
		kvfree(c->held);
		c->held = NULL;
		rkmem_cache_destroy(c->rk);
		c->rk = NULL;
		kmem_cache_destroy(c->host);
		c->host = NULL;
	}
}

/* The same size, align (0: 8 bytes on both) and flags (none) on both sides. */
static int create_caches(void)
{
	struct bench_cache *c;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caches); i++) {
		c = &caches[i];
		snprintf(c->name, sizeof(c->name), "rkmem_bench_%u", c->size);
		c->rk = rkmem_cache_create(c->name, c->size, 0, 0, NULL);
		c->host = kmem_cache_create(c->name, c->size, 0, 0, NULL);
		if (!c->rk || !c->host) {
			pr_err("error: creating the %s caches failed (rkmem %s, host %s)\n", c->name,
			       c->rk ? "ok" : "NULL", c->host ? "ok" : "NULL");
			errors++;
			destroy_caches();
			return -ENOMEM;
		}
	}
	return 0;
}

/* `hold` objects of each rkmem cache, for tools/bench's metadata report. */
static void hold_objects(void)
{
	struct bench_cache *c;
	unsigned int i;
	void *obj;

	for (i = 0; i < ARRAY_SIZE(caches) && hold; i++) {
		c = &caches[i];
		c->held = kvmalloc_array(hold, sizeof(void *), GFP_KERNEL);
		if (!c->held) {
			pr_err("error: hold %s: %d\n", c->name, -ENOMEM);
			errors++;
			continue;
		}
		while (c->nr_held < hold) {
			obj = rkmem_cache_alloc(c->rk, GFP_KERNEL);
			if (!obj) {
				pr_err("error: hold %s: %d\n", c->name, -ENOMEM);
				errors++;
				break;
			}
			c->held[c->nr_held++] = obj;
		}
		pr_info("hold cache=%s objects=%u\n", c->name, c->nr_held);
	}
}

static int __init rkmem_bench_init(void)
{
	bool objects = want("cache") || want("bulk") || want("xcpu") || want("mempool");
	bool caches_made = false;
	unsigned int cpu;
	int err = 0;

	if (rounds < 1 || rounds > MAX_ROUNDS || batch < 1 || batch > MAX_BATCH || !scale ||
	    bulk < 1 || bulk > MAX_BULK || xbatch < 1 || xbatch > MAX_XBATCH || hold > MAX_HOLD ||
	    pool_min < 1 || pool_min > MAX_POOL_MIN) {
		pr_err("rounds must be 1-%d, batch 1-%d, bulk 1-%d, xbatch 1-%d, hold at most %d, pool_min 1-%d, scale > 0\n",
		       MAX_ROUNDS, MAX_BATCH, MAX_BULK, MAX_XBATCH, MAX_HOLD, MAX_POOL_MIN);
		return -EINVAL;
	}
	workers = kcalloc(nr_cpu_ids, sizeof(*workers), GFP_KERNEL);
	all_cpus = kcalloc(nr_cpu_ids, sizeof(*all_cpus), GFP_KERNEL);
	ring = kzalloc(sizeof(*ring), GFP_KERNEL);
	xfer = kzalloc(sizeof(*xfer), GFP_KERNEL);
	if (!workers || !all_cpus || !ring || !xfer) {
		err = -ENOMEM;
		goto out;
	}
	/* The VM does not hotplug CPUs while the bench runs. */
	nr_cpus = 0;
	for_each_online_cpu(cpu)
		all_cpus[nr_cpus++] = cpu;

	pr_info("start rounds=%u scale=%u batch=%u cpus=%u nodes=%u\n",
		rounds, scale, batch, nr_cpus, num_online_nodes());
	if (want("single"))
		bench_single();
	if (want("batch"))
		bench_batch();
	if (nr_cpus < 2 && (want("scaling") || want("remote") || want("xcpu")))
		pr_info("skip scaling, remote and xcpu: one CPU online\n");
	if (nr_cpus >= 2 && want("scaling"))
		bench_scaling();
	if (nr_cpus >= 2 && want("remote"))
		bench_remote();
	if (objects)
		caches_made = !create_caches();
	if (caches_made && want("cache"))
		bench_cache();
	if (caches_made && want("bulk"))
		bench_bulk();
	if (want("kmalloc"))
		bench_kmalloc();
	if (caches_made && nr_cpus >= 2 && want("xcpu"))
		bench_xcpu();
	if (caches_made && want("mempool"))
		bench_mempool();
	if (want("reserve"))
		bench_reserve();
	if (caches_made)
		hold_objects();
	pr_info("done errors=%d\n", errors);
out:
	kfree(xfer);
	kfree(ring);
	kfree(all_cpus);
	kfree(workers);
	return err;
}

static void __exit rkmem_bench_exit(void)
{
	destroy_pools();	/* the slab pools' elements first */
	destroy_caches();
}

module_init(rkmem_bench_init);
module_exit(rkmem_bench_exit);
MODULE_DESCRIPTION("rkmem's page allocator, object caches and mempools against the host's, through the C API");
MODULE_LICENSE("GPL");
