// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "sipovl": see uapi/linux/sipovl.h for the API.
 *
 * Every handler parses and validates its whole request before changing
 * anything; a failure leaves the configuration as it was and says why in
 * extack.
 */

#include <linux/kernel.h>
#include <linux/hashtable.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <uapi/linux/sipovl.h>

#include "netlink.h"
#include "netns.h"
#include "steer.h"
#include "table.h"
#include "nl_int.h"

static struct genl_family sipovl_family;

void sipovl_nl_notify(struct net *net, u8 cmd,
		      const struct sipovl_intercept *ic, u32 generation)
{
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&sipovl_family, net, 0))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &sipovl_family, 0, cmd);
	if (!hdr ||
	    nla_put_u32(skb, SIPOVL_A_GENERATION, generation) ||
	    (ic && sipovl_nl_put_intercept(skb, ic, false))) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	genlmsg_multicast_netns(&sipovl_family, net, skb, 0, 0, GFP_KERNEL);
}

/* A reply to @info's request: the family stays private to this file. */
void *sipovl_nl_reply_put(struct sk_buff *skb, struct genl_info *info, u8 cmd)
{
	return genlmsg_put_reply(skb, info, &sipovl_family, 0, cmd);
}

/* A message of the dump @cb. */
void *sipovl_nl_dump_put(struct sk_buff *skb, struct netlink_callback *cb,
			 u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &sipovl_family, NLM_F_MULTI, cmd);
}

/* Handlers */

static const struct genl_ops sipovl_ops[] = {
	{
		.cmd = SIPOVL_CMD_INTERCEPT_ADD,
		.doit = sipovl_nl_intercept_addrep,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_INTERCEPT_REPLACE,
		.doit = sipovl_nl_intercept_addrep,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_INTERCEPT_DEL,
		.doit = sipovl_nl_intercept_del,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_INTERCEPT_GET,
		.doit = sipovl_nl_intercept_get,
		.start = sipovl_nl_intercept_dump_start,
		.dumpit = sipovl_nl_intercept_dump,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_INTERCEPT_FLUSH,
		.doit = sipovl_nl_intercept_flush,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_TABLE_BEGIN,
		.doit = sipovl_nl_table_begin,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_TABLE_ADD,
		.doit = sipovl_nl_table_add,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_TABLE_COMMIT,
		.doit = sipovl_nl_table_commit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_TABLE_ABORT,
		.doit = sipovl_nl_table_abort,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_SOCKET_REGISTER,
		.doit = sipovl_nl_socket_register,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_SOCKET_UNREGISTER,
		.doit = sipovl_nl_socket_unregister,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_SOURCES_SET,
		.doit = sipovl_nl_sources_set,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_CONFIG_GET,
		.doit = sipovl_nl_config_get,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_STATS_GET,
		.doit = sipovl_nl_stats_get,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_LOOKUP,
		.doit = sipovl_nl_lookup,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static const struct genl_multicast_group sipovl_mcgrps[] = {
	{ .name = SIPOVL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family sipovl_family __ro_after_init = {
	.name = SIPOVL_GENL_NAME,
	.version = SIPOVL_GENL_VERSION,
	.maxattr = SIPOVL_A_MAX,
	.policy = sipovl_policy,
	.netnsok = true,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = sipovl_ops,
	.n_ops = ARRAY_SIZE(sipovl_ops),
	.mcgrps = sipovl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(sipovl_mcgrps),
};

int __init sipovl_genl_init(void)
{
	return genl_register_family(&sipovl_family);
}

void sipovl_genl_exit(void)
{
	genl_unregister_family(&sipovl_family);
	sipovl_extack_bufs_free();
}
