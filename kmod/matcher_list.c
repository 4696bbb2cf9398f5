// SPDX-License-Identifier: GPL-2.0
/*
 * Intercept matcher, compile: the elementary destination intervals of the
 * prefix nodes (mt_sweep), each node's own port segments and their
 * candidate rules (mt_own_segs), and the candidate lists, each stored once
 * (mt_intern).
 */
#include "matcher.h"
#include "matcher_int.h"
#include "matcher_build.h"

static void mt_emit(struct mt_iv *iv, u32 *cnt, const struct mt_addr *p,
		    u32 node)
{
	u32 c = *cnt;

	if (c && !mt_cmp_addr(&iv[c - 1].start, p))
		c--;
	if (c && iv[c - 1].node == node) {
		*cnt = c;
		return;
	}
	iv[c].start = *p;
	iv[c].node = node;
	*cnt = c + 1;
}

/*
 * Elementary intervals of the nodes [f0, f1) of one family, sorted by
 * (start, length). Prefixes are nested or disjoint, so the chain of open
 * prefixes is the parent chain of the innermost one: no stack is needed.
 */
u32 mt_sweep(struct mt_build *b, u32 f0, u32 f1, struct mt_iv *iv)
{
	struct mt_addr p = { 0, 0 };
	u32 cnt = 0, top = MT_NONE, i;

	mt_emit(iv, &cnt, &p, MT_NONE);
	for (i = f0; i < f1; i++) {
		while (top != MT_NONE &&
		       mt_cmp_addr(&b->bn[top].end, &b->bn[i].start) < 0) {
			p = b->bn[top].end;
			mt_inc(&p);
			top = b->bn[top].parent;
			mt_emit(iv, &cnt, &p, top);
		}
		mt_emit(iv, &cnt, &b->bn[i].start, i);
		b->bn[i].parent = top;
		top = i;
	}
	while (top != MT_NONE && !mt_is_max(&b->bn[top].end)) {
		p = b->bn[top].end;
		mt_inc(&p);
		top = b->bn[top].parent;
		mt_emit(iv, &cnt, &p, top);
	}
	return cnt;
}

static int mt_cmp_ent(const void *pa, const void *pb)
{
	const struct mt_ent *a = pa, *b = pb;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/*
 * Binary heaps of entry indices for the port sweep: by end port (@byhi) or
 * by (width, id) key.
 */
static inline bool mt_hless(const struct mt_ent *e, u32 x, u32 y, bool byhi)
{
	return byhi ? e[x].hi < e[y].hi : e[x].key < e[y].key;
}

static void mt_hpush(const struct mt_ent *e, u32 *h, u32 *n, u32 x, bool byhi)
{
	u32 i = (*n)++, p;

	while (i) {
		p = (i - 1) / 2;
		if (!mt_hless(e, x, h[p], byhi))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = x;
}

static u32 mt_hpop(const struct mt_ent *e, u32 *h, u32 *n, bool byhi)
{
	u32 top = h[0], x = h[--(*n)], i = 0, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && mt_hless(e, h[c + 1], h[c], byhi))
			c++;
		if (!mt_hless(e, h[c], x, byhi))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = x;
	return top;
}

static u32 mt_hash_list(const u32 *l, u32 n, u32 term)
{
	u32 h = 0x811c9dc5 ^ n, i;

	h = (h ^ term) * 0x01000193;
	for (i = 0; i < n; i++) {
		h = (h ^ l[i]) * 0x01000193;
		h ^= h >> 15;
	}
	return h | 1;
}

/* Grows the list hash table (at least doubling it). */
static int mt_ht_grow(struct mt_build *b)
{
	struct mt_hslot *old = b->ht, *nh;
	u32 ocap = b->htcap, ncap = ocap ? ocap * 2 : 1024, i, h;

	if ((size_t)ncap * sizeof(*nh) > MT_MAX_BYTES / 2) {
		b->err = "compiled table too large (candidate lists)";
		return -E2BIG;
	}
	nh = mt_balloc(b, (size_t)ncap * sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	memset(nh, 0, (size_t)ncap * sizeof(*nh));
	for (i = 0; i < ocap; i++) {
		if (!old[i].list)
			continue;
		for (h = old[i].hash & (ncap - 1); nh[h].list;
		     h = (h + 1) & (ncap - 1))
			;
		nh[h] = old[i];
	}
	mt_bfree(b, old);
	b->ht = nh;
	b->htcap = ncap;
	return 0;
}

/*
 * The list of rules @l[0..n) (restricted to sources, best first) followed by
 * @term (a rule without source restriction, MT_END or MT_CONT), stored once:
 * returns its offset in b->lst (> 0) in *out.
 */
int mt_intern(struct mt_build *b, const u32 *l, u32 n, u32 term, u32 *out)
{
	u32 h, i, *p;
	int ret;

	if (2 * (b->htn + 1) > b->htcap) {
		ret = mt_ht_grow(b);
		if (ret)
			return ret;
	}
	ret = mt_charge(b, n + 1);
	if (ret)
		return ret;
	h = mt_hash_list(l, n, term);
	for (i = h & (b->htcap - 1); b->ht[i].list; i = (i + 1) & (b->htcap - 1)) {
		if (b->ht[i].hash != h)
			continue;
		p = (u32 *)b->lst.p + b->ht[i].list;
		if (p[0] == n && p[1] == term &&
		    (!n || !memcmp(p + 2, l, (size_t)n * sizeof(*l)))) {
			*out = b->ht[i].list;
			return 0;
		}
	}
	ret = mt_vgrow(b, &b->lst, n + 2, sizeof(u32));
	if (ret)
		return ret;
	p = (u32 *)b->lst.p + b->lst.n;
	p[0] = n;
	p[1] = term;
	if (n)
		memcpy(p + 2, l, (size_t)n * sizeof(*l));
	*out = b->lst.n;
	b->lst.n += n + 2;
	b->ht[i].list = *out;
	b->ht[i].hash = h;
	b->htn++;
	return 0;
}

/*
 * Own port segments of node @node for protocol bit @proto: a sweep over its
 * (rule, range) entries sorted by low port. At each boundary the candidates
 * are the entries covering the port in (width, id) order, each rule once;
 * only those before the first rule without source restriction (the
 * default) can ever be chosen, and only they are collected, so the work is
 * bounded by the size of the lists produced. Heaps: every active entry by
 * end (next boundary), unrestricted ones by key (the default), restricted
 * ones by key (the list); expired entries leave the key heaps lazily.
 * Output: b->oseg triples (start, offset in b->olst or MT_NONE, default or
 * MT_END); an own list is (count, rules...).
 */
int mt_own_segs(struct mt_build *b, u32 node, u32 proto)
{
	const struct mt_bnode *bn = &b->bn[node];
	struct mt_ent *e = b->ent;
	const struct mt_rule *r;
	u32 m = 0, i, j, pos = 0, p = 0, next, c, def, ne = 0, nu = 0, nr = 0;
	u32 nt, rule, *s;
	int ret;

	b->oseg.n = 0;
	b->olst.n = 0;
	for (i = 0; i < bn->ndst; i++) {
		rule = b->dst[bn->dst + i].rule;
		r = &b->rules[rule];
		if (!(r->protos & proto))
			continue;
		for (j = 0; j < r->n_ports; j++) {
			e[m].lo = r->ports[j].lo;
			e[m].hi = r->ports[j].hi;
			e[m].key = (u64)(e[m].hi - e[m].lo) << 32 | r->id;
			e[m].rule = rule;
			e[m].restricted = r->n_src != 0;
			m++;
		}
	}
	if (m > 16) {
		mt_sort(e, m, sizeof(*e), mt_cmp_ent);
	} else {
		for (i = 1; i < m; i++) {
			struct mt_ent x = e[i];

			for (j = i; j && e[j - 1].lo > x.lo; j--)
				e[j] = e[j - 1];
			e[j] = x;
		}
	}
	for (;;) {
		for (; pos < m && e[pos].lo <= p; pos++) {
			mt_hpush(e, b->hpe, &ne, pos, true);
			if (e[pos].restricted)
				mt_hpush(e, b->hpr, &nr, pos, false);
			else
				mt_hpush(e, b->hpu, &nu, pos, false);
		}
		while (ne && e[b->hpe[0]].hi < p)
			mt_hpop(e, b->hpe, &ne, true);
		while (nu && e[b->hpu[0]].hi < p)
			mt_hpop(e, b->hpu, &nu, false);
		def = nu ? b->hpu[0] : MT_NONE;
		/* restricted entries better than the default, in order */
		nt = 0;
		while (nr) {
			i = b->hpr[0];
			if (e[i].hi < p) {
				mt_hpop(e, b->hpr, &nr, false);
				continue;
			}
			if (def != MT_NONE && e[i].key > e[def].key)
				break;
			b->tmp[nt++] = mt_hpop(e, b->hpr, &nr, false);
		}
		b->gen++;
		ret = mt_vgrow(b, &b->olst, nt + 1, sizeof(u32));
		if (!ret)
			ret = mt_vgrow(b, &b->oseg, 3, sizeof(u32));
		if (!ret)
			ret = mt_charge(b, nt + 1);
		if (ret)
			return ret;
		s = (u32 *)b->oseg.p + b->oseg.n;
		s[0] = p;
		s[1] = MT_NONE;
		s[2] = def == MT_NONE ? MT_END : e[def].rule;
		b->oseg.n += 3;
		if (nt) {
			u32 *l = (u32 *)b->olst.p + b->olst.n;

			s[1] = b->olst.n;
			for (i = 0, c = 0; i < nt; i++) {
				rule = e[b->tmp[i]].rule;
				mt_hpush(e, b->hpr, &nr, b->tmp[i], false);
				if (b->stamp[rule] == b->gen)
					continue;
				b->stamp[rule] = b->gen;
				l[1 + c++] = rule;
			}
			l[0] = c;
			b->olst.n += c + 1;
		}
		next = pos < m ? e[pos].lo : MT_NPORTS;
		if (ne && e[b->hpe[0]].hi + 1 < next)
			next = e[b->hpe[0]].hi + 1;
		if (next >= MT_NPORTS)
			break;
		p = next;
	}
	return 0;
}
