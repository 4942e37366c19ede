// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem_slab_client: a module that uses rkmem's object caches (rkmem.h) the
 * way a real client would. Every check it fails is logged as
 * "rkmem_slab_client: check failed: ..."; init ends with
 * "rkmem_slab_client: N checks failed" and returns 0 whatever N is (the
 * caches kept for the shell are destroyed at unload), -EINVAL for a bad
 * parameter. Without parameters it runs every basic check (kmalloc, kzalloc,
 * node, align, badcache, ctor, zero, bulk); with some, only those:
 *
 * kmalloc=1      size classes of 1..8192 bytes (rkmem_ksize, alignment, many
 *                objects of a class at once), the page chunks above 8192,
 *                size 0, NULL, foreign pointers, interrupts off;
 * kzalloc=1      rkmem_kzalloc after dirty frees: every byte zero;
 * node=1         rkmem_kmalloc_node and rkmem_cache_alloc_node place objects
 *                on the node asked, for every online node;
 * align=1        caches of 1..8192-byte objects with align 0/8/64/128/4096
 *                and SLAB_HWCACHE_ALIGN: objects aligned, disjoint, writable;
 *                rkmem_cache_destroy(NULL);
 * badcache=1     rkmem_cache_create refuses bad sizes, aligns and flags;
 * ctor=1         the constructor runs once per object of a new slab, not per
 *                allocation; the cache "slabclient-ctor" is kept until unload
 *                (the shell compares its counters with the calls);
 * zero=1         __GFP_ZERO zeroes cache objects (alloc, alloc_node, bulk);
 * bulk=1         bulk alloc/free of 16 and 1000 objects: distinct, valid;
 * slabstress=N   per CPU a kthread doing N random allocs and frees (a 64- and
 *                a 256-byte cache, kmalloc of random sizes, bulk calls, some
 *                with interrupts off), stamping every object with a tag that
 *                is checked at free (two owners of an object break it) and
 *                handing a quarter of them to the other CPU's kthread to
 *                free there; meanwhile a hard-irq hrtimer per CPU allocates
 *                and frees GFP_ATOMIC objects. slabstress_secs bounds it;
 * corrupt=KIND   corrupts an object and checks that rkmem stays usable and
 *                does not hand the object out again; the caches are kept
 *                until unload so the shell can read their corruptions
 *                counter. KIND: redzone, redzone_left (SLAB_RED_ZONE),
 *                poison (SLAB_POISON, found by the next allocations),
 *                poison_validate (left for the validate knob); on
 *                SLAB_CONSISTENCY_CHECKS caches doublefree, midfree,
 *                wrongcache, foreign (the host's memory freed to rkmem),
 *                notslab (an rkmem page that is no slab object);
 *                freeptr (a plain cache: garbage over a free object's free
 *                pointer), midfree_fast, wrongcache_fast, doublefree_fast
 *                (the same on plain caches; the double free in a row);
 * leakcache=1    destroys a cache with 10 live objects (rkmem warns).
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
#include <linux/nodemask.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "rkmem.h"
#include "rkmem_stress.h"

static int do_kmalloc;
module_param_named(kmalloc, do_kmalloc, int, 0444);
MODULE_PARM_DESC(kmalloc, "kmalloc size classes, ksize, alignment, large sizes");

static int do_kzalloc;
module_param_named(kzalloc, do_kzalloc, int, 0444);
MODULE_PARM_DESC(kzalloc, "kzalloc zeroes dirty memory");

static int do_node;
module_param_named(node, do_node, int, 0444);
MODULE_PARM_DESC(node, "kmalloc_node and cache_alloc_node placement");

static int do_align;
module_param_named(align, do_align, int, 0444);
MODULE_PARM_DESC(align, "cache object alignment, SLAB_HWCACHE_ALIGN");

static int do_badcache;
module_param_named(badcache, do_badcache, int, 0444);
MODULE_PARM_DESC(badcache, "bad cache parameters are refused");

static int do_ctor;
module_param_named(ctor, do_ctor, int, 0444);
MODULE_PARM_DESC(ctor, "constructors run once per object per slab");

static int do_zero;
module_param_named(zero, do_zero, int, 0444);
MODULE_PARM_DESC(zero, "__GFP_ZERO on cache allocations");

static int do_bulk;
module_param_named(bulk, do_bulk, int, 0444);
MODULE_PARM_DESC(bulk, "bulk alloc/free");

static int slabstress;
module_param(slabstress, int, 0444);
MODULE_PARM_DESC(slabstress, "random allocs/frees per CPU with hard-irq timers and remote frees");

static int slabstress_secs = 30;
module_param(slabstress_secs, int, 0444);
MODULE_PARM_DESC(slabstress_secs, "slabstress: stop the kthreads after this many seconds");

static int irq_period_us = 50;
module_param(irq_period_us, int, 0444);
MODULE_PARM_DESC(irq_period_us, "slabstress: shortest timer period (us)");

static char *corrupt;
module_param(corrupt, charp, 0444);
MODULE_PARM_DESC(corrupt, "corrupt an object: redzone, redzone_left, poison, poison_validate, doublefree, midfree, wrongcache, foreign, notslab, freeptr, midfree_fast, wrongcache_fast, doublefree_fast");

static int leakcache;
module_param(leakcache, int, 0444);
MODULE_PARM_DESC(leakcache, "destroy a cache with 10 live objects");

/* ---- reporting ---- */

#define MAX_REPORTS 30

static int failures;

static __printf(2, 3) void expectf(bool ok, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	if (ok)
		return;
	if (++failures > MAX_REPORTS) {
		if (failures == MAX_REPORTS + 1)
			pr_err("rkmem_slab_client: more failed checks not shown\n");
		return;
	}
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_err("rkmem_slab_client: check failed: %pV\n", &vaf);
	va_end(args);
}

static void expect(bool ok, const char *what)
{
	expectf(ok, "%s", what);
}

/* ---- caches kept until unload ---- */

static struct rkmem_cache *kept[4];
static unsigned int nr_kept;

static void keep(struct rkmem_cache *s)
{
	if (s && !WARN_ON(nr_kept >= ARRAY_SIZE(kept)))
		kept[nr_kept++] = s;
}

/* An object kept allocated until unload, freed before its cache goes. */
static struct rkmem_cache *kept_obj_cache;
static void *kept_obj;

static bool overlaps(const void *a, size_t a_len, const void *b, size_t b_len)
{
	return a < b + b_len && b < a + a_len;
}

/* ---- kmalloc ---- */

static const unsigned int kmalloc_classes[] = {
	8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192
};

/* The class of a @size-byte kmalloc (0 above the largest). */
static size_t class_of(size_t size)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kmalloc_classes); i++)
		if (size <= kmalloc_classes[i])
			return kmalloc_classes[i];
	return 0;
}

/* The largest power of two dividing @size. */
static size_t pow2_of(size_t size)
{
	return size & -size;
}

/* What rkmem_ksize must say for a @size-byte kmalloc. */
static size_t usable(size_t size)
{
	return size <= 8192 ? class_of(size) : PAGE_SIZE << get_order(size);
}

#define CLASS_OBJS 40

/* CLASS_OBJS objects of one class at once: disjoint, each keeps its stamp. */
static void check_class_objects(size_t size)
{
	void *p[CLASS_OBJS];
	unsigned int i, broken = 0, missing = 0;

	for (i = 0; i < CLASS_OBJS; i++) {
		p[i] = rkmem_kmalloc(size, GFP_KERNEL);
		if (p[i])
			stamp(p[i], size, 0x6b6d000000000000ULL | (size << 16) | i);
		else
			missing++;
	}
	for (i = 0; i < CLASS_OBJS; i++) {
		if (!p[i])
			continue;
		if (!stamp_intact(p[i], size, 0x6b6d000000000000ULL | (size << 16) | i))
			broken++;
		rkmem_kfree(p[i]);
	}
	expectf(!missing, "kmalloc-%zu: %u of %u allocations failed", size, missing, CLASS_OBJS);
	expectf(!broken, "kmalloc-%zu: %u of %u objects overlap another", size, broken, CLASS_OBJS);
}

static void run_kmalloc(void)
{
	static const size_t large[] = { 8193, 12288, 16384, 16385, 65536, 100000, 1 << 20,
					PAGE_SIZE << MAX_PAGE_ORDER };
	static const size_t atomic_sizes[] = { 8, 200, 8192, 20000 };
	size_t size, ks, want;
	unsigned long flags;
	struct page *page;
	unsigned int i;
	void *p, *host;
	u8 *b;

	for (size = 1; size <= 8192; size++) {
		p = rkmem_kmalloc(size, GFP_KERNEL);
		if (!p) {
			expectf(false, "kmalloc(%zu) returned NULL", size);
			continue;
		}
		ks = rkmem_ksize(p);
		want = class_of(size);
		expectf(ks == want, "kmalloc(%zu): ksize %zu, want the class size %zu", size, ks,
			want);
		expectf(IS_ALIGNED((unsigned long)p, pow2_of(want)),
			"kmalloc(%zu): object at offset %lu from an alignment of %zu", size,
			(unsigned long)p & (pow2_of(want) - 1), pow2_of(want));
		b = p;
		b[0] = 0x11;
		b[size - 1] = 0x22;
		if (ks == want)
			b[ks - 1] = 0x33;
		rkmem_kfree(p);
		if (size % 256 == 0)
			cond_resched();
	}
	for (i = 0; i < ARRAY_SIZE(kmalloc_classes); i++)
		check_class_objects(kmalloc_classes[i]);

	/* Above 8192 bytes: compound page chunks. */
	for (i = 0; i < ARRAY_SIZE(large); i++) {
		size = large[i];
		p = rkmem_kmalloc(size, GFP_KERNEL);
		if (!p) {
			expectf(false, "kmalloc(%zu) returned NULL", size);
			continue;
		}
		want = PAGE_SIZE << get_order(size);
		ks = rkmem_ksize(p);
		expectf(ks == want, "kmalloc(%zu): ksize %zu, want %zu", size, ks, want);
		expectf(PAGE_ALIGNED(p), "kmalloc(%zu): not page aligned", size);
		page = virt_to_page(p);
		expectf(get_order(size) == 0 ||
			(PageHead(page) && compound_order(page) == get_order(size)),
			"kmalloc(%zu): not a compound page of order %d", size, get_order(size));
		b = p;
		b[0] = 0x11;
		b[size - 1] = 0x22;
		rkmem_kfree(p);
	}
	p = rkmem_kmalloc((PAGE_SIZE << MAX_PAGE_ORDER) + 1, GFP_KERNEL | __GFP_NOWARN);
	expect(!p, "kmalloc of more than the largest page chunk returns NULL");
	if (p)
		rkmem_kfree(p);

	/* Interrupts off: GFP_ATOMIC must neither sleep nor deadlock. */
	for (i = 0; i < ARRAY_SIZE(atomic_sizes); i++) {
		local_irq_save(flags);
		p = rkmem_kmalloc(atomic_sizes[i], GFP_ATOMIC);
		ks = p ? rkmem_ksize(p) : 0;
		if (p)
			memset(p, 0x44, atomic_sizes[i]);
		rkmem_kfree(p);
		local_irq_restore(flags);
		expectf(p && ks == usable(atomic_sizes[i]),
			"GFP_ATOMIC kmalloc(%zu) with interrupts off: %s, ksize %zu",
			atomic_sizes[i], p ? "ok" : "NULL", ks);
	}

	p = rkmem_kmalloc(0, GFP_KERNEL);
	expect(!p, "kmalloc(0) returns NULL");
	if (p)
		rkmem_kfree(p);
	rkmem_kfree(NULL);
	expect(rkmem_ksize(NULL) == 0, "ksize(NULL) is 0");
	host = kmalloc(64, GFP_KERNEL);
	if (host) {
		expect(rkmem_ksize(host) == 0, "ksize of the host's kmalloc memory is 0");
		kfree(host);
	}
}

/* ---- kzalloc ---- */

#define ZBATCH 8

static void run_kzalloc(void)
{
	static const size_t sizes[] = { 1, 8, 13, 64, 96, 100, 192, 256, 1000, 2048, 4096, 5000,
					8192, 8193, 20000 };
	unsigned int round, i, j, bad = 0, missing = 0, total = 0;
	void *p[ZBATCH];

	for (round = 0; round < 8; round++) {
		/* Odd rounds on one CPU: the dirty objects come straight back. */
		bool atomic = round & 1;
		gfp_t gfp = atomic ? GFP_ATOMIC : GFP_KERNEL;

		for (i = 0; i < ARRAY_SIZE(sizes); i++) {
			if (atomic)
				preempt_disable();
			for (j = 0; j < ZBATCH; j++) {
				p[j] = rkmem_kmalloc(sizes[i], gfp);
				if (p[j])
					memset(p[j], 0xa5, min(rkmem_ksize(p[j]), usable(sizes[i])));
			}
			for (j = 0; j < ZBATCH; j++)
				rkmem_kfree(p[j]);
			for (j = 0; j < ZBATCH; j++) {
				p[j] = rkmem_kzalloc(sizes[i], gfp);
				total++;
				if (!p[j])
					missing++;
				else if (memchr_inv(p[j], 0, sizes[i]))
					bad++;
			}
			for (j = 0; j < ZBATCH; j++)
				rkmem_kfree(p[j]);
			if (atomic)
				preempt_enable();
		}
		cond_resched();
	}
	pr_info("rkmem_slab_client: kzalloc: %u of %u objects not zeroed, %u allocations failed\n",
		bad, total, missing);
	expect(!missing, "kzalloc allocations succeed");
	expect(!bad, "kzalloc zeroes every byte after dirty frees");
}

/* ---- node placement ---- */

#define NODE_ROUNDS 24

struct placement {
	unsigned int objects, wrong, failed;
};

static void place(struct placement *pl, void *p, int nid, const char *what, size_t size)
{
	if (!p) {
		pl->failed++;
		expectf(false, "%s(%zu) on node %d: NULL", what, size, nid);
		return;
	}
	pl->objects++;
	if (page_to_nid(virt_to_page(p)) != nid) {
		pl->wrong++;
		expectf(false, "%s(%zu) on node %d: object on node %d", what, size, nid,
			page_to_nid(virt_to_page(p)));
	}
}

static void run_node(void)
{
	static const size_t sizes[] = { 8, 64, 96, 192, 512, 4096, 8192, 8193, 65536 };
	static const gfp_t gfps[] = { GFP_KERNEL | __GFP_THISNODE, GFP_KERNEL };
	/* Nodes with Normal memory: a memoryless node has no slabs of its own. */
	unsigned int nodes = num_node_state(N_NORMAL_MEMORY), i, g, r, n;
	struct placement pl = {};
	struct rkmem_cache *s;
	void **objs;
	int nid;

	objs = kcalloc(NODE_ROUNDS * nodes, sizeof(*objs), GFP_KERNEL);
	if (!objs) {
		expect(false, "node: table");
		return;
	}
	/*
	 * A node asked without __GFP_THISNODE is served from that node while it
	 * has memory (SLUB's try_thisnode): on a fresh cache, the slab of the
	 * node asked first (on its partial list once another node is asked)
	 * must not serve the next node's request.
	 */
	s = rkmem_cache_create("slabclient-prefer", 256, 0, 0, NULL);
	expect(s != NULL, "create slabclient-prefer");
	if (s) {
		n = 0;
		for_each_node_state(nid, N_NORMAL_MEMORY) {
			objs[n] = rkmem_cache_alloc_node(s, GFP_KERNEL, nid);
			place(&pl, objs[n], nid, "cache_alloc_node (fresh cache)", 256);
			n++;
		}
		while (n--)
			if (objs[n])
				rkmem_cache_free(s, objs[n]);
		rkmem_cache_destroy(s);
	}
	/*
	 * Nodes alternate: every allocation asks for another node than the one
	 * before, so a CPU's current slab is never the right one by chance.
	 */
	for (g = 0; g < ARRAY_SIZE(gfps); g++) {
		for (i = 0; i < ARRAY_SIZE(sizes); i++) {
			n = 0;
			for (r = 0; r < NODE_ROUNDS; r++) {
				for_each_node_state(nid, N_NORMAL_MEMORY) {
					objs[n] = rkmem_kmalloc_node(sizes[i], gfps[g], nid);
					place(&pl, objs[n], nid, "kmalloc_node", sizes[i]);
					n++;
				}
			}
			while (n--)
				rkmem_kfree(objs[n]);
			cond_resched();
		}
	}
	objs[0] = rkmem_kmalloc_node(100, GFP_KERNEL, NUMA_NO_NODE);
	expect(objs[0] != NULL, "kmalloc_node(NUMA_NO_NODE)");
	rkmem_kfree(objs[0]);

	s = rkmem_cache_create("slabclient-node", 256, 0, 0, NULL);
	expect(s != NULL, "create slabclient-node");
	if (s) {
		for (g = 0; g < ARRAY_SIZE(gfps); g++) {
			/* Three rounds of NODE_ROUNDS: more than a slab per node. */
			for (i = 0; i < 3; i++) {
				n = 0;
				for (r = 0; r < NODE_ROUNDS; r++) {
					for_each_node_state(nid, N_NORMAL_MEMORY) {
						objs[n] = rkmem_cache_alloc_node(s, gfps[g], nid);
						place(&pl, objs[n], nid, "cache_alloc_node", 256);
						n++;
					}
				}
				while (n--)
					if (objs[n])
						rkmem_cache_free(s, objs[n]);
			}
		}
		objs[0] = rkmem_cache_alloc_node(s, GFP_KERNEL, NUMA_NO_NODE);
		expect(objs[0] != NULL, "cache_alloc_node(NUMA_NO_NODE)");
		if (objs[0])
			rkmem_cache_free(s, objs[0]);
		rkmem_cache_destroy(s);
	}
	kfree(objs);
	pr_info("rkmem_slab_client: node: %u objects on %u nodes, %u on another node, %u failed\n",
		pl.objects, nodes, pl.wrong, pl.failed);
}

/* ---- cache alignment ---- */

#define ALIGN_OBJS 12

static void check_cache_align(unsigned int size, unsigned int align, slab_flags_t flags,
			      size_t want)
{
	struct rkmem_cache *s;
	void *p[ALIGN_OBJS];
	char name[32];
	unsigned int i;

	snprintf(name, sizeof(name), "slabclient-s%u-a%u%s", size, align,
		 flags & SLAB_HWCACHE_ALIGN ? "-h" : "");
	s = rkmem_cache_create(name, size, align, flags, NULL);
	expectf(s != NULL, "create %s", name);
	if (!s)
		return;
	for (i = 0; i < ALIGN_OBJS; i++) {
		p[i] = rkmem_cache_alloc(s, GFP_KERNEL);
		expectf(p[i] != NULL, "%s: allocation", name);
		if (!p[i])
			continue;
		expectf(IS_ALIGNED((unsigned long)p[i], want), "%s: object at offset %lu from an alignment of %zu",
			name, (unsigned long)p[i] & (want - 1), want);
		memset(p[i], i + 1, size);
	}
	for (i = 0; i < ALIGN_OBJS; i++) {
		if (!p[i])
			continue;
		expectf(!memchr_inv(p[i], i + 1, size), "%s: object %u overlaps another", name, i);
		rkmem_cache_free(s, p[i]);
	}
	rkmem_cache_destroy(s);
}

/* SLAB_HWCACHE_ALIGN as the host computes it: a cache line, halved while
 * the object fits in half of it.
 */
static size_t hwcache_align(unsigned int size)
{
	size_t ralign = 64;

	while (size <= ralign / 2)
		ralign /= 2;
	return ralign;
}

static void run_align(void)
{
	static const unsigned int sizes[] = { 1, 24, 100, 256, 3000, 8192 };
	static const unsigned int aligns[] = { 0, 8, 64, 128, 4096 };
	static const unsigned int hw_sizes[] = { 8, 24, 33, 64, 100, 200, 1000, 3000 };
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		for (j = 0; j < ARRAY_SIZE(aligns); j++)
			check_cache_align(sizes[i], aligns[j], 0, max(aligns[j], 8U));
	for (i = 0; i < ARRAY_SIZE(hw_sizes); i++)
		check_cache_align(hw_sizes[i], 0, SLAB_HWCACHE_ALIGN,
				  max_t(size_t, hwcache_align(hw_sizes[i]), 8));
	check_cache_align(100, 128, SLAB_HWCACHE_ALIGN, 128);
	/* The largest object a cache takes: one order-3 slab. */
	check_cache_align(PAGE_SIZE << 3, 0, 0, 8);
	rkmem_cache_destroy(NULL);
}

/* ---- bad cache parameters ---- */

static void check_refused(unsigned int size, unsigned int align, slab_flags_t flags,
			  const char *what)
{
	struct rkmem_cache *s = rkmem_cache_create("slabclient-bad", size, align, flags, NULL);

	expectf(!s, "rkmem_cache_create refuses %s", what);
	if (s)
		rkmem_cache_destroy(s);
}

static void run_badcache(void)
{
	check_refused(0, 0, 0, "size 0");
	check_refused((PAGE_SIZE << 3) + 1, 0, 0, "objects above an order-3 slab");
	check_refused(64, 3, 0, "align 3");
	check_refused(64, 24, 0, "align 24");
	check_refused(64, 16384, 0, "align 16384");
	check_refused(64, 0, SLAB_TYPESAFE_BY_RCU, "SLAB_TYPESAFE_BY_RCU");
	check_refused(64, 0, SLAB_CACHE_DMA, "SLAB_CACHE_DMA");
	check_refused(64, 0, SLAB_CACHE_DMA32, "SLAB_CACHE_DMA32");
}

/* ---- constructors ---- */

#define CTOR_SIZE 200
#define CTOR_BYTE 0xc7
#define CTOR_MAX 512

static atomic_t ctor_calls = ATOMIC_INIT(0);

static void ctor_fn(void *obj)
{
	memset(obj, CTOR_BYTE, CTOR_SIZE);
	atomic_inc(&ctor_calls);
}

/*
 * One CPU (preemption off, GFP_ATOMIC): the first allocation makes a slab
 * and constructs all its objects; two slabs' worth makes exactly one more.
 * Frees construct nothing; allocating the same objects again constructs
 * nothing (the two empty slabs stay, min_partial is at least 5); every
 * object comes back in its constructed state (rkmem keeps its free pointer
 * outside the object of a ctor cache).
 */
static void run_ctor(void)
{
	unsigned int i, n, per_slab, calls, allocs = 0, unconstructed = 0;
	struct rkmem_cache *s;
	void **p;

	p = kcalloc(CTOR_MAX, sizeof(*p), GFP_KERNEL);
	s = rkmem_cache_create("slabclient-ctor", CTOR_SIZE, 0, 0, ctor_fn);
	expect(s != NULL, "create slabclient-ctor");
	if (!s || !p) {
		kfree(p);
		return;
	}
	keep(s);
	atomic_set(&ctor_calls, 0);
	expect(atomic_read(&ctor_calls) == 0, "no ctor call before the first allocation");

	preempt_disable();
	p[0] = rkmem_cache_alloc(s, GFP_ATOMIC);
	per_slab = atomic_read(&ctor_calls);
	n = min(2 * per_slab, (unsigned int)CTOR_MAX);
	for (i = 1; i < n && p[0]; i++)
		p[i] = rkmem_cache_alloc(s, GFP_ATOMIC);
	calls = atomic_read(&ctor_calls);
	for (i = 0; i < n; i++) {
		allocs += p[i] != NULL;
		if (p[i] && memchr_inv(p[i], CTOR_BYTE, CTOR_SIZE))
			unconstructed++;
	}
	for (i = n; i-- > 0;)
		if (p[i])
			rkmem_cache_free(s, p[i]);
	expectf(atomic_read(&ctor_calls) == calls, "ctor: %d calls after %u frees, %u before",
		atomic_read(&ctor_calls), n, calls);
	for (i = 0; i < n; i++) {
		p[i] = rkmem_cache_alloc(s, GFP_ATOMIC);
		allocs += p[i] != NULL;
		if (p[i] && memchr_inv(p[i], CTOR_BYTE, CTOR_SIZE))
			unconstructed++;
	}
	expectf(atomic_read(&ctor_calls) == calls,
		"ctor: %d calls after allocating the %u freed objects again, %u before",
		atomic_read(&ctor_calls), n, calls);
	for (i = n; i-- > 0;)
		if (p[i])
			rkmem_cache_free(s, p[i]);
	preempt_enable();

	pr_info("rkmem_slab_client: ctor: %u objects per slab, %d calls for %u allocations\n",
		per_slab, atomic_read(&ctor_calls), allocs);
	expect(per_slab > 0, "ctor: the first allocation constructs the objects of a slab");
	expectf(2 * per_slab <= CTOR_MAX, "ctor: %u objects per slab, more than this check takes",
		per_slab);
	expectf(allocs == 2 * n, "ctor: %u of %u allocations", allocs, 2 * n);
	expectf(calls == 2 * per_slab, "ctor: %u calls for two slabs of %u objects", calls,
		per_slab);
	expectf(!unconstructed, "ctor: %u objects handed out not in their constructed state",
		unconstructed);
	kfree(p);
}

/* ---- __GFP_ZERO on a cache ---- */

#define ZERO_SIZE 200
#define ZERO_OBJS 32

static void run_zero(void)
{
	unsigned int round, i, bad = 0, missing = 0;
	void *p[ZERO_OBJS];
	struct rkmem_cache *s;
	int nid = first_online_node;

	s = rkmem_cache_create("slabclient-zero", ZERO_SIZE, 0, 0, NULL);
	expect(s != NULL, "create slabclient-zero");
	if (!s)
		return;
	for (round = 0; round < 12; round++) {
		for (i = 0; i < ZERO_OBJS; i++) {
			p[i] = rkmem_cache_alloc(s, GFP_KERNEL);
			if (p[i])
				memset(p[i], 0xee, ZERO_SIZE);
		}
		for (i = 0; i < ZERO_OBJS; i++)
			if (p[i])
				rkmem_cache_free(s, p[i]);
		if (round % 3 == 2) {
			/* bulk */
			memset(p, 0, sizeof(p));
			if (rkmem_cache_alloc_bulk(s, GFP_KERNEL | __GFP_ZERO, ZERO_OBJS, p) !=
			    ZERO_OBJS)
				memset(p, 0, sizeof(p));	/* counted as missing below */
		}
		for (i = 0; i < ZERO_OBJS; i++) {
			if (round % 3 == 0) {
				p[i] = rkmem_cache_alloc(s, GFP_KERNEL | __GFP_ZERO);
			} else if (round % 3 == 1) {
				p[i] = rkmem_cache_alloc_node(s, GFP_KERNEL | __GFP_ZERO, nid);
				nid = next_online_node(nid);
				if (nid >= MAX_NUMNODES)
					nid = first_online_node;
			}
			if (!p[i])
				missing++;
			else if (memchr_inv(p[i], 0, ZERO_SIZE))
				bad++;
		}
		if (round % 3 == 2)
			rkmem_cache_free_bulk(s, ZERO_OBJS, p);
		else
			for (i = 0; i < ZERO_OBJS; i++)
				if (p[i])
					rkmem_cache_free(s, p[i]);
	}
	rkmem_cache_destroy(s);
	pr_info("rkmem_slab_client: zero: %u objects not zeroed, %u allocations failed\n", bad,
		missing);
	expect(!missing, "__GFP_ZERO cache allocations succeed");
	expect(!bad, "__GFP_ZERO zeroes cache objects after dirty frees");
}

/* ---- bulk ---- */

#define BULK_SIZE 96

static void check_bulk(struct rkmem_cache *s, size_t n, gfp_t gfp, bool irqs_off)
{
	unsigned int nulls = 0, broken = 0, unaligned = 0;
	unsigned long flags = 0;
	size_t i;
	void **p;
	int got;

	p = kvcalloc(n, sizeof(*p), GFP_KERNEL);
	if (!p) {
		expect(false, "bulk: table");
		return;
	}
	if (irqs_off)
		local_irq_save(flags);
	got = rkmem_cache_alloc_bulk(s, gfp, n, p);
	if (irqs_off)
		local_irq_restore(flags);
	expectf(got == n, "alloc_bulk of %zu objects returned %d", n, got);
	if (got != n) {
		kvfree(p);
		return;
	}
	for (i = 0; i < n; i++) {
		if (!p[i]) {
			nulls++;
			continue;
		}
		unaligned += !IS_ALIGNED((unsigned long)p[i], 8);
		stamp(p[i], BULK_SIZE, 0xb0b0000000000000ULL | (n << 20) | i);
	}
	/* A duplicate or an overlap broke the stamp written before it. */
	for (i = 0; i < n; i++)
		if (p[i] && !stamp_intact(p[i], BULK_SIZE, 0xb0b0000000000000ULL | (n << 20) | i))
			broken++;
	expectf(!nulls && !broken && !unaligned,
		"alloc_bulk of %zu: %u NULL, %u not distinct, %u misaligned objects", n, nulls,
		broken, unaligned);
	/* free_bulk skips NULL entries: free two the single way first. */
	rkmem_cache_free(s, p[0]);
	p[0] = NULL;
	rkmem_cache_free(s, p[n / 2]);
	p[n / 2] = NULL;
	if (irqs_off)
		local_irq_save(flags);
	rkmem_cache_free_bulk(s, n, p);
	if (irqs_off)
		local_irq_restore(flags);
	kvfree(p);
}

static void run_bulk(void)
{
	struct rkmem_cache *s;

	s = rkmem_cache_create("slabclient-bulk", BULK_SIZE, 0, 0, NULL);
	expect(s != NULL, "create slabclient-bulk");
	if (!s)
		return;
	check_bulk(s, 16, GFP_KERNEL, false);
	check_bulk(s, 1000, GFP_KERNEL, false);
	check_bulk(s, 16, GFP_ATOMIC, true);
	/* Everything came back: the same again. */
	check_bulk(s, 1000, GFP_KERNEL, false);
	rkmem_cache_destroy(s);
}

/* ---- slabstress ---- */

#define SS_SLOTS 32
#define SS_BULK 8

enum { SK_C64, SK_C256, SK_KMALLOC, SK_KINDS };

static struct rkmem_cache *ss_c64, *ss_c256;
static struct rkmem_stress ss;
static atomic_t ss_allocs = ATOMIC_INIT(0);
static atomic_t ss_broken = ATOMIC_INIT(0);
static atomic_t ss_failed = ATOMIC_INIT(0);
static atomic_t ss_short = ATOMIC_INIT(0);

/* Mostly small, sometimes up to 8192, rarely a page chunk. */
static u32 random_size(u32 *rnd)
{
	u32 r = xorshift(rnd);

	switch (r % 16) {
	case 0 ... 7:
		return 1 + (r >> 4) % 128;
	case 8 ... 11:
		return 129 + (r >> 4) % 896;
	case 12 ... 14:
		return 1025 + (r >> 4) % 7168;
	default:
		return 8193 + (r >> 4) % 24576;
	}
}

/* One allocation into @o; @small keeps kmalloc sizes at most 512 bytes. */
static bool sobj_alloc(struct rkmem_stress_elem *o, u32 *rnd, u64 tag, gfp_t gfp, bool small)
{
	u32 r = xorshift(rnd);
	int nid = r % 8 == 0 ? pick_node(rnd) : NUMA_NO_NODE;
	struct rkmem_cache *s;

	o->kind = (r >> 3) % SK_KINDS;
	if (o->kind == SK_KMALLOC) {
		o->size = small ? 1 + (r >> 8) % 512 : random_size(rnd);
		o->p = nid == NUMA_NO_NODE ? rkmem_kmalloc(o->size, gfp) :
					     rkmem_kmalloc_node(o->size, gfp, nid);
		if (o->p && rkmem_ksize(o->p) < o->size)
			atomic_inc(&ss_short);
	} else {
		s = o->kind == SK_C64 ? ss_c64 : ss_c256;
		o->size = o->kind == SK_C64 ? 64 : 256;
		o->p = nid == NUMA_NO_NODE && (r & 0x100) ? rkmem_cache_alloc(s, gfp) :
							      rkmem_cache_alloc_node(s, gfp, nid);
	}
	if (!o->p) {
		atomic_inc(&ss_failed);
		return false;
	}
	o->tag = tag;
	stamp(o->p, o->size, tag);
	return true;
}

static void sobj_free(struct rkmem_stress_elem *o)
{
	if (!stamp_intact(o->p, o->size, o->tag))
		atomic_inc(&ss_broken);
	if (o->kind == SK_KMALLOC)
		rkmem_kfree(o->p);
	else
		rkmem_cache_free(o->kind == SK_C64 ? ss_c64 : ss_c256, o->p);
	o->p = NULL;
}

/* SS_BULK objects of one stress cache at once, stamped, freed in bulk. */
static void ss_bulk(u32 *rnd, u64 tag)
{
	bool small = xorshift(rnd) & 1;
	struct rkmem_cache *s = small ? ss_c64 : ss_c256;
	unsigned int size = small ? 64 : 256, i;
	void *p[SS_BULK];

	if (rkmem_cache_alloc_bulk(s, GFP_KERNEL, SS_BULK, p) != SS_BULK) {
		atomic_inc(&ss_failed);
		return;
	}
	atomic_add(SS_BULK, &ss_allocs);
	for (i = 0; i < SS_BULK; i++)
		stamp(p[i], size, tag | i);
	cond_resched();
	for (i = 0; i < SS_BULK; i++)
		if (!stamp_intact(p[i], size, tag | i))
			atomic_inc(&ss_broken);
	rkmem_cache_free_bulk(s, SS_BULK, p);
}

static bool ss_irq_alloc(struct rkmem_stress_elem *o, u32 *rnd, u64 tag)
{
	return sobj_alloc(o, rnd, tag, GFP_ATOMIC | __GFP_NOWARN, true);
}

static void ss_alloc(struct rkmem_stress_elem *o, u32 *rnd, unsigned long cpu, int i)
{
	u64 tag = (1ULL << 56) | ((u64)cpu << 40) | ((u64)i << 4);
	unsigned long flags;

	if (xorshift(rnd) % 4 == 0) {
		/* Interrupts off, the timer waits for the end. */
		local_irq_save(flags);
		if (sobj_alloc(o, rnd, tag, GFP_ATOMIC | __GFP_NOWARN, true))
			atomic_inc(&ss_allocs);
		local_irq_restore(flags);
	} else if (sobj_alloc(o, rnd, tag, GFP_KERNEL, false)) {
		atomic_inc(&ss_allocs);
	}
}

static void ss_extra(u32 *rnd, unsigned long cpu, int i)
{
	if (i % 64 == 32)
		ss_bulk(rnd, (3ULL << 56) | ((u64)cpu << 40) | ((u64)i << 4));
}

static const struct rkmem_stress_ops ss_ops = {
	.thread_seed = 0x9e3779b9u,
	.nr_slots = SS_SLOTS,
	.irq_alloc = ss_irq_alloc,
	.alloc = ss_alloc,
	.free = sobj_free,
	.extra = ss_extra,
};

static int slabstress_fn(void *arg)
{
	struct cpu_thread *ct = arg;

	rkmem_stress_thread(&ss, ct->cpu, slabstress, slabstress_secs);
	kthread_complete_and_exit(&ct->done, 0);
}

static void run_slabstress(void)
{
	unsigned long start = jiffies;
	struct rkmem_stress_totals t;
	unsigned int n;
	bool table;

	ss_c64 = rkmem_cache_create("slabstress-64", 64, 0, 0, NULL);
	ss_c256 = rkmem_cache_create("slabstress-256", 256, 0, SLAB_HWCACHE_ALIGN, NULL);
	table = rkmem_stress_init(&ss, &ss_ops, irq_period_us);
	expect(ss_c64 && ss_c256 && table, "slabstress: two caches and a table");
	if (!ss_c64 || !ss_c256 || !table)
		goto out;
	atomic_set(&ss_allocs, 0);
	atomic_set(&ss_broken, 0);
	atomic_set(&ss_failed, 0);
	atomic_set(&ss_short, 0);

	n = run_per_cpu(slabstress_fn, "rkmem_slabstress/%u", expect);

	/* Objects handed to a kthread that had already finished. */
	rkmem_stress_collect(&ss, &t);
	t.allocs += atomic_read(&ss_allocs);
	pr_info("rkmem_slab_client: slabstress: %lu allocations on %u CPUs, %lu in hard irq, %d broken stamps\n",
		t.allocs, n, t.irq_allocs, atomic_read(&ss_broken));
	pr_info("rkmem_slab_client: slabstress: %lu timer ticks, %lu frees on another CPU, %d failed allocations, %u ms\n",
		t.ticks, t.remote, atomic_read(&ss_failed), jiffies_to_msecs(jiffies - start));
	expect(atomic_read(&ss_broken) == 0, "slabstress: no object had two owners");
	expect(atomic_read(&ss_short) == 0, "slabstress: ksize at least the size asked");
	expect(t.irq_allocs > 0, "slabstress: allocations in hard irq");
	expect(atomic_read(&ss_allocs) > 0, "slabstress: kthread allocations");
	expect(atomic_read(&ss_failed) <= t.allocs / 10, "slabstress: few failed allocations");
	expect(n < 2 || t.remote > 0, "slabstress: frees on another CPU");
out:
	rkmem_cache_destroy(ss_c256);
	rkmem_cache_destroy(ss_c64);
	rkmem_stress_exit(&ss);
}

/* ---- corruptions ---- */

#define USABLE_OBJS 256

/*
 * rkmem still serves @s after a corruption: @n objects, all disjoint (each
 * stamped, checked after all are written), none overlapping @bad (an object
 * that must not be handed out: still allocated, or caught corrupt), all
 * freed again; and kmalloc still works.
 */
static void still_usable(struct rkmem_cache *s, unsigned int size, unsigned int n,
			 const void *bad, const char *what)
{
	unsigned int i, got = 0, reused = 0, broken = 0;
	void **p;

	p = kcalloc(n, sizeof(*p), GFP_KERNEL);
	if (!p) {
		expect(false, "usable after a corruption: table");
		return;
	}
	for (i = 0; i < n; i++) {
		p[i] = rkmem_cache_alloc(s, GFP_KERNEL);
		if (!p[i])
			continue;
		got++;
		if (bad && overlaps(p[i], size, bad, size))
			reused++;
		stamp(p[i], size, 0x5100000000000000ULL | i);
	}
	for (i = 0; i < n; i++)
		if (p[i] && !stamp_intact(p[i], size, 0x5100000000000000ULL | i))
			broken++;
	for (i = 0; i < n; i++)
		if (p[i])
			rkmem_cache_free(s, p[i]);
	kfree(p);
	expectf(got == n, "%s: %u of %u allocations after the corruption", what, got, n);
	expectf(!reused, "%s: the object was handed out again", what);
	expectf(!broken, "%s: %u objects handed out twice", what, broken);

	p = (void **)rkmem_kmalloc(100, GFP_KERNEL);
	expectf(p != NULL, "%s: kmalloc after the corruption", what);
	rkmem_kfree(p);
}

static struct rkmem_cache *corrupt_cache(const char *name, unsigned int size,
					 slab_flags_t flags)
{
	struct rkmem_cache *s = rkmem_cache_create(name, size, 0, flags, NULL);

	expectf(s != NULL, "create %s", name);
	keep(s);
	return s;
}

#define RZ_SIZE 100

/* One byte past the object (or before it), found at the free. */
static void corrupt_redzone(bool left)
{
	const char *what = left ? "redzone_left" : "redzone";
	struct rkmem_cache *s;
	u8 *p;

	s = corrupt_cache(left ? "slabclient-lredzone" : "slabclient-redzone", RZ_SIZE,
			  SLAB_RED_ZONE);
	if (!s)
		return;
	p = rkmem_cache_alloc(s, GFP_KERNEL);
	expect(p != NULL, "redzone: allocation");
	if (!p)
		return;
	memset(p, 0x33, RZ_SIZE);
	if (left)
		p[-1] = 0x42;
	else
		p[RZ_SIZE] = 0x42;
	rkmem_cache_free(s, p);
	still_usable(s, RZ_SIZE, 64, p, what);
}

#define POISON_SIZE 128

/*
 * A write after free: found by the next allocations (@validate: left for
 * the validate knob). A second object keeps the slab alive, so the write
 * lands in a slab, not in pages given back.
 */
static void corrupt_poison(bool validate)
{
	const char *what = validate ? "poison_validate" : "poison";
	struct rkmem_cache *s;
	u8 *p, *q;

	s = corrupt_cache(validate ? "slabclient-poisonv" : "slabclient-poison", POISON_SIZE,
			  SLAB_POISON);
	if (!s)
		return;
	p = rkmem_cache_alloc(s, GFP_KERNEL);
	q = rkmem_cache_alloc(s, GFP_KERNEL);
	expect(p && q, "poison: allocations");
	if (!p || !q)
		return;
	memset(p, 0x33, POISON_SIZE);
	rkmem_cache_free(s, p);
	p[POISON_SIZE / 2] = 0x42;
	if (validate) {
		/* q stays allocated until unload: the slab with p stays. */
		kept_obj_cache = s;
		kept_obj = q;
		pr_info("rkmem_slab_client: poison_validate: wrote into a free object of slabclient-poisonv\n");
		return;
	}
	still_usable(s, POISON_SIZE, 64, p, what);
	rkmem_cache_free(s, q);
}

#define CHECKED_SIZE 64

static void corrupt_doublefree(void)
{
	struct rkmem_cache *s;
	void *p, *q;

	s = corrupt_cache("slabclient-dfree", CHECKED_SIZE, SLAB_CONSISTENCY_CHECKS);
	if (!s)
		return;
	p = rkmem_cache_alloc(s, GFP_KERNEL);
	q = rkmem_cache_alloc(s, GFP_KERNEL);
	expect(p && q, "doublefree: allocations");
	if (!p || !q)
		return;
	rkmem_cache_free(s, p);
	rkmem_cache_free(s, p);
	/* p is free once: handed out at most once again. */
	still_usable(s, CHECKED_SIZE, 64, NULL, "doublefree");
	rkmem_cache_free(s, q);
}

/*
 * A plain cache: the same object freed twice in a row on one CPU, the
 * second free finds it at the head of that CPU's free list.
 */
static void corrupt_doublefree_fast(void)
{
	struct rkmem_cache *s;
	void *p, *q;

	s = corrupt_cache("slabclient-dfreefast", CHECKED_SIZE, 0);
	if (!s)
		return;
	preempt_disable();
	p = rkmem_cache_alloc(s, GFP_ATOMIC);
	q = rkmem_cache_alloc(s, GFP_ATOMIC);
	if (p && q) {
		rkmem_cache_free(s, p);
		rkmem_cache_free(s, p);
	}
	preempt_enable();
	expect(p && q, "doublefree_fast: allocations");
	if (!p || !q)
		return;
	still_usable(s, CHECKED_SIZE, USABLE_OBJS, NULL, "doublefree_fast");
	rkmem_cache_free(s, q);
}

/* A pointer 8 bytes into an object: refused, the object stays allocated. */
static void corrupt_midfree(const char *name, slab_flags_t flags, const char *what)
{
	struct rkmem_cache *s;
	u8 *p;

	s = corrupt_cache(name, CHECKED_SIZE, flags);
	if (!s)
		return;
	p = rkmem_cache_alloc(s, GFP_KERNEL);
	expect(p != NULL, "midfree: allocation");
	if (!p)
		return;
	memset(p, 0x77, CHECKED_SIZE);
	rkmem_cache_free(s, p + 8);
	still_usable(s, CHECKED_SIZE, 64, p, what);
	expectf(!memchr_inv(p, 0x77, CHECKED_SIZE), "%s: the object changed", what);
	rkmem_cache_free(s, p);
}

/* Freed to another cache: refused, the object stays allocated in its own. */
static void corrupt_wrongcache(const char *a_name, const char *b_name, slab_flags_t flags,
			       const char *what)
{
	struct rkmem_cache *a, *b;
	u8 *p;

	a = corrupt_cache(a_name, CHECKED_SIZE, flags);
	b = corrupt_cache(b_name, 2 * CHECKED_SIZE, flags);
	if (!a || !b)
		return;
	p = rkmem_cache_alloc(a, GFP_KERNEL);
	expect(p != NULL, "wrongcache: allocation");
	if (!p)
		return;
	memset(p, 0x5e, CHECKED_SIZE);
	rkmem_cache_free(b, p);
	still_usable(b, 2 * CHECKED_SIZE, 64, p, what);
	still_usable(a, CHECKED_SIZE, 64, p, what);
	expectf(!memchr_inv(p, 0x5e, CHECKED_SIZE), "%s: the object changed", what);
	rkmem_cache_free(a, p);
}

/* The host's memory given to rkmem: refused, left alone. */
static void corrupt_foreign(void)
{
	struct rkmem_cache *s;
	struct page *page;
	u8 *host;

	s = corrupt_cache("slabclient-foreign", CHECKED_SIZE, SLAB_CONSISTENCY_CHECKS);
	host = kmalloc(CHECKED_SIZE, GFP_KERNEL);
	page = alloc_page(GFP_KERNEL);
	expect(host && page, "foreign: host allocations");
	if (s && host && page) {
		memset(host, 0x6f, CHECKED_SIZE);
		memset(page_address(page), 0x6f, PAGE_SIZE);
		rkmem_cache_free(s, host);
		rkmem_kfree(host);
		rkmem_kfree(page_address(page));
		expect(!memchr_inv(host, 0x6f, CHECKED_SIZE) &&
		       !memchr_inv(page_address(page), 0x6f, PAGE_SIZE),
		       "foreign: the host's memory is left alone");
		still_usable(s, CHECKED_SIZE, 64, NULL, "foreign");
	}
	kfree(host);
	if (page)
		__free_page(page);
}

/*
 * An rkmem page that is no slab object, freed as one: refused, the page
 * stays allocated with its contents (its owner frees it afterwards, which
 * rkmem must take as the first free of the page).
 */
static void corrupt_notslab(void)
{
	struct rkmem_cache *s;
	struct page *page;
	u8 *addr;

	s = corrupt_cache("slabclient-notslab", CHECKED_SIZE, SLAB_CONSISTENCY_CHECKS);
	page = rkmem_alloc_pages(NUMA_NO_NODE, GFP_KERNEL, 0);
	expect(page != NULL, "notslab: page allocation");
	if (!s || !page)
		goto out;
	addr = page_address(page);
	memset(addr, 0x2d, PAGE_SIZE);
	rkmem_cache_free(s, addr);
	rkmem_cache_free(s, addr + CHECKED_SIZE);
	rkmem_kfree(addr);
	expect(!memchr_inv(addr, 0x2d, PAGE_SIZE) && page_ref_count(page) == 1,
	       "notslab: the page is left alone");
	expect(rkmem_ksize(addr) == 0, "notslab: ksize of a page that is no slab object is 0");
	still_usable(s, CHECKED_SIZE, 64, addr, "notslab");
out:
	if (page)
		rkmem_free_pages(page, 0);
}

/*
 * A plain cache keeps a free object's free pointer inside it: garbage
 * written over a freed object must be caught when the free list reaches
 * it, never followed. All on one CPU, so the object heads that CPU's list.
 */
static void corrupt_freeptr(void)
{
	struct rkmem_cache *s;
	void *p, *q;

	s = corrupt_cache("slabclient-freeptr", CHECKED_SIZE, 0);
	if (!s)
		return;
	preempt_disable();
	p = rkmem_cache_alloc(s, GFP_ATOMIC);
	q = rkmem_cache_alloc(s, GFP_ATOMIC);
	if (p && q) {
		rkmem_cache_free(s, p);
		memset(p, 0x41, CHECKED_SIZE);
	}
	preempt_enable();
	expect(p && q, "freeptr: allocations");
	if (!p || !q)
		return;
	/* More than the objects of p's slab. */
	still_usable(s, CHECKED_SIZE, USABLE_OBJS, NULL, "freeptr");
	rkmem_cache_free(s, q);
}

static void corrupt_redzone_right(void)
{
	corrupt_redzone(false);
}

static void corrupt_redzone_left(void)
{
	corrupt_redzone(true);
}

static void corrupt_poison_alloc(void)
{
	corrupt_poison(false);
}

static void corrupt_poison_validate(void)
{
	corrupt_poison(true);
}

static void corrupt_midfree_checked(void)
{
	corrupt_midfree("slabclient-midfree", SLAB_CONSISTENCY_CHECKS, "midfree");
}

static void corrupt_midfree_fast(void)
{
	corrupt_midfree("slabclient-midfast", 0, "midfree_fast");
}

static void corrupt_wrongcache_checked(void)
{
	corrupt_wrongcache("slabclient-wrong-a", "slabclient-wrong-b", SLAB_CONSISTENCY_CHECKS,
			   "wrongcache");
}

static void corrupt_wrongcache_fast(void)
{
	corrupt_wrongcache("slabclient-wrongfast-a", "slabclient-wrongfast-b", 0,
			   "wrongcache_fast");
}

static const struct {
	const char *name;
	void (*fn)(void);
} corruptions[] = {
	{ "redzone", corrupt_redzone_right },
	{ "redzone_left", corrupt_redzone_left },
	{ "poison", corrupt_poison_alloc },
	{ "poison_validate", corrupt_poison_validate },
	{ "doublefree", corrupt_doublefree },
	{ "midfree", corrupt_midfree_checked },
	{ "wrongcache", corrupt_wrongcache_checked },
	{ "foreign", corrupt_foreign },
	{ "notslab", corrupt_notslab },
	{ "freeptr", corrupt_freeptr },
	{ "midfree_fast", corrupt_midfree_fast },
	{ "wrongcache_fast", corrupt_wrongcache_fast },
	{ "doublefree_fast", corrupt_doublefree_fast },
};

static int corrupt_kind(const char *word)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(corruptions); i++)
		if (sysfs_streq(word, corruptions[i].name))
			return i;
	return -1;
}

static void run_corrupt(int kind)
{
	corruptions[kind].fn();
	pr_info("rkmem_slab_client: corrupt: %s done\n", corruptions[kind].name);
}

/* ---- destroy with live objects ---- */

static void run_leakcache(void)
{
	struct rkmem_cache *s;
	unsigned int i, got = 0;
	void *p;

	s = rkmem_cache_create("slabclient-leak", 64, 0, 0, NULL);
	expect(s != NULL, "create slabclient-leak");
	if (!s)
		return;
	for (i = 0; i < 10; i++) {
		p = rkmem_cache_alloc(s, GFP_KERNEL);
		if (p) {
			memset(p, 0x1e, 64);
			got++;
		}
	}
	rkmem_cache_destroy(s);
	pr_info("rkmem_slab_client: leakcache: destroyed slabclient-leak with %u live objects\n",
		got);
	expect(got == 10, "leakcache: 10 allocations");
}

static int __init rkmem_slab_client_init(void)
{
	int kind = -1;
	bool basic;

	if (corrupt) {
		kind = corrupt_kind(corrupt);
		if (kind < 0) {
			pr_err("rkmem_slab_client: unknown corrupt=%s\n", corrupt);
			return -EINVAL;
		}
	}
	if (slabstress < 0 || slabstress_secs <= 0 || irq_period_us <= 0)
		return -EINVAL;
	basic = !(do_kmalloc || do_kzalloc || do_node || do_align || do_badcache || do_ctor ||
		  do_zero || do_bulk || slabstress || kind >= 0 || leakcache);

	if (basic || do_kmalloc)
		run_kmalloc();
	if (basic || do_kzalloc)
		run_kzalloc();
	if (basic || do_node)
		run_node();
	if (basic || do_align)
		run_align();
	if (basic || do_badcache)
		run_badcache();
	if (basic || do_ctor)
		run_ctor();
	if (basic || do_zero)
		run_zero();
	if (basic || do_bulk)
		run_bulk();
	if (slabstress > 0)
		run_slabstress();
	if (kind >= 0)
		run_corrupt(kind);
	if (leakcache)
		run_leakcache();

	pr_info("rkmem_slab_client: %d checks failed\n", failures);
	return 0;
}

static void __exit rkmem_slab_client_exit(void)
{
	if (kept_obj)
		rkmem_cache_free(kept_obj_cache, kept_obj);
	while (nr_kept)
		rkmem_cache_destroy(kept[--nr_kept]);
}

module_init(rkmem_slab_client_init);
module_exit(rkmem_slab_client_exit);
MODULE_DESCRIPTION("A client of rkmem's object caches, for its selftests");
MODULE_LICENSE("GPL");
