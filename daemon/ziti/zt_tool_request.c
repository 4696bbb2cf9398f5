// SPDX-License-Identifier: GPL-2.0
/*
 * zt-tool request: one request line to a service, its reply on standard output (the ip-pool
 * service's protocol: "claim POOL [ADDRESS]" -> "ok ADDRESS"). Test tool, not the library.
 *
 *   zt-tool request -i IDENTITY.json -s SERVICE --send "claim voip-ips" [--timeout-ms T]
 *                   [--terminator-identity X] [--app-data JSON]
 * (T: the whole request's deadline, from the context's readiness; default 60000)
 *
 * Exit 0 when a reply came (whatever it says), 1 when the dial failed or nothing came back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ziti/zt_tool.h"
#include "daemon/ziti/zt_tool_request.h"

static struct {
	struct zt_loop *loop;
	int *exit_code;
	char reply[1024];
	size_t len;
	const char *text;
	bool done;
	struct zt_timer deadline;
} rq;

static void rq_end(struct zt_conn *c, int code, const char *why)
{
	if (rq.done)
		return;
	rq.done = true;
	if (rq.len)
		printf("%.*s%s", (int)rq.len, rq.reply, rq.reply[rq.len - 1] == '\n' ? "" : "\n");
	if (why)
		fprintf(stderr, "zt-tool request: %s\n", why);
	*rq.exit_code = code;
	zt_timer_stop(rq.loop, &rq.deadline);
	if (c)
		zt_close(c);
	zt_loop_stop(rq.loop);
}

static void rq_on_connect(struct zt_conn *c, int err, const char *reason, void *u)
{
	char line[512];
	int n;

	(void)u;
	if (err) {
		rq_end(c, 1, reason ? reason : "dial failed");
		return;
	}
	n = snprintf(line, sizeof(line), "%s\n", rq.text);
	if (n < 0 || (size_t)n >= sizeof(line) || zt_write(c, line, (size_t)n) || zt_close_write(c))
		rq_end(c, 1, "cannot send the request");
}

static void rq_on_data(struct zt_conn *c, const uint8_t *d, size_t n, void *u)
{
	(void)u;
	if (!n) { /* FIN: the whole reply is here */
		rq_end(c, rq.len ? 0 : 1, rq.len ? NULL : "no reply");
		return;
	}
	if (rq.len + n > sizeof(rq.reply)) {
		rq_end(c, 1, "reply too long");
		return;
	}
	memcpy(rq.reply + rq.len, d, n);
	rq.len += n;
}

static void rq_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)err;
	(void)u;
	rq_end(c, rq.len ? 0 : 1, rq.len ? NULL : reason ? reason : "closed");
}

static const struct zt_conn_cbs rq_cbs = { .on_connect = rq_on_connect, .on_data = rq_on_data,
					   .on_close = rq_on_close };

static struct zt_conn *rq_conn;

static void rq_deadline_cb(void *arg)
{
	(void)arg;
	rq_end(rq_conn, 1, "no reply before the deadline (--timeout-ms)");
}

void run_request(struct zt_ctx *ctx, struct zt_loop *loop, const char *service, const char *text,
		 unsigned timeout_ms, int *exit_code)
{
	struct zt_dial_opts o = { .terminator_identity = opt.term_id, .app_data = opt.app_data,
				  .app_data_len = opt.app_data ? strlen(opt.app_data) : 0 };

	rq.loop = loop;
	rq.exit_code = exit_code;
	rq.text = text;
	zt_timer_init(&rq.deadline, rq_deadline_cb, NULL);
	zt_timer_start(loop, &rq.deadline, timeout_ms);
	rq_conn = zt_dial(ctx, service, &o, &rq_cbs, NULL);
	if (!rq_conn)
		rq_end(NULL, 1, "cannot dial");
}
