// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem_mempool_client: a module that uses rkmem's mempools (rkmem.h) the
 * way a real client would. Every check it fails is logged as
 * "rkmem_mempool_client: check failed: ..."; init ends with
 * "rkmem_mempool_client: N checks failed" and returns 0 whatever N is,
 * -EINVAL for a bad parameter. Without parameters it runs every basic check
 * (semantics, pools); with some, only those:
 *
 * semantics=1       the semantics of mm/mempool.c on a custom backing the
 *                   client controls (the host's kmalloc, failing on command,
 *                   every call counted): create preallocates min_nr, fails
 *                   cleanly when the backing fails; alloc goes to the backing
 *                   first, then the reserve; exactly min_nr allocations with
 *                   the backing failing, then NULL without direct reclaim;
 *                   a GFP_KERNEL alloc sleeps until a free, which it gets;
 *                   frees refill the reserve first; alloc_preallocated;
 *                   resize up, down and while elements are out (the backing's
 *                   outstanding elements are always the reserve plus what the
 *                   client holds); destroy, destroy with elements out (warns,
 *                   their frees still work), destroy(NULL); bad arguments;
 * pools=1           slab, kmalloc (100 and 20000 bytes) and page (orders 0
 *                   and 2) pools: elements distinct, writable, of the right
 *                   kind, in any context;
 * mempoolstress=N   per CPU a kthread doing N random allocs and frees
 *                   (GFP_KERNEL, GFP_NOWAIT, GFP_ATOMIC with interrupts off)
 *                   on four pools at once (slab, kmalloc, pages, and a custom
 *                   backing that fails at random and in storms, so the
 *                   reserve and the waits are used), stamping every element
 *                   (checked at free: an element given twice breaks a stamp)
 *                   and handing a quarter to the other CPU's kthread to free;
 *                   a hard-irq hrtimer per CPU allocating GFP_ATOMIC and
 *                   freeing; the main thread resizing the pools meanwhile.
 *                   mempoolstress_secs bounds it;
 * leakpool=1        destroys a kmalloc pool with 10 elements out (rkmem
 *                   warns); they are freed to it at the client's unload.
 */
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/hash.h>
#include <linux/hrtimer.h>
#include <linux/irqflags.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "rkmem.h"
#include "rkmem_stress.h"

static int do_semantics;
module_param_named(semantics, do_semantics, int, 0444);
MODULE_PARM_DESC(semantics, "mempool semantics on a custom backing");

static int do_pools;
module_param_named(pools, do_pools, int, 0444);
MODULE_PARM_DESC(pools, "slab, kmalloc and page pools");

static int mempoolstress;
module_param(mempoolstress, int, 0444);
MODULE_PARM_DESC(mempoolstress, "random pool allocs/frees per CPU with hard-irq timers, remote frees and resizes");

static int mempoolstress_secs = 30;
module_param(mempoolstress_secs, int, 0444);
MODULE_PARM_DESC(mempoolstress_secs, "mempoolstress: stop the kthreads after this many seconds");

static int irq_period_us = 50;
module_param(irq_period_us, int, 0444);
MODULE_PARM_DESC(irq_period_us, "mempoolstress: shortest timer period (us)");

static int leakpool;
module_param(leakpool, int, 0444);
MODULE_PARM_DESC(leakpool, "destroy a pool with 10 elements out");

/* ---- reporting ---- */

#define MAX_REPORTS 40

static int failures;

static __printf(2, 3) void expectf(bool ok, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	if (ok)
		return;
	if (++failures > MAX_REPORTS) {
		if (failures == MAX_REPORTS + 1)
			pr_err("rkmem_mempool_client: more failed checks not shown\n");
		return;
	}
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_err("rkmem_mempool_client: check failed: %pV\n", &vaf);
	va_end(args);
}

static void expect(bool ok, const char *what)
{
	expectf(ok, "%s", what);
}

/* ---- a custom backing: the host's kmalloc, failing on command ---- */

#define CB_TRACK 64

struct cbacking {
	atomic_t calls;		/* alloc_fn calls */
	atomic_t allocs;	/* elements it gave */
	atomic_t frees;		/* free_fn calls */
	atomic_t outstanding;	/* elements given and not freed */
	atomic_t bad;		/* frees of something it did not give */
	atomic_t left;		/* successes left before it fails */
	bool fail;		/* every call fails */
	unsigned int fail_pct;	/* this share of calls fails at random */
	size_t size;
	bool track;		/* remember the live elements (basic checks) */
	spinlock_t lock;
	void *live[CB_TRACK];
};

/* An element of a custom backing. */
struct celem {
	u32 magic;
	u32 state;
	u64 tag;
	u8 data[];
};

#define CE_MAGIC 0x6d706f6cU
enum { CE_FRESH = 1, CE_HELD, CE_RETURNED };

static void cb_init(struct cbacking *cb, size_t size, bool track)
{
	memset(cb, 0, sizeof(*cb));
	atomic_set(&cb->left, INT_MAX);
	cb->size = size;
	cb->track = track;
	spin_lock_init(&cb->lock);
}

/* Adds (@add) or removes @e in the table of live elements. */
static bool cb_track(struct cbacking *cb, void *e, bool add)
{
	unsigned long flags;
	bool found = false;
	unsigned int i;

	spin_lock_irqsave(&cb->lock, flags);
	for (i = 0; i < CB_TRACK; i++) {
		if (cb->live[i] == (add ? NULL : e)) {
			cb->live[i] = add ? e : NULL;
			found = true;
			break;
		}
	}
	spin_unlock_irqrestore(&cb->lock, flags);
	return found;
}

static bool cb_live(struct cbacking *cb, void *e)
{
	unsigned long flags;
	bool found = false;
	unsigned int i;

	spin_lock_irqsave(&cb->lock, flags);
	for (i = 0; i < CB_TRACK; i++)
		found |= cb->live[i] == e;
	spin_unlock_irqrestore(&cb->lock, flags);
	return found;
}

static void *cb_alloc(gfp_t gfp, void *data)
{
	struct cbacking *cb = data;
	unsigned int n = atomic_inc_return(&cb->calls);
	struct celem *e;

	if (READ_ONCE(cb->fail) || atomic_dec_if_positive(&cb->left) < 0)
		return NULL;
	if (cb->fail_pct && hash_32(n, 16) % 100 < cb->fail_pct)
		return NULL;
	e = kmalloc(cb->size, gfp);
	if (!e)
		return NULL;
	e->magic = CE_MAGIC;
	e->state = CE_FRESH;
	if (cb->track && !cb_track(cb, e, true))
		atomic_inc(&cb->bad);
	atomic_inc(&cb->allocs);
	atomic_inc(&cb->outstanding);
	return e;
}

static void cb_free(void *element, void *data)
{
	struct cbacking *cb = data;
	struct celem *e = element;

	if (!e || e->magic != CE_MAGIC || (cb->track && !cb_track(cb, e, false))) {
		/* Not ours, or freed twice: leave it alone. */
		atomic_inc(&cb->bad);
		return;
	}
	e->magic = 0;
	atomic_inc(&cb->frees);
	atomic_dec(&cb->outstanding);
	kfree(e);
}

/* ---- semantics on a custom backing ---- */

#define SEM_MIN 5
#define SEM_HOLD 32
#define SEM_SIZE 64

static struct cbacking sem_cb;

struct sem_state {
	struct rkmem_mempool *pool;
	struct cbacking *cb;
	void *held[SEM_HOLD];
	unsigned int n;
};

/*
 * One rkmem_mempool_alloc() into the held set; @from_backing says whether
 * the backing gave it (it counts its elements). NULL if the pool gave none.
 */
static void *sem_get(struct sem_state *st, gfp_t gfp, bool *from_backing)
{
	int a0 = atomic_read(&st->cb->allocs);
	struct celem *e;

	e = rkmem_mempool_alloc(st->pool, gfp);
	if (from_backing)
		*from_backing = atomic_read(&st->cb->allocs) != a0;
	if (!e)
		return NULL;
	expectf(e->magic == CE_MAGIC && cb_live(st->cb, e),
		"semantics: alloc returned %p, not a live element of the backing", e);
	expectf(e->state != CE_HELD, "semantics: alloc returned an element the client holds");
	e->state = CE_HELD;
	if (st->n < SEM_HOLD)
		st->held[st->n++] = e;
	else
		expect(false, "semantics: held table full");
	return e;
}

/* rkmem_mempool_free() of the last held element; true if it went to the backing. */
static bool sem_put(struct sem_state *st)
{
	int f0 = atomic_read(&st->cb->frees);
	struct celem *e;

	if (!st->n)
		return false;
	e = st->held[--st->n];
	e->state = CE_RETURNED;
	rkmem_mempool_free(e, st->pool);
	return atomic_read(&st->cb->frees) != f0;
}

/* The backing's elements are the reserve (@reserve) plus the held ones. */
static void sem_balance(struct sem_state *st, int reserve, const char *when)
{
	int out = atomic_read(&st->cb->outstanding);

	expectf(out == reserve + (int)st->n,
		"semantics: %s: the backing has %d elements out, want reserve %d + held %u", when,
		out, reserve, st->n);
}

/*
 * The elements in the reserve, counted by taking them all with the backing
 * failing (GFP_ATOMIC until NULL) and freeing them back, which refills the
 * reserve (its size is at most min_nr).
 */
static int sem_reserve(struct sem_state *st)
{
	bool fail = READ_ONCE(st->cb->fail);
	unsigned int n0 = st->n;
	int got = 0;

	WRITE_ONCE(st->cb->fail, true);
	while (st->n < SEM_HOLD && sem_get(st, GFP_ATOMIC, NULL))
		got++;
	while (st->n > n0)
		expect(!sem_put(st), "semantics: a free below min_nr went to the backing");
	WRITE_ONCE(st->cb->fail, fail);
	return got;
}

struct waiter {
	struct rkmem_mempool *pool;
	void *got;
	struct completion done;
};

static int waiter_fn(void *arg)
{
	struct waiter *w = arg;

	w->got = rkmem_mempool_alloc(w->pool, GFP_KERNEL);
	kthread_complete_and_exit(&w->done, 0);
}

/*
 * With the reserve empty and the backing failing, a GFP_KERNEL alloc in
 * another thread sleeps; a free wakes it and it gets the freed element.
 */
static void sem_sleeping_alloc(struct sem_state *st)
{
	struct task_struct *t;
	struct waiter w = { .pool = st->pool };
	struct celem *e;
	unsigned long left;
	int f0, i;

	init_completion(&w.done);
	t = kthread_create(waiter_fn, &w, "rkmem_mpwait");
	if (IS_ERR(t)) {
		expect(false, "semantics: waiter kthread");
		return;
	}
	get_task_struct(t);
	wake_up_process(t);
	/* Until it sleeps in the pool (bounded), then 1 s more. */
	for (i = 0; i < 100 && !completion_done(&w.done); i++) {
		if (READ_ONCE(t->__state) & TASK_UNINTERRUPTIBLE)
			break;
		msleep(100);
	}
	expect(READ_ONCE(t->__state) & TASK_UNINTERRUPTIBLE,
	       "semantics: the GFP_KERNEL alloc sleeps (uninterruptible) within 10 s");
	left = wait_for_completion_timeout(&w.done, HZ);
	expectf(!left, "semantics: a GFP_KERNEL alloc with the reserve empty and the backing failing returned %p instead of sleeping",
		w.got);
	if (!left && st->n) {
		e = st->held[st->n - 1];
		f0 = atomic_read(&st->cb->frees);
		expect(!sem_put(st), "semantics: a free with the reserve empty went to the backing");
		left = wait_for_completion_timeout(&w.done, 4 * HZ);
		expect(left, "semantics: a free woke the sleeping alloc (within 4 s)");
		if (!left) {
			/* Its retry of the backing, every 5 s, ends it. */
			WRITE_ONCE(st->cb->fail, false);
			wait_for_completion(&w.done);
			WRITE_ONCE(st->cb->fail, true);
		}
		expectf(w.got == e, "semantics: the woken alloc got %p, not the freed element %p",
			w.got, e);
		expect(atomic_read(&st->cb->frees) == f0, "semantics: the backing freed something");
	} else {
		WRITE_ONCE(st->cb->fail, false);
		wait_for_completion(&w.done);
		WRITE_ONCE(st->cb->fail, true);
	}
	put_task_struct(t);
	if (w.got) {
		((struct celem *)w.got)->state = CE_HELD;
		st->held[st->n++] = w.got;
	}
}

static void run_semantics(void)
{
	struct cbacking *cb = &sem_cb;
	struct sem_state st = { .cb = cb };
	void *prefilled[SEM_MIN], *p;
	int c0, a0, f0, i, ret, got;
	bool from_backing;

	cb_init(cb, SEM_SIZE, true);

	/* Bad arguments: refused, the backing untouched. */
	expect(!rkmem_mempool_create_node(-1, cb_alloc, cb_free, cb, GFP_KERNEL, NUMA_NO_NODE),
	       "semantics: min_nr -1 refused");
	expect(!rkmem_mempool_create_node(SEM_MIN, cb_alloc, cb_free, cb, GFP_KERNEL,
					  MAX_NUMNODES),
	       "semantics: a node that does not exist refused");
	expectf(atomic_read(&cb->calls) == 0, "semantics: refused creates called the backing %d times",
		atomic_read(&cb->calls));
	rkmem_mempool_destroy(NULL);

	/* The backing fails during the prefill: NULL, nothing kept. */
	atomic_set(&cb->left, 3);
	st.pool = rkmem_mempool_create(SEM_MIN, cb_alloc, cb_free, cb);
	expect(!st.pool, "semantics: create fails when the backing gives 3 of 5 elements");
	if (st.pool)
		rkmem_mempool_destroy(st.pool);
	expectf(atomic_read(&cb->allocs) == 3 && atomic_read(&cb->outstanding) == 0 &&
		atomic_read(&cb->frees) == 3,
		"semantics: failed create: backing gave %d, freed %d, %d still out (want 3, 3, 0)",
		atomic_read(&cb->allocs), atomic_read(&cb->frees),
		atomic_read(&cb->outstanding));
	atomic_set(&cb->left, INT_MAX);

	/* create: exactly min_nr elements from the backing. */
	c0 = atomic_read(&cb->calls);
	a0 = atomic_read(&cb->allocs);
	st.pool = rkmem_mempool_create(SEM_MIN, cb_alloc, cb_free, cb);
	expect(st.pool, "semantics: create");
	if (!st.pool)
		return;
	expectf(atomic_read(&cb->calls) - c0 == SEM_MIN && atomic_read(&cb->allocs) - a0 == SEM_MIN,
		"semantics: create called the backing %d times (%d elements), want %d",
		atomic_read(&cb->calls) - c0, atomic_read(&cb->allocs) - a0, SEM_MIN);
	sem_balance(&st, SEM_MIN, "after create");
	got = 0;
	for (i = 0; i < CB_TRACK && got < SEM_MIN; i++)
		if (cb->live[i])
			prefilled[got++] = cb->live[i];

	/* resize to 0 or below: refused, nothing changed. */
	c0 = atomic_read(&cb->calls);
	f0 = atomic_read(&cb->frees);
	expect(rkmem_mempool_resize(st.pool, 0) == -EINVAL, "semantics: resize to 0 is -EINVAL");
	expect(rkmem_mempool_resize(st.pool, -3) == -EINVAL, "semantics: resize to -3 is -EINVAL");
	expect(atomic_read(&cb->calls) == c0 && atomic_read(&cb->frees) == f0,
	       "semantics: a refused resize touched the backing");

	/* The backing working: alloc goes to it first, the reserve stays. */
	for (i = 0; i < 3; i++) {
		p = sem_get(&st, i ? GFP_KERNEL : GFP_ATOMIC, &from_backing);
		expectf(p && from_backing, "semantics: alloc %d with the backing working: %s", i,
			p ? "from the reserve" : "NULL");
		expect(!p || (p != prefilled[0] && p != prefilled[SEM_MIN - 1]),
		       "semantics: a backing alloc returned a reserve element");
	}
	sem_balance(&st, SEM_MIN, "3 allocs from the backing");
	c0 = atomic_read(&cb->calls);
	p = rkmem_mempool_alloc_preallocated(st.pool);
	expect(p && atomic_read(&cb->calls) == c0,
	       "semantics: alloc_preallocated takes from the reserve without the backing");
	if (p) {
		for (i = 0; i < SEM_MIN && p != prefilled[i]; i++)
			;
		expect(i < SEM_MIN, "semantics: alloc_preallocated gave a prefilled element");
		((struct celem *)p)->state = CE_HELD;
		st.held[st.n++] = p;
		sem_balance(&st, SEM_MIN - 1, "after alloc_preallocated");
		expect(!sem_put(&st), "semantics: a free below min_nr went to the backing");
	}
	for (i = 0; i < 3; i++)
		expect(sem_put(&st), "semantics: a free with the reserve full went to the reserve");
	sem_balance(&st, SEM_MIN, "after the frees");

	/* The backing failing: exactly min_nr allocations, then NULL. */
	WRITE_ONCE(cb->fail, true);
	for (i = 0; i < SEM_MIN; i++) {
		c0 = atomic_read(&cb->calls);
		p = sem_get(&st, i & 1 ? GFP_ATOMIC : GFP_KERNEL, &from_backing);
		expectf(p && !from_backing, "semantics: reserve alloc %d (%s) with the backing failing: %s",
			i, i & 1 ? "GFP_ATOMIC" : "GFP_KERNEL", p ? "from the backing" : "NULL");
		expectf(atomic_read(&cb->calls) > c0,
			"semantics: reserve alloc %d did not try the backing first", i);
	}
	sem_balance(&st, 0, "min_nr allocs from the reserve");
	p = rkmem_mempool_alloc(st.pool, GFP_ATOMIC);
	expectf(!p, "semantics: GFP_ATOMIC with the reserve empty and the backing failing gave %p", p);
	p = rkmem_mempool_alloc(st.pool, GFP_NOWAIT);
	expectf(!p, "semantics: GFP_NOWAIT with the reserve empty and the backing failing gave %p", p);
	p = rkmem_mempool_alloc_preallocated(st.pool);
	expectf(!p, "semantics: alloc_preallocated with the reserve empty gave %p", p);

	/* A GFP_KERNEL alloc sleeps until a free. */
	sem_sleeping_alloc(&st);
	sem_balance(&st, 0, "after the sleeping alloc");

	/* The backing working again: frees refill the reserve first. */
	WRITE_ONCE(cb->fail, false);
	expectf(st.n == SEM_MIN, "semantics: %u elements held, want %d", st.n, SEM_MIN);
	for (i = 0; st.n; i++)
		expectf(!sem_put(&st), "semantics: free %d (reserve below min_nr) went to the backing",
			i);
	sem_balance(&st, SEM_MIN, "reserve refilled");
	p = sem_get(&st, GFP_KERNEL, &from_backing);
	expect(p && from_backing, "semantics: with the reserve full, alloc from the backing");
	expect(sem_put(&st), "semantics: with the reserve full a free goes to the backing");

	/* resize up: the backing gives the new ones; down: extras freed. */
	a0 = atomic_read(&cb->allocs);
	ret = rkmem_mempool_resize(st.pool, SEM_MIN + 3);
	expectf(!ret && atomic_read(&cb->allocs) - a0 == 3,
		"semantics: resize %d -> %d: %d, %d new elements from the backing", SEM_MIN,
		SEM_MIN + 3, ret, atomic_read(&cb->allocs) - a0);
	sem_balance(&st, SEM_MIN + 3, "resize up");
	got = sem_reserve(&st);
	expectf(got == SEM_MIN + 3, "semantics: after resize up the reserve serves %d, want %d", got,
		SEM_MIN + 3);
	f0 = atomic_read(&cb->frees);
	ret = rkmem_mempool_resize(st.pool, SEM_MIN - 2);
	expectf(!ret && atomic_read(&cb->frees) - f0 == 5,
		"semantics: resize %d -> %d: %d, %d elements freed to the backing", SEM_MIN + 3,
		SEM_MIN - 2, ret, atomic_read(&cb->frees) - f0);
	sem_balance(&st, SEM_MIN - 2, "resize down");
	got = sem_reserve(&st);
	expectf(got == SEM_MIN - 2, "semantics: after resize down the reserve serves %d, want %d",
		got, SEM_MIN - 2);

	/* resize while elements are out: none is lost. */
	WRITE_ONCE(cb->fail, true);
	sem_get(&st, GFP_ATOMIC, NULL);
	sem_get(&st, GFP_ATOMIC, NULL);
	sem_balance(&st, 1, "2 taken (min_nr 3)");
	WRITE_ONCE(cb->fail, false);
	a0 = atomic_read(&cb->allocs);
	ret = rkmem_mempool_resize(st.pool, 6);
	expectf(!ret && atomic_read(&cb->allocs) - a0 == 5,
		"semantics: resize 3 -> 6 with 2 out and 1 in reserve: %d, %d new elements (want 5)",
		ret, atomic_read(&cb->allocs) - a0);
	sem_balance(&st, 6, "resize up with 2 out");
	WRITE_ONCE(cb->fail, true);
	for (i = 0; i < 6; i++)
		expect(sem_get(&st, GFP_ATOMIC, NULL), "semantics: reserve alloc after resize up");
	sem_balance(&st, 0, "8 out");
	f0 = atomic_read(&cb->frees);
	ret = rkmem_mempool_resize(st.pool, 2);
	expectf(!ret && atomic_read(&cb->frees) == f0,
		"semantics: resize 6 -> 2 with the reserve empty: %d, %d freed", ret,
		atomic_read(&cb->frees) - f0);
	sem_balance(&st, 0, "resize down with 8 out");
	/* Grow with the backing failing: a shortfall, refilled by frees. */
	ret = rkmem_mempool_resize(st.pool, 4);
	expectf(!ret || ret == -ENOMEM, "semantics: resize 2 -> 4 with the backing failing: %d", ret);
	sem_balance(&st, 0, "resize up with the backing failing");
	WRITE_ONCE(cb->fail, false);
	for (i = 0; i < 8; i++)
		expectf(sem_put(&st) == (i >= 4),
			"semantics: free %d of 8 (min_nr 4, reserve %d): wrong destination", i,
			min(i, 4));
	sem_balance(&st, 4, "8 freed");
	ret = rkmem_mempool_resize(st.pool, 2);
	expect(!ret, "semantics: resize 4 -> 2");
	sem_balance(&st, 2, "resize down to 2");
	got = sem_reserve(&st);
	expectf(got == 2, "semantics: the reserve serves %d, want 2", got);

	/* destroy: the reserve back to the backing. */
	f0 = atomic_read(&cb->frees);
	rkmem_mempool_destroy(st.pool);
	expectf(atomic_read(&cb->frees) - f0 == 2 && atomic_read(&cb->outstanding) == 0,
		"semantics: destroy freed %d elements, %d still out (want 2, 0)",
		atomic_read(&cb->frees) - f0, atomic_read(&cb->outstanding));

	/* destroy with 3 elements out: warned, kept, their frees still work. */
	st.pool = rkmem_mempool_create(2, cb_alloc, cb_free, cb);
	expect(st.pool, "semantics: create a pool to destroy with elements out");
	if (st.pool) {
		for (i = 0; i < 3; i++)
			expect(sem_get(&st, GFP_KERNEL, NULL), "semantics: alloc");
		rkmem_mempool_destroy(st.pool);
		sem_balance(&st, 0, "destroyed with 3 out");
		pr_info("rkmem_mempool_client: semantics: destroyed a pool with %u elements out\n",
			st.n);
		while (st.n)
			sem_put(&st);
		expectf(atomic_read(&cb->outstanding) == 0,
			"semantics: frees after destroy: %d elements not back in the backing",
			atomic_read(&cb->outstanding));
	}
	expectf(atomic_read(&cb->bad) == 0, "semantics: %d bad frees to the backing",
		atomic_read(&cb->bad));
	pr_info("rkmem_mempool_client: semantics: backing called %d times, gave %d, freed %d, %d out\n",
		atomic_read(&cb->calls), atomic_read(&cb->allocs), atomic_read(&cb->frees),
		atomic_read(&cb->outstanding));
}

/* ---- slab, kmalloc and page pools ---- */

#define POOL_MIN 4
#define POOL_ELEMS 24

/*
 * POOL_ELEMS elements of @pool at once: each valid (a page of order
 * @order, or a kmalloc object of at least @size bytes if @kmalloc),
 * stamped, all stamps intact afterwards (distinct and writable); then
 * GFP_ATOMIC with interrupts off.
 */
static void check_pool(struct rkmem_mempool *pool, const char *what, size_t size, int order,
		       bool kmalloc)
{
	size_t len = order >= 0 ? PAGE_SIZE << order : size;
	unsigned int i, missing = 0, broken = 0, bad = 0;
	void *p[POOL_ELEMS], *addr;
	struct page *page;
	unsigned long flags;

	for (i = 0; i < POOL_ELEMS; i++) {
		p[i] = rkmem_mempool_alloc(pool, i % 3 ? GFP_KERNEL : GFP_ATOMIC);
		if (!p[i]) {
			missing++;
			continue;
		}
		if (order >= 0) {
			page = p[i];
			if (!IS_ALIGNED(page_to_pfn(page), 1UL << order) || page_ref_count(page) != 1)
				bad++;
			addr = page_address(page);
		} else {
			addr = p[i];
			if (kmalloc && rkmem_ksize(addr) < size)
				bad++;
		}
		stamp(addr, len, 0x6d70000000000000ULL | ((u64)len << 16) | i);
	}
	for (i = 0; i < POOL_ELEMS; i++) {
		if (!p[i])
			continue;
		addr = order >= 0 ? page_address((struct page *)p[i]) : p[i];
		if (!stamp_intact(addr, len, 0x6d70000000000000ULL | ((u64)len << 16) | i))
			broken++;
	}
	for (i = 0; i < POOL_ELEMS; i++)
		rkmem_mempool_free(p[i], pool);
	expectf(!missing, "%s: %u of %u allocations failed", what, missing, POOL_ELEMS);
	expectf(!broken, "%s: %u of %u elements overlap another", what, broken, POOL_ELEMS);
	expectf(!bad, "%s: %u elements of the wrong kind (order, alignment, count, ksize)", what,
		bad);

	local_irq_save(flags);
	for (i = 0; i < POOL_MIN + 2; i++) {
		p[i] = rkmem_mempool_alloc(pool, GFP_ATOMIC);
		if (p[i]) {
			addr = order >= 0 ? page_address((struct page *)p[i]) : p[i];
			memset(addr, 0x5a, min_t(size_t, len, 64));
		}
	}
	for (i = 0; i < POOL_MIN + 2; i++)
		rkmem_mempool_free(p[i], pool);
	local_irq_restore(flags);
	for (i = 0, missing = 0; i < POOL_MIN + 2; i++)
		missing += !p[i];
	expectf(!missing, "%s: %u GFP_ATOMIC allocations with interrupts off failed", what,
		missing);
	pr_info("rkmem_mempool_client: pools: %s: %u elements, all distinct\n", what, POOL_ELEMS);
}

static void run_pools(void)
{
	static const size_t ksizes[] = { 100, 20000 };
	static const unsigned int orders[] = { 0, 2 };
	struct rkmem_mempool *pool;
	struct rkmem_cache *s;
	char what[32];
	unsigned int i;

	s = rkmem_cache_create("mempoolclient-200", 200, 0, 0, NULL);
	expect(s, "pools: create cache mempoolclient-200");
	if (s) {
		pool = rkmem_mempool_create_slab_pool(POOL_MIN, s);
		expect(pool, "pools: create_slab_pool");
		if (pool) {
			check_pool(pool, "slab pool", 200, -1, false);
			rkmem_mempool_destroy(pool);
		}
		rkmem_cache_destroy(s);
	}
	for (i = 0; i < ARRAY_SIZE(ksizes); i++) {
		snprintf(what, sizeof(what), "kmalloc pool of %zu", ksizes[i]);
		pool = rkmem_mempool_create_kmalloc_pool(POOL_MIN, ksizes[i]);
		expectf(pool, "pools: create_kmalloc_pool(%zu)", ksizes[i]);
		if (pool) {
			check_pool(pool, what, ksizes[i], -1, true);
			rkmem_mempool_destroy(pool);
		}
	}
	for (i = 0; i < ARRAY_SIZE(orders); i++) {
		snprintf(what, sizeof(what), "page pool of order %u", orders[i]);
		pool = rkmem_mempool_create_page_pool(POOL_MIN, orders[i]);
		expectf(pool, "pools: create_page_pool(%u)", orders[i]);
		if (pool) {
			check_pool(pool, what, 0, orders[i], false);
			rkmem_mempool_destroy(pool);
		}
	}
	pool = rkmem_mempool_create_kmalloc_pool(-1, 64);
	expect(!pool, "pools: create_kmalloc_pool with min_nr -1 refused");
	rkmem_mempool_destroy(pool);
}

/* ---- mempoolstress ---- */

#define MS_SLOTS 24
#define MS_OBJ 128
#define MS_KMALLOC 256
#define MS_ORDER 1
#define MS_CUSTOM 112
#define MS_CHECK 64	/* bytes stamped at each end of a page chunk */

enum { MK_SLAB, MK_KMALLOC, MK_PAGES, MK_CUSTOM, MK_KINDS };

static const int ms_min[MK_KINDS] = { 16, 16, 8, 8 };

static struct rkmem_mempool *ms_pool[MK_KINDS];
static struct rkmem_cache *ms_cache;
static struct cbacking ms_cb;
static struct rkmem_stress ms;
static atomic_t ms_allocs, ms_broken, ms_nulls, ms_kernel_nulls, ms_reserve, ms_waits;
static atomic_t ms_badelem, ms_running;

/* The area of an element stamps cover (a page chunk: both ends). */
static void *melem_area(const struct rkmem_stress_elem *m, size_t *len)
{
	switch (m->kind) {
	case MK_SLAB:
		*len = MS_OBJ;
		return m->p;
	case MK_KMALLOC:
		*len = MS_KMALLOC;
		return m->p;
	case MK_PAGES:
		*len = PAGE_SIZE << MS_ORDER;
		return page_address((struct page *)m->p);
	default:
		*len = MS_CUSTOM - sizeof(struct celem);
		return ((struct celem *)m->p)->data;
	}
}

static void melem_stamp(struct rkmem_stress_elem *m)
{
	size_t len;
	u8 *a = melem_area(m, &len);

	if (m->kind == MK_PAGES) {
		stamp(a, MS_CHECK, m->tag);
		stamp(a + len - MS_CHECK, MS_CHECK, ~m->tag);
	} else {
		stamp(a, len, m->tag);
	}
}

static bool melem_intact(const struct rkmem_stress_elem *m)
{
	size_t len;
	const u8 *a = melem_area(m, &len);

	if (m->kind == MK_PAGES)
		return stamp_intact(a, MS_CHECK, m->tag) &&
		       stamp_intact(a + len - MS_CHECK, MS_CHECK, ~m->tag);
	return stamp_intact(a, len, m->tag);
}

static bool melem_alloc(struct rkmem_stress_elem *m, unsigned int kind, gfp_t gfp, u64 tag)
{
	struct celem *e;
	struct page *page;

	m->p = rkmem_mempool_alloc(ms_pool[kind], gfp);
	if (!m->p) {
		atomic_inc(&ms_nulls);
		if (gfp & __GFP_DIRECT_RECLAIM)
			atomic_inc(&ms_kernel_nulls);
		return false;
	}
	m->kind = kind;
	m->tag = tag;
	if (kind == MK_PAGES) {
		page = m->p;
		if (!IS_ALIGNED(page_to_pfn(page), 1UL << MS_ORDER) || page_ref_count(page) != 1)
			atomic_inc(&ms_badelem);
	} else if (kind == MK_CUSTOM) {
		e = m->p;
		if (e->magic != CE_MAGIC || e->state == CE_HELD)
			atomic_inc(&ms_badelem);
		if (e->state == CE_RETURNED)
			atomic_inc(&ms_reserve);
		e->state = CE_HELD;
	}
	melem_stamp(m);
	return true;
}

static void melem_free(struct rkmem_stress_elem *m)
{
	if (!melem_intact(m))
		atomic_inc(&ms_broken);
	if (m->kind == MK_CUSTOM)
		((struct celem *)m->p)->state = CE_RETURNED;
	rkmem_mempool_free(m->p, ms_pool[m->kind]);
	m->p = NULL;
}

static bool ms_irq_alloc(struct rkmem_stress_elem *m, u32 *rnd, u64 tag)
{
	return melem_alloc(m, xorshift(rnd) % MK_KINDS, GFP_ATOMIC, tag);
}

static void ms_alloc(struct rkmem_stress_elem *m, u32 *rnd, unsigned long cpu, int i)
{
	u64 tag = (1ULL << 56) | ((u64)cpu << 40) | ((u64)i << 4);
	unsigned long flags, nvcsw;
	unsigned int kind;
	u32 r;

	r = xorshift(rnd);
	kind = r % MK_KINDS;
	switch ((r >> 8) % 4) {
	case 0:
		/* Interrupts off, the timer waits for the end. */
		local_irq_save(flags);
		if (melem_alloc(m, kind, GFP_ATOMIC, tag))
			atomic_inc(&ms_allocs);
		local_irq_restore(flags);
		break;
	case 1:
		if (melem_alloc(m, kind, GFP_NOWAIT, tag))
			atomic_inc(&ms_allocs);
		break;
	default:
		/* A sleep in it is a wait for a free (or its timeout). */
		nvcsw = current->nvcsw;
		if (melem_alloc(m, kind, GFP_KERNEL, tag))
			atomic_inc(&ms_allocs);
		if (kind == MK_CUSTOM && current->nvcsw != nvcsw)
			atomic_inc(&ms_waits);
		break;
	}
}

static const struct rkmem_stress_ops ms_ops = {
	.thread_seed = 0x9e3779b9u,
	.nr_slots = MS_SLOTS,
	.irq_alloc = ms_irq_alloc,
	.alloc = ms_alloc,
	.free = melem_free,
};

static int mempoolstress_fn(void *arg)
{
	struct cpu_thread *ct = arg;

	rkmem_stress_thread(&ms, ct->cpu, mempoolstress, mempoolstress_secs);
	atomic_dec(&ms_running);
	kthread_complete_and_exit(&ct->done, 0);
}

/*
 * An element taken and given back: with the reserve below min_nr (and the
 * backing giving) the free refills it and wakes a sleeper.
 */
static void ms_kick(unsigned int kind)
{
	struct rkmem_stress_elem m;

	if (melem_alloc(&m, kind, GFP_NOWAIT, 0x4b00000000000000ULL))
		melem_free(&m);
}

static void run_mempoolstress(void)
{
	unsigned long start = jiffies, deadline = start + mempoolstress_secs * HZ;
	unsigned int n = 0, kind, resizes = 0, storms = 0, iter = 0;
	struct rkmem_stress_totals t;
	struct cpu_thread *threads;
	bool storm = false, table;
	u32 rnd = 0x2545f491u;
	int ret, bad_resizes = 0;

	cb_init(&ms_cb, MS_CUSTOM, false);
	ms_cb.fail_pct = 30;
	ms_cache = rkmem_cache_create("mempoolstress-128", MS_OBJ, 0, 0, NULL);
	if (ms_cache)
		ms_pool[MK_SLAB] = rkmem_mempool_create_slab_pool(ms_min[MK_SLAB], ms_cache);
	ms_pool[MK_KMALLOC] = rkmem_mempool_create_kmalloc_pool(ms_min[MK_KMALLOC], MS_KMALLOC);
	ms_pool[MK_PAGES] = rkmem_mempool_create_page_pool(ms_min[MK_PAGES], MS_ORDER);
	/* The prefill may meet random failures: without them for it. */
	ms_cb.fail_pct = 0;
	ms_pool[MK_CUSTOM] = rkmem_mempool_create(ms_min[MK_CUSTOM], cb_alloc, cb_free, &ms_cb);
	ms_cb.fail_pct = 30;
	table = rkmem_stress_init(&ms, &ms_ops, irq_period_us);
	threads = kcalloc(nr_cpu_ids, sizeof(*threads), GFP_KERNEL);
	expect(ms_cache && ms_pool[MK_SLAB] && ms_pool[MK_KMALLOC] && ms_pool[MK_PAGES] &&
	       ms_pool[MK_CUSTOM] && table && threads,
	       "mempoolstress: a cache, four pools and the tables");
	if (!ms_cache || !ms_pool[MK_SLAB] || !ms_pool[MK_KMALLOC] || !ms_pool[MK_PAGES] ||
	    !ms_pool[MK_CUSTOM] || !table || !threads)
		goto out;
	atomic_set(&ms_allocs, 0);
	atomic_set(&ms_broken, 0);
	atomic_set(&ms_nulls, 0);
	atomic_set(&ms_kernel_nulls, 0);
	atomic_set(&ms_reserve, 0);
	atomic_set(&ms_waits, 0);
	atomic_set(&ms_badelem, 0);
	atomic_set(&ms_running, 0);

	n = start_per_cpu(threads, mempoolstress_fn, "rkmem_mpstress/%u", &ms_running, expect,
			  "mempoolstress: per-CPU kthread");

	/*
	 * Meanwhile: storms (the custom backing fails every call) a quarter of
	 * the time, resizes of every pool, and after a storm elements taken and
	 * given back, which wake the sleepers on a refilled reserve.
	 */
	while (atomic_read(&ms_running)) {
		iter++;
		storm = time_before(jiffies, deadline) && iter % 8 >= 6;
		if (storm && !READ_ONCE(ms_cb.fail))
			storms++;
		WRITE_ONCE(ms_cb.fail, storm);
		kind = xorshift(&rnd) % MK_KINDS;
		if (time_before(jiffies, deadline)) {
			ret = rkmem_mempool_resize(ms_pool[kind],
						   1 + xorshift(&rnd) % (2 * ms_min[kind]));
			resizes++;
			if (ret && ret != -ENOMEM)
				bad_resizes++;
		}
		if (!storm)
			for (kind = 0; kind < MK_KINDS; kind++)
				ms_kick(kind);
		msleep(20);
	}
	WRITE_ONCE(ms_cb.fail, false);
	wait_per_cpu(threads);

	/* Elements handed to a kthread that had already finished. */
	rkmem_stress_collect(&ms, &t);
	t.allocs += atomic_read(&ms_allocs);
	pr_info("rkmem_mempool_client: mempoolstress: %lu allocations on %u CPUs, %lu in hard irq, %d reserve allocs, %d waits, %d broken stamps\n",
		t.allocs, n, t.irq_allocs, atomic_read(&ms_reserve), atomic_read(&ms_waits),
		atomic_read(&ms_broken));
	pr_info("rkmem_mempool_client: mempoolstress: %lu timer ticks, %lu frees on another CPU, %d NULLs, %u resizes, %u storms, %u ms\n",
		t.ticks, t.remote, atomic_read(&ms_nulls), resizes, storms,
		jiffies_to_msecs(jiffies - start));
	expect(atomic_read(&ms_broken) == 0, "mempoolstress: no element had two owners");
	expectf(atomic_read(&ms_badelem) == 0, "mempoolstress: %d elements of the wrong kind",
		atomic_read(&ms_badelem));
	expectf(atomic_read(&ms_kernel_nulls) == 0, "mempoolstress: %d GFP_KERNEL allocs returned NULL",
		atomic_read(&ms_kernel_nulls));
	expect(t.irq_allocs > 0, "mempoolstress: allocations in hard irq");
	expect(atomic_read(&ms_reserve) > 0, "mempoolstress: allocations from the reserve");
	expect(atomic_read(&ms_waits) > 0, "mempoolstress: sleeping allocations");
	expect(n < 2 || t.remote > 0, "mempoolstress: frees on another CPU");
	expectf(!bad_resizes, "mempoolstress: %d resizes failed other than -ENOMEM", bad_resizes);
out:
	for (kind = 0; kind < MK_KINDS; kind++) {
		rkmem_mempool_destroy(ms_pool[kind]);
		ms_pool[kind] = NULL;
	}
	rkmem_cache_destroy(ms_cache);
	ms_cache = NULL;
	expectf(atomic_read(&ms_cb.outstanding) == 0 && atomic_read(&ms_cb.bad) == 0,
		"mempoolstress: the custom backing has %d elements out, %d bad frees",
		atomic_read(&ms_cb.outstanding), atomic_read(&ms_cb.bad));
	kfree(threads);
	rkmem_stress_exit(&ms);
}

/* ---- destroy with elements out ---- */

#define LEAK_ELEMS 10

static struct rkmem_mempool *leak_pool;
static void *leak_elems[LEAK_ELEMS];

static void run_leakpool(void)
{
	unsigned int i, got = 0;

	leak_pool = rkmem_mempool_create_kmalloc_pool(POOL_MIN, 64);
	expect(leak_pool, "leakpool: create_kmalloc_pool");
	if (!leak_pool)
		return;
	for (i = 0; i < LEAK_ELEMS; i++) {
		leak_elems[i] = rkmem_mempool_alloc(leak_pool, GFP_KERNEL);
		if (leak_elems[i]) {
			memset(leak_elems[i], 0x1e, 64);
			got++;
		}
	}
	rkmem_mempool_destroy(leak_pool);
	pr_info("rkmem_mempool_client: leakpool: destroyed a pool with %u elements out\n", got);
	expect(got == LEAK_ELEMS, "leakpool: 10 allocations");
}

static int __init rkmem_mempool_client_init(void)
{
	bool basic;

	if (mempoolstress < 0 || mempoolstress_secs <= 0 || irq_period_us <= 0)
		return -EINVAL;
	basic = !(do_semantics || do_pools || mempoolstress || leakpool);

	if (basic || do_semantics)
		run_semantics();
	if (basic || do_pools)
		run_pools();
	if (mempoolstress > 0)
		run_mempoolstress();
	if (leakpool)
		run_leakpool();

	pr_info("rkmem_mempool_client: %d checks failed\n", failures);
	return 0;
}

static void __exit rkmem_mempool_client_exit(void)
{
	unsigned int i;

	if (!leak_pool)
		return;
	for (i = 0; i < LEAK_ELEMS; i++)
		rkmem_mempool_free(leak_elems[i], leak_pool);
	pr_info("rkmem_mempool_client: leakpool: freed the elements of the destroyed pool\n");
}

module_init(rkmem_mempool_client_init);
module_exit(rkmem_mempool_client_exit);
MODULE_DESCRIPTION("A client of rkmem's mempools, for its selftests");
MODULE_LICENSE("GPL");
