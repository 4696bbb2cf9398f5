// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld endpoint mode: the local interface that holds the endpoint's pool address
 * (endpoint.interface), through rtnetlink. sipovld creates it at start (a dummy interface; an
 * ifb interface on kernels without the dummy driver: both only hold addresses, traffic to them
 * is delivered locally), marks it with the alias EPIF_ALIAS, puts the address on it once the
 * pool server answered (/32 or /128) and removes it when it stops. An interface of that name
 * that sipovld did not create (no such alias) is an error naming it, never changed; one that
 * carries the alias is a previous sipovld's that could not remove it (killed): it is replaced.
 *
 * The requests are synchronous (a netlink request to the local kernel and its ack), like the
 * sipovl table commands on the loop.
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <net/if.h> /* before linux/if.h: its libc-compat then defines nothing twice */
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include "daemon/endpoint.h"

#define EPIF_ALIAS "sipovld endpoint"

static struct {
	struct mnl_socket *nl;
	unsigned seq, portid;
	int ifindex;             /* ours, 0: none */
	char name[IFNAMSIZ];
	char kind[8];
	/* the watch (epif_watch): link and address notifications, non-blocking, on the loop */
	struct mnl_socket *mon;
	struct zt_io io;
	void (*lost)(bool link, bool addr);
} ei;

static int epif_open(char *err, size_t errlen)
{
	if (ei.nl)
		return 0;
	ei.nl = mnl_socket_open(NETLINK_ROUTE);
	if (!ei.nl || mnl_socket_bind(ei.nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "rtnetlink: %s", strerror(errno));
		if (ei.nl)
			mnl_socket_close(ei.nl);
		ei.nl = NULL;
		return -1;
	}
	ei.portid = mnl_socket_get_portid(ei.nl);
	ei.seq = (unsigned)time(NULL);
	return 0;
}

/* Sends @nlh and reads its answer through @cb (NULL: none) up to the ack: 0, or a negative errno. */
static int epif_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int rc;

	nlh->nlmsg_seq = ++ei.seq;
	/* an answer, then the ack (or the error); a dump ends with NLMSG_DONE instead */
	nlh->nlmsg_flags |= NLM_F_REQUEST | ((nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP ? 0 : NLM_F_ACK);
	if (mnl_socket_sendto(ei.nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		rc = (int)mnl_socket_recvfrom(ei.nl, buf, sizeof(buf));
		if (rc < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)rc, ei.seq, ei.portid, cb, data);
		if (rc <= MNL_CB_STOP)
			return rc < 0 ? -errno : 0;
	}
}

struct link_info {
	int index;
	char kind[16];
	char alias[64];
};

static int linkinfo_cb(const struct nlattr *a, void *data)
{
	struct link_info *li = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND && !mnl_attr_validate(a, MNL_TYPE_STRING))
		snprintf(li->kind, sizeof(li->kind), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct link_info *li = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFALIAS:
		if (!mnl_attr_validate(a, MNL_TYPE_STRING))
			snprintf(li->alias, sizeof(li->alias), "%s", mnl_attr_get_str(a));
		break;
	case IFLA_LINKINFO:
		mnl_attr_parse_nested(a, linkinfo_cb, li);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_info *li = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	li->index = ifm->ifi_index;
	mnl_attr_parse(nlh, sizeof(*ifm), link_attr_cb, li);
	return MNL_CB_OK;
}

/* The interface @name: 0 and @li, -ENODEV when there is none, another negative errno */
static int link_get(const char *name, struct link_info *li)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	memset(li, 0, sizeof(*li));
	nlh->nlmsg_type = RTM_GETLINK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	int rc = epif_talk(nlh, link_cb, li);

	return rc ? rc : li->index ? 0 : -ENODEV;
}

static int link_del(int index)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_DELLINK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = index;
	return epif_talk(nlh, NULL, NULL);
}

/* by name: a link made by link_new whose index could not be read */
static int link_del_name(const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_DELLINK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return epif_talk(nlh, NULL, NULL);
}

static int link_new(const char *name, const char *kind)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;
	struct nlattr *li;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, li);
	return epif_talk(nlh, NULL, NULL);
}

/*
 * The alias that marks it as ours, and up: a request of its own after the creation (kernels
 * from 6.18 on ignore IFLA_IFALIAS in the RTM_NEWLINK that creates a link)
 */
static int link_setup(int index)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_SETLINK;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = index;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, EPIF_ALIAS);
	return epif_talk(nlh, NULL, NULL);
}

int epif_create(const char *name, char *err, size_t errlen)
{
	struct link_info li;
	int rc;

	if (epif_open(err, errlen))
		return -1;
	rc = link_get(name, &li);
	if (rc == 0) {
		if (strcmp(li.alias, EPIF_ALIAS) || (strcmp(li.kind, "dummy") && strcmp(li.kind, "ifb"))) {
			snprintf(err, errlen, "endpoint.interface %s: an interface of that name exists (%s%s) and sipovld did "
				 "not create it; name another one, or remove it", name, li.kind[0] ? "kind " : "no kind",
				 li.kind);
			return -1;
		}
		/* a previous sipovld's (killed before it could remove it): made anew */
		rc = link_del(li.index);
		if (rc) {
			snprintf(err, errlen, "endpoint.interface %s: cannot remove the one a previous sipovld left: %s", name,
				 strerror(-rc));
			return -1;
		}
	} else if (rc != -ENODEV) {
		snprintf(err, errlen, "endpoint.interface %s: %s", name, strerror(-rc));
		return -1;
	}
	snprintf(ei.kind, sizeof(ei.kind), "dummy");
	rc = link_new(name, ei.kind);
	if (rc == -EOPNOTSUPP) { /* no dummy driver: an ifb holds an address the same way */
		snprintf(ei.kind, sizeof(ei.kind), "ifb");
		rc = link_new(name, ei.kind);
	}
	if (rc) {
		snprintf(err, errlen, "endpoint.interface %s: cannot create it (dummy or ifb): %s", name, strerror(-rc));
		return -1;
	}
	/* made: from here on every failure removes it again (half made, the next start would refuse it) */
	rc = link_get(name, &li);
	if (!rc)
		rc = link_setup(li.index);
	if (!rc && !(rc = link_get(name, &li)) && strcmp(li.alias, EPIF_ALIAS))
		rc = -EPROTO; /* the alias did not stick: the next start could not tell it from the admin's */
	if (rc) {
		snprintf(err, errlen, "endpoint.interface %s: cannot set it up: %s", name,
			 rc == -EPROTO ? "the kernel did not keep its alias" : strerror(-rc));
		if (li.index ? link_del(li.index) : link_del_name(name))
			logm(L_ERR, "endpoint.interface %s: cannot remove it after that failure", name);
		return -1;
	}
	ei.ifindex = li.index;
	snprintf(ei.name, sizeof(ei.name), "%s", name);
	return 0;
}

const char *epif_kind(void)
{
	return ei.ifindex ? ei.kind : NULL;
}

int epif_addr(const struct sipovl_prefix *a, bool add, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t al = a->family == AF_INET ? 4 : 16;
	int rc;

	if (!ei.ifindex)
		return errf(err, errlen, "endpoint.interface: not created");
	nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	nlh->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_REPLACE : 0;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = (uint8_t)(al * 8);
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ei.ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, al, a->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, al, a->addr);
	if (a->family == AF_INET6) /* usable at once: the pool makes it unique */
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	rc = epif_talk(nlh, NULL, NULL);
	if (rc)
		return errf(err, errlen, "endpoint.interface %s: cannot %s the address: %s", ei.name,
			    add ? "add" : "remove", strerror(-rc));
	return 0;
}

struct addr_find {
	const struct sipovl_prefix *a;
	int index; /* the first other interface holding it, 0: none */
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_find *f = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	size_t al = f->a->family == AF_INET ? 4 : 16;
	const struct nlattr *at;

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != f->a->family || (int)ifa->ifa_index == ei.ifindex ||
	    f->index)
		return MNL_CB_OK;
	mnl_attr_for_each(at, nlh, sizeof(*ifa)) {
		unsigned t = mnl_attr_get_type(at);

		/* IPv4: IFA_LOCAL is the address (IFA_ADDRESS the peer on point-to-point); IPv6: IFA_ADDRESS */
		if ((t == IFA_LOCAL || (t == IFA_ADDRESS && al == 16)) && mnl_attr_get_payload_len(at) == al &&
		    !memcmp(mnl_attr_get_payload(at), f->a->addr, al))
			f->index = (int)ifa->ifa_index;
	}
	return MNL_CB_OK;
}

int epif_addr_elsewhere(const struct sipovl_prefix *a, char *ifname, size_t len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	struct addr_find f = { .a = a };
	char name[IFNAMSIZ];
	int rc;

	if (!ei.nl)
		return -ENOTCONN;
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	rc = epif_talk(nlh, addr_cb, &f);
	if (rc)
		return rc;
	if (!f.index)
		return 0;
	if (!if_indextoname((unsigned)f.index, name))
		snprintf(name, sizeof(name), "#%d", f.index);
	snprintf(ifname, len, "%s", name);
	return 1;
}

/* the watch socket is readable: notifications about our link and its addresses */
static void epif_mon_cb(void *arg, uint32_t events)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	bool link = false, addr = false;

	(void)arg;
	(void)events;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(ei.mon, buf, sizeof(buf));

		if (n < 0) {
			if (errno == ENOBUFS) /* notifications lost: check both */
				link = addr = true;
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			break; /* EAGAIN: all read */
		}
		int len = (int)n;

		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type == RTM_DELLINK) {
				const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

				link |= ifm->ifi_index == ei.ifindex;
			} else if (nlh->nlmsg_type == RTM_DELADDR) {
				const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

				addr |= (int)ifa->ifa_index == ei.ifindex;
			}
		}
	}
	if ((link || addr) && ei.ifindex && ei.lost)
		ei.lost(link, addr);
}

int epif_watch(struct zt_loop *loop, void (*lost)(bool link, bool addr), char *err, size_t errlen)
{
	ei.lost = lost;
	if (ei.mon)
		return 0;
	ei.mon = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!ei.mon || mnl_socket_bind(ei.mon, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
				       MNL_SOCKET_AUTOPID) < 0) {
		errf(err, errlen, "rtnetlink watch: %s", strerror(errno));
		if (ei.mon)
			mnl_socket_close(ei.mon);
		ei.mon = NULL;
		return -1;
	}
	zt_io_init(&ei.io, mnl_socket_get_fd(ei.mon), epif_mon_cb, NULL);
	if (zt_io_set(loop, &ei.io, EPOLLIN)) {
		errf(err, errlen, "rtnetlink watch: cannot add it to the event loop");
		mnl_socket_close(ei.mon);
		ei.mon = NULL;
		return -1;
	}
	return 0;
}

/* our link is gone (deleted by someone else): forgotten, so epif_create makes it anew */
void epif_forget(void)
{
	ei.ifindex = 0;
}

void epif_remove(void)
{
	if (ei.mon) { /* our own deletion is no news */
		zt_io_del(D.loop, &ei.io);
		mnl_socket_close(ei.mon);
		ei.mon = NULL;
	}
	if (ei.ifindex) {
		int rc = link_del(ei.ifindex);

		if (rc)
			logm(L_ERR, "endpoint.interface %s: cannot remove it: %s", ei.name, strerror(-rc));
		else
			logm(L_INFO, "endpoint.interface %s: removed", ei.name);
	}
	ei.ifindex = 0;
	if (ei.nl)
		mnl_socket_close(ei.nl);
	ei.nl = NULL;
}
