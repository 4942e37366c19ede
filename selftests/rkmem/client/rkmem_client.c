// SPDX-License-Identifier: GPL-2.0
/*
 * rkmem_client: a module that uses rkmem's C API the way a real client
 * would. Its init checks placement (node and zone of every page, as the host
 * sees them), allocation with interrupts off, and that the pages are usable
 * memory; it fails to load (-EIO) if any check fails. With leak=1 it keeps
 * one allocation forever, to test rkmem's unload with live pages.
 */
#include <linux/gfp.h>
#include <linux/irqflags.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/string.h>

#include "rkmem.h"

static int leak;
module_param(leak, int, 0444);
MODULE_PARM_DESC(leak, "keep one order-3 allocation and never free it");

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
