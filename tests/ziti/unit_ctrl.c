// SPDX-License-Identifier: GPL-2.0
/*
 * Controller faults, unit level: the context runs against a scripted controller that lives
 * in this process. zt-unit is linked with --wrap for zt_http_request(_ex) and zt_http_cancel, so
 * every controller request of zt_ctx.c / zt_services.c lands here and is answered from the
 * loop (a timer), like a real request. Rules make chosen requests fail: HTTP 503, a reset
 * (transport error), a timeout (transport error after http_timeout_ms) or a request that
 * cannot be issued at all (zt_http_request returns NULL).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ziti/zt_internal.h"
#include "tests/ziti/unit_ctrl.h"

#include <json-c/json.h>
#include <openssl/pem.h>

static const char *const fault_name[] = { "none", "HTTP 503", "connection reset", "timeout", "not issued" };

struct zt_http { /* the fake request */
	struct zt_http *next;
	struct zt_ctx *ctx;
	zt_http_cb cb;
	void *arg;
	char path[1024];
	char body[1024]; /* the request's body (the OIDC token grants) */
	enum fault f;
	struct zt_timer t;
	size_t ctrl; /* the member it went to, reported as zt_curl.c does */
};

struct fake_ctrl fk;

/* a pattern matches a substring of the path, or its end when it ends with '$' */
static bool path_match(const char *path, const char *pat)
{
	size_t n = strlen(pat);

	if (n && pat[n - 1] == '$')
		return strlen(path) >= n - 1 && !strncmp(path + strlen(path) - (n - 1), pat, n - 1);
	return strstr(path, pat) != NULL;
}

static enum fault take_fault(const char *path)
{
	for (size_t i = 0; i < sizeof(fk.rule) / sizeof(fk.rule[0]); i++)
		if (fk.rule[i].match && fk.rule[i].count > 0 && path_match(path, fk.rule[i].match)) {
			fk.rule[i].count--;
			return fk.rule[i].f;
		}
	return F_NONE;
}

static void fake_unlink(struct zt_http *h)
{
	for (struct zt_http **pp = &fk.reqs; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			return;
		}
}

static void fake_answer(void *arg)
{
	struct zt_http *h = arg;
	struct zt_http_resp r = { 0 };
	char body[4096];
	zt_http_cb cb = h->cb;
	void *cbarg = h->arg;

	body[0] = 0;
	if (h->f == F_503) {
		r.status = 503;
		snprintf(body, sizeof(body), "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"injected\"}}");
	} else if (h->f == F_RESET) {
		r.err = "controller: TLS I/O error: Connection reset by peer";
	} else if (h->f == F_TIMEOUT) {
		r.err = "controller request timed out";
	} else if (fk.oidc && unit_oidc_answer(h->ctx, h->ctrl, h->path, h->body, &r, body, sizeof(body))) {
		/* unit_oidc.c: the edge-oidc API, and 401 for an expired access token */
	} else if (strstr(h->path, "/version")) {
		r.status = 200;
		snprintf(body, sizeof(body), "{\"data\":{\"version\":\"fake\",%s\"apiVersions\":"
			 "{\"edge-client\":{\"v1\":{\"path\":\"/edge/client/v1\"}},"
			 "\"edge-oidc\":{\"v1\":{\"path\":\"/oidc\"}}}}}", fk.version_caps ? fk.version_caps : "");
	} else if (fk.renew && strstr(h->path, "/authenticate") &&
		   (!h->ctx->id->cert_fp || strcmp(h->ctx->id->cert_fp, fk.cur_fp))) {
		r.status = 401; /* not the authenticator's certificate */
		snprintf(body, sizeof(body), "{\"error\":{\"code\":\"INVALID_AUTH\",\"message\":\"bad cert\"}}");
	} else if (fk.renew && strstr(h->path, "/authenticate")) {
		r.status = 200;
		snprintf(body, sizeof(body), "{\"data\":{\"token\":\"tok\",\"id\":\"as1\",\"expirationSeconds\":%d,"
			 "\"identity\":{\"name\":\"me\"},\"authenticatorId\":\"au1\",\"isCertExtendable\":true,"
			 "\"isCertExtendRequested\":%s}}", fk.exp_s,
			 !fk.req_at_refresh && strcmp(fk.cur_fp, fk.new_fp) ? "true" : "false");
	} else if (path_match(h->path, "/authenticators/au1/extend$")) {
		fk.n_extend++;
		if (strcmp(h->ctx->id->cert_fp, fk.cur_fp)) {
			r.status = 401;
		} else {
			struct json_object *o = json_object_new_object(), *d = json_object_new_object();

			json_object_object_add(d, "clientCert", json_object_new_string(fk.new_cert));
			json_object_object_add(d, "ca", json_object_new_string(fk.new_ca));
			json_object_object_add(o, "data", d);
			snprintf(body, sizeof(body), "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
			json_object_put(o);
			free(fk.pending_fp);
			fk.pending_fp = strdup(fk.new_fp);
			r.status = 200;
		}
	} else if (path_match(h->path, "/authenticators/au1/extend-verify$")) {
		fk.n_verify++;
		if (!fk.pending_fp) {
			r.status = 400; /* nothing unverified: AuthenticatorCannotBeUpdated */
		} else {
			free(fk.cur_fp);
			fk.cur_fp = fk.pending_fp; /* the controller switched */
			fk.pending_fp = NULL;
			r.status = 200;
			if (fk.verify_reply_lost) {
				fk.verify_reply_lost = false;
				r.status = 0;
				r.err = "controller: TLS I/O error: Connection reset by peer";
			}
		}
	} else if (strstr(h->path, "/authenticate")) {
		r.status = 200;
		snprintf(body, sizeof(body), "{\"data\":{\"token\":\"tok\",\"id\":\"as1\",\"expirationSeconds\":%d,"
			 "\"identity\":{\"name\":\"me\"}}}", fk.exp_s);
	} else if (path_match(h->path, "/controllers$") && fk.ctrls) {
		fk.n_ctrls++;
		r.status = 200;
		snprintf(body, sizeof(body), "{\"data\":%s}", fk.ctrls);
	} else if (path_match(h->path, "/current-identity$")) {
		r.status = 200;
		snprintf(body, sizeof(body), "{\"data\":{\"name\":\"me\",\"tags\":{\"ipaddr\":\"10.1.0.7\",\"n\":5},"
			 "\"appData\":{\"sourcePort\":\"1999\"}}}");
	} else if (strstr(h->path, "/service-updates")) {
		fk.n_poll++;
		r.status = 200;
		snprintf(body, sizeof(body), "{\"data\":{\"lastChangeAt\":\"%s\"}}", fk.stamp);
	} else if (strstr(h->path, "/services?")) {
		fk.n_list++;
		r.status = 200;
		int total = 0;

		for (const char *p = fk.services; (p = strstr(p, "\"name\"")); p++)
			total++;
		snprintf(body, sizeof(body), "{\"data\":%s,\"meta\":{\"pagination\":{\"totalCount\":%d}}}",
			 fk.services, total);
	} else if (path_match(h->path, "/posture-response-bulk$")) {
		fk.n_posture++;
		r.status = 200;
		snprintf(body, sizeof(body), "{\"data\":{\"services\":[]}}");
		if (fk.services_after)
			fk.services = fk.services_after;
	} else if (path_match(h->path, "/current-api-session$") && fk.renew) {
		fk.n_refresh++; /* the controller reads the authenticator's flag for every request */
		r.status = 200;
		snprintf(body, sizeof(body), "{\"data\":{\"id\":\"as1\",\"expirationSeconds\":%d,\"authenticatorId\":\"au1\","
			 "\"isCertExtendable\":true,\"isCertExtendRequested\":%s}}", fk.exp_s,
			 strcmp(fk.cur_fp, fk.new_fp) ? "true" : "false");
	} else if (path_match(h->path, "/current-api-session$")) {
		fk.n_refresh++;
		r.status = 200;
		snprintf(body, sizeof(body), "{\"data\":{\"expirationSeconds\":%d}}", fk.exp_s);
	} else if (path_match(h->path, "/sessions$") && fk.sess_409 > 0) {
		fk.sess_409--;
		r.status = 409;
		snprintf(body, sizeof(body), "{\"error\":{\"code\":\"INVALID_POSTURE\",\"message\":"
			 "\"the posture checks of the policy are not passing\"}}");
	} else if (path_match(h->path, "/sessions$")) {
		fk.n_sess++;
		r.status = 201;
		snprintf(body, sizeof(body), "{\"data\":{\"id\":\"s1\",\"token\":\"st\",\"edgeRouters\":"
			 "[{\"name\":\"er\",\"urls\":{\"tls\":\"tls://127.0.0.1:1\"}}%s]}}",
			 fk.two_routers ? ",{\"name\":\"er2\",\"urls\":{\"tls\":\"tls://127.0.0.1:2\"}}" : "");
	} else {
		r.status = 404;
	}
	r.body = body;
	r.body_len = strlen(body);
	fake_unlink(h);
	zt_ctx_ctrl_outcome(h->ctx, h->ctrl, &r);
	free(h);
	if (cb)
		cb(cbarg, &r);
}

struct zt_http *__wrap_zt_http_request(struct zt_ctx *ctx, const char *method, const char *path,
				       const char *body, zt_http_cb cb, void *arg);
void __wrap_zt_http_cancel(struct zt_http *h);
struct zt_http *__wrap_zt_http_request_ex(struct zt_ctx *ctx, const struct zt_http_opts *o, zt_http_cb cb, void *arg);

struct zt_http *__wrap_zt_http_request(struct zt_ctx *ctx, const char *method, const char *path,
				       const char *body, zt_http_cb cb, void *arg)
{
	enum fault f = take_fault(path);
	struct zt_http *h;

	(void)method;
	if (f == F_NOISSUE || !(h = calloc(1, sizeof(*h))))
		return NULL;
	if (strstr(path, "/posture-response-bulk"))
		snprintf(fk.posture_body, sizeof(fk.posture_body), "%s", body ? body : "");
	h->ctrl = ctx->ctrls.cur;
	if (strstr(path, "/authenticate?method=cert")) {
		fk.n_legacy_auth++;
		snprintf(fk.auth_host, sizeof(fk.auth_host), "%s", ctx->ctrls.v[h->ctrl].host);
	}
	if (strstr(path, "/service-updates"))
		snprintf(fk.poll_host, sizeof(fk.poll_host), "%s", ctx->ctrls.v[h->ctrl].host);
	if (strstr(path, "/.well-known/openid-configuration"))
		fk.n_oidc_discovery++;
	h->ctx = ctx;
	h->cb = cb;
	h->arg = arg;
	h->f = f;
	snprintf(h->path, sizeof(h->path), "%s", path);
	snprintf(h->body, sizeof(h->body), "%s", body ? body : "");
	zt_timer_init(&h->t, fake_answer, h);
	zt_timer_start(ctx->loop, &h->t, f == F_TIMEOUT ? ctx->o.http_timeout_ms : 1);
	h->next = fk.reqs;
	fk.reqs = h;
	return h;
}

/* the same controller for the requests with options (OIDC): no real HTTP from a unit test */
struct zt_http *__wrap_zt_http_request_ex(struct zt_ctx *ctx, const struct zt_http_opts *o, zt_http_cb cb, void *arg)
{
	size_t idx = SIZE_MAX;
	struct zt_http *h;

	if (o->pin_host && ctx->ctrls.n) { /* as zt_curl.c: to that member, none if it is gone */
		for (idx = 0; idx < ctx->ctrls.n; idx++)
			if (!strcmp(ctx->ctrls.v[idx].host, o->pin_host) && !strcmp(ctx->ctrls.v[idx].port, o->pin_port))
				break;
		if (idx == ctx->ctrls.n)
			return NULL;
	}
	h = __wrap_zt_http_request(ctx, o->method, o->path ? o->path : o->url, o->body, cb, arg);
	if (h && idx != SIZE_MAX)
		h->ctrl = idx;
	return h;
}

void __wrap_zt_http_cancel(struct zt_http *h)
{
	if (!h)
		return;
	zt_timer_stop(h->ctx->loop, &h->t);
	fake_unlink(h);
	free(h);
}

/* ---------------------------------------------------------------- harness */

struct unit_harness h;

static void on_log(struct zt_ctx *c, int level, const char *msg, void *u)
{
	size_t n = strlen(h.log);

	(void)c;
	(void)level;
	(void)u;
	snprintf(h.log + n, sizeof(h.log) - n, "%s\n", msg);
}

static void on_ready(struct zt_ctx *c, int err, const char *msg, void *u)
{
	(void)c;
	(void)msg;
	(void)u;
	h.ready = true;
	h.ready_err = err;
}

static void on_service(struct zt_ctx *c, const struct zt_service *s, int ev, void *u)
{
	(void)c;
	(void)u;
	if (ev == ZT_SVC_ADDED && !strcmp(s->name, "B"))
		h.b_added = true;
	if (ev == ZT_SVC_REMOVED && !strcmp(s->name, "A"))
		h.a_removed = true;
}

bool run_until(const bool *flag, uint64_t ms)
{
	uint64_t end = zt_now_ms() + ms;

	while (!(flag && *flag) && zt_now_ms() < end)
		zt_loop_run(h.loop, 10);
	return flag && *flag;
}

/* A context against the fake controller serving A (stamp s1); rules set by the caller. */
void ctx_up(void)
{
	struct zt_identity *id = calloc(1, sizeof(*id));
	struct zt_opts o = { .svc_poll_ms = 50, .backoff_max_ms = 200, .http_timeout_ms = 100,
			     .refresh_min_ms = 50, .start_timeout_ms = 2000, .log_level = 1,
			     .auth_mode = fk.auth_mode, .save_ctrls = fk.id_path != NULL };
	struct zt_ctx_cbs cbs = { .on_ready = on_ready, .on_service = on_service, .on_log = on_log };

	memset(&h, 0, sizeof(h));
	fk.stamp = "s1";
	fk.services = "[" SVC_A "]";
	fk.n_refresh = fk.n_list = fk.n_poll = 0;
	id->base_path = strdup("/edge/client/v1");
	id->host = strdup("ctrl.invalid");
	id->port = strdup("1280");
	if (fk.id_path) {
		id->path = strdup(fk.id_path);
		id->api_url = strdup("https://ctrl.invalid:1280/edge/client/v1");
	}
	h.loop = zt_loop_new();
	h.ctx = zt_ctx_new(h.loop, id, &o, &cbs, NULL);
	zt_ctx_start(h.ctx);
}

void ctx_down(void)
{
	zt_ctx_free(h.ctx);
	zt_loop_free(h.loop);
	memset(&fk.rule, 0, sizeof(fk.rule));
}

/* The service list fails (f) right after a change was seen: the change must still apply. */
static void test_list_fails_after_change(enum fault f)
{
	ctx_up();
	run_until(&h.ready, 2000);
	run_until(NULL, 300); /* a few polls: stamp s1 seen */
	fk.rule[0].match = "/services?";
	fk.rule[0].f = f;
	fk.rule[0].count = 2;
	fk.stamp = "s2";
	fk.services = "[" SVC_B "]";
	run_until(&h.b_added, 3000);
	check(h.ready && !h.ready_err && h.b_added && h.a_removed,
	      "controller faults: service list fails (%s, twice) after lastChangeAt moved: the change is applied "
	      "later (B added %s, A removed %s)", fault_name[f], h.b_added ? "yes" : "no", h.a_removed ? "yes" : "no");
	ctx_down();
}

/* The identity's tags and appData are read with the services (for templates). */
static void test_identity_attrs(void)
{
	ctx_up();
	run_until(&h.ready, 2000);
	const char *ip = zt_ctx_identity_attr(h.ctx, "tag", "ipaddr"), *n = zt_ctx_identity_attr(h.ctx, "tag", "n");
	const char *sp = zt_ctx_identity_attr(h.ctx, "appData", "sourcePort");

	check(ip && !strcmp(ip, "10.1.0.7") && n && !strcmp(n, "5") && sp && !strcmp(sp, "1999") &&
		      !zt_ctx_identity_attr(h.ctx, "tag", "nope") && !zt_ctx_identity_attr(h.ctx, "appData", "ipaddr"),
	      "current identity: tags and appData known once ready (tag ipaddr=%s, appData sourcePort=%s)",
	      ip ? ip : "-", sp ? sp : "-");
	ctx_down();
}

/* The change happens between the first listing and the first poll. */
static void test_change_before_first_poll(void)
{
	ctx_up();
	run_until(&h.ready, 2000);
	fk.stamp = "s2";
	fk.services = "[" SVC_A "," SVC_B "]";
	run_until(&h.b_added, 2000);
	check(h.b_added, "controller faults: a change between the first listing and the first poll is applied");
	ctx_down();
}

/* The poll request cannot be issued once: polling must go on. */
static void test_poll_not_issued(void)
{
	ctx_up();
	run_until(&h.ready, 2000);
	run_until(NULL, 200);
	fk.rule[0].match = "/service-updates";
	fk.rule[0].f = F_NOISSUE;
	fk.rule[0].count = 1;
	run_until(NULL, 200); /* the failed poll happens here */
	fk.stamp = "s2";
	fk.services = "[" SVC_A "," SVC_B "]";
	run_until(&h.b_added, 3000);
	check(h.b_added && fk.rule[0].count == 0,
	      "controller faults: a service-update poll that cannot be issued: polling goes on, B added %s",
	      h.b_added ? "yes" : "no");
	ctx_down();
}

/* The API-session refresh cannot be issued once: refreshes go on. */
static void test_refresh_not_issued(void)
{
	fk.exp_s = 1; /* refresh every 500 ms */
	ctx_up();
	run_until(&h.ready, 2000);
	fk.rule[0].match = "/current-api-session$";
	fk.rule[0].f = F_NOISSUE;
	fk.rule[0].count = 1;
	run_until(NULL, 700); /* the failed refresh happens here */
	unsigned before = fk.n_refresh;

	run_until(NULL, 4000); /* the retry comes 2 s after the failure, then every 500 ms */
	check(fk.rule[0].count == 0 && fk.n_refresh >= before + 2,
	      "controller faults: an API-session refresh that cannot be issued: refreshes go on (%u after it)",
	      fk.n_refresh - before);
	fk.exp_s = 0;
	ctx_down();
}

void unit_sess_cb(void *arg, struct zt_session *s, int err, const char *msg)
{
	(void)arg;
	(void)msg;
	h.sess_done = true;
	h.sess_err = err;
	zt_session_put(s);
}

/* A Dial session request that cannot be issued: it is retried, the caller gets its session. */
static void test_session_not_issued(void)
{
	ctx_up();
	run_until(&h.ready, 2000);
	fk.rule[0].match = "/sessions$";
	fk.rule[0].f = F_NOISSUE;
	fk.rule[0].count = 2;
	struct zt_sess_req *q = zt_session_create(h.ctx, "idA", ZT_PERM_DIAL, unit_sess_cb, NULL);

	run_until(&h.sess_done, 3000);
	check(q && h.sess_done && h.sess_err == 0,
	      "controller faults: a Dial session request that cannot be issued (twice) is retried: %s",
	      !h.sess_done ? "no answer" : h.sess_err ? zt_strerror(h.sess_err) : "session");
	ctx_down();
}

/* /version or authenticate cannot be issued at start: the context still becomes ready. */
static void test_start_not_issued(const char *what)
{
	fk.rule[0].match = what;
	fk.rule[0].f = F_NOISSUE;
	fk.rule[0].count = 1;
	ctx_up();
	run_until(&h.ready, 3000);
	check(h.ready && h.ready_err == 0, "controller faults: %s cannot be issued at start: ready anyway (%s)",
	      what, !h.ready ? "never ready" : h.ready_err ? zt_strerror(h.ready_err) : "ok");
	ctx_down();
}

/*
 * A service whose Dial policy needs posture checks that do not pass: the OS and MAC checks are
 * answered once (the answer is not resent on later listings); the ones this client cannot
 * answer (MFA) get one clear warning, and an answered check the controller still finds
 * failing one line saying so.
 */
static void test_posture_note(void)
{
	fk.n_posture = 0;
	fk.services_after = NULL;
	ctx_up();
	fk.stamp = "p1";
	fk.services = "[{\"id\":\"idP\",\"name\":\"P\",\"permissions\":[\"Dial\"],\"postureQueries\":["
		      "{\"policyId\":\"p1\",\"policyType\":\"Dial\",\"isPassing\":false,\"postureQueries\":["
		      "{\"id\":\"q1\",\"queryType\":\"OS\",\"isPassing\":false},"
		      "{\"id\":\"q2\",\"queryType\":\"MFA\",\"isPassing\":false},"
		      "{\"id\":\"q3\",\"queryType\":\"MAC\",\"isPassing\":true}]},"
		      "{\"policyId\":\"p2\",\"policyType\":\"Bind\",\"isPassing\":true,\"postureQueries\":[]}]}]";
	run_until(&h.ready, 2000);
	fk.stamp = "p2"; /* another listing: nothing new to answer */
	unsigned lists = fk.n_list;

	for (int i = 0; i < 40 && fk.n_list == lists; i++)
		run_until(NULL, 100);
	run_until(NULL, 200);
	const char *want = "service P: posture checks not passing for its Dial policy: MFA (not supported";
	const char *w = strstr(h.log, want);
	const char *still = "service P: its OS posture check still fails with this host's answer";
	const char *s = strstr(h.log, still);

	check(h.ready && w && !strstr(w + 1, want) && !strstr(h.log, "Bind policy"),
	      "posture: a service whose Dial policy needs checks this client cannot answer gets one warning naming "
	      "them (%.*s)", w ? (int)strcspn(w, "\n") : 40, w ? w : h.log);
	check(fk.n_posture == 1 && fk.n_list > lists && s && !strstr(s + 1, still),
	      "posture: OS and MAC answered once (%u posts over %u listings); one line for the check still failing "
	      "(%.*s)", fk.n_posture, fk.n_list, s ? (int)strcspn(s, "\n") : 40, s ? s : "none");
	ctx_down();
}

/* The OS and MAC checks answered before the context is ready: a dial right after start works. */
static void test_posture_answer(void)
{
	fk.n_posture = 0;
	fk.posture_body[0] = 0;
	ctx_up();
	fk.stamp = "a1";
	fk.services = "[{\"id\":\"idQ\",\"name\":\"Q\",\"permissions\":[\"Dial\"],\"postureQueries\":["
		      "{\"policyId\":\"p1\",\"policyType\":\"Dial\",\"isPassing\":false,\"postureQueries\":["
		      "{\"id\":\"qos\",\"queryType\":\"OS\",\"isPassing\":false},"
		      "{\"id\":\"qmac\",\"queryType\":\"MAC\",\"isPassing\":false}]}]}]";
	fk.services_after = "[{\"id\":\"idQ\",\"name\":\"Q\",\"permissions\":[\"Dial\"],\"postureQueries\":["
			    "{\"policyId\":\"p1\",\"policyType\":\"Dial\",\"isPassing\":true,\"postureQueries\":["
			    "{\"id\":\"qos\",\"queryType\":\"OS\",\"isPassing\":true},"
			    "{\"id\":\"qmac\",\"queryType\":\"MAC\",\"isPassing\":true}]}]}]";
	unsigned lists = fk.n_list;

	run_until(&h.ready, 2000);
	unsigned at_ready = fk.n_posture, lists_at_ready = fk.n_list - lists;

	check(h.ready && at_ready == 1 && lists_at_ready == 2 &&
	      strstr(fk.posture_body, "{\"id\":\"qos\",\"typeId\":\"OS\",\"type\":\"Linux\",\"version\":\"") &&
	      strstr(fk.posture_body, "{\"id\":\"qmac\",\"typeId\":\"MAC\",\"macAddresses\":["),
	      "posture: OS and MAC answered before ready (%u posts, %u listings at ready; body %.160s)", at_ready,
	      lists_at_ready, fk.posture_body);
	check(!strstr(h.log, "posture check still fails") && !strstr(h.log, "not supported"),
	      "posture: nothing logged once the checks pass");
	fk.services_after = NULL;
	ctx_down();
}

char *zt_test_self_signed(EVP_PKEY *k, long serial, int days);

/*
 * Review finding: the reply to extend-verify is lost although the controller switched to the
 * new certificate. The client must end up with the new certificate in use and in the file
 * (the old one is refused from then on), not drop it and lock itself out.
 *
 * at_refresh (issue 12): the controller asks for the extension after the client authenticated
 * (an admin's `edge update authenticator cert --request-extend`); a legacy API session lives
 * for months on refreshes, so the refresh reply's isCertExtendRequested must start the
 * renewal, and only once (the controller clears the flag at extend-verify).
 */
static void test_renew_case(bool applied, bool at_refresh)
{
	char err[512] = "", dir[] = "/tmp/zt-verify.XXXXXX", path[300], cmd[400];
	EVP_PKEY *k = zt_pki_keygen(NULL, err, sizeof(err));
	/* at_refresh: valid for 400 days, so only the controller's request makes it renew */
	char *c1 = k ? zt_test_self_signed(k, 11, at_refresh ? 400 : 1) : NULL;
	char *c2 = k ? zt_test_self_signed(k, 12, at_refresh ? 800 : 30) : NULL;
	struct zt_identity *id = NULL, *tmp;
	char *kp = k ? zt_pki_key_pem(k) : NULL, *js = NULL;
	bool done = false;
	int exp_s = fk.exp_s;

	if (!c1 || !c2 || !kp || !mkdtemp(dir)) {
		check(0, "renewal, extend-verify reply lost: setup");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/id.json", dir);
	js = zt_identity_json("https://ctrl.invalid:1280/edge/client/v1", c1, kp, c1);
	FILE *f = js ? fopen(path, "w") : NULL;

	if (f) {
		fputs(js, f);
		fclose(f);
	}
	id = zt_identity_load(path, err, sizeof(err));
	tmp = zt_identity_load(path, err, sizeof(err));
	if (!id || !tmp) {
		check(0, "renewal, extend-verify reply lost: identity (%s)", err);
		zt_identity_free(tmp);
		zt_identity_free(id);
		goto out;
	}
	fk.cur_fp = strdup(tmp->cert_fp);
	zt_identity_free(tmp);
	zt_identity_replace(id, c2, NULL, NULL, err, sizeof(err)); /* only for c2's fingerprint */
	fk.new_fp = strdup(id->cert_fp);
	zt_identity_replace(id, c1, NULL, NULL, err, sizeof(err));
	fk.new_cert = c2;
	/* without the lost answer: a CA bundle that lacks the root we trust the controller by */
	if (asprintf(&fk.new_ca, "%s%s", applied ? c1 : "", c2) < 0)
		fk.new_ca = NULL;
	fk.renew = true;
	fk.verify_reply_lost = applied;
	fk.req_at_refresh = at_refresh;
	if (at_refresh) {
		fk.exp_s = 1; /* a refresh every 500 ms */
	} else if (!applied) { /* the request is lost before the controller sees it */
		fk.rule[0].match = "/extend-verify";
		fk.rule[0].f = F_RESET;
		fk.rule[0].count = 1;
	}
	fk.n_extend = fk.n_verify = 0;

	struct zt_opts o = { .svc_poll_ms = 50, .backoff_max_ms = 200, .http_timeout_ms = 100, .refresh_min_ms = 50,
			     .start_timeout_ms = 2000, .log_level = -1, .renew_retry_max_ms = 2000 };
	struct zt_ctx_cbs cbs = { .on_ready = on_ready, .on_service = on_service };

	memset(&h, 0, sizeof(h));
	fk.stamp = "s1";
	fk.services = "[" SVC_A "]";
	fk.n_refresh = 0;
	h.loop = zt_loop_new();
	h.ctx = zt_ctx_new(h.loop, id, &o, &cbs, NULL);
	zt_ctx_start(h.ctx);
	for (uint64_t end = zt_now_ms() + 8000; zt_now_ms() < end && !done;) {
		zt_loop_run(h.loop, 20);
		done = h.ctx->id->cert_fp && !strcmp(h.ctx->id->cert_fp, fk.new_fp) && h.ctx->auth == ZT_AUTH_OK;
	}
	if (at_refresh) {
		unsigned n_refresh = fk.n_refresh;

		run_until(NULL, 1500); /* three more refreshes: the flag is cleared, no second renewal */
		check(done && fk.n_extend == 1 && fk.n_verify == 1 && fk.n_refresh > n_refresh,
		      "renewal requested after the login: seen in an API session refresh's reply and done once "
		      "(%s; %u extend, %u extend-verify, %u refreshes)", done ? "renewed" : "not renewed",
		      fk.n_extend, fk.n_verify, fk.n_refresh);
	}
	char *file_now = NULL;

	tmp = zt_identity_load(path, err, sizeof(err));
	file_now = tmp && tmp->cert_fp ? strdup(tmp->cert_fp) : NULL;
	zt_identity_free(tmp);
	check(done && file_now && !strcmp(file_now, fk.new_fp),
	      "renewal, extend-verify %s: the new certificate is in use and in the file, "
	      "authenticated (%s in use, %s in the file; %u extend, %u extend-verify)",
	      at_refresh ? "requested at a refresh" : applied ? "applied but its reply lost" : "lost before the controller (reset)", h.ctx->id->cert_fp && !strcmp(h.ctx->id->cert_fp, fk.new_fp) ? "new" : "old",
	      file_now && !strcmp(file_now, fk.new_fp) ? "new" : "old", fk.n_extend, fk.n_verify);
	free(file_now);
	if (!applied && !at_refresh)
		check(h.ctx->id->ca_pem && strstr(h.ctx->id->ca_pem, c1) && strstr(h.ctx->id->ca_pem, c2),
		      "renewal: a CA bundle from the controller without the current root is merged, not swapped in "
		      "(old root %s, new root %s)", h.ctx->id->ca_pem && strstr(h.ctx->id->ca_pem, c1) ? "kept" : "dropped",
		      h.ctx->id->ca_pem && strstr(h.ctx->id->ca_pem, c2) ? "added" : "missing");
	zt_ctx_free(h.ctx);
	zt_loop_free(h.loop);
	memset(&fk.rule, 0, sizeof(fk.rule));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
out:
	fk.renew = false;
	fk.req_at_refresh = false;
	fk.exp_s = exp_s;
	free(fk.cur_fp);
	free(fk.new_fp);
	free(fk.pending_fp);
	free(fk.new_ca);
	fk.cur_fp = fk.new_fp = fk.pending_fp = fk.new_ca = NULL;
	fk.new_cert = NULL;
	if (js)
		OPENSSL_cleanse(js, strlen(js));
	free(js);
	free(kp);
	free(c1);
	free(c2);
	EVP_PKEY_free(k);
}

/* Connects and StateCloseds the dialer wrote to a router channel (its ch->out), taken */
struct rd_out {
	unsigned connects, closes;
	uint32_t last_connect, last_closed;
	char app_data[2][160]; /* the first two Connects' AppData */
};

static void rd_take(struct zt_chan *ch, struct rd_out *o)
{
	struct zt_msg m;
	size_t used;
	uint32_t id = 0;

	while (zt_buf_used(&ch->out) &&
	       zt_msg_parse(ch->out.data + ch->out.off, zt_buf_used(&ch->out), &m, &used, NULL) == ZT_PARSE_OK) {
		zt_msg_hdr_u32(&m, ZT_H_CONN_ID, &id);
		if (m.content_type == ZT_CT_CONNECT) {
			const uint8_t *v;
			uint32_t vl;

			if (o->connects < 2 && zt_msg_hdr(&m, ZT_H_APP_DATA, &v, &vl))
				snprintf(o->app_data[o->connects], sizeof(o->app_data[0]), "%.*s", (int)vl, (const char *)v);
			o->connects++;
			o->last_connect = id;
		} else if (m.content_type == ZT_CT_STATE_CLOSED) {
			o->closes++;
			o->last_closed = id;
		}
		zt_buf_consume(&ch->out, used);
	}
}

/* the router's message @ct for conn @id */
static void rd_router_says(struct zt_chan *ch, int ct, uint32_t id)
{
	struct zt_msgb mb;
	struct zt_buf in = { 0 };
	struct zt_msg m;
	size_t used;

	zt_msgb_begin(&mb, &in, ct, 500 + (int32_t)id);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, id);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	zt_chan_dispatch(ch, &m);
	zt_buf_free(&in);
}

static int rd_closed;
static void rd_on_connect(struct zt_conn *c, int err, const char *reason, void *user)
{
	(void)c, (void)err, (void)reason, (void)user;
}

static void rd_on_close(struct zt_conn *c, int err, const char *reason, void *user)
{
	(void)c, (void)err, (void)reason, (void)user;
	rd_closed++;
}

/*
 * Issue 12: a live datagram dial's circuit closes (its router or host went away) and it is
 * dialed again; the router takes that Connect and never answers it (seen in the soak: after
 * a re-authentication of the hosting side the controller dropped one circuit request, and the
 * call's RTP stopped for good: the re-dial waited out the whole connect timeout). A re-dial
 * attempt without an answer must be given up (StateClosed to the router) and sent again well
 * before the connect timeout: the call resumes when the network does.
 */
static void test_redial_unanswered(void)
{
	struct zt_dial_opts dopt = { .datagram = true, .lossy = true };
	struct zt_conn_cbs ccb = { .on_connect = rd_on_connect, .on_close = rd_on_close };
	struct rd_out o = { 0 };
	struct zt_chan *ch;
	struct zt_conn *c;
	uint32_t first;

	ctx_up();
	h.ctx->o.connect_timeout_ms = 5000;
	/* without end-to-end encryption: the router's StateConnected alone connects */
	fk.services = "[{\"id\":\"idA\",\"name\":\"A\",\"permissions\":[\"Dial\"],\"encryptionRequired\":false}]";
	run_until(&h.ready, 2000);
	/* the session's router, up (no socket: what the dialer writes is read from ch->out) */
	ch = zt_chan_get(h.ctx, "tls://127.0.0.1:1", "er");
	if (!h.ready || !ch) {
		check(0, "re-dial without an answer: setup");
		ctx_down();
		return;
	}
	ch->state = ZT_CH_UP;
	ch->in_dispatch = true; /* writes stay in ch->out */
	c = zt_dial(h.ctx, "A", &dopt, &ccb, NULL);
	for (uint64_t end = zt_now_ms() + 2000; !o.connects && zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch, &o);
	}
	rd_router_says(ch, ZT_CT_STATE_CONNECTED, o.last_connect);
	c->last_rx_ms = zt_now_ms();
	/* the circuit closes under a live flow: dialed again at once */
	rd_router_says(ch, ZT_CT_STATE_CLOSED, o.last_connect);
	o.connects = 0;
	for (uint64_t end = zt_now_ms() + 500; !o.connects && zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch, &o);
	}
	first = o.last_connect;
	/* nothing answers it: within 1.5 s it must be given up and sent again */
	for (uint64_t end = zt_now_ms() + 1500; o.connects < 2 && zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch, &o);
	}
	check(o.connects >= 2 && o.closes >= 1 && o.last_closed == first && o.last_connect != first && !rd_closed,
	      "re-dial: an attempt the router does not answer is given up (StateClosed) and sent again within 1.5 s "
	      "of a 5 s connect timeout (%u Connects, %u StateClosed for conn %u of %u)", o.connects, o.closes,
	      o.last_closed, first);
	/* the network answers the new attempt: the flow is up again */
	rd_router_says(ch, ZT_CT_STATE_CONNECTED, o.last_connect);
	check(c->state == ZT_C_UP && !c->redialing && !rd_closed, "re-dial: the next attempt answered, the flow is up again");
	/* the abandoned attempt's late answer is refused (StateClosed), the flow stays */
	o.closes = 0;
	rd_router_says(ch, ZT_CT_STATE_CONNECTED, first);
	rd_take(ch, &o);
	check(o.closes == 1 && o.last_closed == first && c->state == ZT_C_UP,
	      "re-dial: a late answer to the abandoned attempt is closed, the flow stays (%u StateClosed)", o.closes);
	zt_close(c);
	ch->in_dispatch = false;
	ch->state = ZT_CH_IDLE; /* nothing to write at the end: there is no socket */
	ctx_down();
}

static int fd_connects, fd_errs;
static void fd_on_connect(struct zt_conn *c, int err, const char *reason, void *user)
{
	(void)c, (void)reason, (void)user;
	if (err)
		fd_errs++;
	else
		fd_connects++;
}

/*
 * A first dial whose Connect the router takes and never answers (a circuit request the
 * network dropped, as the re-dial above; noticed in session 20: only re-dials were sent
 * again, a first dial waited out the whole connect timeout and the flow was lost). A
 * datagram dial is answered as soon as the hosting side has a socket (no server handshake
 * to wait for), so an attempt unanswered for ZT_DIAL_ATTEMPT_MS is given up (StateClosed)
 * and sent again within the connect timeout. A stream dial's answer waits on the hosting
 * side's connect to its server (seconds, legitimately): it is not sent twice.
 */
/* an AppData "PREFIX"sipovl_dial":"<16 hex>/N"}": the id's 16 digits in @id */
static bool attempt_ad(const char *ad, const char *prefix, unsigned n, char *id)
{
	size_t pl = strlen(prefix);
	char tail[16];

	if (strncmp(ad, prefix, pl) || strncmp(ad + pl, "\"sipovl_dial\":\"", 15) ||
	    strspn(ad + pl + 15, "0123456789abcdef") != 16)
		return false;
	memcpy(id, ad + pl + 15, 16);
	id[16] = 0;
	snprintf(tail, sizeof(tail), "/%u\"}", n);
	return !strcmp(ad + pl + 31, tail);
}

static void test_dial_unanswered(bool datagram)
{
	/* app_data with attempt_key: each Connect's carries its attempt (the hosting side orders them) */
	struct zt_dial_opts dopt = { .datagram = datagram, .lossy = datagram, .attempt_key = "sipovl_dial" };
	char id1[17] = "", id2[17] = "";
	struct zt_conn_cbs ccb = { .on_connect = fd_on_connect, .on_close = rd_on_close };
	const char *kind = datagram ? "datagram" : "stream";
	struct rd_out o = { 0 };
	struct zt_chan *ch;
	struct zt_conn *c;
	uint32_t first;

	ctx_up();
	h.ctx->o.connect_timeout_ms = 6000;
	fk.services = "[{\"id\":\"idA\",\"name\":\"A\",\"permissions\":[\"Dial\"],\"encryptionRequired\":false}]";
	run_until(&h.ready, 2000);
	ch = zt_chan_get(h.ctx, "tls://127.0.0.1:1", "er");
	if (!h.ready || !ch) {
		check(0, "first %s dial without an answer: setup", kind);
		ctx_down();
		return;
	}
	ch->state = ZT_CH_UP;
	ch->in_dispatch = true; /* writes stay in ch->out */
	fd_connects = fd_errs = rd_closed = 0;
	dopt.app_data = datagram ? "{\"dst_ip\":\"10.0.0.1\"} \n" : "{ }";
	dopt.app_data_len = strlen(dopt.app_data);
	c = zt_dial(h.ctx, "A", &dopt, &ccb, NULL);
	for (uint64_t end = zt_now_ms() + 2000; !o.connects && zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch, &o);
	}
	first = o.last_connect;
	/* nobody answers: 3 s (of a 6 s connect timeout) */
	for (uint64_t end = zt_now_ms() + 3000; zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch, &o);
	}
	if (datagram) {
		check(o.connects == 2 && o.closes == 1 && o.last_closed == first && o.last_connect != first &&
		      !fd_connects && !fd_errs,
		      "first datagram dial: an attempt the router does not answer is given up (StateClosed) and sent "
		      "again within 3 s of a 6 s connect timeout (%u Connects, %u StateClosed for conn %u of %u, "
		      "%d connected, %d failed)", o.connects, o.closes, o.last_closed, first, fd_connects, fd_errs);
		rd_router_says(ch, ZT_CT_STATE_CONNECTED, o.last_connect);
		check(c->state == ZT_C_UP && fd_connects == 1 && !fd_errs && !rd_closed,
		      "first datagram dial: the next attempt answered, the application told once it is connected "
		      "(%d connected, %d failed)", fd_connects, fd_errs);
		check(attempt_ad(o.app_data[0], "{\"dst_ip\":\"10.0.0.1\",", 1, id1) &&
			      attempt_ad(o.app_data[1], "{\"dst_ip\":\"10.0.0.1\",", 2, id2) && !strcmp(id1, id2) &&
			      strcmp(id1, "0000000000000000"),
		      "first datagram dial: each attempt's app_data numbers it, one dial id ('%s', then '%s')",
		      o.app_data[0], o.app_data[1]);
		o.closes = 0;
		rd_router_says(ch, ZT_CT_STATE_CONNECTED, first);
		rd_take(ch, &o);
		check(o.closes == 1 && o.last_closed == first && c->state == ZT_C_UP && fd_connects == 1,
		      "first datagram dial: a late answer to the abandoned attempt is closed (%u StateClosed)",
		      o.closes);
	} else {
		check(o.connects == 1 && !o.closes && !fd_connects && !fd_errs,
		      "first stream dial: one Connect, waited on for the connect timeout, not sent again in 3 s "
		      "(%u Connects, %u StateClosed)", o.connects, o.closes);
		rd_router_says(ch, ZT_CT_STATE_CONNECTED, first);
		check(c->state == ZT_C_UP && fd_connects == 1, "first stream dial: answered after 3 s, connected");
		check(attempt_ad(o.app_data[0], "{ ", 1, id1), "first stream dial: an empty app_data object gets the "
		      "attempt as its only member ('%s')", o.app_data[0]);
	}
	zt_close(c);
	ch->in_dispatch = false;
	ch->state = ZT_CH_IDLE;
	ctx_down();
}

/*
 * A datagram dial nobody ever answers still fails at its connect timeout, once, however
 * many attempts were sent (the application's timer and the flow's are the same bound).
 */
static void test_dial_never_answered(void)
{
	struct zt_dial_opts dopt = { .datagram = true, .lossy = true };
	struct zt_conn_cbs ccb = { .on_connect = fd_on_connect, .on_close = rd_on_close };
	struct rd_out o = { 0 };
	struct zt_chan *ch;
	struct zt_conn *c;
	uint64_t t0, failed_ms = 0;

	ctx_up();
	h.ctx->o.connect_timeout_ms = 3000;
	fk.services = "[{\"id\":\"idA\",\"name\":\"A\",\"permissions\":[\"Dial\"],\"encryptionRequired\":false}]";
	run_until(&h.ready, 2000);
	ch = zt_chan_get(h.ctx, "tls://127.0.0.1:1", "er");
	if (!h.ready || !ch) {
		check(0, "datagram dial never answered: setup");
		ctx_down();
		return;
	}
	ch->state = ZT_CH_UP;
	ch->in_dispatch = true;
	fd_connects = fd_errs = rd_closed = 0;
	t0 = zt_now_ms();
	c = zt_dial(h.ctx, "A", &dopt, &ccb, NULL);
	for (uint64_t end = t0 + 5000; zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch, &o);
		if (fd_errs && !failed_ms)
			failed_ms = zt_now_ms() - t0;
	}
	check(fd_errs == 1 && !fd_connects && failed_ms >= 2900 && failed_ms < 3600 && o.connects >= 2,
	      "datagram dial never answered: fails once at its 3 s connect timeout (%d failures after %llu ms, "
	      "%u Connects, %u StateClosed)", fd_errs, (unsigned long long)failed_ms, o.connects, o.closes);
	zt_close(c);
	ch->in_dispatch = false;
	ch->state = ZT_CH_IDLE;
	ctx_down();
}

/*
 * auto (sipovld's default): OIDC when /version lists OIDC_AUTH and an edge-oidc path (what
 * ziti v1.6.0 and v1.6.5 controllers do), legacy otherwise; legacy mode never takes OIDC.
 */
static void test_auth_choice(int mode, const char *caps, bool want_oidc)
{
	static const char *const mname[] = { "legacy", "auto", "oidc" };

	fk.auth_mode = mode;
	fk.version_caps = caps;
	fk.n_legacy_auth = fk.n_oidc_discovery = 0;
	ctx_up();
	for (uint64_t end = zt_now_ms() + 2000; !fk.n_legacy_auth && !fk.n_oidc_discovery && zt_now_ms() < end;)
		zt_loop_run(h.loop, 10);
	check(want_oidc ? fk.n_oidc_discovery > 0 && !fk.n_legacy_auth : fk.n_legacy_auth > 0 && !fk.n_oidc_discovery,
	      "auth %s, /version %s: %s authentication (OIDC discovery requests %u, legacy authenticate %u)",
	      mname[mode], *caps ? caps : "without capabilities", want_oidc ? "OIDC" : "legacy", fk.n_oidc_discovery,
	      fk.n_legacy_auth);
	ctx_down();
	fk.auth_mode = 0;
	fk.version_caps = NULL;
}

/*
 * auto, /version failing at the start (a cluster member still starting: refused, timed out or
 * HTTP 5xx): the answer decides the method, so /version is asked again, and the OIDC it lists
 * is taken; not legacy authentication without an answer (the daemon-ha.sh VM run: gw-a on
 * legacy for its whole life after ctrl1's /version failed at its start).
 */
static void test_auth_choice_version_fault(enum fault f)
{
	fk.auth_mode = ZT_AUTH_MODE_AUTO;
	fk.version_caps = "\"capabilities\":[\"OIDC_AUTH\",\"HA_CONTROLLER\"],";
	fk.n_legacy_auth = fk.n_oidc_discovery = 0;
	fk.rule[0].match = "/version";
	fk.rule[0].f = f;
	fk.rule[0].count = 1;
	ctx_up();
	for (uint64_t end = zt_now_ms() + 5000; !fk.n_legacy_auth && !fk.n_oidc_discovery && zt_now_ms() < end;)
		zt_loop_run(h.loop, 10);
	check(fk.n_oidc_discovery > 0 && !fk.n_legacy_auth,
	      "auth auto, the first /version failing (%s), then listing OIDC_AUTH: OIDC authentication (OIDC discovery "
	      "requests %u, legacy authenticate %u)", fault_name[f], fk.n_oidc_discovery, fk.n_legacy_auth);
	ctx_down();
	memset(&fk.rule[0], 0, sizeof(fk.rule[0]));
	fk.auth_mode = 0;
	fk.version_caps = NULL;
}

/* status's "auth" of an identity that has not authenticated yet: neither method (was "legacy") */
static void test_auth_method_before_auth(void)
{
	ctx_up();
	check(!strcmp(zt_ctx_auth_method(h.ctx), "none"), "auth method before the first authentication: %s (none)",
	      zt_ctx_auth_method(h.ctx));
	ctx_down();
}

/*
 * Failover (zt_ctrls.c) as the context lives it: the service poll to the current member gets
 * a reset; with legacy authentication the next member is current, authenticated at (legacy
 * API sessions are per controller), polled, and a change made meanwhile is applied.
 */
static void test_failover_legacy(void)
{
	char err[100];

	ctx_up();
	zt_ctrls_add(&h.ctx->ctrls, "https://ctrl2.invalid:1281", err, sizeof(err));
	run_until(&h.ready, 2000);
	run_until(NULL, 200);
	fk.n_legacy_auth = 0;
	fk.rule[0].match = "/service-updates";
	fk.rule[0].f = F_RESET;
	fk.rule[0].count = 1;
	fk.stamp = "s2";
	fk.services = "[" SVC_A "," SVC_B "]";
	run_until(&h.b_added, 3000);
	run_until(NULL, 300); /* polls go on, to ctrl2 */
	check(h.b_added && h.ctx->ctrls.cur == 1 && fk.n_legacy_auth >= 1 && !strcmp(fk.auth_host, "ctrl2.invalid") &&
		      !strcmp(fk.poll_host, "ctrl2.invalid") && strstr(h.log, "continuing with ctrl2.invalid:1281"),
	      "failover: a reset poll moves to ctrl2, authenticates there (legacy, %u), polls it (%s), B added %s",
	      fk.n_legacy_auth, fk.poll_host, h.b_added ? "yes" : "no");
	ctx_down();
}

/*
 * The same with two routers up: an attempt left unanswered on one is sent again on the other
 * (the silent one may be the starved or broken part), for a first dial and for a re-dial.
 */
static void test_dial_unanswered_elsewhere(void)
{
	struct zt_dial_opts dopt = { .datagram = true, .lossy = true };
	struct zt_conn_cbs ccb = { .on_connect = fd_on_connect, .on_close = rd_on_close };
	struct rd_out o1 = { 0 }, o2 = { 0 };
	struct zt_chan *ch1, *ch2;
	struct zt_conn *c;
	bool first_on_1;

	ctx_up();
	h.ctx->o.connect_timeout_ms = 6000;
	fk.two_routers = true;
	fk.services = "[{\"id\":\"idA\",\"name\":\"A\",\"permissions\":[\"Dial\"],\"encryptionRequired\":false}]";
	run_until(&h.ready, 2000);
	ch1 = zt_chan_get(h.ctx, "tls://127.0.0.1:1", "er");
	ch2 = zt_chan_get(h.ctx, "tls://127.0.0.1:2", "er2");
	if (!h.ready || !ch1 || !ch2) {
		check(0, "first datagram dial, two routers: setup");
		fk.two_routers = false;
		ctx_down();
		return;
	}
	ch1->state = ch2->state = ZT_CH_UP;
	ch1->in_dispatch = ch2->in_dispatch = true;
	fd_connects = fd_errs = rd_closed = 0;
	c = zt_dial(h.ctx, "A", &dopt, &ccb, NULL);
	for (uint64_t end = zt_now_ms() + 2000; !o1.connects && !o2.connects && zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch1, &o1);
		rd_take(ch2, &o2);
	}
	first_on_1 = o1.connects == 1;
	/* nobody answers for 2.5 s: the next attempt goes to the other router */
	for (uint64_t end = zt_now_ms() + 2500; zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch1, &o1);
		rd_take(ch2, &o2);
	}
	check(o1.connects == 1 && o2.connects == 1 && (first_on_1 ? o1.closes : o2.closes) == 1,
	      "first datagram dial, two routers up: the attempt left unanswered on one is sent again on the other "
	      "(Connects %u on er, %u on er2; the first on %s)", o1.connects, o2.connects, first_on_1 ? "er" : "er2");
	zt_close(c);
	ch1->in_dispatch = ch2->in_dispatch = false;
	ch1->state = ch2->state = ZT_CH_IDLE;
	fk.two_routers = false;
	ctx_down();
}

/*
 * The wait before an attempt is given up follows the answers seen (RFC 6298's estimator: a
 * smoothed answer time plus four times its variation, at least 2 s): a controller that takes
 * 1.5 s to route each circuit (seen under TCG: 3.7 s) must not have every attempt given up just
 * before its answer comes, each one adding a circuit request to its queue.
 */
static void test_dial_wait_follows_answers(void)
{
	struct zt_dial_opts dopt = { .datagram = true, .lossy = true };
	struct zt_conn_cbs ccb = { .on_connect = fd_on_connect, .on_close = rd_on_close };
	struct rd_out o = { 0 };
	struct zt_chan *ch;
	struct zt_conn *c1, *c2;
	uint64_t t_sent;

	ctx_up();
	h.ctx->o.connect_timeout_ms = 12000;
	fk.services = "[{\"id\":\"idA\",\"name\":\"A\",\"permissions\":[\"Dial\"],\"encryptionRequired\":false}]";
	run_until(&h.ready, 2000);
	ch = zt_chan_get(h.ctx, "tls://127.0.0.1:1", "er");
	if (!h.ready || !ch) {
		check(0, "dial wait follows the answers: setup");
		ctx_down();
		return;
	}
	ch->state = ZT_CH_UP;
	ch->in_dispatch = true;
	fd_connects = fd_errs = rd_closed = 0;
	/* the first dial is answered after 1.5 s */
	c1 = zt_dial(h.ctx, "A", &dopt, &ccb, NULL);
	for (uint64_t end = zt_now_ms() + 2000; !o.connects && zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch, &o);
	}
	for (uint64_t end = zt_now_ms() + 1500; zt_now_ms() < end;)
		zt_loop_run(h.loop, 10);
	rd_router_says(ch, ZT_CT_STATE_CONNECTED, o.last_connect);
	/* the second is not answered: its attempt must wait longer than 2 s (1.5 + 4 x 0.75 s) */
	o.connects = o.closes = 0;
	c2 = zt_dial(h.ctx, "A", &dopt, &ccb, NULL);
	for (uint64_t end = zt_now_ms() + 2000; !o.connects && zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch, &o);
	}
	t_sent = zt_now_ms();
	for (uint64_t end = zt_now_ms() + 6000; o.connects < 2 && zt_now_ms() < end;) {
		zt_loop_run(h.loop, 10);
		rd_take(ch, &o);
	}
	uint64_t waited = zt_now_ms() - t_sent;

	check(c1->state == ZT_C_UP && o.connects == 2 && waited >= 4000 && waited < 5500,
	      "first datagram dial: after a dial answered in 1.5 s, an unanswered attempt is given up after "
	      "4.5 s, not 2 s (given up after %llu ms; %u Connects)", (unsigned long long)waited, o.connects);
	zt_close(c1);
	zt_close(c2);
	ch->in_dispatch = false;
	ch->state = ZT_CH_IDLE;
	ctx_down();
}

void test_posture_again(void); /* unit_posture_ctrl.c */
void test_oidc_refresh_faults(void); /* unit_oidc.c */
void test_controller_faults(void);
void test_controller_faults(void)
{
	test_save_members();
	test_failover_legacy();
	test_auth_method_before_auth();
	test_auth_choice(ZT_AUTH_MODE_AUTO, "\"capabilities\":[\"OIDC_AUTH\",\"HA_CONTROLLER\"],", true);
	test_auth_choice(ZT_AUTH_MODE_AUTO, "\"capabilities\":[\"OIDC_AUTH\"],", true);
	test_auth_choice(ZT_AUTH_MODE_AUTO, "", false);
	test_auth_choice(ZT_AUTH_MODE_AUTO, "\"capabilities\":[\"HA_CONTROLLER\"],", false);
	test_auth_choice(ZT_AUTH_MODE_LEGACY, "\"capabilities\":[\"OIDC_AUTH\"],", false);
	test_auth_choice_version_fault(F_RESET);
	test_auth_choice_version_fault(F_TIMEOUT);
	test_auth_choice_version_fault(F_503);
	test_posture_note();
	test_posture_answer();
	test_posture_again();
	test_list_fails_after_change(F_NONE); /* the harness itself: a change is applied */
	test_list_fails_after_change(F_503);
	test_list_fails_after_change(F_RESET);
	test_list_fails_after_change(F_TIMEOUT);
	test_list_fails_after_change(F_NOISSUE);
	test_change_before_first_poll();
	test_identity_attrs();
	test_poll_not_issued();
	test_refresh_not_issued();
	test_session_not_issued();
	test_start_not_issued("/version");
	test_start_not_issued("/authenticate");
	test_renew_case(true, false);
	test_renew_case(false, false);
	test_renew_case(false, true);
	test_redial_unanswered();
	test_dial_unanswered(true);
	test_dial_unanswered(false);
	test_dial_unanswered_elsewhere();
	test_dial_wait_follows_answers();
	test_dial_never_answered();
	test_oidc_refresh_faults();
}
