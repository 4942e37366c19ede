// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem's memory notifier (rust/host/memhotplug.rs decides). Without
 * CONFIG_MEMORY_HOTPLUG, <linux/memory.h> makes the registration a stub and
 * struct memory_notify and MEM_* stay defined, so this file needs no #ifdef.
 */
#include <linux/memory.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/notifier.h>
#include <linux/page-isolation.h>

#include "host_glue.h"

static int rkmem_memory_callback(struct notifier_block *nb, unsigned long action, void *arg)
{
	struct memory_notify *mn = arg;

	if (action != MEM_GOING_OFFLINE)
		return NOTIFY_OK;
	return notifier_from_errno(rkmem_rust_memory_going_offline(mn->start_pfn,
								   mn->nr_pages));
}

static struct notifier_block rkmem_memory_nb = {
	.notifier_call = rkmem_memory_callback,
};

int rkmem_host_memory_notifier_register(void)
{
	return register_memory_notifier(&rkmem_memory_nb);
}

void rkmem_host_memory_notifier_unregister(void)
{
	unregister_memory_notifier(&rkmem_memory_nb);
}

/* Whether a pageblock of the rkmem block at @pfn is isolated (offline, CMA). */
bool rkmem_host_block_isolated(unsigned long pfn)
{
	unsigned long p;

	for (p = pfn; p < pfn + (1UL << MAX_PAGE_ORDER); p += pageblock_nr_pages)
		if (is_migrate_isolate_page(pfn_to_page(p)))
			return true;
	return false;
}
