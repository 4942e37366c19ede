// SPDX-License-Identifier: GPL-2.0
/*
 * Thin C wrappers for rkmem (see host_glue.h). No policy here.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/highmem.h>
#include <linux/percpu.h>
#include <linux/printk.h>
#include <linux/random.h>
#include <linux/moduleparam.h>
#include <linux/smp.h>
#include <linux/jiffies.h>
#include <linux/ratelimit.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/export.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/topology.h>
#include <linux/uaccess.h>

#include "host_glue.h"
#include "rkmem.h"

/* rust/logic/order.rs assumes the x86-64 default block order. */
static_assert(MAX_PAGE_ORDER == 10);
#ifndef CONFIG_ZONE_DMA
#error "rkmem expects CONFIG_ZONE_DMA (see qemu/config/base.config)"
#endif
/*
 * The per-CPU lists rely on spin_trylock failing when an interrupt comes in
 * during a list operation; on UP it always succeeds (the host then disables
 * IRQs instead, see pcp_trylock_prepare()).
 */
#ifndef CONFIG_SMP
#error "rkmem's per-CPU lists need CONFIG_SMP"
#endif

static const enum zone_type zone_of_kind[] = {
	[RKMEM_ZONE_DMA] = ZONE_DMA,
	[RKMEM_ZONE_DMA32] = ZONE_DMA32,
	[RKMEM_ZONE_NORMAL] = ZONE_NORMAL,
	[RKMEM_ZONE_MOVABLE] = ZONE_MOVABLE,
};

/* The zone modifier that makes the host allocate from @kind first. */
static const gfp_t gfp_of_kind[] = {
	[RKMEM_ZONE_DMA] = __GFP_DMA,
	[RKMEM_ZONE_DMA32] = __GFP_DMA32,
	[RKMEM_ZONE_NORMAL] = 0,
	[RKMEM_ZONE_MOVABLE] = __GFP_MOVABLE | __GFP_HIGHMEM,
};

unsigned int rkmem_host_max_order(void) { return MAX_PAGE_ORDER; }
int rkmem_host_nr_node_ids(void) { return nr_node_ids; }
bool rkmem_host_node_online(int nid) { return node_online(nid); }
bool rkmem_host_node_has_cpus(int nid) { return !cpumask_empty(cpumask_of_node(nid)); }
int rkmem_host_node_distance(int a, int b) { return node_distance(a, b); }

/*
 * The nodes of the host's own fallback zonelist of @nid, in order (a
 * node's zones are consecutive there: node-ordered zonelists), at most
 * @max; returns how many. The host builds these at boot before any CPU is
 * in cpumask_of_node() on x86, and again on memory hotplug, so the order
 * cannot be recomputed from today's inputs. Read without the host's
 * zonelist_update_seq (not exported): the caller skips ids it does not
 * know and repeats, so a racing rebuild gives a stale order, nothing worse.
 */
int rkmem_host_zonelist_nodes(int nid, u16 *out, int max)
{
	struct zoneref *z;
	int i, n = 0, last = NUMA_NO_NODE;

	if (nid < 0 || nid >= nr_node_ids || !node_possible(nid) || !NODE_DATA(nid))
		return 0;
	z = NODE_DATA(nid)->node_zonelists[ZONELIST_FALLBACK]._zonerefs;
	for (i = 0; i < MAX_ZONES_PER_ZONELIST && n < max; i++) {
		struct zone *zone = READ_ONCE(z[i].zone);
		int node;

		if (!zone)
			break;
		node = zone_to_nid(zone);
		if (node != last)
			out[n++] = node;
		last = node;
	}
	return n;
}

bool rkmem_host_zone_info(int nid, int kind, struct rkmem_zone_info *out)
{
	struct zone *zone;

	if (kind < 0 || kind >= ARRAY_SIZE(zone_of_kind) || !node_online(nid))
		return false;
	zone = &NODE_DATA(nid)->node_zones[zone_of_kind[kind]];
	if (!populated_zone(zone))
		return false;
	out->start_pfn = zone->zone_start_pfn;
	out->spanned_pages = zone->spanned_pages;
	out->present_pages = zone->present_pages;
	out->managed_pages = zone_managed_pages(zone);
	return true;
}

unsigned long rkmem_host_node_start_pfn(int nid) { return node_start_pfn(nid); }
unsigned long rkmem_host_node_end_pfn(int nid) { return node_end_pfn(nid); }

size_t rkmem_host_node_cpulist(int nid, char *buf, size_t len)
{
	return scnprintf(buf, len, "%*pbl", cpumask_pr_args(cpumask_of_node(nid)));
}

/*
 * The caller's reclaim bits, as mm/internal.h's GFP_RECLAIM_MASK, minus what
 * must not apply to a whole 4 MiB block: reserves (__GFP_HIGH,
 * __GFP_MEMALLOC) are for the caller's few pages, and __GFP_NOFAIL is not
 * allowed for costly orders (rkmem loops itself, see rkmem.h).
 */
#define RKMEM_BLOCK_RECLAIM_MASK (__GFP_RECLAIM | __GFP_IO | __GFP_FS | \
				  __GFP_RETRY_MAYFAIL | __GFP_NORETRY | \
				  __GFP_NOMEMALLOC | __GFP_NOLOCKDEP)

gfp_t rkmem_host_block_gfp(gfp_t gfp)
{
	return gfp & RKMEM_BLOCK_RECLAIM_MASK;
}

int rkmem_host_alloc_block(int nid, int kind, gfp_t reclaim, bool opportunistic,
			   unsigned long *pfn, int *landed)
{
	/* Never the emergency reserves, also for PF_MEMALLOC callers. */
	gfp_t gfp = (reclaim & RKMEM_BLOCK_RECLAIM_MASK) | __GFP_THISNODE | __GFP_NOWARN |
		    __GFP_NOMEMALLOC;
	struct page *page;

	if (kind < 0 || kind >= ARRAY_SIZE(gfp_of_kind))
		return RKMEM_BLOCK_NOMEM;
	if (opportunistic)
		gfp |= __GFP_NORETRY;
	page = alloc_pages_node(nid, gfp | gfp_of_kind[kind], MAX_PAGE_ORDER);
	if (!page)
		return RKMEM_BLOCK_NOMEM;
	*pfn = page_to_pfn(page);
	*landed = zone_kind_of(page_zonenum(page));
	/* The host may fall back to a lower zone of the node, never higher. */
	if (page_to_nid(page) != nid || *landed < 0 || *landed > kind) {
		__free_pages(page, MAX_PAGE_ORDER);
		return RKMEM_BLOCK_MISMATCH;
	}
	/* rkmem's free pages all have count 0; a hand-out sets 1. */
	set_page_count(page, 0);
	return RKMEM_BLOCK_OK;
}

void rkmem_host_free_block(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	/* The host's reference, as alloc_pages_node() left it. */
	set_page_count(page, 1);
	__free_pages(page, MAX_PAGE_ORDER);
}

int rkmem_host_pfn_nid(unsigned long pfn) { return page_to_nid(pfn_to_page(pfn)); }

int rkmem_host_pfn_zone_kind(unsigned long pfn)
{
	return zone_kind_of(page_zonenum(pfn_to_page(pfn)));
}

void rkmem_host_atomic_begin(void) { preempt_disable(); }
void rkmem_host_atomic_end(void) { preempt_enable(); }

/* __GFP_NOFAIL retry pause: a tick if the caller may sleep, else a spin. */
void rkmem_host_nofail_wait(bool can_sleep)
{
	if (can_sleep)
		schedule_timeout_uninterruptible(1);
	else
		cpu_relax();
}

/* Long loops of rkmem's, between steps, with no lock held. */
void rkmem_host_cond_resched(void)
{
	might_sleep();
	cond_resched();
}

bool rkmem_host_fatal_signal_pending(void) { return fatal_signal_pending(current); }

void rkmem_host_spin_lock_init(spinlock_t *lock, const char *name,
			       struct lock_class_key *key)
{
	/* As rust/helpers/spinlock.c: keep the caller's lockdep class. */
#if defined(CONFIG_DEBUG_SPINLOCK) && !defined(CONFIG_PREEMPT_RT)
	__raw_spin_lock_init(spinlock_check(lock), name, key, LD_WAIT_CONFIG);
#else
	spin_lock_init(lock);
#endif
}

unsigned long rkmem_host_spin_lock_irqsave(spinlock_t *lock)
{
	unsigned long flags;

	spin_lock_irqsave(lock, flags);
	return flags;
}

void rkmem_host_spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags)
{
	spin_unlock_irqrestore(lock, flags);
}

/* ---- block metadata: a cache sized to the struct ---- */

struct kmem_cache *rkmem_host_cache_create(const char *name, size_t size, size_t align)
{
	return kmem_cache_create(name, size, align, SLAB_HWCACHE_ALIGN, NULL);
}

void rkmem_host_cache_destroy(struct kmem_cache *cache) { kmem_cache_destroy(cache); }

void *rkmem_host_cache_alloc(struct kmem_cache *cache, gfp_t reclaim)
{
	return kmem_cache_alloc(cache, (reclaim & RKMEM_BLOCK_RECLAIM_MASK) | __GFP_NOWARN |
				__GFP_NOMEMALLOC);
}

void rkmem_host_cache_free(struct kmem_cache *cache, void *obj) { kmem_cache_free(cache, obj); }
size_t rkmem_host_cache_size(struct kmem_cache *cache) { return kmem_cache_size(cache); }

/* ---- page semantics of alloc_pages_node / __free_pages ---- */

/*
 * Hand-out: the first page gets the caller's reference (tails of a
 * non-compound chunk stay at 0, as the host leaves them); __GFP_COMP builds
 * the compound page as the host's prep_compound_page (mm/internal.h, not
 * exported); zeroing as __GFP_ZERO / init_on_alloc.
 */
void rkmem_host_page_prep(unsigned long pfn, unsigned int order, bool zero, bool comp)
{
	struct page *page = pfn_to_page(pfn);
	struct folio *folio = (struct folio *)page;
	unsigned int i, nr = 1U << order;

	if (zero)
		for (i = 0; i < nr; i++)
			clear_highpage(page + i);
	if (comp && order > 0) {
		__SetPageHead(page);
		for (i = 1; i < nr; i++) {
			page[i].mapping = TAIL_MAPPING;
			set_compound_head(page + i, page);
			set_page_private(page + i, 0);
		}
		folio->_flags_1 = (folio->_flags_1 & ~0xffUL) | order;
		folio->_folio_nr_pages = nr;
		atomic_set(&folio->_large_mapcount, -1);
		atomic_set(&folio->_entire_mapcount, -1);
		atomic_set(&folio->_nr_pages_mapped, 0);
		atomic_set(&folio->_pincount, 0);
		if (order > 1)
			INIT_LIST_HEAD(&folio->_deferred_list);
	}
	set_page_count(page, 1);
}

int rkmem_host_compound_order(unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn);

	return PageHead(page) ? compound_order(page) : -1;
}

int rkmem_host_numa_node_id(void) { return numa_node_id(); }

/*
 * Take-back of a chunk whose last reference is gone: undo the compound page
 * (every field prep touched, so the host's free checks stay silent when the
 * block goes back), zero as init_on_free.
 */
static void rkmem_page_release(struct page *page, unsigned int order)
{
	struct folio *folio = (struct folio *)page;
	unsigned int i, nr = 1U << order;

	if (order > 0 && PageHead(page)) {
		if (order > 1)
			INIT_LIST_HEAD(&folio->_deferred_list);
		folio->_flags_1 &= ~0xffUL;
		folio->_folio_nr_pages = 0;
		atomic_set(&folio->_large_mapcount, 0);
		atomic_set(&folio->_entire_mapcount, 0);
		atomic_set(&folio->_pincount, 0);
		for (i = 1; i < nr; i++) {
			clear_compound_head(page + i);
			page[i].mapping = NULL;
		}
		__ClearPageHead(page);
	}
	/*
	 * As the host's free_pages_prepare(): the caller's page flags and
	 * mapping do not survive into the next hand-out (nor into the host's
	 * checks when the block goes back).
	 */
	for (i = 0; i < nr; i++) {
		page[i].flags &= ~PAGE_FLAGS_CHECK_AT_PREP;
		page[i].mapping = NULL;
		set_page_private(page + i, 0);
	}
	if (want_init_on_free())
		for (i = 0; i < nr; i++)
			clear_highpage(page + i);
}

/*
 * A caller's free of the chunk of @order at @pfn, as __free_pages: drops
 * one reference unless it is already 0 (atomic_fetch_add_unless: of racing
 * frees exactly one sees the last reference). One call for the fast path.
 */
int rkmem_host_page_put_chunk(unsigned long pfn, unsigned int order)
{
	struct page *page = pfn_to_page(pfn);
	int old;

	if (PageTail(page) || (PageHead(page) && compound_order(page) != order))
		return RKMEM_PUT_WRONG_ORDER;
	old = atomic_fetch_add_unless(&page->_refcount, -1, 0);
	if (old == 0)
		return RKMEM_PUT_ALREADY_FREE;
	if (old > 1)
		return RKMEM_PUT_REFERENCED;
	rkmem_page_release(page, order);
	return RKMEM_PUT_LAST;
}

/* ---- per-CPU list cells: a spinlock_t followed by Rust's data ---- */

void __percpu *rkmem_host_percpu_alloc(size_t size, size_t align)
{
	void __percpu *base = __alloc_percpu(size, align);
	unsigned int cpu;

	if (base)
		for_each_possible_cpu(cpu)
			spin_lock_init((spinlock_t *)per_cpu_ptr(base, cpu));
	return base;
}

void rkmem_host_percpu_free(void __percpu *base) { free_percpu(base); }
void *rkmem_host_percpu_ptr(void __percpu *base, int cpu) { return per_cpu_ptr(base, cpu); }
int rkmem_host_nr_cpu_ids(void) { return nr_cpu_ids; }
bool rkmem_host_cpu_possible(int cpu) { return cpu_possible(cpu); }
int rkmem_host_cpu_to_node(int cpu) { return cpu_to_node(cpu); }

/*
 * This CPU's cell, locked, or NULL if it is taken: an interrupt came in
 * while this CPU was in a list operation (or a drain holds it), and the
 * caller goes to the buddy instead. As the host's pcp_spin_trylock: a
 * trylock never deadlocks, so IRQs stay on for list operations.
 */
void *rkmem_host_pcp_trylock_local(void __percpu *base, int *cpu)
{
	spinlock_t *lock;

	preempt_disable();
	lock = this_cpu_ptr((spinlock_t __percpu *)base);
	if (!spin_trylock(lock)) {
		preempt_enable();
		return NULL;
	}
	*cpu = smp_processor_id();
	return lock;
}

void rkmem_host_pcp_unlock_local(void *cell)
{
	spin_unlock(cell);
	preempt_enable();
}

/* Any CPU's cell, from process context (drains, reports, knobs). */
void *rkmem_host_pcp_lock_cpu(void __percpu *base, int cpu)
{
	spinlock_t *lock = per_cpu_ptr((spinlock_t __percpu *)base, cpu);

	spin_lock(lock);
	return lock;
}

void rkmem_host_pcp_unlock_cpu(void *cell) { spin_unlock(cell); }

/* ---- CPU hotplug: a dead CPU's lists are drained from another CPU ---- */

static int rkmem_cpu_dead(unsigned int cpu)
{
	rkmem_rust_cpu_dead(cpu);
	return 0;
}

int rkmem_host_cpuhp_register(void)
{
	return cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "mm/rkmem:dead", NULL,
					 rkmem_cpu_dead);
}

void rkmem_host_cpuhp_unregister(int state) { cpuhp_remove_state_nocalls(state); }

/* ---- debugfs ---- */

#define RKMEM_KNOB_MAX 256

/*
 * One open of a debugfs file: which file, and whether a write was made.
 * A knob takes one command per open, in one write() (as the kernel's
 * simple_write_to_buffer()-based knobs, which refuse a write at a nonzero
 * position): a later write on the same open file, also after a failed
 * first one, is refused whole with -EINVAL and never runs as a command of
 * its own. So a command split over two write() calls is never run in
 * halves (the first half alone is run only if it is a whole command).
 */
struct rkmem_knob_open {
	unsigned long id;
	atomic_t written;
};

static int rkmem_seq_show(struct seq_file *m, void *v)
{
	struct rkmem_knob_open *k = m->private;

	return rkmem_rust_show(m, k->id);
}

static int rkmem_debugfs_open(struct inode *inode, struct file *file)
{
	struct rkmem_knob_open *k = kzalloc(sizeof(*k), GFP_KERNEL);
	int ret;

	if (!k)
		return -ENOMEM;
	k->id = (unsigned long)inode->i_private;
	ret = single_open(file, rkmem_seq_show, k);
	if (ret)
		kfree(k);
	return ret;
}

static int rkmem_debugfs_release(struct inode *inode, struct file *file)
{
	struct seq_file *m = file->private_data;
	struct rkmem_knob_open *k = m->private;
	int ret = single_release(inode, file);

	kfree(k);
	return ret;
}

static ssize_t rkmem_debugfs_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	struct seq_file *m = file->private_data;
	struct rkmem_knob_open *k = m->private;
	char *buf;
	int ret;

	if (atomic_xchg(&k->written, 1) || *ppos != 0 || len == 0 || len >= RKMEM_KNOB_MAX)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = rkmem_rust_write(k->id, buf, len);
	kfree(buf);
	if (ret < 0)
		return ret;
	*ppos += len;
	return len;
}

static const struct file_operations rkmem_debugfs_fops = {
	.owner = THIS_MODULE,
	.open = rkmem_debugfs_open,
	.read = seq_read,
	.write = rkmem_debugfs_write,
	.llseek = seq_lseek,
	.release = rkmem_debugfs_release,
};

struct dentry *rkmem_host_debugfs_dir(const char *name)
{
	return debugfs_create_dir(name, NULL);
}

struct dentry *rkmem_host_debugfs_subdir(struct dentry *parent, const char *name)
{
	return debugfs_create_dir(name, parent);
}

void rkmem_host_debugfs_file(struct dentry *dir, const char *name, umode_t mode,
			     unsigned long id)
{
	debugfs_create_file(name, mode, dir, (void *)id, &rkmem_debugfs_fops);
}

void rkmem_host_debugfs_remove(struct dentry *dir) { debugfs_remove(dir); }

void rkmem_host_seq_write(struct seq_file *m, const char *s, size_t len)
{
	seq_write(m, s, len);
}

/* ---- shrinker ---- */

static unsigned long rkmem_shrink_count(struct shrinker *s, struct shrink_control *sc)
{
	return rkmem_rust_shrink_count(sc->nid);
}

static unsigned long rkmem_shrink_scan(struct shrinker *s, struct shrink_control *sc)
{
	unsigned long freed = rkmem_rust_shrink_scan(sc->nid, sc->nr_to_scan);

	return freed ? freed : SHRINK_STOP;
}

struct shrinker *rkmem_host_shrinker_register(void)
{
	struct shrinker *s = shrinker_alloc(SHRINKER_NUMA_AWARE, "rkmem");

	if (!s)
		return NULL;
	s->count_objects = rkmem_shrink_count;
	s->scan_objects = rkmem_shrink_scan;
	/* Free blocks cost nothing to recreate: give them up early. */
	s->seeks = 0;
	/* Scans free whole blocks; ask for one block's worth at a time. */
	s->batch = 1UL << MAX_PAGE_ORDER;
	shrinker_register(s);
	return s;
}

void rkmem_host_shrinker_unregister(struct shrinker *s) { shrinker_free(s); }

/* ---- the exported C API ---- */

/* One warning per burst, as the host's warn_alloc (which is not exported). */
static DEFINE_RATELIMIT_STATE(rkmem_warn_rs, 5 * HZ, 1);

/*
 * Bad input (rust/logic/bad_input.rs): one warning with a stack trace per
 * kind per 5 s (RKMEM_BAD_INPUT_INTERVAL_SECS in rust/host/mod.rs), as the
 * host's warn_alloc and "Bad page state" reports; the counts are Rust's.
 */
static struct ratelimit_state rkmem_bad_input_rs[RKMEM_BAD_INPUT_KINDS] = {
	[0 ... RKMEM_BAD_INPUT_KINDS - 1] = RATELIMIT_STATE_INIT(rkmem_bad_input_rs, 5 * HZ, 1),
};

bool rkmem_host_bad_input_ratelimit(unsigned int kind)
{
	if (kind >= ARRAY_SIZE(rkmem_bad_input_rs))
		return false;
	return __ratelimit(&rkmem_bad_input_rs[kind]);
}

void rkmem_host_dump_stack(void) { dump_stack(); }

void rkmem_host_warn_bad_alloc(const char *what, int what_len, const char *counter,
			       int counter_len, int nid, gfp_t gfp, unsigned int order)
{
	pr_warn("rkmem: refused allocation: %.*s: order:%u, mode:%#x(%pGg), nid=%d (counted in zoneinfo %.*s; one warning per kind per 5 s)\n",
		what_len, what, order, gfp, &gfp, nid, counter_len, counter);
	dump_stack();
}

/*
 * Bad input (an impossible node, zone modifiers or order) is refused with
 * NULL, counted per kind and warned about unless __GFP_NOWARN: checked in
 * that order, the first bad one counts.
 */
struct page *rkmem_alloc_pages(int nid, gfp_t gfp, unsigned int order)
{
	unsigned long pfn;
	unsigned int flags;
	int highest = gfp_zone_kind(gfp);

	might_alloc(gfp);
	if (nid != NUMA_NO_NODE &&
	    (nid < 0 || nid >= MAX_NUMNODES || !node_possible(nid) || !node_online(nid))) {
		rkmem_rust_bad_alloc(RKMEM_BAD_NODE, nid, gfp, order);
		return NULL;
	}
	if (highest < 0) {
		rkmem_rust_bad_alloc(RKMEM_BAD_ZONE, nid, gfp, order);
		return NULL;
	}
	if (order > MAX_PAGE_ORDER) {
		rkmem_rust_bad_alloc(RKMEM_BAD_ORDER, nid, gfp, order);
		return NULL;
	}
	if (nid == NUMA_NO_NODE)
		nid = numa_node_id();
	flags = alloc_flags_of(gfp);
	if (gfp & __GFP_COMP)
		flags |= RKMEM_ALLOC_COMP;
	if (!rkmem_rust_alloc(nid, highest, gfp, flags, order, &pfn))
		return pfn_to_page(pfn);
	if (!(gfp & __GFP_NOWARN) && __ratelimit(&rkmem_warn_rs))
		pr_warn("rkmem: page allocation failure: order:%u, mode:%#x(%pGg), nid=%d\n",
			order, gfp, &gfp, nid);
	return NULL;
}
EXPORT_SYMBOL_GPL(rkmem_alloc_pages);

void rkmem_free_pages(struct page *page, unsigned int order)
{
	if (page)
		rkmem_rust_free(page_to_pfn(page), order);
}
EXPORT_SYMBOL_GPL(rkmem_free_pages);

/* ---- the slab layer: struct page fields, per-CPU memory, reports ---- */

/*
 * rust/host/slab.rs keeps a slab's state in its head page's lru, index and
 * private words, as SLUB's struct slab overlays struct page.
 */
static_assert(sizeof(struct page) == 64);
static_assert(offsetof(struct page, lru) == 8);
static_assert(offsetof(struct page, compound_head) == 8);
static_assert(offsetof(struct page, index) == 32);
static_assert(offsetof(struct page, private) == 40);

void rkmem_host_page_geometry(unsigned long *page_offset, unsigned long *page_array)
{
	*page_offset = (unsigned long)PAGE_OFFSET;
	*page_array = (unsigned long)pfn_to_page(0);
}

void __percpu *rkmem_host_percpu_alloc_zeroed(size_t size, size_t align)
{
	return __alloc_percpu(size, align);
}

void rkmem_host_rcu_read_lock(void) { rcu_read_lock(); }
void rkmem_host_rcu_read_unlock(void) { rcu_read_unlock(); }
void rkmem_host_synchronize_rcu(void) { synchronize_rcu(); }

#define RKMEM_BORDER "============================================================================="

void rkmem_host_slab_bug(const char *cache, const char *what, const char *detail)
{
	pr_err("rkmem: " RKMEM_BORDER "\n");
	pr_err("rkmem: BUG %s: %s\n", cache, what);
	pr_err("rkmem: -----------------------------------------------------------------------------\n");
	if (detail && *detail)
		pr_err("rkmem: %s\n", detail);
}

void rkmem_host_hex_dump(const void *addr, size_t len)
{
	print_hex_dump(KERN_ERR, "rkmem: ", DUMP_PREFIX_ADDRESS, 16, 1, addr, len, true);
}

void rkmem_host_print_track(const char *kind, unsigned long addr, int cpu, int pid,
			    unsigned long when)
{
	pr_err("rkmem: %s in %pS age=%lu cpu=%d pid=%d\n", kind, (void *)addr,
	       jiffies - when, cpu, pid);
}

void rkmem_host_track_now(int *pid, unsigned long *when)
{
	*pid = current->pid;
	*when = jiffies;
}

bool rkmem_host_init_on_free(void) { return want_init_on_free(); }

/* slub_debug=: debug letters for every cache, the kmalloc ones included. */
static char *slub_debug;
module_param(slub_debug, charp, 0444);
MODULE_PARM_DESC(slub_debug, "debug flags of every cache, as slub_debug: F Z P U, or - (none)");

const char *rkmem_host_slub_debug(void) { return slub_debug; }

u64 rkmem_host_random_u64(void) { return get_random_u64(); }
