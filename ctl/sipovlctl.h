/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sipovlctl's commands: one file per object (intercept.c, apply.c, stats.c,
 * sources.c, socket.c, lookup.c, monitor.c, status.c), the helpers they share
 * (cli.c), and the dispatcher (sipovlctl.c). A command gets the global options
 * in struct ctl and its arguments after the command word.
 *
 * Exit status: 0 success, 1 failure (kernel, system), 2 bad usage or input.
 * Every failure prints exactly one line on stderr.
 */
#ifndef SIPOVL_CTL_SIPOVLCTL_H
#define SIPOVL_CTL_SIPOVLCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl/libsipovl.h"
#include "ctl/parse.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* The global options (-j, -p, -s, -n). */
struct ctl {
	bool json, pretty, stats;
	const char *netns;
};

struct cmd {
	const char *name;
	const char *alias;
	int (*fn)(const struct ctl *ctl, int argc, char **argv);
	const char *synopsis;
	const char *help;
};

/* Every object's commands, NULL-terminated. */
extern const struct cmd intercept_cmds[], apply_cmds[], stats_cmds[], sources_cmds[],
	socket_cmds[], config_cmds[], lookup_cmds[], monitor_cmds[], status_cmds[],
	calls_cmds[];

extern const char ctl_prog[];

/* Error lines on stderr ("sipovlctl: ..."); each returns the exit status. */
int __attribute__((format(printf, 1, 2))) usage_err(const char *fmt, ...);
int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...);
int parse_err(const struct ctl_err *err);
int nl_fail(const struct sipovl_err *e, const char *what, const char *notfound);
struct sipovl_nl *nl_open(int *rc);
int nl_open_fail(const struct sipovl_err *e);
int finish_output(int rc);

int no_more_args(int argc, char **argv);

/* NAME|ID selector. */
struct selector {
	uint32_t id;
	char name[SIPOVL_NAME_MAXLEN];
	char desc[SIPOVL_NAME_MAXLEN + 32];	/* for "not found" messages */
};

int parse_selector(const char *tok, struct selector *s);
double now_ms(void);

/* intercept.c, for stats and apply */
void print_istats_line(FILE *f, const struct sipovl_istats *s);
int intercept_cmp_id(const void *a, const void *b);
void print_intercepts(const struct ctl *ctl, const struct sipovl_intercept *v,
		      size_t n, bool config);

#endif
