/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of the generic netlink family share among themselves:
 * netlink.c (the family, its operations, notifications), nl_extack.c
 * (formatted extack messages before 6.2), nl_attr.c (attribute policies,
 * parsing and output), and the handlers by object: nl_intercept.c,
 * nl_table.c, nl_config.c, nl_stats.c. Not for the rest of the module.
 */
#ifndef _SIPOVL_NL_INT_H
#define _SIPOVL_NL_INT_H

#include <net/genetlink.h>
#include <uapi/linux/sipovl.h>

#include "netns.h"
#include "table.h"

static inline struct sipovl_net *info_sn(struct genl_info *info)
{
	return sipovl_pernet(genl_info_net(info));
}

/* netlink.c: messages of the family (which stays private to it). */
void *sipovl_nl_reply_put(struct sk_buff *skb, struct genl_info *info, u8 cmd);
void *sipovl_nl_dump_put(struct sk_buff *skb, struct netlink_callback *cb,
			 u8 cmd);
void sipovl_nl_notify(struct net *net, u8 cmd,
		      const struct sipovl_intercept *ic, u32 generation);

/* nl_extack.c */
void sipovl_extack_bufs_free(void);

/* nl_attr.c: policies */
extern const struct nla_policy sipovl_policy[SIPOVL_A_MAX + 1];
extern const struct nla_policy sipovl_tuple_policy[SIPOVL_TUPLE_A_MAX + 1];

/* nl_attr.c: parsing */
enum { NEED_KEY, NEED_FULL };

int sipovl_nl_addr_family(struct nlattr *fam, struct nlattr *addr, u8 *mtfam,
			  struct netlink_ext_ack *extack);
int sipovl_nl_parse_prefixes(struct nlattr *nest, struct mt_prefix *out,
			     struct netlink_ext_ack *extack);
int sipovl_nl_count_nested(struct nlattr *nest, u32 max, const char *what,
			   u32 *n, struct netlink_ext_ack *extack);
struct sipovl_intercept *sipovl_nl_parse_intercept(struct nlattr *nest,
						   int need,
						   struct netlink_ext_ack *extack);
struct sipovl_srcset *sipovl_nl_parse_sources(struct nlattr *nest,
					      struct netlink_ext_ack *extack);

/* nl_attr.c: output */
int sipovl_nl_put_prefix(struct sk_buff *skb, const struct mt_prefix *p);
int sipovl_nl_put_intercept(struct sk_buff *skb,
			    const struct sipovl_intercept *ic, bool full);
size_t sipovl_nl_intercept_size(const struct sipovl_intercept *ic);

/* Handlers (the operations table is in netlink.c). */
int sipovl_nl_intercept_addrep(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_intercept_del(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_intercept_get(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_intercept_dump_start(struct netlink_callback *cb);
int sipovl_nl_intercept_dump(struct sk_buff *skb, struct netlink_callback *cb);
int sipovl_nl_intercept_flush(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_lookup(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_table_begin(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_table_add(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_table_commit(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_table_abort(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_socket_register(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_socket_unregister(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_sources_set(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_config_get(struct sk_buff *skb, struct genl_info *info);
int sipovl_nl_stats_get(struct sk_buff *skb, struct genl_info *info);

#endif /* _SIPOVL_NL_INT_H */
