// SPDX-License-Identifier: GPL-2.0
/*
 * Intercept commands of the family "sipovl": INTERCEPT_ADD/REPLACE/DEL/GET
 * (and its dump)/FLUSH, and LOOKUP (which intercept a tuple matches).
 */

#include <linux/kernel.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include <uapi/linux/sipovl.h>

#include "netns.h"
#include "table.h"
#include "nl_int.h"

/* @gen: the table generation to report (0: none). */
static int reply_intercept(struct genl_info *info,
			   const struct sipovl_intercept *ic, u8 cmd, u32 gen)
{
	struct sk_buff *skb = genlmsg_new(sipovl_nl_intercept_size(ic) + nla_total_size(4),
					  GFP_KERNEL);
	void *hdr;

	if (!skb)
		return -ENOMEM;
	hdr = sipovl_nl_reply_put(skb, info, cmd);
	/* After the intercept: parsers that take the first attribute. */
	if (!hdr || sipovl_nl_put_intercept(skb, ic, true) ||
	    (gen && nla_put_u32(skb, SIPOVL_A_GENERATION, gen))) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
}

int sipovl_nl_intercept_addrep(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	bool add = info->genlhdr->cmd == SIPOVL_CMD_INTERCEPT_ADD;
	struct sipovl_intercept *ic, *cur;
	int ret, used;
	u32 gen;

	ic = sipovl_nl_parse_intercept(info->attrs[SIPOVL_A_INTERCEPT], NEED_FULL, info->extack);
	if (IS_ERR(ic))
		return PTR_ERR(ic);
	mutex_lock(&sn->lock);
	used = sipovl_net_use(sn, info->extack);
	if (used < 0) {
		mutex_unlock(&sn->lock);
		sipovl_intercept_put(ic);
		return used;
	}
	if (add)
		ret = sipovl_table_add(sn, ic, info->extack);
	else
		ret = sipovl_table_replace(sn, ic, info->extack);
	if (ret) {
		sipovl_net_unuse(sn, used);
		mutex_unlock(&sn->lock);
		return ret;
	}
	/* The table holds @ic now; keep it alive for the reply. */
	cur = ic;
	refcount_inc(&cur->ref);
	gen = sn->generation;
	mutex_unlock(&sn->lock);

	ret = reply_intercept(info, cur, info->genlhdr->cmd, 0);
	sipovl_nl_notify(genl_info_net(info), info->genlhdr->cmd, cur, gen);
	sipovl_intercept_put(cur);
	return ret;
}

int sipovl_nl_intercept_del(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_intercept *key, *cur;
	u32 gen;
	int ret;

	key = sipovl_nl_parse_intercept(info->attrs[SIPOVL_A_INTERCEPT], NEED_KEY, info->extack);
	if (IS_ERR(key))
		return PTR_ERR(key);
	mutex_lock(&sn->lock);
	cur = sipovl_table_find(sipovl_table_get_locked(sn), key->id, key->name);
	if (cur)
		refcount_inc(&cur->ref);
	ret = sipovl_table_del(sn, key->id, key->name, info->extack);
	gen = sn->generation;
	mutex_unlock(&sn->lock);
	if (!ret)
		sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_INTERCEPT_DEL, cur, gen);
	sipovl_intercept_put(cur);
	sipovl_intercept_put(key);
	return ret;
}

int sipovl_nl_intercept_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_intercept *key, *cur;
	int ret;

	key = sipovl_nl_parse_intercept(info->attrs[SIPOVL_A_INTERCEPT], NEED_KEY, info->extack);
	if (IS_ERR(key))
		return PTR_ERR(key);
	mutex_lock(&sn->lock);
	cur = sipovl_table_find(sipovl_table_get_locked(sn), key->id, key->name);
	if (cur)
		refcount_inc(&cur->ref);
	mutex_unlock(&sn->lock);
	if (!cur) {
		if (key->id)
			SIPOVL_ERR_FMT(info->extack, "no intercept with id %u", key->id);
		else
			SIPOVL_ERR_FMT(info->extack, "no intercept named \"%s\"", key->name);
		sipovl_intercept_put(key);
		return -ENOENT;
	}
	sipovl_intercept_put(key);
	ret = reply_intercept(info, cur, SIPOVL_CMD_INTERCEPT_GET, 0);
	sipovl_intercept_put(cur);
	return ret;
}

/*
 * Dump cursor: args[0] is the next id to send, a u32 (cb->args are longs:
 * 32 bits on 32-bit kernels, so "id + 1" of id U32_MAX must not be stored
 * there); args[1] is set once the intercept with id U32_MAX was sent.
 */
int sipovl_nl_intercept_dump_start(struct netlink_callback *cb)
{
	cb->args[0] = 1;
	cb->args[1] = 0;
	/* One intercept with the maximum prefixes and ranges must fit. */
	cb->min_dump_alloc = 32768;
	return 0;
}

int sipovl_nl_intercept_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct sipovl_net *sn = sipovl_pernet(sock_net(skb->sk));
	struct sipovl_table *t;
	u32 next = cb->args[0];
	u32 lo, hi, i, id;
	void *hdr;

	if (cb->args[1])
		return 0;
	mutex_lock(&sn->lock);
	t = sipovl_table_get_locked(sn);
	cb->seq = sn->generation;
	lo = 0;
	hi = t ? t->n : 0;
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (t->ic[mid]->id < next)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; t && i < t->n; i++) {
		hdr = sipovl_nl_dump_put(skb, cb, SIPOVL_CMD_INTERCEPT_GET);
		if (!hdr)
			break;
		genl_dump_check_consistent(cb, hdr);
		if (sipovl_nl_put_intercept(skb, t->ic[i], true)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		id = t->ic[i]->id;
		if (id == U32_MAX)
			cb->args[1] = 1;
		else
			cb->args[0] = id + 1;
	}
	mutex_unlock(&sn->lock);
	return skb->len;
}

int sipovl_nl_intercept_flush(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	u32 gen;
	int ret;

	mutex_lock(&sn->lock);
	ret = sipovl_table_flush(sn);
	gen = sn->generation;
	mutex_unlock(&sn->lock);
	if (!ret)
		sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_INTERCEPT_FLUSH, NULL, gen);
	return ret;
}

int sipovl_nl_lookup(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[SIPOVL_TUPLE_A_MAX + 1];
	struct nlattr *nest = info->attrs[SIPOVL_A_TUPLE];
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_intercept *ic = NULL;
	struct sipovl_table *t;
	u8 src[16] = {}, dst[16] = {};
	struct mt_key k = {};
	u8 fam, proto;
	u32 gen = 0;
	s32 idx;
	int ret;

	if (!nest) {
		sipovl_set_err(info->extack, "missing SIPOVL_A_TUPLE");
		return -EINVAL;
	}
	ret = nla_parse_nested(tb, SIPOVL_TUPLE_A_MAX, nest, sipovl_tuple_policy, info->extack);
	if (ret)
		return ret;
	if (!tb[SIPOVL_TUPLE_A_FAMILY] || !tb[SIPOVL_TUPLE_A_PROTOCOL] ||
	    !tb[SIPOVL_TUPLE_A_SRC] || !tb[SIPOVL_TUPLE_A_DST] ||
	    !tb[SIPOVL_TUPLE_A_DPORT]) {
		NL_SET_ERR_MSG_ATTR(info->extack, nest,
				    "tuple needs family, protocol, src, dst and dport");
		return -EINVAL;
	}
	ret = sipovl_nl_addr_family(tb[SIPOVL_TUPLE_A_FAMILY], tb[SIPOVL_TUPLE_A_SRC], &fam,
			  info->extack);
	if (!ret)
		ret = sipovl_nl_addr_family(tb[SIPOVL_TUPLE_A_FAMILY], tb[SIPOVL_TUPLE_A_DST],
				  &fam, info->extack);
	if (ret)
		return ret;
	proto = nla_get_u8(tb[SIPOVL_TUPLE_A_PROTOCOL]);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[SIPOVL_TUPLE_A_PROTOCOL],
				    "protocol must be IPPROTO_TCP or IPPROTO_UDP");
		return -EPROTONOSUPPORT;
	}
	nla_memcpy(src, tb[SIPOVL_TUPLE_A_SRC], sizeof(src));
	nla_memcpy(dst, tb[SIPOVL_TUPLE_A_DST], sizeof(dst));
	k.family = fam;
	k.proto = proto == IPPROTO_TCP ? MT_PROTO_TCP : MT_PROTO_UDP;
	k.dport = nla_get_u16(tb[SIPOVL_TUPLE_A_DPORT]);
	k.saddr = src;
	k.daddr = dst;

	/*
	 * From the published table, as the hooks look up, not under sn->lock:
	 * a lookup never waits for a commit compiling a large table, and it
	 * says which table answered. A table holds a reference to each of its
	 * intercepts until a grace period after it was replaced.
	 */
	rcu_read_lock();
	t = rcu_dereference(sn->table);
	if (t) {
		gen = t->generation;
		idx = mt_lookup(t->mt, &k);
		if (idx >= 0) {
			ic = t->ic[idx];
			refcount_inc(&ic->ref);
		}
	}
	rcu_read_unlock();
	if (!ic) {
		sipovl_set_err(info->extack, "no intercept matches");
		return -ENOENT;
	}
	ret = reply_intercept(info, ic, SIPOVL_CMD_LOOKUP, gen);
	sipovl_intercept_put(ic);
	return ret;
}
