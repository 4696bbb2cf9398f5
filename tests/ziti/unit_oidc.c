// SPDX-License-Identifier: GPL-2.0
/*
 * zt-unit: OIDC token refreshes against the scripted controller (unit_ctrl.c) of a three-member
 * cluster, as ziti v1.6.5 answers them. A refresh is a raft write (it revokes the refresh
 * token's id), so a member without a raft leader refuses it with HTTP 400 server_error; a
 * login is not (the auth request lives in the member's memory), and an access token is
 * checked by every member on its own (signature, revocations read locally).
 *
 *   - refused for want of a leader by two members, taken by the third: the session is kept
 *     (no new login), the refresh goes on at another member;
 *   - refused by every member: the access token is used until shortly before it expires,
 *     then a login (which needs no leader);
 *   - unanswered (controllers unreachable) past the access token's expiry: no login, requests
 *     wait, and the first answered refresh continues the session;
 *   - refused as invalid (invalid_grant): a login at once;
 *   - refused as spent (HTTP 400 server_error "an entity of type revocation already exists":
 *     an earlier refresh with it was carried out and its answer lost): a login at once;
 *   - a request answered 401 (the access token refused) while a refresh token is held: a
 *     refresh, not a login.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ziti/zt_internal.h"
#include "tests/ziti/unit_ctrl.h"

static char location[512], state[128];

static const char *form_value(const char *s, const char *key, char *out, size_t len)
{
	const char *p = s;
	size_t kl = strlen(key);

	out[0] = 0;
	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			snprintf(out, len, "%.*s", (int)strcspn(p + kl + 1, "&#"), p + kl + 1);
			return out;
		}
		p = strpbrk(p, "&?");
		if (p)
			p++;
	}
	return NULL;
}

static void token_reply(struct zt_http_resp *r, char *out, size_t len, const char *kind)
{
	unsigned n = fk.n_login + fk.n_refresh_ok;

	fk.token_until_ms = zt_now_ms() + (uint64_t)fk.exp_s * 1000;
	r->status = 200;
	snprintf(out, len, "{\"access_token\":\"at-%s-%u\",\"refresh_token\":\"rt-%u\",\"token_type\":\"Bearer\","
		 "\"expires_in\":%d}", kind, n, n, fk.exp_s);
}

bool unit_oidc_answer(struct zt_ctx *ctx, size_t ctrl, const char *path, const char *body, struct zt_http_resp *r,
		      char *out, size_t len)
{
	const char *host = ctrl < ctx->ctrls.n ? ctx->ctrls.v[ctrl].host : "?";
	char v[128];
	bool code_grant = strstr(path, "/oidc/oauth/token") && form_value(body, "grant_type", v, sizeof(v)) &&
			  !strcmp(v, "authorization_code");

	if (strstr(path, "/.well-known/openid-configuration")) {
		r->status = 200;
		snprintf(out, len, "{\"authorization_endpoint\":\"https://%s/oidc/authorize\","
			 "\"token_endpoint\":\"https://%s/oidc/oauth/token\"}", host, host);
		return true;
	}
	if (strstr(path, "/oidc/authorize?") || strstr(path, "/oidc/login/") || code_grant) {
		size_t n = strlen(fk.login_steps);

		snprintf(fk.login_steps + n, sizeof(fk.login_steps) - n, "%s%s@%s",
			 n ? " " : "", strstr(path, "authorize") ? "authorize" : strstr(path, "login") ? "login" : "token",
			 host);
	}
	/* v1.6.5: the auth request lives in the memory of the member that made it */
	if ((strstr(path, "/oidc/login/") || code_grant) && strcmp(host, fk.authreq_host)) {
		r->status = strstr(path, "/oidc/login/") ? 404 : 400;
		snprintf(out, len, strstr(path, "/oidc/login/") ? "{\"error\":{\"code\":\"NOT_FOUND\",\"message\":"
			 "\"auth request not found\"}}" : "{\"error\":\"invalid_grant\"}");
		return true;
	}
	if (strstr(path, "/oidc/authorize?")) {
		fk.n_authorize++;
		snprintf(fk.authreq_host, sizeof(fk.authreq_host), "%s", host);
		if (fk.move_at_authorize && ctx->ctrls.n == 3) {
			/* another request failed over meanwhile: the current member is now ctrl3 */
			ctx->ctrls.cur = 2;
			fk.move_at_authorize = false;
		}
		form_value(strchr(path, '?'), "state", state, sizeof(state));
		r->status = 302;
		snprintf(location, sizeof(location), "/oidc/login/username?authRequestID=ar1");
		r->location = location;
		return true;
	}
	if (strstr(path, "/oidc/login/cert?id=ar1")) {
		r->status = 302;
		snprintf(location, sizeof(location), "http://localhost:20314/auth/callback?code=c1&state=%s", state);
		r->location = location;
		return true;
	}
	if (strstr(path, "/oidc/oauth/token") && form_value(body, "grant_type", v, sizeof(v)) &&
	    !strcmp(v, "authorization_code")) {
		if (fk.n_login < sizeof(fk.login_ms) / sizeof(fk.login_ms[0]))
			fk.login_ms[fk.n_login] = zt_now_ms();
		fk.n_login++;
		token_reply(r, out, len, "login");
		return true;
	}
	if (strstr(path, "/oidc/oauth/token")) {
		if (fk.n_refresh_grant < sizeof(fk.refresh_host) / sizeof(fk.refresh_host[0]))
			snprintf(fk.refresh_host[fk.n_refresh_grant], sizeof(fk.refresh_host[0]), "%s", host);
		fk.n_refresh_grant++;
		r->status = 400;
		if (fk.refresh_invalid > 0) {
			fk.refresh_invalid--;
			snprintf(out, len, "{\"error\":\"invalid_grant\",\"error_description\":\"invalid refresh token\"}");
		} else if (fk.refresh_spent > 0) {
			/* v1.6.5 renewRefreshToken: the token's id is revoked already (it was used) */
			fk.refresh_spent--;
			snprintf(out, len, "{\"error\":\"server_error\",\"error_description\":\"an entity of type "
				 "revocation already exists with id 5b0e9d3c-1f7a-4c52-9a0e-2f4e6d1c8b7a\"}");
		} else if (fk.leader && strcmp(fk.leader, host)) {
			snprintf(out, len, "{\"error\":\"server_error\",\"error_description\":\"raft: no leader\"}");
		} else {
			fk.n_refresh_ok++;
			token_reply(r, out, len, "refresh");
		}
		return true;
	}
	size_t pl = strlen(path), cl = strlen("/current-api-session");

	if (pl >= cl && !strcmp(path + pl - cl, "/current-api-session")) {
		r->status = 200;
		snprintf(out, len, "{\"data\":{\"id\":\"as1\",\"identity\":{\"name\":\"me\"}}}");
		return true;
	}
	bool poll = strstr(path, "/service-updates") != NULL;

	if ((poll && fk.poll_401 > 0) ||
	    ((poll || strstr(path, "/services?") || strstr(path, "/current-identity") || strstr(path, "/sessions")) &&
	     zt_now_ms() >= fk.token_until_ms)) {
		if (poll && fk.poll_401 > 0)
			fk.poll_401--;
		fk.n_401++;
		r->status = 401;
		snprintf(out, len, "{\"error\":{\"code\":\"UNAUTHORIZED\",\"message\":\"token expired\"}}");
		return true;
	}
	return false;
}

/* a context on OIDC at the first of three members, tokens of exp_s seconds; ready */
static bool oidc_up(int exp_s, const char *leader)
{
	char err[100];

	fk.oidc = true;
	fk.leader = leader;
	fk.exp_s = exp_s;
	fk.refresh_invalid = fk.refresh_spent = fk.poll_401 = 0;
	fk.n_login = fk.n_refresh_grant = fk.n_refresh_ok = fk.n_401 = 0;
	fk.token_until_ms = 0;
	memset(fk.refresh_host, 0, sizeof(fk.refresh_host));
	fk.version_caps = "\"capabilities\":[\"OIDC_AUTH\"],";
	fk.auth_mode = ZT_AUTH_MODE_AUTO;
	ctx_up();
	zt_ctrls_add(&h.ctx->ctrls, "https://ctrl2.invalid:1281", err, sizeof(err));
	zt_ctrls_add(&h.ctx->ctrls, "https://ctrl3.invalid:1282", err, sizeof(err));
	run_until(&h.ready, 3000);
	return h.ready && !h.ready_err && fk.n_login == 1 && h.ctx->bearer;
}

static void oidc_down(void)
{
	ctx_down();
	fk.oidc = false;
	fk.leader = NULL;
	fk.version_caps = NULL;
	fk.auth_mode = 0;
	fk.exp_s = 0;
}

static bool refreshed_at(const char *host)
{
	for (unsigned i = 0; i < fk.n_refresh_grant && i < 16; i++)
		if (!strcmp(fk.refresh_host[i], host))
			return true;
	return false;
}

/* ctrl1 and ctrl2 have no raft leader, ctrl3 has: the session is kept, refreshed at ctrl3 */
static void test_refresh_no_leader_elsewhere(void)
{
	bool up = oidc_up(2, "ctrl3.invalid");

	run_until(NULL, 4000); /* refreshes at ~0.5 s (half the whole seconds left), then every ~1 s */
	check(up && fk.n_login == 1 && fk.n_refresh_ok >= 3 && refreshed_at("ctrl.invalid") && refreshed_at("ctrl3.invalid") &&
		      zt_ctx_logins(h.ctx) == 1 && zt_ctx_token_refreshes(h.ctx) >= 3,
	      "OIDC: a refresh refused for want of a raft leader (HTTP 400 server_error) is sent again at another "
	      "member, the session kept (logins %u, refresh grants %u of which %u answered, the first to %s)",
	      fk.n_login, fk.n_refresh_grant, fk.n_refresh_ok, fk.refresh_host[0]);
	oidc_down();
}

/* no member has a leader: the token is used until shortly before its expiry, then a login */
static void test_refresh_no_leader_anywhere(void)
{
	bool up = oidc_up(2, "");
	unsigned polls;

	run_until(NULL, 800); /* the first refresh (at ~0.5 s) has failed */
	polls = fk.n_poll;
	for (uint64_t end = zt_now_ms() + 2500; fk.n_login < 2 && zt_now_ms() < end;)
		zt_loop_run(h.loop, 10);
	int64_t at = fk.n_login >= 2 ? (int64_t)(fk.login_ms[1] - fk.login_ms[0]) : -1;

	check(up && fk.n_login == 2 && at >= 1400 && at < 2000 && fk.n_refresh_grant >= 3 && fk.n_poll > polls &&
		      fk.n_401 == 0,
	      "OIDC: refreshes refused by every member (no raft leader): the access token is used until shortly "
	      "before it expires, then a login (the second login %lld ms after the first, token 2000 ms; refresh "
	      "grants %u; polls meanwhile %u; 401s %u)", (long long)at, fk.n_refresh_grant, fk.n_poll - polls,
	      fk.n_401);
	oidc_down();
}

/* no answer to refreshes past the token's expiry: no login; the first answered refresh resumes */
static void test_refresh_unanswered_past_expiry(void)
{
	bool up = oidc_up(2, NULL);

	run_until(NULL, 300);
	fk.rule[0].match = "/oidc/oauth/token";
	fk.rule[0].f = F_RESET;
	fk.rule[0].count = 14; /* from ~0.5 s, at most 200 ms apart: past the expiry at 2 s */
	for (uint64_t end = zt_now_ms() + 5000; fk.rule[0].count > 0 && zt_now_ms() < end;)
		zt_loop_run(h.loop, 10);
	bool expired = zt_now_ms() > fk.token_until_ms;
	unsigned polls_before = fk.n_poll;

	run_until(NULL, 1500);
	check(up && expired && fk.rule[0].count == 0 && fk.n_login == 1 && fk.n_refresh_ok >= 1 &&
		      zt_ctx_logins(h.ctx) == 1 && h.ctx->auth == ZT_AUTH_OK && fk.n_poll > polls_before,
	      "OIDC: refreshes unanswered (reset) past the access token's expiry: no login; the first answered "
	      "refresh continues the session (logins %u, expired %s, refreshes answered %u, 401s %u, polls after %u)",
	      fk.n_login, expired ? "yes" : "no", fk.n_refresh_ok, fk.n_401, fk.n_poll - polls_before);
	oidc_down();
}

/*
 * invalid_grant, or spent (the answer to its last use lost): the refresh token is no good, a
 * login at once (not at the token's end)
 */
static void test_refresh_invalid(bool spent)
{
	bool up = oidc_up(2, NULL);

	if (spent)
		fk.refresh_spent = 1;
	else
		fk.refresh_invalid = 1;
	for (uint64_t end = zt_now_ms() + 2500; fk.n_login < 2 && zt_now_ms() < end;)
		zt_loop_run(h.loop, 10);
	int64_t at = fk.n_login >= 2 ? (int64_t)(fk.login_ms[1] - fk.login_ms[0]) : -1;

	check(up && fk.n_login == 2 && at >= 400 && at < 1200 && fk.n_refresh_grant == 1,
	      "OIDC: a refresh refused as %s: a login at once (%lld ms after the first, refresh grants %u)",
	      spent ? "spent (server_error: revocation already exists)" : "invalid_grant", (long long)at,
	      fk.n_refresh_grant);
	oidc_down();
}

/* a request answered 401 with a refresh token in hand: a refresh, not a login */
static void test_token_refused_refreshes(void)
{
	bool up = oidc_up(10, NULL); /* refresh due at 5 s: not before the 401 */

	fk.poll_401 = 1;
	run_until(NULL, 800);
	check(up && fk.n_401 == 1 && fk.n_login == 1 && fk.n_refresh_ok == 1 && zt_ctx_logins(h.ctx) == 1 &&
		      h.ctx->auth == ZT_AUTH_OK,
	      "OIDC: a request answered 401 while a refresh token is held: the token is refreshed, no login "
	      "(401s %u, logins %u, refreshes %u)", fk.n_401, fk.n_login, fk.n_refresh_ok);
	oidc_down();
}

/*
 * A login's steps go to the member it started on (v1.6.5 keeps the auth request in that
 * member's memory), even when another request moved the current member meanwhile; a failure
 * of that member mid-login starts the login again at the next one.
 */
static void test_login_pinned(bool member_fails)
{
	char err[100];

	fk.oidc = true;
	fk.leader = NULL;
	fk.exp_s = 10;
	fk.n_login = fk.n_authorize = 0;
	fk.login_steps[0] = fk.authreq_host[0] = 0;
	fk.token_until_ms = 0;
	fk.version_caps = "\"capabilities\":[\"OIDC_AUTH\"],";
	fk.auth_mode = ZT_AUTH_MODE_AUTO;
	if (member_fails) {
		fk.rule[0].match = "/oidc/login/cert";
		fk.rule[0].f = F_RESET;
		fk.rule[0].count = 1;
	}
	ctx_up();
	zt_ctrls_add(&h.ctx->ctrls, "https://ctrl2.invalid:1281", err, sizeof(err));
	zt_ctrls_add(&h.ctx->ctrls, "https://ctrl3.invalid:1282", err, sizeof(err));
	fk.move_at_authorize = !member_fails;
	run_until(&h.ready, 3000);
	fk.move_at_authorize = false;
	if (member_fails)
		check(h.ready && !h.ready_err && fk.n_login == 1 && fk.n_authorize == 2 &&
			      !strcmp(fk.login_steps, "authorize@ctrl.invalid authorize@ctrl2.invalid login@ctrl2.invalid "
					  "token@ctrl2.invalid"),
		      "OIDC: the login's member fails mid-login (reset): the login starts again at the next member "
		      "(ready %d, logins %u, authorize requests %u, steps '%s')", h.ready, fk.n_login, fk.n_authorize,
		      fk.login_steps);
	else
		check(h.ready && !h.ready_err && fk.n_login == 1 && fk.n_authorize == 1 &&
			      !strcmp(fk.login_steps, "authorize@ctrl.invalid login@ctrl.invalid token@ctrl.invalid"),
		      "OIDC: a login's steps go to the member it started on, though the current member moved "
		      "meanwhile (ready %d, logins %u, authorize requests %u, steps '%s')", h.ready, fk.n_login,
		      fk.n_authorize, fk.login_steps);
	oidc_down();
}

void test_oidc_refresh_faults(void)
{
	test_login_pinned(false);
	test_login_pinned(true);
	test_refresh_no_leader_elsewhere();
	test_refresh_no_leader_anywhere();
	test_refresh_unanswered_past_expiry();
	test_refresh_invalid(false);
	test_refresh_invalid(true);
	test_token_refused_refreshes();
}
