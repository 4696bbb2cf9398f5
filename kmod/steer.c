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
#include <linux/jhash.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/ip6_route.h>
#include <net/addrconf.h>
#include <net/tcp.h>
#include <net/dst.h>

#include <uapi/linux/sipovl.h>

#include "compat.h"
#include "steer.h"

/*
 * A group: the daemon's sockets for new flows of one family and protocol.
 * It is immutable once published; every change (a member joins or leaves, a
 * registration replaces the group) publishes a new one under sn->lock and
 * frees the old after a grace period. A member carries a random key drawn
 * when it joins and kept while it is a member, so a member's flows do not
 * depend on its position in the array or on the other members (rendezvous
 * hashing, see sipovl_socket_get()).
 */
struct sipovl_member {
	struct sock *sk;
	u32 key;
};

struct sipovl_group {
	unsigned int n;
	struct sipovl_member m[];
};

/*
 * The kernel holds a reference to each registered socket, and a socket holds
 * its network namespace: once the daemon has closed a registered socket, the
 * reference must go, or the namespace could never be freed. The reaper checks
 * every second while any socket is registered. Until it runs, lookups skip
 * the closed member already.
 */
#define SIPOVL_REAP_INTERVAL HZ

/*
 * A socket registered in the namespace and not yet closed, whether or not it
 * is still a member of a group: while one is open, the source policing
 * outlives the configuration (netns.h, policing). The reaper drops the
 * closed ones.
 */
struct sipovl_known {
	struct list_head node;
	struct sock *sk;
};

#define SIPOVL_MAX_KNOWN 1024

/* Remember @sk (registered now) until it is closed. */
static void known_add(struct sipovl_net *sn, struct sock *sk)
{
	struct sipovl_known *k;

	lockdep_assert_held(&sn->lock);
	list_for_each_entry(k, &sn->known, node)
		if (k->sk == sk)
			return;
	k = NULL;
	if (sn->n_known < SIPOVL_MAX_KNOWN)
		k = kmalloc(sizeof(*k), GFP_KERNEL_ACCOUNT);
	if (!k) {
		/* Untracked: police until the namespace goes (fail closed). */
		sn->police_stuck = true;
		return;
	}
	sock_hold(sk);
	k->sk = sk;
	list_add(&k->node, &sn->known);
	sn->n_known++;
}

/* Forget the closed sockets (all with @all). */
static void known_prune(struct sipovl_net *sn, bool all)
{
	struct sipovl_known *k, *tmp;

	lockdep_assert_held(&sn->lock);
	list_for_each_entry_safe(k, tmp, &sn->known, node) {
		if (!all && !sock_flag(k->sk, SOCK_DEAD))
			continue;
		list_del(&k->node);
		sn->n_known--;
		sock_put(k->sk);
		kfree(k);
	}
}

static struct sipovl_group *group_locked(struct sipovl_net *sn, int f, int p)
{
	return rcu_dereference_protected(sn->groups[f][p],
					 lockdep_is_held(&sn->lock));
}

static void group_free(struct sipovl_group *g)
{
	unsigned int i;

	if (!g)
		return;
	for (i = 0; i < g->n; i++)
		sock_put(g->m[i].sk);
	kfree(g);
}

/*
 * A new group with the members of @old for which @keep is true, plus @add
 * when it is not NULL; a reference is taken on every member. NULL with
 * *@err = 0 when no member is left, *@err = -ENOMEM when memory ran out.
 * Charged to the caller's memory cgroup; a group that only shrinks (a
 * leave, the reaper) is made without the charge when the cgroup is at its
 * limit, so that the limit cannot keep a socket in a group.
 */
static struct sipovl_group *group_build(const struct sipovl_group *old,
					const struct sock *drop_sk, bool drop_dead,
					struct sock *add, int *err)
{
	unsigned int i, n = 0, cap = (old ? old->n : 0) + !!add;
	struct sipovl_group *g;

	*err = 0;
	if (!cap)
		return NULL;
	g = kmalloc(struct_size(g, m, cap), GFP_KERNEL_ACCOUNT);
	if (!g && !add)
		g = kmalloc(struct_size(g, m, cap), GFP_KERNEL);
	if (!g) {
		*err = -ENOMEM;
		return NULL;
	}
	for (i = 0; old && i < old->n; i++) {
		struct sock *sk = old->m[i].sk;

		if (sk == drop_sk || (drop_dead && !sipovl_socket_alive(sk)))
			continue;
		sock_hold(sk);
		g->m[n++] = old->m[i];
	}
	if (add) {
		sock_hold(add);
		g->m[n].sk = add;
		g->m[n++].key = get_random_u32();
	}
	g->n = n;
	if (!n) {
		kfree(g);
		return NULL;
	}
	return g;
}

/* Publish @g (may be NULL) as the group of @f, @p; the old one is freed. */
static void group_publish(struct sipovl_net *sn, int f, int p,
			  struct sipovl_group *g)
{
	struct sipovl_group *old;

	lockdep_assert_held(&sn->lock);
	old = rcu_replace_pointer(sn->groups[f][p], g, lockdep_is_held(&sn->lock));
	sipovl_update_active(sn);
	if (g)
		schedule_delayed_work(&sn->reaper, SIPOVL_REAP_INTERVAL);
	if (old) {
		synchronize_net();
		group_free(old);
	}
}

static bool group_has_dead(const struct sipovl_group *g)
{
	unsigned int i;

	for (i = 0; g && i < g->n; i++)
		if (!sipovl_socket_alive(g->m[i].sk))
			return true;
	return false;
}

static void sipovl_reap(struct work_struct *w)
{
	struct sipovl_net *sn = container_of(to_delayed_work(w), struct sipovl_net,
					     reaper);
	bool any = false;
	int f, p, err;

	mutex_lock(&sn->lock);
	for (f = 0; f < SIPOVL_NFAMILIES; f++) {
		for (p = 0; p < SIPOVL_NPROTOS; p++) {
			struct sipovl_group *g = group_locked(sn, f, p);

			if (group_has_dead(g)) {
				struct sipovl_group *ng;

				ng = group_build(g, NULL, true, NULL, &err);
				/* Out of memory: lookups skip the dead; retry. */
				if (!err)
					group_publish(sn, f, p, ng);
			}
			any |= !!group_locked(sn, f, p);
		}
	}
	known_prune(sn, false);
	/* The policing ends with the last registered socket (netns.h). */
	sipovl_update_active(sn);
	if (any || !list_empty(&sn->known))
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
	sn->hash_seed = get_random_u32();
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
	known_prune(sn, true);
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

u32 sipovl_flow_hash(const struct sipovl_net *sn, int f, const void *saddr,
		     const void *daddr, __be16 sport, __be16 dport)
{
	u32 ports = ((u32)ntohs(sport) << 16) | ntohs(dport);

	if (f == SIPOVL_F4)
		return jhash_3words(*(const u32 *)saddr, *(const u32 *)daddr,
				    ports, sn->hash_seed);
	return jhash_1word(ports, jhash2(daddr, 4, jhash2(saddr, 4, sn->hash_seed)));
}

/*
 * Rendezvous (highest random weight) hashing: every live member scores the
 * flow with its own key and the highest score wins. A flow's member depends
 * only on the flow and on the set of live members, so it is the same for
 * every packet of the flow; when a member leaves, only its flows move (each
 * to the member that scored second), and a member that joins takes only the
 * flows it now wins, about 1/n, from every other member alike.
 */
struct sock *sipovl_socket_get(struct sipovl_net *sn, int f, int p, u32 hash)
{
	struct sipovl_group *g = rcu_dereference(sn->groups[f][p]);
	struct sock *best = NULL;
	u32 best_score = 0;
	unsigned int i;

	if (!g)
		return NULL;
	for (i = 0; i < g->n; i++) {
		struct sock *sk = g->m[i].sk;
		u32 score;

		if (!sipovl_socket_alive(sk))
			continue;
		score = jhash_1word(hash, g->m[i].key);
		if (!best || score > best_score) {
			best = sk;
			best_score = score;
		}
	}
	if (!best || !refcount_inc_not_zero(&best->sk_refcnt))
		return NULL;
	return best;
}

/*
 * The socket of the calling process's @fd, checked as registration requires:
 * on success *@sockp holds the file reference (sockfd_put()).
 */
static int socket_lookup(struct sipovl_net *sn, int fd, struct socket **sockp,
			 int *fp, int *pp, struct netlink_ext_ack *extack)
{
	struct socket *sock;
	struct sock *sk;
	int err, f, p;

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
	} else if (sk->sk_type == SOCK_DGRAM && sk->sk_protocol == IPPROTO_UDP) {
		p = SIPOVL_PUDP;
	} else {
		sipovl_set_err(extack, "socket is neither TCP nor UDP");
		err = -EPROTONOSUPPORT;
		goto out;
	}
	*sockp = sock;
	*fp = f;
	*pp = p;
	return 0;
out:
	sockfd_put(sock);
	return err;
}

static int socket_check(struct sock *sk, int p, struct netlink_ext_ack *extack)
{
	if (p == SIPOVL_PTCP) {
		if (READ_ONCE(sk->sk_state) != TCP_LISTEN) {
			sipovl_set_err(extack, "TCP socket is not listening");
			return -EINVAL;
		}
	} else {
		if (!inet_sk(sk)->inet_num) {
			sipovl_set_err(extack, "UDP socket is not bound");
			return -EINVAL;
		}
		if (READ_ONCE(sk->sk_state) == TCP_ESTABLISHED) {
			sipovl_set_err(extack, "UDP socket is connected");
			return -EINVAL;
		}
	}
	if (!inet_sk_transparent(sk)) {
		sipovl_set_err(extack, "socket lacks IP_TRANSPARENT / IPV6_TRANSPARENT");
		return -EINVAL;
	}
	return 0;
}

static bool group_has(const struct sipovl_group *g, const struct sock *sk)
{
	unsigned int i;

	for (i = 0; g && i < g->n; i++)
		if (g->m[i].sk == sk)
			return true;
	return false;
}

int sipovl_socket_register(struct sipovl_net *sn, int fd, bool join,
			   struct netlink_ext_ack *extack)
{
	struct sipovl_group *old, *g;
	struct socket *sock;
	int err, f, p;

	lockdep_assert_held(&sn->lock);
	err = socket_lookup(sn, fd, &sock, &f, &p, extack);
	if (err)
		return err;
	err = socket_check(sock->sk, p, extack);
	if (err)
		goto out;
	old = group_locked(sn, f, p);
	if (join) {
		if (group_has(old, sock->sk)) {
			sipovl_set_err(extack, "socket is already a member of the group");
			err = -EEXIST;
			goto out;
		}
		if (old && old->n >= SIPOVL_MAX_GROUP_MEMBERS) {
			SIPOVL_ERR_FMT(extack, "group is full (%u members)",
				       SIPOVL_MAX_GROUP_MEMBERS);
			err = -ENOSPC;
			goto out;
		}
	}
	/* Without join, the socket replaces the whole group. */
	g = group_build(join ? old : NULL, NULL, false, sock->sk, &err);
	if (err)
		goto out;
	known_add(sn, sock->sk);
	group_publish(sn, f, p, g);
out:
	sockfd_put(sock);
	return err;
}

int sipovl_socket_leave(struct sipovl_net *sn, int fd,
			struct netlink_ext_ack *extack)
{
	struct sipovl_group *old, *g;
	struct socket *sock;
	int err, f, p;

	lockdep_assert_held(&sn->lock);
	err = socket_lookup(sn, fd, &sock, &f, &p, extack);
	if (err)
		return err;
	old = group_locked(sn, f, p);
	if (!group_has(old, sock->sk)) {
		sipovl_set_err(extack, "socket is not a registered member");
		err = -ENOENT;
		goto out;
	}
	g = group_build(old, sock->sk, false, NULL, &err);
	if (err)
		goto out;
	group_publish(sn, f, p, g);
out:
	sockfd_put(sock);
	return err;
}

void sipovl_socket_unregister(struct sipovl_net *sn, int f, int p)
{
	struct sipovl_group *old[SIPOVL_NFAMILIES][SIPOVL_NPROTOS] = {};
	bool any = false;
	int i, j;

	lockdep_assert_held(&sn->lock);
	for (i = 0; i < SIPOVL_NFAMILIES; i++) {
		for (j = 0; j < SIPOVL_NPROTOS; j++) {
			if ((f >= 0 && f != i) || (p >= 0 && p != j))
				continue;
			old[i][j] = rcu_replace_pointer(sn->groups[i][j], NULL,
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
			group_free(old[i][j]);
}

int sipovl_socket_for_each(struct sipovl_net *sn,
			   int (*fn)(void *arg, int f, int p, unsigned int idx,
				     unsigned int n, struct sock *sk),
			   void *arg)
{
	int f, p, err;

	lockdep_assert_held(&sn->lock);
	for (f = 0; f < SIPOVL_NFAMILIES; f++) {
		for (p = 0; p < SIPOVL_NPROTOS; p++) {
			struct sipovl_group *g = group_locked(sn, f, p);
			unsigned int i;

			for (i = 0; g && i < g->n; i++) {
				err = fn(arg, f, p, i, g->n, g->m[i].sk);
				if (err)
					return err;
			}
		}
	}
	return 0;
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
