// SPDX-License-Identifier: GPL-2.0
/*
 * Dial and Bind sessions (POST /sessions): one request per service and type at a time, issued
 * once authenticated; a 401 re-authenticates once and retries; a request that cannot be
 * issued is retried with backoff (the caller waits).
 */
#include "zt_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zt_sess_req {
	struct zt_ctx *ctx;
	struct zt_sess_req *next;
	char *service_id;
	int type;
	zt_session_cb cb;
	void *arg;
	struct zt_http *http;
	bool retried;
	unsigned failures;   /* consecutive requests that could not be issued */
	struct zt_timer timer; /* retry after one could not be issued */
};

void zt_session_put(struct zt_session *s)
{
	if (!s || --s->refs > 0)
		return;
	free(s->id);
	free(s->token);
	free(s->service_id);
	for (size_t i = 0; i < s->ners; i++) {
		free(s->ers[i].name);
		free(s->ers[i].url);
	}
	free(s->ers);
	free(s);
}

static void sreq_unlink(struct zt_sess_req *r)
{
	for (struct zt_sess_req **pp = &r->ctx->sess_reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
}

static void sreq_free(struct zt_sess_req *r)
{
	zt_timer_stop(r->ctx->loop, &r->timer);
	sreq_unlink(r);
	free(r->service_id);
	free(r);
}

static void sreq_send(void *arg, int err, const char *msg);

static void sess_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_sess_req *q = arg;
	struct zt_ctx *ctx = q->ctx;
	char err[512];

	q->http = NULL;
	if (r->status == 401 && !q->retried) {
		q->retried = true;
		zt_ctx_token_refused(ctx);
		zt_ctx_need_auth(ctx, sreq_send, q);
		return;
	}
	if (r->status != 201 && r->status != 200) {
		zt_resp_error(r, err, sizeof(err), q->type == ZT_PERM_DIAL ? "create Dial session" : "create Bind session");
		if (r->status == 409 && zt_resp_code_is(r, "INVALID_POSTURE"))
			zt_posture_resend(ctx, "a session was refused: INVALID_POSTURE");
		zt_session_cb cb = q->cb;
		void *a = q->arg;

		sreq_free(q);
		cb(a, NULL, r->status == 0 ? -ECONNREFUSED : r->status == 404 ? -ENOENT : -EACCES, err);
		return;
	}
	struct json_object *root = json_tokener_parse(r->body);
	struct json_object *data = zt_jget(root, "data");
	const char *tok = zt_jstr(data, "token");
	struct json_object *ers = zt_jget(data, "edgeRouters");
	struct zt_session *s = calloc(1, sizeof(*s));

	if (!tok || !s) {
		json_object_put(root);
		free(s);
		zt_session_cb cb = q->cb;
		void *a = q->arg;

		sreq_free(q);
		cb(a, NULL, -EPROTO, "create session: malformed response");
		return;
	}
	zt_posture_session_ok(ctx);
	s->refs = 1;
	s->token = strdup(tok);
	s->id = zt_jstr(data, "id") ? strdup(zt_jstr(data, "id")) : NULL;
	s->service_id = strdup(q->service_id);
	s->type = q->type;
	size_t n = ers && json_object_is_type(ers, json_type_array) ? json_object_array_length(ers) : 0;

	s->ers = calloc(n ? n : 1, sizeof(*s->ers));
	for (size_t i = 0; s->ers && i < n; i++) {
		struct json_object *er = json_object_array_get_idx(ers, i);
		const char *url = zt_jstr(zt_jget(er, "urls"), "tls");

		if (!url)
			url = zt_jstr(zt_jget(er, "supportedProtocols"), "tls");
		if (!url)
			continue;
		s->ers[s->ners].url = strdup(url);
		s->ers[s->ners].name = strdup(zt_jstr(er, "name") ? zt_jstr(er, "name") : url);
		s->ners++;
	}
	json_object_put(root);
	zt_session_cb cb = q->cb;
	void *a = q->arg;

	sreq_free(q);
	if (s->ners == 0) {
		zt_session_put(s);
		cb(a, NULL, -ENETUNREACH, "no edge router available for this service (check edge-router policies)");
		return;
	}
	cb(a, s, 0, NULL);
}

static void sreq_send(void *arg, int err, const char *msg)
{
	struct zt_sess_req *q = arg;
	char path[512], body[256];

	if (err) {
		zt_session_cb cb = q->cb;
		void *a = q->arg;

		sreq_free(q);
		cb(a, NULL, err, msg);
		return;
	}
	snprintf(path, sizeof(path), "%s/sessions", q->ctx->edge_path);
	snprintf(body, sizeof(body), "{\"serviceId\":\"%s\",\"type\":\"%s\"}", q->service_id,
		 q->type == ZT_PERM_DIAL ? "Dial" : "Bind");
	q->http = zt_http_request(q->ctx, "POST", path, body, sess_cb, q);
	if (!q->http) {
		unsigned d = zt_ctx_backoff_ms(q->ctx, q->failures++);

		zt_log(q->ctx, 1, "create session: request could not be issued (retrying in %u ms)", d);
		zt_timer_start(q->ctx->loop, &q->timer, d);
	}
}

static void sreq_retry_cb(void *arg)
{
	struct zt_sess_req *q = arg;

	zt_ctx_need_auth(q->ctx, sreq_send, q);
}

struct zt_sess_req *zt_session_create(struct zt_ctx *ctx, const char *service_id, int type,
				      zt_session_cb cb, void *arg)
{
	struct zt_sess_req *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->ctx = ctx;
	q->service_id = strdup(service_id);
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	q->next = ctx->sess_reqs;
	ctx->sess_reqs = q;
	zt_timer_init(&q->timer, sreq_retry_cb, q);
	zt_ctx_need_auth(ctx, sreq_send, q);
	return q;
}

void zt_sess_req_cancel(struct zt_sess_req *q)
{
	if (!q)
		return;
	zt_ctx_cancel_auth_wait(q->ctx, q);
	zt_http_cancel(q->http);
	sreq_free(q);
}

