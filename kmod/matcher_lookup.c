// SPDX-License-Identifier: GPL-2.0
/*
 * Intercept matcher: the lookup, on the packet path. The destination address
 * picks a prefix node, the port its cell (a rule, no match, a source map or
 * the node's parent to continue in), a source map the rule. Reads a compiled
 * table (matcher_int.h) and nothing else: no locks, allocations or recursion.
 */
#include "matcher.h"
#include "matcher_int.h"

static __always_inline u32 mt_map32(const struct mt_table *t,
				    const struct mt_map *m, u32 key)
{
	const struct mt_kv32 *kv = t->kv32 + m->iv;
	const struct mt_dn32 *dn;
	u32 lo = 0, hi = m->n - 1, n, half, d = m->dir, e, w;

	while (d != MT_NONE) {
		dn = &t->dn32[d];
		if (key < dn->lo)
			return kv[dn->before].val;
		e = t->dent[dn->ent + mt_bkt32(dn, key)];
		if (!(e & MT_CHILD)) {
			lo = e & MT_IDX;
			w = e >> MT_WSHIFT;
			if (unlikely(w == MT_WMAX)) {
				w = dn->win;
				if (w > hi - lo)
					w = hi - lo;
			}
			hi = lo + w;
			break;
		}
		d = e & ~MT_CHILD;
	}
	/* last interval starting at or below key in [lo, hi] */
	for (n = hi - lo + 1; n > 1; n -= half) {
		half = n >> 1;
		if (kv[lo + half].key <= key)
			lo += half;
	}
	return kv[lo].val;
}

static __always_inline u32 mt_map128(const struct mt_table *t,
				     const struct mt_map *m,
				     u64 ah, u64 al)
{
	const struct mt_kv128 *kv = t->kv128 + m->iv;
	const struct mt_dn128 *dn;
	u32 lo = 0, hi = m->n - 1, n, half, d = m->dir, e, w;

	while (d != MT_NONE) {
		dn = &t->dn128[d];
		if (!mt_le(&dn->lo, ah, al))
			return kv[dn->before].val;
		e = t->dent[dn->ent + mt_bkt128(dn, ah, al)];
		if (!(e & MT_CHILD)) {
			lo = e & MT_IDX;
			w = e >> MT_WSHIFT;
			if (unlikely(w == MT_WMAX)) {
				w = dn->win;
				if (w > hi - lo)
					w = hi - lo;
			}
			hi = lo + w;
			break;
		}
		d = e & ~MT_CHILD;
	}
	for (n = hi - lo + 1; n > 1; n -= half) {
		half = n >> 1;
		if (mt_le(&kv[lo + half].key, ah, al))
			lo += half;
	}
	return kv[lo].val;
}

/*
 * The value of elementary source interval @idx in the tree whose root is @v
 * (a child node: no match inside a tree is MT_PEND, so that every value with
 * the top bit set is a child). @sh: shift of the root's digit.
 */
static __always_inline u32 mt_pwalk(const struct mt_table *t, u32 v, u32 sh,
				    u32 idx)
{
	idx <<= 32 - MT_PBITS - sh;
	do {
		v = t->pn[v - MT_SMAP + (idx >> (32 - MT_PBITS))];
		idx <<= MT_PBITS;
	} while ((s32)v < 0);
	return v;
}

/* Resolve a cell to a rule, MT_END or MT_CONT | node through its source map. */
static inline u32 mt_cell(const struct mt_table *t, u32 c,
			  const struct mt_key *k)
{
	const struct mt_smap *s;
	u32 v;

	if (c < MT_SMAP || c == MT_END)
		return c;
	s = &t->smaps[c & ~MT_SMAP];
	if (k->family == 4) {
		if (likely(s->m4.n))
			return mt_map32(t, &s->m4, mt_be32(k->saddr));
		v = s->m4.iv;
		if ((s32)v >= 0)
			return v;
		return mt_pwalk(t, v, t->psh4,
				mt_map32(t, &t->src4, mt_be32(k->saddr)));
	}
	if (likely(s->m6.n))
		return mt_map128(t, &s->m6, mt_be64(k->saddr),
				 mt_be64(k->saddr + 8));
	v = s->m6.iv;
	if ((s32)v >= 0)
		return v;
	return mt_pwalk(t, v, t->psh6,
			mt_map128(t, &t->src6, mt_be64(k->saddr),
				  mt_be64(k->saddr + 8)));
}

s32 mt_lookup(const struct mt_table *t, const struct mt_key *k)
{
	const struct mt_node *n;
	u32 node, c, p;

	if (k->proto == MT_PROTO_TCP)
		p = 0;
	else if (k->proto == MT_PROTO_UDP)
		p = 1;
	else
		return -1;
	if (k->family == 4)
		node = mt_map32(t, &t->dst4, mt_be32(k->daddr));
	else if (k->family == 6)
		node = mt_map128(t, &t->dst6, mt_be64(k->daddr),
				 mt_be64(k->daddr + 8));
	else
		return -1;
	if (node == MT_END)
		return -1;
	n = &t->nodes[node];
	c = mt_cell(t, mt_map32(t, &n->pm[p], k->dport), k);
	while (unlikely(c >= MT_CONT && c < MT_SMAP)) {
		n = &t->nodes[c & ~MT_CONT];
		c = mt_cell(t, mt_map32(t, &n->pm[p], k->dport), k);
	}
	return c >= MT_PEND ? -1 : (s32)c;
}

size_t mt_memory(const struct mt_table *t)
{
	return t ? sizeof(*t) + t->size : 0;
}
