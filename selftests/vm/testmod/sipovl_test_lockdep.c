// SPDX-License-Identifier: GPL-2.0
/*
 * Runner test module: takes two mutexes in one order, then in the other (one
 * thread, so it never deadlocks), so the VM runner can be shown to fail the
 * test file on the debug kernel's lockdep report ("possible circular locking
 * dependency"). Harmless on kernels without lockdep.
 */
#include <linux/module.h>
#include <linux/mutex.h>

static DEFINE_MUTEX(sipovl_test_a);
static DEFINE_MUTEX(sipovl_test_b);

static int __init sipovl_test_lockdep_init(void)
{
	mutex_lock(&sipovl_test_a);
	mutex_lock(&sipovl_test_b);
	mutex_unlock(&sipovl_test_b);
	mutex_unlock(&sipovl_test_a);

	mutex_lock(&sipovl_test_b);
	mutex_lock(&sipovl_test_a);
	mutex_unlock(&sipovl_test_a);
	mutex_unlock(&sipovl_test_b);
	return 0;
}

static void __exit sipovl_test_lockdep_exit(void)
{
}

module_init(sipovl_test_lockdep_init);
module_exit(sipovl_test_lockdep_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sipovl VM runner test: an AB-BA lock order for lockdep");
