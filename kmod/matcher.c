// SPDX-License-Identifier: GPL-2.0
/*
 * Intercept matcher: compiles rules into an immutable lookup structure whose
 * lookup cost does not grow with the table. The algorithm, its costs and its
 * limits are described in Documentation/matcher.md.
 *
 * Addresses are handled as 128-bit numbers (hi, lo). An IPv4 address a is
 * stored as hi = a << 32, lo = 0, so that a prefix of length len covers the
 * same top len bits in both families and one set of helpers serves both.
 *
 * This file: the compile's allocations, validation of the rules, the prefix
 * nodes, the driver and the packing of the table, and freeing a table. The
 * rest of the compile is in matcher_list.c (candidate lists), matcher_maps.c
 * (port, source and destination maps) and matcher_dir.c (directories of the
 * maps), the lookup in matcher_lookup.c; what they share is in
 * matcher_int.h and matcher_build.h.
 */
#include "matcher.h"
#include "matcher_int.h"
#include "matcher_build.h"

/*
 * Every block the compile allocates (scratch and the pools the table keeps)
 * starts with a header holding its size, so that the builder can count the
 * bytes live at any time against its limit (mt_balloc).
 */
#define MT_HDR		16	/* keeps the blocks' 16-byte alignment */

const char mt_err_limit[] = "compile over its memory limit";

/* Frees a pool of a compiled table (allocated by mt_balloc). */
static void mt_pfree(const void *p)
{
	if (p)
		mt_free((const char *)p - MT_HDR);
}

void mt_destroy(struct mt_table *t)
{
	if (!t)
		return;
	mt_pfree(t->nodes);
	mt_pfree(t->smaps);
	mt_pfree(t->kv32);
	mt_pfree(t->kv128);
	mt_pfree(t->dn32);
	mt_pfree(t->dn128);
	mt_pfree(t->dent);
	mt_pfree(t->pn);
	mt_free(t);
}

/* ------------------------------------------------------------------ */
/* Compilation                                                         */
/* ------------------------------------------------------------------ */

/* Allocates @size bytes for the compile, within the builder's limit. */
void *mt_balloc(struct mt_build *b, size_t size)
{
	char *p;

	if (b->limit - b->used < MT_HDR || size > b->limit - b->used - MT_HDR) {
		b->over = true;
		b->err = mt_err_limit;
		return NULL;
	}
	p = mt_alloc(size + MT_HDR);
	if (!p)
		return NULL;
	*(size_t *)p = size + MT_HDR;
	b->used += size + MT_HDR;
	return p + MT_HDR;
}

void mt_bfree(struct mt_build *b, const void *p)
{
	const char *h;

	if (!p)
		return;
	h = (const char *)p - MT_HDR;
	b->used -= *(const size_t *)h;
	mt_free(h);
}

void mt_addr_of(const struct mt_prefix *p, struct mt_addr *a)
{
	if (p->family == 4) {
		a->hi = (u64)mt_be32(p->addr) << 32;
		a->lo = 0;
	} else {
		a->hi = mt_be64(p->addr);
		a->lo = mt_be64(p->addr + 8);
	}
}

/* Host part mask of a prefix of length @len (0..128) in the 128-bit space. */
void mt_hostmask(u32 len, struct mt_addr *m)
{
	m->hi = len >= 64 ? 0 : ~0ULL >> len;
	m->lo = len <= 64 ? ~0ULL : len >= 128 ? 0 : ~0ULL >> (len - 64);
}

static int mt_check_prefix(const struct mt_prefix *p, const char **err)
{
	struct mt_addr a, m;

	if (p->family != 4 && p->family != 6) {
		*err = "prefix family must be 4 or 6";
		return -EINVAL;
	}
	if (p->len > (p->family == 4 ? 32 : 128)) {
		*err = "prefix length exceeds the address size";
		return -EINVAL;
	}
	mt_addr_of(p, &a);
	mt_hostmask(p->len, &m);
	if ((a.hi & m.hi) || (a.lo & m.lo)) {
		*err = "prefix has host bits set";
		return -EINVAL;
	}
	return 0;
}

#define MT_LESS_U32(x, y) (*(x) < *(y))
MT_DEFINE_MSORT(mt_msort_u32, u32, MT_LESS_U32)

static int mt_validate(struct mt_build *b, u64 *nent, u32 *maxsrc,
		       u64 *nsrc)
{
	const struct mt_rule *r;
	u32 i, j, *ids;
	int ret;

	*nent = 0;
	*maxsrc = 0;
	*nsrc = 0;
	b->ndst = 0;
	for (i = 0; i < b->n; i++) {
		r = &b->rules[i];
		if (!r->protos || (r->protos & ~(MT_PROTO_TCP | MT_PROTO_UDP))) {
			b->err = "rule protocols must be a non-empty subset of tcp, udp";
			return -EINVAL;
		}
		if ((r->n_dst && !r->dst) || (r->n_ports && !r->ports) ||
		    (r->n_src && !r->src)) {
			b->err = "rule has a NULL prefix or port array";
			return -EINVAL;
		}
		for (j = 0; j < r->n_dst; j++) {
			ret = mt_check_prefix(&r->dst[j], &b->err);
			if (ret)
				return ret;
		}
		for (j = 0; j < r->n_src; j++) {
			ret = mt_check_prefix(&r->src[j], &b->err);
			if (ret)
				return ret;
		}
		for (j = 0; j < r->n_ports; j++) {
			if (r->ports[j].lo > r->ports[j].hi) {
				b->err = "port range has low > high";
				return -EINVAL;
			}
		}
		if (!r->n_ports)
			continue;
		*nent += (u64)r->n_dst * r->n_ports;
		if (*nent > MT_MAX_ENTRIES) {
			b->err = "too many destination x port range combinations";
			return -E2BIG;
		}
		b->ndst += r->n_dst;
		*nsrc += r->n_src;
		if (r->n_src > *maxsrc)
			*maxsrc = r->n_src;
	}
	if (*nsrc > MT_MAX_ENTRIES) {
		b->err = "too many source prefixes";
		return -E2BIG;
	}

	/* Rule ids must be unique. */
	ids = mt_balloc(b, (size_t)b->n * 2 * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < b->n; i++)
		ids[i] = b->rules[i].id;
	mt_msort_u32(ids, ids + b->n, b->n);
	ret = 0;
	for (i = 1; i < b->n; i++) {
		if (ids[i] == ids[i - 1]) {
			b->err = "duplicate rule id";
			ret = -EINVAL;
			break;
		}
	}
	mt_bfree(b, ids);
	return ret;
}

static inline int mt_cmp_dst(const struct mt_dst *a, const struct mt_dst *b)
{
	int c;

	if (a->fam != b->fam)
		return a->fam < b->fam ? -1 : 1;
	c = mt_cmp_addr(&a->a, &b->a);
	if (c)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

#define MT_LESS_DST(x, y) (mt_cmp_dst(x, y) < 0)
MT_DEFINE_MSORT(mt_msort_dst, struct mt_dst, MT_LESS_DST)

/*
 * IPv4 destinations: a stable LSD radix sort on (address, length), three
 * passes of 16 bits, instead of the merge sort's log2(n) passes of
 * comparisons. Entries come in rule order, and stability keeps it among equal
 * keys: the same order as mt_cmp_dst.
 */
#define MT_RADIX 65536

static inline u32 mt_digit4(const struct mt_dst *d, u32 pass)
{
	u64 key = (d->a.hi >> 32) << 8 | d->len;	/* 40 bits */

	return (u32)(key >> (16 * pass)) & (MT_RADIX - 1);
}

static int mt_rsort_dst4(struct mt_build *b, struct mt_dst *a,
			 struct mt_dst *tmp, u32 n)
{
	struct mt_dst *src = a, *dst = tmp, *t;
	u32 *cnt, pass, i, c, sum;

	cnt = mt_balloc(b, MT_RADIX * sizeof(*cnt));
	if (!cnt)
		return -ENOMEM;
	for (pass = 0; pass < 3; pass++) {
		memset(cnt, 0, MT_RADIX * sizeof(*cnt));
		for (i = 0; i < n; i++)
			cnt[mt_digit4(&src[i], pass)]++;
		for (i = 0, sum = 0; i < MT_RADIX; i++) {
			c = cnt[i];
			cnt[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[cnt[mt_digit4(&src[i], pass)]++] = src[i];
		t = src;
		src = dst;
		dst = t;
		mt_resched();
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof(*a));
	mt_bfree(b, cnt);
	return 0;
}

static void mt_fill_dst(struct mt_build *b, u8 fam, u32 *k)
{
	const struct mt_rule *r;
	struct mt_dst *d;
	u32 i, j;

	for (i = 0; i < b->n; i++) {
		r = &b->rules[i];
		if (!r->n_ports)
			continue;
		for (j = 0; j < r->n_dst; j++) {
			if (r->dst[j].family != fam)
				continue;
			d = &b->dst[(*k)++];
			mt_addr_of(&r->dst[j], &d->a);
			d->fam = fam;
			d->len = r->dst[j].len;
			d->rule = i;
		}
	}
}

/* Collect destination prefixes, sort them and make one node per distinct one. */
static int mt_make_nodes(struct mt_build *b)
{
	struct mt_dst *d, *tmp;
	struct mt_bnode *n;
	struct mt_addr m;
	u32 i, j, k, g, n4;

	b->dst = mt_balloc(b, (size_t)b->ndst * sizeof(*b->dst));
	tmp = mt_balloc(b, (size_t)b->ndst * sizeof(*tmp));
	if (!b->dst || !tmp) {
		mt_bfree(b, tmp);
		return -ENOMEM;
	}
	/* IPv4 first (family 4 < 6), each in rule order. */
	k = 0;
	mt_fill_dst(b, 4, &k);
	n4 = k;
	mt_fill_dst(b, 6, &k);
	if (n4 >= 1024) {
		if (mt_rsort_dst4(b, b->dst, tmp, n4)) {
			mt_bfree(b, tmp);
			return -ENOMEM;
		}
	} else {
		mt_msort_dst(b->dst, tmp, n4);
	}
	mt_msort_dst(b->dst + n4, tmp, k - n4);
	mt_bfree(b, tmp);

	b->nnode = 0;
	for (i = 0; i < b->ndst; i++) {
		if (!i || b->dst[i].fam != b->dst[i - 1].fam ||
		    b->dst[i].len != b->dst[i - 1].len ||
		    mt_cmp_addr(&b->dst[i].a, &b->dst[i - 1].a))
			b->nnode++;
	}
	b->bn = mt_balloc(b, (size_t)b->nnode * sizeof(*b->bn));
	if (!b->bn)
		return -ENOMEM;

	b->nnode4 = 0;
	b->maxg = 1;
	k = 0;
	for (i = 0; i < b->ndst; i = j) {
		d = &b->dst[i];
		g = 0;
		for (j = i; j < b->ndst; j++) {
			if (b->dst[j].fam != d->fam || b->dst[j].len != d->len ||
			    mt_cmp_addr(&b->dst[j].a, &d->a))
				break;
			g += b->rules[b->dst[j].rule].n_ports;
		}
		n = &b->bn[k++];
		n->start = d->a;
		mt_hostmask(d->len, &m);
		n->end.hi = d->a.hi | m.hi;
		n->end.lo = d->a.lo | m.lo;
		n->parent = MT_NONE;
		n->dst = i;
		n->ndst = j - i;
		if (d->fam == 4)
			b->nnode4++;
		if (g > b->maxg)
			b->maxg = g;
	}
	return 0;
}

/* Room for @more elements of @size bytes in @v (doubling). */
int mt_vgrow_slow(struct mt_build *b, struct mt_vec *v, u32 more,
		  size_t size)
{
	u64 need = (u64)v->n + more;
	u32 cap = v->cap ? v->cap : 64;
	void *p;

	while (cap < need && cap < MT_MAX_POOL)
		cap *= 2;
	if (need > cap || (size_t)cap * size > MT_MAX_BYTES) {
		b->err = "compiled table too large";
		return -E2BIG;
	}
	p = mt_balloc(b, (size_t)cap * size);
	if (!p)
		return -ENOMEM;
	if (v->n)
		memcpy(p, v->p, (size_t)v->n * size);
	mt_bfree(b, v->p);
	v->p = p;
	v->cap = cap;
	return 0;
}

int mt_charge(struct mt_build *b, u64 w)
{
	b->work += w;
	if (b->work > MT_MAX_WORK) {
		b->err = "rules overlap too much: compiled lists too large";
		return -E2BIG;
	}
	return 0;
}

/*
 * Port maps of every node, parents first (nodes are sorted by start, then
 * length). A node that is some node's parent, or whose parent's maps are
 * small, gets complete maps: its own lists continued by its parent's (a
 * parent list longer than MT_CAT_MAX is not copied: MT_CONT | parent).
 * Other nodes (leaves under a parent with large maps) keep only their own
 * lists, ending in MT_CONT | parent where the parent's decide: one hop at
 * lookup instead of a copy of the parent's maps into every leaf.
 */
static int mt_build_nodes(struct mt_build *b)
{
	struct mt_node *nd;
	u32 i, k, pi, par, base, baselist, *cnt = b->lencnt;
	int ret;

	/*
	 * Shorter prefixes first (parents before children): the budget for
	 * copying long lists goes to the few short prefixes that many longer
	 * ones continue in.
	 */
	memset(b->lencnt, 0, sizeof(b->lencnt));
	for (i = 0; i < b->nnode; i++)
		cnt[b->dst[b->bn[i].dst].len + 1]++;
	for (k = 1; k < 130; k++)
		cnt[k] += cnt[k - 1];
	for (i = 0; i < b->nnode; i++)
		b->order[cnt[b->dst[b->bn[i].dst].len]++] = i;
	for (k = 0; k < b->nnode; k++) {
		i = b->order[k];
		par = b->bn[i].parent;
		base = MT_NONE;
		baselist = b->lend;
		if (par != MT_NONE) {
			nd = (struct mt_node *)b->nodes.p + par;
			if (b->inner[i] || b->inner[par] <= MT_COPY_KIDS ||
			    (nd->pm[0].n <= MT_COPY_MAX &&
			     nd->pm[1].n <= MT_COPY_MAX)) {
				base = par;
			} else {
				ret = mt_intern(b, NULL, 0, MT_CONT | par,
						&baselist);
				if (ret)
					return ret;
			}
		}
		for (pi = 0; pi < 2; pi++) {
			ret = mt_own_segs(b, i, pi ? MT_PROTO_UDP : MT_PROTO_TCP);
			if (!ret)
				ret = mt_node_map(b, i, pi, base, baselist);
			if (ret)
				return ret;
		}
		mt_resched();
	}
	return 0;
}

/* Replace the list offsets of the port maps by cells. */
static int mt_make_cells(struct mt_build *b)
{
	const struct mt_node *nd;
	u32 i, pi, j, iv, n, cell;
	int ret;

	b->lcellcap = b->lst.n;
	b->lcell = mt_balloc(b, (size_t)b->lcellcap * sizeof(*b->lcell));
	if (!b->lcell)
		return -ENOMEM;
	memset(b->lcell, 0xff, (size_t)b->lcellcap * sizeof(*b->lcell));
	for (i = 0; i < b->nnode; i++) {
		for (pi = 0; pi < 2; pi++) {
			nd = (const struct mt_node *)b->nodes.p + i;
			iv = nd->pm[pi].iv;
			n = nd->pm[pi].n;
			for (j = 0; j < n; j++) {
				ret = mt_list_cell(b, ((struct mt_kv32 *)
						       b->kv32.p)[iv + j].val,
						   &cell);
				if (ret)
					return ret;
				((struct mt_kv32 *)b->kv32.p)[iv + j].val = cell;
			}
		}
		mt_resched();
	}
	return 0;
}

static size_t mt_vbytes(const struct mt_vec *v, size_t size)
{
	return (size_t)v->cap * size;
}

/* Trim a pool to its size when that saves more than an eighth of it. */
static int mt_vtrim(struct mt_build *b, struct mt_vec *v, size_t size)
{
	void *p;

	if (!v->n || v->cap - v->n <= v->cap / 8)
		return 0;
	p = mt_balloc(b, (size_t)v->n * size);
	if (!p)
		return -ENOMEM;
	memcpy(p, v->p, (size_t)v->n * size);
	mt_bfree(b, v->p);
	v->p = p;
	v->cap = v->n;
	return 0;
}

/* Hand the pools to the table. */
static int mt_pack(struct mt_build *b, struct mt_table *t)
{
	int ret;

	ret = mt_vtrim(b, &b->nodes, sizeof(struct mt_node));
	if (!ret)
		ret = mt_vtrim(b, &b->smaps, sizeof(struct mt_smap));
	if (!ret)
		ret = mt_vtrim(b, &b->kv32, sizeof(struct mt_kv32));
	if (!ret)
		ret = mt_vtrim(b, &b->kv128, sizeof(struct mt_kv128));
	if (!ret)
		ret = mt_vtrim(b, &b->dn32, sizeof(struct mt_dn32));
	if (!ret)
		ret = mt_vtrim(b, &b->dn128, sizeof(struct mt_dn128));
	if (!ret)
		ret = mt_vtrim(b, &b->dent, sizeof(u32));
	if (!ret)
		ret = mt_vtrim(b, &b->pn, sizeof(u32));
	if (ret)
		return ret;
	t->size = mt_vbytes(&b->nodes, sizeof(struct mt_node)) +
		  mt_vbytes(&b->smaps, sizeof(struct mt_smap)) +
		  mt_vbytes(&b->kv32, sizeof(struct mt_kv32)) +
		  mt_vbytes(&b->kv128, sizeof(struct mt_kv128)) +
		  mt_vbytes(&b->dn32, sizeof(struct mt_dn32)) +
		  mt_vbytes(&b->dn128, sizeof(struct mt_dn128)) +
		  mt_vbytes(&b->dent, sizeof(u32)) +
		  mt_vbytes(&b->pn, sizeof(u32));
	if (t->size > MT_MAX_BYTES) {
		b->err = "compiled table too large";
		return -E2BIG;
	}
	t->nodes = b->nodes.p;
	t->smaps = b->smaps.p;
	t->kv32 = b->kv32.p;
	t->kv128 = b->kv128.p;
	t->dn32 = b->dn32.p;
	t->dn128 = b->dn128.p;
	t->dent = b->dent.p;
	t->pn = b->pn.p;
	t->src4 = b->gmap[0];
	t->src6 = b->gmap[1];
	t->psh4 = b->psh[0];
	t->psh6 = b->psh[1];
	b->pn.p = NULL;
	b->nodes.p = NULL;
	b->smaps.p = NULL;
	b->kv32.p = NULL;
	b->kv128.p = NULL;
	b->dn32.p = NULL;
	b->dn128.p = NULL;
	b->dent.p = NULL;
	return 0;
}

static void mt_build_free(struct mt_build *b)
{
	mt_bfree(b, b->stamp);
	mt_bfree(b, b->dst);
	mt_bfree(b, b->bn);
	mt_bfree(b, b->inner);
	mt_bfree(b, b->order);
	mt_bfree(b, b->ent);
	mt_bfree(b, b->hpe);
	mt_bfree(b, b->hpu);
	mt_bfree(b, b->hpr);
	mt_bfree(b, b->tmp);
	mt_bfree(b, b->oseg.p);
	mt_bfree(b, b->olst.p);
	mt_bfree(b, b->cat.p);
	mt_bfree(b, b->lst.p);
	mt_bfree(b, b->ht);
	mt_bfree(b, b->lcell);
	mt_bfree(b, b->nodes.p);
	mt_bfree(b, b->smaps.p);
	mt_bfree(b, b->kv32.p);
	mt_bfree(b, b->kv128.p);
	mt_bfree(b, b->dn32.p);
	mt_bfree(b, b->dn128.p);
	mt_bfree(b, b->dent.p);
	mt_bfree(b, b->pn.p);
	mt_bfree(b, b->sb[0]);
	mt_bfree(b, b->sb[1]);
	mt_bfree(b, b->lpm);
	mt_bfree(b, b->pend.p);
	mt_bfree(b, b->dwork.p);
	mt_bfree(b, b->sit.p);
	mt_bfree(b, b->stk);
	mt_bfree(b, b->iv[0]);
	mt_bfree(b, b->iv[1]);
}

static int mt_do_compile(struct mt_build *b, struct mt_table *t)
{
	u64 nent, nsrc;
	u32 maxsrc, i, k, f, f0, f1;
	size_t g;
	int ret;

	if (b->n > MT_MAX_RULES) {
		b->err = "too many rules";
		return -E2BIG;
	}
	if (b->n && !b->rules) {
		b->err = "rules array is NULL";
		return -EINVAL;
	}
	ret = mt_validate(b, &nent, &maxsrc, &nsrc);
	if (ret)
		return ret;

	b->stamp = mt_balloc(b, ((size_t)b->n + 1) * sizeof(*b->stamp));
	if (!b->stamp)
		return -ENOMEM;
	memset(b->stamp, 0, ((size_t)b->n + 1) * sizeof(*b->stamp));

	ret = mt_make_nodes(b);
	if (ret)
		return ret;
	for (f = 0; f < 2; f++) {
		f0 = f ? b->nnode4 : 0;
		f1 = f ? b->nnode : b->nnode4;
		b->iv[f] = mt_balloc(b, (2 * (size_t)(f1 - f0) + 1) *
				    sizeof(*b->iv[f]));
		if (!b->iv[f])
			return -ENOMEM;
		b->niv[f] = mt_sweep(b, f0, f1, b->iv[f]);
	}
	b->inner = mt_balloc(b, (size_t)b->nnode + 1);
	b->order = mt_balloc(b, ((size_t)b->nnode + 1) * sizeof(*b->order));
	if (!b->inner || !b->order)
		return -ENOMEM;
	memset(b->inner, 0, (size_t)b->nnode + 1);
	for (i = 0; i < b->nnode; i++) {
		k = b->bn[i].parent;
		if (k != MT_NONE && b->inner[k] < 255)
			b->inner[k]++;
	}

	g = b->maxg;
	b->ent = mt_balloc(b, g * sizeof(*b->ent));
	b->hpe = mt_balloc(b, g * sizeof(u32));
	b->hpu = mt_balloc(b, g * sizeof(u32));
	b->hpr = mt_balloc(b, g * sizeof(u32));
	b->tmp = mt_balloc(b, g * sizeof(u32));
	if (!b->ent || !b->hpe || !b->hpu || !b->hpr || !b->tmp)
		return -ENOMEM;
	/* sized for the common case: a few intervals per node and protocol */
	ret = mt_vgrow(b, &b->nodes, b->nnode + 1, sizeof(struct mt_node));
	if (!ret)
		ret = mt_vgrow(b, &b->kv32, 6 * b->nnode + 2 * b->niv[0] + 1,
			       sizeof(struct mt_kv32));
	if (!ret)
		ret = mt_vgrow(b, &b->lst, 3 * b->n + 4, sizeof(u32));
	if (ret)
		return ret;
	b->nodes.n = b->nnode;
	b->lst.n = 1;		/* offset 0 is not a list */
	ret = mt_intern(b, NULL, 0, MT_END, &b->lend);
	if (!ret)
		ret = mt_build_nodes(b);
	if (!ret)
		ret = mt_make_cells(b);
	if (!ret)
		ret = mt_dst_map(b, 0, &t->dst4);
	if (!ret)
		ret = mt_dst_map(b, 1, &t->dst6);
	if (ret)
		return ret;
	return mt_pack(b, t);
}

int mt_compile(const struct mt_rule *rules, u32 n, struct mt_table **out,
	       const char **err)
{
	return mt_compile_limit(rules, n, SIZE_MAX, out, err);
}

int mt_compile_limit(const struct mt_rule *rules, u32 n, size_t limit,
		     struct mt_table **out, const char **err)
{
	struct mt_build *b;
	struct mt_table *t;
	int ret;

	*out = NULL;
	b = mt_alloc(sizeof(*b));
	t = mt_alloc(sizeof(*t));
	if (!b || !t) {
		mt_free(b);
		mt_free(t);
		if (err)
			*err = "out of memory";
		return -ENOMEM;
	}
	memset(b, 0, sizeof(*b));
	memset(t, 0, sizeof(*t));
	b->rules = rules;
	b->n = n;
	b->limit = limit;

	ret = mt_do_compile(b, t);
	mt_build_free(b);
	if (ret && b->over)
		ret = -E2BIG;
	if (ret) {
		if (err)
			*err = b->err ? b->err : ret == -ENOMEM ?
			       "out of memory" : "compile failed";
		mt_free(b);
		mt_destroy(t);
		return ret;
	}
	mt_free(b);
	*out = t;
	return 0;
}
