// SPDX-License-Identifier: GPL-2.0
/*
 * Runner test module: hangs the whole guest when loaded. Its init stops the
 * machine (every CPU spins with interrupts off) and never lets go, so nothing
 * in the guest, not even a timeout, can make progress: the host side of the VM
 * runner must notice, kill the VM and report the hang with the console log.
 */
#include <linux/module.h>
#include <linux/stop_machine.h>

static int sipovl_test_hang_fn(void *unused)
{
	for (;;)
		cpu_relax();
	return 0;
}

static int __init sipovl_test_hang_init(void)
{
	pr_emerg("sipovl_test_hang: stopping the machine on purpose\n");
	return stop_machine(sipovl_test_hang_fn, NULL, NULL);
}

module_init(sipovl_test_hang_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sipovl VM runner test: hang the guest at load");
