// SPDX-License-Identifier: GPL-2.0
/*
 * Runner test module: reads freed memory once when loaded, so the VM runner
 * can be shown to fail the test file on the debug kernel's KASAN (or KFENCE)
 * report. Harmless on other kernels (the read goes to a freed slab object).
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/compiler.h>

static int __init sipovl_test_uaf_init(void)
{
	char *p = kmalloc(128, GFP_KERNEL);
	char c;

	if (!p)
		return -ENOMEM;
	p[0] = 'x';
	kfree(p);
	OPTIMIZER_HIDE_VAR(p);
	c = READ_ONCE(p[0]);
	pr_info("read %d after free on purpose\n", c);
	return 0;
}

static void __exit sipovl_test_uaf_exit(void)
{
}

module_init(sipovl_test_uaf_init);
module_exit(sipovl_test_uaf_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sipovl VM runner test: a use-after-free for KASAN");
