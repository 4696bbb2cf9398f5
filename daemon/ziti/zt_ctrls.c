// SPDX-License-Identifier: GPL-2.0
/*
 * The controllers of the network and failover between them (HA clusters).
 *
 * The list starts with the identity's ztAPI and grows with what the controller reports:
 * GET <client API>/controllers (when /version lists HA_CONTROLLER), each member's
 * apiAddresses["edge-client"][].url. Addresses are only added, never dropped: a member's
 * list may lack some addresses (v1.6 sometimes omits one or all of them), so what was once
 * learned is kept.
 *
 * Every controller request goes to the current member (zt_curl.c asks zt_ctrls_current).
 * A request that ends with a transport error (refused, reset, timeout, TLS) or an HTTP 5xx
 * marks that member failed, and so does an OIDC token refresh it answers without a raft
 * leader (zt_ctx_ctrl_unable, from zt_oidc.c): it is not chosen again for a while (1 s doubling, at most 30 s)
 * and the next member in list order that is not held back becomes current; when all are held
 * back, the one whose hold ends first. The callers retry as before (authentication, service
 * poll, listing, sessions) and so continue against the new member.
 *
 * Authentication after a switch: an OIDC access token is a JWT signed for the whole cluster,
 * so it is kept (a member that refuses it answers 401, which refreshes it first);
 * legacy API sessions exist only at the member that issued them, so a switch with legacy
 * authentication authenticates again at once. Router channels and circuits do not depend on
 * the controller and stay up.
 *
 * The members are also written back to the identity file's ztAPIs (o.save_ctrls; sipovld
 * does), as ziti-sdk-c hands its application the learned list to save: each member's first
 * Edge API URL, members without one left out, written only when the set differs from what
 * the file holds, so that a restart reaches the cluster even when the ztAPI member is down.
 * One rule beyond the SDK: a reply in which some member lacks an address (v1.6.5 lists the
 * other members without addresses for a while after the cluster starts) keeps the file's
 * other URLs, and a reply without any address changes nothing; such a reply is asked again
 * at every service poll until it is complete. The file is written by zt_idapis.c.
 *
 * The list logic (zt_ctrls_*, zt_urls_*) does no I/O; zt-unit tests it directly.
 */
#include "zt_internal.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOLD_MIN_MS 1000u
#define HOLD_MAX_MS 30000u

static int fail(char *err, size_t errlen, const char *fmt, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, what);
	return -1;
}

int zt_ctrls_add(struct zt_ctrls *l, const char *url, char *err, size_t errlen)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	int rc;

	if (!url || zt_parse_url(url, &scheme, &host, &port, &path))
		return fail(err, errlen, "controller address '%s': not a URL", url ? url : "(null)");
	free(path);
	if (strcmp(scheme, "https")) {
		rc = fail(err, errlen, "controller address '%s': not https", url);
		goto out;
	}
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].host, host) && !strcmp(l->v[i].port, port)) {
			rc = 0;
			goto out;
		}
	if (l->n == ZT_CTRLS_MAX) {
		rc = fail(err, errlen, "controller address '%s': too many controllers", url);
		goto out;
	}
	l->v[l->n] = (struct zt_ctrl){ .host = host, .port = port };
	l->n++;
	host = port = NULL;
	rc = 1;
out:
	free(scheme);
	free(host);
	free(port);
	return rc;
}

/*
 * The `/controllers` reply: for each member (data[]), each of its edge-client API URLs in order.
 * @fn returns 0 for the member's next URL, 1 to go on with the next member, -1 to stop with
 * an error (out of memory). Returns 0, or -1 with @err filled.
 */
typedef int (*ctrls_url_fn)(void *arg, const char *url);

static int ctrls_walk(const char *body, ctrls_url_fn fn, void *arg, size_t *members, char *err, size_t errlen)
{
	struct json_object *root = json_tokener_parse(body ? body : "");
	struct json_object *data = zt_jget(root, "data");
	int rc = 0;

	if (!data || !json_object_is_type(data, json_type_array)) {
		json_object_put(root);
		return fail(err, errlen, "%s", "controller list: no data array");
	}
	for (size_t i = 0; rc >= 0 && i < json_object_array_length(data); i++) {
		struct json_object *ec = zt_jget(zt_jget(json_object_array_get_idx(data, i), "apiAddresses"),
						 "edge-client");
		size_t n = ec && json_object_is_type(ec, json_type_array) ? json_object_array_length(ec) : 0;

		if (members)
			(*members)++;
		rc = 0;
		for (size_t j = 0; rc == 0 && j < n; j++)
			rc = fn(arg, zt_jstr(json_object_array_get_idx(ec, j), "url"));
	}
	json_object_put(root);
	return rc < 0 ? fail(err, errlen, "%s", "controller list: out of memory") : 0;
}

struct add_arg {
	struct zt_ctrls *l;
	int added;
};

static int add_url(void *arg, const char *url)
{
	struct add_arg *a = arg;

	/* a bad or surplus address is skipped; the others are still learned */
	if (url && zt_ctrls_add(a->l, url, NULL, 0) == 1)
		a->added++;
	return 0;
}

int zt_ctrls_add_list(struct zt_ctrls *l, const char *body, char *err, size_t errlen)
{
	struct add_arg a = { .l = l };

	if (ctrls_walk(body, add_url, &a, NULL, err, errlen))
		return -1;
	return a.added;
}

/* ---------------- the members written back to the identity (ztAPIs) ---------------- */

static bool is_https_url(const char *u)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	bool ok = u && !zt_parse_url(u, &scheme, &host, &port, &path) && !strcmp(scheme, "https");

	free(scheme);
	free(host);
	free(port);
	free(path);
	return ok;
}

static bool urls_has(const struct zt_urls *m, const char *u)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i], u))
			return true;
	return false;
}

/* append a copy of @u unless known or there is no room: -1 only when out of memory */
static int urls_push(struct zt_urls *m, const char *u)
{
	if (urls_has(m, u) || m->n == ZT_CTRLS_MAX)
		return 0;
	m->v[m->n] = strdup(u);
	if (!m->v[m->n])
		return -1;
	m->n++;
	return 0;
}

void zt_urls_free(struct zt_urls *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i]);
	memset(m, 0, sizeof(*m));
}

static int member_url(void *arg, const char *url)
{
	if (!is_https_url(url))
		return 0;
	/* the member's first usable address, as ziti-sdk-c takes its first */
	return urls_push(arg, url) ? -1 : 1;
}

int zt_urls_members(struct zt_urls *m, const char *body, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	if (ctrls_walk(body, member_url, m, &m->listed, err, errlen)) {
		zt_urls_free(m);
		return -1;
	}
	return 0;
}

int zt_urls_apis(struct zt_urls *m, struct json_object *apis, const char *ztapi)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; apis && json_object_is_type(apis, json_type_array) && i < json_object_array_length(apis);
	     i++) {
		struct json_object *e = json_object_array_get_idx(apis, i);

		if (json_object_is_type(e, json_type_string) && urls_push(m, json_object_get_string(e)))
			goto oom;
	}
	if (!m->n && ztapi && urls_push(m, ztapi)) /* no ztAPIs: the one controller the file names */
		goto oom;
	m->listed = m->n;
	return 0;
oom:
	zt_urls_free(m);
	return -1;
}

bool zt_urls_same_set(const struct zt_urls *a, const struct zt_urls *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!urls_has(b, a->v[i]))
			return false;
	return true;
}

int zt_urls_next(const struct zt_urls *m, const struct zt_urls *old, struct zt_urls *out)
{
	memset(out, 0, sizeof(*out));
	if (!m->n)
		return 0;
	for (size_t i = 0; i < m->n; i++)
		if (urls_push(out, m->v[i]))
			goto oom;
	for (size_t i = 0; m->n < m->listed && i < old->n; i++)
		if (urls_push(out, old->v[i]))
			goto oom;
	out->listed = out->n;
	if (!zt_urls_same_set(out, old))
		return 1;
	zt_urls_free(out);
	return 0;
oom:
	zt_urls_free(out);
	return -1;
}

/* ---------------- failover ---------------- */

bool zt_ctrls_failed(struct zt_ctrls *l, size_t idx, uint64_t now_ms)
{
	struct zt_ctrl *c;
	size_t best = l->cur;
	unsigned hold;

	if (idx >= l->n || idx != l->cur) /* an older request: the list moved on already */
		return false;
	c = &l->v[idx];
	hold = HOLD_MIN_MS << (c->fails < 5 ? c->fails : 5);
	c->fails++;
	c->down_until_ms = now_ms + (hold < HOLD_MAX_MS ? hold : HOLD_MAX_MS);
	for (size_t k = 1; k < l->n; k++) {
		size_t j = (idx + k) % l->n;

		if (l->v[j].down_until_ms <= now_ms) {
			best = j;
			break;
		}
		if (best == idx || l->v[j].down_until_ms < l->v[best].down_until_ms)
			best = j;
	}
	if (best == idx)
		return false;
	l->cur = best;
	l->switches++;
	return true;
}

void zt_ctrls_ok(struct zt_ctrls *l, size_t idx)
{
	if (idx < l->n) {
		l->v[idx].fails = 0;
		l->v[idx].down_until_ms = 0;
	}
}

void zt_ctrls_free(struct zt_ctrls *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].host);
		free(l->v[i].port);
	}
	memset(l, 0, sizeof(*l));
}

/* ---------------- the context's side ---------------- */

const char *zt_ctx_controller(const struct zt_ctx *ctx, char *buf, size_t len, uint64_t *switches)
{
	const struct zt_ctrls *l = &ctx->ctrls;

	if (l->cur < l->n)
		snprintf(buf, len, "%s:%s", l->v[l->cur].host, l->v[l->cur].port);
	else if (len)
		buf[0] = '\0';
	*switches = l->switches;
	return buf;
}

/* a request to member @idx ended: @r its outcome (zt_curl.c) */
void zt_ctx_ctrl_outcome(struct zt_ctx *ctx, size_t idx, const struct zt_http_resp *r)
{
	struct zt_ctrls *l = &ctx->ctrls;
	char was[300];

	if (r->status != 0 && r->status < 500) {
		zt_ctrls_ok(l, idx);
		if (ctx->posture.ctrl_lost) {
			/* restarted, or another member: it may not have the posture answers */
			ctx->posture.ctrl_lost = false;
			zt_posture_resend(ctx, "the controller answers again");
		}
		return;
	}
	if (r->status == 0 && r->err && strstr(r->err, "out of memory"))
		return;
	ctx->posture.ctrl_lost = true;
	if (idx >= l->n || idx != l->cur)
		return;
	snprintf(was, sizeof(was), "%s:%s", l->v[idx].host, l->v[idx].port);
	if (!zt_ctrls_failed(l, idx, zt_now_ms()))
		return;
	if (r->status)
		zt_log(ctx, 1, "controller %s failed (HTTP %d): continuing with %s:%s", was, r->status,
		       l->v[l->cur].host, l->v[l->cur].port);
	else
		zt_log(ctx, 1, "controller %s failed (%s): continuing with %s:%s", was,
		       r->err ? r->err : "transport error", l->v[l->cur].host, l->v[l->cur].port);
	if (ctx->auth == ZT_AUTH_OK && !ctx->bearer) {
		/* legacy API sessions are per controller: authenticate at the new one */
		zt_ctx_auth_invalid(ctx);
		ctx->list_again = true;
		zt_ctx_need_auth(ctx, NULL, NULL);
	}
}

void zt_ctx_ctrl_unable(struct zt_ctx *ctx, size_t idx, const char *what)
{
	struct zt_ctrls *l = &ctx->ctrls;
	char was[300];

	if (idx >= l->n || idx != l->cur)
		return;
	snprintf(was, sizeof(was), "%s:%s", l->v[idx].host, l->v[idx].port);
	if (zt_ctrls_failed(l, idx, zt_now_ms()))
		zt_log(ctx, 1, "controller %s %s: continuing with %s:%s", was, what, l->v[l->cur].host,
		       l->v[l->cur].port);
}

/*
 * The members of the reply @body into the identity file's ztAPIs (o.save_ctrls), as ziti-sdk-c
 * reports them to its application (a config event) when the set changed: checked first against
 * what the identity had when loaded or last written (no file I/O while nothing changed), then
 * against the file itself under its lock. A failed write is logged once (until one succeeds);
 * a write put off by the lock (a renewal running) is tried at the next reply.
 */
static void save_members(struct zt_ctx *ctx, const char *body)
{
	struct zt_identity *id = ctx->id;
	struct zt_urls m, old, next;
	struct json_object *apis = NULL;
	char err[1024];
	int rc;

	if (zt_urls_members(&m, body, NULL, 0))
		return;
	ctx->ctrls_incomplete = m.n < m.listed;
	if (!ctx->o.save_ctrls || !id->path) {
		zt_urls_free(&m);
		return;
	}
	if (id->apis_json)
		apis = json_tokener_parse(id->apis_json);
	rc = zt_urls_apis(&old, apis, id->api_url);
	json_object_put(apis);
	if (rc == 0)
		rc = zt_urls_next(&m, &old, &next);
	zt_urls_free(&old);
	if (rc == 1) {
		zt_urls_free(&next);
		rc = zt_identity_save_apis(id, &m, err, sizeof(err));
		if (rc == 1) {
			snprintf(err, sizeof(err), "ztAPIs now lists the cluster's controllers: %s",
				 id->apis_json ? id->apis_json : "?");
			if (ctx->cbs.on_ctrls)
				ctx->cbs.on_ctrls(ctx, err, ctx->user);
			else
				zt_log(ctx, 2, "identity %s: %s", id->path, err);
			ctx->apis_save_warned = false;
		} else if (rc == -1 && !ctx->apis_save_warned) {
			zt_log(ctx, 1, "identity %s: cannot write the cluster's controllers into ztAPIs: %s "
			       "(the file is unchanged; logged once)", id->path, err);
			ctx->apis_save_warned = true;
		}
	}
	zt_urls_free(&m);
}

static void ctrls_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_ctx *ctx = arg;
	char err[200];
	int n;

	ctx->ctrls_req = NULL;
	if (r->status != 200) {
		zt_resp_error(r, err, sizeof(err), "controller list");
		zt_log(ctx, 1, "%s", err);
		return;
	}
	n = zt_ctrls_add_list(&ctx->ctrls, r->body, err, sizeof(err));
	if (n < 0)
		zt_log(ctx, 1, "%s", err);
	else if (n > 0)
		zt_log(ctx, 2, "controller list: %d new member address%s, %zu known", n, n == 1 ? "" : "es",
		       ctx->ctrls.n);
	if (n >= 0)
		save_members(ctx, r->body);
}

void zt_ctx_learn_ctrls(struct zt_ctx *ctx)
{
	char path[512];

	if (!ctx->ha || ctx->ctrls_req)
		return;
	snprintf(path, sizeof(path), "%s/controllers", ctx->edge_path);
	ctx->ctrls_req = zt_http_request(ctx, "GET", path, NULL, ctrls_cb, ctx);
}
