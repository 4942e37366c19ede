// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem_client: a module that uses rkmem's C API the way a real client
 * would. Its init checks placement (node and zone of every page, as the host
 * sees them), allocation with interrupts off, and that the pages are usable
 * memory; it fails to load (-EIO) if any check fails. Parameters add more
 * checks, each run once at load:
 *
 * leak=1           keep one order-3 allocation forever (rkmem's unload with
 *                  live pages);
 * stress=N         one kthread per CPU does N random allocs and frees at once
 *                  (mixed orders, nodes, zones, some with interrupts off),
 *                  tagging every page with its owner: two owners of one page
 *                  show up as a broken tag;
 * semantics=1      alloc_pages_node semantics: __GFP_ZERO, reference counts,
 *                  __GFP_COMP, get_page() before a free, refused double
 *                  frees, invalid nodes, __GFP_THISNODE, __GFP_NOFAIL;
 * irqstress=N      like stress, plus a hard-irq hrtimer per CPU allocating and
 *                  freeing GFP_ATOMIC pages, and pages handed to another
 *                  CPU's kthread to be freed there;
 * nofs=1           order-10 GFP_NOFS allocations (growth) under a mutex that
 *                  lockdep knows is taken inside fs reclaim: a __GFP_FS host
 *                  allocation would be a circular dependency;
 * failburst=N      N order-10 GFP_KERNEL|__GFP_THISNODE allocations on node
 *                  failnode that must all fail (the script caps the arena);
 * failburst_nowarn=N  the same with __GFP_NOWARN;
 * nofail=N         N GFP_KERNEL|__GFP_NOFAIL|__GFP_THISNODE allocations on
 *                  node failnode (orders 0 and 1) that must all succeed;
 * capped_kernel=N  N GFP_KERNEL order-0 allocations on node 0, all held until
 *                  the end; reports in which zones they landed;
 * badnid=N         N allocations with invalid node ids, which must all fail;
 * badinput=N       N rounds of bad input, one call of each kind per round:
 *                  rkmem_free_pages of NULL (a no-op), of a host page, of a
 *                  tail page, with a wrong order, with an order above
 *                  MAX_PAGE_ORDER, a double free; rkmem_alloc_pages with an
 *                  invalid node, impossible zone modifiers, an order above
 *                  MAX_PAGE_ORDER; rkmem_kmalloc and rkmem_mempool_alloc with
 *                  impossible zone modifiers; rkmem_kfree and
 *                  rkmem_cache_free of a host kmalloc object. Before the
 *                  rounds one invalid node with __GFP_NOWARN. Every call must
 *                  be refused; the live chunks used must stay as they were.
 *
 * nofs, failburst*, nofail, capped_kernel, badnid and badinput skip the basic placement
 * checks: they need rkmem exactly as the script left it.
 */
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/gfp.h>
#include <linux/hrtimer.h>
#include <linux/irqflags.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "rkmem.h"
#include "rkmem_stress.h"

static int leak;
module_param(leak, int, 0444);
MODULE_PARM_DESC(leak, "keep one order-3 allocation and never free it");

static int stress;
module_param(stress, int, 0444);
MODULE_PARM_DESC(stress, "random allocs/frees per CPU, all CPUs at once");

static int semantics;
module_param(semantics, int, 0444);
MODULE_PARM_DESC(semantics, "check alloc_pages_node page semantics");

static int irqstress;
module_param(irqstress, int, 0444);
MODULE_PARM_DESC(irqstress, "like stress, plus hard-irq timers and remote frees");

static int irq_period_us = 50;
module_param(irq_period_us, int, 0444);
MODULE_PARM_DESC(irq_period_us, "irqstress: shortest timer period (us)");

static int irqstress_secs = 45;
module_param(irqstress_secs, int, 0444);
MODULE_PARM_DESC(irqstress_secs, "irqstress: stop the kthreads after this many seconds");

static int nofs;
module_param(nofs, int, 0444);
MODULE_PARM_DESC(nofs, "GFP_NOFS growth must not enter fs reclaim (lockdep)");

static int failburst;
module_param(failburst, int, 0444);
MODULE_PARM_DESC(failburst, "allocations on a capped node that must fail");

static int failburst_nowarn;
module_param(failburst_nowarn, int, 0444);
MODULE_PARM_DESC(failburst_nowarn, "the same with __GFP_NOWARN");

static int nofail;
module_param(nofail, int, 0444);
MODULE_PARM_DESC(nofail, "__GFP_NOFAIL|__GFP_THISNODE allocations that must succeed");

static int failnode = 1;
module_param(failnode, int, 0444);
MODULE_PARM_DESC(failnode, "node of failburst and nofail");

static int capped_kernel;
module_param(capped_kernel, int, 0444);
MODULE_PARM_DESC(capped_kernel, "GFP_KERNEL order-0 allocations on node 0, held until the end");

static int badnid;
module_param(badnid, int, 0444);
MODULE_PARM_DESC(badnid, "allocations with invalid node ids (999, -5, nr_node_ids)");

static int badinput;
module_param(badinput, int, 0444);
MODULE_PARM_DESC(badinput, "rounds of bad input of every kind, which must all be refused");

static int initcheck;
module_param(initcheck, int, 0444);
MODULE_PARM_DESC(initcheck, "init_on_free zeroes freed pages, init_on_alloc zeroes new ones");

static int failures;

static void expect(bool ok, const char *what)
{
	if (!ok) {
		pr_err("rkmem_client: check failed: %s\n", what);
		failures++;
	}
}

static size_t chunk_bytes(unsigned int order)
{
	return PAGE_SIZE << order;
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
	memset(page_address(page), 0x5a, chunk_bytes(order));
	rkmem_free_pages(page, order);
}

/* ---- tagged pages: two owners of one page show up as a broken tag ---- */

#define STRESS_SLOTS 32

static atomic_t stress_errors = ATOMIC_INIT(0);
static atomic_t stress_allocs = ATOMIC_INIT(0);

static void stress_stamp(struct rkmem_stress_elem *s)
{
	unsigned int i;

	for (i = 0; i < (1U << s->order); i++)
		*(u64 *)page_address(s->page + i) = s->tag;
}

static void stress_free(struct rkmem_stress_elem *s)
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

static const gfp_t stress_gfps[] = { GFP_KERNEL, GFP_ATOMIC, GFP_KERNEL | GFP_DMA32,
				     GFP_HIGHUSER_MOVABLE, GFP_NOWAIT | __GFP_THISNODE };

/*
 * One random allocation into @s (orders 0..4, any node and zone). With
 * @irqs_off_always every non-blocking one runs with interrupts off, else only
 * one in four (so hard-irq timers also hit rkmem in the middle of a call).
 */
static void stress_alloc(struct rkmem_stress_elem *s, u32 *rnd, u64 tag, bool irqs_off_always)
{
	gfp_t gfp = stress_gfps[xorshift(rnd) % ARRAY_SIZE(stress_gfps)];
	int nid = xorshift(rnd) % nr_node_ids;
	unsigned long flags;

	s->order = xorshift(rnd) % 5;
	s->tag = tag;
	if (!gfpflags_allow_blocking(gfp) && (irqs_off_always || xorshift(rnd) % 4 == 0)) {
		local_irq_save(flags);
		s->page = rkmem_alloc_pages(nid, gfp, s->order);
		local_irq_restore(flags);
	} else {
		s->page = rkmem_alloc_pages(nid, gfp, s->order);
	}
	if (s->page) {
		stress_stamp(s);
		atomic_inc(&stress_allocs);
	}
}

/* ---- concurrent stress ---- */

static int stress_fn(void *arg)
{
	struct cpu_thread *ct = arg;
	unsigned long cpu = ct->cpu;
	struct rkmem_stress_elem slots[STRESS_SLOTS] = {};
	u32 rnd = 0x9e3779b9u * (cpu + 1);
	int i, k;

	for (i = 0; i < stress; i++) {
		struct rkmem_stress_elem *s = &slots[xorshift(&rnd) % STRESS_SLOTS];

		if (s->page)
			stress_free(s);
		else
			stress_alloc(s, &rnd, ((u64)cpu << 48) | i, true);
		if (i % 64 == 0)
			cond_resched();
	}
	for (k = 0; k < STRESS_SLOTS; k++)
		if (slots[k].page)
			stress_free(&slots[k]);
	kthread_complete_and_exit(&ct->done, 0);
}

static void run_stress(void)
{
	atomic_set(&stress_errors, 0);
	atomic_set(&stress_allocs, 0);
	run_per_cpu(stress_fn, "rkmem_stress/%u", expect);
	pr_info("rkmem_client: stress: %d allocations on %u CPUs, %d broken tags\n",
		atomic_read(&stress_allocs), num_online_cpus(), atomic_read(&stress_errors));
	expect(atomic_read(&stress_errors) == 0, "no page had two owners");
	expect(atomic_read(&stress_allocs) > stress / 2, "most stress allocations succeeded");
}

/* ---- stress with hard-irq timers and remote frees ---- */

static struct rkmem_stress irqstress_st;

static bool irq_alloc(struct rkmem_stress_elem *s, u32 *rnd, u64 tag)
{
	s->order = xorshift(rnd) % 4;
	s->tag = tag;
	s->page = rkmem_alloc_pages(pick_node(rnd), GFP_ATOMIC | __GFP_NOWARN, s->order);
	if (!s->page)
		return false;
	stress_stamp(s);
	return true;
}

static void irqstress_alloc(struct rkmem_stress_elem *s, u32 *rnd, unsigned long cpu, int i)
{
	stress_alloc(s, rnd, (1ULL << 56) | ((u64)cpu << 40) | i, false);
}

static const struct rkmem_stress_ops irqstress_ops = {
	.thread_seed = 0x85ebca6bu,
	.nr_slots = STRESS_SLOTS,
	.irq_alloc = irq_alloc,
	.alloc = irqstress_alloc,
	.free = stress_free,
};

static int irqstress_fn(void *arg)
{
	struct cpu_thread *ct = arg;

	rkmem_stress_thread(&irqstress_st, ct->cpu, irqstress, irqstress_secs);
	kthread_complete_and_exit(&ct->done, 0);
}

static void run_irqstress(void)
{
	unsigned long start = jiffies;
	struct rkmem_stress_totals t;
	unsigned int n;

	expect(rkmem_stress_init(&irqstress_st, &irqstress_ops, irq_period_us), "irqstress table");
	if (!irqstress_st.cpus)
		return;
	atomic_set(&stress_errors, 0);
	atomic_set(&stress_allocs, 0);

	n = run_per_cpu(irqstress_fn, "rkmem_irqstress/%u", expect);

	/* Pages handed to a kthread that had already finished. */
	rkmem_stress_collect(&irqstress_st, &t);
	t.allocs += atomic_read(&stress_allocs);
	pr_info("rkmem_client: irqstress: %lu allocations (%lu in hard irq) on %u CPUs, %d broken tags\n",
		t.allocs, t.irq_allocs, n, atomic_read(&stress_errors));
	pr_info("rkmem_client: irqstress: %lu timer ticks, %lu frees on another CPU, %u ms\n",
		t.ticks, t.remote, jiffies_to_msecs(jiffies - start));
	expect(atomic_read(&stress_errors) == 0, "irqstress: no page had two owners");
	expect(t.irq_allocs > 0, "irqstress: allocations in hard irq");
	expect(atomic_read(&stress_allocs) > 0, "irqstress: kthread allocations");
	expect(n < 2 || t.remote > 0, "irqstress: frees on another CPU");
	rkmem_stress_exit(&irqstress_st);
}

static unsigned int deliberate_double_frees;

static bool overlaps(struct page *a, unsigned int order_a, struct page *b, unsigned int order_b)
{
	unsigned long pa = page_to_pfn(a), pb = page_to_pfn(b);

	return pa < pb + (1UL << order_b) && pb < pa + (1UL << order_a);
}

static int last_online_node(void)
{
	int nid, last = first_online_node;

	for_each_online_node(nid)
		last = nid;
	return last;
}

#define ZERO_BATCH 8

/* Dirty pages, free them, allocate with __GFP_ZERO: every byte must be 0. */
static void check_zeroing(void)
{
	struct page *pages[ZERO_BATCH];
	unsigned int round, order, i, bad = 0, missing = 0;

	for (round = 0; round < 4; round++) {
		int nid = round < 2 ? NUMA_NO_NODE : last_online_node();
		gfp_t comp = round & 1 ? __GFP_COMP : 0;

		for (order = 0; order <= 3; order++) {
			for (i = 0; i < ZERO_BATCH; i++) {
				pages[i] = rkmem_alloc_pages(nid, GFP_KERNEL | comp, order);
				if (pages[i])
					memset(page_address(pages[i]), 0xff, chunk_bytes(order));
			}
			for (i = 0; i < ZERO_BATCH; i++)
				if (pages[i])
					rkmem_free_pages(pages[i], order);
			for (i = 0; i < ZERO_BATCH; i++) {
				pages[i] = rkmem_alloc_pages(nid, GFP_KERNEL | __GFP_ZERO | comp,
							     order);
				if (!pages[i])
					missing++;
				else if (memchr_inv(page_address(pages[i]), 0, chunk_bytes(order)))
					bad++;
			}
			for (i = 0; i < ZERO_BATCH; i++)
				if (pages[i])
					rkmem_free_pages(pages[i], order);
		}
	}
	if (bad || missing)
		pr_err("rkmem_client: __GFP_ZERO: %u chunks not zeroed, %u allocations failed\n",
		       bad, missing);
	expect(missing == 0, "__GFP_ZERO allocations succeed");
	expect(bad == 0, "__GFP_ZERO pages are zero after dirty frees");
}

/* Non-compound: the head holds the one reference, tails have count 0. */
static void check_refcounts(void)
{
	unsigned int order, i;
	struct page *page;

	for (order = 0; order <= 4; order++) {
		page = rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL, order);
		expect(page != NULL, "refcount allocation");
		if (!page)
			continue;
		expect(page_ref_count(page) == 1, "a new page has page_count 1");
		expect(!PageHead(page) && !PageTail(page),
		       "without __GFP_COMP the page is not compound");
		for (i = 1; i < (1U << order); i++) {
			if (page_ref_count(page + i) != 0 || PageTail(page + i)) {
				expect(false, "non-compound tail pages have count 0, no PageTail");
				break;
			}
		}
		rkmem_free_pages(page, order);
	}
}

static void check_compound(void)
{
	unsigned int order, i;
	struct page *page;

	for (order = 1; order <= 3; order++) {
		page = rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL | __GFP_COMP, order);
		expect(page != NULL, "__GFP_COMP allocation");
		if (!page)
			continue;
		expect(PageHead(page), "__GFP_COMP: PageHead");
		expect(compound_order(page) == order, "__GFP_COMP: compound_order");
		expect(page_count(page) == 1, "__GFP_COMP: page_count 1");
		for (i = 1; i < (1U << order); i++) {
			if (!PageTail(page + i) || compound_head(page + i) != page) {
				expect(false, "__GFP_COMP: tails point to the head");
				break;
			}
		}
		memset(page_address(page), 0x77, chunk_bytes(order));
		rkmem_free_pages(page, order);

		/* Most likely the same pages again: no compound state left over. */
		page = rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL, order);
		expect(page != NULL, "allocation after a compound free");
		if (!page)
			continue;
		expect(!PageHead(page), "a freed compound page comes back plain");
		for (i = 1; i < (1U << order); i++) {
			if (PageTail(page + i)) {
				expect(false, "a freed compound page comes back plain (tails)");
				break;
			}
		}
		expect(page_ref_count(page) == 1, "count 1 after a compound free");
		rkmem_free_pages(page, order);
	}
}

#define REUSE_TRIES 8

/*
 * get_page() then a free drops only that reference: the page stays
 * allocated, its contents stay, and this CPU's next allocations of the same
 * order (and arena) do not hand it out. The second free frees it.
 * All on one CPU (preemption off, GFP_ATOMIC) so per-CPU lists are the same.
 */
static void check_extra_reference(unsigned int order, gfp_t comp)
{
	struct page *page, *other[REUSE_TRIES];
	size_t size = chunk_bytes(order);
	unsigned int i;
	int nid;

	preempt_disable();
	page = rkmem_alloc_pages(NUMA_NO_NODE, GFP_ATOMIC | comp, order);
	if (!page) {
		preempt_enable();
		expect(false, "get_page test allocation");
		return;
	}
	nid = page_to_nid(page);
	memset(page_address(page), 0xc3, size);
	get_page(page);
	expect(page_ref_count(page) == 2, "get_page takes a reference");
	rkmem_free_pages(page, order);
	expect(page_ref_count(page) == 1, "a free after get_page leaves one reference");
	for (i = 0; i < REUSE_TRIES; i++)
		other[i] = rkmem_alloc_pages(nid, GFP_ATOMIC | __GFP_NOWARN | comp, order);
	preempt_enable();

	for (i = 0; i < REUSE_TRIES; i++) {
		if (other[i] && overlaps(page, order, other[i], order))
			expect(false, "a page with a reference left is not handed out again");
	}
	expect(!memchr_inv(page_address(page), 0xc3, size),
	       "a page with a reference left keeps its contents");
	for (i = 0; i < REUSE_TRIES; i++)
		if (other[i])
			rkmem_free_pages(other[i], order);
	rkmem_free_pages(page, order);
	expect(page_ref_count(page) == 0, "the free of the last reference frees");
}

/* A second free of a freed page is refused; rkmem keeps working. */
static void check_double_free(unsigned int order)
{
	struct page *page = rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL, order);

	expect(page != NULL, "double-free test allocation");
	if (!page)
		return;
	/* Nobody can take the page between the two frees on this CPU. */
	preempt_disable();
	rkmem_free_pages(page, order);
	rkmem_free_pages(page, order);
	preempt_enable();
	deliberate_double_frees++;
	check_alloc(NUMA_NO_NODE, GFP_KERNEL, order, -1, ZONE_NORMAL,
		    "rkmem works after a refused double free");
}

/* Node ids that are neither NUMA_NO_NODE nor a possible, online node. */
static int invalid_nid(unsigned int i)
{
	const int nids[] = { 999, -5, nr_node_ids };

	return nids[i % ARRAY_SIZE(nids)];
}

static void check_invalid_nodes(void)
{
	const gfp_t gfps[] = { GFP_KERNEL, GFP_KERNEL | __GFP_THISNODE, GFP_ATOMIC };
	struct page *page;
	unsigned int i, j;

	for (i = 0; i < 3; i++) {
		for (j = 0; j < ARRAY_SIZE(gfps); j++) {
			page = rkmem_alloc_pages(invalid_nid(i), gfps[j], 0);
			expect(page == NULL, "an invalid node gives NULL");
			if (page)
				rkmem_free_pages(page, 0);
		}
	}
}

static void check_thisnode(void)
{
	static const unsigned int orders[] = { 0, 3, 4, MAX_PAGE_ORDER };
	unsigned long flags;
	struct page *page;
	unsigned int i;
	bool wrong;
	int nid;

	/* As the host: __GFP_THISNODE on a memoryless node finds no zone. */
	for_each_online_node(nid) {
		if (node_state(nid, N_MEMORY))
			continue;
		page = rkmem_alloc_pages(nid, GFP_KERNEL | __GFP_THISNODE | __GFP_NOWARN, 0);
		expect(page == NULL, "__GFP_THISNODE on a memoryless node fails");
		if (page)
			rkmem_free_pages(page, 0);
	}
	for_each_node_state(nid, N_NORMAL_MEMORY) {
		for (i = 0; i < ARRAY_SIZE(orders); i++) {
			page = rkmem_alloc_pages(nid, GFP_KERNEL | __GFP_THISNODE, orders[i]);
			expect(page != NULL, "GFP_KERNEL|__GFP_THISNODE allocation");
			if (!page)
				continue;
			expect(page_to_nid(page) == nid,
			       "__GFP_THISNODE: the page is on that node");
			rkmem_free_pages(page, orders[i]);
		}
		for (i = 0; i < 2; i++) {
			local_irq_save(flags);
			page = rkmem_alloc_pages(nid, GFP_ATOMIC | __GFP_THISNODE, orders[i]);
			wrong = page && page_to_nid(page) != nid;
			if (page)
				rkmem_free_pages(page, orders[i]);
			local_irq_restore(flags);
			expect(page != NULL, "GFP_ATOMIC|__GFP_THISNODE allocation");
			expect(!wrong, "GFP_ATOMIC|__GFP_THISNODE: the page is on that node");
		}
	}
}

static void check_nofail(void)
{
	struct page *page;
	unsigned int order;
	int nid;

	for_each_online_node(nid) {
		for (order = 0; order <= 1; order++) {
			page = rkmem_alloc_pages(nid, GFP_KERNEL | __GFP_NOFAIL, order);
			expect(page != NULL, "__GFP_NOFAIL never returns NULL");
			if (page)
				rkmem_free_pages(page, order);
		}
	}
}

static void run_semantics(void)
{
	unsigned int order;

	check_zeroing();
	check_refcounts();
	check_compound();
	check_extra_reference(0, 0);
	check_extra_reference(2, 0);
	check_extra_reference(3, __GFP_COMP);
	check_extra_reference(5, 0);
	for (order = 0; order <= 5; order += 1 + (order >= 3))
		check_double_free(order);	/* 0, 1, 2, 3 (per-CPU lists), 5 (buddy) */
	check_invalid_nodes();
	check_thisnode();
	check_nofail();
	pr_info("rkmem_client: semantics: %u deliberate double frees\n", deliberate_double_frees);
}

/* ---- growth under GFP_NOFS ---- */

#define NOFS_ALLOCS 4

static DEFINE_MUTEX(nofs_mutex);

static void run_nofs(void)
{
	struct page *pages[NOFS_ALLOCS];
	int i, got = 0, nid = first_online_node;

	/* Teach lockdep that nofs_mutex is taken inside fs reclaim. */
	fs_reclaim_acquire(GFP_KERNEL);
	mutex_lock(&nofs_mutex);
	mutex_unlock(&nofs_mutex);
	fs_reclaim_release(GFP_KERNEL);

	/* Order 10 needs a whole block: growth, with nofs_mutex held. */
	mutex_lock(&nofs_mutex);
	for (i = 0; i < NOFS_ALLOCS; i++) {
		pages[i] = rkmem_alloc_pages(nid, GFP_NOFS, MAX_PAGE_ORDER);
		got += pages[i] != NULL;
		nid = next_online_node(nid);
		if (nid >= MAX_NUMNODES)
			nid = first_online_node;
	}
	mutex_unlock(&nofs_mutex);
	for (i = 0; i < NOFS_ALLOCS; i++)
		if (pages[i])
			rkmem_free_pages(pages[i], MAX_PAGE_ORDER);
	pr_info("rkmem_client: nofs: %d of %d order-%u GFP_NOFS allocations\n", got,
		NOFS_ALLOCS, MAX_PAGE_ORDER);
	expect(got == NOFS_ALLOCS, "GFP_NOFS order-10 allocations succeed");
}

/* ---- failures and __GFP_NOFAIL on a capped node ---- */

static void run_failburst(int count, gfp_t extra, const char *name)
{
	struct page *page;
	int i, failed = 0;

	for (i = 0; i < count; i++) {
		page = rkmem_alloc_pages(failnode, GFP_KERNEL | __GFP_THISNODE | extra,
					 MAX_PAGE_ORDER);
		if (page)
			rkmem_free_pages(page, MAX_PAGE_ORDER);
		else
			failed++;
	}
	pr_info("rkmem_client: %s: %d of %d failed\n", name, failed, count);
	expect(failed == count, "allocations on a capped node fail");
}

static void run_nofail(void)
{
	struct page **pages;
	int i, got = 0, on_node = 0;

	pages = kcalloc(nofail, sizeof(*pages), GFP_KERNEL);
	expect(pages != NULL, "nofail table");
	if (!pages)
		return;
	for (i = 0; i < nofail; i++) {
		pages[i] = rkmem_alloc_pages(failnode, GFP_KERNEL | __GFP_NOFAIL | __GFP_THISNODE,
					     i & 1);
		if (pages[i]) {
			got++;
			on_node += page_to_nid(pages[i]) == failnode;
		}
	}
	for (i = 0; i < nofail; i++)
		if (pages[i])
			rkmem_free_pages(pages[i], i & 1);
	kfree(pages);
	pr_info("rkmem_client: nofail: %d of %d allocated, %d on node %d\n", got, nofail,
		on_node, failnode);
	expect(got == nofail, "__GFP_NOFAIL never returns NULL");
	expect(on_node == got, "__GFP_NOFAIL|__GFP_THISNODE stays on the node");
}

static void run_badnid(void)
{
	struct page *page;
	int i, nulls = 0;

	for (i = 0; i < badnid; i++) {
		page = rkmem_alloc_pages(invalid_nid(i), i & 1 ? GFP_KERNEL | __GFP_THISNODE :
				       GFP_KERNEL, 0);
		if (page)
			rkmem_free_pages(page, 0);
		else
			nulls++;
	}
	pr_info("rkmem_client: badnid: %d of %d returned NULL\n", nulls, badnid);
	expect(nulls == badnid, "invalid node ids give NULL");
}

/* ---- bad input: refused, counted per kind, one warning per kind ---- */

/* Kept until unload, so the script can read its corruptions counter. */
static struct rkmem_cache *bad_cache;

/* The zone modifiers that name no zone (the host's GFP_ZONE_BAD). */
static gfp_t impossible_zone(int round)
{
	return round & 1 ? __GFP_HIGHMEM | __GFP_DMA : __GFP_DMA | __GFP_DMA32;
}

/* A free of a page that is already free (a double free) on this CPU. */
static void double_free(void)
{
	struct page *page = rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL, 0);

	expect(page != NULL, "badinput: double-free allocation");
	if (!page)
		return;
	/* Nobody can take the page between the two frees on this CPU. */
	preempt_disable();
	rkmem_free_pages(page, 0);
	rkmem_free_pages(page, 0);
	preempt_enable();
}

static void run_badinput(void)
{
	struct page *host = alloc_page(GFP_KERNEL);
	void *host_obj = kmalloc(64, GFP_KERNEL);
	struct page *p2 = rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL, 2);
	struct page *c2 = rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL | __GFP_COMP, 2);
	struct rkmem_mempool *pool = rkmem_mempool_create_kmalloc_pool(1, 64);
	int round;

	bad_cache = rkmem_cache_create("rkmem_client_bad", 64, 0, 0, NULL);
	expect(host && host_obj && p2 && c2 && pool && bad_cache, "badinput: setup");
	if (!host || !host_obj || !p2 || !c2 || !pool || !bad_cache)
		goto out;

	/* Counted, silent, and it must not use up the kind's one warning. */
	expect(!rkmem_alloc_pages(999, GFP_KERNEL | __GFP_NOWARN, 0),
	       "badinput: an invalid node with __GFP_NOWARN gives NULL");
	for (round = 0; round < badinput; round++) {
		/* Odd rounds on the compound chunk, even ones on the plain one. */
		struct page *live = round & 1 ? c2 : p2;

		rkmem_free_pages(NULL, 0);
		rkmem_free_pages(host, 0);
		rkmem_free_pages(live + 1 + (round & 1), 0);
		rkmem_free_pages(live, 1);
		rkmem_free_pages(live, MAX_PAGE_ORDER + 1);
		double_free();
		expect(!rkmem_alloc_pages(invalid_nid(round), GFP_KERNEL, 0),
		       "badinput: an invalid node gives NULL");
		expect(!rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL | impossible_zone(round), 0),
		       "badinput: impossible zone modifiers give NULL");
		expect(!rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL, MAX_PAGE_ORDER + 1),
		       "badinput: an order above MAX_PAGE_ORDER gives NULL");
		expect(!rkmem_kmalloc(64, GFP_KERNEL | impossible_zone(round)),
		       "badinput: kmalloc with impossible zone modifiers gives NULL");
		expect(!rkmem_mempool_alloc(pool, GFP_KERNEL | impossible_zone(round)),
		       "badinput: a mempool with impossible zone modifiers gives NULL");
		rkmem_kfree(host_obj);
		rkmem_cache_free(bad_cache, host_obj);
	}
	expect(page_ref_count(p2) == 1 && !PageHead(p2) && page_ref_count(p2 + 1) == 0,
	       "badinput: the plain chunk is untouched");
	expect(page_ref_count(c2) == 1 && PageHead(c2) && compound_order(c2) == 2 &&
	       PageTail(c2 + 3), "badinput: the compound chunk is untouched");
out:
	if (pool)
		rkmem_mempool_destroy(pool);
	if (c2)
		rkmem_free_pages(c2, 2);
	if (p2)
		rkmem_free_pages(p2, 2);
	kfree(host_obj);
	if (host)
		__free_page(host);
	pr_info("rkmem_client: badinput: %d rounds\n", badinput);
}

/* ---- GFP_KERNEL with node 0's and 1's Normal capped ---- */

static void run_capped_kernel(void)
{
	unsigned int in_zone[MAX_NR_ZONES] = {};
	struct page **pages;
	int i, got = 0, off_node = 0;

	pages = kvcalloc(capped_kernel, sizeof(*pages), GFP_KERNEL);
	expect(pages != NULL, "capped_kernel table");
	if (!pages)
		return;
	for (i = 0; i < capped_kernel; i++) {
		pages[i] = rkmem_alloc_pages(0, GFP_KERNEL | __GFP_NOWARN, 0);
		if (!pages[i])
			continue;
		got++;
		in_zone[page_zonenum(pages[i])]++;
		off_node += page_to_nid(pages[i]) != 0;
	}
	for (i = 0; i < capped_kernel; i++)
		if (pages[i])
			rkmem_free_pages(pages[i], 0);
	kvfree(pages);
	pr_info("rkmem_client: capped_kernel: %d of %d allocated: dma=%u dma32=%u normal=%u movable=%u other_node=%d\n",
		got, capped_kernel, in_zone[ZONE_DMA], in_zone[ZONE_DMA32], in_zone[ZONE_NORMAL],
		in_zone[ZONE_MOVABLE], off_node);
	expect(in_zone[ZONE_MOVABLE] == 0, "GFP_KERNEL never gets Movable pages");
}

/*
 * Booted with init_on_alloc=1 init_on_free=1 (lib/test_meminit.c's idea):
 * a freed chunk reads zero right after rkmem_free_pages (init_on_free);
 * garbage written into it while it sits free is gone when the per-CPU list
 * hands the same chunk out again without __GFP_ZERO (init_on_alloc).
 */
static void run_initcheck(void)
{
	unsigned int order, round, not_freed_zero = 0, not_alloc_zero = 0, same = 0;

	for (round = 0; round < 4; round++) {
		for (order = 0; order <= 3; order++) {
			struct page *page = rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL, order);
			struct page *again;
			void *addr;

			expect(page != NULL, "initcheck allocation");
			if (!page)
				continue;
			addr = page_address(page);
			memset(addr, 0xa5, chunk_bytes(order));
			rkmem_free_pages(page, order);
			if (memchr_inv(addr, 0, chunk_bytes(order)))
				not_freed_zero++;
			/* Garbage in the free chunk: init_on_alloc must clear it. */
			memset(addr, 0x5a, chunk_bytes(order));
			again = rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL, order);
			expect(again != NULL, "initcheck second allocation");
			if (!again)
				continue;
			if (again == page)
				same++;
			if (memchr_inv(page_address(again), 0, chunk_bytes(order)))
				not_alloc_zero++;
			rkmem_free_pages(again, order);
		}
	}
	pr_info("rkmem_client: initcheck: %u not zeroed on free, %u not zeroed on alloc, %u of 16 reused\n",
		not_freed_zero, not_alloc_zero, same);
	expect(not_freed_zero == 0, "init_on_free zeroes freed chunks");
	expect(not_alloc_zero == 0, "init_on_alloc zeroes handed-out chunks");
	/* The check only means something if the chunk came back. */
	expect(same >= 8, "the per-CPU list hands the freed chunk out again");
}

/*
 * The basic placement checks allocate on every node: skipped by the modes
 * that need rkmem's state exactly as the script set it up.
 */
static bool targeted(void)
{
	return nofs || failburst > 0 || failburst_nowarn > 0 || nofail > 0 || capped_kernel > 0 ||
	       badnid > 0 || badinput > 0 || initcheck;
}

/* The last online node with a Movable zone (node 1 of the standard VM). */
static int movable_node(void)
{
	int nid, found = NUMA_NO_NODE;

	for_each_online_node(nid)
		if (populated_zone(&NODE_DATA(nid)->node_zones[ZONE_MOVABLE]))
			found = nid;
	return found;
}

static void run_basic(void)
{
	struct page *page;
	unsigned long flags;
	int nid, mnid = movable_node();

	/* Nodes with Normal memory: a memoryless node has nothing of its own. */
	for_each_node_state(nid, N_NORMAL_MEMORY)
		check_alloc(nid, GFP_KERNEL | __GFP_THISNODE, 0, nid, ZONE_NORMAL,
			    "GFP_KERNEL|__GFP_THISNODE lands on its node, Normal");
	check_alloc(0, GFP_KERNEL | GFP_DMA32, 2, 0, ZONE_DMA32, "GFP_DMA32 order 2");
	check_alloc(0, GFP_KERNEL | GFP_DMA, 0, 0, ZONE_DMA, "GFP_DMA");
	if (mnid != NUMA_NO_NODE)
		check_alloc(mnid, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE, 0, mnid, ZONE_MOVABLE,
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
}

static int __init rkmem_client_init(void)
{
	if (!targeted())
		run_basic();
	if (leak)
		expect(rkmem_alloc_pages(0, GFP_KERNEL, 3) != NULL, "leaked allocation");
	if (semantics)
		run_semantics();
	if (nofs)
		run_nofs();
	if (failburst > 0)
		run_failburst(failburst, 0, "failburst");
	if (failburst_nowarn > 0)
		run_failburst(failburst_nowarn, __GFP_NOWARN, "failburst_nowarn");
	if (nofail > 0)
		run_nofail();
	if (capped_kernel > 0)
		run_capped_kernel();
	if (badnid > 0)
		run_badnid();
	if (badinput > 0)
		run_badinput();
	if (initcheck)
		run_initcheck();
	if (stress > 0)
		run_stress();
	if (irqstress > 0)
		run_irqstress();

	pr_info("rkmem_client: %d checks failed\n", failures);
	return failures ? -EIO : 0;
}

static void __exit rkmem_client_exit(void)
{
	rkmem_cache_destroy(bad_cache);
}

module_init(rkmem_client_init);
module_exit(rkmem_client_exit);
MODULE_DESCRIPTION("A client of rkmem's C API, for its selftests");
MODULE_LICENSE("GPL");
