// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem_bench: rkmem's page allocator against the host's, through the calls
 * a client makes: rkmem_alloc_pages()/rkmem_free_pages() against
 * alloc_pages_node()/__free_pages(), same gfp (GFP_KERNEL), same node (the
 * CPU's own), same loops. insmod runs every case and logs one line per
 * result, which tools/bench turns into a table; rmmod unloads it.
 *
 * Every case runs in kthreads bound to CPUs, started together by a spinning
 * barrier, and timed with ktime_get_ns() around one whole batch. A case is
 * one untimed warm-up round, then `rounds` rounds of one measurement per
 * variant (rkmem, host; for scaling also 1 CPU, all CPUs) in an order that
 * flips every round; the lines report medians. Cases:
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
 *
 * Result lines (ns with one decimal, ratio = rkmem / host with three):
 *   rkmem_bench: start rounds=R scale=S batch=K cpus=C nodes=N
 *   rkmem_bench: single order=O count=N rkmem_ns=X host_ns=Y ratio=Z
 *   rkmem_bench: batch order=O size=K count=N rkmem_ns=X host_ns=Y ratio=Z
 *   rkmem_bench: scaling order=O cpus=C count=N rkmem_1cpu_ns=A host_1cpu_ns=B
 *                rkmem_ns=X host_ns=Y ratio=Z rkmem_scaling=S host_scaling=T
 *   rkmem_bench: remote order=0 count=N rkmem_ns=X host_ns=Y ratio=Z
 *   rkmem_bench: done errors=E
 * (a scaling line is one line). A failed allocation ends that order of that
 * case with "rkmem_bench: error: ..." (every page is freed) and the bench
 * goes on; done counts them. insmod fails only on bad parameters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/gfp.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
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

static char *cases = "single,batch,scaling,remote";
module_param(cases, charp, 0444);
MODULE_PARM_DESC(cases, "comma-separated subset of single,batch,scaling,remote");

enum bench_kind { KIND_PAIRS, KIND_BATCH, KIND_REMOTE };
static const char * const kind_name[] = { "pairs", "batch", "remote" };

/* The remote case's ring: head written by the producer, tail by the consumer. */
struct bench_ring {
	unsigned int head ____cacheline_aligned_in_smp;
	bool done;
	unsigned int tail ____cacheline_aligned_in_smp;
	struct page *slot[RING_SIZE] ____cacheline_aligned_in_smp;
};

struct bench_job {
	bool rk;
	enum bench_kind kind;
	unsigned int order;
	unsigned long count;	/* pairs, batches or pages per worker */
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
	int err;
};

static struct bench_worker *workers;	/* nr_cpu_ids of them */
static struct bench_ring *ring;
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

static __always_inline int run_kind(bool rk, struct bench_worker *w, struct page **pages)
{
	const struct bench_job *job = w->job;
	int nid = cpu_to_node(w->cpu);

	switch (job->kind) {
	case KIND_PAIRS:
		return run_pairs(rk, job, nid);
	case KIND_BATCH:
		return run_batch(rk, job, nid, pages);
	case KIND_REMOTE:
		return w->index == 0 ? run_produce(rk, job, nid) : run_consume(rk);
	}
	return -EINVAL;
}

/* The two allocators get the very same code, each with direct calls. */
static noinline int run_rkmem(struct bench_worker *w, struct page **pages)
{
	return run_kind(true, w, pages);
}

static noinline int run_host(struct bench_worker *w, struct page **pages)
{
	return run_kind(false, w, pages);
}

static int bench_thread(void *arg)
{
	struct bench_worker *w = arg;
	struct bench_job *job = w->job;
	struct page **pages = NULL;

	if (job->kind == KIND_BATCH) {
		pages = kmalloc_array(batch, sizeof(*pages), GFP_KERNEL);
		if (!pages)
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
		w->err = job->rk ? run_rkmem(w, pages) : run_host(w, pages);
	w->end = ktime_get_ns();
	kfree(pages);
	kthread_complete_and_exit(&w->done, 0);
}

/*
 * One timed job on cpus[0..nr-1]; *span: ns from the first worker's start to
 * the last worker's end.
 */
static int measure(bool rk, enum bench_kind kind, unsigned int order, unsigned long count,
		   const unsigned int *cpus, unsigned int nr, u64 *span)
{
	struct bench_job job = {
		.rk = rk, .kind = kind, .order = order, .count = count, .nr = nr,
	};
	u64 first = U64_MAX, last = 0;
	struct bench_worker *w;
	unsigned int i;
	int err = 0;

	atomic_set(&job.arrived, 0);
	if (kind == KIND_REMOTE) {
		ring->head = 0;
		ring->tail = 0;
		ring->done = false;
	}
	for (i = 0; i < nr; i++) {
		w = &workers[i];
		w->job = &job;
		w->cpu = cpus[i];
		w->index = i;
		w->err = 0;
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
	*span = last - first;
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

static bool want(const char *name)
{
	return strstr(cases, name);
}

/* One side of a comparison: which allocator, on how many CPUs. */
struct variant {
	bool rk;
	unsigned int nr;
};

/*
 * Interleaved rounds of one kind of job, one measurement per variant per
 * round, in order on even rounds and in reverse on odd ones (round -1 is the
 * untimed warm-up); the medians of the spans go to med[].
 */
static int compare_variants(enum bench_kind kind, unsigned int order, unsigned long count,
			    const struct variant *v, unsigned int nv, u64 *med)
{
	/* init runs one comparison at a time */
	static u64 spans[4][MAX_ROUNDS];
	unsigned int i, k;
	int r, err;
	u64 t;

	if (WARN_ON(nv > ARRAY_SIZE(spans)))
		return -EINVAL;

	for (r = -1; r < (int)rounds; r++) {
		for (i = 0; i < nv; i++) {
			k = r % 2 ? nv - 1 - i : i;
			err = measure(v[k].rk, kind, order, count, all_cpus, v[k].nr, &t);
			if (err) {
				pr_err("error: %s order=%u cpus=%u %s: %d\n", kind_name[kind], order,
				       v[k].nr, v[k].rk ? "rkmem" : "host", err);
				errors++;
				return err;
			}
			if (r >= 0)
				spans[k][r] = t;
			cond_resched();
		}
	}
	for (k = 0; k < nv; k++)
		med[k] = median(spans[k]);
	return 0;
}

/* rkmem and the host on the first nr online CPUs: medians to *rk and *host. */
static int compare(enum bench_kind kind, unsigned int order, unsigned long count,
		   unsigned int nr, u64 *rk, u64 *host)
{
	const struct variant v[] = { { true, nr }, { false, nr } };
	u64 med[2] = {};
	int err;

	err = compare_variants(kind, order, count, v, 2, med);
	*rk = med[0];
	*host = med[1];
	return err;
}

static void bench_single(void)
{
	static const struct { unsigned int order; unsigned long count; } specs[] = {
		{ 0, 50000 }, { 1, 50000 }, { 2, 50000 }, { 3, 50000 }, { 9, 2000 }, { 10, 1000 },
	};
	unsigned long count;
	u64 rk, host, a, b;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(specs); i++) {
		if (specs[i].order > MAX_PAGE_ORDER)
			continue;
		count = scaled(specs[i].count);
		if (compare(KIND_PAIRS, specs[i].order, count, 1, &rk, &host))
			continue;
		a = ns10(rk, count);
		b = ns10(host, count);
		pr_info("single order=%u count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu\n",
			specs[i].order, count, a / 10, a % 10, b / 10, b % 10,
			milli(rk, host) / 1000, milli(rk, host) % 1000);
	}
}

static void bench_batch(void)
{
	static const unsigned long pages[] = { 51200, 51200, 51200, 51200 };
	unsigned long count, units;
	u64 rk, host, a, b;
	unsigned int order;

	for (order = 0; order < ARRAY_SIZE(pages); order++) {
		count = max(scaled(pages[order]) / batch, 1UL);
		units = count * batch;
		if (compare(KIND_BATCH, order, count, 1, &rk, &host))
			continue;
		a = ns10(rk, units);
		b = ns10(host, units);
		pr_info("batch order=%u size=%u count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu\n",
			order, batch, count, a / 10, a % 10, b / 10, b % 10,
			milli(rk, host) / 1000, milli(rk, host) % 1000);
	}
}

static void bench_scaling(void)
{
	static const struct { unsigned int order; unsigned long count; } specs[] = {
		{ 0, 50000 }, { 3, 50000 },
	};
	const struct variant v[] = {
		{ true, 1 }, { false, 1 }, { true, nr_cpus }, { false, nr_cpus },
	};
	u64 rk1, host1, rkn, hostn, a1, b1, a, b, rs, hs, med[4];
	unsigned long count;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(specs); i++) {
		count = scaled(specs[i].count);
		if (compare_variants(KIND_PAIRS, specs[i].order, count, v, 4, med))
			continue;
		rk1 = med[0];
		host1 = med[1];
		rkn = med[2];
		hostn = med[3];
		a1 = ns10(rk1, count);
		b1 = ns10(host1, count);
		a = ns10(rkn, count * nr_cpus);
		b = ns10(hostn, count * nr_cpus);
		/* (pairs/s on nr CPUs) / (pairs/s on one) = nr * span1 / span_nr */
		rs = milli(rk1 * nr_cpus, rkn);
		hs = milli(host1 * nr_cpus, hostn);
		pr_info("scaling order=%u cpus=%u count=%lu rkmem_1cpu_ns=%llu.%llu host_1cpu_ns=%llu.%llu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu rkmem_scaling=%llu.%03llu host_scaling=%llu.%03llu\n",
			specs[i].order, nr_cpus, count, a1 / 10, a1 % 10, b1 / 10, b1 % 10,
			a / 10, a % 10, b / 10, b % 10,
			milli(rkn, hostn) / 1000, milli(rkn, hostn) % 1000,
			rs / 1000, rs % 1000, hs / 1000, hs % 1000);
	}
}

static void bench_remote(void)
{
	unsigned long count = scaled(50000);
	u64 rk, host, a, b;

	if (compare(KIND_REMOTE, 0, count, 2, &rk, &host))
		return;
	a = ns10(rk, count);
	b = ns10(host, count);
	pr_info("remote order=0 count=%lu rkmem_ns=%llu.%llu host_ns=%llu.%llu ratio=%llu.%03llu\n",
		count, a / 10, a % 10, b / 10, b % 10,
		milli(rk, host) / 1000, milli(rk, host) % 1000);
}

static int __init rkmem_bench_init(void)
{
	unsigned int cpu;
	int err = 0;

	if (rounds < 1 || rounds > MAX_ROUNDS || batch < 1 || batch > MAX_BATCH || !scale) {
		pr_err("rounds must be 1-%d, batch 1-%d, scale > 0\n", MAX_ROUNDS, MAX_BATCH);
		return -EINVAL;
	}
	workers = kcalloc(nr_cpu_ids, sizeof(*workers), GFP_KERNEL);
	all_cpus = kcalloc(nr_cpu_ids, sizeof(*all_cpus), GFP_KERNEL);
	ring = kzalloc(sizeof(*ring), GFP_KERNEL);
	if (!workers || !all_cpus || !ring) {
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
	if (nr_cpus < 2 && (want("scaling") || want("remote")))
		pr_info("skip scaling and remote: one CPU online\n");
	if (nr_cpus >= 2 && want("scaling"))
		bench_scaling();
	if (nr_cpus >= 2 && want("remote"))
		bench_remote();
	pr_info("done errors=%d\n", errors);
out:
	kfree(ring);
	kfree(all_cpus);
	kfree(workers);
	return err;
}

static void __exit rkmem_bench_exit(void)
{
}

module_init(rkmem_bench_init);
module_exit(rkmem_bench_exit);
MODULE_DESCRIPTION("rkmem's page allocator against the host's, through the C API");
MODULE_LICENSE("GPL");
