// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the apply-file parser. Besides memory safety (ASan,
 * UBSan) it checks the round trip: every accepted file, printed in canonical
 * form, parses again to the same canonical text.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/parse.h"

static char *canon(const struct ctl_config *cfg, size_t *len)
{
	char *buf = NULL;
	size_t i;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		abort();
	if (cfg->has_sources)
		print_sources_config(f, cfg->sources, cfg->n_sources);
	for (i = 0; i < cfg->n; i++)
		print_intercept_config(f, &cfg->v[i]);
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct ctl_config a, b;
	struct ctl_err err;
	char *ta, *tb;
	size_t la, lb;

	if (size > 1 << 16)
		return 0;
	if (parse_config_mem((const char *)data, size, "fuzz", &a, &err))
		return 0;
	ta = canon(&a, &la);
	if (parse_config_mem(ta, la, "canon", &b, &err)) {
		fprintf(stderr, "canonical text rejected: %s\n%s", err.msg, ta);
		abort();
	}
	tb = canon(&b, &lb);
	if (la != lb || memcmp(ta, tb, la)) {
		fprintf(stderr, "round trip differs:\n%s---\n%s", ta, tb);
		abort();
	}
	free(ta);
	free(tb);
	ctl_config_release(&a);
	ctl_config_release(&b);
	return 0;
}
