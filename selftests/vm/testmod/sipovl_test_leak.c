// SPDX-License-Identifier: GPL-2.0
/*
 * Runner test module: leaks allocations when loaded (the pointers are
 * dropped), so the VM runner's kmemleak scan on the debug kernel can be shown
 * to fail the test file that loaded it.
 *
 * It leaks SIPOVL_TEST_LEAKS objects, not one: kmemleak is conservative, and a
 * stale copy of a pointer (a register spilled on a per-CPU IRQ stack by an
 * interrupt that arrived while the pointer was live, which the scan of the
 * per-CPU areas then finds) hides that one object until something overwrites
 * it. With one object the file passed in 1 of 6 runs on an idle machine and
 * in one CI run; each pointer here lives in a register for one iteration only.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#define SIPOVL_TEST_LEAKS 16

static int __init sipovl_test_leak_init(void)
{
	int i;

	for (i = 0; i < SIPOVL_TEST_LEAKS; i++) {
		char *p = kmalloc(1234, GFP_KERNEL);

		if (!p)
			return i ? 0 : -ENOMEM;
		strscpy(p, "sipovl_test_leak: deliberately leaked", 1234);
	}
	pr_info("leaking %d objects of 1234 bytes on purpose\n",
		SIPOVL_TEST_LEAKS);
	return 0;
}

static void __exit sipovl_test_leak_exit(void)
{
}

module_init(sipovl_test_leak_init);
module_exit(sipovl_test_leak_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sipovl VM runner test: memory leaks for kmemleak");
