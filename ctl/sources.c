// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: the sources object: transparent source ranges.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/json.h"
#include "ctl/libsipovl.h"
#include "ctl/parse.h"
#include "ctl/sipovlctl.h"

/* ---- sources ---------------------------------------------------------- */

static int do_sources_show(const struct ctl *ctl, int argc, char **argv)
{
	struct sipovl_config cfg;
	struct sipovl_nl *nl;
	char buf[PREFIX_STRLEN];
	int rc = no_more_args(argc, argv);
	uint32_t i;

	if (rc)
		return rc;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_config_get(nl, &cfg)) {
		rc = nl_fail(sipovl_error(nl), "sources show", NULL);
	} else {
		if (ctl->json)
			json_emit(stdout, json_prefixes(cfg.sources, cfg.n_sources),
				  ctl->pretty);
		else
			for (i = 0; i < cfg.n_sources; i++)
				printf("%s\n", fmt_prefix(buf, &cfg.sources[i]));
		sipovl_config_release(&cfg);
	}
	sipovl_close(nl);
	return rc;
}

static int sources_set(const struct sipovl_prefix *v, uint32_t n, const char *what)
{
	struct sipovl_nl *nl;
	int rc = 0;

	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_sources_set(nl, v, n))
		rc = nl_fail(sipovl_error(nl), what, NULL);
	sipovl_close(nl);
	return rc;
}

static int do_sources_set(const struct ctl *ctl, int argc, char **argv)
{
	struct sipovl_prefix *v;
	struct ctl_err err;
	uint32_t n;
	int rc;

	(void)ctl;
	if (argc < 1)
		return usage_err("missing PREFIX[,PREFIX...]");
	if (no_more_args(argc - 1, argv + 1))
		return EXIT_USAGE;
	if (parse_prefix_list(argv[0], "transparent source",
			      SIPOVL_MAX_TRANSPARENT_SOURCES, &v, &n, &err))
		return parse_err(&err);
	rc = sources_set(v, n, "sources set");
	free(v);
	return rc;
}

static int do_sources_flush(const struct ctl *ctl, int argc, char **argv)
{
	int rc = no_more_args(argc, argv);

	(void)ctl;
	return rc ? rc : sources_set(NULL, 0, "sources flush");
}


const struct cmd sources_cmds[] = {
	{ "show", "list", do_sources_show, "show",
	  "Prints the transparent source ranges, one per line.\n" },
	{ "set", NULL, do_sources_set, "set PREFIX[,PREFIX...]",
	  "Replaces the transparent source ranges: the addresses sipovld may use as\n"
	  "the source of connections it originates.\n" },
	{ "flush", NULL, do_sources_flush, "flush",
	  "Removes every transparent source range.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};
