// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: what every command shares: error lines, netlink errors, output,
 * argument helpers.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/json.h"
#include "ctl/libsipovl.h"
#include "ctl/parse.h"
#include "ctl/sipovlctl.h"

static void errline(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", ctl_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int __attribute__((format(printf, 1, 2))) usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errline(fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errline(fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

int parse_err(const struct ctl_err *err)
{
	return usage_err("%s", err->msg);
}

/*
 * Reports a failed netlink call. @what is the action ("intercept add");
 * @notfound, if not NULL, is the message for ENOENT without a kernel message.
 * The kernel's extack message, when there is one, is printed verbatim.
 */
int nl_fail(const struct sipovl_err *e, const char *what,
		   const char *notfound)
{
	if (e->no_family)
		return fail("sipovl module not loaded (modprobe sipovl)");
	if (e->extack[0])
		return fail("%s: %s (%s)", what, e->extack, strerror(e->errnum));
	if (e->errnum == EPERM || e->errnum == EACCES)
		return fail("permission denied: CAP_NET_ADMIN required");
	if (e->dump_retries)
		return fail("%s: the table kept changing during the dump; gave up after several restarts",
			    what);
	if (e->errnum == ENOENT && notfound)
		return fail("%s", notfound);
	if (e->errnum == E2BIG)
		return fail("%s: intercept too large for one netlink message", what);
	return fail("%s: %s", what, strerror(e->errnum));
}

int nl_open_fail(const struct sipovl_err *e)
{
	if (!e->no_family && (e->errnum == EPERM || e->errnum == EACCES))
		return fail("permission denied: CAP_NET_ADMIN required");
	return nl_fail(e, "netlink", NULL);
}

struct sipovl_nl *nl_open(int *rc)
{
	struct sipovl_nl *nl;
	struct sipovl_err e;

	if (sipovl_open(&nl, &e) < 0) {
		*rc = nl_open_fail(&e);
		return NULL;
	}
	return nl;
}

int finish_output(int rc)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno == EPIPE)
			return rc ? rc : EXIT_FAIL;
		return rc ? rc : fail("write error on standard output: %s",
				      strerror(errno));
	}
	return rc;
}

/* ---- argument helpers ------------------------------------------------- */

int no_more_args(int argc, char **argv)
{
	char q[TOKQ_LEN];

	if (argc > 0)
		return usage_err("unexpected argument %s", tokq(q, argv[0]));
	return 0;
}

int parse_selector(const char *tok, struct selector *s)
{
	struct ctl_err err;
	char q[TOKQ_LEN];

	memset(s, 0, sizeof(*s));
	if (is_id_token(tok)) {
		if (parse_id(tok, &s->id, &err))
			return parse_err(&err);
		snprintf(s->desc, sizeof(s->desc), "intercept id %u not found", s->id);
		return 0;
	}
	if (parse_name(tok, s->name, &err))
		return parse_err(&err);
	snprintf(s->desc, sizeof(s->desc), "intercept %s not found", tokq(q, s->name));
	return 0;
}

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
