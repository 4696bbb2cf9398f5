// SPDX-License-Identifier: GPL-2.0
/*
 * libsipovl: netlink client of the "sipovl" generic netlink family, on libmnl.
 * See libsipovl.h and uapi/linux/sipovl.h.
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

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/*
 * Send buffer: one message carries at most one intercept plus headers when
 * the intercept alone exceeds TXN_MSG_TARGET; an intercept within the uapi
 * limits (1024 destinations, 1024 sources, 1024 ranges) encodes to ~101 KiB.
 */
#define SBUF_SIZE (256 * 1024)
/* Receive buffer: the kernel caps dump skbs at 32 KiB; do replies may be larger. */
#define RBUF_SIZE (256 * 1024)
/* Target size of one SIPOVL_CMD_TABLE_ADD message. */
#define TXN_MSG_TARGET (32 * 1024 - 512)
/* Intercepts in one SIPOVL_CMD_TABLE_ADD message, at most. */
#define BATCH_MAX 1024
/* Interrupted dumps are restarted this many times before giving up. */
#define DUMP_RETRIES 16
/* Receive buffer asked for event sockets. */
#define EVENTS_RCVBUF (4 * 1024 * 1024)

struct sipovl_nl {
	struct mnl_socket *sk;
	uint32_t portid;
	uint32_t seq;
	uint16_t family_id;
	uint32_t events_group;		/* 0: the family has no "events" group */
	char *sbuf;
	char *rbuf;
	struct sipovl_err err;
	uint32_t batch_off[BATCH_MAX];	/* offsets of the intercepts in a TABLE_ADD */
};

/* ---- errors ----------------------------------------------------------- */

const struct sipovl_err *sipovl_error(const struct sipovl_nl *nl)
{
	return &nl->err;
}

static int fail(struct sipovl_nl *nl, int errnum)
{
	nl->err.errnum = errnum;
	return -errnum;
}

static void clear_err(struct sipovl_nl *nl)
{
	memset(&nl->err, 0, sizeof(nl->err));
	nl->err.index = -1;
}

/* Copies NLMSGERR_ATTR_MSG of an error or done message into nl->err.extack. */
static void parse_extack(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
			 unsigned int offset)
{
	const struct nlattr *attr;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (nlh->nlmsg_len < mnl_nlmsg_size(offset))
		return;
	mnl_attr_for_each(attr, nlh, offset) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_OFFS &&
		    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			nl->err.bad_offset = mnl_attr_get_u32(attr);
		if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG)
			continue;
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			continue;
		snprintf(nl->err.extack, sizeof(nl->err.extack), "%s",
			 mnl_attr_get_str(attr));
		/* Drop one trailing newline some kernel messages carry. */
		size_t l = strlen(nl->err.extack);
		if (l && nl->err.extack[l - 1] == '\n')
			nl->err.extack[l - 1] = '\0';
	}
}

/* NLMSG_ERROR: returns 0 for an ack, else the negative errno. */
static int parse_nlmsgerr(struct sipovl_nl *nl, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*e);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return fail(nl, EPROTO);
	if (e->error == 0)
		return 0;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	nl->err.extack[0] = '\0';
	parse_extack(nl, nlh, off);
	nl->err.errnum = e->error < 0 ? -e->error : e->error;
	return -nl->err.errnum;
}

/* NLMSG_DONE: may carry the dump's error (int) followed by extack TLVs. */
static int parse_done(struct sipovl_nl *nl, const struct nlmsghdr *nlh)
{
	int err;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(int))
		return 0;
	memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err >= 0)
		return 0;
	nl->err.extack[0] = '\0';
	parse_extack(nl, nlh, sizeof(int));
	nl->err.errnum = -err;
	return err;
}

/* ---- socket ----------------------------------------------------------- */

int sipovl_enter_netns(const char *name)
{
	char path[256];
	int fd, ret = 0;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (snprintf(path, sizeof(path), "/run/netns/%s", name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int sipovl_fd(const struct sipovl_nl *nl)
{
	return mnl_socket_get_fd(nl->sk);
}

static struct nlmsghdr *put_genl(struct sipovl_nl *nl, uint16_t type,
				 uint8_t cmd, uint8_t version, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->sbuf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

typedef int (*msg_cb)(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
		      void *data);

/*
 * Sends @nlh and processes replies to it until the final ack (do) or
 * NLMSG_DONE (dump). Messages of other sequence numbers (left over from an
 * abandoned interrupted dump) are skipped. *@intr, when not NULL, is set if
 * any reply carries NLM_F_DUMP_INTR; the dump is still read to its end.
 */
static int transact(struct sipovl_nl *nl, struct nlmsghdr *nlh, msg_cb cb,
		    void *data, bool *intr)
{
	uint32_t seq = nlh->nlmsg_seq;
	int ret = 0;

	clear_err(nl);
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return fail(nl, errno);

	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl->sk, nl->rbuf, RBUF_SIZE);
		const struct nlmsghdr *m = (const struct nlmsghdr *)nl->rbuf;
		int rem;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return fail(nl, errno);
		}
		rem = (int)len;
		for (; mnl_nlmsg_ok(m, rem); m = mnl_nlmsg_next(m, &rem)) {
			if (m->nlmsg_seq != seq || m->nlmsg_pid != nl->portid)
				continue;
			if (intr && (m->nlmsg_flags & NLM_F_DUMP_INTR))
				*intr = true;
			switch (m->nlmsg_type) {
			case NLMSG_NOOP:
				continue;
			case NLMSG_OVERRUN:
				return fail(nl, ENOBUFS);
			case NLMSG_ERROR: {
				int e = parse_nlmsgerr(nl, m);

				/* A callback failure wins over the final ack. */
				return ret ? ret : e;
			}
			case NLMSG_DONE: {
				int e = parse_done(nl, m);

				return ret ? ret : e;
			}
			default:
				if (ret || !cb)
					continue;
				ret = cb(nl, m, data);
			}
		}
	}
}

struct family_info {
	uint16_t id;
	uint32_t events_group;
};

static int parse_mcgrps(const struct nlattr *nest, struct family_info *fi)
{
	const struct nlattr *grp;

	mnl_attr_for_each_nested(grp, nest) {
		const struct nlattr *a;
		const char *name = NULL;
		uint32_t id = 0;

		mnl_attr_for_each_nested(a, grp) {
			switch (mnl_attr_get_type(a)) {
			case CTRL_ATTR_MCAST_GRP_NAME:
				if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
					name = mnl_attr_get_str(a);
				break;
			case CTRL_ATTR_MCAST_GRP_ID:
				if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
					id = mnl_attr_get_u32(a);
				break;
			}
		}
		if (name && !strcmp(name, SIPOVL_MCGRP_EVENTS))
			fi->events_group = id;
	}
	return 0;
}

static int family_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
		     void *data)
{
	struct family_info *fi = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case CTRL_ATTR_FAMILY_ID:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return fail(nl, EPROTO);
			fi->id = mnl_attr_get_u16(a);
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			parse_mcgrps(a, fi);
			break;
		}
	}
	return 0;
}

int sipovl_open(struct sipovl_nl **out, struct sipovl_err *errp)
{
	struct family_info fi = { 0 };
	struct sipovl_nl *nl;
	struct nlmsghdr *nlh;
	int one = 1, ret;

	*out = NULL;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		goto nomem;
	nl->sbuf = malloc(SBUF_SIZE);
	nl->rbuf = malloc(RBUF_SIZE);
	if (!nl->sbuf || !nl->rbuf) {
		free(nl->sbuf);
		free(nl->rbuf);
		free(nl);
		goto nomem;
	}
	nl->seq = (uint32_t)getpid() << 8;
	nl->err.index = -1;

	nl->sk = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!nl->sk) {
		ret = fail(nl, errno);
		goto err;
	}
	/* Best effort: kernels without extended acks still work. */
	mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = fail(nl, errno);
		goto err;
	}
	nl->portid = mnl_socket_get_portid(nl->sk);

	nlh = put_genl(nl, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_ACK);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, SIPOVL_GENL_NAME);
	ret = transact(nl, nlh, family_cb, &fi, NULL);
	if (ret == -ENOENT) {
		nl->err.no_family = true;
		goto err;
	}
	if (ret)
		goto err;
	if (!fi.id) {
		ret = fail(nl, EPROTO);
		goto err;
	}
	nl->family_id = fi.id;
	nl->events_group = fi.events_group;
	*out = nl;
	return 0;

err:
	if (errp)
		*errp = nl->err;
	sipovl_close(nl);
	return ret;
nomem:
	if (errp) {
		memset(errp, 0, sizeof(*errp));
		errp->index = -1;
		errp->errnum = ENOMEM;
	}
	return -ENOMEM;
}

void sipovl_close(struct sipovl_nl *nl)
{
	if (!nl)
		return;
	if (nl->sk)
		mnl_socket_close(nl->sk);
	free(nl->sbuf);
	free(nl->rbuf);
	free(nl);
}

static struct nlmsghdr *put_req(struct sipovl_nl *nl, uint8_t cmd, uint16_t flags)
{
	return put_genl(nl, nl->family_id, cmd, SIPOVL_GENL_VERSION, flags);
}

/* ---- encoding --------------------------------------------------------- */

#define ATTR_SZ(payload) MNL_ALIGN(MNL_ATTR_HDRLEN + (payload))

static size_t prefix_size(const struct sipovl_prefix *p)
{
	return ATTR_SZ(0) + ATTR_SZ(2) + ATTR_SZ(p->family == AF_INET6 ? 16 : 4) +
	       ATTR_SZ(1);
}

static size_t prefixes_size(const struct sipovl_prefix *v, uint32_t n)
{
	size_t s = ATTR_SZ(0);
	uint32_t i;

	for (i = 0; i < n; i++)
		s += prefix_size(&v[i]);
	return s;
}

/* Upper bound of the encoded size of SIPOVL_A_INTERCEPT for @in. */
static size_t intercept_size(const struct sipovl_intercept *in)
{
	size_t s = ATTR_SZ(0);

	s += ATTR_SZ(4);				/* id */
	s += ATTR_SZ(strnlen(in->name, SIPOVL_NAME_MAXLEN - 1) + 1);
	s += ATTR_SZ(4);				/* protocols */
	s += ATTR_SZ(1);				/* policy */
	s += prefixes_size(in->dsts, in->n_dsts);
	s += prefixes_size(in->srcs, in->n_srcs);
	s += ATTR_SZ(0) + (size_t)in->n_ports * (ATTR_SZ(0) + 2 * ATTR_SZ(2));
	return s;
}

static void put_prefix(struct nlmsghdr *nlh, const struct sipovl_prefix *p)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, 0);

	mnl_attr_put_u16(nlh, SIPOVL_PREFIX_A_FAMILY, p->family);
	mnl_attr_put(nlh, SIPOVL_PREFIX_A_ADDR, p->family == AF_INET6 ? 16 : 4,
		     p->addr);
	mnl_attr_put_u8(nlh, SIPOVL_PREFIX_A_LEN, p->len);
	mnl_attr_nest_end(nlh, n);
}

static void put_prefixes(struct nlmsghdr *nlh, uint16_t type,
			 const struct sipovl_prefix *v, uint32_t n)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);
	uint32_t i;

	for (i = 0; i < n; i++)
		put_prefix(nlh, &v[i]);
	mnl_attr_nest_end(nlh, nest);
}

/*
 * Encodes @in as a SIPOVL_A_INTERCEPT nest. Arrays are sent when not empty
 * (sources) or whenever the caller gives a full intercept (protos set).
 */
static void put_intercept(struct nlmsghdr *nlh, const struct sipovl_intercept *in)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, SIPOVL_A_INTERCEPT);
	uint32_t i;

	if (in->present & SIPOVL_I_ID)
		mnl_attr_put_u32(nlh, SIPOVL_INTERCEPT_A_ID, in->id);
	if (in->present & SIPOVL_I_NAME)
		mnl_attr_put_strz(nlh, SIPOVL_INTERCEPT_A_NAME, in->name);
	if (in->present & SIPOVL_I_PROTOS)
		mnl_attr_put_u32(nlh, SIPOVL_INTERCEPT_A_PROTOCOLS, in->protos);
	if (in->present & SIPOVL_I_POLICY)
		mnl_attr_put_u8(nlh, SIPOVL_INTERCEPT_A_POLICY, in->policy);
	if (in->n_dsts)
		put_prefixes(nlh, SIPOVL_INTERCEPT_A_DESTINATIONS, in->dsts,
			     in->n_dsts);
	if (in->n_ports) {
		struct nlattr *ports = mnl_attr_nest_start(nlh,
						SIPOVL_INTERCEPT_A_PORTS);

		for (i = 0; i < in->n_ports; i++) {
			struct nlattr *r = mnl_attr_nest_start(nlh, 0);

			mnl_attr_put_u16(nlh, SIPOVL_PORTRANGE_A_LOW,
					 in->ports[i].low);
			mnl_attr_put_u16(nlh, SIPOVL_PORTRANGE_A_HIGH,
					 in->ports[i].high);
			mnl_attr_nest_end(nlh, r);
		}
		mnl_attr_nest_end(nlh, ports);
	}
	if (in->n_srcs)
		put_prefixes(nlh, SIPOVL_INTERCEPT_A_SOURCES, in->srcs,
			     in->n_srcs);
	mnl_attr_nest_end(nlh, nest);
}

/* Room left for attributes in the send buffer after the headers. */
static size_t sbuf_room(const struct nlmsghdr *nlh)
{
	return SBUF_SIZE - nlh->nlmsg_len;
}

static int check_intercept(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
			   const struct sipovl_intercept *in)
{
	if (in->n_dsts > SIPOVL_MAX_PREFIXES || in->n_srcs > SIPOVL_MAX_PREFIXES ||
	    in->n_ports > SIPOVL_MAX_PORT_RANGES ||
	    intercept_size(in) > sbuf_room(nlh)) {
		clear_err(nl);
		return fail(nl, E2BIG);
	}
	return 0;
}

/* ---- decoding --------------------------------------------------------- */

static int count_nested(const struct nlattr *nest)
{
	const struct nlattr *a;
	int n = 0;

	mnl_attr_for_each_nested(a, nest)
		n++;
	return n;
}

static int decode_prefix(const struct nlattr *nest, struct sipovl_prefix *p)
{
	const struct nlattr *a;
	bool fam = false, addr = false, len = false;
	size_t alen = 0;

	memset(p, 0, sizeof(*p));
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case SIPOVL_PREFIX_A_FAMILY:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -EPROTO;
			p->family = mnl_attr_get_u16(a);
			fam = true;
			break;
		case SIPOVL_PREFIX_A_ADDR:
			alen = mnl_attr_get_payload_len(a);
			if (alen != 4 && alen != 16)
				return -EPROTO;
			memcpy(p->addr, mnl_attr_get_payload(a), alen);
			addr = true;
			break;
		case SIPOVL_PREFIX_A_LEN:
			if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
				return -EPROTO;
			p->len = mnl_attr_get_u8(a);
			len = true;
			break;
		}
	}
	if (!fam || !addr || !len)
		return -EPROTO;
	if ((p->family == AF_INET && (alen != 4 || p->len > 32)) ||
	    (p->family == AF_INET6 && (alen != 16 || p->len > 128)) ||
	    (p->family != AF_INET && p->family != AF_INET6))
		return -EPROTO;
	return 0;
}

static int decode_prefixes(const struct nlattr *nest, struct sipovl_prefix **v,
			   uint32_t *n)
{
	const struct nlattr *a;
	int cnt = count_nested(nest), i = 0, ret;

	*v = NULL;
	*n = 0;
	if (!cnt)
		return 0;
	*v = calloc(cnt, sizeof(**v));
	if (!*v)
		return -ENOMEM;
	mnl_attr_for_each_nested(a, nest) {
		ret = decode_prefix(a, &(*v)[i]);
		if (ret)
			return ret;
		i++;
	}
	*n = i;
	return 0;
}

static int decode_ports(const struct nlattr *nest, struct sipovl_portrange **v,
			uint32_t *n)
{
	const struct nlattr *r, *a;
	int cnt = count_nested(nest), i = 0;

	*v = NULL;
	*n = 0;
	if (!cnt)
		return 0;
	*v = calloc(cnt, sizeof(**v));
	if (!*v)
		return -ENOMEM;
	mnl_attr_for_each_nested(r, nest) {
		bool lo = false, hi = false;

		mnl_attr_for_each_nested(a, r) {
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				continue;
			switch (mnl_attr_get_type(a)) {
			case SIPOVL_PORTRANGE_A_LOW:
				(*v)[i].low = mnl_attr_get_u16(a);
				lo = true;
				break;
			case SIPOVL_PORTRANGE_A_HIGH:
				(*v)[i].high = mnl_attr_get_u16(a);
				hi = true;
				break;
			}
		}
		if (!lo || !hi)
			return -EPROTO;
		i++;
	}
	*n = i;
	return 0;
}

static uint64_t get_u64(const struct nlattr *a)
{
	if (mnl_attr_validate(a, MNL_TYPE_U64) == 0)
		return mnl_attr_get_u64(a);
	if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		return mnl_attr_get_u32(a);
	return 0;
}

static void decode_istats(const struct nlattr *nest, struct sipovl_istats *s)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case SIPOVL_ISTATS_A_PACKETS: s->packets = get_u64(a); break;
		case SIPOVL_ISTATS_A_BYTES: s->bytes = get_u64(a); break;
		case SIPOVL_ISTATS_A_FLOWS: s->flows = get_u64(a); break;
		case SIPOVL_ISTATS_A_DROPS: s->drops = get_u64(a); break;
		case SIPOVL_ISTATS_A_PASSES: s->passes = get_u64(a); break;
		}
	}
}

/* Decodes a SIPOVL_A_INTERCEPT nest; unknown attributes are ignored. */
static int decode_intercept(const struct nlattr *nest, struct sipovl_intercept *in)
{
	const struct nlattr *a;
	int ret = 0;

	memset(in, 0, sizeof(*in));
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case SIPOVL_INTERCEPT_A_ID:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				goto proto;
			in->id = mnl_attr_get_u32(a);
			in->present |= SIPOVL_I_ID;
			break;
		case SIPOVL_INTERCEPT_A_NAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0 ||
			    mnl_attr_get_payload_len(a) > SIPOVL_NAME_MAXLEN)
				goto proto;
			snprintf(in->name, sizeof(in->name), "%s",
				 mnl_attr_get_str(a));
			in->present |= SIPOVL_I_NAME;
			break;
		case SIPOVL_INTERCEPT_A_PROTOCOLS:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				goto proto;
			in->protos = mnl_attr_get_u32(a);
			in->present |= SIPOVL_I_PROTOS;
			break;
		case SIPOVL_INTERCEPT_A_POLICY:
			if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
				goto proto;
			in->policy = mnl_attr_get_u8(a);
			in->present |= SIPOVL_I_POLICY;
			break;
		case SIPOVL_INTERCEPT_A_DESTINATIONS:
			if (in->dsts)
				goto proto;
			ret = decode_prefixes(a, &in->dsts, &in->n_dsts);
			break;
		case SIPOVL_INTERCEPT_A_SOURCES:
			if (in->srcs)
				goto proto;
			ret = decode_prefixes(a, &in->srcs, &in->n_srcs);
			break;
		case SIPOVL_INTERCEPT_A_PORTS:
			if (in->ports)
				goto proto;
			ret = decode_ports(a, &in->ports, &in->n_ports);
			break;
		case SIPOVL_INTERCEPT_A_STATS:
			decode_istats(a, &in->stats);
			in->present |= SIPOVL_I_STATS;
			break;
		}
		if (ret)
			goto out;
	}
	return 0;
proto:
	ret = -EPROTO;
out:
	sipovl_intercept_release(in);
	return ret;
}

static const struct nlattr *find_attr(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == type)
			return a;
	return NULL;
}

/* ---- intercepts ------------------------------------------------------- */

static int intercept_reply_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
			      void *data)
{
	const struct nlattr *a = find_attr(nlh, SIPOVL_A_INTERCEPT);
	struct sipovl_intercept *out = data;
	int ret;

	if (!out)
		return 0;
	if (!a)
		return fail(nl, EPROTO);
	sipovl_intercept_release(out);
	ret = decode_intercept(a, out);
	return ret ? fail(nl, -ret) : 0;
}

static int intercept_do(struct sipovl_nl *nl, uint8_t cmd,
			const struct sipovl_intercept *in,
			struct sipovl_intercept *reply)
{
	struct nlmsghdr *nlh = put_req(nl, cmd, NLM_F_ACK);
	int ret = check_intercept(nl, nlh, in);

	if (ret)
		return ret;
	put_intercept(nlh, in);
	return transact(nl, nlh, intercept_reply_cb, reply, NULL);
}

int sipovl_intercept_add(struct sipovl_nl *nl, const struct sipovl_intercept *in,
			 struct sipovl_intercept *reply)
{
	return intercept_do(nl, SIPOVL_CMD_INTERCEPT_ADD, in, reply);
}

int sipovl_intercept_replace(struct sipovl_nl *nl,
			     const struct sipovl_intercept *in)
{
	return intercept_do(nl, SIPOVL_CMD_INTERCEPT_REPLACE, in, NULL);
}

static void put_selector(struct nlmsghdr *nlh, uint32_t id, const char *name)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, SIPOVL_A_INTERCEPT);

	if (id)
		mnl_attr_put_u32(nlh, SIPOVL_INTERCEPT_A_ID, id);
	else
		mnl_attr_put_strz(nlh, SIPOVL_INTERCEPT_A_NAME, name ? name : "");
	mnl_attr_nest_end(nlh, nest);
}

int sipovl_intercept_del(struct sipovl_nl *nl, uint32_t id, const char *name)
{
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_INTERCEPT_DEL, NLM_F_ACK);

	if (!id && (!name || strlen(name) >= SIPOVL_NAME_MAXLEN)) {
		clear_err(nl);
		return fail(nl, EINVAL);
	}
	put_selector(nlh, id, name);
	return transact(nl, nlh, NULL, NULL, NULL);
}

int sipovl_intercept_get(struct sipovl_nl *nl, uint32_t id, const char *name,
			 struct sipovl_intercept *out)
{
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_INTERCEPT_GET, NLM_F_ACK);
	int ret;

	memset(out, 0, sizeof(*out));
	if (!id && (!name || strlen(name) >= SIPOVL_NAME_MAXLEN)) {
		clear_err(nl);
		return fail(nl, EINVAL);
	}
	put_selector(nlh, id, name);
	ret = transact(nl, nlh, intercept_reply_cb, out, NULL);
	if (!ret && !(out->present & SIPOVL_I_ID))
		ret = fail(nl, EPROTO);
	if (ret)
		sipovl_intercept_release(out);
	return ret;
}

struct dump_ctx {
	struct sipovl_intercept *v;
	size_t n, cap;
};

static int dump_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;
	const struct nlattr *a;
	int ret;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != SIPOVL_A_INTERCEPT)
			continue;
		if (d->n == d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 256;
			void *p = realloc(d->v, cap * sizeof(*d->v));

			if (!p)
				return fail(nl, ENOMEM);
			d->v = p;
			d->cap = cap;
		}
		ret = decode_intercept(a, &d->v[d->n]);
		if (ret)
			return fail(nl, -ret);
		d->n++;
	}
	return 0;
}

int sipovl_intercept_dump(struct sipovl_nl *nl, struct sipovl_intercept **out,
			  size_t *n)
{
	int tries, ret;

	*out = NULL;
	*n = 0;
	for (tries = 0; tries < DUMP_RETRIES; tries++) {
		struct dump_ctx d = { 0 };
		struct nlmsghdr *nlh;
		bool intr = false;

		nlh = put_req(nl, SIPOVL_CMD_INTERCEPT_GET, NLM_F_DUMP);
		ret = transact(nl, nlh, dump_cb, &d, &intr);
		nl->err.restarts = (unsigned int)tries;
		if (ret || intr) {
			sipovl_intercepts_free(d.v, d.n);
			if (ret)
				return ret;
			continue;
		}
		*out = d.v;
		*n = d.n;
		return 0;
	}
	clear_err(nl);
	nl->err.restarts = (unsigned int)tries;
	nl->err.dump_retries = true;
	return fail(nl, EAGAIN);
}

int sipovl_intercept_flush(struct sipovl_nl *nl)
{
	return transact(nl, put_req(nl, SIPOVL_CMD_INTERCEPT_FLUSH, NLM_F_ACK),
			NULL, NULL, NULL);
}

/* ---- table transactions ---------------------------------------------- */

static int u32_reply_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
			void *data)
{
	struct { uint16_t type; uint32_t *val; bool seen; } *r = data;
	const struct nlattr *a = find_attr(nlh, r->type);

	if (!a)
		return 0;
	if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return fail(nl, EPROTO);
	if (r->val)
		*r->val = mnl_attr_get_u32(a);
	r->seen = true;
	return 0;
}

int sipovl_table_begin(struct sipovl_nl *nl, uint32_t *txn)
{
	struct { uint16_t type; uint32_t *val; bool seen; } r = {
		SIPOVL_A_TXN_ID, txn, false
	};
	int ret;

	ret = transact(nl, put_req(nl, SIPOVL_CMD_TABLE_BEGIN, NLM_F_ACK),
		       u32_reply_cb, &r, NULL);
	if (!ret && !r.seen)
		ret = fail(nl, EPROTO);
	return ret;
}

int sipovl_table_add(struct sipovl_nl *nl, uint32_t txn,
		     const struct sipovl_intercept *v, size_t n)
{
	size_t i = 0, first, nb, k;
	int ret;

	while (i < n) {
		struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_TABLE_ADD, NLM_F_ACK);

		mnl_attr_put_u32(nlh, SIPOVL_A_TXN_ID, txn);
		ret = check_intercept(nl, nlh, &v[i]);
		if (ret) {
			nl->err.index = (long)i;
			return ret;
		}
		/* At least one intercept per message, then fill to the target. */
		first = i;
		nb = 0;
		do {
			nl->batch_off[nb++] = nlh->nlmsg_len;
			put_intercept(nlh, &v[i]);
			i++;
		} while (i < n && nb < BATCH_MAX &&
			 v[i].n_dsts <= SIPOVL_MAX_PREFIXES &&
			 v[i].n_srcs <= SIPOVL_MAX_PREFIXES &&
			 v[i].n_ports <= SIPOVL_MAX_PORT_RANGES &&
			 nlh->nlmsg_len + intercept_size(&v[i]) <= TXN_MSG_TARGET);
		ret = transact(nl, nlh, NULL, NULL, NULL);
		if (ret) {
			/* Map the offending attribute back to the intercept. */
			if (nl->err.bad_offset >= nl->batch_off[0]) {
				for (k = 0; k + 1 < nb; k++)
					if (nl->batch_off[k + 1] > nl->err.bad_offset)
						break;
				nl->err.index = (long)(first + k);
			}
			return ret;
		}
	}
	return 0;
}

int sipovl_table_commit(struct sipovl_nl *nl, uint32_t txn, uint32_t *generation)
{
	struct { uint16_t type; uint32_t *val; bool seen; } r = {
		SIPOVL_A_GENERATION, generation, false
	};
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_TABLE_COMMIT, NLM_F_ACK);

	mnl_attr_put_u32(nlh, SIPOVL_A_TXN_ID, txn);
	return transact(nl, nlh, u32_reply_cb, &r, NULL);
}

struct commit_reply {
	uint32_t *generation;
	bool *applied;
};

static int commit_reply_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
			   void *data)
{
	struct commit_reply *r = data;
	const struct nlattr *a = find_attr(nlh, SIPOVL_A_GENERATION);

	if (a) {
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return fail(nl, EPROTO);
		if (r->generation)
			*r->generation = mnl_attr_get_u32(a);
	}
	if (find_attr(nlh, SIPOVL_A_SOURCES))
		*r->applied = true;
	return 0;
}

int sipovl_table_commit_sources(struct sipovl_nl *nl, uint32_t txn,
				const struct sipovl_prefix *v, size_t n,
				uint32_t *generation, bool *applied)
{
	struct commit_reply r = { generation, applied };
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_TABLE_COMMIT, NLM_F_ACK);

	*applied = false;
	if (n > SIPOVL_MAX_TRANSPARENT_SOURCES ||
	    prefixes_size(v, n) > sbuf_room(nlh)) {
		clear_err(nl);
		return fail(nl, E2BIG);
	}
	mnl_attr_put_u32(nlh, SIPOVL_A_TXN_ID, txn);
	put_prefixes(nlh, SIPOVL_A_SOURCES, v, n);
	return transact(nl, nlh, commit_reply_cb, &r, NULL);
}

int sipovl_table_abort(struct sipovl_nl *nl, uint32_t txn)
{
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_TABLE_ABORT, NLM_F_ACK);

	mnl_attr_put_u32(nlh, SIPOVL_A_TXN_ID, txn);
	return transact(nl, nlh, NULL, NULL, NULL);
}

static int table_replace(struct sipovl_nl *nl, const struct sipovl_intercept *v, size_t n,
			 const struct sipovl_prefix *src, size_t nsrc, bool with_sources,
			 uint32_t *generation, bool *applied)
{
	struct sipovl_err saved;
	uint32_t txn;
	int ret;

	ret = sipovl_table_begin(nl, &txn);
	if (ret)
		return ret;
	ret = sipovl_table_add(nl, txn, v, n);
	if (!ret)
		ret = with_sources ?
			sipovl_table_commit_sources(nl, txn, src, nsrc, generation, applied) :
			sipovl_table_commit(nl, txn, generation);
	if (ret) {
		/*
		 * A failed TABLE_ADD already aborted the transaction in the
		 * kernel; abort anyway (closing the socket would too) and
		 * keep the first error.
		 */
		saved = nl->err;
		sipovl_table_abort(nl, txn);
		nl->err = saved;
	}
	return ret;
}

int sipovl_table_replace(struct sipovl_nl *nl, const struct sipovl_intercept *v,
			 size_t n, uint32_t *generation)
{
	return table_replace(nl, v, n, NULL, 0, false, generation, NULL);
}

int sipovl_table_replace_sources(struct sipovl_nl *nl, const struct sipovl_intercept *v,
				 size_t n, const struct sipovl_prefix *src, size_t nsrc,
				 uint32_t *generation, bool *applied)
{
	return table_replace(nl, v, n, src, nsrc, true, generation, applied);
}

/* ---- sockets, sources, config, stats, lookup ------------------------- */

int sipovl_socket_register(struct sipovl_nl *nl, int fd)
{
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_SOCKET_REGISTER, NLM_F_ACK);

	mnl_attr_put_u32(nlh, SIPOVL_A_SOCKET_FD, (uint32_t)fd);
	return transact(nl, nlh, NULL, NULL, NULL);
}

int sipovl_socket_join(struct sipovl_nl *nl, int fd)
{
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_SOCKET_REGISTER, NLM_F_ACK);

	mnl_attr_put_u32(nlh, SIPOVL_A_SOCKET_FD, (uint32_t)fd);
	mnl_attr_put_u32(nlh, SIPOVL_A_FLAGS, SIPOVL_F_SOCKET_JOIN);
	return transact(nl, nlh, NULL, NULL, NULL);
}

int sipovl_socket_leave(struct sipovl_nl *nl, int fd)
{
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_SOCKET_UNREGISTER, NLM_F_ACK);

	mnl_attr_put_u32(nlh, SIPOVL_A_SOCKET_FD, (uint32_t)fd);
	return transact(nl, nlh, NULL, NULL, NULL);
}

int sipovl_socket_unregister(struct sipovl_nl *nl, uint16_t family,
			     uint8_t protocol)
{
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_SOCKET_UNREGISTER, NLM_F_ACK);

	if (family)
		mnl_attr_put_u16(nlh, SIPOVL_A_FAMILY, family);
	if (protocol)
		mnl_attr_put_u8(nlh, SIPOVL_A_PROTOCOL, protocol);
	return transact(nl, nlh, NULL, NULL, NULL);
}

int sipovl_sources_set(struct sipovl_nl *nl, const struct sipovl_prefix *v,
		       size_t n)
{
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_SOURCES_SET, NLM_F_ACK);

	if (n > SIPOVL_MAX_TRANSPARENT_SOURCES ||
	    prefixes_size(v, n) > sbuf_room(nlh)) {
		clear_err(nl);
		return fail(nl, E2BIG);
	}
	put_prefixes(nlh, SIPOVL_A_SOURCES, v, n);
	return transact(nl, nlh, NULL, NULL, NULL);
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
				return fail(nl, EPROTO);
			c->generation = mnl_attr_get_u32(a);
			break;
		case SIPOVL_A_INTERCEPT_COUNT:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return fail(nl, EPROTO);
			c->intercept_count = mnl_attr_get_u32(a);
			break;
		case SIPOVL_A_SOURCES:
			free(c->sources);
			ret = decode_prefixes(a, &c->sources, &c->n_sources);
			break;
		case SIPOVL_A_SOCKET: {
			void *p = realloc(c->sockets,
					  (c->n_sockets + 1) * sizeof(*c->sockets));

			if (!p)
				return fail(nl, ENOMEM);
			c->sockets = p;
			ret = decode_socket(a, &c->sockets[c->n_sockets]);
			if (!ret)
				c->n_sockets++;
			break;
		}
		}
		if (ret)
			return fail(nl, -ret);
	}
	return 0;
}

int sipovl_config_get(struct sipovl_nl *nl, struct sipovl_config *out)
{
	int ret;

	memset(out, 0, sizeof(*out));
	ret = transact(nl, put_req(nl, SIPOVL_CMD_CONFIG_GET, NLM_F_ACK),
		       config_cb, out, NULL);
	if (ret)
		sipovl_config_release(out);
	return ret;
}

static int stats_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *nest = find_attr(nlh, SIPOVL_A_STATS), *a;
	struct sipovl_stats *s = data;

	if (!nest)
		return fail(nl, EPROTO);
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case SIPOVL_STATS_A_LOOKUPS: s->lookups = get_u64(a); break;
		case SIPOVL_STATS_A_STEERED: s->steered = get_u64(a); break;
		case SIPOVL_STATS_A_PASSED: s->passed = get_u64(a); break;
		case SIPOVL_STATS_A_DROPPED: s->dropped = get_u64(a); break;
		case SIPOVL_STATS_A_ERRORS: s->errors = get_u64(a); break;
		case SIPOVL_STATS_A_REPLIES: s->replies = get_u64(a); break;
		case SIPOVL_STATS_A_SRC_DENIED: s->src_denied = get_u64(a); break;
		}
	}
	return 0;
}

int sipovl_stats_get(struct sipovl_nl *nl, bool reset, struct sipovl_stats *out)
{
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_STATS_GET, NLM_F_ACK);

	memset(out, 0, sizeof(*out));
	if (reset)
		mnl_attr_put_u32(nlh, SIPOVL_A_FLAGS, SIPOVL_F_RESET_STATS);
	return transact(nl, nlh, stats_cb, out, NULL);
}

int sipovl_lookup(struct sipovl_nl *nl, const struct sipovl_tuple *t,
		  uint32_t *id, char name[SIPOVL_NAME_MAXLEN])
{
	struct nlmsghdr *nlh = put_req(nl, SIPOVL_CMD_LOOKUP, NLM_F_ACK);
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
	ret = transact(nl, nlh, intercept_reply_cb, &in, NULL);
	if (ret)
		return ret;
	if (!(in.present & SIPOVL_I_ID)) {
		sipovl_intercept_release(&in);
		return fail(nl, EPROTO);
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

	clear_err(nl);
	if (!grp)
		return fail(nl, EOPNOTSUPP);
	/* Big buffer (privileged callers may exceed rmem_max) against ENOBUFS. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (mnl_socket_setsockopt(nl->sk, NETLINK_ADD_MEMBERSHIP, &grp,
				  sizeof(grp)) < 0)
		return fail(nl, errno);
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

	clear_err(nl);
	do
		len = mnl_socket_recvfrom(nl->sk, nl->rbuf, RBUF_SIZE);
	while (len < 0 && errno == EINTR);
	if (len < 0)
		return fail(nl, errno);
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
