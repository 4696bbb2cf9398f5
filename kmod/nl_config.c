// SPDX-License-Identifier: GPL-2.0
/*
 * Sockets and settings of the family "sipovl": SOCKET_REGISTER/UNREGISTER
 * (the daemon's transparent sockets and their groups), SOURCES_SET (the
 * transparent source ranges) and CONFIG_GET.
 */

#include <linux/kernel.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <uapi/linux/sipovl.h>

#include "netns.h"
#include "steer.h"
#include "table.h"
#include "nl_int.h"

int sipovl_nl_socket_register(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	u32 gen, flags = 0;
	int ret, used;

	if (!info->attrs[SIPOVL_A_SOCKET_FD]) {
		sipovl_set_err(info->extack, "missing SIPOVL_A_SOCKET_FD");
		return -EINVAL;
	}
	if (info->attrs[SIPOVL_A_FLAGS])
		flags = nla_get_u32(info->attrs[SIPOVL_A_FLAGS]);
	if (flags & ~SIPOVL_F_SOCKET_JOIN) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[SIPOVL_A_FLAGS],
				    "only SIPOVL_F_SOCKET_JOIN applies to SOCKET_REGISTER");
		return -EINVAL;
	}
	mutex_lock(&sn->lock);
	used = sipovl_net_use(sn, info->extack);
	ret = used < 0 ? used :
	      sipovl_socket_register(sn, nla_get_s32(info->attrs[SIPOVL_A_SOCKET_FD]),
				     flags & SIPOVL_F_SOCKET_JOIN, info->extack);
	if (!ret)
		sipovl_gen_bump(sn);
	else
		sipovl_net_unuse(sn, used);
	gen = sn->generation;
	mutex_unlock(&sn->lock);
	if (!ret)
		sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_SOCKET_REGISTER, NULL, gen);
	return ret;
}

int sipovl_nl_socket_unregister(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct nlattr *fa = info->attrs[SIPOVL_A_FAMILY];
	struct nlattr *pa = info->attrs[SIPOVL_A_PROTOCOL];
	int f = -1, p = -1, ret;
	u32 gen;

	if (info->attrs[SIPOVL_A_SOCKET_FD]) {
		if (fa || pa) {
			sipovl_set_err(info->extack,
				       "SIPOVL_A_SOCKET_FD excludes SIPOVL_A_FAMILY and SIPOVL_A_PROTOCOL");
			return -EINVAL;
		}
		mutex_lock(&sn->lock);
		ret = sipovl_socket_leave(sn, nla_get_s32(info->attrs[SIPOVL_A_SOCKET_FD]),
					  info->extack);
		if (!ret)
			sipovl_gen_bump(sn);
		gen = sn->generation;
		mutex_unlock(&sn->lock);
		if (!ret)
			sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_SOCKET_UNREGISTER, NULL, gen);
		return ret;
	}
	if (fa) {
		u16 fam = nla_get_u16(fa);

		if (fam != AF_INET && fam != AF_INET6) {
			NL_SET_ERR_MSG_ATTR(info->extack, fa,
					    "family must be AF_INET or AF_INET6");
			return -EAFNOSUPPORT;
		}
		f = fam == AF_INET ? SIPOVL_F4 : SIPOVL_F6;
	}
	if (pa) {
		u8 proto = nla_get_u8(pa);

		if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
			NL_SET_ERR_MSG_ATTR(info->extack, pa,
					    "protocol must be IPPROTO_TCP or IPPROTO_UDP");
			return -EPROTONOSUPPORT;
		}
		p = proto == IPPROTO_TCP ? SIPOVL_PTCP : SIPOVL_PUDP;
	}
	mutex_lock(&sn->lock);
	sipovl_socket_unregister(sn, f, p);
	sipovl_gen_bump(sn);
	gen = sn->generation;
	mutex_unlock(&sn->lock);
	sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_SOCKET_UNREGISTER, NULL, gen);
	return 0;
}

int sipovl_nl_sources_set(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *nest = info->attrs[SIPOVL_A_SOURCES];
	struct sipovl_net *sn = info_sn(info);
	struct mt_prefix *p = NULL;
	int ret, used;
	u32 n, gen;

	if (!nest) {
		sipovl_set_err(info->extack, "missing SIPOVL_A_SOURCES");
		return -EINVAL;
	}
	ret = sipovl_nl_count_nested(nest, SIPOVL_MAX_TRANSPARENT_SOURCES, "source ranges",
			   &n, info->extack);
	if (ret)
		return ret;
	if (n) {
		p = kvmalloc_array(n, sizeof(*p), GFP_KERNEL_ACCOUNT);
		if (!p)
			return -ENOMEM;
		ret = sipovl_nl_parse_prefixes(nest, p, info->extack);
		if (ret)
			goto out;
	}
	mutex_lock(&sn->lock);
	used = sipovl_net_use(sn, info->extack);
	ret = used < 0 ? used : sipovl_sources_set(sn, p, n, info->extack);
	if (ret)
		sipovl_net_unuse(sn, used);
	gen = sn->generation;
	mutex_unlock(&sn->lock);
	if (!ret)
		sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_SOURCES_SET, NULL, gen);
out:
	kvfree(p);
	return ret;
}

/* One SIPOVL_A_SOCKET nest for a group member (CONFIG_GET). */
static int put_member(void *arg, int f, int p, unsigned int idx,
		      unsigned int n, struct sock *sk)
{
	struct sk_buff *msg = arg;
	struct nlattr *nest;

	nest = nla_nest_start(msg, SIPOVL_A_SOCKET);
	if (!nest ||
	    nla_put_u16(msg, SIPOVL_SOCKET_A_FAMILY, f == SIPOVL_F4 ? AF_INET : AF_INET6) ||
	    nla_put_u8(msg, SIPOVL_SOCKET_A_PROTOCOL,
		       p == SIPOVL_PTCP ? IPPROTO_TCP : IPPROTO_UDP) ||
	    nla_put_u16(msg, SIPOVL_SOCKET_A_PORT, inet_sk(sk)->inet_num) ||
	    nla_put_u8(msg, SIPOVL_SOCKET_A_ALIVE, sipovl_socket_alive(sk)) ||
	    nla_put_u32(msg, SIPOVL_SOCKET_A_MEMBER, idx) ||
	    nla_put_u32(msg, SIPOVL_SOCKET_A_MEMBERS, n) ||
	    nla_put_u64_64bit(msg, SIPOVL_SOCKET_A_INODE, sock_i_ino(sk),
			      SIPOVL_SOCKET_A_PAD))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

int sipovl_nl_config_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_srcset *srcs;
	struct sipovl_table *t;
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;
	int i, ret = -EMSGSIZE;

	mutex_lock(&sn->lock);
	t = sipovl_table_get_locked(sn);
	srcs = rcu_dereference_protected(sn->sources, lockdep_is_held(&sn->lock));
	/* 48 bytes per source range, 80 per group member. */
	msg = genlmsg_new(NLMSG_GOODSIZE + (srcs ? srcs->n * 48 : 0) +
			  SIPOVL_NFAMILIES * SIPOVL_NPROTOS *
			  SIPOVL_MAX_GROUP_MEMBERS * 80, GFP_KERNEL);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	hdr = sipovl_nl_reply_put(msg, info, SIPOVL_CMD_CONFIG_GET);
	if (!hdr ||
	    nla_put_u32(msg, SIPOVL_A_GENERATION, sn->generation) ||
	    nla_put_u32(msg, SIPOVL_A_INTERCEPT_COUNT, t ? t->n : 0))
		goto err;
	nest = nla_nest_start(msg, SIPOVL_A_SOURCES);
	if (!nest)
		goto err;
	for (i = 0; srcs && i < srcs->n; i++)
		if (sipovl_nl_put_prefix(msg, &srcs->p[i]))
			goto err;
	nla_nest_end(msg, nest);
	if (sipovl_socket_for_each(sn, put_member, msg))
		goto err;
	mutex_unlock(&sn->lock);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
out:
	mutex_unlock(&sn->lock);
	return ret;
}
