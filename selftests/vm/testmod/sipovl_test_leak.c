// SPDX-License-Identifier: GPL-2.0
/*
 * Runner test module: leaks one allocation when loaded (the pointer is
 * dropped), so the VM runner's kmemleak scan on the debug kernel can be shown
 * to fail the test file that loaded it.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

static int __init sipovl_test_leak_init(void)
{
	char *p = kmalloc(1234, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	strscpy(p, "sipovl_test_leak: deliberately leaked", 1234);
	pr_info("leaking 1234 bytes on purpose\n");
	return 0;
}

static void __exit sipovl_test_leak_exit(void)
{
}

module_init(sipovl_test_leak_init);
module_exit(sipovl_test_leak_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sipovl VM runner test: a memory leak for kmemleak");
