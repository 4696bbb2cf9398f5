// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "sipovl": see uapi/linux/sipovl.h for the API.
 *
 * Every handler parses and validates its whole request before changing
 * anything; a failure leaves the configuration as it was and says why in
 * extack.
 */

#include <linux/kernel.h>
#include <linux/hashtable.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <uapi/linux/sipovl.h>

#include "netlink.h"
#include "netns.h"
#include "steer.h"
#include "table.h"
#include "nl_int.h"

#ifndef NL_SET_ERR_MSG_FMT
/*
 * Formatted extack messages before 6.2, whose struct netlink_ext_ack has no
 * buffer for them. netlink_ack() reads the message after the handler has
 * returned, twice (to size the ack, then to copy it) with an allocation that
 * may sleep in between, so the message must outlive the handler and nothing
 * may write it until then. A buffer shared between requests (there may be
 * any number at once: the family has parallel_ops) would hand one request,
 * in any namespace, the message of another.
 *
 * So each task (thread) formats into a buffer of its own. A task is in one
 * request at a time, and netlink_rcv_skb() writes a request's ack before it
 * calls the next handler; a dump writes a message in the same call of
 * netlink_dump() that formatted it. When the task formats its next message,
 * nobody reads its buffer any more. Buffers are found by the task's struct
 * pid (a reference each); those of tasks that have gone are freed when
 * buffers are added, once their number has doubled since the last sweep,
 * and all of them at module exit, after the family is unregistered (when
 * no request runs any more).
 */
#define SIPOVL_EXTACK_LEN 80

struct sipovl_extack_buf {
	struct hlist_node node;
	struct pid *pid;
	char msg[SIPOVL_EXTACK_LEN];
};

static DEFINE_SPINLOCK(extack_lock);
static DEFINE_HASHTABLE(extack_bufs, 8);
static unsigned int extack_n, extack_sweep_at = 64;

static struct sipovl_extack_buf *extack_buf_find(struct pid *pid)
{
	struct sipovl_extack_buf *b;

	hash_for_each_possible(extack_bufs, b, node, (unsigned long)pid)
		if (b->pid == pid)
			return b;
	return NULL;
}

/* Unhashes the buffers of tasks that have gone onto @dead. */
static void extack_sweep(struct hlist_head *dead)
{
	struct sipovl_extack_buf *b;
	struct hlist_node *tmp;
	int bkt;

	lockdep_assert_held(&extack_lock);
	hash_for_each_safe(extack_bufs, bkt, tmp, b, node) {
		if (pid_has_task(b->pid, PIDTYPE_PID))
			continue;
		hash_del(&b->node);
		hlist_add_head(&b->node, dead);
		extack_n--;
	}
	extack_sweep_at = max(2 * extack_n, 64U);
}

static void extack_free(struct hlist_head *list)
{
	struct sipovl_extack_buf *b;
	struct hlist_node *tmp;

	hlist_for_each_entry_safe(b, tmp, list, node) {
		put_pid(b->pid);
		kfree(b);
	}
}

/* The calling task's buffer, NULL without memory. Process context. */
static struct sipovl_extack_buf *extack_buf(void)
{
	struct pid *pid = task_pid(current);
	struct sipovl_extack_buf *b;
	HLIST_HEAD(dead);

	spin_lock(&extack_lock);
	b = extack_buf_find(pid);
	spin_unlock(&extack_lock);
	if (b)
		return b;

	/* Only this task adds its own buffer: no one can have meanwhile. */
	b = kmalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	if (!b)
		return NULL;
	b->pid = get_pid(pid);
	spin_lock(&extack_lock);
	if (extack_n >= extack_sweep_at)
		extack_sweep(&dead);
	hash_add(extack_bufs, &b->node, (unsigned long)pid);
	extack_n++;
	spin_unlock(&extack_lock);
	extack_free(&dead);
	return b;
}

void sipovl_extack_fmt(struct netlink_ext_ack *extack, const char *fmt, ...)
{
	struct sipovl_extack_buf *b;
	va_list ap;

	if (!extack)
		return;
	b = extack_buf();
	if (!b) {
		/* Without memory: the message unformatted, better than none. */
		extack->_msg = fmt;
		return;
	}
	va_start(ap, fmt);
	vscnprintf(b->msg, sizeof(b->msg), fmt, ap);
	va_end(ap);
	extack->_msg = b->msg;
}

void sipovl_extack_bufs_free(void)
{
	struct sipovl_extack_buf *b;
	struct hlist_node *tmp;
	HLIST_HEAD(all);
	int bkt;

	hash_for_each_safe(extack_bufs, bkt, tmp, b, node) {
		hash_del(&b->node);
		hlist_add_head(&b->node, &all);
	}
	extack_n = 0;
	extack_free(&all);
}
#else
void sipovl_extack_bufs_free(void)
{
}
#endif

static struct genl_family sipovl_family;

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

void sipovl_nl_notify(struct net *net, u8 cmd,
		      const struct sipovl_intercept *ic, u32 generation)
{
	struct sk_buff *skb;
	void *hdr;

	if (!genl_has_listeners(&sipovl_family, net, 0))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &sipovl_family, 0, cmd);
	if (!hdr ||
	    nla_put_u32(skb, SIPOVL_A_GENERATION, generation) ||
	    (ic && sipovl_nl_put_intercept(skb, ic, false))) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	genlmsg_multicast_netns(&sipovl_family, net, skb, 0, 0, GFP_KERNEL);
}

/* A reply to @info's request: the family stays private to this file. */
void *sipovl_nl_reply_put(struct sk_buff *skb, struct genl_info *info, u8 cmd)
{
	return genlmsg_put_reply(skb, info, &sipovl_family, 0, cmd);
}

/* A message of the dump @cb. */
void *sipovl_nl_dump_put(struct sk_buff *skb, struct netlink_callback *cb,
			 u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			   &sipovl_family, NLM_F_MULTI, cmd);
}

/* Handlers */

/* @gen: the table generation to report (0: none). */
static int reply_intercept(struct genl_info *info,
			   const struct sipovl_intercept *ic, u8 cmd, u32 gen)
{
	struct sk_buff *skb = genlmsg_new(sipovl_nl_intercept_size(ic) + nla_total_size(4),
					  GFP_KERNEL);
	void *hdr;

	if (!skb)
		return -ENOMEM;
	hdr = sipovl_nl_reply_put(skb, info, cmd);
	/* After the intercept: parsers that take the first attribute. */
	if (!hdr || sipovl_nl_put_intercept(skb, ic, true) ||
	    (gen && nla_put_u32(skb, SIPOVL_A_GENERATION, gen))) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
}

int sipovl_nl_intercept_addrep(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	bool add = info->genlhdr->cmd == SIPOVL_CMD_INTERCEPT_ADD;
	struct sipovl_intercept *ic, *cur;
	int ret, used;
	u32 gen;

	ic = sipovl_nl_parse_intercept(info->attrs[SIPOVL_A_INTERCEPT], NEED_FULL, info->extack);
	if (IS_ERR(ic))
		return PTR_ERR(ic);
	mutex_lock(&sn->lock);
	used = sipovl_net_use(sn, info->extack);
	if (used < 0) {
		mutex_unlock(&sn->lock);
		sipovl_intercept_put(ic);
		return used;
	}
	if (add)
		ret = sipovl_table_add(sn, ic, info->extack);
	else
		ret = sipovl_table_replace(sn, ic, info->extack);
	if (ret) {
		sipovl_net_unuse(sn, used);
		mutex_unlock(&sn->lock);
		return ret;
	}
	/* The table holds @ic now; keep it alive for the reply. */
	cur = ic;
	refcount_inc(&cur->ref);
	gen = sn->generation;
	mutex_unlock(&sn->lock);

	ret = reply_intercept(info, cur, info->genlhdr->cmd, 0);
	sipovl_nl_notify(genl_info_net(info), info->genlhdr->cmd, cur, gen);
	sipovl_intercept_put(cur);
	return ret;
}

int sipovl_nl_intercept_del(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_intercept *key, *cur;
	u32 gen;
	int ret;

	key = sipovl_nl_parse_intercept(info->attrs[SIPOVL_A_INTERCEPT], NEED_KEY, info->extack);
	if (IS_ERR(key))
		return PTR_ERR(key);
	mutex_lock(&sn->lock);
	cur = sipovl_table_find(sipovl_table_get_locked(sn), key->id, key->name);
	if (cur)
		refcount_inc(&cur->ref);
	ret = sipovl_table_del(sn, key->id, key->name, info->extack);
	gen = sn->generation;
	mutex_unlock(&sn->lock);
	if (!ret)
		sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_INTERCEPT_DEL, cur, gen);
	sipovl_intercept_put(cur);
	sipovl_intercept_put(key);
	return ret;
}

int sipovl_nl_intercept_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_intercept *key, *cur;
	int ret;

	key = sipovl_nl_parse_intercept(info->attrs[SIPOVL_A_INTERCEPT], NEED_KEY, info->extack);
	if (IS_ERR(key))
		return PTR_ERR(key);
	mutex_lock(&sn->lock);
	cur = sipovl_table_find(sipovl_table_get_locked(sn), key->id, key->name);
	if (cur)
		refcount_inc(&cur->ref);
	mutex_unlock(&sn->lock);
	if (!cur) {
		if (key->id)
			SIPOVL_ERR_FMT(info->extack, "no intercept with id %u", key->id);
		else
			SIPOVL_ERR_FMT(info->extack, "no intercept named \"%s\"", key->name);
		sipovl_intercept_put(key);
		return -ENOENT;
	}
	sipovl_intercept_put(key);
	ret = reply_intercept(info, cur, SIPOVL_CMD_INTERCEPT_GET, 0);
	sipovl_intercept_put(cur);
	return ret;
}

/*
 * Dump cursor: args[0] is the next id to send, a u32 (cb->args are longs:
 * 32 bits on 32-bit kernels, so "id + 1" of id U32_MAX must not be stored
 * there); args[1] is set once the intercept with id U32_MAX was sent.
 */
int sipovl_nl_intercept_dump_start(struct netlink_callback *cb)
{
	cb->args[0] = 1;
	cb->args[1] = 0;
	/* One intercept with the maximum prefixes and ranges must fit. */
	cb->min_dump_alloc = 32768;
	return 0;
}

int sipovl_nl_intercept_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct sipovl_net *sn = sipovl_pernet(sock_net(skb->sk));
	struct sipovl_table *t;
	u32 next = cb->args[0];
	u32 lo, hi, i, id;
	void *hdr;

	if (cb->args[1])
		return 0;
	mutex_lock(&sn->lock);
	t = sipovl_table_get_locked(sn);
	cb->seq = sn->generation;
	lo = 0;
	hi = t ? t->n : 0;
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (t->ic[mid]->id < next)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; t && i < t->n; i++) {
		hdr = sipovl_nl_dump_put(skb, cb, SIPOVL_CMD_INTERCEPT_GET);
		if (!hdr)
			break;
		genl_dump_check_consistent(cb, hdr);
		if (sipovl_nl_put_intercept(skb, t->ic[i], true)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		id = t->ic[i]->id;
		if (id == U32_MAX)
			cb->args[1] = 1;
		else
			cb->args[0] = id + 1;
	}
	mutex_unlock(&sn->lock);
	return skb->len;
}

int sipovl_nl_intercept_flush(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	u32 gen;
	int ret;

	mutex_lock(&sn->lock);
	ret = sipovl_table_flush(sn);
	gen = sn->generation;
	mutex_unlock(&sn->lock);
	if (!ret)
		sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_INTERCEPT_FLUSH, NULL, gen);
	return ret;
}

static int reply_u32(struct genl_info *info, u8 cmd, int type, u32 v)
{
	struct sk_buff *skb = genlmsg_new(nla_total_size(4), GFP_KERNEL);
	void *hdr;

	if (!skb)
		return -ENOMEM;
	hdr = sipovl_nl_reply_put(skb, info, cmd);
	if (!hdr || nla_put_u32(skb, type, v)) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
}

int sipovl_nl_table_begin(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_txn *txn;
	u32 id;

	mutex_lock(&sn->lock);
	txn = sipovl_txn_begin(sn, info->snd_portid, info->extack);
	id = IS_ERR(txn) ? 0 : txn->id;
	mutex_unlock(&sn->lock);
	if (IS_ERR(txn))
		return PTR_ERR(txn);
	return reply_u32(info, SIPOVL_CMD_TABLE_BEGIN, SIPOVL_A_TXN_ID, id);
}

static struct sipovl_txn *txn_of(struct sipovl_net *sn, struct genl_info *info)
{
	struct sipovl_txn *txn;

	if (!info->attrs[SIPOVL_A_TXN_ID]) {
		sipovl_set_err(info->extack, "missing SIPOVL_A_TXN_ID");
		return ERR_PTR(-EINVAL);
	}
	txn = sipovl_txn_find(sn, nla_get_u32(info->attrs[SIPOVL_A_TXN_ID]),
			      info->snd_portid);
	if (!txn) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[SIPOVL_A_TXN_ID],
				    "no such table transaction on this socket");
		return ERR_PTR(-ENOENT);
	}
	return txn;
}

int sipovl_nl_table_add(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_intercept *ic;
	struct sipovl_txn *txn;
	struct nlattr *a;
	int rem, ret = 0;

	mutex_lock(&sn->lock);
	txn = txn_of(sn, info);
	if (IS_ERR(txn)) {
		ret = PTR_ERR(txn);
		goto out;
	}
	nlmsg_for_each_attr(a, info->nlhdr, GENL_HDRLEN, rem) {
		if (nla_type(a) != SIPOVL_A_INTERCEPT)
			continue;
		ic = sipovl_nl_parse_intercept(a, NEED_FULL, info->extack);
		if (IS_ERR(ic)) {
			ret = PTR_ERR(ic);
			break;
		}
		if (!ic->id) {
			NL_SET_ERR_MSG_ATTR(info->extack, a,
					    "intercepts in a table transaction need an id");
			sipovl_intercept_put(ic);
			ret = -EINVAL;
			break;
		}
		ret = sipovl_txn_append(sn, txn, ic, info->extack);
		if (ret)
			break;
	}
	if (ret)
		sipovl_txn_abort(sn, txn);
out:
	mutex_unlock(&sn->lock);
	return ret;
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

int sipovl_nl_table_commit(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_srcset *srcs;
	struct sipovl_txn *txn;
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;
	u32 gen = 0;
	int ret, used;

	/* Bad sources fail the commit; the transaction stays open. */
	srcs = sipovl_nl_parse_sources(info->attrs[SIPOVL_A_SOURCES], info->extack);
	if (IS_ERR(srcs))
		return PTR_ERR(srcs);
	msg = genlmsg_new(2 * nla_total_size(4), GFP_KERNEL);
	if (!msg) {
		sipovl_srcset_free(srcs);
		return -ENOMEM;
	}
	mutex_lock(&sn->lock);
	txn = txn_of(sn, info);
	used = IS_ERR(txn) ? PTR_ERR(txn) : sipovl_net_use(sn, info->extack);
	if (used < 0) {
		ret = used;
	} else {
		ret = sipovl_txn_commit(sn, txn, srcs, info->extack);
		gen = sn->generation;
		if (ret)
			sipovl_net_unuse(sn, used);
	}
	mutex_unlock(&sn->lock);
	if (ret) {
		sipovl_srcset_free(srcs);
		nlmsg_free(msg);
		return ret;
	}
	sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_TABLE_COMMIT, NULL, gen);
	if (srcs)
		sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_SOURCES_SET, NULL, gen);
	hdr = sipovl_nl_reply_put(msg, info, SIPOVL_CMD_TABLE_COMMIT);
	if (!hdr || nla_put_u32(msg, SIPOVL_A_GENERATION, gen))
		goto err;
	if (srcs) {
		/* An empty SIPOVL_A_SOURCES: the sources were replaced too. */
		nest = nla_nest_start(msg, SIPOVL_A_SOURCES);
		if (!nest)
			goto err;
		nla_nest_end(msg, nest);
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

int sipovl_nl_table_abort(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_txn *txn;
	int ret = 0;

	mutex_lock(&sn->lock);
	txn = txn_of(sn, info);
	if (IS_ERR(txn))
		ret = PTR_ERR(txn);
	else
		sipovl_txn_abort(sn, txn);
	mutex_unlock(&sn->lock);
	return ret;
}

int sipovl_nl_socket_register(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	u32 gen, flags = 0;
	int ret, used;

	if (!info->attrs[SIPOVL_A_SOCKET_FD]) {
		sipovl_set_err(info->extack, "missing SIPOVL_A_SOCKET_FD");
		return -EINVAL;
	}
	if (info->attrs[SIPOVL_A_FLAGS])
		flags = nla_get_u32(info->attrs[SIPOVL_A_FLAGS]);
	if (flags & ~SIPOVL_F_SOCKET_JOIN) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[SIPOVL_A_FLAGS],
				    "only SIPOVL_F_SOCKET_JOIN applies to SOCKET_REGISTER");
		return -EINVAL;
	}
	mutex_lock(&sn->lock);
	used = sipovl_net_use(sn, info->extack);
	ret = used < 0 ? used :
	      sipovl_socket_register(sn, nla_get_s32(info->attrs[SIPOVL_A_SOCKET_FD]),
				     flags & SIPOVL_F_SOCKET_JOIN, info->extack);
	if (!ret)
		sipovl_gen_bump(sn);
	else
		sipovl_net_unuse(sn, used);
	gen = sn->generation;
	mutex_unlock(&sn->lock);
	if (!ret)
		sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_SOCKET_REGISTER, NULL, gen);
	return ret;
}

int sipovl_nl_socket_unregister(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct nlattr *fa = info->attrs[SIPOVL_A_FAMILY];
	struct nlattr *pa = info->attrs[SIPOVL_A_PROTOCOL];
	int f = -1, p = -1, ret;
	u32 gen;

	if (info->attrs[SIPOVL_A_SOCKET_FD]) {
		if (fa || pa) {
			sipovl_set_err(info->extack,
				       "SIPOVL_A_SOCKET_FD excludes SIPOVL_A_FAMILY and SIPOVL_A_PROTOCOL");
			return -EINVAL;
		}
		mutex_lock(&sn->lock);
		ret = sipovl_socket_leave(sn, nla_get_s32(info->attrs[SIPOVL_A_SOCKET_FD]),
					  info->extack);
		if (!ret)
			sipovl_gen_bump(sn);
		gen = sn->generation;
		mutex_unlock(&sn->lock);
		if (!ret)
			sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_SOCKET_UNREGISTER, NULL, gen);
		return ret;
	}
	if (fa) {
		u16 fam = nla_get_u16(fa);

		if (fam != AF_INET && fam != AF_INET6) {
			NL_SET_ERR_MSG_ATTR(info->extack, fa,
					    "family must be AF_INET or AF_INET6");
			return -EAFNOSUPPORT;
		}
		f = fam == AF_INET ? SIPOVL_F4 : SIPOVL_F6;
	}
	if (pa) {
		u8 proto = nla_get_u8(pa);

		if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
			NL_SET_ERR_MSG_ATTR(info->extack, pa,
					    "protocol must be IPPROTO_TCP or IPPROTO_UDP");
			return -EPROTONOSUPPORT;
		}
		p = proto == IPPROTO_TCP ? SIPOVL_PTCP : SIPOVL_PUDP;
	}
	mutex_lock(&sn->lock);
	sipovl_socket_unregister(sn, f, p);
	sipovl_gen_bump(sn);
	gen = sn->generation;
	mutex_unlock(&sn->lock);
	sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_SOCKET_UNREGISTER, NULL, gen);
	return 0;
}

int sipovl_nl_sources_set(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *nest = info->attrs[SIPOVL_A_SOURCES];
	struct sipovl_net *sn = info_sn(info);
	struct mt_prefix *p = NULL;
	int ret, used;
	u32 n, gen;

	if (!nest) {
		sipovl_set_err(info->extack, "missing SIPOVL_A_SOURCES");
		return -EINVAL;
	}
	ret = sipovl_nl_count_nested(nest, SIPOVL_MAX_TRANSPARENT_SOURCES, "source ranges",
			   &n, info->extack);
	if (ret)
		return ret;
	if (n) {
		p = kvmalloc_array(n, sizeof(*p), GFP_KERNEL_ACCOUNT);
		if (!p)
			return -ENOMEM;
		ret = sipovl_nl_parse_prefixes(nest, p, info->extack);
		if (ret)
			goto out;
	}
	mutex_lock(&sn->lock);
	used = sipovl_net_use(sn, info->extack);
	ret = used < 0 ? used : sipovl_sources_set(sn, p, n, info->extack);
	if (ret)
		sipovl_net_unuse(sn, used);
	gen = sn->generation;
	mutex_unlock(&sn->lock);
	if (!ret)
		sipovl_nl_notify(genl_info_net(info), SIPOVL_CMD_SOURCES_SET, NULL, gen);
out:
	kvfree(p);
	return ret;
}

/* One SIPOVL_A_SOCKET nest for a group member (CONFIG_GET). */
static int put_member(void *arg, int f, int p, unsigned int idx,
		      unsigned int n, struct sock *sk)
{
	struct sk_buff *msg = arg;
	struct nlattr *nest;

	nest = nla_nest_start(msg, SIPOVL_A_SOCKET);
	if (!nest ||
	    nla_put_u16(msg, SIPOVL_SOCKET_A_FAMILY, f == SIPOVL_F4 ? AF_INET : AF_INET6) ||
	    nla_put_u8(msg, SIPOVL_SOCKET_A_PROTOCOL,
		       p == SIPOVL_PTCP ? IPPROTO_TCP : IPPROTO_UDP) ||
	    nla_put_u16(msg, SIPOVL_SOCKET_A_PORT, inet_sk(sk)->inet_num) ||
	    nla_put_u8(msg, SIPOVL_SOCKET_A_ALIVE, sipovl_socket_alive(sk)) ||
	    nla_put_u32(msg, SIPOVL_SOCKET_A_MEMBER, idx) ||
	    nla_put_u32(msg, SIPOVL_SOCKET_A_MEMBERS, n) ||
	    nla_put_u64_64bit(msg, SIPOVL_SOCKET_A_INODE, sock_i_ino(sk),
			      SIPOVL_SOCKET_A_PAD))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

int sipovl_nl_config_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_srcset *srcs;
	struct sipovl_table *t;
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;
	int i, ret = -EMSGSIZE;

	mutex_lock(&sn->lock);
	t = sipovl_table_get_locked(sn);
	srcs = rcu_dereference_protected(sn->sources, lockdep_is_held(&sn->lock));
	/* 48 bytes per source range, 80 per group member. */
	msg = genlmsg_new(NLMSG_GOODSIZE + (srcs ? srcs->n * 48 : 0) +
			  SIPOVL_NFAMILIES * SIPOVL_NPROTOS *
			  SIPOVL_MAX_GROUP_MEMBERS * 80, GFP_KERNEL);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	hdr = sipovl_nl_reply_put(msg, info, SIPOVL_CMD_CONFIG_GET);
	if (!hdr ||
	    nla_put_u32(msg, SIPOVL_A_GENERATION, sn->generation) ||
	    nla_put_u32(msg, SIPOVL_A_INTERCEPT_COUNT, t ? t->n : 0))
		goto err;
	nest = nla_nest_start(msg, SIPOVL_A_SOURCES);
	if (!nest)
		goto err;
	for (i = 0; srcs && i < srcs->n; i++)
		if (sipovl_nl_put_prefix(msg, &srcs->p[i]))
			goto err;
	nla_nest_end(msg, nest);
	if (sipovl_socket_for_each(sn, put_member, msg))
		goto err;
	mutex_unlock(&sn->lock);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
out:
	mutex_unlock(&sn->lock);
	return ret;
}

/*
 * A reset (SIPOVL_F_RESET_STATS) never writes to the per-CPU counters, which
 * other CPUs update without locks while it runs: it makes the sums just read
 * the new zero (the global base, @sum, the raw sums) and does the same for every
 * intercept of the current table. Each count is then in exactly one read.
 */
static int stats_reset(struct sipovl_net *sn, const struct sipovl_gstats *sum)
{
	struct sipovl_table *t = sipovl_table_get_locked(sn);
	u32 i;
	int ret;

	lockdep_assert_held(&sn->lock);
	for (i = 0; t && i < t->n; i++) {
		ret = sipovl_counters_prepare_rebase(t->ic[i]);
		if (ret)
			return ret;
	}
	sn->stats_base = *sum;
	for (i = 0; t && i < t->n; i++) {
		sipovl_counters_rebase(t->ic[i]);
		if (!(i & 1023))
			cond_resched();
	}
	return 0;
}

/* The attribute each global counter is sent as. */
static const u16 gstat_attr[SIPOVL_GS_MAX] = {
	[SIPOVL_GS_LOOKUPS] = SIPOVL_STATS_A_LOOKUPS,
	[SIPOVL_GS_STEERED] = SIPOVL_STATS_A_STEERED,
	[SIPOVL_GS_PASSED] = SIPOVL_STATS_A_PASSED,
	[SIPOVL_GS_DROPPED] = SIPOVL_STATS_A_DROPPED,
	[SIPOVL_GS_ERRORS] = SIPOVL_STATS_A_ERRORS,
	[SIPOVL_GS_REPLIES] = SIPOVL_STATS_A_REPLIES,
	[SIPOVL_GS_SRC_DENIED] = SIPOVL_STATS_A_SRC_DENIED,
	[SIPOVL_GS_DROP_NO_SOCKET] = SIPOVL_STATS_A_DROP_NO_SOCKET,
	[SIPOVL_GS_DROP_NOT_NEW] = SIPOVL_STATS_A_DROP_NOT_NEW,
	[SIPOVL_GS_DROP_MARTIAN] = SIPOVL_STATS_A_DROP_MARTIAN,
	[SIPOVL_GS_DROP_LOCAL_SRC] = SIPOVL_STATS_A_DROP_LOCAL_SRC,
	[SIPOVL_GS_DROP_RP_FILTER] = SIPOVL_STATS_A_DROP_RP_FILTER,
	[SIPOVL_GS_MALFORMED] = SIPOVL_STATS_A_MALFORMED,
	[SIPOVL_GS_REJECTED] = SIPOVL_STATS_A_REJECTED,
	[SIPOVL_GS_ICMP_ERRORS] = SIPOVL_STATS_A_ICMP_ERRORS,
};

int sipovl_nl_stats_get(struct sk_buff *skb, struct genl_info *info)
{
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_gstats sum = {}, raw;
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;
	int cpu, i, ret = 0;
	u32 flags = 0;

	/* Unknown bits were refused by the policy (NLA_POLICY_MASK). */
	if (info->attrs[SIPOVL_A_FLAGS])
		flags = nla_get_u32(info->attrs[SIPOVL_A_FLAGS]);
	if (flags & ~SIPOVL_F_RESET_STATS) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[SIPOVL_A_FLAGS],
				    "only SIPOVL_F_RESET_STATS applies to STATS_GET");
		return -EINVAL;
	}
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	mutex_lock(&sn->lock);
	for_each_possible_cpu(cpu) {
		const struct sipovl_gstats_pcpu *s = per_cpu_ptr(sn->stats, cpu);
		unsigned int start;

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			for (i = 0; i < SIPOVL_GS_MAX; i++)
				raw.c[i] = u64_stats_read(&s->c[i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		for (i = 0; i < SIPOVL_GS_MAX; i++)
			sum.c[i] += raw.c[i];
	}
	raw = sum;
	for (i = 0; i < SIPOVL_GS_MAX; i++)
		sum.c[i] -= sn->stats_base.c[i];
	if (flags & SIPOVL_F_RESET_STATS)
		ret = stats_reset(sn, &raw);
	mutex_unlock(&sn->lock);
	if (ret) {
		NL_SET_ERR_MSG(info->extack, "out of memory");
		nlmsg_free(msg);
		return ret;
	}

	hdr = sipovl_nl_reply_put(msg, info, SIPOVL_CMD_STATS_GET);
	if (!hdr)
		goto err;
	nest = nla_nest_start(msg, SIPOVL_A_STATS);
	if (!nest)
		goto err;
	for (i = 0; i < SIPOVL_GS_MAX; i++)
		if (nla_put_u64_64bit(msg, gstat_attr[i], sum.c[i],
				      SIPOVL_STATS_A_PAD))
			goto err;
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
err:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

int sipovl_nl_lookup(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *tb[SIPOVL_TUPLE_A_MAX + 1];
	struct nlattr *nest = info->attrs[SIPOVL_A_TUPLE];
	struct sipovl_net *sn = info_sn(info);
	struct sipovl_intercept *ic = NULL;
	struct sipovl_table *t;
	u8 src[16] = {}, dst[16] = {};
	struct mt_key k = {};
	u8 fam, proto;
	u32 gen = 0;
	s32 idx;
	int ret;

	if (!nest) {
		sipovl_set_err(info->extack, "missing SIPOVL_A_TUPLE");
		return -EINVAL;
	}
	ret = nla_parse_nested(tb, SIPOVL_TUPLE_A_MAX, nest, sipovl_tuple_policy, info->extack);
	if (ret)
		return ret;
	if (!tb[SIPOVL_TUPLE_A_FAMILY] || !tb[SIPOVL_TUPLE_A_PROTOCOL] ||
	    !tb[SIPOVL_TUPLE_A_SRC] || !tb[SIPOVL_TUPLE_A_DST] ||
	    !tb[SIPOVL_TUPLE_A_DPORT]) {
		NL_SET_ERR_MSG_ATTR(info->extack, nest,
				    "tuple needs family, protocol, src, dst and dport");
		return -EINVAL;
	}
	ret = sipovl_nl_addr_family(tb[SIPOVL_TUPLE_A_FAMILY], tb[SIPOVL_TUPLE_A_SRC], &fam,
			  info->extack);
	if (!ret)
		ret = sipovl_nl_addr_family(tb[SIPOVL_TUPLE_A_FAMILY], tb[SIPOVL_TUPLE_A_DST],
				  &fam, info->extack);
	if (ret)
		return ret;
	proto = nla_get_u8(tb[SIPOVL_TUPLE_A_PROTOCOL]);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[SIPOVL_TUPLE_A_PROTOCOL],
				    "protocol must be IPPROTO_TCP or IPPROTO_UDP");
		return -EPROTONOSUPPORT;
	}
	nla_memcpy(src, tb[SIPOVL_TUPLE_A_SRC], sizeof(src));
	nla_memcpy(dst, tb[SIPOVL_TUPLE_A_DST], sizeof(dst));
	k.family = fam;
	k.proto = proto == IPPROTO_TCP ? MT_PROTO_TCP : MT_PROTO_UDP;
	k.dport = nla_get_u16(tb[SIPOVL_TUPLE_A_DPORT]);
	k.saddr = src;
	k.daddr = dst;

	/*
	 * From the published table, as the hooks look up, not under sn->lock:
	 * a lookup never waits for a commit compiling a large table, and it
	 * says which table answered. A table holds a reference to each of its
	 * intercepts until a grace period after it was replaced.
	 */
	rcu_read_lock();
	t = rcu_dereference(sn->table);
	if (t) {
		gen = t->generation;
		idx = mt_lookup(t->mt, &k);
		if (idx >= 0) {
			ic = t->ic[idx];
			refcount_inc(&ic->ref);
		}
	}
	rcu_read_unlock();
	if (!ic) {
		sipovl_set_err(info->extack, "no intercept matches");
		return -ENOENT;
	}
	ret = reply_intercept(info, ic, SIPOVL_CMD_LOOKUP, gen);
	sipovl_intercept_put(ic);
	return ret;
}

static const struct genl_ops sipovl_ops[] = {
	{
		.cmd = SIPOVL_CMD_INTERCEPT_ADD,
		.doit = sipovl_nl_intercept_addrep,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_INTERCEPT_REPLACE,
		.doit = sipovl_nl_intercept_addrep,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_INTERCEPT_DEL,
		.doit = sipovl_nl_intercept_del,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_INTERCEPT_GET,
		.doit = sipovl_nl_intercept_get,
		.start = sipovl_nl_intercept_dump_start,
		.dumpit = sipovl_nl_intercept_dump,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_INTERCEPT_FLUSH,
		.doit = sipovl_nl_intercept_flush,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_TABLE_BEGIN,
		.doit = sipovl_nl_table_begin,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_TABLE_ADD,
		.doit = sipovl_nl_table_add,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_TABLE_COMMIT,
		.doit = sipovl_nl_table_commit,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_TABLE_ABORT,
		.doit = sipovl_nl_table_abort,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_SOCKET_REGISTER,
		.doit = sipovl_nl_socket_register,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_SOCKET_UNREGISTER,
		.doit = sipovl_nl_socket_unregister,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_SOURCES_SET,
		.doit = sipovl_nl_sources_set,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_CONFIG_GET,
		.doit = sipovl_nl_config_get,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_STATS_GET,
		.doit = sipovl_nl_stats_get,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = SIPOVL_CMD_LOOKUP,
		.doit = sipovl_nl_lookup,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static const struct genl_multicast_group sipovl_mcgrps[] = {
	{ .name = SIPOVL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family sipovl_family __ro_after_init = {
	.name = SIPOVL_GENL_NAME,
	.version = SIPOVL_GENL_VERSION,
	.maxattr = SIPOVL_A_MAX,
	.policy = sipovl_policy,
	.netnsok = true,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = sipovl_ops,
	.n_ops = ARRAY_SIZE(sipovl_ops),
	.mcgrps = sipovl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(sipovl_mcgrps),
};

int __init sipovl_genl_init(void)
{
	return genl_register_family(&sipovl_family);
}

void sipovl_genl_exit(void)
{
	genl_unregister_family(&sipovl_family);
	sipovl_extack_bufs_free();
}
