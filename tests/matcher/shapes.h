/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Adversarial intercept tables for the matcher benchmark and the
 * differential test: shapes that hit the worst case of a structure instead of
 * its average, and packets aimed at them (hits and misses).
 *
 *   src      n intercepts on one destination and port, each allowing one
 *            other source host (dense in one /12 or /64)
 *   srcnest  n intercepts on one destination and port whose sources are
 *            chains of nested prefixes (/8../32, /32../128 by 4)
 *   nest     chains of nested destination prefixes (/0../32, /0../128),
 *            one intercept per level, each allowing one source host
 *   ports    n intercepts on one destination, each a short port range
 *            somewhere in 0..65535 (tcp or udp)
 *   overlap  n intercepts on one destination whose port ranges all contain
 *            port 5060, half tcp and half udp, half restricted to a source
 *   dense    n host destinations packed in one small region
 *   nestx    nest with variations: chains of 33 nested destinations (/0../32
 *            or /0../128 by 4) of both families, per level different port
 *            ranges and protocols, overlapping source prefixes of both
 *            families (some rules two), a few unrestricted levels
 *
 * Randomness: the caller's PRNG state (xorshift64*), so the benchmark and the
 * tests reproduce the same tables from a seed.
 */
#ifndef _SIPOVL_MATCHER_SHAPES_H
#define _SIPOVL_MATCHER_SHAPES_H

#include <stdlib.h>
#include <string.h>

#include "kmod/matcher.h"

enum sh_kind { SH_SRC, SH_SRCNEST, SH_NEST, SH_PORTS, SH_OVERLAP, SH_DENSE,
	       SH_NESTX, SH_N };

static const char *const sh_names[SH_N] = {
	"src", "srcnest", "nest", "ports", "overlap", "dense", "nestx",
};

struct sh_table {
	struct mt_rule *r;
	struct mt_prefix *pfx;
	struct mt_portrange *ports;
	u32 n;
	int kind, v6;
	u8 base[16];		/* the shared destination, or the dense region */
};

static inline u32 sh_rnd(u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (u32)((*s * 0x2545f4914f6cdd1dULL) >> 32);
}

static inline u32 sh_below(u64 *s, u32 n)
{
	return n ? (u32)(((u64)sh_rnd(s) * n) >> 32) : 0;
}

static inline int sh_kind(const char *name)
{
	int i;

	for (i = 0; i < SH_N; i++)
		if (!strcmp(name, sh_names[i]))
			return i;
	return -1;
}

static inline void sh_mask(struct mt_prefix *p)
{
	unsigned int bits = p->family == 4 ? 32 : 128, i;

	for (i = p->len; i < bits; i++)
		p->addr[i / 8] &= (u8)~(0x80 >> (i % 8));
	if (p->family == 4)
		memset(p->addr + 4, 0, 12);
}

/* Add @v to the big-endian address @a of 4 or 16 bytes. */
static inline void sh_add(u8 *a, int v6, u32 v)
{
	int k = v6 ? 15 : 3;
	u64 c = v;

	for (; k >= 0 && c; k--) {
		c += a[k];
		a[k] = (u8)c;
		c >>= 8;
	}
}

static inline void sh_host(struct mt_prefix *p, int v6, const u8 *a)
{
	memset(p, 0, sizeof(*p));
	p->family = v6 ? 6 : 4;
	p->len = v6 ? 128 : 32;
	memcpy(p->addr, a, v6 ? 16 : 4);
}

/* Source host of intercept @i in the src/nest/overlap shapes. */
static inline void sh_src_addr(int v6, u32 i, u8 *a)
{
	static const u8 s4[4] = { 172, 16, 0, 0 };
	static const u8 s6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 5 };

	memset(a, 0, 16);
	memcpy(a, v6 ? s6 : s4, v6 ? 16 : 4);
	sh_add(a, v6, 3 * i + 1);
}

/* Base address of nest chain @c (random, so chains differ early). */
static inline void sh_chain(u64 *s, int v6, u32 c, u8 *a)
{
	u64 t = (u64)c * 0x9e3779b97f4a7c15ULL + 7;
	u32 i;

	(void)s;
	for (i = 0; i < 16; i++)
		a[i] = (u8)sh_rnd(&t);
	if (!v6)
		memset(a + 4, 0, 12);
}

static inline u32 sh_levels(int kind, int v6)
{
	if (kind == SH_NEST)
		return v6 ? 129 : 33;
	if (kind == SH_NESTX)
		return 33;
	return 25;		/* SH_SRCNEST */
}

/* nestx: chain @c is of the table's family, every third of the other one. */
static inline int sh_nestx_v6(int v6, u32 c)
{
	return c % 3 == 2 ? !v6 : v6;
}

/* nestx: a hash of intercept @i, for its variations. */
static inline u32 sh_mix(u32 i)
{
	u32 h = i * 0x9e3779b1U;

	h ^= h >> 15;
	h *= 0x85ebca77U;
	return h ^ (h >> 13);
}

/*
 * nestx: source prefix of intercept @i (family @v6): one of 48 hosts of
 * sh_src_addr, widened to a prefix of one of five lengths, so that the
 * sources of different intercepts nest and repeat.
 */
static inline void sh_nestx_src(struct mt_prefix *p, int v6, u32 h)
{
	static const u8 l4[5] = { 12, 20, 24, 30, 32 };
	static const u8 l6[5] = { 32, 64, 100, 124, 128 };
	u8 a[16];

	sh_src_addr(v6, h % 48, a);
	sh_host(p, v6, a);
	p->len = v6 ? l6[(h >> 8) % 5] : l4[(h >> 8) % 5];
	sh_mask(p);
}

static inline u32 sh_srcnest_len(int v6, u32 level)
{
	return v6 ? 32 + 4 * level : 8 + level;
}

static inline int sh_table(u64 *s, struct sh_table *t, int kind, int v6,
			   u32 n)
{
	static const u8 d4[4] = { 10, 1, 2, 3 };
	static const u8 d6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0,
				   0, 0, 0, 0, 0, 0, 0, 3 };
	u32 i, L, np = 0, npr = 0;
	u8 a[16];

	memset(t, 0, sizeof(*t));
	t->r = calloc(n ? n : 1, sizeof(*t->r));
	t->pfx = calloc((size_t)(n ? n : 1) * 3, sizeof(*t->pfx));
	t->ports = calloc(n ? n : 1, sizeof(*t->ports));
	if (!t->r || !t->pfx || !t->ports)
		return -1;
	t->n = n;
	t->kind = kind;
	t->v6 = v6;
	memcpy(t->base, v6 ? d6 : d4, v6 ? 16 : 4);
	for (i = 0; i < n; i++) {
		struct mt_rule *r = &t->r[i];
		struct mt_prefix *d = &t->pfx[np++];
		struct mt_portrange *pr = &t->ports[npr++];

		r->id = i + 1;
		r->protos = MT_PROTO_TCP | MT_PROTO_UDP;
		r->n_dst = 1;
		r->dst = d;
		r->n_ports = 1;
		r->ports = pr;
		sh_host(d, v6, t->base);
		pr->lo = pr->hi = 5060;
		switch (kind) {
		case SH_SRC:
			r->n_src = 1;
			r->src = &t->pfx[np];
			sh_src_addr(v6, i, a);
			sh_host(&t->pfx[np++], v6, a);
			break;
		case SH_SRCNEST:
			L = sh_levels(kind, v6);
			r->n_src = 1;
			r->src = &t->pfx[np];
			sh_chain(s, v6, i / L, a);
			sh_host(&t->pfx[np], v6, a);
			t->pfx[np].len = (u8)sh_srcnest_len(v6, i % L);
			sh_mask(&t->pfx[np++]);
			/* the innermost prefix is tried first */
			r->id = (i / L) * L + (L - i % L);
			break;
		case SH_NEST:
			L = sh_levels(kind, v6);
			sh_chain(s, v6, i / L, d->addr);
			d->len = (u8)(i % L);
			sh_mask(d);
			r->protos = MT_PROTO_UDP;
			r->n_src = 1;
			r->src = &t->pfx[np];
			sh_src_addr(v6, i, a);
			sh_host(&t->pfx[np++], v6, a);
			break;
		case SH_PORTS:
			pr->lo = (u16)(i * 40503U);
			pr->hi = (u16)(pr->lo + i % 3 > 65535 ? 65535 :
				       pr->lo + i % 3);
			r->protos = i & 1 ? MT_PROTO_TCP : MT_PROTO_UDP;
			break;
		case SH_OVERLAP: {
			u32 w = (i * 7U) % 5000;

			pr->lo = (u16)(5060 - w);
			pr->hi = (u16)(5060 + w);
			r->protos = i & 1 ? MT_PROTO_TCP : MT_PROTO_UDP;
			if (i & 2) {
				r->n_src = 1;
				r->src = &t->pfx[np];
				sh_src_addr(v6, i, a);
				sh_host(&t->pfx[np++], v6, a);
			}
			break;
		}
		case SH_NESTX: {
			u32 h = sh_mix(i), c = i / 33, lv = i % 33;
			int f6 = sh_nestx_v6(v6, c);

			sh_chain(s, f6, c, d->addr);
			d->family = f6 ? 6 : 4;
			d->len = (u8)(f6 ? 4 * lv : lv);
			sh_mask(d);
			pr->lo = (u16)(5060 - (h & 3));
			pr->hi = (u16)(5060 + ((h >> 2) % 3));
			if ((h >> 4) % 5 == 0) {	/* elsewhere: 5061..5070 */
				pr->lo = 5061;
				pr->hi = 5070;
			}
			r->protos = (h >> 12) % 4 == 0 ? MT_PROTO_TCP :
				    (h >> 12) % 4 == 1 ? MT_PROTO_TCP | MT_PROTO_UDP :
				    MT_PROTO_UDP;
			if ((h >> 16) % 13 == 12)
				break;		/* unrestricted */
			r->src = &t->pfx[np];
			r->n_src = 1;
			/* one in seven of the other family, one in five both */
			sh_nestx_src(&t->pfx[np++], (h >> 20) % 7 ? f6 : !f6,
				     h >> 3);
			if ((h >> 24) % 5 == 0) {
				r->n_src = 2;
				sh_nestx_src(&t->pfx[np++], !f6, h >> 7);
			}
			break;
		}
		default:	/* SH_DENSE */
			memcpy(a, t->base, 16);
			sh_add(a, v6, 3 * i);
			sh_host(d, v6, a);
			r->protos = MT_PROTO_UDP;
			break;
		}
	}
	return 0;
}

static inline void sh_free(struct sh_table *t)
{
	free(t->r);
	free(t->pfx);
	free(t->ports);
}

/*
 * A packet for the table: half aimed at a random intercept (it matches that
 * intercept or a better one), half near misses (same destination and port,
 * a source or address next to an allowed one).
 */
static inline void sh_key(u64 *s, const struct sh_table *t, struct mt_key *k,
			  u8 *sa, u8 *da)
{
	u32 i = t->n ? sh_below(s, t->n) : 0, j, L;
	int hit = sh_below(s, 2), v6 = t->v6;
	const struct mt_rule *r = t->n ? &t->r[i] : NULL;

	memset(sa, 0, 16);
	memset(da, 0, 16);
	k->family = v6 ? 6 : 4;
	k->proto = sh_below(s, 2) ? MT_PROTO_TCP : MT_PROTO_UDP;
	k->dport = 5060;
	k->saddr = sa;
	k->daddr = da;
	for (j = 0; j < 16; j++)
		sa[j] = (u8)sh_rnd(s);
	if (!v6)
		memset(sa + 4, 0, 12);
	memcpy(da, t->base, 16);
	if (!r)
		return;
	switch (t->kind) {
	case SH_SRC:
		sh_src_addr(v6, i, sa);
		if (!hit)
			sh_add(sa, v6, 1);
		break;
	case SH_SRCNEST:
		L = sh_levels(t->kind, v6);
		sh_chain(s, v6, i / L, sa);
		if (!hit)	/* in the /8 (/32) only, or outside */
			sa[v6 ? 4 : 1] ^= 0x80;
		break;
	case SH_NEST:
		L = sh_levels(t->kind, v6);
		sh_chain(s, v6, i / L, da);
		if (hit)
			sh_src_addr(v6, i, sa);
		k->proto = MT_PROTO_UDP;
		break;
	case SH_PORTS:
		k->dport = (u16)(r->ports[0].lo +
				 sh_below(s, r->ports[0].hi - r->ports[0].lo + 1U));
		if (hit)
			k->proto = r->protos;
		else
			k->dport = (u16)sh_rnd(s);
		break;
	case SH_OVERLAP:
		k->dport = (u16)(5060 - 4 + sh_below(s, 9));
		if (hit && r->n_src)
			memcpy(sa, r->src[0].addr, 16);
		break;
	case SH_NESTX: {
		const struct mt_prefix *sp = r->n_src ? &r->src[0] : NULL;

		v6 = r->dst[0].family == 6;
		k->family = v6 ? 6 : 4;
		sh_chain(s, v6, i / 33, da);
		k->proto = r->protos == MT_PROTO_TCP ? MT_PROTO_TCP :
			   r->protos == MT_PROTO_UDP ? MT_PROTO_UDP : k->proto;
		k->dport = (u16)(5058 + sh_below(s, 14));
		for (j = 0; j < 16; j++)
			sa[j] = (u8)sh_rnd(s);
		if (!v6)
			memset(sa + 4, 0, 12);
		/* hit: the low bits of one of the 48 source hosts */
		if (sp && sp->family == k->family && hit) {
			sh_src_addr(v6, sh_below(s, 48), sa);
			if (sh_below(s, 2))
				memcpy(sa, sp->addr, v6 ? 16 : 4);
		} else if (hit) {
			sh_src_addr(v6, sh_below(s, 48), sa);
		}
		break;
	}
	default:	/* SH_DENSE */
		memcpy(da, r->dst[0].addr, 16);
		if (!hit)
			sh_add(da, v6, 1);
		k->proto = MT_PROTO_UDP;
		break;
	}
}

#endif
