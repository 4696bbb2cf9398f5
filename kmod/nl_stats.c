// SPDX-License-Identifier: GPL-2.0
/*
 * Counters of the family "sipovl": STATS_GET and its reset.
 */

#include <linux/kernel.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <uapi/linux/sipovl.h>

#include "netns.h"
#include "table.h"
#include "nl_int.h"

/*
 * A reset (SIPOVL_F_RESET_STATS) never writes to the per-CPU counters, which
 * other CPUs update without locks while it runs: it makes the sums just read
 * the new zero (the global base, @sum, the raw sums) and does the same for every
 * intercept of the current table. Each count is then in exactly one read.
 */
static int stats_reset(struct sipovl_net *sn, const struct sipovl_gstats *sum)
{
	struct sipovl_table *t = sipovl_table_get_locked(sn);
	u32 i;
	int ret;

	lockdep_assert_held(&sn->lock);
	for (i = 0; t && i < t->n; i++) {
		ret = sipovl_counters_prepare_rebase(t->ic[i]);
		if (ret)
			return ret;
	}
	sn->stats_base = *sum;
	for (i = 0; t && i < t->n; i++) {
		sipovl_counters_rebase(t->ic[i]);
		if (!(i & 1023))
			cond_resched();
	}
	return 0;
}

/* The attribute each global counter is sent as. */
static const u16 gstat_attr[SIPOVL_GS_MAX] = {
	[SIPOVL_GS_LOOKUPS] = SIPOVL_STATS_A_LOOKUPS,
	[SIPOVL_GS_STEERED] = SIPOVL_STATS_A_STEERED,
	[SIPOVL_GS_PASSED] = SIPOVL_STATS_A_PASSED,
	[SIPOVL_GS_DROPPED] = SIPOVL_STATS_A_DROPPED,
	[SIPOVL_GS_ERRORS] = SIPOVL_STATS_A_ERRORS,
	[SIPOVL_GS_REPLIES] = SIPOVL_STATS_A_REPLIES,
	[SIPOVL_GS_SRC_DENIED] = SIPOVL_STATS_A_SRC_DENIED,
	[SIPOVL_GS_DROP_NO_SOCKET] = SIPOVL_STATS_A_DROP_NO_SOCKET,
	[SIPOVL_GS_DROP_NOT_NEW] = SIPOVL_STATS_A_DROP_NOT_NEW,
	[SIPOVL_GS_DROP_MARTIAN] = SIPOVL_STATS_A_DROP_MARTIAN,
	[SIPOVL_GS_DROP_LOCAL_SRC] = SIPOVL_STATS_A_DROP_LOCAL_SRC,
	[SIPOVL_GS_DROP_RP_FILTER] = SIPOVL_STATS_A_DROP_RP_FILTER,
	[SIPOVL_GS_MALFORMED] = SIPOVL_STATS_A_MALFORMED,
	[SIPOVL_GS_REJECTED] = SIPOVL_STATS_A_REJECTED,
	[SIPOVL_GS_ICMP_ERRORS] = SIPOVL_STATS_A_ICMP_ERRORS,
};

int sipovl_nl_stats_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_gstats sum = {}, raw;
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;
	int cpu, i, ret = 0;
	u32 flags = 0;

	/* Unknown bits were refused by the policy (NLA_POLICY_MASK). */
	if (info->attrs[SIPOVL_A_FLAGS])
		flags = nla_get_u32(info->attrs[SIPOVL_A_FLAGS]);
	if (flags & ~SIPOVL_F_RESET_STATS) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[SIPOVL_A_FLAGS],
				    "only SIPOVL_F_RESET_STATS applies to STATS_GET");
		return -EINVAL;
	}
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	mutex_lock(&sn->lock);
	for_each_possible_cpu(cpu) {
		const struct sipovl_gstats_pcpu *s = per_cpu_ptr(sn->stats, cpu);
		unsigned int start;

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			for (i = 0; i < SIPOVL_GS_MAX; i++)
				raw.c[i] = u64_stats_read(&s->c[i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		for (i = 0; i < SIPOVL_GS_MAX; i++)
			sum.c[i] += raw.c[i];
	}
	raw = sum;
	for (i = 0; i < SIPOVL_GS_MAX; i++)
		sum.c[i] -= sn->stats_base.c[i];
	if (flags & SIPOVL_F_RESET_STATS)
		ret = stats_reset(sn, &raw);
	mutex_unlock(&sn->lock);
	if (ret) {
		NL_SET_ERR_MSG(info->extack, "out of memory");
		nlmsg_free(msg);
		return ret;
	}

	hdr = sipovl_nl_reply_put(msg, info, SIPOVL_CMD_STATS_GET);
	if (!hdr)
		goto err;
	nest = nla_nest_start(msg, SIPOVL_A_STATS);
	if (!nest)
		goto err;
	for (i = 0; i < SIPOVL_GS_MAX; i++)
		if (nla_put_u64_64bit(msg, gstat_attr[i], sum.c[i],
				      SIPOVL_STATS_A_PAD))
			goto err;
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
	return -EMSGSIZE;
}
