/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Naive reference matcher: a loop over every (rule, destination, port range)
 * implementing the specification literally, plus a validator. Used by the
 * unit, differential and fuzz tests to check kmod/matcher.c.
 */
#ifndef _SIPOVL_MATCHER_REF_H
#define _SIPOVL_MATCHER_REF_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kmod/matcher.h"

static inline bool ref_in_prefix(const struct mt_prefix *p, u8 family,
				 const u8 *a)
{
	unsigned int full, rem;

	if (p->family != family)
		return false;
	full = p->len / 8;
	rem = p->len % 8;
	if (memcmp(p->addr, a, full))
		return false;
	if (rem) {
		u8 mask = (u8)(0xff << (8 - rem));

		if ((p->addr[full] & mask) != (a[full] & mask))
			return false;
	}
	return true;
}

static inline bool ref_prefix_ok(const struct mt_prefix *p)
{
	unsigned int bits, i;

	if (p->family != 4 && p->family != 6)
		return false;
	bits = p->family == 4 ? 32 : 128;
	if (p->len > bits)
		return false;
	for (i = p->len; i < bits; i++)
		if (p->addr[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

/* True if mt_compile must reject the rules with -EINVAL. */
static inline bool ref_invalid(const struct mt_rule *r, u32 n)
{
	u32 i, j;

	if (n && !r)
		return true;
	for (i = 0; i < n; i++) {
		if ((r[i].n_dst && !r[i].dst) || (r[i].n_src && !r[i].src) ||
		    (r[i].n_ports && !r[i].ports))
			return true;
		if (!r[i].protos || (r[i].protos & ~3))
			return true;
		for (j = 0; j < r[i].n_dst; j++)
			if (!ref_prefix_ok(&r[i].dst[j]))
				return true;
		for (j = 0; j < r[i].n_src; j++)
			if (!ref_prefix_ok(&r[i].src[j]))
				return true;
		for (j = 0; j < r[i].n_ports; j++)
			if (r[i].ports[j].lo > r[i].ports[j].hi)
				return true;
		for (j = 0; j < i; j++)
			if (r[j].id == r[i].id)
				return true;
	}
	return false;
}

static inline s32 ref_lookup(const struct mt_rule *r, u32 n,
			     const struct mt_key *k)
{
	s32 best = -1;
	unsigned int blen = 0, bw = 0;
	u32 bid = 0, i, d, p, s;

	for (i = 0; i < n; i++) {
		bool src_ok = r[i].n_src == 0;

		if (!(r[i].protos & k->proto))
			continue;
		for (s = 0; s < r[i].n_src; s++)
			if (ref_in_prefix(&r[i].src[s], k->family, k->saddr))
				src_ok = true;
		if (!src_ok)
			continue;
		for (d = 0; d < r[i].n_dst; d++) {
			if (!ref_in_prefix(&r[i].dst[d], k->family, k->daddr))
				continue;
			for (p = 0; p < r[i].n_ports; p++) {
				unsigned int len = r[i].dst[d].len;
				unsigned int w;

				if (k->dport < r[i].ports[p].lo ||
				    k->dport > r[i].ports[p].hi)
					continue;
				w = r[i].ports[p].hi - r[i].ports[p].lo;
				if (best < 0 || len > blen ||
				    (len == blen && (w < bw ||
				     (w == bw && r[i].id < bid)))) {
					best = (s32)i;
					blen = len;
					bw = w;
					bid = r[i].id;
				}
			}
		}
	}
	return best;
}

#endif
