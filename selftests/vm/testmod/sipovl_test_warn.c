// SPDX-License-Identifier: GPL-2.0
/*
 * Runner test module: triggers a real kernel WARN when loaded, so the VM
 * runner's kernel log check can be shown to fail the test file that loaded it.
 */
#include <linux/module.h>
#include <linux/bug.h>

static int __init sipovl_test_warn_init(void)
{
	WARN(1, "sipovl_test_warn: deliberate warning for the runner test\n");
	return 0;
}

static void __exit sipovl_test_warn_exit(void)
{
}

module_init(sipovl_test_warn_init);
module_exit(sipovl_test_warn_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sipovl VM runner test: WARN at load");
