/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Intercept matcher: compiles a set of rules (destination prefixes x port ranges
 * x protocols, optional source prefixes) into an immutable lookup structure.
 *
 * Kernel-independent: builds in the module and as a userspace library (unit
 * tests, fuzzing, instruction-count benchmark). Everything that differs between
 * the two lives in matcher_compat.h.
 *
 * Priority among matching rules (see uapi/linux/sipovl.h): longest destination
 * prefix, then narrowest port range, then lowest rule id.
 */
#ifndef _SIPOVL_MATCHER_H
#define _SIPOVL_MATCHER_H

#include "matcher_compat.h"

#define MT_PROTO_TCP 0x1	/* == SIPOVL_PROTO_TCP */
#define MT_PROTO_UDP 0x2	/* == SIPOVL_PROTO_UDP */

struct mt_prefix {
	u8 family;		/* 4 or 6 */
	u8 len;			/* 0..32 or 0..128, host bits are zero */
	u8 addr[16];		/* network byte order; IPv4 in addr[0..3] */
};

struct mt_portrange {
	u16 lo, hi;		/* inclusive, lo <= hi */
};

struct mt_rule {
	u32 id;			/* unique among the rules of one table */
	u8 protos;		/* MT_PROTO_* bits */
	u32 n_dst, n_ports, n_src;
	const struct mt_prefix *dst;
	const struct mt_portrange *ports;
	const struct mt_prefix *src;	/* n_src == 0: any source */
};

struct mt_key {
	u8 family;		/* 4 or 6 */
	u8 proto;		/* MT_PROTO_TCP or MT_PROTO_UDP; else no match */
	u16 dport;		/* host order */
	const u8 *saddr;	/* 4 or 16 bytes, network order */
	const u8 *daddr;
};

struct mt_table;

/*
 * Compile @n rules (any order; the arrays they point to may be freed after
 * the call). Returns 0 and *out, or a negative errno (-ENOMEM, -EINVAL for
 * malformed rules, -E2BIG if the compiled form would exceed its size limit)
 * with a static message in *err when @err is not NULL. n == 0 is valid and
 * gives a table that matches nothing.
 */
int mt_compile(const struct mt_rule *rules, u32 n, struct mt_table **out,
	       const char **err);
/*
 * mt_compile, with at most @limit bytes allocated at any time during the
 * compile (its scratch space and the compiled table together, besides the
 * builder's own few hundred bytes): past it, -E2BIG with mt_err_limit.
 */
int mt_compile_limit(const struct mt_rule *rules, u32 n, size_t limit,
		     struct mt_table **out, const char **err);
extern const char mt_err_limit[];
void mt_destroy(struct mt_table *t);

/* Index (into the rules array given to mt_compile) of the best match, or -1. */
s32 mt_lookup(const struct mt_table *t, const struct mt_key *k);

/* Bytes used by the compiled table. */
size_t mt_memory(const struct mt_table *t);

#endif
