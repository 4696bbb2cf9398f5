// SPDX-License-Identifier: GPL-2.0
/*
 * A packet as the hooks see it (pkt.h): parsed once, and its source checked
 * the way the input route lookup would have, which steering bypasses.
 */

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/inetdevice.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/addrconf.h>
#include <net/ip_fib.h>
#include <net/route.h>
#include <net/ip6_route.h>
#include <net/l3mdev.h>
#include <net/tcp.h>
#include <net/netfilter/nf_conntrack.h>

#include "compat.h"
#include "pkt.h"
#include "steer.h"

int sipovl_pkt_parse(struct sk_buff *skb, int f, struct sipovl_pkt *p)
{
	struct tcphdr _th;
	const struct tcphdr *th;
	__be16 _ports[2];
	const __be16 *ports;
	u8 l4;

	p->f = f;
	if (f == SIPOVL_F4) {
		const struct iphdr *iph = ip_hdr(skb);

		if (ip_is_fragment(iph))
			return 1;
		l4 = iph->protocol;
		p->thoff = ip_hdrlen(skb);
		p->saddr = &iph->saddr;
		p->daddr = &iph->daddr;
	} else {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);
		unsigned short fragoff = 0;
		int thoff = 0, proto, flags = 0;

		/*
		 * Any fragment, the first one too, as ip_is_fragment() has it
		 * for IPv4: defragmentation lets some through (a first
		 * fragment whose length is no multiple of 8), and ports read
		 * from part of a datagram steer or police nothing.
		 */
		proto = ipv6_find_hdr(skb, &thoff, -1, &fragoff, &flags);
		if (proto < 0 || (flags & IP6_FH_F_FRAG))
			return 1;
		l4 = proto;
		p->thoff = thoff;
		p->saddr = &ip6h->saddr;
		p->daddr = &ip6h->daddr;
	}
	if (l4 == IPPROTO_TCP)
		p->p = SIPOVL_PTCP;
	else if (l4 == IPPROTO_UDP)
		p->p = SIPOVL_PUDP;
	else
		return 1;
	p->l4 = l4;
	p->syn = false;
	if (l4 == IPPROTO_TCP) {
		th = skb_header_pointer(skb, p->thoff, sizeof(_th), &_th);
		if (!th)
			return -EINVAL;
		p->sport = th->source;
		p->dport = th->dest;
		p->syn = th->syn && !th->ack;
		return 0;
	}
	ports = skb_header_pointer(skb, p->thoff, sizeof(_ports), _ports);
	if (!ports)
		return -EINVAL;
	p->sport = ports[0];
	p->dport = ports[1];
	return 0;
}

static int icmp_quote_l4(struct sk_buff *skb, u8 l4, int off,
			 struct sipovl_pkt *in)
{
	__be16 _ports[2];
	const __be16 *ports;

	if (l4 == IPPROTO_TCP)
		in->p = SIPOVL_PTCP;
	else if (l4 == IPPROTO_UDP)
		in->p = SIPOVL_PUDP;
	else
		return 1;
	/* An error quotes at least 8 bytes past the IP header: the ports. */
	ports = skb_header_pointer(skb, off, sizeof(_ports), _ports);
	if (!ports)
		return 1;
	in->l4 = l4;
	in->syn = false;
	in->thoff = off;
	in->sport = ports[0];
	in->dport = ports[1];
	return 0;
}

static int icmp4_err_parse(struct sk_buff *skb, struct sipovl_icmp_err *e)
{
	const struct iphdr *iph = ip_hdr(skb), *q;
	struct icmphdr _ih;
	const struct icmphdr *ih;
	int off = ip_hdrlen(skb);

	if (iph->protocol != IPPROTO_ICMP || ip_is_fragment(iph))
		return 1;
	ih = skb_header_pointer(skb, off, sizeof(_ih), &_ih);
	if (!ih || (ih->type != ICMP_DEST_UNREACH &&
		    ih->type != ICMP_TIME_EXCEEDED &&
		    ih->type != ICMP_PARAMETERPROB))
		return 1;
	off += sizeof(_ih);
	q = skb_header_pointer(skb, off, sizeof(e->q.v4), &e->q.v4);
	if (!q || q->version != 4 || q->ihl < 5 ||
	    (q->frag_off & htons(IP_OFFSET)))
		return 1;
	e->outer.f = SIPOVL_F4;
	e->outer.l4 = IPPROTO_ICMP;
	e->outer.thoff = ip_hdrlen(skb);
	e->outer.saddr = &iph->saddr;
	e->outer.daddr = &iph->daddr;
	e->inner.f = SIPOVL_F4;
	e->inner.saddr = &q->saddr;
	e->inner.daddr = &q->daddr;
	return icmp_quote_l4(skb, q->protocol, off + q->ihl * 4, &e->inner);
}

static int icmp6_err_parse(struct sk_buff *skb, struct sipovl_icmp_err *e)
{
	const struct ipv6hdr *ip6h = ipv6_hdr(skb), *q;
	struct icmp6hdr _ih;
	const struct icmp6hdr *ih;
	unsigned short fragoff = 0;
	int thoff = 0, proto, flags = 0, off;
	__be16 qfrag = 0;
	u8 nexthdr;

	proto = ipv6_find_hdr(skb, &thoff, -1, &fragoff, &flags);
	if (proto != IPPROTO_ICMPV6 || (flags & IP6_FH_F_FRAG))
		return 1;
	ih = skb_header_pointer(skb, thoff, sizeof(_ih), &_ih);
	if (!ih || (ih->icmp6_type != ICMPV6_DEST_UNREACH &&
		    ih->icmp6_type != ICMPV6_PKT_TOOBIG &&
		    ih->icmp6_type != ICMPV6_TIME_EXCEED &&
		    ih->icmp6_type != ICMPV6_PARAMPROB))
		return 1;
	off = thoff + sizeof(_ih);
	q = skb_header_pointer(skb, off, sizeof(e->q.v6), &e->q.v6);
	if (!q || q->version != 6)
		return 1;
	nexthdr = q->nexthdr;
	off = ipv6_skip_exthdr(skb, off + sizeof(*q), &nexthdr, &qfrag);
	/* Not a later fragment: those carry no ports. */
	if (off < 0 || (ntohs(qfrag) & ~0x7))
		return 1;
	e->outer.f = SIPOVL_F6;
	e->outer.l4 = IPPROTO_ICMPV6;
	e->outer.thoff = thoff;
	e->outer.saddr = &ip6h->saddr;
	e->outer.daddr = &ip6h->daddr;
	e->inner.f = SIPOVL_F6;
	e->inner.saddr = &q->saddr;
	e->inner.daddr = &q->daddr;
	return icmp_quote_l4(skb, nexthdr, off, &e->inner);
}

int sipovl_pkt_parse_icmp_err(struct sk_buff *skb, int f,
			      struct sipovl_icmp_err *e)
{
	return f == SIPOVL_F4 ? icmp4_err_parse(skb, e) : icmp6_err_parse(skb, e);
}

/*
 * Is @addr (of family @f) one of this host's addresses, as seen from @dev:
 * in @dev's VRF (its l3mdev table; no VRF: the main one) and, for an IPv6
 * address of link or host scope, on @dev itself (the same link-local address
 * on another link is another host's), as the kernel's ipv6_chk_addr() has
 * it. A device that is no link (loopback, a VRF master: the egress device of
 * local traffic) takes any device of its VRF. @dev NULL: any device outside
 * VRFs.
 */
bool sipovl_addr_is_local(struct net *net, int f, const void *addr,
			  const struct net_device *dev)
{
	bool any_dev;

	if (f == SIPOVL_F4)
		return inet_addr_type_dev_table(net, dev, *(const __be32 *)addr) ==
		       RTN_LOCAL;
	any_dev = !dev || (dev->flags & IFF_LOOPBACK) || netif_is_l3_master(dev);
	return ipv6_chk_addr_and_flags(net, addr, dev, any_dev, 0,
				       IFA_F_TENTATIVE);
}

/*
 * A packet from another host claiming one of this host's addresses as its
 * source. The kernel refuses these in the input route lookup
 * (fib_validate_source(), unless the device has accept_local), which
 * steering bypasses; IPv6 has no such rule, but a remote packet with a local
 * source is spoofed there too. Loopback (local traffic) is exempt. Local as
 * seen from the ingress device: its VRF, and its link for link-local sources.
 */
bool sipovl_pkt_src_spoofs_local(struct net *net, const struct sipovl_pkt *p,
				 const struct net_device *in)
{
	struct in_device *idev;

	if (!in || (in->flags & IFF_LOOPBACK))
		return false;
	if (p->f == SIPOVL_F4) {
		idev = __in_dev_get_rcu(in);
		if (idev && IN_DEV_ACCEPT_LOCAL(idev))
			return false;
	}
	return sipovl_addr_is_local(net, p->f, p->saddr, in);
}

/*
 * IPv6 reverse path, as the kernel's rpfilter match checks it: the source
 * must be routed as unicast (not local, reject, blackhole or anycast) and,
 * when @strict, back through the device the packet came in on. A link-local
 * source is looked up on that device.
 */
static bool pkt_rpf6_ok(struct net *net, const struct sk_buff *skb,
			const struct sipovl_pkt *p,
			const struct net_device *in, bool strict)
{
	const struct ipv6hdr *ip6h = ipv6_hdr(skb);
	struct flowi6 fl6 = {
		.flowi6_iif = LOOPBACK_IFINDEX,
		.flowi6_l3mdev = l3mdev_master_ifindex_rcu(in),
		.flowlabel = ip6_flowinfo(ip6h),
		.flowi6_proto = p->l4,
		.daddr = ip6h->saddr,
		.saddr = ip6h->daddr,
	};
	int flags = RT6_LOOKUP_F_HAS_SADDR;
	struct dst_entry *dst;
	struct rt6_info *rt;
	bool ok = false;

	if (ipv6_addr_type(&ip6h->saddr) & IPV6_ADDR_LINKLOCAL) {
		fl6.flowi6_oif = in->ifindex;
		flags |= RT6_LOOKUP_F_IFACE;
	} else if (strict) {
		fl6.flowi6_oif = in->ifindex;
	}
	dst = ip6_route_lookup(net, &fl6, skb, flags);
	rt = container_of(dst, struct rt6_info, dst);
	if (dst->error || !rt->rt6i_idev ||
	    (rt->rt6i_flags & (RTF_REJECT | RTF_ANYCAST | RTF_LOCAL)))
		goto out;
	ok = !strict || rt->rt6i_idev->dev == in ||
	     l3mdev_master_ifindex_rcu(rt->rt6i_idev->dev) == in->ifindex;
out:
	dst_release(dst);
	return ok;
}

/*
 * Reverse-path filtering for a packet that would start a flow. Steering
 * bypasses the input route lookup, which is where the kernel applies
 * rp_filter, so apply the device's setting here: the source must be
 * reachable back through the device the packet came in on (strict, 1) or at
 * all (loose, 2), as unicast (or local with accept_local). Counted where the
 * kernel counts its own rp_filter drops (IPReversePathFilter). IPv6 has no
 * rp_filter of its own: the same per-device setting (net.ipv4.conf.*.
 * rp_filter) selects strict (1) or loose (0 or 2), so an IPv6 source that is
 * not routable at all never starts a flow; counted as errors. Loopback
 * (local traffic) is not checked.
 */
bool sipovl_pkt_rpf_ok(struct net *net, const struct sk_buff *skb,
		       const struct sipovl_pkt *p, const struct net_device *in)
{
	const struct iphdr *iph = ip_hdr(skb);
	struct in_device *idev;
	struct fib_result res;
	struct flowi4 fl4 = {};
	int mode;

	if (!in || (in->flags & IFF_LOOPBACK))
		return true;
	idev = __in_dev_get_rcu(in);
	mode = idev ? IN_DEV_RPFILTER(idev) : 0;
	if (p->f == SIPOVL_F6)
		return pkt_rpf6_ok(net, skb, p, in, mode == 1);
	if (!mode)
		return true;
	fl4.daddr = iph->saddr;
	fl4.saddr = iph->daddr;
	fl4.flowi4_iif = LOOPBACK_IFINDEX;
	fl4.flowi4_l3mdev = l3mdev_master_ifindex_rcu(in);
	fl4.flowi4_tos = SIPOVL_RT_TOS(iph->tos);
	fl4.flowi4_scope = RT_SCOPE_UNIVERSE;
	fl4.flowi4_mark = IN_DEV_SRC_VMARK(idev) ? skb->mark : 0;
	if (fib_lookup(net, &fl4, &res, FIB_LOOKUP_IGNORE_LINKSTATE))
		goto fail;
	if (res.type == RTN_LOCAL && IN_DEV_ACCEPT_LOCAL(idev))
		return true;
	if (res.type != RTN_UNICAST)
		goto fail;
	if (mode == 2 || fib_info_nh_uses_dev(res.fi, in))
		return true;
fail:
	__NET_INC_STATS(net, LINUX_MIB_IPRPFILTER);
	return false;
}

/* In the reply direction of a connection conntrack tracks? */
bool sipovl_pkt_is_reply(const struct sk_buff *skb)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	return ct && CTINFO2DIR(ctinfo) == IP_CT_DIR_REPLY;
}

/*
 * Is this TCP segment, which no socket owns and which is not a SYN, the ACK
 * that completes a SYN-cookie handshake (the listener answered the SYN with
 * a cookie and kept no request socket)? Only a valid cookie for this exact
 * flow qualifies: segments of connections older than the intercept, late
 * segments of closed ones and forged ACKs keep the intercept's policy.
 */
bool sipovl_pkt_syncookie_ack(struct net *net, const struct sk_buff *skb,
			      const struct sipovl_pkt *p)
{
	struct tcphdr _th;
	const struct tcphdr *th;

	if (!READ_ONCE(net->ipv4.sysctl_tcp_syncookies))
		return false;
	th = skb_header_pointer(skb, p->thoff, sizeof(_th), &_th);
	if (!th || !th->ack || th->rst || th->syn)
		return false;
	if (p->f == SIPOVL_F4)
		return sipovl_cookie_v4_check(ip_hdr(skb), th) != 0;
	return sipovl_cookie_v6_check(ipv6_hdr(skb), th) != 0;
}
