/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Random rule tables and packets for the differential and fuzz tests. The
 * randomness comes from a PRNG (differential test) or from the fuzzer's input
 * bytes. Addresses and ports are drawn from small pools so that prefixes nest,
 * ranges overlap and lookups land on boundaries.
 */
#ifndef _SIPOVL_MATCHER_GEN_H
#define _SIPOVL_MATCHER_GEN_H

#include <stdlib.h>
#include <string.h>

#include "kmod/matcher.h"

struct gsrc {
	u64 s;			/* PRNG state when buf is NULL */
	const u8 *buf;		/* fuzzer input */
	size_t len, pos;
};

static inline u32 g_u32(struct gsrc *g)
{
	u32 v = 0;
	int i;

	if (g->buf) {
		for (i = 0; i < 4; i++)
			v = v << 8 | (g->pos < g->len ? g->buf[g->pos++] : 0);
		return v;
	}
	g->s ^= g->s >> 12;
	g->s ^= g->s << 25;
	g->s ^= g->s >> 27;
	return (u32)((g->s * 0x2545f4914f6cdd1dULL) >> 32);
}

static inline u8 g_u8(struct gsrc *g)
{
	if (g->buf)
		return g->pos < g->len ? g->buf[g->pos++] : 0;
	return (u8)g_u32(g);
}

static inline u32 g_below(struct gsrc *g, u32 n)
{
	if (!n)
		return 0;
	if (g->buf)
		return (n <= 256 ? g_u8(g) : g_u32(g)) % n;
	return g_u32(g) % n;
}

#define G_POOL 6
#define G_MAXP 6

struct gtable {
	struct mt_rule *r;
	struct mt_prefix *pfx;		/* dst and src storage */
	struct mt_portrange *ports;
	u32 n;
	u8 pool4[G_POOL][16], pool6[G_POOL][16];
	u16 ppool[12];
};

static inline void g_mask(struct mt_prefix *p)
{
	unsigned int bits = p->family == 4 ? 32 : 128, i;

	for (i = p->len; i < bits; i++)
		p->addr[i / 8] &= (u8)~(0x80 >> (i % 8));
	if (p->family == 4)
		memset(p->addr + 4, 0, 12);
}

static inline void g_prefix(struct gsrc *g, struct gtable *t,
			    struct mt_prefix *p)
{
	static const u8 lens4[] = { 0, 1, 7, 8, 9, 12, 16, 23, 24, 25, 31, 32 };
	static const u8 lens6[] = { 0, 1, 32, 48, 63, 64, 65, 96, 127, 128 };
	u32 sel = g_below(g, 8);

	memset(p, 0, sizeof(*p));
	p->family = g_below(g, 3) ? 4 : 6;
	memcpy(p->addr, p->family == 4 ? t->pool4[g_below(g, G_POOL)] :
	       t->pool6[g_below(g, G_POOL)], 16);
	if (sel == 0) {
		p->addr[g_below(g, p->family == 4 ? 4 : 16)] ^= g_u8(g);
	}
	if (p->family == 4)
		p->len = sel < 6 ? lens4[g_below(g, sizeof(lens4))] :
			 (u8)g_below(g, 33);
	else
		p->len = sel < 6 ? lens6[g_below(g, sizeof(lens6))] :
			 (u8)g_below(g, 129);
	g_mask(p);
}

static inline void g_pools(struct gsrc *g, struct gtable *t)
{
	static const u16 fixed[] = { 0, 1, 80, 81, 443, 65534, 65535 };
	u32 i, j;

	for (i = 0; i < G_POOL; i++) {
		for (j = 0; j < 16; j++) {
			t->pool4[i][j] = j < 4 ? g_u8(g) : 0;
			t->pool6[i][j] = g_u8(g);
		}
		if (i == 0)
			memset(t->pool4[i], 0, 4);	/* 0.0.0.0 */
		if (i == 1)
			memset(t->pool4[i], 0xff, 4);
		if (i == 1)
			memset(t->pool6[i], 0xff, 16);
		if (i == 2 && G_POOL > 3)	/* near pool 3 */
			memcpy(t->pool4[i], t->pool4[3], 3);
	}
	for (i = 0; i < 12; i++)
		t->ppool[i] = i < 7 ? fixed[i] : (u16)g_u32(g);
}

/* A random, valid table of @n rules. */
static inline int g_table(struct gsrc *g, struct gtable *t, u32 n)
{
	u32 i, j, np = 0, npr = 0, mul, off;

	memset(t, 0, sizeof(*t));
	t->r = calloc(n ? n : 1, sizeof(*t->r));
	t->pfx = calloc((size_t)(n ? n : 1) * 2 * G_MAXP, sizeof(*t->pfx));
	t->ports = calloc((size_t)(n ? n : 1) * G_MAXP, sizeof(*t->ports));
	if (!t->r || !t->pfx || !t->ports)
		return -1;
	t->n = n;
	g_pools(g, t);
	/* ids: a bijection of the index, unrelated to its order */
	mul = g_u32(g) | 1;
	off = g_below(g, 3) ? g_u32(g) : g_below(g, 2) ? 0 : 0xffffffffU;
	for (i = 0; i < n; i++) {
		struct mt_rule *r = &t->r[i];

		r->id = i * mul + off;
		r->protos = (u8)(1 + g_below(g, 3));
		r->n_dst = 1 + g_below(g, 3);
		if (!g_below(g, 40))
			r->n_dst = G_MAXP;
		r->dst = &t->pfx[np];
		for (j = 0; j < r->n_dst; j++)
			g_prefix(g, t, &t->pfx[np++]);
		r->n_src = g_below(g, 4) ? 0 : 1 + g_below(g, 3);
		r->src = &t->pfx[np];
		for (j = 0; j < r->n_src; j++)
			g_prefix(g, t, &t->pfx[np++]);
		r->n_ports = 1 + g_below(g, 2);
		if (!g_below(g, 30))
			r->n_ports = G_MAXP;
		r->ports = &t->ports[npr];
		for (j = 0; j < r->n_ports; j++) {
			struct mt_portrange *pr = &t->ports[npr++];
			u32 a = g_below(g, 3) ? t->ppool[g_below(g, 12)] :
				(u16)g_u32(g);
			u32 b = g_below(g, 3) ? t->ppool[g_below(g, 12)] :
				(u16)g_u32(g);

			if (!g_below(g, 3))
				b = a;
			pr->lo = (u16)(a < b ? a : b);
			pr->hi = (u16)(a < b ? b : a);
		}
	}
	return 0;
}

static inline void g_free(struct gtable *t)
{
	free(t->r);
	free(t->pfx);
	free(t->ports);
}

/* An address near or inside a random prefix of the table, or random. */
static inline void g_addr(struct gsrc *g, const struct gtable *t, u8 fam,
			  u8 *a, int src)
{
	const struct mt_rule *r;
	const struct mt_prefix *p = NULL;
	unsigned int bits = fam == 4 ? 32 : 128, i, sel = g_below(g, 8);
	int k;

	memset(a, 0, 16);
	if (t->n && sel < 6) {
		r = &t->r[g_below(g, t->n)];
		if (src && r->n_src)
			p = &r->src[g_below(g, r->n_src)];
		else if (r->n_dst)
			p = &r->dst[g_below(g, r->n_dst)];
	}
	if (!p || p->family != fam) {
		memcpy(a, fam == 4 ? t->pool4[g_below(g, G_POOL)] :
		       t->pool6[g_below(g, G_POOL)], bits / 8);
		if (g_below(g, 2))
			a[g_below(g, bits / 8)] = g_u8(g);
		return;
	}
	memcpy(a, p->addr, bits / 8);
	switch (sel % 3) {
	case 0:		/* first address, or the one before it */
		if (g_below(g, 2))
			break;
		for (k = (int)bits / 8 - 1; k >= 0 && a[k]-- == 0; k--)
			;
		break;
	case 1:		/* last address, or the one after it */
		for (i = p->len; i < bits; i++)
			a[i / 8] |= (u8)(0x80 >> (i % 8));
		if (g_below(g, 2))
			break;
		for (k = (int)bits / 8 - 1; k >= 0 && ++a[k] == 0; k--)
			;
		break;
	default:	/* random host part */
		for (i = p->len; i < bits; i++)
			if (g_below(g, 2))
				a[i / 8] |= (u8)(0x80 >> (i % 8));
	}
}

static inline void g_key(struct gsrc *g, const struct gtable *t,
			 struct mt_key *k, u8 *sa, u8 *da)
{
	u32 sel = g_below(g, 4);

	k->family = g_below(g, 3) ? 4 : 6;
	k->proto = g_below(g, 2) ? MT_PROTO_TCP : MT_PROTO_UDP;
	if (sel == 0) {
		k->dport = (u16)g_u32(g);
	} else if (sel == 1 || !t->n) {
		k->dport = t->ppool[g_below(g, 12)];
		k->dport += (u16)(g_below(g, 3) - 1);
	} else {
		const struct mt_rule *r = &t->r[g_below(g, t->n)];
		const struct mt_portrange *p = &r->ports[g_below(g, r->n_ports)];

		k->dport = g_below(g, 2) ? p->lo : p->hi;
		k->dport += (u16)(g_below(g, 3) - 1);
	}
	g_addr(g, t, k->family, sa, 1);
	g_addr(g, t, k->family, da, 0);
	k->saddr = sa;
	k->daddr = da;
}

#endif
