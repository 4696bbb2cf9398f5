/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tracepoint sipovl:sipovl_drop, hit for every packet sipovl.ko drops,
 * with the reason (the names of the drop counters of `sipovlctl stats`), the
 * hook's device and the packet's addresses and ports. The kernel's own
 * skb:kfree_skb only says nf_hook_slow and NETFILTER_DROP for them. Read it
 * with tracefs (events/sipovl/sipovl_drop), `perf trace -e sipovl:*` or
 * `perf record -e sipovl:sipovl_drop -g`. IPv4 addresses are shown
 * IPv4-mapped. Defined in hooks.c (CREATE_TRACE_POINTS).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM sipovl

#if !defined(_SIPOVL_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _SIPOVL_TRACE_H

#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <linux/tracepoint.h>
#include <net/ipv6.h>

#include "netns.h"
#include "pkt.h"

TRACE_DEFINE_ENUM(SIPOVL_GS_DROP_NO_SOCKET);
TRACE_DEFINE_ENUM(SIPOVL_GS_DROP_NOT_NEW);
TRACE_DEFINE_ENUM(SIPOVL_GS_DROP_MARTIAN);
TRACE_DEFINE_ENUM(SIPOVL_GS_DROP_LOCAL_SRC);
TRACE_DEFINE_ENUM(SIPOVL_GS_DROP_RP_FILTER);
TRACE_DEFINE_ENUM(SIPOVL_GS_SRC_DENIED);

TRACE_EVENT(sipovl_drop,
	TP_PROTO(const struct sk_buff *skb, const struct sipovl_pkt *p,
		 const struct net_device *dev, int reason),
	TP_ARGS(skb, p, dev, reason),
	TP_STRUCT__entry(
		__field(int, reason)
		__field(int, ifindex)
		__field(unsigned int, len)
		__field(u8, proto)
		__field(u16, sport)
		__field(u16, dport)
		__array(u8, saddr, 16)
		__array(u8, daddr, 16)
	),
	TP_fast_assign(
		__entry->reason = reason;
		__entry->ifindex = dev ? dev->ifindex : 0;
		__entry->len = skb->len;
		__entry->proto = p ? p->l4 : 0;
		__entry->sport = p ? ntohs(p->sport) : 0;
		__entry->dport = p ? ntohs(p->dport) : 0;
		memset(__entry->saddr, 0, 16);
		memset(__entry->daddr, 0, 16);
		if (p && p->f == SIPOVL_F4) {
			ipv6_addr_set_v4mapped(*(const __be32 *)p->saddr,
					       (struct in6_addr *)__entry->saddr);
			ipv6_addr_set_v4mapped(*(const __be32 *)p->daddr,
					       (struct in6_addr *)__entry->daddr);
		} else if (p) {
			memcpy(__entry->saddr, p->saddr, 16);
			memcpy(__entry->daddr, p->daddr, 16);
		}
	),
	TP_printk("reason=%s ifindex=%d len=%u proto=%u saddr=%pI6c sport=%u daddr=%pI6c dport=%u",
		  __print_symbolic(__entry->reason,
				   { SIPOVL_GS_DROP_NO_SOCKET, "no_socket" },
				   { SIPOVL_GS_DROP_NOT_NEW, "not_new" },
				   { SIPOVL_GS_DROP_MARTIAN, "martian" },
				   { SIPOVL_GS_DROP_LOCAL_SRC, "local_src" },
				   { SIPOVL_GS_DROP_RP_FILTER, "rp_filter" },
				   { SIPOVL_GS_SRC_DENIED, "src_denied" }),
		  __entry->ifindex, __entry->len, __entry->proto,
		  __entry->saddr, __entry->sport, __entry->daddr,
		  __entry->dport)
);

#endif /* _SIPOVL_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE sipovl_trace
#include <trace/define_trace.h>
