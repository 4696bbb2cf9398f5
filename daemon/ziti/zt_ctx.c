// SPDX-License-Identifier: GPL-2.0
/*
 * Controller side of the edge client: /version, authentication (legacy certificate
 * authentication with zt-session, or OIDC: zt_oidc.c), API-session / token refresh (the
 * service list and its update poll are in zt_services.c, Dial/Bind sessions in
 * zt_session.c). Callers wait for authentication through zt_ctx_need_auth().
 */
#include "zt_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

void zt_log(struct zt_ctx *ctx, int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!ctx->cbs.on_log || level > ctx->o.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctx->cbs.on_log(ctx, level, buf, ctx->user);
}

const char *zt_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}

struct zt_loop *zt_ctx_loop(struct zt_ctx *ctx)
{
	return ctx->loop;
}

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* "controller said: <message>" from an error envelope, or the HTTP status. */
static void resp_error(const struct zt_http_resp *r, char *buf, size_t len, const char *what)
{
	if (r->status == 0) {
		snprintf(buf, len, "%s: %s", what, r->err ? r->err : "transport error");
		return;
	}
	struct json_object *root = json_tokener_parse(r->body ? r->body : "");
	struct json_object *e = jget(root, "error");
	const char *code = jstr(e, "code"), *msg = jstr(e, "message");
	const char *cause = jstr(jget(e, "cause"), "message");

	/* the OIDC endpoints' form (RFC 6749 5.2): {"error":"server_error","error_description":...} */
	if (e && json_object_is_type(e, json_type_string)) {
		code = json_object_get_string(e);
		msg = jstr(root, "error_description");
	}

	snprintf(buf, len, "%s: HTTP %d%s%s%s%s%s%s", what, r->status, code ? " " : "", code ? code : "",
		 msg ? ": " : "", msg ? msg : "", cause ? " - " : "", cause ? cause : "");
	json_object_put(root);
}

void zt_http_resp_error(const struct zt_http_resp *r, char *buf, size_t len, const char *what)
{
	resp_error(r, buf, len, what);
}

/*
 * Before the first success, transport trouble (refused, reset, timeout) is retried for
 * start_timeout_ms; certificate verification failures and HTTP errors are reported at once.
 */
static bool start_transient(struct zt_ctx *ctx, const struct zt_http_resp *r)
{
	if (ctx->ready_reported || r->status != 0)
		return false;
	if (r->err && strstr(r->err, "verification failed"))
		return false;
	return zt_now_ms() - ctx->start_ms < ctx->o.start_timeout_ms;
}

static void ready(struct zt_ctx *ctx, int err, const char *msg)
{
	if (ctx->ready_reported)
		return;
	ctx->ready_reported = true;
	if (ctx->cbs.on_ready)
		ctx->cbs.on_ready(ctx, err, msg, ctx->user);
}

/* the helpers above, for the other parts of the context (zt_services.c) */
struct json_object *zt_jget(struct json_object *o, const char *key)
{
	return jget(o, key);
}

const char *zt_jstr(struct json_object *o, const char *key)
{
	return jstr(o, key);
}

void zt_resp_error(const struct zt_http_resp *r, char *buf, size_t len, const char *what)
{
	resp_error(r, buf, len, what);
}

bool zt_resp_code_is(const struct zt_http_resp *r, const char *code)
{
	struct json_object *root = json_tokener_parse(r->body ? r->body : "");
	const char *c = jstr(jget(root, "error"), "code");
	bool is = c && !strcmp(c, code);

	json_object_put(root);
	return is;
}

void zt_ctx_ready(struct zt_ctx *ctx, int err, const char *msg)
{
	ready(ctx, err, msg);
}

static void list_services(struct zt_ctx *ctx)
{
	zt_services_list(ctx);
}

/* ---------------- authentication ---------------- */

static void schedule_refresh(struct zt_ctx *ctx, int64_t expires_s)
{
	uint64_t d;

	if (expires_s <= 0)
		expires_s = 60;
	d = (uint64_t)expires_s * 1000 / 2;
	if (ctx->bearer && ctx->o.token_refresh_ms && d > ctx->o.token_refresh_ms)
		d = ctx->o.token_refresh_ms;
	if (d < ctx->o.refresh_min_ms)
		d = ctx->o.refresh_min_ms;
	zt_timer_start(ctx->loop, &ctx->refresh_timer, d);
}

static void run_auth_waiters(struct zt_ctx *ctx, int err, const char *msg)
{
	struct zt_auth_waiter *w = ctx->auth_waiters;

	ctx->auth_waiters = NULL;
	while (w) {
		struct zt_auth_waiter *n = w->next;

		if (w->cb)
			w->cb(w->arg, err, msg);
		free(w);
		w = n;
	}
}

static void start_auth(struct zt_ctx *ctx);

/* /version or authenticate could not be sent: try authenticating again after a backoff */
static void auth_not_issued(struct zt_ctx *ctx, const char *what)
{
	unsigned d = zt_ctx_backoff_ms(ctx, ctx->auth_failures++);

	zt_log(ctx, 1, "%s: request could not be issued (retrying in %u ms)", what, d);
	ctx->auth = ZT_AUTH_NONE;
	zt_timer_start(ctx->loop, &ctx->auth_retry_timer, d);
}

static void ask_version(struct zt_ctx *ctx);

static void auth_retry_cb(void *arg)
{
	struct zt_ctx *ctx = arg;

	/* without /version's answer the method is not known (auto could take OIDC): ask again */
	if (!ctx->version_known && ctx->o.auth_mode != ZT_AUTH_MODE_LEGACY)
		ask_version(ctx);
	else
		start_auth(ctx);
}

/* authentication failed with r (err: its description) */
static void auth_failed(struct zt_ctx *ctx, const struct zt_http_resp *r, const char *err)
{
	ctx->auth = ZT_AUTH_NONE;
	ctx->auth_failures++;
	zt_log(ctx, start_transient(ctx, r) ? 1 : 0, "%s", err);
	if (!start_transient(ctx, r))
		ready(ctx, r->status == 401 ? -EACCES : -ECONNREFUSED, err);
	run_auth_waiters(ctx, r->status == 401 ? -EACCES : -ECONNREFUSED, err);
	unsigned d = 250u << (ctx->auth_failures < 5 ? ctx->auth_failures : 5);

	if (d > ctx->o.backoff_max_ms)
		d = ctx->o.backoff_max_ms;
	zt_timer_start(ctx->loop, &ctx->auth_retry_timer, d);
}

static void auth_ok(struct zt_ctx *ctx, struct json_object *data, const char *tok, int64_t exp);

static void auth_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_ctx *ctx = arg;
	char err[512];

	ctx->auth_req = NULL;
	if (r->status != 200) {
		resp_error(r, err, sizeof(err), "authenticate");
		auth_failed(ctx, r, err);
		return;
	}
	struct json_object *root = json_tokener_parse(r->body);
	struct json_object *data = jget(root, "data");
	const char *tok = jstr(data, "token");

	if (!tok) {
		json_object_put(root);
		ctx->auth = ZT_AUTH_NONE;
		ready(ctx, -EPROTO, "authenticate: no token in response");
		run_auth_waiters(ctx, -EPROTO, "authenticate: no token in response");
		zt_timer_start(ctx->loop, &ctx->auth_retry_timer, zt_ctx_backoff_ms(ctx, ctx->auth_failures++));
		return;
	}
	struct json_object *aq = jget(data, "authQueries");

	if (aq && json_object_is_type(aq, json_type_array) && json_object_array_length(aq) > 0) {
		json_object_put(root);
		ctx->auth = ZT_AUTH_NONE;
		ready(ctx, -EACCES, "authenticate: MFA (authQueries) required, not supported");
		run_auth_waiters(ctx, -EACCES, "authenticate: MFA required, not supported");
		zt_timer_start(ctx->loop, &ctx->auth_retry_timer, ctx->o.backoff_max_ms);
		return;
	}
	auth_ok(ctx, data, tok, json_object_get_int64(jget(data, "expirationSeconds")));
	json_object_put(root);
}

/* authenticated: tok is the API session token (legacy) or the access token (OIDC) */
static void auth_ok(struct zt_ctx *ctx, struct json_object *data, const char *tok, int64_t exp)
{
	const char *sid = jstr(data, "id");
	bool same = sid && ctx->api_session_id && !strcmp(sid, ctx->api_session_id);

	if (tok != ctx->api_token) {
		free(ctx->api_token);
		ctx->api_token = strdup(tok);
	}
	free(ctx->api_session_id);
	ctx->api_session_id = sid ? strdup(sid) : NULL;
	const char *iname = jstr(jget(data, "identity"), "name");

	if (iname && (!ctx->identity_name || strcmp(iname, ctx->identity_name))) {
		free(ctx->identity_name);
		ctx->identity_name = strdup(iname);
	}
	ctx->auth = ZT_AUTH_OK;
	ctx->refreshing = false;
	ctx->auth_failures = 0;
	ctx->auth_gen++;
	zt_log(ctx, 2, "authenticated: api session %s, expires in %llds (%s)", sid ? sid : "?", (long long)exp,
	       ctx->bearer ? "OIDC" : "legacy");
	zt_renew_on_auth(ctx->renew, data);
	schedule_refresh(ctx, exp);
	/* dial sessions belong to the old API session */
	for (size_t i = 0; i < ctx->nsvcs; i++) {
		zt_session_put(ctx->svcs[i]->dial_session);
		ctx->svcs[i]->dial_session = NULL;
	}
	if (!zt_timer_armed(&ctx->poll_timer) && !ctx->poll_req)
		zt_timer_start(ctx->loop, &ctx->poll_timer, ctx->o.svc_poll_ms);
	if (!ctx->ready_reported || ctx->list_again) {
		ctx->list_again = false;
		list_services(ctx);
	}
	if (ctx->bearer && same) {
		/*
		 * An OIDC login that kept its API session: the routers take the new token in place
		 * (UpdateToken), so established circuits stay; channels still in their hello
		 * reconnect with it. A login from scratch (after a refused refresh, a failover) is a
		 * new API session, whose token a v1.6.5 router refuses on a channel of the old one
		 * ("bearer token api session ids did not match"): zt_chan_auth_changed below
		 * retires those that carry circuits (they keep them; new work gets new channels)
		 * and reconnects the others at once, instead of after that refusal.
		 */
		zt_chan_token_refreshed(ctx);
		for (struct zt_chan *ch = ctx->chans; ch; ch = ch->next)
			if (ch->state == ZT_CH_UP)
				ch->auth_gen = ctx->auth_gen;
	}
	zt_chan_auth_changed(ctx);
	zt_listener_auth_changed(ctx);
	zt_ctx_learn_ctrls(ctx);
	run_auth_waiters(ctx, 0, NULL);
}

void zt_ctx_auth_body(struct zt_ctx *ctx, char *buf, size_t len)
{
	struct utsname u;

	uname(&u);
	snprintf(buf, len,
		 "{\"sdkInfo\":{\"type\":\"sipovl-zt\",\"version\":\"0.1.0\",\"appID\":\"%s\"},"
		 "\"envInfo\":{\"os\":\"%s\",\"arch\":\"%s\",\"osRelease\":\"%s\"},\"configTypes\":[\"all\"]}",
		 ctx->o.app_id ? ctx->o.app_id : "sipovl", u.sysname, u.machine, u.release);
}

static void start_auth(struct zt_ctx *ctx)
{
	char path[512], body[768];

	if (ctx->auth == ZT_AUTH_PENDING)
		return;
	zt_timer_stop(ctx->loop, &ctx->auth_retry_timer);
	ctx->auth = ZT_AUTH_PENDING;
	free(ctx->api_token);
	ctx->api_token = NULL;
	if (ctx->oidc_path) {
		ctx->bearer = true;
		zt_oidc_start(ctx);
		return;
	}
	ctx->bearer = false;
	snprintf(path, sizeof(path), "%s/authenticate?method=cert", ctx->edge_path);
	zt_ctx_auth_body(ctx, body, sizeof(body));
	ctx->auth_req = zt_http_request(ctx, "POST", path, body, auth_cb, ctx);
	if (!ctx->auth_req)
		auth_not_issued(ctx, "authenticate");
}

/* ---------------- OIDC ---------------- */

/* OIDC: the API session behind the new access token (identity, authenticator for renewal) */
static void oidc_sess_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_ctx *ctx = arg;
	char err[512];

	ctx->auth_req = NULL;
	if (r->status != 200) {
		resp_error(r, err, sizeof(err), "authenticate (OIDC): current API session");
		free(ctx->api_token);
		ctx->api_token = NULL;
		zt_oidc_forget(ctx);
		auth_failed(ctx, r, err);
		return;
	}
	struct json_object *root = json_tokener_parse(r->body);
	int64_t exp = ctx->api_expires_ms > zt_now_ms() ? (int64_t)(ctx->api_expires_ms - zt_now_ms()) / 1000 : 0;

	auth_ok(ctx, jget(root, "data"), ctx->api_token, exp);
	json_object_put(root);
}

void zt_ctx_oidc_result(struct zt_ctx *ctx, const struct zt_http_resp *r, const char *why, const char *what,
			const char *token, int64_t expires_s, bool refresh)
{
	char err[600], path[512];

	if (token) {
		char *t = strdup(token);

		if (!t) {
			why = "out of memory";
			r = NULL;
			goto failed;
		}
		free(ctx->api_token);
		ctx->api_token = t;
		ctx->api_expires_ms = zt_now_ms() + (uint64_t)(expires_s > 0 ? expires_s : 60) * 1000;
		if (refresh) {
			ctx->token_refreshes++;
			zt_log(ctx, 2, "OIDC access token refreshed (expires in %llds): pushed to the routers",
			       (long long)expires_s);
			schedule_refresh(ctx, expires_s);
			zt_chan_token_refreshed(ctx);
			zt_ctx_learn_ctrls(ctx);
			if (ctx->refreshing) { /* requests waited for it: the session goes on */
				ctx->refreshing = false;
				ctx->auth = ZT_AUTH_OK;
				if (ctx->list_again) {
					ctx->list_again = false;
					list_services(ctx);
				}
				run_auth_waiters(ctx, 0, NULL);
			}
			return;
		}
		snprintf(path, sizeof(path), "%s/current-api-session", ctx->edge_path);
		ctx->auth_req = zt_http_request(ctx, "GET", path, NULL, oidc_sess_cb, ctx);
		if (!ctx->auth_req)
			auth_not_issued(ctx, "authenticate (OIDC): current API session");
		return;
	}
failed:
	if (r && r->status == 0 && !why)
		snprintf(err, sizeof(err), "%s: %s", what, r->err ? r->err : "transport error");
	else if (r && !why)
		resp_error(r, err, sizeof(err), what);
	else
		snprintf(err, sizeof(err), "%s: %s", what, why);
	if (refresh) {
		char why2[100];
		unsigned d;

		/* zt_oidc.c decides: the session kept (refreshed again), or a login */
		if (zt_oidc_refresh_again(ctx, r, &d, why2, sizeof(why2))) {
			zt_log(ctx, 1, "%s (the session is kept: refreshing again in %u ms at %s:%s)", err, d,
			       ctx->ctrls.n ? ctx->ctrls.v[ctx->ctrls.cur].host : ctx->id->host,
			       ctx->ctrls.n ? ctx->ctrls.v[ctx->ctrls.cur].port : ctx->id->port);
			zt_timer_start(ctx->loop, &ctx->refresh_timer, d);
			return;
		}
		zt_log(ctx, 1, "%s (%s): authenticating again", err, why2);
		zt_oidc_forget(ctx);
		zt_ctx_auth_invalid(ctx);
		zt_ctx_need_auth(ctx, NULL, NULL);
		return;
	}
	zt_oidc_forget(ctx);
	if (!r) {
		if (strstr(err, "not supported")) {
			zt_log(ctx, 0, "authenticate: %s", err);
			ready(ctx, -EACCES, err);
		}
		auth_not_issued(ctx, err);
		return;
	}
	auth_failed(ctx, r, err);
}

void zt_ctx_need_auth(struct zt_ctx *ctx, void (*cb)(void *, int, const char *), void *arg)
{
	if (ctx->auth == ZT_AUTH_OK) {
		if (cb)
			cb(arg, 0, NULL);
		return;
	}
	if (cb) {
		struct zt_auth_waiter *w = calloc(1, sizeof(*w));

		if (!w) {
			cb(arg, -ENOMEM, "out of memory");
			return;
		}
		w->cb = cb;
		w->arg = arg;
		w->next = ctx->auth_waiters;
		ctx->auth_waiters = w;
	}
	if (ctx->auth == ZT_AUTH_NONE && !zt_timer_armed(&ctx->auth_retry_timer))
		auth_retry_cb(ctx);
}

void zt_ctx_cancel_auth_wait(struct zt_ctx *ctx, void *arg)
{
	for (struct zt_auth_waiter **pp = &ctx->auth_waiters; *pp;) {
		if ((*pp)->arg == arg) {
			struct zt_auth_waiter *w = *pp;

			*pp = w->next;
			free(w);
		} else {
			pp = &(*pp)->next;
		}
	}
}

void zt_ctx_auth_invalid(struct zt_ctx *ctx)
{
	if (ctx->auth != ZT_AUTH_OK && !ctx->refreshing)
		return;
	zt_log(ctx, 1, "API session %s is no longer valid", ctx->api_session_id ? ctx->api_session_id : "?");
	ctx->refreshing = false;
	ctx->auth = ZT_AUTH_NONE;
	free(ctx->api_token);
	ctx->api_token = NULL;
	zt_timer_stop(ctx->loop, &ctx->refresh_timer);
}

void zt_ctx_token_refused(struct zt_ctx *ctx)
{
	if (ctx->auth != ZT_AUTH_OK)
		return;
	if (!ctx->bearer || !zt_oidc_can_refresh(ctx)) {
		zt_ctx_auth_invalid(ctx);
		return;
	}
	zt_log(ctx, 1, "OIDC access token refused (expired or revoked): refreshing it; requests wait");
	ctx->auth = ZT_AUTH_PENDING;
	ctx->refreshing = true;
	zt_oidc_token_refused(ctx);
	if (!zt_oidc_refreshing(ctx))
		zt_timer_start(ctx->loop, &ctx->refresh_timer, 0);
}

void zt_ctx_forget_api_session(struct zt_ctx *ctx)
{
	zt_ctx_auth_invalid(ctx);
}

const char *zt_ctx_api_session_id(struct zt_ctx *ctx)
{
	return ctx->api_session_id;
}

void zt_ctx_api_tls_stats(const struct zt_ctx *ctx, uint64_t *full, uint64_t *resumed)
{
	*full = ctx->id->api_handshakes;
	*resumed = ctx->id->api_resumed;
}

uint64_t zt_ctx_api_requests(const struct zt_ctx *ctx)
{
	return ctx->api_requests;
}

const char *zt_ctx_auth_method(const struct zt_ctx *ctx)
{
	if (!ctx->api_token)
		return "none"; /* not authenticated (yet, or again) */
	return ctx->bearer ? "oidc" : "legacy";
}

uint64_t zt_ctx_token_refreshes(const struct zt_ctx *ctx)
{
	return ctx->token_refreshes;
}

uint64_t zt_ctx_logins(const struct zt_ctx *ctx)
{
	return ctx->auth_gen;
}

const char *zt_ctx_identity_name(struct zt_ctx *ctx)
{
	return ctx->identity_name;
}

static void refresh_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_ctx *ctx = arg;

	ctx->refresh_req = NULL;
	if (r->status == 200) {
		struct json_object *root = json_tokener_parse(r->body);

		schedule_refresh(ctx, json_object_get_int64(jget(jget(root, "data"), "expirationSeconds")));
		zt_renew_on_refresh(ctx->renew, jget(root, "data"), ctx->refresh_issued_ms);
		json_object_put(root);
		return;
	}
	if (r->status == 401) {
		zt_ctx_auth_invalid(ctx);
		ctx->list_again = true;
		zt_ctx_need_auth(ctx, NULL, NULL);
		return;
	}
	char err[512];

	resp_error(r, err, sizeof(err), "API session refresh");
	zt_log(ctx, 1, "%s", err);
	zt_timer_start(ctx->loop, &ctx->refresh_timer, ctx->o.refresh_min_ms > 2000 ? ctx->o.refresh_min_ms : 2000);
}

static void refresh_timer_cb(void *arg)
{
	struct zt_ctx *ctx = arg;
	char path[512];

	if ((ctx->auth != ZT_AUTH_OK && !ctx->refreshing) || ctx->refresh_req)
		return;
	if (ctx->bearer) {
		if (zt_oidc_refreshing(ctx)) /* one in flight already (zt_ctx_check_session) */
			return;
		if (!zt_oidc_refresh(ctx)) {
			zt_oidc_forget(ctx);
			zt_ctx_auth_invalid(ctx);
			zt_ctx_need_auth(ctx, NULL, NULL);
		}
		return;
	}
	snprintf(path, sizeof(path), "%s/current-api-session", ctx->edge_path);
	ctx->refresh_issued_ms = zt_now_ms();
	ctx->refresh_req = zt_http_request(ctx, "GET", path, NULL, refresh_cb, ctx);
	if (!ctx->refresh_req) {
		unsigned d = ctx->o.refresh_min_ms > 2000 ? ctx->o.refresh_min_ms : 2000;

		zt_log(ctx, 1, "API session refresh: request could not be issued (retrying in %u ms)", d);
		zt_timer_start(ctx->loop, &ctx->refresh_timer, d);
	}
}

void zt_ctx_check_session(struct zt_ctx *ctx)
{
	if (ctx->auth == ZT_AUTH_OK && !ctx->refresh_req)
		zt_timer_start(ctx->loop, &ctx->refresh_timer, 0);
}

/* ---------------- /version ---------------- */

static void version_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_ctx *ctx = arg;

	ctx->version_req = NULL;
	if (r->status == 200) {
		struct json_object *root = json_tokener_parse(r->body);
		struct json_object *data = jget(root, "data");
		struct json_object *av = jget(data, "apiVersions");
		const char *p = jstr(jget(jget(av, "edge-client"), "v1"), "path");

		if (!p)
			p = jstr(jget(jget(av, "edge"), "v1"), "path");
		if (p && *p == '/') {
			free(ctx->edge_path);
			ctx->edge_path = strdup(p);
		}
		const char *op = jstr(jget(jget(av, "edge-oidc"), "v1"), "path");
		struct json_object *caps = jget(data, "capabilities");
		bool has_oidc = false;

		for (size_t i = 0; caps && json_object_is_type(caps, json_type_array) &&
				   i < json_object_array_length(caps); i++)
			if (!strcmp(json_object_get_string(json_object_array_get_idx(caps, i)) ?: "", "OIDC_AUTH"))
				has_oidc = true;
			else if (!strcmp(json_object_get_string(json_object_array_get_idx(caps, i)) ?: "",
					 "HA_CONTROLLER"))
				ctx->ha = true;
		free(ctx->oidc_path);
		ctx->oidc_path = NULL;
		if (ctx->o.auth_mode != ZT_AUTH_MODE_LEGACY && has_oidc && op && *op == '/')
			ctx->oidc_path = strdup(op);
		if (ctx->o.auth_mode == ZT_AUTH_MODE_OIDC && !ctx->oidc_path) {
			json_object_put(root);
			ready(ctx, -EPROTONOSUPPORT, "controller /version: OIDC authentication required by the "
				      "configuration, but the controller does not offer it (no OIDC_AUTH / edge-oidc)");
			ctx->auth = ZT_AUTH_NONE;
			zt_timer_start(ctx->loop, &ctx->auth_retry_timer, ctx->o.backoff_max_ms);
			return;
		}
		ctx->version_known = true;
		zt_log(ctx, 2, "controller %s, client API %s, %s authentication%s",
		       jstr(data, "version") ? jstr(data, "version") : "?", ctx->edge_path,
		       ctx->oidc_path ? "OIDC" : "legacy", has_oidc && !ctx->oidc_path ? " (OIDC offered, not enabled)" : "");
		json_object_put(root);
	} else {
		char err[512];

		resp_error(r, err, sizeof(err), "controller /version");
		if (r->status == 0) { /* TLS / connect problems are the same for authenticate */
			bool again = start_transient(ctx, r);

			zt_log(ctx, again ? 1 : 0, "%s%s", err, again ? " (retrying)" : "");
			if (!again)
				ready(ctx, -ECONNREFUSED, err);
			ctx->auth = ZT_AUTH_NONE;
			zt_timer_start(ctx->loop, &ctx->auth_retry_timer, again ? 500 : ctx->o.backoff_max_ms);
			return;
		}
		if (r->status >= 500 && ctx->o.auth_mode != ZT_AUTH_MODE_LEGACY) {
			/* a member starting or without a leader: its answer decides OIDC, ask again */
			unsigned d = zt_ctx_backoff_ms(ctx, ctx->auth_failures++);

			zt_log(ctx, 1, "%s (retrying in %u ms)", err, d);
			ctx->auth = ZT_AUTH_NONE;
			zt_timer_start(ctx->loop, &ctx->auth_retry_timer, d);
			return;
		}
		zt_log(ctx, 0, "%s", err);
	}
	ctx->auth = ZT_AUTH_NONE;
	start_auth(ctx);
}

/* ---------------- lifecycle ---------------- */

/* the controllers known at the start: ztAPI first (current), then the identity's ztAPIs */
static void ctrls_seed(struct zt_ctx *ctx)
{
	struct zt_identity *id = ctx->id;
	bool v6 = id->host && strchr(id->host, ':');
	char u[600], err[200];

	snprintf(u, sizeof(u), "https://%s%s%s:%s", v6 ? "[" : "", id->host ? id->host : "", v6 ? "]" : "",
		 id->port ? id->port : "");
	if (zt_ctrls_add(&ctx->ctrls, u, err, sizeof(err)) < 0)
		zt_log(ctx, 1, "%s", err);
	struct json_object *a = id->apis_json ? json_tokener_parse(id->apis_json) : NULL;

	for (size_t i = 0; a && json_object_is_type(a, json_type_array) && i < json_object_array_length(a); i++)
		if (zt_ctrls_add(&ctx->ctrls, json_object_get_string(json_object_array_get_idx(a, i)), err,
				 sizeof(err)) < 0)
			zt_log(ctx, 1, "identity ztAPIs: %s", err);
	json_object_put(a);
}

struct zt_ctx *zt_ctx_new(struct zt_loop *loop, struct zt_identity *id, const struct zt_opts *o,
			  const struct zt_ctx_cbs *cbs, void *user)
{
	struct zt_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	if (sodium_init() < 0) {
		free(ctx);
		return NULL;
	}
	ctx->loop = loop;
	ctx->id = id;
	if (o)
		ctx->o = *o;
	char rerr[160];

	ctx->res = zt_resolver_new(loop, 0, rerr, sizeof(rerr));
	if (!ctx->res) {
		free(ctx);
		return NULL;
	}
	if (zt_curl_init(ctx)) {
		zt_resolver_free(ctx->res);
		free(ctx);
		return NULL;
	}
	if (!ctx->o.svc_poll_ms)
		ctx->o.svc_poll_ms = 10000;
	if (!ctx->o.latency_ms)
		ctx->o.latency_ms = 30000;
	if (!ctx->o.latency_timeout_ms)
		ctx->o.latency_timeout_ms = 10000;
	if (!ctx->o.connect_timeout_ms)
		ctx->o.connect_timeout_ms = 15000;
	if (!ctx->o.backoff_max_ms)
		ctx->o.backoff_max_ms = 5000;
	if (!ctx->o.http_timeout_ms)
		ctx->o.http_timeout_ms = 15000;
	if (!ctx->o.refresh_min_ms)
		ctx->o.refresh_min_ms = 1000;
	if (!ctx->o.start_timeout_ms)
		ctx->o.start_timeout_ms = 30000;
	if (!ctx->o.posture_min_ms)
		ctx->o.posture_min_ms = 5000;
	if (!ctx->o.posture_process_ms)
		ctx->o.posture_process_ms = 10000;
	if (cbs)
		ctx->cbs = *cbs;
	ctx->user = user;
	ctrls_seed(ctx);
	ctx->edge_path = strdup(id->base_path && *id->base_path ? id->base_path : "/edge/client/v1");
	ctx->next_conn_id = 1;
	zt_timer_init(&ctx->poll_timer, zt_services_poll_timer_cb, ctx);
	zt_timer_init(&ctx->refresh_timer, refresh_timer_cb, ctx);
	zt_timer_init(&ctx->auth_retry_timer, auth_retry_cb, ctx);
	zt_services_init(ctx);
	if (!ctx->o.renew_retry_max_ms)
		ctx->o.renew_retry_max_ms = 600000;
	ctx->renew = zt_renew_new(ctx);
	if (!ctx->renew) {
		zt_services_free(ctx);
		zt_curl_free(ctx);
		zt_ctrls_free(&ctx->ctrls);
		zt_resolver_free(ctx->res);
		free(ctx->edge_path);
		free(ctx);
		return NULL;
	}
	return ctx;
}

void zt_ctx_tune(struct zt_ctx *ctx, unsigned svc_poll_ms, int log_level)
{
	ctx->o.log_level = log_level;
	if (!svc_poll_ms || svc_poll_ms == ctx->o.svc_poll_ms)
		return;
	ctx->o.svc_poll_ms = svc_poll_ms;
	if (zt_timer_armed(&ctx->poll_timer))
		zt_timer_start(ctx->loop, &ctx->poll_timer, svc_poll_ms);
}

int zt_ctx_start(struct zt_ctx *ctx)
{
	if (ctx->started)
		return -EALREADY;
	ctx->started = true;
	ctx->start_ms = zt_now_ms();
	ask_version(ctx);
	return 0;
}

static void ask_version(struct zt_ctx *ctx)
{
	zt_timer_stop(ctx->loop, &ctx->auth_retry_timer);
	ctx->auth = ZT_AUTH_PENDING; /* version first, then authenticate */
	ctx->version_req = zt_http_request(ctx, "GET", "/version", NULL, version_cb, ctx);
	if (!ctx->version_req)
		auth_not_issued(ctx, "controller /version");
}

void zt_ctx_free(struct zt_ctx *ctx)
{
	if (!ctx)
		return;
	zt_ctx_scratch_free(ctx);
	zt_renew_free(ctx->renew);
	while (ctx->listeners)
		zt_listener_close(ctx->listeners);
	while (ctx->conns)
		zt_close(ctx->conns);
	while (ctx->dsfs) {
		struct zt_dsf *f = ctx->dsfs;

		ctx->dsfs = f->next;
		free(f->w);
		free(f->service_id);
		free(f);
	}
	while (ctx->sess_reqs)
		zt_sess_req_cancel(ctx->sess_reqs);
	zt_chan_free_all(ctx);
	zt_http_cancel(ctx->auth_req);
	zt_http_cancel(ctx->poll_req);
	zt_http_cancel(ctx->refresh_req);
	zt_http_cancel(ctx->list_req);
	zt_http_cancel(ctx->version_req);
	zt_http_cancel(ctx->ctrls_req);
	zt_timer_stop(ctx->loop, &ctx->poll_timer);
	zt_timer_stop(ctx->loop, &ctx->refresh_timer);
	zt_timer_stop(ctx->loop, &ctx->auth_retry_timer);
	struct zt_auth_waiter *w = ctx->auth_waiters;

	while (w) {
		struct zt_auth_waiter *n = w->next;

		free(w);
		w = n;
	}
	for (size_t i = 0; i < ctx->nsvcs; i++)
		zt_svc_free(ctx->svcs[i]);
	free(ctx->svcs);
	json_object_put(ctx->list_acc);
	free(ctx->api_token);
	free(ctx->api_session_id);
	free(ctx->identity_name);
	free(ctx->edge_path);
	free(ctx->last_change);
	zt_services_free(ctx);
	zt_oidc_free(ctx);
	free(ctx->oidc_path);
	zt_curl_free(ctx);
	zt_ctrls_free(&ctx->ctrls);
	zt_resolver_free(ctx->res); /* after every request that used it was cancelled above */
	zt_identity_free(ctx->id);
	free(ctx);
}
