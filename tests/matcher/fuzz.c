// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the input drives the random generator of gen.h to build a
 * table (sometimes deliberately malformed) and packets; mt_compile must
 * accept exactly the valid tables and every lookup must agree with the
 * reference matcher.
 *
 *   clang -fsanitize=fuzzer,address,undefined ... tests/matcher/fuzz.c
 */
#include <stdio.h>
#include <stdlib.h>

#include "kmod/matcher.h"
#include "ref.h"
#include "gen.h"
#include "shapes.h"

static void corrupt(struct gsrc *g, struct gtable *t)
{
	struct mt_rule *r;
	struct mt_prefix *p;

	if (!t->n)
		return;
	r = &t->r[g_below(g, t->n)];
	switch (g_below(g, 6)) {
	case 0:
		p = (struct mt_prefix *)&r->dst[g_below(g, r->n_dst)];
		p->len = (u8)(p->len + g_below(g, 200));
		break;
	case 1:
		p = (struct mt_prefix *)&r->dst[g_below(g, r->n_dst)];
		p->addr[g_below(g, 16)] ^= (u8)(1 << g_below(g, 8));
		break;
	case 2:
		p = (struct mt_prefix *)&r->dst[g_below(g, r->n_dst)];
		p->family = (u8)g_u8(g);
		break;
	case 3:
		((struct mt_portrange *)r->ports)[0].lo = (u16)g_u32(g);
		break;
	case 4:
		r->protos = (u8)g_u8(g);
		break;
	default:
		r->id = t->r[g_below(g, t->n)].id;
		break;
	}
}

/* An adversarial shape (shapes.h) picked and seeded by the input. */
static void fuzz_shape(struct gsrc *g)
{
	struct sh_table st;
	struct mt_table *mt;
	const char *err = NULL;
	struct mt_key k;
	u8 sa[16], da[16];
	int kind = (int)g_below(g, SH_N), v6 = (int)g_below(g, 2);
	u32 n = g_below(g, 400), i;
	u64 s = (u64)g_u32(g) << 32 | g_u32(g);
	s32 got, want;

	if (sh_table(&s, &st, kind, v6, n))
		return;
	if (mt_compile(st.r, st.n, &mt, &err)) {
		fprintf(stderr, "shape %s rejected: %s\n", sh_names[kind], err);
		abort();
	}
	for (i = 0; i < 256; i++) {
		sh_key(&s, &st, &k, sa, da);
		got = mt_lookup(mt, &k);
		want = ref_lookup(st.r, st.n, &k);
		if (got != want) {
			fprintf(stderr, "shape %s n=%u lookup %u: matcher %d, reference %d\n",
				sh_names[kind], n, i, got, want);
			abort();
		}
	}
	mt_destroy(mt);
	sh_free(&st);
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct gsrc g = { .buf = data, .len = size };
	struct gtable t;
	struct mt_table *mt = NULL;
	const char *err = NULL;
	struct mt_key k;
	u8 sa[16], da[16], flags;
	u32 n, i;
	int ret;
	s32 got, want;

	if (size < 2)
		return 0;
	flags = g_u8(&g);
	if ((flags & 0x18) == 0x18) {
		fuzz_shape(&g);
		return 0;
	}
	n = g_below(&g, 48);
	if (g_table(&g, &t, n))
		return 0;
	if ((flags & 7) == 0)
		corrupt(&g, &t);
	ret = mt_compile(t.r, t.n, &mt, &err);
	if (ref_invalid(t.r, t.n)) {
		if (ret != -EINVAL || mt || !err) {
			fprintf(stderr, "invalid table: mt_compile = %d\n", ret);
			abort();
		}
		g_free(&t);
		return 0;
	}
	if (ret || !mt) {
		fprintf(stderr, "valid table rejected: %d (%s)\n", ret, err);
		abort();
	}
	for (i = 0; i < 256 && (i < 4 || g.pos < g.len); i++) {
		g_key(&g, &t, &k, sa, da);
		got = mt_lookup(mt, &k);
		want = ref_lookup(t.r, t.n, &k);
		if (got != want) {
			fprintf(stderr, "lookup %u: matcher %d, reference %d\n",
				i, got, want);
			abort();
		}
	}
	mt_destroy(mt);
	g_free(&t);
	return 0;
}
