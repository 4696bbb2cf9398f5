// SPDX-License-Identifier: GPL-2.0
/*
 * Services of the edge client: the service list (configTypes=all, paged), change detection
 * by fingerprint, and the service-update poll that triggers a new listing.
 */
#include "zt_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---------------- services ---------------- */

void zt_svc_free(struct zt_svc *s)
{
	if (!s)
		return;
	free(s->pub.id);
	free(s->pub.name);
	free(s->pub.configs_json);
	free(s->pub.intercept_v1_json);
	free(s->pub.host_v1_json);
	free(s->fingerprint);
	zt_session_put(s->dial_session);
	free(s);
}

static char *jdup_obj(struct json_object *o)
{
	return o ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) : NULL;
}

static struct zt_svc *svc_parse(struct json_object *o)
{
	const char *id = zt_jstr(o, "id"), *name = zt_jstr(o, "name");

	if (!id || !name)
		return NULL;
	struct zt_svc *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->pub.id = strdup(id);
	s->pub.name = strdup(name);
	struct json_object *perms = zt_jget(o, "permissions");

	for (size_t i = 0; perms && json_object_is_type(perms, json_type_array) &&
			   i < json_object_array_length(perms); i++) {
		const char *p = json_object_get_string(json_object_array_get_idx(perms, i));

		if (p && !strcmp(p, "Dial"))
			s->pub.perms |= ZT_PERM_DIAL;
		else if (p && !strcmp(p, "Bind"))
			s->pub.perms |= ZT_PERM_BIND;
	}
	struct json_object *enc = zt_jget(o, "encryptionRequired");

	s->pub.encryption_required = enc ? json_object_get_boolean(enc) : true;
	struct json_object *cfg = zt_jget(o, "config");

	if (cfg && json_object_is_type(cfg, json_type_object)) {
		s->pub.configs_json = jdup_obj(cfg);
		s->pub.intercept_v1_json = jdup_obj(zt_jget(cfg, "intercept.v1"));
		s->pub.host_v1_json = jdup_obj(zt_jget(cfg, "host.v1"));
	}
	char *fp = NULL;

	if (asprintf(&fp, "%s|%u|%d|%s", id, s->pub.perms, s->pub.encryption_required,
		     s->pub.configs_json ? s->pub.configs_json : "") < 0)
		fp = NULL;
	s->fingerprint = fp;
	return s;
}

struct zt_svc *zt_svc_find(struct zt_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->nsvcs; i++)
		if (!strcmp(ctx->svcs[i]->pub.name, name))
			return ctx->svcs[i];
	return NULL;
}

const struct zt_service *zt_service_find(struct zt_ctx *ctx, const char *name)
{
	struct zt_svc *s = zt_svc_find(ctx, name);

	return s ? &s->pub : NULL;
}

const struct zt_service *zt_service_at(struct zt_ctx *ctx, size_t i)
{
	return i < ctx->nsvcs ? &ctx->svcs[i]->pub : NULL;
}


/*
 * A service whose policies require posture checks that do not pass. OS, MAC and PROCESS checks
 * are answered (zt_posture.c); for the others (MFA, DOMAIN) the controller refuses the
 * sessions of that policy type: say so when the service appears or changes, naming the checks,
 * instead of leaving only the refusal. With @answered, only the answered checks that still
 * fail after this client's answer, each logged once (zt_posture_note_failing).
 */
static void posture_note(struct zt_ctx *ctx, struct json_object *svc, const char *name, bool answered)
{
	struct json_object *pq = zt_jget(svc, "postureQueries");
	size_t np = pq && json_object_is_type(pq, json_type_array) ? json_object_array_length(pq) : 0;

	for (size_t i = 0; i < np; i++) {
		struct json_object *pol = json_object_array_get_idx(pq, i);
		struct json_object *qs = zt_jget(pol, "postureQueries"), *pass = zt_jget(pol, "isPassing");
		size_t nq = qs && json_object_is_type(qs, json_type_array) ? json_object_array_length(qs) : 0;
		char types[200] = "";
		size_t off = 0;

		if (pass && json_object_get_boolean(pass))
			continue;
		for (size_t j = 0; j < nq && off < sizeof(types); j++) {
			struct json_object *q = json_object_array_get_idx(qs, j), *qp = zt_jget(q, "isPassing");
			const char *t = zt_jstr(q, "queryType");
			bool ours = t && (!strcmp(t, "OS") || !strcmp(t, "MAC") || !strcmp(t, "PROCESS") ||
					  !strcmp(t, "PROCESS_MULTI"));

			if (qp && json_object_get_boolean(qp))
				continue;
			if (answered && ours)
				zt_posture_note_failing(ctx, name, t);
			if (answered || ours)
				continue;
			off += (size_t)snprintf(types + off, sizeof(types) - off, "%s%s", off ? ", " : "", t ? t : "?");
		}
		if (*types)
			zt_log(ctx, 1, "service %s: posture checks not passing for its %s policy: %s (not supported by "
				       "this client: the controller refuses those sessions)",
			       name, zt_jstr(pol, "policyType") ? zt_jstr(pol, "policyType") : "?", types);
	}
}

static void apply_service_list(struct zt_ctx *ctx, struct json_object *arr)
{
	size_t n = json_object_array_length(arr);
	struct zt_svc **nv = calloc(n ? n : 1, sizeof(*nv));
	size_t nn = 0;

	if (!nv)
		return;
	for (size_t i = 0; i < ctx->nsvcs; i++)
		ctx->svcs[i]->seen = false;
	for (size_t i = 0; i < n; i++) {
		struct zt_svc *s = svc_parse(json_object_array_get_idx(arr, i));

		if (!s)
			continue;
		struct zt_svc *old = zt_svc_find(ctx, s->pub.name);
		int ev = ZT_SVC_ADDED;

		if (old) {
			old->seen = true;
			if (!strcmp(old->fingerprint, s->fingerprint)) {
				zt_svc_free(s);
				nv[nn++] = old;
				continue;
			}
			ev = ZT_SVC_CHANGED;
			if (!strcmp(old->pub.id, s->pub.id)) { /* keep the dial session */
				s->dial_session = old->dial_session;
				old->dial_session = NULL;
			}
		}
		nv[nn++] = s;
		posture_note(ctx, json_object_array_get_idx(arr, i), s->pub.name, false);
		s->seen = (ev == ZT_SVC_ADDED) ? false : true; /* marks "new object" below */
		(void)ev;
	}
	/* swap lists, fire events */
	struct zt_svc **oldv = ctx->svcs;
	size_t oldn = ctx->nsvcs;

	ctx->svcs = nv;
	ctx->nsvcs = nn;
	for (size_t i = 0; i < oldn; i++) {
		struct zt_svc *o = oldv[i];
		bool kept = false;

		for (size_t j = 0; j < nn; j++)
			if (nv[j] == o)
				kept = true;
		if (kept)
			continue;
		if (!o->seen) {
			zt_log(ctx, 2, "service removed: %s", o->pub.name);
			if (ctx->cbs.on_service)
				ctx->cbs.on_service(ctx, &o->pub, ZT_SVC_REMOVED, ctx->user);
		}
		zt_svc_free(o);
	}
	for (size_t j = 0; j < nn; j++) {
		struct zt_svc *s = nv[j];
		bool existed = false;

		for (size_t i = 0; i < oldn; i++)
			if (oldv[i] == s)
				existed = true;
		if (existed)
			continue;
		int ev = s->seen ? ZT_SVC_CHANGED : ZT_SVC_ADDED;

		s->seen = true;
		zt_log(ctx, 2, "service %s: %s (perms %u, encryption %s)", ev == ZT_SVC_ADDED ? "added" : "changed",
		       s->pub.name, s->pub.perms, s->pub.encryption_required ? "required" : "off");
		if (ctx->cbs.on_service)
			ctx->cbs.on_service(ctx, &s->pub, ev, ctx->user);
	}
	free(oldv);
	zt_listener_kick(ctx);
}


/* A listing failed or could not be sent: the change it was for stays pending; retry. */
static void list_failed(struct zt_ctx *ctx, int code, const char *err)
{
	unsigned d = zt_ctx_backoff_ms(ctx, ctx->list_failures++);

	json_object_put(ctx->list_acc);
	ctx->list_acc = NULL;
	free(ctx->list_stamp);
	ctx->list_stamp = NULL;
	zt_log(ctx, 1, "%s (retrying in %u ms)", err, d);
	zt_timer_start(ctx->loop, &ctx->list_retry_timer, d);
	if (!ctx->ready_reported)
		zt_ctx_ready(ctx, code, err);
}

static void list_retry_cb(void *arg)
{
	zt_services_list(arg);
}

static void list_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_ctx *ctx = arg;
	char err[512];

	ctx->list_req = NULL;
	if (r->status == 401) {
		zt_ctx_token_refused(ctx);
		json_object_put(ctx->list_acc);
		ctx->list_acc = NULL;
		ctx->list_again = true; /* after re-authentication */
		zt_ctx_need_auth(ctx, NULL, NULL);
		return;
	}
	if (r->status != 200) {
		zt_resp_error(r, err, sizeof(err), "list services");
		list_failed(ctx, -EIO, err);
		return;
	}
	struct json_object *root = json_tokener_parse(r->body);
	struct json_object *data = zt_jget(root, "data");
	struct json_object *pag = zt_jget(zt_jget(root, "meta"), "pagination");
	int64_t total = json_object_get_int64(zt_jget(pag, "totalCount"));

	if (!data || !json_object_is_type(data, json_type_array)) {
		json_object_put(root);
		list_failed(ctx, -EPROTO, "list services: malformed response");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(data); i++)
		json_object_array_add(ctx->list_acc, json_object_get(json_object_array_get_idx(data, i)));
	size_t got = json_object_array_length(data);

	json_object_put(root);
	ctx->list_offset += got;
	if (got > 0 && ctx->list_offset < total) {
		zt_services_list(ctx);
		return;
	}
	struct json_object *all = ctx->list_acc;

	ctx->list_acc = NULL;
	apply_service_list(ctx, all);
	/* posture responses first: ready once the checks they answer pass (listed again) */
	bool posting = zt_posture_after_list(ctx, all);

	for (size_t i = 0; !posting && i < json_object_array_length(all); i++) {
		struct json_object *o = json_object_array_get_idx(all, i);

		if (zt_jstr(o, "name"))
			posture_note(ctx, o, zt_jstr(o, "name"), true);
	}
	json_object_put(all);
	ctx->list_failures = 0;
	if (ctx->list_stamp) { /* the change the poll saw before this listing began is applied */
		free(ctx->last_change);
		ctx->last_change = ctx->list_stamp;
		ctx->list_stamp = NULL;
	}
	if (!posting)
		zt_ctx_ready(ctx, 0, "ready");
	if (ctx->list_again) {
		ctx->list_again = false;
		zt_services_list(ctx);
	}
}

static void ident_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_ctx *ctx = arg;
	char err[512];

	ctx->ident_req = NULL;
	if (r->status == 401) {
		zt_ctx_token_refused(ctx);
		json_object_put(ctx->list_acc);
		ctx->list_acc = NULL;
		ctx->list_again = true; /* after re-authentication */
		zt_ctx_need_auth(ctx, NULL, NULL);
		return;
	}
	struct json_object *root = r->status == 200 ? json_tokener_parse(r->body) : NULL;
	struct json_object *data = zt_jget(root, "data");

	if (!data || !json_object_is_type(data, json_type_object)) {
		json_object_put(root);
		if (r->status == 200)
			snprintf(err, sizeof(err), "current identity: malformed response");
		else
			zt_resp_error(r, err, sizeof(err), "current identity");
		list_failed(ctx, -EIO, err);
		return;
	}
	json_object_put(ctx->cur_identity);
	ctx->cur_identity = json_object_get(data);
	json_object_put(root);
	ctx->ident_done = true;
	zt_services_list(ctx);
}

const char *zt_ctx_identity_attr(struct zt_ctx *ctx, const char *kind, const char *key)
{
	struct json_object *m = zt_jget(ctx->cur_identity, !strcmp(kind, "tag") ? "tags" : kind);
	struct json_object *v = json_object_is_type(m, json_type_object) ? zt_jget(m, key) : NULL;

	return v && !json_object_is_type(v, json_type_null) ? json_object_get_string(v) : NULL;
}

void zt_services_list(struct zt_ctx *ctx)
{
	char path[512];

	if (ctx->list_req || ctx->ident_req) {
		ctx->list_again = true;
		return;
	}
	if (ctx->auth != ZT_AUTH_OK) {
		ctx->list_again = true;
		zt_ctx_need_auth(ctx, NULL, NULL);
		return;
	}
	zt_timer_stop(ctx->loop, &ctx->list_retry_timer);
	if (!ctx->list_acc) {
		ctx->list_acc = json_object_new_array();
		ctx->list_offset = 0;
		free(ctx->list_stamp);
		ctx->list_stamp = ctx->seen_change ? strdup(ctx->seen_change) : NULL;
		ctx->ident_done = false;
	}
	if (!ctx->list_acc) {
		list_failed(ctx, -ENOMEM, "list services: out of memory");
		return;
	}
	if (!ctx->ident_done) { /* tags and appData first: templates of the services use them */
		snprintf(path, sizeof(path), "%s/current-identity", ctx->edge_path);
		ctx->ident_req = zt_http_request(ctx, "GET", path, NULL, ident_cb, ctx);
		if (!ctx->ident_req)
			list_failed(ctx, -ENOMEM, "current identity: request could not be issued");
		return;
	}
	snprintf(path, sizeof(path), "%s/services?configTypes=all&limit=500&offset=%u", ctx->edge_path,
		 ctx->list_offset);
	ctx->list_req = zt_http_request(ctx, "GET", path, NULL, list_cb, ctx);
	if (!ctx->list_req)
		list_failed(ctx, -ENOMEM, "list services: request could not be issued");
}

void zt_services_init(struct zt_ctx *ctx)
{
	zt_timer_init(&ctx->list_retry_timer, list_retry_cb, ctx);
	zt_posture_init(ctx);
}

void zt_services_free(struct zt_ctx *ctx)
{
	zt_timer_stop(ctx->loop, &ctx->list_retry_timer);
	zt_posture_free(ctx);
	zt_http_cancel(ctx->ident_req);
	json_object_put(ctx->cur_identity);
	free(ctx->seen_change);
	free(ctx->list_stamp);
}

void zt_ctx_services_changed_hint(struct zt_ctx *ctx)
{
	zt_services_list(ctx);
}

/* ---------------- polling ---------------- */

static void poll_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_ctx *ctx = arg;

	ctx->poll_req = NULL;
	zt_timer_start(ctx->loop, &ctx->poll_timer, ctx->o.svc_poll_ms);
	if (r->status == 401) {
		zt_log(ctx, 1, "service poll: API session no longer valid, re-authenticating");
		zt_ctx_token_refused(ctx);
		ctx->list_again = true;
		zt_ctx_need_auth(ctx, NULL, NULL);
		return;
	}
	if (r->status != 200) {
		char err[512];

		zt_resp_error(r, err, sizeof(err), "service poll");
		zt_log(ctx, 1, "%s", err);
		return;
	}
	struct json_object *root = json_tokener_parse(r->body);
	const char *lc = zt_jstr(zt_jget(root, "data"), "lastChangeAt");

	/*
	 * Not yet committed by a complete listing (the first poll too: a change may have come
	 * between the first listing and this poll). A listing already under way for this
	 * stamp, or a retry waiting for its backoff, is left to finish.
	 */
	if (lc && (!ctx->last_change || strcmp(lc, ctx->last_change))) {
		bool same = ctx->seen_change && !strcmp(lc, ctx->seen_change);

		if (!same) {
			free(ctx->seen_change);
			ctx->seen_change = strdup(lc);
		}
		if (!(same && ctx->list_req && ctx->list_stamp && !strcmp(lc, ctx->list_stamp)) &&
		    !zt_timer_armed(&ctx->list_retry_timer))
			zt_services_list(ctx);
	}
	json_object_put(root);
}

void zt_services_poll_timer_cb(void *arg)
{
	struct zt_ctx *ctx = arg;
	char path[512];

	if (ctx->auth != ZT_AUTH_OK) {
		zt_timer_start(ctx->loop, &ctx->poll_timer, ctx->o.svc_poll_ms);
		ctx->list_again = true;
		zt_ctx_need_auth(ctx, NULL, NULL);
		return;
	}
	if (ctx->poll_req)
		return;
	/* a cluster's lists may lack members' addresses for a while after its start: ask again */
	if (ctx->ctrls.n < 2 || ctx->ctrls_incomplete)
		zt_ctx_learn_ctrls(ctx);
	snprintf(path, sizeof(path), "%s/current-api-session/service-updates", ctx->edge_path);
	ctx->poll_req = zt_http_request(ctx, "GET", path, NULL, poll_cb, ctx);
	if (!ctx->poll_req) {
		zt_log(ctx, 1, "service poll: request could not be issued (next in %u ms)", ctx->o.svc_poll_ms);
		zt_timer_start(ctx->loop, &ctx->poll_timer, ctx->o.svc_poll_ms);
	}
}
