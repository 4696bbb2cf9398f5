/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a packet to steer or police is (its family, protocol, addresses and
 * ports, read once per hook) and whether its source can be believed: martian
 * and local-address sources, reverse path, conntrack direction, SYN-cookie
 * ACKs (pkt.c). No state of its own; called under RCU from the hooks.
 */
#ifndef _SIPOVL_PKT_H
#define _SIPOVL_PKT_H

#include <linux/ipv6.h>
#include <linux/skbuff.h>
#include <net/ipv6.h>

#include "matcher.h"
#include "netns.h"

struct sipovl_pkt {
	int f;			/* SIPOVL_F4 / SIPOVL_F6 */
	int p;			/* SIPOVL_PTCP / SIPOVL_PUDP */
	u8 l4;			/* IPPROTO_TCP / IPPROTO_UDP */
	bool syn;		/* TCP SYN without ACK */
	int thoff;
	__be16 sport, dport;
	const void *saddr, *daddr;
};

/*
 * An ICMP or ICMPv6 error and the TCP or UDP packet it quotes, as that
 * packet was sent (its source is where the error is addressed). The quoted
 * addresses point into @q when the skb is not linear there.
 */
struct sipovl_icmp_err {
	struct sipovl_pkt outer;	/* l4: IPPROTO_ICMP / IPPROTO_ICMPV6 */
	struct sipovl_pkt inner;
	union {
		struct iphdr v4;
		struct ipv6hdr v6;
	} q;
};

/*
 * Reads @skb's family (@f: SIPOVL_F4 or SIPOVL_F6), protocol and ports into
 * @p: 0; 1 when it is no TCP or UDP packet sipovl reads (another protocol, a
 * fragment); -EINVAL when its transport header is truncated.
 */
int sipovl_pkt_parse(struct sk_buff *skb, int f, struct sipovl_pkt *p);
/*
 * @skb (family @f) is an ICMP error of a kind a socket is told about
 * (destination unreachable, fragmentation needed / packet too big, time
 * exceeded, parameter problem) quoting the first fragment of a TCP or UDP
 * packet: 0, and @e filled; else 1.
 */
int sipovl_pkt_parse_icmp_err(struct sk_buff *skb, int f,
			      struct sipovl_icmp_err *e);
bool sipovl_addr_is_local(struct net *net, int f, const void *addr,
			  const struct net_device *dev);
bool sipovl_pkt_src_spoofs_local(struct net *net, const struct sipovl_pkt *p,
				 const struct net_device *in);
bool sipovl_pkt_rpf_ok(struct net *net, const struct sk_buff *skb,
		       const struct sipovl_pkt *p, const struct net_device *in);
bool sipovl_pkt_is_reply(const struct sk_buff *skb);
bool sipovl_pkt_syncookie_ack(struct net *net, const struct sk_buff *skb,
			      const struct sipovl_pkt *p);

/*
 * Destinations that are never intercepted (multicast, broadcast, loopback,
 * unspecified) and sources that are never accepted on a steered packet.
 */
static inline bool pkt_dst_special(const struct sipovl_pkt *p)
{
	if (p->f == SIPOVL_F4) {
		__be32 d = *(const __be32 *)p->daddr;

		return ipv4_is_multicast(d) || ipv4_is_lbcast(d) ||
		       ipv4_is_loopback(d) || ipv4_is_zeronet(d);
	}
	return ipv6_addr_is_multicast(p->daddr) || ipv6_addr_loopback(p->daddr) ||
	       ipv6_addr_any(p->daddr);
}

static inline bool pkt_src_martian(const struct sipovl_pkt *p)
{
	if (p->f == SIPOVL_F4) {
		__be32 s = *(const __be32 *)p->saddr;

		return ipv4_is_multicast(s) || ipv4_is_lbcast(s) ||
		       ipv4_is_loopback(s) || ipv4_is_zeronet(s);
	}
	/*
	 * The IPv6 input path refuses multicast and loopback sources itself,
	 * but not the unspecified address, and not IPv4-mapped ones (an
	 * AF_INET6 socket's reply to one leaves as IPv4).
	 */
	return ipv6_addr_is_multicast(p->saddr) || ipv6_addr_loopback(p->saddr) ||
	       ipv6_addr_any(p->saddr) || ipv6_addr_v4mapped(p->saddr);
}

static inline void pkt_key(const struct sipovl_pkt *p, struct mt_key *k)
{
	k->family = p->f == SIPOVL_F4 ? 4 : 6;
	k->proto = p->p == SIPOVL_PTCP ? MT_PROTO_TCP : MT_PROTO_UDP;
	k->dport = ntohs(p->dport);
	k->saddr = p->saddr;
	k->daddr = p->daddr;
}

#endif
