// SPDX-License-Identifier: GPL-2.0
/*
 * sipovl: CIDR + port-range intercepts for a SIP/VoIP zero-trust overlay.
 *
 * Module entry points. Init order: work queue -> per-netns state (the
 * netfilter hooks of a namespace are registered by its first configuration
 * change, netns.c) -> generic netlink.
 */

#include <linux/module.h>
#include <linux/init.h>
#include <net/genetlink.h>
#include <uapi/linux/sipovl.h>

#include "netns.h"
#include "netlink.h"
#include "table.h"
#include "version.h"

static int __init sipovl_mod_init(void)
{
	int ret;

	ret = sipovl_table_init();
	if (ret)
		return ret;
	ret = sipovl_netns_init();
	if (ret)
		goto err_table;
	ret = sipovl_genl_init();
	if (ret)
		goto err_netns;

	pr_info("sipovl %s loaded\n", SIPOVL_VERSION);
	return 0;

err_netns:
	sipovl_netns_exit();
err_table:
	sipovl_table_exit();
	return ret;
}

static void __exit sipovl_mod_exit(void)
{
	sipovl_genl_exit();
	sipovl_netns_exit();
	sipovl_table_exit();
	pr_info("sipovl unloaded\n");
}

module_init(sipovl_mod_init);
module_exit(sipovl_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("CIDR + port-range intercepts steered to transparent sockets");
MODULE_AUTHOR("The sipovl authors");
MODULE_VERSION(SIPOVL_VERSION);
MODULE_ALIAS_GENL_FAMILY(SIPOVL_GENL_NAME);
