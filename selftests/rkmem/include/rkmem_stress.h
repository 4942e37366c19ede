/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stress machinery the three selftest clients share: per-CPU kthreads,
 * a hard-irq hrtimer per CPU that allocates and frees, an inbox per CPU for
 * frees on another CPU, and stamps checked at free. What an element is and
 * how it is allocated, stamped and freed is the client's, through
 * struct rkmem_stress_ops; the summary lines stay in the clients.
 */
#ifndef _RKMEM_STRESS_H
#define _RKMEM_STRESS_H

#include <linux/compiler.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/kthread.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/types.h>

static inline u32 xorshift(u32 *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/* A node: any online node, or NUMA_NO_NODE. */
static inline int pick_node(u32 *rnd)
{
	int nid = xorshift(rnd) % (nr_node_ids + 1);

	return nid < nr_node_ids && node_online(nid) ? nid : NUMA_NO_NODE;
}

/* ---- stamps: a tag over a whole area; two owners break it ---- */

static inline void stamp(void *p, size_t size, u64 tag)
{
	u8 *b = p;
	size_t i;

	for (i = 0; i + 8 <= size; i += 8)
		*(u64 *)(b + i) = tag ^ i;
	for (; i < size; i++)
		b[i] = (u8)(tag >> (8 * (i & 7)));
}

static inline bool stamp_intact(const void *p, size_t size, u64 tag)
{
	const u8 *b = p;
	size_t i;

	for (i = 0; i + 8 <= size; i += 8)
		if (*(const u64 *)(b + i) != (tag ^ i))
			return false;
	for (; i < size; i++)
		if (b[i] != (u8)(tag >> (8 * (i & 7))))
			return false;
	return true;
}

/* ---- one kthread per online CPU ---- */

struct cpu_thread {
	struct completion done;
	unsigned int cpu;
	bool started;
};

/*
 * Starts @fn in a kthread bound to each online CPU of @threads (nr_cpu_ids
 * entries), all at once; @running (if any) counts each one started. @fn gets
 * its struct cpu_thread and must end with kthread_complete_and_exit(&ct->done,
 * 0) (no return into module text after the wait is over). Returns the number
 * of threads started.
 */
static inline unsigned int start_per_cpu(struct cpu_thread *threads, int (*fn)(void *),
					 const char *name, atomic_t *running,
					 void (*expect)(bool ok, const char *what),
					 const char *what)
{
	struct task_struct *t;
	unsigned int cpu, n = 0;

	for_each_online_cpu(cpu) {
		init_completion(&threads[cpu].done);
		threads[cpu].cpu = cpu;
		t = kthread_create_on_cpu(fn, &threads[cpu], cpu, name);
		if (IS_ERR(t)) {
			expect(false, what);
			continue;
		}
		threads[cpu].started = true;
		if (running)
			atomic_inc(running);
		wake_up_process(t);
		n++;
	}
	return n;
}

static inline void wait_per_cpu(struct cpu_thread *threads)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		if (threads[cpu].started)
			wait_for_completion(&threads[cpu].done);
}

/*
 * Runs @fn in a kthread bound to each online CPU, all at once, and waits for
 * all of them (see start_per_cpu). Returns the number of threads that ran.
 */
static inline unsigned int run_per_cpu(int (*fn)(void *), const char *name,
				       void (*expect)(bool ok, const char *what))
{
	struct cpu_thread *threads;
	unsigned int n;

	threads = kcalloc(nr_cpu_ids, sizeof(*threads), GFP_KERNEL);
	expect(threads != NULL, "per-CPU thread table");
	if (!threads)
		return 0;
	n = start_per_cpu(threads, fn, name, NULL, expect, "per-CPU kthread");
	wait_per_cpu(threads);
	kfree(threads);
	return n;
}

/* ---- stress elements, per-CPU timers and inboxes ---- */

#define RKMEM_STRESS_MAX_SLOTS 32
#define RKMEM_STRESS_RING 8
#define RKMEM_STRESS_INBOX 16

/* A stamped element: a page chunk (page, order) or an object (p, size). */
struct rkmem_stress_elem {
	union {
		void *p;
		struct page *page;
	};
	u64 tag;
	union {
		u32 size;
		u32 order;
	};
	u8 kind;
};

struct rkmem_stress_ops {
	/* Seed of each kthread's random numbers (times cpu + 1). */
	u32 thread_seed;
	/* Elements each kthread keeps, at most RKMEM_STRESS_MAX_SLOTS. */
	unsigned int nr_slots;
	/* One allocation into @e in the timer (hard irq), stamped with @tag. */
	bool (*irq_alloc)(struct rkmem_stress_elem *e, u32 *rnd, u64 tag);
	/* One allocation into @e by the kthread of @cpu, in its round @i. */
	void (*alloc)(struct rkmem_stress_elem *e, u32 *rnd, unsigned long cpu, int i);
	/* Checks @e's stamp, frees it and sets e->p to NULL. */
	void (*free)(struct rkmem_stress_elem *e);
	/* If any: more work of the kthread of @cpu in its round @i. */
	void (*extra)(u32 *rnd, unsigned long cpu, int i);
};

struct rkmem_stress;

struct rkmem_stress_cpu {
	struct hrtimer timer;
	struct rkmem_stress *st;
	u32 rnd;
	u64 seq;
	/* Elements the timer keeps between ticks; only this CPU's timer and,
	 * once the timer is cancelled, this CPU's kthread touch them.
	 */
	struct rkmem_stress_elem ring[RKMEM_STRESS_RING];
	unsigned long allocs, irq_allocs, ticks;
	/* Elements other CPUs' kthreads hand to this CPU's kthread to free. */
	spinlock_t lock;
	struct rkmem_stress_elem inbox[RKMEM_STRESS_INBOX];
	unsigned int nr_inbox;
	unsigned long remote_frees;
};

struct rkmem_stress {
	const struct rkmem_stress_ops *ops;
	struct rkmem_stress_cpu *cpus;
	int period_us;
};

/* What the timers and inboxes of all CPUs did. */
struct rkmem_stress_totals {
	unsigned long allocs, irq_allocs, ticks, remote;
};

/* The per-CPU table; false if it cannot be had. */
static inline bool rkmem_stress_init(struct rkmem_stress *st, const struct rkmem_stress_ops *ops,
				     int period_us)
{
	unsigned int cpu;

	st->ops = ops;
	st->period_us = period_us;
	st->cpus = kcalloc(nr_cpu_ids, sizeof(*st->cpus), GFP_KERNEL);
	if (!st->cpus)
		return false;
	for_each_possible_cpu(cpu) {
		spin_lock_init(&st->cpus[cpu].lock);
		st->cpus[cpu].st = st;
		st->cpus[cpu].rnd = 0x27d4eb2fu * (cpu + 1);
	}
	return true;
}

static inline void rkmem_stress_exit(struct rkmem_stress *st)
{
	kfree(st->cpus);
	st->cpus = NULL;
}

static inline bool rkmem_stress_irq_alloc(struct rkmem_stress_cpu *sc, struct rkmem_stress_elem *e,
				    unsigned long cpu)
{
	u64 tag = (2ULL << 56) | ((u64)cpu << 40) | sc->seq++;

	if (!sc->st->ops->irq_alloc(e, &sc->rnd, tag))
		return false;
	sc->allocs++;
	if (in_hardirq())
		sc->irq_allocs++;
	return true;
}

static inline enum hrtimer_restart rkmem_stress_tick(struct hrtimer *timer)
{
	struct rkmem_stress_cpu *sc = container_of(timer, struct rkmem_stress_cpu, timer);
	const struct rkmem_stress_ops *ops = sc->st->ops;
	unsigned long cpu = sc - sc->st->cpus;
	ktime_t start = ktime_get(), end;
	struct rkmem_stress_elem now, *e;
	s64 gap;

	sc->ticks++;
	if (xorshift(&sc->rnd) & 1) {
		/* Allocated and freed in this callback. */
		if (rkmem_stress_irq_alloc(sc, &now, cpu))
			ops->free(&now);
	} else {
		/* Kept in the ring, freed by a later tick. */
		e = &sc->ring[xorshift(&sc->rnd) % RKMEM_STRESS_RING];
		if (e->p)
			ops->free(e);
		else
			rkmem_stress_irq_alloc(sc, e, cpu);
	}
	/*
	 * The next tick a full period after this one ended, and at least four
	 * times this tick's length: under emulation (TCG, ~100x slower) the
	 * timer must not starve the kthread.
	 */
	end = ktime_get();
	gap = max_t(s64, (s64)sc->st->period_us * NSEC_PER_USEC,
		    4 * ktime_to_ns(ktime_sub(end, start)));
	hrtimer_set_expires(timer, ktime_add_ns(end, gap));
	return HRTIMER_RESTART;
}

/* Gives @e to @cpu's kthread to free; false if its inbox is full. */
static inline bool rkmem_stress_hand_off(struct rkmem_stress *st, struct rkmem_stress_elem *e,
					 unsigned int cpu)
{
	struct rkmem_stress_cpu *dst = &st->cpus[cpu];
	bool ok = false;

	spin_lock(&dst->lock);
	if (dst->nr_inbox < RKMEM_STRESS_INBOX) {
		dst->inbox[dst->nr_inbox++] = *e;
		e->p = NULL;
		ok = true;
	}
	spin_unlock(&dst->lock);
	return ok;
}

/* Frees what other CPUs handed to @sc, on the current CPU. */
static noinline_for_stack void rkmem_stress_empty_inbox(struct rkmem_stress_cpu *sc)
{
	struct rkmem_stress_elem batch[RKMEM_STRESS_INBOX];
	unsigned int i, n;

	spin_lock(&sc->lock);
	n = sc->nr_inbox;
	memcpy(batch, sc->inbox, n * sizeof(batch[0]));
	sc->nr_inbox = 0;
	spin_unlock(&sc->lock);
	for (i = 0; i < n; i++)
		sc->st->ops->free(&batch[i]);
	sc->remote_frees += n;
}

/*
 * The body of the kthread of @cpu: its timer, @iters rounds (or @secs
 * seconds) of allocations and frees, some of them handed to the next CPU,
 * then everything it and its timer still hold freed. The caller ends the
 * kthread.
 */
static inline void rkmem_stress_thread(struct rkmem_stress *st, unsigned long cpu, int iters,
				       int secs)
{
	const struct rkmem_stress_ops *ops = st->ops;
	struct rkmem_stress_cpu *sc = &st->cpus[cpu];
	struct rkmem_stress_elem slots[RKMEM_STRESS_MAX_SLOTS] = {};
	unsigned long deadline = jiffies + secs * HZ;
	u32 rnd = ops->thread_seed * (cpu + 1);
	unsigned int other;
	int i, k;

	other = cpumask_next(cpu, cpu_online_mask);
	if (other >= nr_cpu_ids)
		other = cpumask_first(cpu_online_mask);

	/* Started from this bound kthread: pinned to this CPU. */
	hrtimer_init(&sc->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
	sc->timer.function = rkmem_stress_tick;
	hrtimer_start(&sc->timer, ns_to_ktime((u64)st->period_us * NSEC_PER_USEC),
		      HRTIMER_MODE_REL_PINNED_HARD);

	for (i = 0; i < iters && time_before(jiffies, deadline); i++) {
		struct rkmem_stress_elem *e = &slots[xorshift(&rnd) % ops->nr_slots];

		if (!e->p)
			ops->alloc(e, &rnd, cpu, i);
		else if (xorshift(&rnd) % 4 != 0 || !rkmem_stress_hand_off(st, e, other))
			ops->free(e);
		if (ops->extra)
			ops->extra(&rnd, cpu, i);
		if (i % 16 == 0)
			rkmem_stress_empty_inbox(sc);
		if (i % 64 == 0)
			cond_resched();
	}
	hrtimer_cancel(&sc->timer);
	for (k = 0; k < RKMEM_STRESS_RING; k++)
		if (sc->ring[k].p)
			ops->free(&sc->ring[k]);
	for (k = 0; k < ops->nr_slots; k++)
		if (slots[k].p)
			ops->free(&slots[k]);
	rkmem_stress_empty_inbox(sc);
}

/*
 * After the kthreads: frees what was handed to a kthread that had already
 * finished and adds up the timers' and inboxes' counts.
 */
static inline void rkmem_stress_collect(struct rkmem_stress *st, struct rkmem_stress_totals *t)
{
	unsigned int cpu;

	memset(t, 0, sizeof(*t));
	for_each_possible_cpu(cpu) {
		rkmem_stress_empty_inbox(&st->cpus[cpu]);
		t->allocs += st->cpus[cpu].allocs;
		t->irq_allocs += st->cpus[cpu].irq_allocs;
		t->ticks += st->cpus[cpu].ticks;
		t->remote += st->cpus[cpu].remote_frees;
	}
}

#endif /* _RKMEM_STRESS_H */
