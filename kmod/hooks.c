// SPDX-License-Identifier: GPL-2.0
/*
 * The netfilter hooks: PREROUTING (forwarded traffic, and locally originated
 * traffic coming back through loopback) and LOCAL_OUT (locally originated
 * traffic; source policing of transparent sockets), IPv4 and IPv6.
 *
 * PREROUTING, for a TCP or UDP packet addressed to this host's interfaces:
 *   1. Look the packet up in the intercept table.
 *   2. No intercept: if the destination is a transparent source range and a
 *      transparent socket owns the flow (a reply to a connection the daemon
 *      originated with a foreign source), deliver it there. Else untouched.
 *   3. Intercept: an existing socket owning the flow (the daemon's
 *      per-flow sockets; a socket that is not transparent only for a local
 *      destination) gets it;
 *      else the daemon's registered socket for the family and protocol gets
 *      it (a new flow); else the intercept's policy drops, passes or
 *      rejects it. A TCP segment other than a SYN starts no flow (policy),
 *      except the ACK of a SYN-cookie handshake, which goes to the
 *      registered listener.
 *
 * LOCAL_OUT applies the same policies to a local new flow no socket takes;
 * a rejected one is answered as nft's "reject" would answer it there.
 */

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/route.h>
#include <net/tcp.h>
#include <net/inet_timewait_sock.h>
#include <linux/netfilter_bridge.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_extend.h>
#include <net/netfilter/nf_conntrack_helper.h>
#include <net/netfilter/nf_tproxy.h>
#include <net/netfilter/ipv4/nf_defrag_ipv4.h>
#include <net/netfilter/ipv6/nf_defrag_ipv6.h>
#include <net/netfilter/ipv4/nf_reject.h>
#include <net/netfilter/ipv6/nf_reject.h>

#include "compat.h"
#include "hooks.h"
#include "netns.h"
#include "pkt.h"
#include "steer.h"
#include "table.h"

#define CREATE_TRACE_POINTS
#include "sipovl_trace.h"

/* The hook's device: ingress in PREROUTING, egress in LOCAL_OUT. */
static const struct net_device *hook_dev(const struct nf_hook_state *state)
{
	return state->in ? state->in : state->out;
}

/*
 * The socket owning this packet's flow (connected UDP, established, request
 * or TIME_WAIT TCP), with a reference, or NULL. A SYN hitting a TIME_WAIT
 * socket ends the TIME_WAIT, but only once it is known to start a new flow:
 * the caller decides (prerouting), after the source and policy checks.
 */
static struct sock *flow_sock(struct net *net, struct sk_buff *skb,
			      const struct sipovl_pkt *p,
			      const struct net_device *in, bool input)
{
	struct sock *sk;

	if (p->f == SIPOVL_F4)
		sk = nf_tproxy_get_sock_v4(net, skb, p->l4,
					   *(const __be32 *)p->saddr,
					   *(const __be32 *)p->daddr,
					   p->sport, p->dport, in,
					   NF_TPROXY_LOOKUP_ESTABLISHED);
	else
		sk = nf_tproxy_get_sock_v6(net, skb, p->thoff, p->l4,
					   p->saddr, p->daddr,
					   p->sport, p->dport, in,
					   NF_TPROXY_LOOKUP_ESTABLISHED);
	if (!sk)
		return NULL;
	/*
	 * A flow to a foreign address belongs only to a transparent socket
	 * (the daemon's: IP_TRANSPARENT takes CAP_NET_ADMIN or CAP_NET_RAW).
	 * IPv6 lets any user bind a foreign address (IPV6_FREEBIND) and send
	 * from it, which would otherwise take an intercepted flow over.
	 */
	if (!inet_sk_transparent(sk) &&
	    !sipovl_addr_is_local(net, p->f, p->daddr, input ? in : NULL)) {
		sock_gen_put(sk);
		return NULL;
	}
	/*
	 * Any other socket owning the exact flow keeps it: an intercept never
	 * breaks a connection to one of this host's addresses.
	 */
	return sk;
}

/*
 * A SYN for the flow of a TIME_WAIT socket starts a new flow (only in
 * PREROUTING: LOCAL_OUT treats the TIME_WAIT socket as the owner and loops
 * the SYN through lo).
 */
static bool sk_ends_time_wait(const struct sock *sk, const struct sipovl_pkt *p)
{
	return sk->sk_state == TCP_TIME_WAIT && p->syn;
}

/*
 * Keep conntrack helpers off sipovl's flows. The SIP helper (nf_conntrack_sip
 * with nf_nat_sip), once an admin's "ct helper set" rule or a CT template
 * assigns it, rewrites the addresses inside the SIP messages of a NATed
 * connection (a DNATed INVITE reaches the daemon with another Request-URI)
 * and drops what it cannot rewrite; sipovl carries SIP as the phones sent
 * it. A new connection gets IPS_HELPER_BIT, which makes the ruleset's helper
 * assignment (nft_ct's, later in the hook) leave it alone, and a helper
 * assigned before (a template, an older connection) is detached as the
 * kernel's own unhelp() does. The helper extension is found without
 * nf_ct_ext_find(), whose out-of-line part would make sipovl.ko depend on
 * nf_conntrack: a stale extension's generation only keeps the connection
 * from being confirmed, and clearing its pointer is harmless.
 */
static void ct_no_helper(struct sk_buff *skb)
{
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);
	struct nf_conn_help *help;
	struct nf_ct_ext *ext;

	if (!ct || nf_ct_is_template(ct))
		return;
	if (!nf_ct_is_confirmed(ct) && !test_bit(IPS_HELPER_BIT, &ct->status))
		set_bit(IPS_HELPER_BIT, &ct->status);
	ext = READ_ONCE(ct->ext);
	if (!ext || !__nf_ct_ext_exist(ext, NF_CT_EXT_HELPER))
		return;
	help = (void *)ext + ext->offset[NF_CT_EXT_HELPER];
	if (rcu_access_pointer(help->helper))
		RCU_INIT_POINTER(help->helper, NULL);
}

static void deliver(struct sipovl_net *sn, struct sk_buff *skb,
		    const struct sipovl_pkt *p, struct sock *sk)
{
	ct_no_helper(skb);
	nf_tproxy_assign_sock(skb, sk);
	sipovl_dst_local_input(sn, skb, p->f);
}

/* As sipovl_gstat_inc() (netns.h). */
static void ic_count(struct sipovl_intercept *ic, enum sipovl_istat s,
		     unsigned long v)
{
	struct sipovl_istats_pcpu *st = get_cpu_ptr(ic->ctr->pc);
	unsigned long flags;

	flags = u64_stats_update_begin_irqsave(&st->syncp);
	u64_stats_add(&st->c[s], v);
	u64_stats_update_end_irqrestore(&st->syncp, flags);
	put_cpu_ptr(ic->ctr->pc);
}

/*
 * Answer a rejected packet as nft's "reject" does in @state's hook: a TCP
 * RST (none for a RST: the helpers check), else an ICMP or ICMPv6 port
 * unreachable (icmp_send() and icmpv6_send() refuse errors about ICMP
 * errors, broadcasts and multicast, and rate limit). The helpers check the
 * checksum of a packet from the wire as the hook needs and route the answer
 * from the packet (PREROUTING: a route back to its source), which the caller
 * then drops. A martian source gets no answer.
 */
static void send_reject(struct sk_buff *skb, const struct sipovl_pkt *p,
			const struct nf_hook_state *state)
{
	if (pkt_src_martian(p))
		return;
	if (p->p == SIPOVL_PTCP) {
		if (p->f == SIPOVL_F4)
			nf_send_reset(state->net, state->sk, skb, state->hook);
		else
			nf_send_reset6(state->net, state->sk, skb, state->hook);
	} else if (p->f == SIPOVL_F4) {
		nf_send_unreach(skb, ICMP_PORT_UNREACH, state->hook);
	} else {
		nf_send_unreach6(state->net, skb, ICMPV6_PORT_UNREACH, state->hook);
	}
}

/*
 * The intercept's policy for a matched packet no socket takes: the verdict.
 * A drop counts @reason too; a reject is not a drop (its own counters).
 */
static unsigned int apply_policy(struct sipovl_net *sn,
				 struct sipovl_intercept *ic,
				 struct sk_buff *skb, const struct sipovl_pkt *p,
				 const struct nf_hook_state *state,
				 enum sipovl_gstat reason)
{
	switch (ic->policy) {
	case SIPOVL_POLICY_PASS:
		ic_count(ic, SIPOVL_IS_PASSES, 1);
		sipovl_gstat_inc(sn, SIPOVL_GS_PASSED);
		return NF_ACCEPT;
	case SIPOVL_POLICY_REJECT:
		ic_count(ic, SIPOVL_IS_REJECTS, 1);
		sipovl_gstat_inc(sn, SIPOVL_GS_REJECTED);
		send_reject(skb, p, state);
		return NF_DROP;
	}
	ic_count(ic, SIPOVL_IS_DROPS, 1);
	sipovl_gstat_inc(sn, SIPOVL_GS_DROPPED);
	sipovl_gstat_inc(sn, reason);
	trace_sipovl_drop(skb, p, hook_dev(state), reason);
	return NF_DROP;
}

/* A packet the hooks cannot parse (passed on): counted twice, see uapi. */
static void count_malformed(struct sipovl_net *sn)
{
	sipovl_gstat_inc(sn, SIPOVL_GS_ERRORS);
	sipovl_gstat_inc(sn, SIPOVL_GS_MALFORMED);
}

/*
 * Is this packet's source claimed by sipovl: in a transparent source range,
 * or the destination of an intercepted flow (a reply from the intercepted
 * address)?
 */
static bool src_claimed(struct sipovl_net *sn, const struct sipovl_pkt *p)
{
	struct sipovl_srcset *srcs = rcu_dereference(sn->sources);
	struct sipovl_table *t = rcu_dereference(sn->table);
	struct mt_key k = {
		.family = p->f == SIPOVL_F4 ? 4 : 6,
		.proto = p->p == SIPOVL_PTCP ? MT_PROTO_TCP : MT_PROTO_UDP,
		.dport = ntohs(p->sport),
		.saddr = p->daddr,
		.daddr = p->saddr,
	};

	if (srcs && mt_lookup(srcs->mt, &k) >= 0)
		return true;
	return t && mt_lookup(t->mt, &k) >= 0;
}

/*
 * An ICMP error about a packet a socket sent from a foreign address sipovl
 * claims (fragmentation needed, packet too big, port unreachable, ...) is
 * addressed to that foreign address: routed, it would leave the host or die
 * for want of a route, and the socket would learn neither the path MTU (a
 * black hole behind every smaller-MTU hop: tunnels, PPPoE) nor a closed
 * port. When a socket owns the quoted flow, deliver the error here: the ICMP
 * layer then finds that socket as for any local address (udp_err(),
 * tcp_v4_err(), their IPv6 twins) and applies its own checks (the TCP
 * sequence window, the minimum MTU). Its source is checked as a new flow's
 * would be. Anything else is routed as before.
 */
static unsigned int icmp_error(struct sipovl_net *sn, struct sk_buff *skb,
			       const struct nf_hook_state *state, int f)
{
	struct sipovl_icmp_err e;
	struct sipovl_pkt r;
	struct sock *sk;

	if (sipovl_pkt_parse_icmp_err(skb, f, &e))
		return NF_ACCEPT;
	/* An error is sent back to the quoted packet's source. */
	if (memcmp(e.outer.daddr, e.inner.saddr, f == SIPOVL_F4 ? 4 : 16))
		return NF_ACCEPT;
	if (pkt_dst_special(&e.outer) || !src_claimed(sn, &e.inner))
		return NF_ACCEPT;
	if (pkt_src_martian(&e.outer) ||
	    sipovl_pkt_src_spoofs_local(state->net, &e.outer, state->in) ||
	    !sipovl_pkt_rpf_ok(state->net, skb, &e.outer, state->in))
		return NF_ACCEPT;
	/* The owner of the quoted flow, looked up as its peer's packet. */
	r = e.inner;
	r.saddr = e.inner.daddr;
	r.daddr = e.inner.saddr;
	r.sport = e.inner.dport;
	r.dport = e.inner.sport;
	r.thoff = e.outer.thoff;
	sk = flow_sock(state->net, skb, &r, state->in, true);
	if (!sk)
		return NF_ACCEPT;
	sock_gen_put(sk);
	sipovl_gstat_inc(sn, SIPOVL_GS_ICMP_ERRORS);
	sipovl_dst_local_input(sn, skb, f);
	return NF_ACCEPT;
}

static unsigned int prerouting(struct sipovl_net *sn, struct sk_buff *skb,
			       const struct nf_hook_state *state, int f)
{
	enum sipovl_gstat reason = SIPOVL_GS_DROP_NO_SOCKET;
	struct sock *tw = NULL;
	struct sipovl_intercept *ic;
	struct sipovl_table *t;
	struct sipovl_srcset *srcs;
	struct sipovl_pkt p;
	struct mt_key k;
	struct sock *sk;
	s32 idx;
	int ret;

	if (skb->pkt_type != PACKET_HOST)
		return NF_ACCEPT;
	/* Bridged frames (br_netfilter) are not ours to steer. */
	if (sipovl_bridged(skb))
		return NF_ACCEPT;
	ret = sipovl_pkt_parse(skb, f, &p);
	if (ret) {
		if (ret < 0)
			count_malformed(sn);
		else
			return icmp_error(sn, skb, state, f);
		return NF_ACCEPT;
	}
	if (pkt_dst_special(&p))
		return NF_ACCEPT;
	pkt_key(&p, &k);
	sipovl_gstat_inc(sn, SIPOVL_GS_LOOKUPS);
	t = rcu_dereference(sn->table);
	idx = t ? mt_lookup(t->mt, &k) : -1;
	if (idx < 0) {
		srcs = rcu_dereference(sn->sources);
		if (!srcs || mt_lookup(srcs->mt, &k) < 0)
			return NF_ACCEPT;
		sk = flow_sock(state->net, skb, &p, state->in, true);
		if (!sk)
			return NF_ACCEPT;
		if (sipovl_pkt_src_spoofs_local(state->net, &p, state->in)) {
			sock_gen_put(sk);
			goto spoofed;
		}
		if (sk_ends_time_wait(sk, &p)) {
			/* A new flow, not a reply: routed as usual. */
			inet_twsk_deschedule_put(inet_twsk(sk));
			return NF_ACCEPT;
		}
		deliver(sn, skb, &p, sk);
		sipovl_gstat_inc(sn, SIPOVL_GS_REPLIES);
		return NF_ACCEPT;
	}

	ic = t->ic[idx];
	if (sipovl_pkt_src_spoofs_local(state->net, &p, state->in))
		goto spoofed;
	sk = flow_sock(state->net, skb, &p, state->in, true);
	if (sk && sk_ends_time_wait(sk, &p)) {
		/* Ended only if the SYN is steered (below). */
		tw = sk;
		sk = NULL;
	}
	if (!sk) {
		/*
		 * Replies of connections the other side opened (known only
		 * with conntrack) are not ours. A TCP segment other than a SYN
		 * that no socket owns (a connection older than the intercept,
		 * a late segment of a closed one) cannot start a flow: it gets
		 * the intercept's policy, so nothing leaks past a fail-closed
		 * intercept. The one exception is the ACK of a SYN-cookie
		 * handshake: it goes to the daemon's listener, which makes
		 * the connection from it.
		 */
		if (sipovl_pkt_is_reply(skb))
			goto accept;
		/*
		 * A subnet-directed broadcast is no unicast flow: the kernel
		 * delivers or forwards it as a broadcast.
		 */
		if (f == SIPOVL_F4 &&
		    inet_addr_type_dev_table(state->net, state->in,
					     *(const __be32 *)p.daddr) == RTN_BROADCAST)
			goto accept;
		if (p.p == SIPOVL_PTCP && !p.syn &&
		    !sipovl_pkt_syncookie_ack(state->net, skb, &p)) {
			reason = SIPOVL_GS_DROP_NOT_NEW;
			goto policy;
		}
		if (pkt_src_martian(&p)) {
			sipovl_gstat_inc(sn, SIPOVL_GS_ERRORS);
			sipovl_gstat_inc(sn, SIPOVL_GS_DROP_MARTIAN);
			trace_sipovl_drop(skb, &p, state->in, SIPOVL_GS_DROP_MARTIAN);
			goto drop;
		}
		if (!sipovl_pkt_rpf_ok(state->net, skb, &p, state->in)) {
			if (f == SIPOVL_F6)
				sipovl_gstat_inc(sn, SIPOVL_GS_ERRORS);
			sipovl_gstat_inc(sn, SIPOVL_GS_DROP_RP_FILTER);
			trace_sipovl_drop(skb, &p, state->in, SIPOVL_GS_DROP_RP_FILTER);
			goto drop;
		}
		sk = sipovl_socket_get(sn, f, p.p,
				       sipovl_flow_hash(sn, f, p.saddr, p.daddr,
							p.sport, p.dport));
		if (!sk) {
policy:
			if (apply_policy(sn, ic, skb, &p, state, reason) == NF_ACCEPT)
				goto accept;
			goto drop;
		}
		/*
		 * The SYN starts a new flow at the daemon: the TIME_WAIT ends
		 * (here, in softirq, as the ehash bucket lock taken by
		 * inet_twsk_kill() is also taken from softirq).
		 */
		if (tw)
			inet_twsk_deschedule_put(inet_twsk(tw));
		/* A cookie's ACK is the flow its SYN started. */
		if (p.p != SIPOVL_PTCP || p.syn)
			ic_count(ic, SIPOVL_IS_FLOWS, 1);
	}
	ic_count(ic, SIPOVL_IS_PACKETS, 1);
	ic_count(ic, SIPOVL_IS_BYTES, skb->len);
	sipovl_gstat_inc(sn, SIPOVL_GS_STEERED);
	deliver(sn, skb, &p, sk);
	return NF_ACCEPT;

accept:
	if (tw)
		sock_gen_put(tw);
	return NF_ACCEPT;
drop:
	if (tw)
		sock_gen_put(tw);
	return NF_DROP;
spoofed:
	sipovl_gstat_inc(sn, SIPOVL_GS_ERRORS);
	sipovl_gstat_inc(sn, SIPOVL_GS_DROP_LOCAL_SRC);
	trace_sipovl_drop(skb, &p, state->in, SIPOVL_GS_DROP_LOCAL_SRC);
	return NF_DROP;
}

/*
 * May a transparent socket send this packet out of @out? Its source must be
 * local (as seen from @out: its VRF, its link for a link-local source) or
 * claimed by sipovl and no martian (an intercept of ::/0 claims :: and
 * ::ffff:0:0/96 too, which no packet may come from).
 */
static bool src_allowed(struct sipovl_net *sn, struct net *net,
			const struct sipovl_pkt *p, const struct net_device *out)
{
	return (src_claimed(sn, p) && !pkt_src_martian(p)) ||
	       sipovl_addr_is_local(net, p->f, p->saddr, out);
}

/*
 * Does a socket that is not transparent send from a foreign address sipovl
 * claims? It would answer in the daemon's place (IPv6 output accepts a
 * foreign source bound with IPV6_FREEBIND; IPv4 refuses it without
 * IP_TRANSPARENT). The kernel's own sockets (TCP resets and TIME_WAIT ACKs)
 * answer for the flow's owner and pass.
 */
static bool src_usurped(struct sipovl_net *sn, struct net *net,
			const struct sock *owner, const struct sipovl_pkt *p,
			const struct net_device *out)
{
	return !owner->sk_kern_sock && src_claimed(sn, p) &&
	       !sipovl_addr_is_local(net, p->f, p->saddr, out);
}

/*
 * Is the packet's source (whatever it carries) one of this host's addresses,
 * as seen from @out?
 */
static bool skb_src_local(struct net *net, const struct sk_buff *skb, int f,
			  const struct net_device *out)
{
	if (f == SIPOVL_F4)
		return sipovl_addr_is_local(net, f, &ip_hdr(skb)->saddr, out);
	return sipovl_addr_is_local(net, f, &ipv6_hdr(skb)->saddr, out);
}

static bool sk_transparent_inet(const struct sock *sk)
{
	return sk && sk_fullsock(sk) &&
	       (sk->sk_family == AF_INET || sk->sk_family == AF_INET6) &&
	       inet_sk_transparent(sk);
}

static unsigned int local_out(struct sipovl_net *sn, struct sk_buff *skb,
			      const struct nf_hook_state *state, int f)
{
	struct net *net = state->net;
	struct sock *owner = skb_to_full_sk(skb);
	struct sipovl_srcset *srcs;
	struct sipovl_table *t;
	struct sipovl_pkt p;
	struct mt_key k;
	struct sock *sk;
	s32 idx;
	int ret;

	ret = sipovl_pkt_parse(skb, f, &p);
	if (ret) {
		if (ret < 0)
			count_malformed(sn);
		/*
		 * What a transparent socket sends and the source policing
		 * cannot read (a protocol other than TCP and UDP, a fragment
		 * defragmentation left alone, e.g. from a raw socket with
		 * IP_NODEFRAG, a truncated header) must come from a local
		 * address.
		 */
		if (sk_transparent_inet(owner) && !skb_src_local(net, skb, f, state->out)) {
			sipovl_gstat_inc(sn, SIPOVL_GS_SRC_DENIED);
			trace_sipovl_drop(skb, NULL, state->out, SIPOVL_GS_SRC_DENIED);
			return NF_DROP;
		}
		return NF_ACCEPT;
	}
	/*
	 * Transparent sockets (the daemon's): police the source, never steer.
	 * Other sockets may not use a foreign source sipovl claims. Both
	 * whatever the destination: broadcast and multicast are not steered,
	 * but their sources are policed all the same.
	 */
	if (sk_transparent_inet(owner)) {
		if (src_allowed(sn, net, &p, state->out)) {
			ct_no_helper(skb);
			return NF_ACCEPT;
		}
		sipovl_gstat_inc(sn, SIPOVL_GS_SRC_DENIED);
		trace_sipovl_drop(skb, &p, state->out, SIPOVL_GS_SRC_DENIED);
		return NF_DROP;
	}
	if (owner && sk_fullsock(owner) &&
	    (owner->sk_family == AF_INET || owner->sk_family == AF_INET6) &&
	    src_usurped(sn, net, owner, &p, state->out)) {
		sipovl_gstat_inc(sn, SIPOVL_GS_SRC_DENIED);
		trace_sipovl_drop(skb, &p, state->out, SIPOVL_GS_SRC_DENIED);
		return NF_DROP;
	}
	if (pkt_dst_special(&p))
		return NF_ACCEPT;
	if (f == SIPOVL_F4 && skb_rtable(skb) &&
	    (skb_rtable(skb)->rt_flags & (RTCF_BROADCAST | RTCF_MULTICAST)))
		return NF_ACCEPT;

	pkt_key(&p, &k);
	t = rcu_dereference(sn->table);
	idx = t ? mt_lookup(t->mt, &k) : -1;
	if (idx < 0) {
		srcs = rcu_dereference(sn->sources);
		if (!srcs || mt_lookup(srcs->mt, &k) < 0)
			return NF_ACCEPT;
	}
	sk = flow_sock(net, skb, &p, net->loopback_dev, false);
	if (!sk && idx >= 0) {
		/*
		 * Segments of existing local connections and replies pass; the
		 * ACK of a SYN-cookie handshake goes to the daemon's listener.
		 */
		if (sipovl_pkt_is_reply(skb))
			return NF_ACCEPT;
		if (p.p == SIPOVL_PTCP && !p.syn &&
		    !sipovl_pkt_syncookie_ack(net, skb, &p))
			return NF_ACCEPT;
		sk = sipovl_socket_get(sn, f, p.p,
				       sipovl_flow_hash(sn, f, p.saddr, p.daddr,
							p.sport, p.dport));
	}
	if (sk) {
		/* Loop it through lo: PREROUTING steers it. */
		sock_gen_put(sk);
		sipovl_dst_loopback_output(sn, skb, f);
		return NF_ACCEPT;
	}
	if (idx < 0)
		return NF_ACCEPT;
	return apply_policy(sn, t->ic[idx], skb, &p, state,
			    SIPOVL_GS_DROP_NO_SOCKET);
}

static int pf_family(const struct nf_hook_state *state)
{
	return state->pf == NFPROTO_IPV4 ? SIPOVL_F4 : SIPOVL_F6;
}

static unsigned int sipovl_pre(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	struct sipovl_net *sn = priv;

	if (!READ_ONCE(sn->active))
		return NF_ACCEPT;
	return prerouting(sn, skb, state, pf_family(state));
}

static unsigned int sipovl_out(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	struct sipovl_net *sn = priv;

	/* Source policing outlives the configuration (netns.h, policing). */
	if (!READ_ONCE(sn->active) && !READ_ONCE(sn->policing))
		return NF_ACCEPT;
	return local_out(sn, skb, state, pf_family(state));
}

/*
 * Both hooks run right after destination NAT (so after defragmentation,
 * conntrack and mangle): forwarded and local traffic are looked up at the
 * same NAT stage, with the destination the packet will be delivered to. An
 * admin's DNAT rule thus decides what is intercepted, and no NAT rewrites a
 * steered packet's destination afterwards (which would drop its local route
 * and, with the socket assigned, the packet: ip_forward() refuses it). In
 * LOCAL_OUT, NAT may also reroute, which would undo the loopback route.
 */
static const struct nf_hook_ops sipovl_nf_ops[SIPOVL_NHOOKS] = {
	{
		.hook = sipovl_pre,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP_PRI_NAT_DST + 1,
	},
	{
		.hook = sipovl_out,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP_PRI_NAT_DST + 1,
	},
	{
		.hook = sipovl_pre,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_PRE_ROUTING,
		.priority = NF_IP6_PRI_NAT_DST + 1,
	},
	{
		.hook = sipovl_out,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP6_PRI_NAT_DST + 1,
	},
};

/* The IPv6 hooks are the last two; none when IPv6 is disabled at boot. */
int sipovl_hooks_register(struct sipovl_net *sn)
{
	struct nf_hook_ops *ops = sn->hook_ops;
	bool v6 = ipv6_mod_enabled();
	unsigned int i;
	int ret;

	sn->n_hooks = v6 ? SIPOVL_NHOOKS : SIPOVL_NHOOKS - 2;
	ret = nf_defrag_ipv4_enable(sn->net);
	if (ret)
		return ret;
	if (v6) {
		ret = nf_defrag_ipv6_enable(sn->net);
		if (ret)
			goto err_defrag4;
	}
	for (i = 0; i < sn->n_hooks; i++) {
		ops[i] = sipovl_nf_ops[i];
		ops[i].priv = sn;
	}
	ret = nf_register_net_hooks(sn->net, ops, sn->n_hooks);
	if (ret)
		goto err_defrag6;
	return 0;

err_defrag6:
	if (v6)
		nf_defrag_ipv6_disable(sn->net);
err_defrag4:
	nf_defrag_ipv4_disable(sn->net);
	return ret;
}

void sipovl_hooks_unregister(struct sipovl_net *sn)
{
	nf_unregister_net_hooks(sn->net, sn->hook_ops, sn->n_hooks);
	if (sn->n_hooks == SIPOVL_NHOOKS)
		nf_defrag_ipv6_disable(sn->net);
	nf_defrag_ipv4_disable(sn->net);
}
