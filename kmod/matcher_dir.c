// SPDX-License-Identifier: GPL-2.0
/*
 * Intercept matcher, compile: the directories of interval maps. A directory
 * node spreads the starts of a map into buckets by their offset (or by
 * scale around a pivot); a bucket holds the window of intervals a lookup
 * then binary-searches, or a child node (mt_dir32, mt_dir128).
 */
#include "matcher.h"
#include "matcher_int.h"
#include "matcher_build.h"

static u32 mt_ceil_log2(u64 x)
{
	u32 r = 0;

	while (r < 63 && (1ULL << r) < x)
		r++;
	return r;
}

static u32 mt_dir_bits(u32 c)
{
	u32 bits = mt_ceil_log2(c) + 1;

	if (bits < 4)
		bits = 4;
	if (bits > MT_DIR_MAX_BITS)
		bits = MT_DIR_MAX_BITS;
	return bits;
}

/*
 * Directory of the map @m (32-bit keys): nodes are built breadth first from
 * a work list, no recursion. A node over the starts [a, b] spreads them by
 * (key - key[a]) >> shift into at most 2^bits buckets; a bucket whose
 * window (the interval holding its first key and the starts inside it)
 * has more than MT_LEAF + 1 intervals gets a child node, up to
 * MT_DIR_DEPTH levels.
 */
/*
 * The directory work list of a map of n keys: one item, every interval
 * but the first (the keys below the lowest one), at depth 0.
 */
static int mt_dir_start(struct mt_build *b, u32 n)
{
	struct mt_dwork *w;
	int ret;

	b->dwork.n = 0;
	ret = mt_vgrow(b, &b->dwork, 1, sizeof(*w));
	if (ret)
		return ret;
	w = b->dwork.p;
	w->a = 1;
	w->b = n - 1;
	w->depth = 0;
	b->dwork.n = 1;
	return 0;
}

/*
 * Slot *ent of a directory node, met by the intervals i - 1 .. g - 1 of the
 * work item @cw: more than a leaf window holds, and not too deep, makes a
 * child node (queued as work, numbered from @first); else the slot is the
 * window itself, and the node's widest window (*win) grows to it.
 */
static int mt_dir_slot(struct mt_build *b, const struct mt_dwork *cw,
		       u32 first, u32 i, u32 g, u32 *ent, u32 *win)
{
	u32 e = i - 1, n = g - 1 - e;
	struct mt_dwork *w;
	int ret;

	if (n > MT_LEAF && cw->depth < MT_DIR_DEPTH) {
		ret = mt_vgrow(b, &b->dwork, 1, sizeof(*w));
		if (ret)
			return ret;
		w = (struct mt_dwork *)b->dwork.p + b->dwork.n;
		w->a = i;
		w->b = g - 1;
		w->depth = cw->depth + 1;
		*ent = MT_CHILD | (first + b->dwork.n);
		b->dwork.n++;
		return 0;
	}
	*ent = e | (n < MT_WMAX ? n : MT_WMAX) << MT_WSHIFT;
	if (n > *win)
		*win = n;
	return 0;
}

/* The most starts of kv[a..b] that fall in one bucket of @dn. */
static u32 mt_run32(const struct mt_kv32 *kv, u32 a, u32 b,
		    const struct mt_dn32 *dn)
{
	u32 i, run = 1, best = 1, prev = mt_bkt32(dn, kv[a].key), x;

	for (i = a + 1; i <= b; i++) {
		x = mt_bkt32(dn, kv[i].key);
		run = x == prev ? run + 1 : 1;
		prev = x;
		if (run > best)
			best = run;
	}
	return best;
}

/*
 * A node whose linear buckets would leave more than a leaf window in one
 * bucket is bucketed by scale around its median start instead when that
 * spreads its starts better (*piv, MT_LOG).
 */
static u32 mt_pick32(const struct mt_kv32 *kv, const struct mt_dwork *cw,
		     u32 shift, u32 nb, u32 *piv)
{
	struct mt_dn32 dn = { .lo = kv[cw->a].key, .shift = shift,
			      .last = nb - 1 };
	u32 lin, run, best, i, g, x;

	if (cw->b - cw->a + 1 <= MT_LEAF)
		return shift;
	lin = mt_run32(kv, cw->a, cw->b, &dn);
	if (lin <= MT_LEAF)
		return shift;
	dn.shift = MT_LOG;
	dn.piv = kv[cw->a + (cw->b - cw->a) / 2].key;
	run = mt_run32(kv, cw->a, cw->b, &dn);
	best = dn.piv;
	for (i = cw->a + 1, g = cw->a; i <= cw->b; i++)
		if (kv[i].key - kv[i - 1].key < kv[g + 1].key - kv[g].key)
			g = i - 1;
	dn.piv = kv[g].key;
	x = mt_run32(kv, cw->a, cw->b, &dn);
	if (x < run) {
		run = x;
		best = dn.piv;
	}
	if (run >= lin)
		return shift;
	*piv = best;
	return MT_LOG;
}

/* Keys of bucket @j of a scale node around @piv: *bs..*be (empty: bs > be). */
static void mt_logb32(u32 piv, u32 j, u64 *bs, u64 *be)
{
	u64 m, h, f;

	if (j == 32) {
		*bs = piv;
		*be = piv;
	} else if (j < 32) {
		m = 32 - j;
		h = 1ULL << (m - 1);
		f = (1ULL << m) - 1;
		if (piv < h) {
			*bs = 0;
			*be = 0;
			return;
		}
		*be = piv - h;
		*bs = piv >= f ? piv - f : 0;
	} else {
		m = j - 32;
		*bs = piv + (1ULL << (m - 1));
		*be = piv + (1ULL << m) - 1;
		if (*bs > 0xffffffffULL)
			*bs = 0xffffffffULL;
		if (*be > 0xffffffffULL)
			*be = 0xffffffffULL;
	}
}

int mt_dir32(struct mt_build *b, struct mt_map *m)
{
	const struct mt_kv32 *kv;
	struct mt_dn32 *dn;
	u32 d, first, i, j, g, nb, bits, shift, range, piv, *ent;
	u64 bs, be;
	int ret;

	m->dir = MT_NONE;
	if (m->n <= MT_LEAF + 1)
		return 0;
	first = b->dn32.n;
	ret = mt_dir_start(b, m->n);
	if (ret)
		return ret;
	for (d = 0; d < b->dwork.n; d++) {
		struct mt_dwork cw = ((struct mt_dwork *)b->dwork.p)[d];

		kv = (const struct mt_kv32 *)b->kv32.p + m->iv;
		range = kv[cw.b].key - kv[cw.a].key;
		bits = mt_dir_bits(cw.b - cw.a + 1);
		for (shift = 0; shift < 32 && (range >> shift) >> bits; shift++)
			;
		nb = (range >> shift) + 1;
		piv = 0;
		shift = mt_pick32(kv, &cw, shift, nb, &piv);
		if (shift == MT_LOG)
			nb = 65;
		ret = mt_vgrow(b, &b->dn32, 1, sizeof(*dn));
		if (!ret)
			ret = mt_vgrow(b, &b->dent, nb, sizeof(u32));
		if (!ret)
			ret = mt_charge(b, nb);
		if (ret)
			return ret;
		kv = (const struct mt_kv32 *)b->kv32.p + m->iv;
		dn = (struct mt_dn32 *)b->dn32.p + b->dn32.n++;
		dn->lo = kv[cw.a].key;
		dn->shift = shift;
		dn->last = nb - 1;
		dn->before = cw.a - 1;
		dn->ent = b->dent.n;
		dn->win = 0;
		dn->piv = piv;
		ent = (u32 *)b->dent.p + b->dent.n;
		b->dent.n += nb;
		i = cw.a;
		for (j = 0; j < nb; j++) {
			if (shift == MT_LOG) {
				mt_logb32(piv, j, &bs, &be);
			} else {
				bs = dn->lo + ((u64)j << shift);
				be = bs + ((u64)1 << shift) - 1;
			}
			while (i <= cw.b && kv[i].key <= bs)
				i++;
			for (g = i; g <= cw.b && kv[g].key <= be; g++)
				;
			ret = mt_dir_slot(b, &cw, first, i, g, &ent[j], &dn->win);
			if (ret)
				return ret;
		}
		mt_resched();
	}
	m->dir = first;
	return 0;
}

static inline void mt_sub(struct mt_addr *r, const struct mt_addr *a,
			  const struct mt_addr *b)
{
	r->lo = a->lo - b->lo;
	r->hi = a->hi - b->hi - (a->lo < b->lo);
}

/* a >> s for s in 0..127 */
static inline void mt_shr(struct mt_addr *r, const struct mt_addr *a, u32 s)
{
	if (s >= 64) {
		r->lo = a->hi >> (s - 64);
		r->hi = 0;
	} else if (s) {
		r->lo = a->lo >> s | a->hi << (64 - s);
		r->hi = a->hi >> s;
	} else {
		*r = *a;
	}
}

/* lo + (j << s), saturating at the top of the address space */
static void mt_bucket(struct mt_addr *r, const struct mt_addr *lo, u64 j,
		      u32 s)
{
	struct mt_addr x;

	if (s >= 64) {
		x.hi = j << (s - 64);
		x.lo = 0;
	} else if (s) {
		x.hi = j >> (64 - s);
		x.lo = j << s;
	} else {
		x.hi = 0;
		x.lo = j;
	}
	r->lo = lo->lo + x.lo;
	r->hi = lo->hi + x.hi + (r->lo < x.lo);
	if (r->hi < lo->hi || (r->hi == lo->hi && r->lo < lo->lo))
		r->hi = r->lo = ~0ULL;
}

static u32 mt_run128(const struct mt_kv128 *kv, u32 a, u32 b,
		     const struct mt_dn128 *dn)
{
	u32 i, run = 1, best = 1, x;
	u32 prev = mt_bkt128(dn, kv[a].key.hi, kv[a].key.lo);

	for (i = a + 1; i <= b; i++) {
		x = mt_bkt128(dn, kv[i].key.hi, kv[i].key.lo);
		run = x == prev ? run + 1 : 1;
		prev = x;
		if (run > best)
			best = run;
	}
	return best;
}

static u32 mt_pick128(const struct mt_kv128 *kv, const struct mt_dwork *cw,
		      u32 shift, u32 nb, struct mt_addr *piv)
{
	struct mt_dn128 dn = { .lo = kv[cw->a].key, .shift = shift,
			       .last = nb - 1 };
	struct mt_addr best, gap, d;
	u32 lin, run, i, g, x;

	if (cw->b - cw->a + 1 <= MT_LEAF)
		return shift;
	lin = mt_run128(kv, cw->a, cw->b, &dn);
	if (lin <= MT_LEAF)
		return shift;
	dn.shift = MT_LOG;
	dn.piv = kv[cw->a + (cw->b - cw->a) / 2].key;
	run = mt_run128(kv, cw->a, cw->b, &dn);
	best = dn.piv;
	mt_sub(&gap, &kv[cw->a + 1].key, &kv[cw->a].key);
	for (i = cw->a + 2, g = cw->a; i <= cw->b; i++) {
		mt_sub(&d, &kv[i].key, &kv[i - 1].key);
		if (mt_cmp_addr(&d, &gap) < 0) {
			gap = d;
			g = i - 1;
		}
	}
	dn.piv = kv[g].key;
	x = mt_run128(kv, cw->a, cw->b, &dn);
	if (x < run) {
		run = x;
		best = dn.piv;
	}
	if (run >= lin)
		return shift;
	*piv = best;
	return MT_LOG;
}

/* r = a + x, saturating at the top of the address space */
static void mt_add_sat(struct mt_addr *r, const struct mt_addr *a,
		       const struct mt_addr *x)
{
	r->lo = a->lo + x->lo;
	r->hi = a->hi + x->hi + (r->lo < x->lo);
	if (mt_cmp_addr(r, a) < 0)
		r->hi = r->lo = ~0ULL;
}

static void mt_logb128(const struct mt_addr *piv, u32 j, struct mt_addr *bs,
		       struct mt_addr *be)
{
	struct mt_addr h, f;
	u32 m;

	if (j == 128) {
		*bs = *piv;
		*be = *piv;
		return;
	}
	m = j < 128 ? 128 - j : j - 128;
	mt_hostmask(128 - m, &f);	/* 2^m - 1 */
	mt_hostmask(129 - m, &h);
	mt_inc(&h);			/* 2^(m - 1) */
	if (j < 128) {
		if (mt_cmp_addr(piv, &h) < 0) {
			bs->hi = bs->lo = 0;
			*be = *bs;
			return;
		}
		mt_sub(be, piv, &h);
		if (mt_cmp_addr(piv, &f) >= 0)
			mt_sub(bs, piv, &f);
		else
			bs->hi = bs->lo = 0;
		return;
	}
	mt_add_sat(bs, piv, &h);
	mt_add_sat(be, piv, &f);
}

/* The same for 128-bit keys. */
int mt_dir128(struct mt_build *b, struct mt_map *m)
{
	const struct mt_kv128 *kv;
	struct mt_dn128 *dn;
	struct mt_addr range, x, bs, be, piv;
	u32 d, first, i, j, g, nb, bits, shift, *ent;
	int ret;

	m->dir = MT_NONE;
	if (m->n <= MT_LEAF + 1)
		return 0;
	first = b->dn128.n;
	ret = mt_dir_start(b, m->n);
	if (ret)
		return ret;
	for (d = 0; d < b->dwork.n; d++) {
		struct mt_dwork cw = ((struct mt_dwork *)b->dwork.p)[d];

		kv = (const struct mt_kv128 *)b->kv128.p + m->iv;
		mt_sub(&range, &kv[cw.b].key, &kv[cw.a].key);
		bits = mt_dir_bits(cw.b - cw.a + 1);
		for (shift = 0; shift < 127; shift++) {
			mt_shr(&x, &range, shift);
			if (!x.hi && !(x.lo >> bits))
				break;
		}
		mt_shr(&x, &range, shift);
		nb = (u32)x.lo + 1;
		piv.hi = 0;
		piv.lo = 0;
		shift = mt_pick128(kv, &cw, shift, nb, &piv);
		if (shift == MT_LOG)
			nb = 257;
		ret = mt_vgrow(b, &b->dn128, 1, sizeof(*dn));
		if (!ret)
			ret = mt_vgrow(b, &b->dent, nb, sizeof(u32));
		if (!ret)
			ret = mt_charge(b, nb);
		if (ret)
			return ret;
		kv = (const struct mt_kv128 *)b->kv128.p + m->iv;
		dn = (struct mt_dn128 *)b->dn128.p + b->dn128.n++;
		dn->lo = kv[cw.a].key;
		dn->shift = shift;
		if (shift < 64 && !range.hi)
			dn->shift = shift | MT_SHORT;
		dn->last = nb - 1;
		dn->before = cw.a - 1;
		dn->ent = b->dent.n;
		dn->win = 0;
		dn->piv = piv;
		ent = (u32 *)b->dent.p + b->dent.n;
		b->dent.n += nb;
		i = cw.a;
		for (j = 0; j < nb; j++) {
			if (shift == MT_LOG) {
				mt_logb128(&piv, j, &bs, &be);
			} else {
				mt_bucket(&bs, &dn->lo, j, shift);
				mt_bucket(&be, &dn->lo, (u64)j + 1, shift);
				if (be.lo-- == 0)
					be.hi--;
				if (j == nb - 1)
					be.hi = be.lo = ~0ULL;
			}
			while (i <= cw.b && mt_cmp_addr(&kv[i].key, &bs) <= 0)
				i++;
			for (g = i; g <= cw.b && mt_cmp_addr(&kv[g].key, &be) <= 0;
			     g++)
				;
			ret = mt_dir_slot(b, &cw, first, i, g, &ent[j], &dn->win);
			if (ret)
				return ret;
		}
		mt_resched();
	}
	m->dir = first;
	return 0;
}
