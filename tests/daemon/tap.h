/* SPDX-License-Identifier: GPL-2.0 */
/* TAP output of the daemon's unit tests (unit.c, dns_unit.c, sip_unit.c, rtpq_unit.c): one
 * "ok N - ..." / "not ok N - ..." line per point; n points so far, failed of them. */
#ifndef SIPOVL_TESTS_DAEMON_TAP_H
#define SIPOVL_TESTS_DAEMON_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int n, failed;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	n++;
	printf("%sok %d - ", cond ? "" : "not ", n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		failed++;
}

#endif
