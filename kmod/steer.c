// SPDX-License-Identifier: GPL-2.0
/*
 * Steering: the daemon's registered transparent sockets and the
 * local-delivery routes that replace policy routing.
 *
 * A packet that belongs to a daemon socket is assigned to it (skb->sk) and
 * given a route whose input is local delivery, so the IP layer neither looks
 * up a route for the (foreign) destination nor forwards the packet: no fwmark,
 * no "ip rule", no "local" routes are needed. Locally originated packets are
 * given a route out through the loopback device, so they come back through
 * PREROUTING where they are steered like forwarded ones.
 */

#include <linux/file.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/ip6_route.h>
#include <net/addrconf.h>
#include <net/tcp.h>
#include <net/dst.h>

#include "compat.h"
#include "steer.h"

/*
 * The kernel holds a reference to each registered socket, and a socket holds
 * its network namespace: once the daemon has closed a registered socket, the
 * reference must go, or the namespace could never be freed. The reaper checks
 * every second while any socket is registered.
 */
#define SIPOVL_REAP_INTERVAL HZ

static void sipovl_reap(struct work_struct *w)
{
	struct sipovl_net *sn = container_of(to_delayed_work(w), struct sipovl_net,
					     reaper);
	bool any = false;
	int f, p;

	mutex_lock(&sn->lock);
	for (f = 0; f < SIPOVL_NFAMILIES; f++) {
		for (p = 0; p < SIPOVL_NPROTOS; p++) {
			struct sock *sk = rcu_dereference_protected(sn->sk[f][p],
						lockdep_is_held(&sn->lock));

			if (sk && !sipovl_socket_alive(sk))
				sipovl_socket_unregister(sn, f, p);
			else if (sk)
				any = true;
		}
	}
	if (any)
		schedule_delayed_work(&sn->reaper, SIPOVL_REAP_INTERVAL);
	mutex_unlock(&sn->lock);
}

int sipovl_steer_netns_init(struct sipovl_net *sn)
{
	struct net_device *lo = sn->net->loopback_dev;
	struct rt6_info *rt6;
	struct rtable *rt;

	rt = rt_dst_alloc(lo, RTCF_LOCAL, RTN_LOCAL, false);
	if (!rt)
		return -ENOMEM;
	rt->dst.input = ip_local_deliver;
	rt->dst.output = ip_output;

	INIT_DELAYED_WORK(&sn->reaper, sipovl_reap);
	sn->lo_rt4 = rt;
	if (!ipv6_mod_enabled())
		return 0;

	rt6 = ip6_dst_alloc(sn->net, lo, 0);
	if (!rt6)
		goto err;
	rt6->dst.input = ip6_input;
	rt6->dst.output = ip6_output;
	rt6->rt6i_flags = RTF_LOCAL | RTF_UP;
	rt6->rt6i_idev = in6_dev_get(lo);
	if (!rt6->rt6i_idev) {
		dst_release(&rt6->dst);
		goto err;
	}
	sn->lo_rt6 = rt6;
	return 0;

err:
	dst_release(&rt->dst);
	sn->lo_rt4 = NULL;
	return -ENOMEM;
}

/*
 * The routes hold the loopback device: release them in pre_exit, before any
 * kernel version unregisters the namespace's devices.
 */
void sipovl_steer_release_routes(struct sipovl_net *sn)
{
	if (sn->lo_rt4)
		dst_release(&sn->lo_rt4->dst);
	if (sn->lo_rt6)
		dst_release(&sn->lo_rt6->dst);
	sn->lo_rt4 = NULL;
	sn->lo_rt6 = NULL;
}

/* Before sn->lock is taken for the namespace's exit. */
void sipovl_steer_netns_stop(struct sipovl_net *sn)
{
	cancel_delayed_work_sync(&sn->reaper);
}

void sipovl_steer_netns_exit(struct sipovl_net *sn)
{
	sipovl_socket_unregister(sn, -1, -1);
}

/*
 * Still what registration accepted: a listening TCP socket; an open UDP
 * socket that was not connect()ed since (a connected socket is one flow's,
 * not the daemon's socket for new flows).
 */
bool sipovl_socket_alive(const struct sock *sk)
{
	if (sk->sk_protocol == IPPROTO_TCP)
		return READ_ONCE(sk->sk_state) == TCP_LISTEN;
	return !sock_flag(sk, SOCK_DEAD) &&
	       READ_ONCE(sk->sk_state) != TCP_ESTABLISHED;
}

struct sock *sipovl_socket_get(struct sipovl_net *sn, int f, int p)
{
	struct sock *sk = rcu_dereference(sn->sk[f][p]);

	if (!sk || !sipovl_socket_alive(sk))
		return NULL;
	if (!refcount_inc_not_zero(&sk->sk_refcnt))
		return NULL;
	return sk;
}

int sipovl_socket_register(struct sipovl_net *sn, int fd,
			   struct netlink_ext_ack *extack)
{
	struct socket *sock;
	struct sock *sk, *old;
	int err, f, p;

	lockdep_assert_held(&sn->lock);
	sock = sockfd_lookup(fd, &err);
	if (!sock) {
		SIPOVL_ERR_FMT(extack, "fd %d is not a socket of the calling process", fd);
		return err;
	}
	sk = sock->sk;
	err = -EINVAL;
	if (!net_eq(sock_net(sk), sn->net)) {
		sipovl_set_err(extack, "socket belongs to another network namespace");
		goto out;
	}
	if (sk->sk_family == AF_INET) {
		f = SIPOVL_F4;
	} else if (sk->sk_family == AF_INET6) {
		f = SIPOVL_F6;
	} else {
		sipovl_set_err(extack, "socket is neither AF_INET nor AF_INET6");
		err = -EAFNOSUPPORT;
		goto out;
	}
	if (sk->sk_type == SOCK_STREAM && sk->sk_protocol == IPPROTO_TCP) {
		p = SIPOVL_PTCP;
		if (READ_ONCE(sk->sk_state) != TCP_LISTEN) {
			sipovl_set_err(extack, "TCP socket is not listening");
			goto out;
		}
	} else if (sk->sk_type == SOCK_DGRAM && sk->sk_protocol == IPPROTO_UDP) {
		p = SIPOVL_PUDP;
		if (!inet_sk(sk)->inet_num) {
			sipovl_set_err(extack, "UDP socket is not bound");
			goto out;
		}
		if (READ_ONCE(sk->sk_state) == TCP_ESTABLISHED) {
			sipovl_set_err(extack, "UDP socket is connected");
			goto out;
		}
	} else {
		sipovl_set_err(extack, "socket is neither TCP nor UDP");
		err = -EPROTONOSUPPORT;
		goto out;
	}
	if (!inet_sk_transparent(sk)) {
		sipovl_set_err(extack, "socket lacks IP_TRANSPARENT / IPV6_TRANSPARENT");
		goto out;
	}

	sock_hold(sk);
	old = rcu_replace_pointer(sn->sk[f][p], sk, lockdep_is_held(&sn->lock));
	sipovl_update_active(sn);
	schedule_delayed_work(&sn->reaper, SIPOVL_REAP_INTERVAL);
	if (old) {
		synchronize_net();
		sock_put(old);
	}
	err = 0;
out:
	sockfd_put(sock);
	return err;
}

void sipovl_socket_unregister(struct sipovl_net *sn, int f, int p)
{
	struct sock *old[SIPOVL_NFAMILIES][SIPOVL_NPROTOS] = {};
	bool any = false;
	int i, j;

	lockdep_assert_held(&sn->lock);
	for (i = 0; i < SIPOVL_NFAMILIES; i++) {
		for (j = 0; j < SIPOVL_NPROTOS; j++) {
			if ((f >= 0 && f != i) || (p >= 0 && p != j))
				continue;
			old[i][j] = rcu_replace_pointer(sn->sk[i][j], NULL,
						lockdep_is_held(&sn->lock));
			any |= !!old[i][j];
		}
	}
	if (!any)
		return;
	sipovl_update_active(sn);
	synchronize_net();
	for (i = 0; i < SIPOVL_NFAMILIES; i++)
		for (j = 0; j < SIPOVL_NPROTOS; j++)
			if (old[i][j])
				sock_put(old[i][j]);
}

/*
 * A steered packet must not become a route hint. ip_list_rcv_finish() and
 * ip6_list_rcv_finish() give the route of a packet of a receive list to the
 * following packets to the same destination address (and, for IPv4, TOS)
 * that have no route yet, as a hint: with the local-delivery route of a
 * steered packet, every packet after it to that address (other ports, ICMP,
 * policy pass) would be delivered here instead of forwarded. The kernel
 * refuses a packet as the hint when its control block carries
 * IPSKB_MULTIPATH / IP6SKB_MULTIPATH, flags read nowhere else (see
 * compat.h); the control block is valid from the IP receive routine to the
 * transport layer.
 */
static void sipovl_refuse_route_hint(struct sk_buff *skb, int f)
{
	if (f == SIPOVL_F4)
		IPCB(skb)->flags |= IPSKB_MULTIPATH;
	else
		IP6CB(skb)->flags |= IP6SKB_MULTIPATH;
}

void sipovl_dst_local_input(struct sipovl_net *sn, struct sk_buff *skb, int f)
{
	struct dst_entry *dst = f == SIPOVL_F4 ? &sn->lo_rt4->dst :
						 &sn->lo_rt6->dst;

	/* PREROUTING runs inside the receive path's RCU section. */
	skb_dst_drop(skb);
	skb_dst_set_noref(skb, dst);
	sipovl_refuse_route_hint(skb, f);
}

void sipovl_dst_loopback_output(struct sipovl_net *sn, struct sk_buff *skb,
				int f)
{
	struct dst_entry *dst = f == SIPOVL_F4 ? &sn->lo_rt4->dst :
						 &sn->lo_rt6->dst;

	/* The output path may leave RCU before dst_output(): take a ref. */
	skb_dst_drop(skb);
	dst_hold(dst);
	skb_dst_set(skb, dst);
}
