// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem's memory notifier (rust/host/memhotplug.rs decides). Without
 * CONFIG_MEMORY_HOTPLUG, <linux/memory.h> makes the registration a stub and
 * struct memory_notify and MEM_* stay defined, so this file needs no #ifdef.
 */
#include <linux/memory.h>
#include <linux/notifier.h>

#include "host_glue.h"

static int rkmem_memory_callback(struct notifier_block *nb, unsigned long action, void *arg)
{
	struct memory_notify *mn = arg;

	switch (action) {
	case MEM_GOING_OFFLINE:
		return notifier_from_errno(rkmem_rust_memory_going_offline(mn->start_pfn,
									   mn->nr_pages));
	case MEM_OFFLINE:
	case MEM_CANCEL_OFFLINE:
		rkmem_rust_memory_offline_over();
		return NOTIFY_OK;
	default:
		return NOTIFY_OK;
	}
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
