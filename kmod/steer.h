/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SIPOVL_STEER_H
#define _SIPOVL_STEER_H

#include <linux/skbuff.h>
#include <net/sock.h>

#include "netns.h"

struct netlink_ext_ack;

int sipovl_steer_netns_init(struct sipovl_net *sn);
void sipovl_steer_netns_stop(struct sipovl_net *sn);
void sipovl_steer_release_routes(struct sipovl_net *sn);
void sipovl_steer_netns_exit(struct sipovl_net *sn);

/*
 * Registers the socket of @fd: with @join as one more member of the group
 * of its family and protocol, else as the group's only member.
 */
int sipovl_socket_register(struct sipovl_net *sn, int fd, bool join,
			   struct netlink_ext_ack *extack);
/* Removes the socket of @fd from its group. */
int sipovl_socket_leave(struct sipovl_net *sn, int fd,
			struct netlink_ext_ack *extack);
/* family/proto index < 0: every registration. */
void sipovl_socket_unregister(struct sipovl_net *sn, int f, int p);
bool sipovl_socket_alive(const struct sock *sk);
/* The hash of a flow that picks its group member. */
u32 sipovl_flow_hash(const struct sipovl_net *sn, int f, const void *saddr,
		     const void *daddr, __be16 sport, __be16 dport);
/*
 * RCU: the live group member that flow @hash goes to, with a reference
 * taken, or NULL.
 */
struct sock *sipovl_socket_get(struct sipovl_net *sn, int f, int p, u32 hash);
/* Under sn->lock: @fn for every member of every group until it fails. */
int sipovl_socket_for_each(struct sipovl_net *sn,
			   int (*fn)(void *arg, int f, int p, unsigned int idx,
				     unsigned int n, struct sock *sk),
			   void *arg);

/* Make @skb go to local delivery (input) or out through loopback (output). */
void sipovl_dst_local_input(struct sipovl_net *sn, struct sk_buff *skb, int f);
void sipovl_dst_loopback_output(struct sipovl_net *sn, struct sk_buff *skb,
				int f);

#endif /* _SIPOVL_STEER_H */
