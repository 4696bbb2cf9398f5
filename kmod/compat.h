/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Compatibility shims for the kernels sipovl supports (Debian 12: 6.1 and
 * 6.12). Every version check of the module lives here.
 */
#ifndef _SIPOVL_COMPAT_H
#define _SIPOVL_COMPAT_H

#include <linux/version.h>
#include <linux/netlink.h>
#include <linux/ipv6.h>
#include <net/ip.h>
#include <linux/netfilter_bridge.h>
#include <net/inet_dscp.h>
#include <net/route.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "sipovl needs Linux 6.1 or later"
#endif

/* Point extack at a message with static storage duration. */
static inline void sipovl_set_err(struct netlink_ext_ack *extack,
				  const char *msg)
{
	if (extack)
		extack->_msg = msg;
}

#ifdef NL_SET_ERR_MSG_FMT
#define SIPOVL_ERR_FMT(extack, fmt, args...) \
	NL_SET_ERR_MSG_FMT(extack, fmt, ##args)
#else
/*
 * Before 6.2 extack has no buffer for formatted messages, and the message
 * must outlive the handler (the ack is written after it returns): it is
 * formatted into a buffer of the calling task's (netlink.c).
 */
void sipovl_extack_fmt(struct netlink_ext_ack *extack, const char *fmt, ...)
	__printf(2, 3);
#define SIPOVL_ERR_FMT(extack, fmt, args...) \
	sipovl_extack_fmt(extack, fmt, ##args)
#endif

/*
 * The TOS bits a route lookup uses: IPTOS_RT_MASK until 6.12 removed it in
 * favour of the DSCP field.
 */
#ifdef IPTOS_RT_MASK
#define SIPOVL_RT_TOS(tos)	((tos) & IPTOS_RT_MASK)
#else
#define SIPOVL_RT_TOS(tos)	((tos) & INET_DSCP_MASK)
#endif

/*
 * Route hints of list receive (ip_list_rcv_finish(), ip6_list_rcv_finish()):
 * steer.c keeps a steered packet from becoming the hint with the flags the
 * kernel itself uses to refuse a hint (multipath routes). They came with the
 * multipath hint fix, which Debian's 6.1 (stable backport) and 6.12 both
 * have, and they are read only by ip_extract_route_hint() and
 * ip6_extract_route_hint(). Without them a steered packet's local-delivery
 * route would leak to the packets after it: refuse to build.
 */
#if !defined(IPSKB_MULTIPATH) || !defined(IP6SKB_MULTIPATH)
#error "sipovl needs IPSKB_MULTIPATH and IP6SKB_MULTIPATH to refuse route hints"
#endif

/*
 * The reject policy answers with the kernel's nf_reject helpers
 * (nf_send_reset(), nf_send_unreach() and their IPv6 twins, the same on 6.1
 * and 6.12). Debian builds both as modules.
 */
#if !IS_ENABLED(CONFIG_NF_REJECT_IPV4) || !IS_ENABLED(CONFIG_NF_REJECT_IPV6)
#error "sipovl needs CONFIG_NF_REJECT_IPV4 and CONFIG_NF_REJECT_IPV6 (policy reject)"
#endif

/*
 * A frame bridged with br_netfilter. Without CONFIG_BRIDGE_NETFILTER the
 * kernel does not declare nf_bridge_info_exists() at all.
 */
#if IS_ENABLED(CONFIG_BRIDGE_NETFILTER)
#define sipovl_bridged(skb)	nf_bridge_info_exists(skb)
#else
#define sipovl_bridged(skb)	((void)(skb), false)
#endif

/*
 * The MSS a SYN cookie in the ACK of @th encodes, 0 if it carries none (the
 * hash covers the addresses and ports, so a cookie is valid only for its own
 * flow). 6.8 stopped passing the cookie to __cookie_v4/v6_check().
 */
#if !IS_ENABLED(CONFIG_SYN_COOKIES)
#define sipovl_cookie_v4_check(iph, th)	0
#define sipovl_cookie_v6_check(ip6h, th)	0
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define sipovl_cookie_v4_check(iph, th)	__cookie_v4_check(iph, th)
#define sipovl_cookie_v6_check(ip6h, th)	__cookie_v6_check(ip6h, th)
#else
#define sipovl_cookie_v4_check(iph, th) \
	__cookie_v4_check(iph, th, ntohl((th)->ack_seq) - 1)
#define sipovl_cookie_v6_check(ip6h, th) \
	__cookie_v6_check(ip6h, th, ntohl((th)->ack_seq) - 1)
#endif

#endif /* _SIPOVL_COMPAT_H */
