// SPDX-License-Identifier: GPL-2.0
/*
 * libsipovl: encoding and decoding of the family's attributes (prefixes,
 * port ranges, intercepts, counters).
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


/* ---- encoding --------------------------------------------------------- */

#define ATTR_SZ(payload) MNL_ALIGN(MNL_ATTR_HDRLEN + (payload))

static size_t prefix_size(const struct sipovl_prefix *p)
{
	return ATTR_SZ(0) + ATTR_SZ(2) + ATTR_SZ(p->family == AF_INET6 ? 16 : 4) +
	       ATTR_SZ(1);
}

size_t snl_prefixes_size(const struct sipovl_prefix *v, uint32_t n)
{
	size_t s = ATTR_SZ(0);
	uint32_t i;

	for (i = 0; i < n; i++)
		s += prefix_size(&v[i]);
	return s;
}

/* Upper bound of the encoded size of SIPOVL_A_INTERCEPT for @in. */
size_t snl_intercept_size(const struct sipovl_intercept *in)
{
	size_t s = ATTR_SZ(0);

	s += ATTR_SZ(4);				/* id */
	s += ATTR_SZ(strnlen(in->name, SIPOVL_NAME_MAXLEN - 1) + 1);
	s += ATTR_SZ(4);				/* protocols */
	s += ATTR_SZ(1);				/* policy */
	s += snl_prefixes_size(in->dsts, in->n_dsts);
	s += snl_prefixes_size(in->srcs, in->n_srcs);
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

void snl_put_prefixes(struct nlmsghdr *nlh, uint16_t type,
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
void snl_put_intercept(struct nlmsghdr *nlh, const struct sipovl_intercept *in)
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
		snl_put_prefixes(nlh, SIPOVL_INTERCEPT_A_DESTINATIONS, in->dsts,
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
		snl_put_prefixes(nlh, SIPOVL_INTERCEPT_A_SOURCES, in->srcs,
			     in->n_srcs);
	mnl_attr_nest_end(nlh, nest);
}

/* Room left for attributes in the send buffer after the headers. */
size_t snl_sbuf_room(const struct nlmsghdr *nlh)
{
	return SBUF_SIZE - nlh->nlmsg_len;
}

int snl_check_intercept(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
			   const struct sipovl_intercept *in)
{
	if (in->n_dsts > SIPOVL_MAX_PREFIXES || in->n_srcs > SIPOVL_MAX_PREFIXES ||
	    in->n_ports > SIPOVL_MAX_PORT_RANGES ||
	    snl_intercept_size(in) > snl_sbuf_room(nlh)) {
		snl_clear_err(nl);
		return snl_fail(nl, E2BIG);
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

int snl_decode_prefixes(const struct nlattr *nest, struct sipovl_prefix **v,
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

uint64_t snl_get_u64(const struct nlattr *a)
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
		case SIPOVL_ISTATS_A_PACKETS: s->packets = snl_get_u64(a); break;
		case SIPOVL_ISTATS_A_BYTES: s->bytes = snl_get_u64(a); break;
		case SIPOVL_ISTATS_A_FLOWS: s->flows = snl_get_u64(a); break;
		case SIPOVL_ISTATS_A_DROPS: s->drops = snl_get_u64(a); break;
		case SIPOVL_ISTATS_A_PASSES: s->passes = snl_get_u64(a); break;
		case SIPOVL_ISTATS_A_REJECTS: s->rejects = snl_get_u64(a); break;
		}
	}
}

/* Decodes a SIPOVL_A_INTERCEPT nest; unknown attributes are ignored. */
int snl_decode_intercept(const struct nlattr *nest, struct sipovl_intercept *in)
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
			ret = snl_decode_prefixes(a, &in->dsts, &in->n_dsts);
			break;
		case SIPOVL_INTERCEPT_A_SOURCES:
			if (in->srcs)
				goto proto;
			ret = snl_decode_prefixes(a, &in->srcs, &in->n_srcs);
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

const struct nlattr *snl_find_attr(const struct nlmsghdr *nlh, uint16_t type)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == type)
			return a;
	return NULL;
}
