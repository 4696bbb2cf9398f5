// SPDX-License-Identifier: GPL-2.0
/*
 * Table transactions of the family "sipovl": TABLE_BEGIN/ADD/COMMIT/ABORT.
 */

#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <net/genetlink.h>
#include <uapi/linux/sipovl.h>

#include "netns.h"
#include "table.h"
#include "nl_int.h"

static int reply_u32(struct genl_info *info, u8 cmd, int type, u32 v)
{
	struct sk_buff *skb = genlmsg_new(nla_total_size(4), GFP_KERNEL);
	void *hdr;

	if (!skb)
		return -ENOMEM;
	hdr = sipovl_nl_reply_put(skb, info, cmd);
	if (!hdr || nla_put_u32(skb, type, v)) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
}

int sipovl_nl_table_begin(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_txn *txn;
	u32 id;

	mutex_lock(&sn->lock);
	txn = sipovl_txn_begin(sn, info->snd_portid, info->extack);
	id = IS_ERR(txn) ? 0 : txn->id;
	mutex_unlock(&sn->lock);
	if (IS_ERR(txn))
		return PTR_ERR(txn);
	return reply_u32(info, SIPOVL_CMD_TABLE_BEGIN, SIPOVL_A_TXN_ID, id);
}

static struct sipovl_txn *txn_of(struct sipovl_net *sn, struct genl_info *info)
{
	struct sipovl_txn *txn;

	if (!info->attrs[SIPOVL_A_TXN_ID]) {
		sipovl_set_err(info->extack, "missing SIPOVL_A_TXN_ID");
		return ERR_PTR(-EINVAL);
	}
	txn = sipovl_txn_find(sn, nla_get_u32(info->attrs[SIPOVL_A_TXN_ID]),
			      info->snd_portid);
	if (!txn) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[SIPOVL_A_TXN_ID],
				    "no such table transaction on this socket");
		return ERR_PTR(-ENOENT);
	}
	return txn;
}

int sipovl_nl_table_add(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_intercept *ic;
	struct sipovl_txn *txn;
	struct nlattr *a;
	int rem, ret = 0;

	mutex_lock(&sn->lock);
	txn = txn_of(sn, info);
	if (IS_ERR(txn)) {
		ret = PTR_ERR(txn);
		goto out;
	}
	nlmsg_for_each_attr(a, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(a) != SIPOVL_A_INTERCEPT)
			continue;
		ic = sipovl_nl_parse_intercept(a, NEED_FULL, info->extack);
		if (IS_ERR(ic)) {
			ret = PTR_ERR(ic);
			break;
		}
		if (!ic->id) {
			NL_SET_ERR_MSG_ATTR(info->extack, a,
					    "intercepts in a table transaction need an id");
			sipovl_intercept_put(ic);
			ret = -EINVAL;
			break;
		}
		ret = sipovl_txn_append(sn, txn, ic, info->extack);
		if (ret)
			break;
	}
	if (ret)
		sipovl_txn_abort(sn, txn);
out:
	mutex_unlock(&sn->lock);
	return ret;
}

int sipovl_nl_table_commit(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_srcset *srcs;
	struct sipovl_txn *txn;
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;
	u32 gen = 0;
	int ret, used;

	/* Bad sources fail the commit; the transaction stays open. */
	srcs = sipovl_nl_parse_sources(info->attrs[SIPOVL_A_SOURCES], info->extack);
	if (IS_ERR(srcs))
		return PTR_ERR(srcs);
	msg = genlmsg_new(2 * nla_total_size(4), GFP_KERNEL);
	if (!msg) {
		sipovl_srcset_free(srcs);
		return -ENOMEM;
	}
	mutex_lock(&sn->lock);
	txn = txn_of(sn, info);
	used = IS_ERR(txn) ? PTR_ERR(txn) : sipovl_net_use(sn, info->extack);
	if (used < 0) {
		ret = used;
	} else {
		ret = sipovl_txn_commit(sn, txn, srcs, info->extack);
		gen = sn->generation;
		if (ret)
			sipovl_net_unuse(sn, used);
	}
	mutex_unlock(&sn->lock);
	if (ret) {
		sipovl_srcset_free(srcs);
		nlmsg_free(msg);
		return ret;
	}
	sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_TABLE_COMMIT, NULL, gen);
	if (srcs)
		sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_SOURCES_SET, NULL, gen);
	hdr = sipovl_nl_reply_put(msg, info, SIPOVL_CMD_TABLE_COMMIT);
	if (!hdr || nla_put_u32(msg, SIPOVL_A_GENERATION, gen))
		goto err;
	if (srcs) {
		/* An empty SIPOVL_A_SOURCES: the sources were replaced too. */
		nest = nla_nest_start(msg, SIPOVL_A_SOURCES);
		if (!nest)
			goto err;
		nla_nest_end(msg, nest);
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

int sipovl_nl_table_abort(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_txn *txn;
	int ret = 0;

	mutex_lock(&sn->lock);
	txn = txn_of(sn, info);
	if (IS_ERR(txn))
		ret = PTR_ERR(txn);
	else
		sipovl_txn_abort(sn, txn);
	mutex_unlock(&sn->lock);
	return ret;
}
