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

int sipovl_socket_register(struct sipovl_net *sn, int fd,
			   struct netlink_ext_ack *extack);
/* family/proto index < 0: every registration. */
void sipovl_socket_unregister(struct sipovl_net *sn, int f, int p);
bool sipovl_socket_alive(const struct sock *sk);
/* RCU: the live registered socket with a reference taken, or NULL. */
struct sock *sipovl_socket_get(struct sipovl_net *sn, int f, int p);

/* Make @skb go to local delivery (input) or out through loopback (output). */
void sipovl_dst_local_input(struct sipovl_net *sn, struct sk_buff *skb, int f);
void sipovl_dst_loopback_output(struct sipovl_net *sn, struct sk_buff *skb,
				int f);

#endif /* _SIPOVL_STEER_H */
