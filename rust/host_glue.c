// SPDX-License-Identifier: GPL-2.0
/*
 * Thin C wrappers for rkmem (see host_glue.h). No policy here.
 */
#include <linux/debugfs.h>
#include <linux/export.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
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

static int zone_kind_of(enum zone_type z)
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
int rkmem_host_node_distance(int a, int b) { return node_distance(a, b); }
int rkmem_host_numa_node_id(void) { return numa_node_id(); }

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

int rkmem_host_alloc_block(int nid, int kind, bool can_sleep, bool opportunistic,
			   unsigned long *pfn)
{
	gfp_t gfp = (can_sleep ? GFP_KERNEL : GFP_NOWAIT) | __GFP_THISNODE | __GFP_NOWARN;
	struct page *page;

	if (kind < 0 || kind >= ARRAY_SIZE(gfp_of_kind))
		return RKMEM_BLOCK_NOMEM;
	if (opportunistic)
		gfp |= __GFP_NORETRY;
	page = alloc_pages_node(nid, gfp | gfp_of_kind[kind], MAX_PAGE_ORDER);
	if (!page)
		return RKMEM_BLOCK_NOMEM;
	*pfn = page_to_pfn(page);
	if (page_to_nid(page) != nid || zone_kind_of(page_zonenum(page)) != kind) {
		__free_pages(page, MAX_PAGE_ORDER);
		return RKMEM_BLOCK_MISMATCH;
	}
	return RKMEM_BLOCK_OK;
}

void rkmem_host_free_block(unsigned long pfn)
{
	__free_pages(pfn_to_page(pfn), MAX_PAGE_ORDER);
}

int rkmem_host_pfn_nid(unsigned long pfn) { return page_to_nid(pfn_to_page(pfn)); }

int rkmem_host_pfn_zone_kind(unsigned long pfn)
{
	return zone_kind_of(page_zonenum(pfn_to_page(pfn)));
}

/* One alloc+free through the host, for side-by-side timing. */
bool rkmem_host_alloc_free_pages(int nid, unsigned int order)
{
	struct page *page = alloc_pages_node(nid, GFP_KERNEL | __GFP_NOWARN, order);

	if (!page)
		return false;
	__free_pages(page, order);
	return true;
}

u64 rkmem_host_time_ns(void) { return ktime_get_ns(); }
size_t rkmem_host_kmalloc_size(size_t size) { return kmalloc_size_roundup(size); }
void rkmem_host_atomic_begin(void) { preempt_disable(); }
void rkmem_host_atomic_end(void) { preempt_enable(); }
void rkmem_host_cond_resched(void) { cond_resched(); }

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

/* ---- debugfs ---- */

#define RKMEM_KNOB_MAX 256

static int rkmem_seq_show(struct seq_file *m, void *v)
{
	return rkmem_rust_show(m, (unsigned long)m->private);
}

static int rkmem_debugfs_open(struct inode *inode, struct file *file)
{
	return single_open(file, rkmem_seq_show, inode->i_private);
}

static ssize_t rkmem_debugfs_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	struct seq_file *m = file->private_data;
	char *buf;
	int ret;

	if (*ppos != 0 || len == 0 || len >= RKMEM_KNOB_MAX)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = rkmem_rust_write((unsigned long)m->private, buf, len);
	kfree(buf);
	return ret < 0 ? ret : len;
}

static const struct file_operations rkmem_debugfs_fops = {
	.owner = THIS_MODULE,
	.open = rkmem_debugfs_open,
	.read = seq_read,
	.write = rkmem_debugfs_write,
	.llseek = seq_lseek,
	.release = single_release,
};

struct dentry *rkmem_host_debugfs_dir(const char *name)
{
	return debugfs_create_dir(name, NULL);
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

struct page *rkmem_alloc_pages(int nid, gfp_t gfp, unsigned int order)
{
	unsigned long pfn;
	int highest = zone_kind_of(gfp_zone(gfp));

	if (nid == NUMA_NO_NODE)
		nid = numa_node_id();
	if (highest < 0 || order > MAX_PAGE_ORDER)
		return NULL;
	if (rkmem_rust_alloc(nid, highest, gfp & __GFP_THISNODE,
			     gfpflags_allow_blocking(gfp), order, &pfn))
		return NULL;
	return pfn_to_page(pfn);
}
EXPORT_SYMBOL_GPL(rkmem_alloc_pages);

void rkmem_free_pages(struct page *page, unsigned int order)
{
	if (page)
		rkmem_rust_free(page_to_pfn(page), order);
}
EXPORT_SYMBOL_GPL(rkmem_free_pages);
