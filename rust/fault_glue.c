// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem's fault injection points, with the kernel's framework
 * (include/linux/fault-inject.h, as mm/fail_page_alloc.c and mm/failslab.c):
 * one struct fault_attr per kind, shown as /sys/kernel/debug/rkmem/fail_<kind>/
 * with the standard files plus ignore-gfp-wait. The decisions where to inject
 * are rust/host/fault.rs's; this file only owns the attributes.
 *
 * Without CONFIG_FAULT_INJECTION (the perf kernel) there are no attributes:
 * rkmem_host_fault_probability() gives NULL and nothing is ever injected.
 */
#include <linux/debugfs.h>
#include <linux/err.h>
#include <linux/fault-inject.h>
#include <linux/kernel.h>

#include "host_glue.h"

#ifdef CONFIG_FAULT_INJECTION

static struct rkmem_fault {
	struct fault_attr attr;
	/* As fail_page_alloc's and failslab's: spare requests that may sleep. */
	bool ignore_gfp_reclaim;
} rkmem_faults[RKMEM_FAULT_KINDS] = {
	[0 ... RKMEM_FAULT_KINDS - 1] = {
		.attr = FAULT_ATTR_INITIALIZER,
		.ignore_gfp_reclaim = true,
	},
};

void rkmem_host_fault_init(struct dentry *parent)
{
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	static const char *const names[RKMEM_FAULT_KINDS] = {
		[RKMEM_FAULT_GROW] = "fail_grow",
		[RKMEM_FAULT_PAGE] = "fail_page",
		[RKMEM_FAULT_SLAB] = "fail_slab",
		[RKMEM_FAULT_MEMPOOL] = "fail_mempool_backing",
	};
	int kind;

	for (kind = 0; kind < RKMEM_FAULT_KINDS; kind++) {
		struct rkmem_fault *f = &rkmem_faults[kind];
		struct dentry *dir;

		dir = fault_create_debugfs_attr(names[kind], parent, &f->attr);
		if (IS_ERR(dir))
			continue;
		debugfs_create_bool("ignore-gfp-wait", 0600, dir, &f->ignore_gfp_reclaim);
	}
#endif
}

unsigned long *rkmem_host_fault_probability(int kind)
{
	if (kind < 0 || kind >= RKMEM_FAULT_KINDS)
		return NULL;
	return &rkmem_faults[kind].attr.probability;
}

/*
 * should_fail_ex() (which takes FAULT_NOWARN for __GFP_NOWARN requests) is
 * not exported to modules; should_fail() is, so the verbose report is made
 * whatever the caller's gfp.
 */
bool rkmem_host_should_fail(int kind, size_t size, bool can_sleep)
{
	struct rkmem_fault *f;

	if (kind < 0 || kind >= RKMEM_FAULT_KINDS)
		return false;
	f = &rkmem_faults[kind];
	if (f->ignore_gfp_reclaim && can_sleep)
		return false;
	return should_fail(&f->attr, size);
}

#else /* CONFIG_FAULT_INJECTION */

void rkmem_host_fault_init(struct dentry *parent) { }

unsigned long *rkmem_host_fault_probability(int kind) { return NULL; }

bool rkmem_host_should_fail(int kind, size_t size, bool can_sleep) { return false; }

#endif /* CONFIG_FAULT_INJECTION */

/* alloc_flags_of() for rust/host/fault.rs's grow hook (a host block's gfp). */
unsigned int rkmem_host_gfp_flags(gfp_t gfp)
{
	return alloc_flags_of(gfp);
}
