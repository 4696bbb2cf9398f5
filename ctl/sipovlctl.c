// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: the administrator's command line for sipovl.ko.
 *
 *   sipovlctl [OPTIONS] OBJECT [COMMAND [ARGS]]
 *
 * This file parses the options, finds the object and command, and prints the
 * help; each object's commands are in their own file (ctl/sipovlctl.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/libsipovl.h"
#include "ctl/parse.h"
#include "ctl/sipovlctl.h"

#ifndef SIPOVL_VERSION_STR
#define SIPOVL_VERSION_STR "0.1"
#endif

const char ctl_prog[] = "sipovlctl";

/* ---- help ------------------------------------------------------------- */

struct object {
	const char *name;
	const struct cmd *cmds;
	const char *defcmd;		/* command when none is given */
	const char *summary;
};

static const struct object objects[];

static void print_object_help(const struct object *o)
{
	const struct cmd *c;

	printf("Usage: %s [OPTIONS] %s", ctl_prog, o->name);
	if (o->cmds[0].name && o->cmds[1].name)
		printf(" { ");
	else
		printf(" ");
	for (c = o->cmds; c->name; c++)
		printf("%s%s", c == o->cmds ? "" : " | ", c->name);
	printf("%s\n\n%s\n\n", o->cmds[1].name ? " }" : "", o->summary);
	for (c = o->cmds; c->name; c++)
		printf("  %s %s\n", o->name, c->synopsis);
	printf("\n'%s %s COMMAND --help' describes a command.\n", ctl_prog, o->name);
}

static void print_cmd_help(const struct object *o, const struct cmd *c)
{
	printf("Usage: %s [OPTIONS] %s %s\n\n%s", ctl_prog, o->name, c->synopsis,
	       c->help);
}

static void print_main_help(void)
{
	const struct object *o;

	printf("Usage: %s [OPTIONS] OBJECT [COMMAND [ARGS]]\n\n"
	       "Configure sipovl.ko: intercepts (CIDR + port ranges steered to sipovld),\n"
	       "transparent source ranges, counters and events.\n\n"
	       "Objects:\n", ctl_prog);
	for (o = objects; o->name; o++)
		printf("  %-10s %s\n", o->name, o->summary);
	printf("\nOptions:\n"
	       "  -j, --json          JSON output\n"
	       "  -p, --pretty        indented JSON (with -j)\n"
	       "  -s, --stats         include counters\n"
	       "  -n, --netns NAME    act in network namespace NAME (/run/netns/NAME)\n"
	       "  -V, --version       print the version\n"
	       "  -h, --help          this help; 'OBJECT --help' and\n"
	       "                      'OBJECT COMMAND --help' describe the others\n\n"
	       "Exit status: 0 success, 1 failure, 2 bad usage or input.\n"
	       "See sipovlctl(8).\n");
}


/* Objects whose command is implicit have one pseudo-command in caps. */
static const struct object objects[] = {
	{ "intercept", intercept_cmds, "show", "add, replace, delete and show intercepts" },
	{ "apply", apply_cmds, "FILE", "replace the whole table from a file, atomically" },
	{ "stats", stats_cmds, "show", "global and per-intercept counters" },
	{ "sources", sources_cmds, "show", "transparent source ranges" },
	{ "socket", socket_cmds, "show", "sockets registered by sipovld" },
	{ "config", config_cmds, "show", "generation, counts, sources, sockets" },
	{ "lookup", lookup_cmds, "TUPLE", "which intercept a packet matches" },
	{ "monitor", monitor_cmds, "EVENTS", "print events" },
	{ "status", status_cmds, "STATUS", "sipovld status: services, intercepts, flows, counters" },
	{ "calls", calls_cmds, "CALLS", "the calls sipovld follows: SIP dialogs and their media" },
	{ NULL, NULL, NULL, NULL }
};

static bool implicit(const struct object *o)
{
	return o->cmds[0].name[0] >= 'A' && o->cmds[0].name[0] <= 'Z';
}

static const struct object *find_object(const char *name)
{
	const struct object *o;

	for (o = objects; o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static const struct cmd *find_cmd(const struct object *o, const char *name)
{
	const struct cmd *c;

	for (c = o->cmds; c->name; c++)
		if (!strcmp(c->name, name) || (c->alias && !strcmp(c->alias, name)))
			return c;
	return NULL;
}

static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static void print_help_for(const struct object *o, const struct cmd *c)
{
	if (implicit(o)) {
		printf("Usage: %s [OPTIONS] %s%s%s\n\n%s", ctl_prog, o->name,
		       *o->cmds[0].synopsis ? " " : "", o->cmds[0].synopsis,
		       o->cmds[0].help);
		return;
	}
	if (c)
		print_cmd_help(o, c);
	else
		print_object_help(o);
}

/* "help [OBJECT [COMMAND]]" */
static int do_help(int argc, char **argv)
{
	const struct object *o;
	const struct cmd *c = NULL;
	char q[TOKQ_LEN];

	if (argc < 1) {
		print_main_help();
		return 0;
	}
	o = find_object(argv[0]);
	if (!o)
		return usage_err("unknown object %s: try '%s --help'", tokq(q, argv[0]),
				 ctl_prog);
	if (argc > 1 && !implicit(o)) {
		c = find_cmd(o, argv[1]);
		if (!c)
			return usage_err("unknown command %s for %s: try '%s %s --help'",
					 tokq(q, argv[1]), o->name, ctl_prog, o->name);
	}
	print_help_for(o, c);
	return 0;
}

static int dispatch(const struct ctl *ctl, int argc, char **argv)
{
	const struct object *o;
	const struct cmd *c;
	char q[TOKQ_LEN];

	if (!strcmp(argv[0], "help"))
		return do_help(argc - 1, argv + 1);
	o = find_object(argv[0]);
	if (!o)
		return usage_err("unknown object %s: expected intercept, apply, stats, sources, socket, config, lookup, monitor, status or calls",
				 tokq(q, argv[0]));
	argc--;
	argv++;
	if (implicit(o)) {
		if (wants_help(argc, argv)) {
			print_help_for(o, NULL);
			return 0;
		}
		return o->cmds[0].fn(ctl, argc, argv);
	}
	if (argc == 0) {
		c = find_cmd(o, o->defcmd);
	} else if (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help") ||
		   !strcmp(argv[0], "-h")) {
		print_object_help(o);
		return 0;
	} else {
		c = find_cmd(o, argv[0]);
		/* "stats NAME" is "stats show NAME". */
		if (!c && o->cmds == stats_cmds && argv[0][0] != '-') {
			c = find_cmd(o, "show");
			argc++;
			argv--;
		}
		if (!c)
			return usage_err("unknown command %s for %s: expected %s",
					 tokq(q, argv[0]), o->name,
					 o->cmds == intercept_cmds ?
					 "add, replace, del, show or flush" :
					 o->cmds == stats_cmds ? "show or reset" :
					 o->cmds == sources_cmds ? "show, set or flush" :
					 o->cmds == socket_cmds ? "show or unregister" :
					 "show");
		argc--;
		argv++;
	}
	if (wants_help(argc, argv)) {
		print_cmd_help(o, c);
		return 0;
	}
	return c->fn(ctl, argc, argv);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "stats", no_argument, NULL, 's' },
		{ "statistics", no_argument, NULL, 's' },
		{ "netns", required_argument, NULL, 'n' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl ctl = { 0 };
	char q[TOKQ_LEN];
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jpsn:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctl.json = true;
			break;
		case 'p':
			ctl.pretty = true;
			break;
		case 's':
			ctl.stats = true;
			break;
		case 'n':
			ctl.netns = optarg;
			break;
		case 'V':
			printf("sipovlctl %s (generic netlink family \"%s\" version %d)\n",
			       SIPOVL_VERSION_STR, SIPOVL_GENL_NAME, SIPOVL_GENL_VERSION);
			return finish_output(0);
		case 'h':
			print_main_help();
			return finish_output(0);
		case ':':
			return usage_err("option %s needs a value", tokq(q, argv[optind - 1]));
		default:
			if (optopt == 'n')
				return usage_err("option -n needs a value (a network namespace name)");
			return usage_err("unknown option %s: try '%s --help'",
					 tokq(q, argv[optind - 1]), ctl_prog);
		}
	}
	if (optind >= argc)
		return usage_err("missing OBJECT: try '%s --help'", ctl_prog);
	if (ctl.netns) {
		ret = sipovl_enter_netns(ctl.netns);
		if (ret)
			return fail("cannot enter network namespace %s: %s",
				    tokq(q, ctl.netns), strerror(-ret));
	}
	return finish_output(dispatch(&ctl, argc - optind, argv + optind));
}
