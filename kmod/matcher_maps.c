// SPDX-License-Identifier: GPL-2.0
/*
 * Intercept matcher, compile: the maps of the table. Port maps of the prefix
 * nodes (mt_node_map), source maps of the candidate lists, flat or persistent
 * trees (mt_list_cell), and the destination maps (mt_dst_map).
 */
#include "matcher.h"
#include "matcher_int.h"
#include "matcher_build.h"

/* A list terminator that continues in another list (persistent source maps). */
static inline bool mt_is_par(u32 term)
{
	return (term & MT_PAR) && term != MT_END;
}

/* Append (start, val) to the map being built in b->kv32, merging repeats. */
static int mt_put32(struct mt_build *b, const struct mt_map *m, u32 start,
		    u32 val)
{
	struct mt_kv32 *kv;
	u32 n = b->kv32.n - m->iv;
	int ret;

	if (n) {	/* the pool may not exist yet: no NULL + 0 */
		kv = (struct mt_kv32 *)b->kv32.p + m->iv;
		if (kv[n - 1].key == start) {
			kv[n - 1].val = val;
			if (n > 1 && kv[n - 2].val == val)
				b->kv32.n--;
			return 0;
		}
		if (kv[n - 1].val == val)
			return 0;
	}
	ret = mt_vgrow(b, &b->kv32, 1, sizeof(*kv));
	if (ret)
		return ret;
	kv = (struct mt_kv32 *)b->kv32.p + b->kv32.n++;
	kv->key = start;
	kv->val = val;
	return 0;
}

/*
 * Port map of @node for protocol @pi: its own segments laid over the map of
 * @base (a node's map with list values; MT_NONE: one interval with the list
 * @baselist). Where the node has a default, its own list decides; where it
 * has nothing, the base list applies; else its restricted rules come first,
 * then the base list.
 */
int mt_node_map(struct mt_build *b, u32 node, u32 pi, u32 base,
		u32 baselist)
{
	struct mt_node *nd = (struct mt_node *)b->nodes.p + node;
	struct mt_map *m = &nd->pm[pi];
	const struct mt_kv32 *bkv;
	u32 bn = 1, bi = 0, oi = 0, on = b->oseg.n / 3, p = 0, next, bl, list;
	u32 *os, *ol, *l, *bl_p, len, blen;
	int ret;

	if (base != MT_NONE) {
		const struct mt_map *bm =
			&((struct mt_node *)b->nodes.p)[base].pm[pi];

		bn = bm->n;
		bi = bm->iv;
	}
	m->iv = b->kv32.n;
	for (;;) {
		os = (u32 *)b->oseg.p + 3 * oi;
		bkv = base != MT_NONE ? (const struct mt_kv32 *)b->kv32.p + bi :
		      NULL;
		bl = bkv ? bkv->val : baselist;
		if (os[2] != MT_END) {
			ol = os[1] == MT_NONE ? NULL : (u32 *)b->olst.p + os[1];
			ret = mt_intern(b, ol ? ol + 1 : NULL, ol ? ol[0] : 0,
					os[2], &list);
		} else if (os[1] == MT_NONE) {
			list = bl;
			ret = 0;
		} else {
			ol = (u32 *)b->olst.p + os[1];
			bl_p = (u32 *)b->lst.p + bl;
			len = ol[0];
			blen = bl_p[0];
			if (blen > MT_CAT_MAX || mt_is_par(bl_p[1])) {
				/*
				 * A long list is not copied: the node's rules
				 * then the base list, whose persistent source
				 * map the node's will extend.
				 */
				ret = mt_intern(b, ol + 1, len, MT_PAR | bl,
						&list);
				goto put;
			}
			b->cat.n = 0;
			ret = mt_vgrow(b, &b->cat, len + blen, sizeof(u32));
			if (ret)
				return ret;
			l = b->cat.p;
			ol = (u32 *)b->olst.p + os[1];
			bl_p = (u32 *)b->lst.p + bl;
			memcpy(l, ol + 1, (size_t)len * sizeof(u32));
			memcpy(l + len, bl_p + 2, (size_t)blen * sizeof(u32));
			ret = mt_intern(b, l, len + blen, bl_p[1], &list);
		}
put:
		if (ret)
			return ret;
		m->n = b->kv32.n - m->iv;
		ret = mt_put32(b, m, p, list);
		if (ret)
			return ret;
		next = MT_NPORTS;
		if (oi + 1 < on)
			next = ((u32 *)b->oseg.p)[3 * (oi + 1)];
		if (base != MT_NONE && bi + 1 < ((struct mt_node *)b->nodes.p)[base].pm[pi].iv + bn &&
		    ((const struct mt_kv32 *)b->kv32.p)[bi + 1].key < next)
			next = ((const struct mt_kv32 *)b->kv32.p)[bi + 1].key;
		if (next >= MT_NPORTS)
			break;
		p = next;
		if (oi + 1 < on && ((u32 *)b->oseg.p)[3 * (oi + 1)] == p)
			oi++;
		if (base != MT_NONE && bi + 1 < ((struct mt_node *)b->nodes.p)[base].pm[pi].iv + bn &&
		    ((const struct mt_kv32 *)b->kv32.p)[bi + 1].key == p)
			bi++;
	}
	m->n = b->kv32.n - m->iv;
	return mt_dir32(b, m);
}
static int mt_cmp_sitem(const void *pa, const void *pb)
{
	const struct mt_sitem *a = pa, *b = pb;
	int c = mt_cmp_addr(&a->start, &b->start);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Append (start, val) to the 128-bit map being built, merging repeats. */
static int mt_put128(struct mt_build *b, const struct mt_map *m,
		     const struct mt_addr *start, u32 val)
{
	struct mt_kv128 *kv;
	u32 n = b->kv128.n - m->iv;
	int ret;

	if (n) {	/* the pool may not exist yet: no NULL + 0 */
		kv = (struct mt_kv128 *)b->kv128.p + m->iv;
		if (!mt_cmp_addr(&kv[n - 1].key, start)) {
			kv[n - 1].val = val;
			if (n > 1 && kv[n - 2].val == val)
				b->kv128.n--;
			return 0;
		}
		if (kv[n - 1].val == val)
			return 0;
	}
	ret = mt_vgrow(b, &b->kv128, 1, sizeof(*kv));
	if (ret)
		return ret;
	kv = (struct mt_kv128 *)b->kv128.p + b->kv128.n++;
	kv->key = *start;
	kv->val = val;
	return 0;
}

static int mt_put(struct mt_build *b, const struct mt_map *m, u32 fam,
		  const struct mt_addr *start, u32 val)
{
	if (fam == 4)
		return mt_put32(b, m, (u32)(start->hi >> 32), val);
	return mt_put128(b, m, start, val);
}

/*
 * First-match map over the source address (family @fam) of the list at
 * @lo: every address maps to the first rule of the list that allows it,
 * else to the list's terminator. Source prefixes are laminar (nested or
 * disjoint), so a sweep over them sorted by (start, length) with a stack of
 * the open ones, each holding the best position among itself and the
 * prefixes around it, gives the map.
 */
static int mt_smap_fam(struct mt_build *b, u32 lo, u32 fam, struct mt_map *m)
{
	const u32 *l = (const u32 *)b->lst.p + lo;
	u32 n = l[0], term = l[1], i, j, k, sp = 0, ns = 0;
	const struct mt_rule *r;
	struct mt_sitem *it;
	struct mt_addr p = { 0, 0 }, hm;
	int ret;

	b->sit.n = 0;
	for (i = 0; i < n; i++) {
		r = &b->rules[l[2 + i]];
		for (j = 0; j < r->n_src; j++)
			if (r->src[j].family == fam)
				ns++;
	}
	ret = mt_vgrow(b, &b->sit, ns, sizeof(*it));
	if (!ret)
		ret = mt_charge(b, (u64)ns + 1);
	if (ret)
		return ret;
	if (b->stkcap < ns) {
		mt_bfree(b, b->stk);
		b->stk = mt_balloc(b, (size_t)ns * 2 * sizeof(*b->stk));
		if (!b->stk)
			return -ENOMEM;
		b->stkcap = ns;
	}
	it = b->sit.p;
	l = (const u32 *)b->lst.p + lo;
	for (i = 0, k = 0; i < n; i++) {
		r = &b->rules[l[2 + i]];
		for (j = 0; j < r->n_src; j++) {
			if (r->src[j].family != fam)
				continue;
			mt_addr_of(&r->src[j], &it[k].start);
			mt_hostmask(r->src[j].len, &hm);
			it[k].end.hi = it[k].start.hi | hm.hi;
			it[k].end.lo = it[k].start.lo | hm.lo;
			it[k].len = r->src[j].len;
			it[k].prio = i;
			k++;
		}
	}
	if (ns > 1)
		mt_sort(it, ns, sizeof(*it), mt_cmp_sitem);

	/* stk[2 * d]: item, stk[2 * d + 1]: best position down to it */
	m->iv = fam == 4 ? b->kv32.n : b->kv128.n;
	m->n = 0;
	ret = mt_put(b, m, fam, &p, term);
	for (i = 0; !ret && i < ns; i++) {
		while (sp && mt_cmp_addr(&it[b->stk[2 * (sp - 1)]].end,
					 &it[i].start) < 0) {
			p = it[b->stk[2 * (sp - 1)]].end;
			mt_inc(&p);
			sp--;
			ret = mt_put(b, m, fam, &p, sp ?
				     l[2 + b->stk[2 * sp - 1]] : term);
			if (ret)
				return ret;
		}
		k = it[i].prio;
		if (sp && b->stk[2 * sp - 1] < k)
			k = b->stk[2 * sp - 1];
		b->stk[2 * sp] = i;
		b->stk[2 * sp + 1] = k;
		sp++;
		ret = mt_put(b, m, fam, &it[i].start, l[2 + k]);
	}
	while (!ret && sp && !mt_is_max(&it[b->stk[2 * (sp - 1)]].end)) {
		p = it[b->stk[2 * (sp - 1)]].end;
		mt_inc(&p);
		sp--;
		ret = mt_put(b, m, fam, &p, sp ? l[2 + b->stk[2 * sp - 1]] : term);
	}
	if (ret)
		return ret;
	if (fam == 4) {
		m->n = b->kv32.n - m->iv;
		return mt_dir32(b, m);
	}
	m->n = b->kv128.n - m->iv;
	return mt_dir128(b, m);
}

/*
 * Persistent source maps. A list that ends in MT_PAR | base (the node's own
 * restricted rules, then a long list of its parent) does not get a source
 * map of its own: its map is the base list's with the own rules' sources
 * assigned over it, and shares everything else with it. Such maps are trees
 * over the table's elementary source intervals (the cuts of all source
 * prefixes of a family, numbered 0..nsb - 1): a node has MT_PFAN slots,
 * each a cell value for its whole range or a child node; the tree shape is
 * fixed by nsb, so an assignment copies at most two nodes per level (the
 * ends of the range) and never rebalances.
 */

#define MT_LESS_ADDR(x, y) (mt_cmp_addr(x, y) < 0)
MT_DEFINE_MSORT(mt_msort_addr, struct mt_addr, MT_LESS_ADDR)

/*
 * The elementary source intervals of family @fi (0: IPv4, 1: IPv6): the
 * sorted distinct starts and ends + 1 of every source prefix, and 0; the
 * map from a source address to its interval; the tree depth.
 */
static int mt_src_cuts(struct mt_build *b, u32 fi)
{
	u32 fam = fi ? 6 : 4, i, j, k = 0, ns = 0, d;
	const struct mt_rule *r;
	struct mt_addr *a, *tmp, hm;
	int ret;

	for (i = 0; i < b->n; i++) {
		r = &b->rules[i];
		for (j = 0; j < r->n_src; j++)
			ns += r->src[j].family == fam;
	}
	ret = mt_charge(b, 2 * (u64)ns + 1);
	if (ret)
		return ret;
	a = mt_balloc(b, (2 * (size_t)ns + 1) * sizeof(*a));
	tmp = mt_balloc(b, (2 * (size_t)ns + 1) * sizeof(*a));
	if (!a || !tmp) {
		mt_bfree(b, a);
		mt_bfree(b, tmp);
		return -ENOMEM;
	}
	a[k].hi = 0;
	a[k++].lo = 0;
	for (i = 0; i < b->n; i++) {
		r = &b->rules[i];
		for (j = 0; j < r->n_src; j++) {
			if (r->src[j].family != fam)
				continue;
			mt_addr_of(&r->src[j], &a[k]);
			mt_hostmask(r->src[j].len, &hm);
			a[k + 1].hi = a[k].hi | hm.hi;
			a[k + 1].lo = a[k].lo | hm.lo;
			k++;
			if (!mt_is_max(&a[k]))
				mt_inc(&a[k++]);
		}
	}
	mt_msort_addr(a, tmp, k);
	mt_bfree(b, tmp);
	for (i = 1, j = 1; i < k; i++)
		if (mt_cmp_addr(&a[i], &a[j - 1]))
			a[j++] = a[i];
	b->sb[fi] = a;
	b->nsb[fi] = j;
	for (d = 1; d < 32 / MT_PBITS && (1ULL << (d * MT_PBITS)) < j; d++)
		;
	if ((1ULL << (d * MT_PBITS)) < j) {
		b->err = "too many source prefixes";
		return -E2BIG;
	}
	b->psh[fi] = (d - 1) * MT_PBITS;

	b->gmap[fi].iv = fi ? b->kv128.n : b->kv32.n;
	b->gmap[fi].n = 0;
	for (i = 0; i < j; i++) {
		ret = mt_put(b, &b->gmap[fi], fam, &b->sb[fi][i], i);
		if (ret)
			return ret;
	}
	if (!fi) {
		b->gmap[fi].n = b->kv32.n - b->gmap[fi].iv;
		return mt_dir32(b, &b->gmap[fi]);
	}
	b->gmap[fi].n = b->kv128.n - b->gmap[fi].iv;
	return mt_dir128(b, &b->gmap[fi]);
}

/* The elementary interval of family @fi holding the address @a. */
static u32 mt_src_idx(const struct mt_build *b, u32 fi, const struct mt_addr *a)
{
	const struct mt_addr *s = b->sb[fi];
	u32 lo = 0, n, half;

	for (n = b->nsb[fi]; n > 1; n -= half) {
		half = n >> 1;
		if (mt_cmp_addr(&s[lo + half], a) <= 0)
			lo += half;
	}
	return lo;
}

/*
 * Assign @v to the elementary intervals @a..@z in the tree of family @fi
 * whose root slot is *@root. Nodes from slot b->pmark on belong to the
 * map being built and are written in place; older ones are shared and are
 * copied first (path copying). No recursion: a stack of partly covered
 * slots, at most two per level.
 */
static int mt_passign(struct mt_build *b, u32 fi, u32 *root, u32 a, u32 z,
		      u32 v)
{
	struct mt_pwork *w = b->pw, cw;
	u32 sp = 0, cur, node, k, clo, chi, csh, *slot;
	int ret;

	w[sp].ref = MT_NONE;
	w[sp].lo = 0;
	w[sp++].sh = b->psh[fi] + MT_PBITS;
	while (sp) {
		cw = w[--sp];
		cur = cw.ref == MT_NONE ? *root : ((u32 *)b->pn.p)[cw.ref];
		if (mt_pchild(cur) && cur - MT_SMAP >= b->pmark) {
			node = cur - MT_SMAP;
		} else {
			ret = mt_vgrow(b, &b->pn, MT_PFAN, sizeof(u32));
			if (!ret)
				ret = mt_charge(b, MT_PFAN);
			if (ret)
				return ret;
			node = b->pn.n;
			slot = (u32 *)b->pn.p + node;
			if (mt_pchild(cur))
				memcpy(slot, (u32 *)b->pn.p + (cur - MT_SMAP),
				       MT_PFAN * sizeof(u32));
			else
				for (k = 0; k < MT_PFAN; k++)
					slot[k] = cur;
			b->pn.n += MT_PFAN;
			if (cw.ref == MT_NONE)
				*root = MT_SMAP | node;
			else
				((u32 *)b->pn.p)[cw.ref] = MT_SMAP | node;
		}
		csh = cw.sh - MT_PBITS;
		slot = (u32 *)b->pn.p + node;
		for (k = 0; k < MT_PFAN; k++) {
			clo = cw.lo + (k << csh);
			chi = clo + ((1U << csh) - 1);
			if (chi < a || clo > z)
				continue;
			if (a <= clo && chi <= z) {
				slot[k] = v;
				continue;
			}
			if (sp >= MT_PWORK) {
				b->err = "compile failed (source tree)";
				return -EINVAL;
			}
			w[sp].ref = node + k;
			w[sp].lo = clo;
			w[sp++].sh = csh;
		}
	}
	return 0;
}

/*
 * Assign the rules of the list at @lo (best first) over the trees @root[2],
 * worst first so that the best wins, and store the result as a new source
 * map: *idx.
 */
static int mt_pm_over(struct mt_build *b, u32 lo, u32 *root, u32 *idx)
{
	const struct mt_rule *r;
	struct mt_addr a, hm;
	struct mt_smap *s;
	u32 i, j, n, fi, rule, x, y;
	int ret;

	b->pmark = b->pn.n;
	n = ((const u32 *)b->lst.p)[lo];
	for (i = n; i-- > 0;) {
		rule = ((const u32 *)b->lst.p)[lo + 2 + i];
		r = &b->rules[rule];
		for (j = 0; j < r->n_src; j++) {
			fi = r->src[j].family == 6;
			mt_addr_of(&r->src[j], &a);
			x = mt_src_idx(b, fi, &a);
			mt_hostmask(r->src[j].len, &hm);
			a.hi |= hm.hi;
			a.lo |= hm.lo;
			y = mt_src_idx(b, fi, &a);
			ret = mt_passign(b, fi, &root[fi], x, y, rule);
			if (ret)
				return ret;
		}
		if (!(i & 1023))
			mt_resched();
	}
	ret = mt_vgrow(b, &b->smaps, 1, sizeof(*s));
	if (ret)
		return ret;
	*idx = b->smaps.n++;
	if (*idx >= ~MT_SMAP) {
		b->err = "compiled table too large (source maps)";
		return -E2BIG;
	}
	s = (struct mt_smap *)b->smaps.p + *idx;
	s->m4.n = 0;
	s->m4.iv = root[0];
	s->m4.dir = MT_NONE;
	s->m6.n = 0;
	s->m6.iv = root[1];
	s->m6.dir = MT_NONE;
	return 0;
}

/*
 * The cell of the list at @lo, which ends in MT_PAR | base: a persistent
 * source map over the base list's. The chain of bases whose maps do not
 * exist yet is walked first (no recursion), down to a list that has a
 * persistent map or a flat list (whose persistent form is built from its
 * rules and kept in b->lpm), then the maps are built back up.
 */
static int mt_pm_cell(struct mt_build *b, u32 lo, u32 *cell)
{
	const struct mt_smap *s;
	u32 x = lo, idx, root[2], term;
	int ret;

	if (!b->psrc) {
		ret = mt_src_cuts(b, 0);
		if (!ret)
			ret = mt_src_cuts(b, 1);
		if (ret)
			return ret;
		b->psrc = true;
	}
	b->pend.n = 0;
	for (;;) {
		term = ((const u32 *)b->lst.p)[x + 1];
		if (!mt_is_par(term) || b->lcell[x] != MT_NONE)
			break;
		ret = mt_vgrow(b, &b->pend, 1, sizeof(u32));
		if (ret)
			return ret;
		((u32 *)b->pend.p)[b->pend.n++] = x;
		x = term & ~MT_PAR;
	}
	if (mt_is_par(term)) {
		idx = b->lcell[x] & ~MT_SMAP;
	} else {
		if (!b->lpm) {
			b->lpm = mt_balloc(b, (size_t)b->lcellcap * sizeof(u32));
			if (!b->lpm)
				return -ENOMEM;
			memset(b->lpm, 0xff, (size_t)b->lcellcap * sizeof(u32));
		}
		if (b->lpm[x] == MT_NONE) {
			root[0] = term == MT_END ? MT_PEND : term;
			root[1] = root[0];
			ret = mt_pm_over(b, x, root, &b->lpm[x]);
			if (ret)
				return ret;
		}
		idx = b->lpm[x];
	}
	while (b->pend.n) {
		x = ((u32 *)b->pend.p)[--b->pend.n];
		s = (const struct mt_smap *)b->smaps.p + idx;
		root[0] = s->m4.iv;
		root[1] = s->m6.iv;
		ret = mt_pm_over(b, x, root, &idx);
		if (ret)
			return ret;
		b->lcell[x] = MT_SMAP | idx;
	}
	*cell = b->lcell[lo];
	return 0;
}

/* The cell of the list at @lo: its terminator, or a new source map. */
int mt_list_cell(struct mt_build *b, u32 lo, u32 *cell)
{
	const u32 *l = (const u32 *)b->lst.p + lo;
	struct mt_smap *s;
	u32 idx;
	int ret;

	if (!l[0]) {
		*cell = l[1];
		return 0;
	}
	if (b->lcell[lo] != MT_NONE) {
		*cell = b->lcell[lo];
		return 0;
	}
	if (mt_is_par(l[1]))
		return mt_pm_cell(b, lo, cell);
	ret = mt_vgrow(b, &b->smaps, 1, sizeof(*s));
	if (ret)
		return ret;
	idx = b->smaps.n++;
	if (idx >= ~MT_SMAP) {
		b->err = "compiled table too large (source maps)";
		return -E2BIG;
	}
	s = (struct mt_smap *)b->smaps.p + idx;
	ret = mt_smap_fam(b, lo, 4, &s->m4);
	if (ret)
		return ret;
	s = (struct mt_smap *)b->smaps.p + idx;
	ret = mt_smap_fam(b, lo, 6, &s->m6);
	if (ret)
		return ret;
	*cell = b->lcell[lo] = MT_SMAP | idx;
	return 0;
}
/* The destination map of family @f from its elementary intervals. */
int mt_dst_map(struct mt_build *b, u32 f, struct mt_map *m)
{
	const struct mt_iv *iv = b->iv[f];
	u32 i;
	int ret = 0;

	m->iv = f ? b->kv128.n : b->kv32.n;
	m->n = 0;
	for (i = 0; !ret && i < b->niv[f]; i++)
		ret = mt_put(b, m, f ? 6 : 4, &iv[i].start, iv[i].node);
	if (ret)
		return ret;
	if (!f) {
		m->n = b->kv32.n - m->iv;
		return mt_dir32(b, m);
	}
	m->n = b->kv128.n - m->iv;
	return mt_dir128(b, m);
}
