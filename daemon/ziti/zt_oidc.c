// SPDX-License-Identifier: GPL-2.0
/*
 * OIDC authentication against the controller's edge-oidc API, as the reference SDKs do it:
 *
 *   1. GET  <oidc>/.well-known/openid-configuration  -> authorization and token endpoints
 *   2. POST <authorize>?client_id=openziti&response_type=code&code_challenge=S256(verifier)...
 *      -> 302 to the login page, whose query carries authRequestID
 *   3. POST /oidc/login/cert?id=<authRequestID> (the identity certificate is the TLS client
 *      certificate) -> 302 -> GET it -> 302 to the redirect_uri with code=<code>
 *   4. POST <token> grant_type=authorization_code, code, code_verifier -> access_token
 *      (a JWT: the bearer token of the client API and the routers' session token),
 *      refresh_token, expires_in
 *   5. before expiry: POST <token> grant_type=refresh_token -> a new access token
 *
 * What a refresh needs from an HA cluster (ziti v1.6.5): it revokes the refresh token's id, a
 * raft write, so a member without a raft leader refuses it (HTTP 400 "server_error": the OIDC
 * library answers every failure 400); a refresh token that is invalid or expired is refused
 * "invalid_grant", one already used (the answer to that refresh lost) server_error "an entity of
 * type revocation already exists": both mean a login. A login is no write (its auth request lives in the member's memory, one
 * member must serve all of its steps), and every member checks an access token on its own
 * (signature, revocations read locally). So a refresh that fails for want of a leader or of
 * an answer keeps the session (zt_oidc_refresh_again): it is sent again with backoff, at the
 * next member; while the access token is valid it stays in use, and shortly before it expires
 * a member that answered without a leader is asked for a login instead. Unanswered refreshes
 * go on past the expiry (requests wait, zt_ctx_token_refused) while the refresh token may
 * still be good: the first answered refresh continues the session, its API session and the
 * routers' channels unchanged.
 *
 * The endpoints the discovery document names are used by their path on the ztAPI host (the
 * same connections, resolver and TLS settings as every other controller request). Nothing is
 * followed automatically: each redirect is checked for what it must carry. MFA (TOTP) is not
 * supported: a login that asks for it fails with a clear error.
 */
#include "zt_internal.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OIDC_CLIENT "openziti"
#define OIDC_REDIRECT "http://localhost:20314/auth/callback"
/* "openziti:" in base64: the public client's HTTP Basic credentials for the refresh grant */
#define OIDC_BASIC "Basic b3BlbnppdGk6"

enum oidc_step { O_IDLE, O_CONFIG, O_AUTHORIZE, O_LOGIN, O_LOGIN_NEXT, O_TOKEN, O_REFRESH };

struct zt_oidc {
	struct zt_ctx *ctx;
	enum oidc_step step;
	struct zt_http *req;
	char *authorize_path, *token_path; /* from the discovery document */
	char *refresh_token;
	char verifier[64], challenge[64], state[64];
	uint64_t lifetime_ms; /* of the latest access token */
	unsigned fails;       /* refreshes failed in a row */
	size_t ctrl;          /* the member the refresh in flight went to */
	char *pin_host, *pin_port; /* the member the login in flight started on (NULL: one controller) */
	bool refused;         /* the access token was refused (401): no waiting for its expiry */
};

static const char *step_name(enum oidc_step s)
{
	static const char *const n[] = { "idle", "OIDC discovery", "OIDC authorize", "OIDC certificate login",
					 "OIDC login redirect", "OIDC token", "OIDC token refresh" };

	return n[s];
}

static void b64url(char *out, size_t outlen, const unsigned char *in, size_t inlen)
{
	sodium_bin2base64(out, outlen, in, inlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* path and query of a URL or of an absolute path; NULL if neither */
static const char *url_path(const char *u)
{
	const char *p;

	if (!u)
		return NULL;
	if (*u == '/')
		return u;
	if (strncmp(u, "https://", 8) || !(p = strchr(u + 8, '/')))
		return NULL;
	return p;
}

/* the decoded value of key in the query of url (malloc'd), or NULL */
static char *query_param(const char *url, const char *key)
{
	const char *q = url ? strchr(url, '?') : NULL;
	size_t kl = strlen(key);

	while (q && *q) {
		q++;
		const char *end = q + strcspn(q, "&#");

		if ((size_t)(end - q) > kl && !strncmp(q, key, kl) && q[kl] == '=') {
			int n = 0;
			char *v = curl_easy_unescape(NULL, q + kl + 1, (int)(end - q - kl - 1), &n);
			char *r = v ? strndup(v, (size_t)n) : NULL;

			curl_free(v);
			return r;
		}
		q = *end == '&' ? end : NULL;
	}
	return NULL;
}

static void oidc_fail(struct zt_oidc *o, const struct zt_http_resp *r, const char *why)
{
	enum oidc_step s = o->step;

	o->step = O_IDLE;
	zt_ctx_oidc_result(o->ctx, r, why, step_name(s), NULL, 0, s == O_REFRESH);
}

static void issue(struct zt_oidc *o, enum oidc_step s, const struct zt_http_opts *ho, zt_http_cb cb)
{
	struct zt_http_opts po = *ho;

	/* a login's steps after discovery go to the member it started on (its auth request) */
	if (s == O_AUTHORIZE || s == O_LOGIN || s == O_LOGIN_NEXT || s == O_TOKEN) {
		po.pin_host = o->pin_host;
		po.pin_port = o->pin_port;
	}
	o->step = s;
	o->req = zt_http_request_ex(o->ctx, &po, cb, o);
	if (!o->req)
		oidc_fail(o, NULL, po.pin_host ? "request could not be issued (to the login's controller: no longer a "
						 "cluster member, or out of memory)" : "request could not be issued");
}

static void unpin(struct zt_oidc *o)
{
	free(o->pin_host);
	free(o->pin_port);
	o->pin_host = o->pin_port = NULL;
}

static void token_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_oidc *o = arg;
	struct json_object *root;
	const char *at, *rt;
	int64_t exp;

	o->req = NULL;
	if (r->status != 200) {
		oidc_fail(o, r, NULL);
		return;
	}
	root = json_tokener_parse(r->body);
	at = zt_jstr(root, "access_token");
	rt = zt_jstr(root, "refresh_token");
	exp = json_object_get_int64(zt_jget(root, "expires_in"));
	if (!at || !*at) {
		json_object_put(root);
		oidc_fail(o, NULL, "no access_token in the token response");
		return;
	}
	o->lifetime_ms = (uint64_t)(exp > 0 ? exp : 60) * 1000;
	o->fails = 0;
	o->refused = false;
	if (rt) {
		char *n = strdup(rt);

		if (n) {
			free(o->refresh_token);
			o->refresh_token = n;
		}
	}
	enum oidc_step s = o->step;

	o->step = O_IDLE;
	zt_ctx_oidc_result(o->ctx, r, NULL, step_name(s), at, exp, s == O_REFRESH);
	json_object_put(root);
}

static void request_token(struct zt_oidc *o, const char *code)
{
	char *ec = curl_easy_escape(NULL, code, 0), *body = NULL;
	struct zt_http_opts ho = { .method = "POST", .path = o->token_path, .no_session = true,
				   .content_type = "application/x-www-form-urlencoded" };

	if (!ec || asprintf(&body,
			    "grant_type=authorization_code&code=%s&code_verifier=%s&client_id=" OIDC_CLIENT
			    "&state=%s&redirect_uri=http%%3A%%2F%%2Flocalhost%%3A20314%%2Fauth%%2Fcallback",
			    ec, o->verifier, o->state) < 0) {
		curl_free(ec);
		oidc_fail(o, NULL, "out of memory");
		return;
	}
	curl_free(ec);
	ho.body = body;
	issue(o, O_TOKEN, &ho, token_cb);
	OPENSSL_cleanse(body, strlen(body));
	free(body);
}

static void login_next_cb(void *arg, const struct zt_http_resp *r);

/* a redirect of the login: either to the next login step, or to the redirect_uri with the code */
static void follow_login(struct zt_oidc *o, const struct zt_http_resp *r)
{
	char *code, *st;

	if (r->location && !strncmp(r->location, OIDC_REDIRECT, strlen(OIDC_REDIRECT))) {
		code = query_param(r->location, "code");
		st = query_param(r->location, "state");
		if (!code || !st || strcmp(st, o->state)) {
			free(code);
			free(st);
			oidc_fail(o, NULL, "login redirect without a code or with a foreign state");
			return;
		}
		request_token(o, code);
		free(code);
		free(st);
		return;
	}
	const char *p = url_path(r->location);

	if (!p || o->step == O_LOGIN_NEXT) {
		oidc_fail(o, NULL, "login redirect to an unexpected place");
		return;
	}
	struct zt_http_opts ho = { .method = "GET", .path = p, .no_session = true };

	issue(o, O_LOGIN_NEXT, &ho, login_next_cb);
}

static void login_next_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_oidc *o = arg;

	o->req = NULL;
	if (r->status / 100 != 3) {
		oidc_fail(o, r, NULL);
		return;
	}
	follow_login(o, r);
}

static void login_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_oidc *o = arg;

	o->req = NULL;
	if (r->status / 100 == 2) {
		struct json_object *root = json_tokener_parse(r->body);
		struct json_object *aq = zt_jget(root, "authQueries");
		bool mfa = aq && json_object_is_type(aq, json_type_array) && json_object_array_length(aq) > 0;

		json_object_put(root);
		oidc_fail(o, NULL, mfa ? "MFA (authQueries) required, not supported"
				       : "the controller asks for a further login step (TOTP?), not supported");
		return;
	}
	if (r->status / 100 != 3) {
		oidc_fail(o, r, NULL);
		return;
	}
	follow_login(o, r);
}

static void authorize_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_oidc *o = arg;
	struct zt_ctx *ctx = o->ctx;
	char *id, *eid, path[512], body[768];

	o->req = NULL;
	if (r->status / 100 != 3) {
		oidc_fail(o, r, NULL);
		return;
	}
	id = query_param(r->location, "authRequestID");
	if (!id || !*id) {
		free(id);
		oidc_fail(o, NULL, "authorize redirect without an authRequestID");
		return;
	}
	eid = curl_easy_escape(NULL, id, 0);
	free(id);
	if (!eid) {
		oidc_fail(o, NULL, "out of memory");
		return;
	}
	snprintf(path, sizeof(path), "%s/login/cert?id=%s", ctx->oidc_path, eid);
	curl_free(eid);
	zt_ctx_auth_body(ctx, body, sizeof(body));
	struct zt_http_opts ho = { .method = "POST", .path = path, .body = body, .no_session = true };

	issue(o, O_LOGIN, &ho, login_cb);
}

static void start_authorize(struct zt_oidc *o)
{
	unsigned char rnd[32], h[crypto_hash_sha256_BYTES];
	char path[1024];
	const struct zt_ctrls *cl = &o->ctx->ctrls;

	/*
	 * v1.6.5 keeps the auth request in the memory of the member that made it: every step
	 * of this login goes there (a failure there fails the login, which starts again at the
	 * member current then).
	 */
	unpin(o);
	if (cl->n) {
		o->pin_host = strdup(cl->v[cl->cur].host);
		o->pin_port = strdup(cl->v[cl->cur].port);
		if (!o->pin_host || !o->pin_port) {
			unpin(o);
			oidc_fail(o, NULL, "out of memory");
			return;
		}
	}
	randombytes_buf(rnd, sizeof(rnd));
	b64url(o->verifier, sizeof(o->verifier), rnd, sizeof(rnd));
	crypto_hash_sha256(h, (const unsigned char *)o->verifier, strlen(o->verifier));
	b64url(o->challenge, sizeof(o->challenge), h, sizeof(h));
	randombytes_buf(rnd, 24);
	b64url(o->state, sizeof(o->state), rnd, 24);
	sodium_memzero(rnd, sizeof(rnd));
	snprintf(path, sizeof(path),
		 "%s?client_id=" OIDC_CLIENT "&scope=openid%%20offline_access&response_type=code"
		 "&redirect_uri=http%%3A%%2F%%2Flocalhost%%3A20314%%2Fauth%%2Fcallback"
		 "&code_challenge=%s&code_challenge_method=S256&state=%s&audience=openziti",
		 o->authorize_path, o->challenge, o->state);
	struct zt_http_opts ho = { .method = "POST", .path = path, .no_session = true };

	issue(o, O_AUTHORIZE, &ho, authorize_cb);
}

static char *dup_path(const char *url)
{
	const char *p = url_path(url);

	return p ? strdup(p) : NULL;
}

static void config_cb(void *arg, const struct zt_http_resp *r)
{
	struct zt_oidc *o = arg;

	o->req = NULL;
	if (r->status != 200) {
		oidc_fail(o, r, NULL);
		return;
	}
	struct json_object *root = json_tokener_parse(r->body);
	char *a = dup_path(zt_jstr(root, "authorization_endpoint"));
	char *t = dup_path(zt_jstr(root, "token_endpoint"));

	json_object_put(root);
	if (!a || !t) {
		free(a);
		free(t);
		oidc_fail(o, NULL, "discovery document without https authorization_endpoint/token_endpoint");
		return;
	}
	free(o->authorize_path);
	free(o->token_path);
	o->authorize_path = a;
	o->token_path = t;
	start_authorize(o);
}

static struct zt_oidc *get(struct zt_ctx *ctx)
{
	if (!ctx->oidc) {
		ctx->oidc = calloc(1, sizeof(*ctx->oidc));
		if (ctx->oidc)
			ctx->oidc->ctx = ctx;
	}
	return ctx->oidc;
}

void zt_oidc_start(struct zt_ctx *ctx)
{
	struct zt_oidc *o = get(ctx);
	char path[512];

	if (!o) {
		zt_ctx_oidc_result(ctx, NULL, "out of memory", "OIDC", NULL, 0, false);
		return;
	}
	zt_http_cancel(o->req);
	o->req = NULL;
	if (o->authorize_path && o->token_path) {
		start_authorize(o);
		return;
	}
	snprintf(path, sizeof(path), "%s/.well-known/openid-configuration", ctx->oidc_path);
	struct zt_http_opts ho = { .method = "GET", .path = path, .no_session = true };

	issue(o, O_CONFIG, &ho, config_cb);
}

bool zt_oidc_refresh(struct zt_ctx *ctx)
{
	struct zt_oidc *o = ctx->oidc;
	char *et, *body = NULL;

	if (!o || !o->refresh_token || !o->token_path || o->step != O_IDLE)
		return false;
	et = curl_easy_escape(NULL, o->refresh_token, 0);
	if (!et || asprintf(&body, "grant_type=refresh_token&client_id=" OIDC_CLIENT "&refresh_token=%s", et) < 0) {
		curl_free(et);
		return false;
	}
	curl_free(et);
	struct zt_http_opts ho = { .method = "POST", .path = o->token_path, .body = body, .authorization = OIDC_BASIC,
				   .content_type = "application/x-www-form-urlencoded" };

	o->ctrl = ctx->ctrls.cur;
	issue(o, O_REFRESH, &ho, token_cb);
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	return true;
}

bool zt_oidc_can_refresh(const struct zt_ctx *ctx)
{
	return ctx->oidc && ctx->oidc->refresh_token && ctx->oidc->token_path;
}

void zt_oidc_token_refused(struct zt_ctx *ctx)
{
	if (ctx->oidc)
		ctx->oidc->refused = true;
}

bool zt_oidc_refreshing(const struct zt_ctx *ctx)
{
	return ctx->oidc && ctx->oidc->step == O_REFRESH;
}

/*
 * What a failed refresh says of the refresh token. r NULL: not issued, or a reply without an
 * access token.
 */
enum verdict { V_REFUSED, V_SPENT, V_UNABLE, V_NO_ANSWER };

static enum verdict refresh_verdict(const struct zt_http_resp *r)
{
	if (!r)
		return V_UNABLE;
	if (r->status == 0 || r->status >= 500 || r->status == 408 || r->status == 429)
		return V_NO_ANSWER;
	if (r->status == 400) {
		struct json_object *root = json_tokener_parse(r->body ? r->body : "");
		const char *e = zt_jstr(root, "error"), *d = zt_jstr(root, "error_description");
		/*
		 * A refresh revokes the token's id (a raft write) before it answers: the answer to an
		 * earlier use lost (a connection reset after the controller took it), the token is
		 * spent, and v1.6.5 says so only as server_error "an entity of type revocation
		 * already exists with id ...". Sending it again can never work: a login at once.
		 */
		bool spent = d && strstr(d, "revocation already exists");
		bool unable = e && !spent && (!strcmp(e, "server_error") || !strcmp(e, "temporarily_unavailable"));

		json_object_put(root);
		if (spent)
			return V_SPENT;
		if (unable)
			return V_UNABLE;
	}
	return V_REFUSED; /* invalid_grant (invalid, expired), spent, invalid_client, ... */
}

bool zt_oidc_refresh_again(struct zt_ctx *ctx, const struct zt_http_resp *r, unsigned *delay_ms, char *why,
			   size_t len)
{
	struct zt_oidc *o = ctx->oidc;
	enum verdict v = refresh_verdict(r);
	uint64_t now = zt_now_ms(), margin;

	if (!o || !o->refresh_token || v == V_REFUSED || v == V_SPENT) {
		snprintf(why, len, v == V_SPENT ? "the refresh token was spent: the answer to its last use was lost" :
			 "the refresh token was refused");
		return false;
	}
	margin = o->lifetime_ms / 5 < 60000 ? o->lifetime_ms / 5 : 60000;
	if (v == V_UNABLE) {
		/* answered without a leader (or a token): a login needs none, so near the expiry it is one */
		if (o->refused || now + margin >= ctx->api_expires_ms) {
			snprintf(why, len, "the access token %s", o->refused ? "was refused" : "expires shortly");
			return false;
		}
		zt_ctx_ctrl_unable(ctx, o->ctrl, "cannot refresh tokens (no raft leader?)");
	}
	*delay_ms = zt_ctx_backoff_ms(ctx, o->fails++);
	return true;
}

void zt_oidc_forget(struct zt_ctx *ctx)
{
	struct zt_oidc *o = ctx->oidc;

	if (!o)
		return;
	zt_http_cancel(o->req);
	o->req = NULL;
	o->step = O_IDLE;
	if (o->refresh_token)
		OPENSSL_cleanse(o->refresh_token, strlen(o->refresh_token));
	free(o->refresh_token);
	o->refresh_token = NULL;
}

void zt_oidc_free(struct zt_ctx *ctx)
{
	struct zt_oidc *o = ctx->oidc;

	if (!o)
		return;
	zt_oidc_forget(ctx);
	unpin(o);
	free(o->authorize_path);
	free(o->token_path);
	free(o);
	ctx->oidc = NULL;
}
