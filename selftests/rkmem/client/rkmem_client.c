// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem_client: a module that uses rkmem's C API the way a real client
 * would. Its init checks placement (node and zone of every page, as the host
 * sees them), allocation with interrupts off, and that the pages are usable
 * memory; it fails to load (-EIO) if any check fails. With leak=1 it keeps
 * one allocation forever, to test rkmem's unload with live pages. With
 * stress=N one kthread per CPU does N random allocs and frees at once (mixed
 * orders, nodes, zones, some with interrupts off), tagging every page with
 * its owner: two owners of one page show up as a broken tag.
 */
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/gfp.h>
#include <linux/irqflags.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/string.h>

#include "rkmem.h"

static int leak;
module_param(leak, int, 0444);
MODULE_PARM_DESC(leak, "keep one order-3 allocation and never free it");

static int stress;
module_param(stress, int, 0444);
MODULE_PARM_DESC(stress, "random allocs/frees per CPU, all CPUs at once");

static int failures;

static void expect(bool ok, const char *what)
{
	if (!ok) {
		pr_err("rkmem_client: check failed: %s\n", what);
		failures++;
	}
}

/* Allocate, check node and zone, write the pages, free. */
static void check_alloc(int nid, gfp_t gfp, unsigned int order, int want_nid,
			enum zone_type want_zone, const char *what)
{
	struct page *page = rkmem_alloc_pages(nid, gfp, order);

	expect(page != NULL, what);
	if (!page)
		return;
	expect(want_nid < 0 || page_to_nid(page) == want_nid, what);
	expect(page_zonenum(page) == want_zone, what);
	memset(page_address(page), 0x5a, PAGE_SIZE << order);
	rkmem_free_pages(page, order);
}

/* ---- concurrent stress ---- */

#define STRESS_SLOTS 32

struct stress_slot {
	struct page *page;
	unsigned int order;
	u64 tag;
};

static atomic_t stress_errors = ATOMIC_INIT(0);
static atomic_t stress_allocs = ATOMIC_INIT(0);
static atomic_t stress_running;
static DECLARE_COMPLETION(stress_done);

static void stress_stamp(struct stress_slot *s)
{
	unsigned int i;

	for (i = 0; i < (1U << s->order); i++)
		*(u64 *)page_address(s->page + i) = s->tag;
}

static void stress_free(struct stress_slot *s)
{
	unsigned int i;

	for (i = 0; i < (1U << s->order); i++) {
		if (*(u64 *)page_address(s->page + i) != s->tag) {
			atomic_inc(&stress_errors);
			break;
		}
	}
	rkmem_free_pages(s->page, s->order);
	s->page = NULL;
}

static u32 xorshift(u32 *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static int stress_fn(void *arg)
{
	static const gfp_t gfps[] = { GFP_KERNEL, GFP_ATOMIC, GFP_KERNEL | GFP_DMA32,
				      GFP_HIGHUSER_MOVABLE, GFP_NOWAIT | __GFP_THISNODE };
	unsigned long cpu = (unsigned long)arg;
	struct stress_slot slots[STRESS_SLOTS] = {};
	u32 rnd = 0x9e3779b9u * (cpu + 1);
	unsigned long flags;
	int i, k;

	for (i = 0; i < stress; i++) {
		struct stress_slot *s = &slots[xorshift(&rnd) % STRESS_SLOTS];
		gfp_t gfp = gfps[xorshift(&rnd) % ARRAY_SIZE(gfps)];

		if (s->page) {
			stress_free(s);
		} else {
			s->order = xorshift(&rnd) % 5;
			s->tag = ((u64)cpu << 48) | i;
			if (!gfpflags_allow_blocking(gfp)) {
				local_irq_save(flags);
				s->page = rkmem_alloc_pages(xorshift(&rnd) % nr_node_ids, gfp, s->order);
				local_irq_restore(flags);
			} else {
				s->page = rkmem_alloc_pages(xorshift(&rnd) % nr_node_ids, gfp, s->order);
			}
			if (s->page) {
				stress_stamp(s);
				atomic_inc(&stress_allocs);
			}
		}
		if (i % 64 == 0)
			cond_resched();
	}
	for (k = 0; k < STRESS_SLOTS; k++)
		if (slots[k].page)
			stress_free(&slots[k]);
	if (atomic_dec_and_test(&stress_running))
		complete(&stress_done);
	return 0;
}

static void run_stress(void)
{
	struct task_struct *t;
	unsigned int cpu;

	atomic_set(&stress_running, num_online_cpus());
	for_each_online_cpu(cpu) {
		t = kthread_create(stress_fn, (void *)(unsigned long)cpu, "rkmem_stress/%u", cpu);
		if (IS_ERR(t)) {
			expect(false, "stress kthread");
			if (atomic_dec_and_test(&stress_running))
				complete(&stress_done);
			continue;
		}
		kthread_bind(t, cpu);
		wake_up_process(t);
	}
	wait_for_completion(&stress_done);
	pr_info("rkmem_client: stress: %d allocations on %u CPUs, %d broken tags\n",
		atomic_read(&stress_allocs), num_online_cpus(), atomic_read(&stress_errors));
	expect(atomic_read(&stress_errors) == 0, "no page had two owners");
	expect(atomic_read(&stress_allocs) > stress / 2, "most stress allocations succeeded");
}

static int __init rkmem_client_init(void)
{
	struct page *page;
	unsigned long flags;
	int nid;

	for_each_online_node(nid)
		check_alloc(nid, GFP_KERNEL | __GFP_THISNODE, 0, nid, ZONE_NORMAL,
			    "GFP_KERNEL|__GFP_THISNODE lands on its node, Normal");
	check_alloc(0, GFP_KERNEL | GFP_DMA32, 2, 0, ZONE_DMA32, "GFP_DMA32 order 2");
	check_alloc(0, GFP_KERNEL | GFP_DMA, 0, 0, ZONE_DMA, "GFP_DMA");
	check_alloc(1, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, 0, 1, ZONE_MOVABLE,
		    "GFP_HIGHUSER_MOVABLE lands in Movable");
	check_alloc(NUMA_NO_NODE, GFP_KERNEL, MAX_PAGE_ORDER, -1, ZONE_NORMAL,
		    "a whole block");

	/* Interrupts off: rkmem must neither sleep nor deadlock on its locks. */
	local_irq_save(flags);
	page = rkmem_alloc_pages(NUMA_NO_NODE, GFP_ATOMIC, 1);
	if (page)
		rkmem_free_pages(page, 1);
	local_irq_restore(flags);
	expect(page != NULL, "GFP_ATOMIC with interrupts off");

	if (leak)
		expect(rkmem_alloc_pages(0, GFP_KERNEL, 3) != NULL, "leaked allocation");
	if (stress > 0)
		run_stress();

	pr_info("rkmem_client: %d checks failed\n", failures);
	return failures ? -EIO : 0;
}

static void __exit rkmem_client_exit(void)
{
}

module_init(rkmem_client_init);
module_exit(rkmem_client_exit);
MODULE_DESCRIPTION("A client of rkmem's C API, for its selftests");
MODULE_LICENSE("GPL");
