// SPDX-License-Identifier: GPL-2.0
/*
 * libsipovl: sockets, transparent sources, configuration, counters, lookup
 * and events.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "ctl/libsipovl.h"
#include "ctl/libsipovl_int.h"


/* ---- sockets, sources, config, stats, lookup ------------------------- */

int sipovl_socket_register(struct sipovl_nl *nl, int fd)
{
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_SOCKET_REGISTER, NLM_F_ACK);

	mnl_attr_put_u32(nlh, SIPOVL_A_SOCKET_FD, (uint32_t)fd);
	return snl_transact(nl, nlh, NULL, NULL, NULL);
}

int sipovl_socket_join(struct sipovl_nl *nl, int fd)
{
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_SOCKET_REGISTER, NLM_F_ACK);

	mnl_attr_put_u32(nlh, SIPOVL_A_SOCKET_FD, (uint32_t)fd);
	mnl_attr_put_u32(nlh, SIPOVL_A_FLAGS, SIPOVL_F_SOCKET_JOIN);
	return snl_transact(nl, nlh, NULL, NULL, NULL);
}

int sipovl_socket_leave(struct sipovl_nl *nl, int fd)
{
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_SOCKET_UNREGISTER, NLM_F_ACK);

	mnl_attr_put_u32(nlh, SIPOVL_A_SOCKET_FD, (uint32_t)fd);
	return snl_transact(nl, nlh, NULL, NULL, NULL);
}

int sipovl_socket_unregister(struct sipovl_nl *nl, uint16_t family,
			     uint8_t protocol)
{
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_SOCKET_UNREGISTER, NLM_F_ACK);

	if (family)
		mnl_attr_put_u16(nlh, SIPOVL_A_FAMILY, family);
	if (protocol)
		mnl_attr_put_u8(nlh, SIPOVL_A_PROTOCOL, protocol);
	return snl_transact(nl, nlh, NULL, NULL, NULL);
}

int sipovl_sources_set(struct sipovl_nl *nl, const struct sipovl_prefix *v,
		       size_t n)
{
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_SOURCES_SET, NLM_F_ACK);

	if (n > SIPOVL_MAX_TRANSPARENT_SOURCES ||
	    snl_prefixes_size(v, n) > snl_sbuf_room(nlh)) {
		snl_clear_err(nl);
		return snl_fail(nl, E2BIG);
	}
	snl_put_prefixes(nlh, SIPOVL_A_SOURCES, v, n);
	return snl_transact(nl, nlh, NULL, NULL, NULL);
}

static int decode_socket(const struct nlattr *nest, struct sipovl_socket_info *s)
{
	const struct nlattr *a;

	memset(s, 0, sizeof(*s));
	s->alive = true;
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case SIPOVL_SOCKET_A_FAMILY:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -EPROTO;
			s->family = mnl_attr_get_u16(a);
			break;
		case SIPOVL_SOCKET_A_PROTOCOL:
			if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
				return -EPROTO;
			s->protocol = mnl_attr_get_u8(a);
			break;
		case SIPOVL_SOCKET_A_PORT:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -EPROTO;
			s->port = mnl_attr_get_u16(a);
			break;
		case SIPOVL_SOCKET_A_ALIVE:
			if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
				return -EPROTO;
			s->alive = mnl_attr_get_u8(a);
			break;
		case SIPOVL_SOCKET_A_MEMBER:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -EPROTO;
			s->member = mnl_attr_get_u32(a);
			s->has_group = true;
			break;
		case SIPOVL_SOCKET_A_MEMBERS:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -EPROTO;
			s->members = mnl_attr_get_u32(a);
			break;
		case SIPOVL_SOCKET_A_INODE:
			if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
				return -EPROTO;
			s->inode = mnl_attr_get_u64(a);
			break;
		}
	}
	return 0;
}

static int config_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh, void *data)
{
	struct sipovl_config *c = data;
	const struct nlattr *a;
	int ret = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case SIPOVL_A_GENERATION:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return snl_fail(nl, EPROTO);
			c->generation = mnl_attr_get_u32(a);
			break;
		case SIPOVL_A_INTERCEPT_COUNT:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return snl_fail(nl, EPROTO);
			c->intercept_count = mnl_attr_get_u32(a);
			break;
		case SIPOVL_A_SOURCES:
			free(c->sources);
			ret = snl_decode_prefixes(a, &c->sources, &c->n_sources);
			break;
		case SIPOVL_A_SOCKET: {
			void *p = realloc(c->sockets,
					  (c->n_sockets + 1) * sizeof(*c->sockets));

			if (!p)
				return snl_fail(nl, ENOMEM);
			c->sockets = p;
			ret = decode_socket(a, &c->sockets[c->n_sockets]);
			if (!ret)
				c->n_sockets++;
			break;
		}
		}
		if (ret)
			return snl_fail(nl, -ret);
	}
	return 0;
}

int sipovl_config_get(struct sipovl_nl *nl, struct sipovl_config *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	ret = snl_transact(nl, snl_put_req(nl, SIPOVL_CMD_CONFIG_GET, NLM_F_ACK),
		       config_cb, out, NULL);
	if (ret)
		sipovl_config_release(out);
	return ret;
}

static int stats_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *nest = snl_find_attr(nlh, SIPOVL_A_STATS), *a;
	struct sipovl_stats *s = data;

	if (!nest)
		return snl_fail(nl, EPROTO);
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case SIPOVL_STATS_A_LOOKUPS: s->lookups = snl_get_u64(a); break;
		case SIPOVL_STATS_A_STEERED: s->steered = snl_get_u64(a); break;
		case SIPOVL_STATS_A_PASSED: s->passed = snl_get_u64(a); break;
		case SIPOVL_STATS_A_DROPPED: s->dropped = snl_get_u64(a); break;
		case SIPOVL_STATS_A_ERRORS: s->errors = snl_get_u64(a); break;
		case SIPOVL_STATS_A_REPLIES: s->replies = snl_get_u64(a); break;
		case SIPOVL_STATS_A_SRC_DENIED: s->src_denied = snl_get_u64(a); break;
		case SIPOVL_STATS_A_DROP_NO_SOCKET: s->drops.no_socket = snl_get_u64(a); break;
		case SIPOVL_STATS_A_DROP_NOT_NEW: s->drops.not_new = snl_get_u64(a); break;
		case SIPOVL_STATS_A_DROP_MARTIAN: s->drops.martian = snl_get_u64(a); break;
		case SIPOVL_STATS_A_DROP_LOCAL_SRC: s->drops.local_src = snl_get_u64(a); break;
		case SIPOVL_STATS_A_DROP_RP_FILTER: s->drops.rp_filter = snl_get_u64(a); break;
		case SIPOVL_STATS_A_MALFORMED: s->malformed = snl_get_u64(a); break;
		case SIPOVL_STATS_A_REJECTED: s->rejected = snl_get_u64(a); break;
		case SIPOVL_STATS_A_ICMP_ERRORS: s->icmp_errors = snl_get_u64(a); break;
		}
		if (mnl_attr_get_type(a) >= SIPOVL_STATS_A_DROP_NO_SOCKET &&
		    mnl_attr_get_type(a) <= SIPOVL_STATS_A_MALFORMED)
			s->has_drops = true;
	}
	return 0;
}

int sipovl_stats_get(struct sipovl_nl *nl, bool reset, struct sipovl_stats *out)
{
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_STATS_GET, NLM_F_ACK);

	memset(out, 0, sizeof(*out));
	if (reset)
		mnl_attr_put_u32(nlh, SIPOVL_A_FLAGS, SIPOVL_F_RESET_STATS);
	return snl_transact(nl, nlh, stats_cb, out, NULL);
}

int sipovl_lookup(struct sipovl_nl *nl, const struct sipovl_tuple *t,
		  uint32_t *id, char name[SIPOVL_NAME_MAXLEN])
{
	struct nlmsghdr *nlh = snl_put_req(nl, SIPOVL_CMD_LOOKUP, NLM_F_ACK);
	size_t alen = t->family == AF_INET6 ? 16 : 4;
	struct sipovl_intercept in = { 0 };
	struct nlattr *nest;
	int ret;

	nest = mnl_attr_nest_start(nlh, SIPOVL_A_TUPLE);
	mnl_attr_put_u16(nlh, SIPOVL_TUPLE_A_FAMILY, t->family);
	mnl_attr_put_u8(nlh, SIPOVL_TUPLE_A_PROTOCOL, t->protocol);
	mnl_attr_put(nlh, SIPOVL_TUPLE_A_SRC, alen, t->src);
	mnl_attr_put(nlh, SIPOVL_TUPLE_A_DST, alen, t->dst);
	if (t->has_sport)
		mnl_attr_put_u16(nlh, SIPOVL_TUPLE_A_SPORT, t->sport);
	mnl_attr_put_u16(nlh, SIPOVL_TUPLE_A_DPORT, t->dport);
	mnl_attr_nest_end(nlh, nest);
	ret = snl_transact(nl, nlh, snl_intercept_reply_cb, &in, NULL);
	if (ret)
		return ret;
	if (!(in.present & SIPOVL_I_ID)) {
		sipovl_intercept_release(&in);
		return snl_fail(nl, EPROTO);
	}
	*id = in.id;
	snprintf(name, SIPOVL_NAME_MAXLEN, "%s", in.name);
	sipovl_intercept_release(&in);
	return 0;
}

/* ---- events ----------------------------------------------------------- */

int sipovl_events_subscribe(struct sipovl_nl *nl)
{
	int fd = mnl_socket_get_fd(nl->sk), sz = EVENTS_RCVBUF;
	uint32_t grp = nl->events_group;

	snl_clear_err(nl);
	if (!grp)
		return snl_fail(nl, EOPNOTSUPP);
	/* Big buffer (privileged callers may exceed rmem_max) against ENOBUFS. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (mnl_socket_setsockopt(nl->sk, NETLINK_ADD_MEMBERSHIP, &grp,
				  sizeof(grp)) < 0)
		return snl_fail(nl, errno);
	return 0;
}

static void decode_event(const struct nlmsghdr *nlh, struct sipovl_event *ev)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *b;

	memset(ev, 0, sizeof(*ev));
	ev->cmd = g->cmd;
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		switch (mnl_attr_get_type(a)) {
		case SIPOVL_A_GENERATION:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
				ev->generation = mnl_attr_get_u32(a);
				ev->has_generation = true;
			}
			break;
		case SIPOVL_A_INTERCEPT:
			ev->has_intercept = true;
			mnl_attr_for_each_nested(b, a) {
				if (mnl_attr_get_type(b) == SIPOVL_INTERCEPT_A_ID &&
				    mnl_attr_validate(b, MNL_TYPE_U32) == 0)
					ev->id = mnl_attr_get_u32(b);
				if (mnl_attr_get_type(b) == SIPOVL_INTERCEPT_A_NAME &&
				    mnl_attr_validate(b, MNL_TYPE_NUL_STRING) == 0)
					snprintf(ev->name, sizeof(ev->name), "%s",
						 mnl_attr_get_str(b));
			}
			break;
		}
	}
}

int sipovl_events_recv(struct sipovl_nl *nl,
		       int (*cb)(const struct sipovl_event *ev, void *data),
		       void *data)
{
	const struct nlmsghdr *m = (const struct nlmsghdr *)nl->rbuf;
	ssize_t len;
	int rem, ret;

	snl_clear_err(nl);
	do
		len = mnl_socket_recvfrom(nl->sk, nl->rbuf, RBUF_SIZE);
	while (len < 0 && errno == EINTR);
	if (len < 0)
		return snl_fail(nl, errno);
	rem = (int)len;
	for (; mnl_nlmsg_ok(m, rem); m = mnl_nlmsg_next(m, &rem)) {
		struct sipovl_event ev;

		if (m->nlmsg_type != nl->family_id ||
		    mnl_nlmsg_get_payload_len(m) < sizeof(struct genlmsghdr))
			continue;
		decode_event(m, &ev);
		ret = cb(&ev, data);
		if (ret)
			return ret;
	}
	return 0;
}
