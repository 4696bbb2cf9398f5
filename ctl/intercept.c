// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: the intercept object (add, replace, del, show, flush).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/json.h"
#include "ctl/libsipovl.h"
#include "ctl/parse.h"
#include "ctl/sipovlctl.h"

/* ---- intercept -------------------------------------------------------- */

void print_istats_line(FILE *f, const struct sipovl_istats *s)
{
	fprintf(f, "packets %llu bytes %llu flows %llu drops %llu passes %llu rejects %llu",
		(unsigned long long)s->packets, (unsigned long long)s->bytes,
		(unsigned long long)s->flows, (unsigned long long)s->drops,
		(unsigned long long)s->passes, (unsigned long long)s->rejects);
}

/* "ID: NAME proto P addr L port L [src L] policy P [counters]" */
static void print_intercept_line(const struct ctl *ctl, FILE *f,
				 const struct sipovl_intercept *in)
{
	fprintf(f, "%u: ", in->id);
	print_name_token(f, in->name);
	print_intercept_match(f, in);
	if (ctl->stats) {
		fputc(' ', f);
		print_istats_line(f, &in->stats);
	}
	fputc('\n', f);
}

static int add_or_replace(const struct ctl *ctl, int argc, char **argv, bool replace)
{
	const char *what = replace ? "intercept replace" : "intercept add";
	struct sipovl_intercept in, reply = { 0 };
	struct sipovl_nl *nl;
	struct ctl_err err;
	char q[TOKQ_LEN], nf[SIPOVL_NAME_MAXLEN + 64];
	int rc = 0, ret;

	if (parse_intercept_args(argc, argv, true, &in, &err))
		return parse_err(&err);
	nl = nl_open(&rc);
	if (!nl)
		goto out;
	if (replace) {
		ret = sipovl_intercept_replace(nl, &in);
	} else {
		ret = sipovl_intercept_add(nl, &in, &reply);
	}
	if (ret) {
		if (in.present & SIPOVL_I_ID)
			snprintf(nf, sizeof(nf), "intercept id %u not found", in.id);
		else
			snprintf(nf, sizeof(nf), "intercept %s not found",
				 tokq(q, in.name));
		rc = nl_fail(sipovl_error(nl), what, nf);
	} else if (ctl->json && !replace && (reply.present & SIPOVL_I_ID)) {
		json_emit(stdout, json_intercept(&reply, ctl->stats), ctl->pretty);
	}
	sipovl_close(nl);
out:
	sipovl_intercept_release(&reply);
	sipovl_intercept_release(&in);
	return rc;
}

static int do_intercept_add(const struct ctl *ctl, int argc, char **argv)
{
	return add_or_replace(ctl, argc, argv, false);
}

static int do_intercept_replace(const struct ctl *ctl, int argc, char **argv)
{
	return add_or_replace(ctl, argc, argv, true);
}

static int do_intercept_del(const struct ctl *ctl, int argc, char **argv)
{
	struct sipovl_nl *nl;
	struct selector s;
	int rc = 0;

	(void)ctl;
	if (argc < 1)
		return usage_err("missing intercept NAME or ID");
	if (parse_selector(argv[0], &s) || no_more_args(argc - 1, argv + 1))
		return EXIT_USAGE;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_intercept_del(nl, s.id, s.name))
		rc = nl_fail(sipovl_error(nl), "intercept del", s.desc);
	sipovl_close(nl);
	return rc;
}

int intercept_cmp_id(const void *a, const void *b)
{
	const struct sipovl_intercept *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

void print_intercepts(const struct ctl *ctl, const struct sipovl_intercept *v,
		      size_t n, bool config)
{
	struct json_stream js;
	size_t i;

	if (ctl->json) {
		json_array_begin(&js, stdout, ctl->pretty);
		for (i = 0; i < n; i++)
			json_array_add(&js, json_intercept(&v[i], ctl->stats));
		json_array_end(&js);
		return;
	}
	for (i = 0; i < n; i++) {
		if (config)
			print_intercept_config(stdout, &v[i]);
		else
			print_intercept_line(ctl, stdout, &v[i]);
	}
}

static int do_intercept_show(const struct ctl *ctl, int argc, char **argv)
{
	struct sipovl_intercept *v = NULL, one;
	bool config = false, have_sel = false;
	double t0;
	struct sipovl_config cfg;
	struct sipovl_nl *nl;
	struct selector s;
	size_t n = 0;
	int i, rc = 0;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--config")) {
			config = true;
			continue;
		}
		if (have_sel)
			return no_more_args(1, &argv[i]);
		if (parse_selector(argv[i], &s))
			return EXIT_USAGE;
		have_sel = true;
	}
	if (config && ctl->json)
		return usage_err("--config and -j are mutually exclusive");

	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (have_sel) {
		if (sipovl_intercept_get(nl, s.id, s.name, &one)) {
			rc = nl_fail(sipovl_error(nl), "intercept show", s.desc);
			goto out;
		}
		print_intercepts(ctl, &one, 1, config);
		sipovl_intercept_release(&one);
		goto out;
	}
	if (config) {
		/* The whole apply file: sources first, then the intercepts. */
		if (sipovl_config_get(nl, &cfg)) {
			rc = nl_fail(sipovl_error(nl), "intercept show", NULL);
			goto out;
		}
		print_sources_config(stdout, cfg.sources, cfg.n_sources);
		sipovl_config_release(&cfg);
	}
	t0 = now_ms();
	if (sipovl_intercept_dump(nl, &v, &n)) {
		rc = nl_fail(sipovl_error(nl), "intercept show", NULL);
		goto out;
	}
	if (getenv("SIPOVLCTL_TIMING"))
		fprintf(stderr, "sipovlctl: timing: dump of %zu intercepts: %.1f ms, %u restarts\n",
			n, now_ms() - t0, sipovl_error(nl)->restarts);
	/* The kernel dumps in id order; sort anyway so output is stable. */
	if (n > 1)
		qsort(v, n, sizeof(*v), intercept_cmp_id);
	print_intercepts(ctl, v, n, config);
	sipovl_intercepts_free(v, n);
out:
	sipovl_close(nl);
	return rc;
}

static int do_intercept_flush(const struct ctl *ctl, int argc, char **argv)
{
	struct sipovl_nl *nl;
	int rc = no_more_args(argc, argv);

	(void)ctl;
	if (rc)
		return rc;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_intercept_flush(nl))
		rc = nl_fail(sipovl_error(nl), "intercept flush", NULL);
	sipovl_close(nl);
	return rc;
}


const struct cmd intercept_cmds[] = {
	{ "add", NULL, do_intercept_add,
	  "add NAME [id ID] proto PROTOS addr PREFIXES port PORTS [src PREFIXES] [policy drop|pass|reject]",
	  "Adds an intercept. PROTOS is tcp, udp or tcp,udp; PREFIXES a comma-separated\n"
	  "list of IPv4/IPv6 prefixes (host bits zero; a bare address is a host prefix);\n"
	  "PORTS a comma-separated list of PORT or LOW-HIGH (0-65535). src restricts the\n"
	  "clients allowed to match. policy is what happens when no sipovld socket can\n"
	  "take the flow: drop (default, fail-closed), pass (fail-open) or reject\n"
	  "(fail-closed, failing fast: a TCP RST or an ICMP port unreachable).\n"
	  "Without id the kernel picks the lowest free id. NAME: 1-63 bytes of UTF-8,\n"
	  "not all digits, not starting with \"-\".\n"
	  "  sipovlctl intercept add sip-eu proto udp,tcp addr 10.2.0.0/16,fd00:2::/48 port 5060-5061\n" },
	{ "replace", "change", do_intercept_replace,
	  "replace NAME [id ID] proto PROTOS addr PREFIXES port PORTS [src PREFIXES] [policy drop|pass|reject]",
	  "Replaces the intercept with the given id (it may be renamed), or with\n"
	  "NAME when no id is given. Counters are kept. Arguments as for add.\n" },
	{ "del", "delete", do_intercept_del, "del NAME|ID",
	  "Deletes one intercept, by name or by id (an all-digit argument is an id).\n" },
	{ "show", "list", do_intercept_show, "show [NAME|ID] [--config]",
	  "Prints intercepts, one per line, sorted by id. -s adds counters, -j prints\n"
	  "JSON. --config prints the apply-file format (sipovlctl-config.md): a\n"
	  "\"sources\" line, then one \"intercept\" line per intercept; feeding it to\n"
	  "'sipovlctl apply' restores the same table.\n" },
	{ "flush", NULL, do_intercept_flush, "flush",
	  "Removes every intercept.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};
