// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: the stats object (show, reset).
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

/* ---- stats ------------------------------------------------------------ */

static void print_stats_line(const struct sipovl_stats *s)
{
	printf("global: lookups %llu steered %llu passed %llu dropped %llu errors %llu replies %llu src_denied %llu rejected %llu icmp_errors %llu\n",
	       (unsigned long long)s->lookups, (unsigned long long)s->steered,
	       (unsigned long long)s->passed, (unsigned long long)s->dropped,
	       (unsigned long long)s->errors, (unsigned long long)s->replies,
	       (unsigned long long)s->src_denied, (unsigned long long)s->rejected,
	       (unsigned long long)s->icmp_errors);
	/* A module older than the per-reason counters does not send them. */
	if (s->has_drops)
		printf("drops: no_socket %llu not_new %llu martian %llu local_src %llu rp_filter %llu src_denied %llu malformed %llu\n",
		       (unsigned long long)s->drops.no_socket, (unsigned long long)s->drops.not_new,
		       (unsigned long long)s->drops.martian, (unsigned long long)s->drops.local_src,
		       (unsigned long long)s->drops.rp_filter, (unsigned long long)s->src_denied,
		       (unsigned long long)s->malformed);
}

static void print_intercept_stats(const struct sipovl_intercept *in)
{
	printf("intercept %u ", in->id);
	print_name_token(stdout, in->name);
	fputs(": ", stdout);
	print_istats_line(stdout, &in->stats);
	fputc('\n', stdout);
}

static struct json_object *json_intercept_stats(const struct sipovl_intercept *in)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_uint64(in->id));
	json_object_object_add(o, "name", json_name(in->name));
	json_object_object_add(o, "stats", json_istats(&in->stats));
	return o;
}

static int do_stats_show(const struct ctl *ctl, int argc, char **argv)
{
	struct sipovl_intercept *v = NULL, one;
	struct sipovl_stats st;
	struct sipovl_nl *nl;
	struct selector s;
	size_t n = 0, i;
	int rc = 0;

	if (argc > 0 && (parse_selector(argv[0], &s) ||
			 no_more_args(argc - 1, argv + 1)))
		return EXIT_USAGE;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (argc > 0) {
		if (sipovl_intercept_get(nl, s.id, s.name, &one)) {
			rc = nl_fail(sipovl_error(nl), "stats", s.desc);
			goto out;
		}
		if (ctl->json)
			json_emit(stdout, json_intercept_stats(&one), ctl->pretty);
		else
			print_intercept_stats(&one);
		sipovl_intercept_release(&one);
		goto out;
	}
	if (sipovl_stats_get(nl, false, &st)) {
		rc = nl_fail(sipovl_error(nl), "stats", NULL);
		goto out;
	}
	if (sipovl_intercept_dump(nl, &v, &n)) {
		rc = nl_fail(sipovl_error(nl), "stats", NULL);
		goto out;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), intercept_cmp_id);
	if (ctl->json) {
		struct json_object *o = json_object_new_object();
		struct json_object *a = json_object_new_array_ext((int)n);

		json_object_object_add(o, "global", json_stats(&st));
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_intercept_stats(&v[i]));
		json_object_object_add(o, "intercepts", a);
		json_emit(stdout, o, ctl->pretty);
	} else {
		print_stats_line(&st);
		for (i = 0; i < n; i++)
			print_intercept_stats(&v[i]);
	}
	sipovl_intercepts_free(v, n);
out:
	sipovl_close(nl);
	return rc;
}

static int do_stats_reset(const struct ctl *ctl, int argc, char **argv)
{
	struct sipovl_stats st;
	struct sipovl_nl *nl;
	int rc = no_more_args(argc, argv);

	if (rc)
		return rc;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_stats_get(nl, true, &st))
		rc = nl_fail(sipovl_error(nl), "stats reset", NULL);
	else if (ctl->json)
		json_emit(stdout, json_stats(&st), ctl->pretty);
	sipovl_close(nl);
	return rc;
}


const struct cmd stats_cmds[] = {
	{ "show", NULL, do_stats_show, "show [NAME|ID]",
	  "Prints the global counters and those of every intercept, or of one.\n"
	  "'stats NAME' is short for 'stats show NAME'.\n" },
	{ "reset", NULL, do_stats_reset, "reset",
	  "Zeroes all counters (global and per intercept); with -j prints the global\n"
	  "counters read just before.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};
