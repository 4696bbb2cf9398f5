// SPDX-License-Identifier: GPL-2.0
/*
 * libsipovl: netlink client of the "sipovl" generic netlink family, on libmnl.
 * See libsipovl.h and uapi/linux/sipovl.h. This file: errors, the socket
 * (open, close, network namespaces) and request/reply transactions; the
 * attribute codec is nl_codec.c, the intercept and table commands
 * nl_intercept.c, the other objects and events nl_objects.c.
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


/* ---- errors ----------------------------------------------------------- */

const struct sipovl_err *sipovl_error(const struct sipovl_nl *nl)
{
	return &nl->err;
}

int snl_fail(struct sipovl_nl *nl, int errnum)
{
	nl->err.errnum = errnum;
	return -errnum;
}

void snl_clear_err(struct sipovl_nl *nl)
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
		return snl_fail(nl, EPROTO);
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

/*
 * Sends @nlh and processes replies to it until the final ack (do) or
 * NLMSG_DONE (dump). Messages of other sequence numbers (left over from an
 * abandoned interrupted dump) are skipped. *@intr, when not NULL, is set if
 * any reply carries NLM_F_DUMP_INTR; the dump is still read to its end.
 */
int snl_transact(struct sipovl_nl *nl, struct nlmsghdr *nlh, msg_cb cb,
		    void *data, bool *intr)
{
	uint32_t seq = nlh->nlmsg_seq;
	int ret = 0;

	snl_clear_err(nl);
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return snl_fail(nl, errno);

	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl->sk, nl->rbuf, RBUF_SIZE);
		const struct nlmsghdr *m = (const struct nlmsghdr *)nl->rbuf;
		int rem;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return snl_fail(nl, errno);
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
				return snl_fail(nl, ENOBUFS);
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
				return snl_fail(nl, EPROTO);
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
		ret = snl_fail(nl, errno);
		goto err;
	}
	/* Best effort: kernels without extended acks still work. */
	mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = snl_fail(nl, errno);
		goto err;
	}
	nl->portid = mnl_socket_get_portid(nl->sk);

	nlh = put_genl(nl, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_ACK);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, SIPOVL_GENL_NAME);
	ret = snl_transact(nl, nlh, family_cb, &fi, NULL);
	if (ret == -ENOENT) {
		nl->err.no_family = true;
		goto err;
	}
	if (ret)
		goto err;
	if (!fi.id) {
		ret = snl_fail(nl, EPROTO);
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

struct nlmsghdr *snl_put_req(struct sipovl_nl *nl, uint8_t cmd, uint16_t flags)
{
	return put_genl(nl, nl->family_id, cmd, SIPOVL_GENL_VERSION, flags);
}
