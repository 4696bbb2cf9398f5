// SPDX-License-Identifier: GPL-2.0
/*
 * zt: a service's terminators as the controller lists them to an identity that may bind or dial
 * it (client API: GET services/ID/terminators, each terminator's id, routerId and createdAt;
 * not the identity that hosts it), with the routers' names from current-identity/edge-routers
 * (the names the sessions give the channels, zt_session.c). The ip-pool server counts them
 * against its own (pool_excl.c: a second pool server).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ziti/zt_internal.h"

struct zt_terms_req {
	struct zt_ctx *ctx;
	char *svc_id;
	zt_terms_cb cb;
	void *arg;
	struct zt_http *h;
	struct json_object *routers; /* current-identity/edge-routers' data */
};

static void terms_done(struct zt_terms_req *r, int err, const char *msg, const struct zt_term_info *t, size_t n,
		       size_t total)
{
	zt_terms_cb cb = r->cb;
	void *arg = r->arg;

	json_object_put(r->routers);
	free(r->svc_id);
	free(r);
	cb(arg, err, msg, t, n, total);
}

static int64_t page_total(struct json_object *root)
{
	return json_object_get_int64(zt_jget(zt_jget(zt_jget(root, "meta"), "pagination"), "totalCount"));
}

static const char *router_name(struct json_object *routers, const char *id)
{
	for (size_t i = 0; routers && i < json_object_array_length(routers); i++) {
		struct json_object *o = json_object_array_get_idx(routers, i);
		const char *rid = zt_jstr(o, "id");

		if (rid && !strcmp(rid, id))
			return zt_jstr(o, "name");
	}
	return NULL;
}

int zt_terms_parse(const char *body, struct json_object *routers, struct zt_term_info **out, size_t *n,
		   size_t *total, char *err, size_t errlen)
{
	struct json_object *root = json_tokener_parse(body ? body : "");
	struct json_object *data = zt_jget(root, "data");
	struct zt_term_info *t = NULL;
	size_t k = 0, len;
	int64_t tot;

	*out = NULL;
	*n = *total = 0;
	if (!data || !json_object_is_type(data, json_type_array)) {
		json_object_put(root);
		snprintf(err, errlen, "terminators: malformed response");
		return -EPROTO;
	}
	len = json_object_array_length(data);
	tot = page_total(root);
	t = calloc(len ? len : 1, sizeof(*t));
	if (!t) {
		json_object_put(root);
		snprintf(err, errlen, "terminators: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < len; i++) {
		struct json_object *o = json_object_array_get_idx(data, i);
		const char *id = zt_jstr(o, "id"), *rid = zt_jstr(o, "routerId"), *at = zt_jstr(o, "createdAt");
		const char *rname;

		if (!id || !rid || !*id || !*rid || strlen(id) >= sizeof(t->id) || strlen(rid) >= sizeof(t->router_id)) {
			free(t);
			json_object_put(root);
			snprintf(err, errlen, "terminators: entry %zu without a usable id or routerId", i);
			return -EPROTO;
		}
		snprintf(t[k].id, sizeof(t[k].id), "%s", id);
		snprintf(t[k].router_id, sizeof(t[k].router_id), "%s", rid);
		rname = router_name(routers, rid);
		snprintf(t[k].router, sizeof(t[k].router), "%s", rname ? rname : "");
		snprintf(t[k].created, sizeof(t[k].created), "%s", at ? at : "");
		k++;
	}
	json_object_put(root);
	*out = t;
	*n = k;
	*total = tot > (int64_t)k ? (size_t)tot : k;
	return 0;
}

/* a reply other than 200 ends the request (a 401: authenticate again now; asked again later) */
static bool terms_http_failed(struct zt_terms_req *r, const struct zt_http_resp *resp, const char *what)
{
	char err[512];

	r->h = NULL;
	if (resp->status == 200)
		return false;
	if (resp->status == 401) {
		zt_ctx_token_refused(r->ctx);
		zt_ctx_need_auth(r->ctx, NULL, NULL);
	}
	zt_resp_error(resp, err, sizeof(err), what);
	terms_done(r, resp->status == 401 ? -EACCES : -EIO, err, NULL, 0, 0);
	return true;
}

static void terms_cb(void *arg, const struct zt_http_resp *resp)
{
	struct zt_terms_req *r = arg;
	struct zt_term_info *t;
	size_t n, total;
	char err[512];
	int rc;

	if (terms_http_failed(r, resp, "list the service's terminators"))
		return;
	rc = zt_terms_parse(resp->body, r->routers, &t, &n, &total, err, sizeof(err));
	if (rc) {
		terms_done(r, rc, err, NULL, 0, 0);
		return;
	}
	terms_done(r, 0, NULL, t, n, total);
	free(t);
}

static void routers_cb(void *arg, const struct zt_http_resp *resp)
{
	struct zt_terms_req *r = arg;
	struct json_object *root;
	char path[512];

	if (terms_http_failed(r, resp, "list the identity's edge routers"))
		return;
	root = json_tokener_parse(resp->body);
	if (!zt_jget(root, "data") || !json_object_is_type(zt_jget(root, "data"), json_type_array)) {
		json_object_put(root);
		terms_done(r, -EPROTO, "edge routers: malformed response", NULL, 0, 0);
		return;
	}
	r->routers = json_object_get(zt_jget(root, "data"));
	json_object_put(root);
	snprintf(path, sizeof(path), "%s/services/%s/terminators?limit=500", r->ctx->edge_path, r->svc_id);
	r->h = zt_http_request(r->ctx, "GET", path, NULL, terms_cb, r);
	if (!r->h)
		terms_done(r, -ENOMEM, "list the service's terminators: request could not be issued", NULL, 0, 0);
}

struct zt_terms_req *zt_service_terminators(struct zt_ctx *ctx, const char *service, zt_terms_cb cb, void *arg)
{
	const struct zt_service *s = zt_service_find(ctx, service);
	struct zt_terms_req *r;
	char path[512];

	if (!s || !s->id || ctx->auth != ZT_AUTH_OK)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->svc_id = strdup(s->id))) {
		free(r);
		return NULL;
	}
	r->ctx = ctx;
	r->cb = cb;
	r->arg = arg;
	snprintf(path, sizeof(path), "%s/current-identity/edge-routers?limit=500", ctx->edge_path);
	r->h = zt_http_request(ctx, "GET", path, NULL, routers_cb, r);
	if (!r->h) {
		free(r->svc_id);
		free(r);
		return NULL;
	}
	return r;
}

void zt_terms_cancel(struct zt_terms_req *r)
{
	if (!r)
		return;
	zt_http_cancel(r->h);
	json_object_put(r->routers);
	free(r->svc_id);
	free(r);
}
