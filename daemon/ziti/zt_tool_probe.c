// SPDX-License-Identifier: GPL-2.0
/*
 * zt-tool probe: one short dial every --interval-ms, each result logged with the time
 * (zt_tool.c has the options and main).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon/ziti/zt_tool.h"

/* ------------------------------------------------------------------ probe */

FILE *probe_log;
static struct zt_timer probe_timer, probe_tmo;
static struct zt_conn *probe_c;
static uint64_t probe_start;
static uint8_t probe_buf[64];
static size_t probe_got;
static unsigned probe_n;

static void probe_done(bool ok, const char *why)
{
	if (probe_c) {
		zt_close(probe_c);
		probe_c = NULL;
	}
	zt_timer_stop(loop, &probe_tmo);
	if (ok)
		fprintf(probe_log, "ok %" PRIu64 " %" PRIu64 "\n", epoch_ms(), zt_now_ms() - probe_start);
	else
		fprintf(probe_log, "fail %" PRIu64 " %s\n", epoch_ms(), why ? why : "?");
	fflush(probe_log);
	zt_timer_start(loop, &probe_timer, opt.interval_ms);
}

static void p_on_connect(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)u;
	if (err) {
		probe_done(false, reason);
		return;
	}
	gen_fill(probe_n, 0, probe_buf, sizeof(probe_buf));
	zt_write(c, probe_buf, sizeof(probe_buf));
	zt_close_write(c);
}

static void p_on_data(struct zt_conn *c, const uint8_t *p, size_t n, void *u)
{
	(void)c;
	(void)u;
	if (n == 0) {
		probe_done(probe_got == sizeof(probe_buf), probe_got == sizeof(probe_buf) ? NULL : "short echo");
		return;
	}
	if (probe_got + n > sizeof(probe_buf) || memcmp(probe_buf + probe_got, p, n)) {
		probe_done(false, "echo mismatch");
		return;
	}
	probe_got += n;
}

static void p_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)c;
	(void)err;
	(void)u;
	probe_done(false, reason ? reason : "closed");
}

static const struct zt_conn_cbs probe_cbs = { .on_connect = p_on_connect, .on_data = p_on_data, .on_close = p_on_close };

static void probe_tmo_cb(void *arg)
{
	(void)arg;
	probe_done(false, "probe timed out");
}

static void probe_cb(void *arg)
{
	(void)arg;
	probe_n++;
	probe_got = 0;
	probe_start = zt_now_ms();
	probe_c = zt_dial(ctx, opt.service, NULL, &probe_cbs, NULL);
	zt_timer_start(loop, &probe_tmo, 8000);
}

void run_probe(void)
{
	probe_log = fopen(opt.log_file, "a");
	if (!probe_log) {
		perror(opt.log_file);
		exit(1);
	}
	setvbuf(probe_log, NULL, _IOLBF, 0);
	zt_timer_init(&probe_timer, probe_cb, NULL);
	zt_timer_init(&probe_tmo, probe_tmo_cb, NULL);
	zt_timer_start(loop, &probe_timer, opt.start_delay_ms);
}

bool probe_waiting(void)
{
	return !probe_c && zt_timer_armed(&probe_timer);
}

void probe_now(void)
{
	zt_timer_start(loop, &probe_timer, 0);
}

void probe_cleanup(void)
{
	if (probe_c)
		zt_close(probe_c);
}
