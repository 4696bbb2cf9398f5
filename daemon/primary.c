// SPDX-License-Identifier: GPL-2.0
/*
 * primary_address: the hosting precedence follows the site's VRRP address.
 *
 * Two gateways host a site's services with the callers' real source addresses
 * (allowedSourceAddresses): the LAN routes the replies to the site's gateway address, a VRRP
 * address (keepalived) that one gateway holds, so only that gateway may carry new flows. While
 * the address is on one of this gateway's interfaces, those services bind with precedence
 * required, otherwise default: the controller sends every dial to the holder. When the holder
 * dies without a word (power, kernel, network: no FIN reaches the router), its terminator
 * stays listed until the router's TCP gives its connection up (ziti v1.6: minutes), and with
 * a fixed `required` in host.v1 every dial went to it and timed out (multigw.sh, run 3). With
 * this, the gateway that takes the address over updates its terminators to required at once
 * (UpdateBind), and the controller's smartrouting picks the lowest cost among the required
 * ones: the dead gateway's carry its circuits and each failed dial's cost.
 *
 * The address is watched through rtnetlink address notifications on the event loop (no
 * privilege needed); the state at start, after a reload and after lost notifications
 * (ENOBUFS) comes from getifaddrs(3). Services hosted without transparent sources keep their
 * host.v1 precedence (a balanced pair: Documentation/admin-guide.md, "Two gateways at one site").
 */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <errno.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "daemon/sipovld.h"

static struct {
	struct mnl_socket *mon;
	struct zt_io io;
	bool on;                 /* primary_address configured and watched */
	bool held;
	struct sipovl_prefix addr;
} pa;

bool primary_held(void)
{
	return pa.on && pa.held;
}

uint8_t host_precedence(const struct svc *s)
{
	if (D.cfg.has_primary && s->host.n_allowed_srcs)
		return primary_held() ? ZT_PREC_REQUIRED : ZT_PREC_DEFAULT;
	return s->host.precedence;
}

static bool addr_is(int family, const void *a)
{
	size_t n = family == AF_INET ? 4 : 16;

	return family == pa.addr.family && !memcmp(a, pa.addr.addr, n);
}

static bool held_now(void)
{
	struct ifaddrs *ifa, *i;
	bool held = false;

	if (getifaddrs(&ifa)) {
		logm(L_WARN, "primary_address: cannot list the interfaces' addresses: %s; assuming it is not held",
		     strerror(errno));
		return false;
	}
	for (i = ifa; i && !held; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			held = addr_is(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr);
		else if (i->ifa_addr->sa_family == AF_INET6)
			held = addr_is(AF_INET6, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr);
	}
	freeifaddrs(ifa);
	return held;
}

/* every hosted service with transparent sources to the precedence it has now: how many */
static unsigned update_all(void)
{
	unsigned n = 0;

	for (struct ident *id = D.idents; id; id = id->next)
		for (struct svc *s = id->svcs; s; s = s->next)
			if (s->lsn && s->has_host && s->host.n_allowed_srcs) {
				zt_listener_set_precedence(s->lsn, host_precedence(s));
				n++;
			}
	return n;
}

static void set_held(bool held, const char *why)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned n;

	if (held == pa.held)
		return;
	pa.held = held;
	n = update_all();
	inet_ntop(pa.addr.family, pa.addr.addr, a, sizeof(a));
	logm(L_NOTICE, "primary_address %s %s (%s): %u hosted service%s with transparent sources now precedence %s",
	     a, held ? "is here" : "is gone", why, n, n == 1 ? "" : "s", held ? "required" : "default");
}

/* an address notification: is it ours? (IFA_LOCAL: the local address; IFA_ADDRESS: the peer's on ptp links) */
static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type == IFA_LOCAL || type == IFA_ADDRESS)
		tb[type] = attr;
	return MNL_CB_OK;
}

static void mon_cb(void *arg, uint32_t events)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	bool resync = false;
	int state = -1; /* the last notification about the address: 1 added, 0 removed */

	(void)arg;
	(void)events;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(pa.mon, buf, sizeof(buf));

		if (n < 0) {
			if (errno == ENOBUFS) /* notifications lost */
				resync = true;
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			break; /* EAGAIN: all read */
		}
		int len = (int)n;

		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlattr *tb[IFA_MAX + 1] = { 0 };
			const struct ifaddrmsg *ifa;
			const struct nlattr *at;
			size_t alen;

			if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR)
				continue;
			ifa = mnl_nlmsg_get_payload(nlh);
			if (mnl_attr_parse(nlh, sizeof(*ifa), attr_cb, tb) < 0)
				continue;
			at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
			alen = ifa->ifa_family == AF_INET ? 4 : 16;
			if (!at || mnl_attr_get_payload_len(at) < alen || !addr_is(ifa->ifa_family, mnl_attr_get_payload(at)))
				continue;
			state = nlh->nlmsg_type == RTM_NEWADDR;
		}
	}
	if (resync)
		set_held(held_now(), "notifications lost: listed again");
	else if (state >= 0)
		set_held(state == 1, state == 1 ? "address added" : "address removed");
}

static void mon_close(void)
{
	if (!pa.mon)
		return;
	zt_io_del(D.loop, &pa.io);
	mnl_socket_close(pa.mon);
	pa.mon = NULL;
}

int primary_apply(void)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (!D.cfg.has_primary) {
		if (pa.on) {
			mon_close();
			pa.on = pa.held = false;
			update_all(); /* back to their host.v1 precedence */
			logm(L_NOTICE, "primary_address: removed from the configuration; hosting with host.v1's precedence");
		}
		return 0;
	}
	if (pa.on && !memcmp(&pa.addr, &D.cfg.primary, sizeof(pa.addr)))
		return 0;
	pa.addr = D.cfg.primary;
	inet_ntop(pa.addr.family, pa.addr.addr, a, sizeof(a));
	if (!pa.mon) {
		pa.mon = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (!pa.mon || mnl_socket_bind(pa.mon, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, MNL_SOCKET_AUTOPID) < 0) {
			logm(L_ERR, "primary_address %s: cannot watch the addresses (rtnetlink): %s", a, strerror(errno));
			if (pa.mon)
				mnl_socket_close(pa.mon);
			pa.mon = NULL;
			return -1;
		}
		zt_io_init(&pa.io, mnl_socket_get_fd(pa.mon), mon_cb, NULL);
		if (zt_io_set(D.loop, &pa.io, EPOLLIN)) {
			logm(L_ERR, "primary_address %s: cannot add the address watch to the event loop", a);
			mnl_socket_close(pa.mon);
			pa.mon = NULL;
			return -1;
		}
	}
	pa.on = true;
	pa.held = held_now();
	/* services already hosted (the address given or changed by a reload) follow it now */
	unsigned n = update_all();

	logm(L_NOTICE, "primary_address %s: %s; services hosted with transparent sources (%u now): precedence %s", a,
	     pa.held ? "held here" : "not held here", n, pa.held ? "required" : "default");
	return 0;
}

void primary_stop(void)
{
	mon_close();
	pa.on = false;
}

struct json_object *primary_json(void)
{
	struct json_object *o;
	char a[INET6_ADDRSTRLEN] = "?";

	if (!pa.on)
		return NULL;
	o = json_object_new_object();
	inet_ntop(pa.addr.family, pa.addr.addr, a, sizeof(a));
	JADD(o, "address", JS(a));
	JADD(o, "held", JB(pa.held));
	JADD(o, "precedence", JS(pa.held ? "required" : "default"));
	return o;
}
