// SPDX-License-Identifier: GPL-2.0
/*
 * Attributes of the family "sipovl": the policies the genetlink core
 * validates requests with, parsing of validated nests into intercepts, prefixes
 * and port ranges, and the attributes of intercepts in replies and dumps.
 */

#include <linux/kernel.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <uapi/linux/sipovl.h>

#include "netns.h"
#include "table.h"
#include "nl_int.h"

static const struct nla_policy prefix_policy[SIPOVL_PREFIX_A_MAX + 1] = {
	[SIPOVL_PREFIX_A_FAMILY] = { .type = NLA_U16 },
	[SIPOVL_PREFIX_A_ADDR] = { .type = NLA_BINARY, .len = 16 },
	[SIPOVL_PREFIX_A_LEN] = NLA_POLICY_MAX(NLA_U8, 128),
};

static const struct nla_policy portrange_policy[SIPOVL_PORTRANGE_A_MAX + 1] = {
	[SIPOVL_PORTRANGE_A_LOW] = { .type = NLA_U16 },
	[SIPOVL_PORTRANGE_A_HIGH] = { .type = NLA_U16 },
};

static const struct nla_policy intercept_policy[SIPOVL_INTERCEPT_A_MAX + 1] = {
	[SIPOVL_INTERCEPT_A_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[SIPOVL_INTERCEPT_A_NAME] = { .type = NLA_NUL_STRING,
				      .len = SIPOVL_NAME_MAXLEN - 1 },
	[SIPOVL_INTERCEPT_A_PROTOCOLS] = NLA_POLICY_MASK(NLA_U32, __SIPOVL_PROTO_ALL),
	[SIPOVL_INTERCEPT_A_DESTINATIONS] = NLA_POLICY_NESTED_ARRAY(prefix_policy),
	[SIPOVL_INTERCEPT_A_PORTS] = NLA_POLICY_NESTED_ARRAY(portrange_policy),
	[SIPOVL_INTERCEPT_A_SOURCES] = NLA_POLICY_NESTED_ARRAY(prefix_policy),
	[SIPOVL_INTERCEPT_A_POLICY] = NLA_POLICY_MAX(NLA_U8, __SIPOVL_POLICY_MAX),
	[SIPOVL_INTERCEPT_A_STATS] = { .type = NLA_REJECT,
				       .reject_message = "counters are read-only" },
};

const struct nla_policy sipovl_tuple_policy[SIPOVL_TUPLE_A_MAX + 1] = {
	[SIPOVL_TUPLE_A_FAMILY] = { .type = NLA_U16 },
	[SIPOVL_TUPLE_A_PROTOCOL] = { .type = NLA_U8 },
	[SIPOVL_TUPLE_A_SRC] = { .type = NLA_BINARY, .len = 16 },
	[SIPOVL_TUPLE_A_DST] = { .type = NLA_BINARY, .len = 16 },
	[SIPOVL_TUPLE_A_SPORT] = { .type = NLA_U16 },
	[SIPOVL_TUPLE_A_DPORT] = { .type = NLA_U16 },
};

const struct nla_policy sipovl_policy[SIPOVL_A_MAX + 1] = {
	[SIPOVL_A_INTERCEPT] = NLA_POLICY_NESTED(intercept_policy),
	[SIPOVL_A_TXN_ID] = { .type = NLA_U32 },
	[SIPOVL_A_GENERATION] = { .type = NLA_REJECT,
			       .reject_message = "output-only attribute" },
	[SIPOVL_A_INTERCEPT_COUNT] = { .type = NLA_REJECT,
			       .reject_message = "output-only attribute" },
	[SIPOVL_A_SOCKET_FD] = { .type = NLA_S32 },
	[SIPOVL_A_SOCKET] = { .type = NLA_REJECT,
			       .reject_message = "output-only attribute" },
	[SIPOVL_A_FAMILY] = { .type = NLA_U16 },
	[SIPOVL_A_PROTOCOL] = { .type = NLA_U8 },
	[SIPOVL_A_SOURCES] = NLA_POLICY_NESTED_ARRAY(prefix_policy),
	[SIPOVL_A_STATS] = { .type = NLA_REJECT,
			       .reject_message = "output-only attribute" },
	[SIPOVL_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, __SIPOVL_F_ALL),
	[SIPOVL_A_TUPLE] = NLA_POLICY_NESTED(sipovl_tuple_policy),
};

/*
 * Parsing. The genetlink core has validated the whole request against
 * sipovl_policy before a handler runs: strictly (no GENL_DONT_VALIDATE_*
 * flag) and recursively, every intercept of a TABLE_ADD and every prefix and
 * port range inside them. The nested parses below only index the attributes
 * (no policy): validating again cost two more passes over every intercept
 * of a large table.
 */
#define VALIDATED NULL

int sipovl_nl_addr_family(struct nlattr *fam, struct nlattr *addr, u8 *mtfam,
			  struct netlink_ext_ack *extack)
{
	u16 f = nla_get_u16(fam);

	if (f == AF_INET) {
		*mtfam = 4;
		if (addr && nla_len(addr) != 4) {
			NL_SET_ERR_MSG_ATTR(extack, addr, "IPv4 address must be 4 bytes");
			return -EINVAL;
		}
		return 0;
	}
	if (f == AF_INET6) {
		*mtfam = 6;
		if (addr && nla_len(addr) != 16) {
			NL_SET_ERR_MSG_ATTR(extack, addr, "IPv6 address must be 16 bytes");
			return -EINVAL;
		}
		return 0;
	}
	NL_SET_ERR_MSG_ATTR(extack, fam, "address family must be AF_INET or AF_INET6");
	return -EAFNOSUPPORT;
}

/* The attributes of a validated nest by type, without nla_parse()'s setup. */
static void nest_attrs(const struct nlattr *nest, struct nlattr **tb, int max)
{
	struct nlattr *a;
	int rem;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	nla_for_each_nested(a, nest, rem)
		if (nla_type(a) <= max)
			tb[nla_type(a)] = a;
}

static int parse_prefix(struct nlattr *nest, struct mt_prefix *p,
			struct netlink_ext_ack *extack)
{
	struct nlattr *tb[SIPOVL_PREFIX_A_MAX + 1];
	unsigned int bits, i;
	int ret;

	nest_attrs(nest, tb, SIPOVL_PREFIX_A_MAX);
	if (!tb[SIPOVL_PREFIX_A_FAMILY] || !tb[SIPOVL_PREFIX_A_ADDR] ||
	    !tb[SIPOVL_PREFIX_A_LEN]) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "prefix needs family, address and length");
		return -EINVAL;
	}
	ret = sipovl_nl_addr_family(tb[SIPOVL_PREFIX_A_FAMILY], tb[SIPOVL_PREFIX_A_ADDR],
			  &p->family, extack);
	if (ret)
		return ret;
	bits = p->family == 4 ? 32 : 128;
	p->len = nla_get_u8(tb[SIPOVL_PREFIX_A_LEN]);
	if (p->len > bits) {
		SIPOVL_ERR_FMT(extack, "prefix length %u out of range 0-%u", p->len, bits);
		return -EINVAL;
	}
	memset(p->addr, 0, sizeof(p->addr));
	memcpy(p->addr, nla_data(tb[SIPOVL_PREFIX_A_ADDR]), bits / 8);
	for (i = p->len; i < bits; i++) {
		if (p->addr[i / 8] & (0x80 >> (i % 8))) {
			NL_SET_ERR_MSG_ATTR(extack, tb[SIPOVL_PREFIX_A_ADDR],
					    "host bits set in prefix");
			return -EINVAL;
		}
	}
	return 0;
}

int sipovl_nl_parse_prefixes(struct nlattr *nest, struct mt_prefix *out,
			     struct netlink_ext_ack *extack)
{
	struct nlattr *a;
	int rem, ret, i = 0;

	nla_for_each_nested(a, nest, rem) {
		ret = parse_prefix(a, &out[i++], extack);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_ports(struct nlattr *nest, struct mt_portrange *out,
		       struct netlink_ext_ack *extack)
{
	struct nlattr *tb[SIPOVL_PORTRANGE_A_MAX + 1];
	struct nlattr *a;
	int rem, i = 0;

	nla_for_each_nested(a, nest, rem) {
		nest_attrs(a, tb, SIPOVL_PORTRANGE_A_MAX);
		if (!tb[SIPOVL_PORTRANGE_A_LOW]) {
			NL_SET_ERR_MSG_ATTR(extack, a, "port range needs a low port");
			return -EINVAL;
		}
		out[i].lo = nla_get_u16(tb[SIPOVL_PORTRANGE_A_LOW]);
		out[i].hi = tb[SIPOVL_PORTRANGE_A_HIGH] ?
			nla_get_u16(tb[SIPOVL_PORTRANGE_A_HIGH]) : out[i].lo;
		if (out[i].lo > out[i].hi) {
			SIPOVL_ERR_FMT(extack, "port range %u-%u: low > high",
				       out[i].lo, out[i].hi);
			return -EINVAL;
		}
		i++;
	}
	return 0;
}

int sipovl_nl_count_nested(struct nlattr *nest, u32 max, const char *what,
			   u32 *n, struct netlink_ext_ack *extack)
{
	struct nlattr *a;
	int rem;

	*n = 0;
	if (!nest)
		return 0;
	nla_for_each_nested(a, nest, rem)
		(*n)++;
	if (*n > max) {
		SIPOVL_ERR_FMT(extack, "too many %s: %u, at most %u", what, *n, max);
		return -E2BIG;
	}
	return 0;
}

/* A whole intercept (NEED_FULL) or just its id and/or name (NEED_KEY). */
struct sipovl_intercept *sipovl_nl_parse_intercept(struct nlattr *nest,
						   int need,
						   struct netlink_ext_ack *extack)
{
	struct nlattr *tb[SIPOVL_INTERCEPT_A_MAX + 1];
	struct sipovl_intercept *ic;
	u32 nd, np, ns;
	int ret;

	if (!nest) {
		sipovl_set_err(extack, "missing SIPOVL_A_INTERCEPT");
		return ERR_PTR(-EINVAL);
	}
	ret = nla_parse_nested(tb, SIPOVL_INTERCEPT_A_MAX, nest, VALIDATED, extack);
	if (ret)
		return ERR_PTR(ret);

	if (need == NEED_FULL) {
		if (!tb[SIPOVL_INTERCEPT_A_NAME] ||
		    !*(char *)nla_data(tb[SIPOVL_INTERCEPT_A_NAME])) {
			NL_SET_ERR_MSG_ATTR(extack, nest, "intercept needs a name");
			return ERR_PTR(-EINVAL);
		}
		if (!tb[SIPOVL_INTERCEPT_A_PROTOCOLS] ||
		    !nla_get_u32(tb[SIPOVL_INTERCEPT_A_PROTOCOLS])) {
			NL_SET_ERR_MSG_ATTR(extack, nest, "intercept needs protocols (tcp, udp)");
			return ERR_PTR(-EINVAL);
		}
	} else if (!tb[SIPOVL_INTERCEPT_A_ID] && !tb[SIPOVL_INTERCEPT_A_NAME]) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "intercept id or name required");
		return ERR_PTR(-EINVAL);
	}

	ret = sipovl_nl_count_nested(tb[SIPOVL_INTERCEPT_A_DESTINATIONS], SIPOVL_MAX_PREFIXES,
			   "destination prefixes", &nd, extack);
	if (!ret)
		ret = sipovl_nl_count_nested(tb[SIPOVL_INTERCEPT_A_PORTS], SIPOVL_MAX_PORT_RANGES,
				   "port ranges", &np, extack);
	if (!ret)
		ret = sipovl_nl_count_nested(tb[SIPOVL_INTERCEPT_A_SOURCES], SIPOVL_MAX_PREFIXES,
				   "source prefixes", &ns, extack);
	if (ret)
		return ERR_PTR(ret);
	/* Presence is what the arrays hold, not whether the nest is there. */
	if (need == NEED_FULL && !nd) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "intercept needs destination prefixes");
		return ERR_PTR(-EINVAL);
	}
	if (need == NEED_FULL && !np) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "intercept needs port ranges");
		return ERR_PTR(-EINVAL);
	}
	/* An empty source list would read as "any source": fail open. */
	if (tb[SIPOVL_INTERCEPT_A_SOURCES] && !ns) {
		NL_SET_ERR_MSG_ATTR(extack, tb[SIPOVL_INTERCEPT_A_SOURCES],
				    "empty source prefixes (omit them for any source)");
		return ERR_PTR(-EINVAL);
	}

	ic = sipovl_intercept_alloc(nd, np, ns, tb[SIPOVL_INTERCEPT_A_NAME] ?
				    min_t(u32, nla_len(tb[SIPOVL_INTERCEPT_A_NAME]) + 1,
					  SIPOVL_NAME_MAXLEN) : 1);
	if (!ic) {
		sipovl_set_err(extack, "out of memory");
		return ERR_PTR(-ENOMEM);
	}
	if (tb[SIPOVL_INTERCEPT_A_ID])
		ic->id = nla_get_u32(tb[SIPOVL_INTERCEPT_A_ID]);
	if (tb[SIPOVL_INTERCEPT_A_NAME])
		nla_strscpy(ic->name, tb[SIPOVL_INTERCEPT_A_NAME],
			    min_t(u32, nla_len(tb[SIPOVL_INTERCEPT_A_NAME]) + 1,
				  SIPOVL_NAME_MAXLEN));
	if (tb[SIPOVL_INTERCEPT_A_PROTOCOLS])
		ic->protos = nla_get_u32(tb[SIPOVL_INTERCEPT_A_PROTOCOLS]);
	if (tb[SIPOVL_INTERCEPT_A_POLICY])
		ic->policy = nla_get_u8(tb[SIPOVL_INTERCEPT_A_POLICY]);
	if (nd)
		ret = sipovl_nl_parse_prefixes(tb[SIPOVL_INTERCEPT_A_DESTINATIONS], ic->dst, extack);
	if (!ret && np)
		ret = parse_ports(tb[SIPOVL_INTERCEPT_A_PORTS], ic->ports, extack);
	if (!ret && ns)
		ret = sipovl_nl_parse_prefixes(tb[SIPOVL_INTERCEPT_A_SOURCES], ic->src, extack);
	if (ret) {
		sipovl_intercept_put(ic);
		return ERR_PTR(ret);
	}
	return ic;
}

/* Output */

int sipovl_nl_put_prefix(struct sk_buff *skb, const struct mt_prefix *p)
{
	struct nlattr *n = nla_nest_start(skb, 0);

	if (!n)
		return -EMSGSIZE;
	if (nla_put_u16(skb, SIPOVL_PREFIX_A_FAMILY, p->family == 4 ? AF_INET : AF_INET6) ||
	    nla_put(skb, SIPOVL_PREFIX_A_ADDR, p->family == 4 ? 4 : 16, p->addr) ||
	    nla_put_u8(skb, SIPOVL_PREFIX_A_LEN, p->len)) {
		nla_nest_cancel(skb, n);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, n);
	return 0;
}

static int put_prefixes(struct sk_buff *skb, int type, const struct mt_prefix *p,
			u32 n)
{
	struct nlattr *nest;
	u32 i;

	if (!n)
		return 0;
	nest = nla_nest_start(skb, type);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < n; i++) {
		if (sipovl_nl_put_prefix(skb, &p[i])) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* The attribute each per-intercept counter is sent as. */
static const u16 istat_attr[SIPOVL_IS_MAX] = {
	[SIPOVL_IS_PACKETS] = SIPOVL_ISTATS_A_PACKETS,
	[SIPOVL_IS_BYTES] = SIPOVL_ISTATS_A_BYTES,
	[SIPOVL_IS_FLOWS] = SIPOVL_ISTATS_A_FLOWS,
	[SIPOVL_IS_DROPS] = SIPOVL_ISTATS_A_DROPS,
	[SIPOVL_IS_PASSES] = SIPOVL_ISTATS_A_PASSES,
	[SIPOVL_IS_REJECTS] = SIPOVL_ISTATS_A_REJECTS,
};

int sipovl_nl_put_intercept(struct sk_buff *skb,
			    const struct sipovl_intercept *ic, bool full)
{
	struct nlattr *nest, *ports, *pr;
	struct sipovl_istats st;
	u32 i;

	nest = nla_nest_start(skb, SIPOVL_A_INTERCEPT);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, SIPOVL_INTERCEPT_A_ID, ic->id) ||
	    nla_put_string(skb, SIPOVL_INTERCEPT_A_NAME, ic->name))
		goto err;
	if (!full)
		goto out;
	if (nla_put_u32(skb, SIPOVL_INTERCEPT_A_PROTOCOLS, ic->protos) ||
	    nla_put_u8(skb, SIPOVL_INTERCEPT_A_POLICY, ic->policy) ||
	    put_prefixes(skb, SIPOVL_INTERCEPT_A_DESTINATIONS, ic->dst, ic->n_dst) ||
	    put_prefixes(skb, SIPOVL_INTERCEPT_A_SOURCES, ic->src, ic->n_src))
		goto err;
	ports = nla_nest_start(skb, SIPOVL_INTERCEPT_A_PORTS);
	if (!ports)
		goto err;
	for (i = 0; i < ic->n_ports; i++) {
		pr = nla_nest_start(skb, 0);
		if (!pr ||
		    nla_put_u16(skb, SIPOVL_PORTRANGE_A_LOW, ic->ports[i].lo) ||
		    nla_put_u16(skb, SIPOVL_PORTRANGE_A_HIGH, ic->ports[i].hi))
			goto err;
		nla_nest_end(skb, pr);
	}
	nla_nest_end(skb, ports);

	sipovl_counters_read(ic, &st);
	pr = nla_nest_start(skb, SIPOVL_INTERCEPT_A_STATS);
	if (!pr)
		goto err;
	for (i = 0; i < SIPOVL_IS_MAX; i++)
		if (nla_put_u64_64bit(skb, istat_attr[i], st.c[i],
				      SIPOVL_ISTATS_A_PAD))
			goto err;
	nla_nest_end(skb, pr);
out:
	nla_nest_end(skb, nest);
	return 0;
err:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

size_t sipovl_nl_intercept_size(const struct sipovl_intercept *ic)
{
	size_t pfx = nla_total_size(0) + nla_total_size(2) + nla_total_size(16) +
		     nla_total_size(1);
	size_t pr = nla_total_size(0) + 2 * nla_total_size(2);

	return nla_total_size(0) + nla_total_size(4) +
	       nla_total_size(SIPOVL_NAME_MAXLEN) + nla_total_size(4) +
	       nla_total_size(1) + 3 * nla_total_size(0) +
	       (ic->n_dst + ic->n_src) * pfx + ic->n_ports * pr +
	       nla_total_size(0) + SIPOVL_IS_MAX * nla_total_size_64bit(8);
}

/* SIPOVL_A_SOURCES compiled; NULL without it. */
struct sipovl_srcset *sipovl_nl_parse_sources(struct nlattr *nest,
					      struct netlink_ext_ack *extack)
{
	struct sipovl_srcset *srcs;
	struct mt_prefix *p = NULL;
	u32 n;
	int ret;

	if (!nest)
		return NULL;
	ret = sipovl_nl_count_nested(nest, SIPOVL_MAX_TRANSPARENT_SOURCES, "source ranges",
			   &n, extack);
	if (ret)
		return ERR_PTR(ret);
	if (n) {
		p = kvmalloc_array(n, sizeof(*p), GFP_KERNEL_ACCOUNT);
		if (!p)
			return ERR_PTR(-ENOMEM);
		ret = sipovl_nl_parse_prefixes(nest, p, extack);
		if (ret) {
			kvfree(p);
			return ERR_PTR(ret);
		}
	}
	srcs = sipovl_srcset_build(p, n, extack);
	kvfree(p);
	return srcs;
}
