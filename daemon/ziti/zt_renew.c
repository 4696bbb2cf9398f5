// SPDX-License-Identifier: GPL-2.0
/*
 * Identity certificate renewal through the controller's certificate-extension API, as
 * ziti-sdk-c does it (library/ziti.c, ztx_check_cert_extension):
 *
 *   the authentication reply says whether the certificate can be extended (isCertExtendable:
 *   issued by the network, i.e. enrolled by one-time token) and whether the controller asks
 *   for it (isCertExtendRequested / isCertKeyRollRequested). Before notAfter (or at once when
 *   asked) we send a CSR, signed with the identity's key (a new key when the controller asks
 *   for a key roll, or renew_new_key), to
 *     POST <client API>/current-identity/authenticators/<authenticatorId>/extend
 *   receive the new certificate chain and the CA bundle, write them next to the identity
 *   (temporary files, fsync), then confirm with
 *     POST .../extend-verify {"clientCert": ...}
 *   after which the controller accepts only the new certificate: the files are renamed over
 *   the old ones and the TLS context is switched. Router channels already up keep their
 *   connection (routers check the certificate at connect time only); new connections and
 *   controller requests use the new certificate. Nothing is confirmed unless the new files
 *   could be written, so the identity file never holds a certificate the controller refuses.
 *
 * Timers run on the monotonic clock; the renewal time is on the wall clock, so a timer never
 * waits more than an hour before looking at the wall clock again.
 */
#include "zt_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RENEW_MAX_WINDOW_S (30 * 86400)
#define RENEW_RETRY_MIN_MS 2000u
#define RENEW_TIMER_MAX_MS (3600u * 1000u)
#define ADOPT_CHECK_MS 60000u /* renew_off: the identity file looked at for a newer certificate */
#define ADOPT_BUSY_MS 250u    /* ... again this soon when its lock is held (a renewal writing it), doubling */

enum { R_UNKNOWN, R_VALID, R_RENEWING, R_RETRYING, R_NOT_RENEWABLE, R_DISABLED };
static const char *const state_names[] = { "unknown", "valid", "renewing", "retrying", "not-renewable", "disabled" };

struct zt_renew {
	struct zt_ctx *ctx;
	struct zt_timer timer;
	struct zt_http *req;
	int state;
	char *auth_id;
	bool requested, key_roll, busy, waiting_auth;
	int lock_fd;                    /* zt_identity_lock while an attempt runs, else -1 */
	/*
	 * extend-verify sent but its answer lost (transport error, 5xx): the controller may
	 * already accept only the new certificate. The attempt (new certificate, key, staged
	 * files) is kept until it is known which certificate the controller accepts.
	 */
	bool verify_unsure, probing;
	char *old_cert, *old_key, *old_ca; /* while probing the new certificate */
	int64_t old_not_after;
	unsigned failures, renewals;
	int64_t renew_at, last_renewal;
	unsigned adopt_busy_ms;         /* renew_off: the file's lock was held, looked at again after this */
	char adopt_err[1024];           /* renew_off: the last failure to read the file (reported once) */
	uint64_t done_ms;               /* zt_now_ms() when the last attempt ended */
	char last_error[400];
	/* an attempt in progress */
	char *new_cert, *new_ca, *new_key;
	struct zt_stage stage;
};

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void attempt_clear(struct zt_renew *r)
{
	zt_stage_abort(&r->stage);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	r->lock_fd = -1;
	free(r->new_cert);
	free(r->new_ca);
	if (r->new_key)
		OPENSSL_cleanse(r->new_key, strlen(r->new_key));
	free(r->new_key);
	r->new_cert = r->new_ca = r->new_key = NULL;
	free(r->old_cert);
	free(r->old_ca);
	if (r->old_key)
		OPENSSL_cleanse(r->old_key, strlen(r->old_key));
	free(r->old_key);
	r->old_cert = r->old_key = r->old_ca = NULL;
	r->verify_unsure = r->probing = false;
}

static int64_t window_s(const struct zt_renew *r)
{
	const struct zt_identity *id = r->ctx->id;
	int64_t life = id->not_after - id->not_before;

	if (r->ctx->o.renew_before_s)
		return r->ctx->o.renew_before_s;
	return life / 3 < RENEW_MAX_WINDOW_S ? life / 3 : RENEW_MAX_WINDOW_S;
}

static void arm(struct zt_renew *r, uint64_t ms)
{
	zt_timer_start(r->ctx->loop, &r->timer, ms < RENEW_TIMER_MAX_MS ? ms : RENEW_TIMER_MAX_MS);
}

/* Plan the next attempt from the certificate's validity (or now, when the controller asked). */
static void schedule(struct zt_renew *r)
{
	int64_t now = time(NULL);

	if (r->state == R_NOT_RENEWABLE || r->state == R_DISABLED)
		return;
	r->state = R_VALID;
	r->renew_at = r->requested ? now : r->ctx->id->not_after - window_s(r);
	arm(r, r->renew_at > now ? (uint64_t)(r->renew_at - now) * 1000 : 0);
}

static void report(struct zt_renew *r, int err, const char *msg)
{
	struct zt_ctx *ctx = r->ctx;

	if (ctx->cbs.on_cert)
		ctx->cbs.on_cert(ctx, err, msg, ctx->user);
	else
		zt_log(ctx, err ? 1 : 2, "%s", msg);
}

static void fail(struct zt_renew *r, const char *fmt, const char *detail)
{
	char msg[1024], when[40];
	unsigned shift = r->failures < 16 ? r->failures : 16;
	uint64_t d = (uint64_t)RENEW_RETRY_MIN_MS << shift, cap = r->ctx->o.renew_retry_max_ms;

	attempt_clear(r);
	r->busy = false;
	r->done_ms = zt_now_ms();
	r->failures++;
	if (d > cap)
		d = cap;
	snprintf(r->last_error, sizeof(r->last_error), fmt, detail);
	r->state = R_RETRYING;
	r->renew_at = time(NULL) + (int64_t)(d / 1000);
	arm(r, d);
	zt_pki_fmt_time(r->ctx->id->not_after, when, sizeof(when));
	snprintf(msg, sizeof(msg), "certificate renewal failed (attempt %u): %s; retrying in %llu s (certificate valid until %s)",
		 r->failures, r->last_error, (unsigned long long)(d / 1000), when);
	report(r, -EAGAIN, msg);
}

static void send_verify(struct zt_renew *r);

/* The controller accepts the new certificate: put it on disk, then use it. */
static void verified(struct zt_renew *r)
{
	struct zt_ctx *ctx = r->ctx;
	struct zt_identity *id = ctx->id;
	char err[512], msg[1400], was[40], until[40];
	char saveerr[400] = "";
	int saved = zt_stage_commit(&r->stage, saveerr, sizeof(saveerr));
	int64_t old_after = id->not_after;

	if (!saved)
		saved = zt_identity_reread_refs(id, saveerr, sizeof(saveerr));
	if (zt_identity_replace(id, r->new_cert, r->new_key, r->new_ca, err, sizeof(err))) {
		/* checked before extend-verify; cannot happen short of memory exhaustion */
		fail(r, "cannot use the renewed certificate: %s", err);
		return;
	}
	if (r->old_cert) /* probed: the identity already holds the new certificate */
		old_after = r->old_not_after;
	r->renewals++;
	r->failures = 0;
	r->last_renewal = time(NULL);
	r->done_ms = zt_now_ms();
	r->requested = r->key_roll = false;
	r->busy = false;
	zt_pki_fmt_time(old_after, was, sizeof(was));
	zt_pki_fmt_time(id->not_after, until, sizeof(until));
	if (saved) {
		snprintf(r->last_error, sizeof(r->last_error),
			 "renewed certificate in use but not saved: %s (the identity file holds the old one)", saveerr);
		snprintf(msg, sizeof(msg), "certificate renewed (valid until %s, was %s) but NOT SAVED: %s; "
			 "the identity file holds the previous certificate, which the controller no longer accepts",
			 until, was, saveerr);
	} else {
		r->last_error[0] = 0;
		snprintf(msg, sizeof(msg), "certificate renewed: valid until %s (was %s), %s, fingerprint %s, written to %s",
			 until, was, r->new_key ? "new key" : "same key", id->cert_fp ? id->cert_fp : "?", id->path);
	}
	/* the file's lock released first: a reader told by on_cert (sipovld's workers) can read it */
	attempt_clear(r);
	report(r, saved ? -EIO : 0, msg);
	schedule(r);
}

/* After a lost extend-verify answer: try again later, keeping the attempt. */
static void verify_unsure(struct zt_renew *r, const char *why)
{
	char msg[900];
	unsigned shift = r->failures < 16 ? r->failures : 16;
	uint64_t d = (uint64_t)RENEW_RETRY_MIN_MS << shift, cap = r->ctx->o.renew_retry_max_ms;

	if (d > cap)
		d = cap;
	r->verify_unsure = true;
	r->busy = false;
	r->failures++;
	r->state = R_RETRYING;
	r->renew_at = time(NULL) + (int64_t)(d / 1000);
	snprintf(r->last_error, sizeof(r->last_error), "%s", why);
	snprintf(msg, sizeof(msg), "certificate renewal: %s; the controller may already have switched to the new "
		 "certificate: it is kept (not written yet) and checked again in %llu s", why,
		 (unsigned long long)(d / 1000));
	report(r, -EAGAIN, msg);
	arm(r, d);
}

/* Authenticated with the new certificate (probe): the controller switched; else go back. */
static void probe_done(void *arg, int err, const char *emsg)
{
	struct zt_renew *r = arg;
	struct zt_ctx *ctx = r->ctx;
	char e[512];

	r->waiting_auth = false;
	r->probing = false;
	if (!err) {
		verified(r);
		return;
	}
	/* the controller does not take the new certificate: back to the old one */
	if (zt_identity_replace(ctx->id, r->old_cert, r->old_key, r->old_ca, e, sizeof(e)))
		zt_log(ctx, 1, "certificate renewal: cannot go back to the previous certificate: %s", e);
	zt_ctx_auth_invalid(ctx);
	snprintf(e, sizeof(e), "the controller refuses the new certificate too (%s): starting over",
		 emsg ? emsg : "?");
	fail(r, "%s", e);
}

/* extend-verify was refused after a lost answer: is the new certificate the one now? */
static void probe_new(struct zt_renew *r)
{
	struct zt_ctx *ctx = r->ctx;
	struct zt_identity *id = ctx->id;
	char e[512];

	r->old_not_after = id->not_after;
	r->old_cert = zt_identity_cert_pem(id, e, sizeof(e));
	r->old_key = id->key_pem ? strdup(id->key_pem) : NULL;
	r->old_ca = id->ca_pem ? strdup(id->ca_pem) : NULL;
	if (!r->old_cert || !r->old_key || !r->old_ca) {
		fail(r, "cannot keep the current certificate to try the new one: %s", r->old_cert ? "out of memory" : e);
		return;
	}
	if (zt_identity_replace(id, r->new_cert, r->new_key, r->new_ca, e, sizeof(e))) {
		fail(r, "cannot use the renewed certificate: %s", e);
		return;
	}
	zt_log(ctx, 2, "certificate renewal: authenticating with the new certificate to see whether the controller "
	       "switched to it");
	r->probing = true;
	r->busy = true;
	zt_ctx_auth_invalid(ctx);
	r->waiting_auth = true;
	zt_ctx_need_auth(ctx, probe_done, r);
}

static void verify_cb(void *arg, const struct zt_http_resp *resp)
{
	struct zt_renew *r = arg;
	struct zt_ctx *ctx = r->ctx;
	char err[512];

	r->req = NULL;
	if (resp->status != 200) {
		zt_http_resp_error(resp, err, sizeof(err), "extend-verify");
		if (resp->status == 0 || resp->status >= 500) { /* did the controller switch? unknown */
			verify_unsure(r, err);
			return;
		}
		if (r->verify_unsure) { /* refused now: maybe because the lost one was applied */
			probe_new(r);
			return;
		}
		if (resp->status == 401)
			zt_ctx_auth_invalid(ctx);
		fail(r, "%s", err);
		return;
	}
	verified(r);
}

/* again after a lost answer: authenticated (old certificate) or not (maybe switched) */
static void verify_again(void *arg, int err, const char *emsg)
{
	struct zt_renew *r = arg;

	(void)emsg;
	r->waiting_auth = false;
	if (err)
		probe_new(r);
	else
		send_verify(r);
}

static void extend_cb(void *arg, const struct zt_http_resp *resp)
{
	struct zt_renew *r = arg;
	struct zt_ctx *ctx = r->ctx;
	struct zt_identity *id = ctx->id;
	char err[512];

	r->req = NULL;
	if (resp->status != 200) {
		zt_http_resp_error(resp, err, sizeof(err), "extend");
		if (resp->status == 401)
			zt_ctx_auth_invalid(ctx);
		fail(r, "%s", err);
		return;
	}
	struct json_object *root = json_tokener_parse(resp->body);
	struct json_object *data = jget(root, "data");
	const char *cert = jstr(data, "clientCert"), *ca = jstr(data, "ca");

	if (!cert || !*cert) {
		json_object_put(root);
		fail(r, "%s", "extend: no clientCert in the controller's reply");
		return;
	}
	r->new_cert = strdup(cert);
	if (ca && *ca && strcmp(ca, id->ca_pem)) {
		r->new_ca = zt_pki_ca_union(ca, id->ca_pem, err, sizeof(err));
		if (!r->new_ca) {
			json_object_put(root);
			fail(r, "the controller's CA bundle is not usable: %s", err);
			return;
		}
		if (!strcmp(r->new_ca, id->ca_pem)) { /* nothing new in it */
			free(r->new_ca);
			r->new_ca = NULL;
		}
	}
	json_object_put(root);
	if (!r->new_cert) {
		fail(r, "%s", "out of memory");
		return;
	}
	/* the certificate must be one we can use (key, chain to the CA) before anything is written */
	if (zt_identity_check(r->new_cert, r->new_key ? r->new_key : id->key_pem, r->new_ca ? r->new_ca : id->ca_pem,
			      err, sizeof(err))) {
		fail(r, "the controller's new certificate is not usable: %s", err);
		return;
	}
	if (zt_identity_stage_update(id, r->new_cert, r->new_key, r->new_ca, &r->stage, err, sizeof(err))) {
		fail(r, "cannot write the renewed identity (nothing confirmed, the current certificate stays valid): %s",
		     err);
		return;
	}
	send_verify(r);
}

static void send_verify(struct zt_renew *r)
{
	struct zt_ctx *ctx = r->ctx;
	struct json_object *body = json_object_new_object();
	char path[512];

	r->busy = true;
	r->state = R_RENEWING;
	json_object_object_add(body, "clientCert", json_object_new_string(r->new_cert));
	snprintf(path, sizeof(path), "%s/current-identity/authenticators/%s/extend-verify", ctx->edge_path, r->auth_id);
	r->req = zt_http_request(ctx, "POST", path, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
				 verify_cb, r);
	json_object_put(body);
	if (!r->req) {
		if (r->verify_unsure)
			verify_unsure(r, "extend-verify: cannot issue the request");
		else
			fail(r, "%s", "extend-verify: cannot issue the request");
	}
}

static void auth_ready(void *arg, int err, const char *emsg)
{
	struct zt_renew *r = arg;
	struct zt_ctx *ctx = r->ctx;
	struct zt_identity *id = ctx->id;
	char e[512], path[512];
	EVP_PKEY *key = NULL;
	char *csr = NULL;

	r->waiting_auth = false;
	if (err) {
		fail(r, "not authenticated: %s", emsg ? emsg : "?");
		return;
	}
	if (r->state == R_NOT_RENEWABLE || !r->auth_id) {
		r->busy = false;
		return;
	}
	if (r->key_roll || ctx->o.renew_new_key) {
		BIO *b = BIO_new_mem_buf(id->key_pem, -1);
		EVP_PKEY *old = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

		BIO_free(b);
		key = old ? zt_pki_keygen_like(old, e, sizeof(e)) : NULL;
		EVP_PKEY_free(old);
		if (!key || !(r->new_key = zt_pki_key_pem(key))) {
			EVP_PKEY_free(key);
			fail(r, "new key: %s", key ? "out of memory" : e);
			return;
		}
	} else {
		BIO *b = BIO_new_mem_buf(id->key_pem, -1);

		key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		if (!key) {
			fail(r, "%s", "cannot read the identity key");
			return;
		}
	}
	csr = zt_pki_csr_pem(key, id->subject, e, sizeof(e));
	EVP_PKEY_free(key);
	if (!csr) {
		fail(r, "%s", e);
		return;
	}
	struct json_object *body = json_object_new_object();

	json_object_object_add(body, "clientCertCsr", json_object_new_string(csr));
	free(csr);
	snprintf(path, sizeof(path), "%s/current-identity/authenticators/%s/extend", ctx->edge_path, r->auth_id);
	r->req = zt_http_request(ctx, "POST", path, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
				 extend_cb, r);
	json_object_put(body);
	if (!r->req)
		fail(r, "%s", "extend: cannot issue the request");
}

/*
 * renew_off (a process that does not renew this identity, e.g. a sipovld worker): a newer
 * certificate in the identity file, written by the process that renews it, is adopted. The
 * controller accepts only the new certificate once a renewal is verified, and the old one
 * expires. Not while the file's lock is held (an attempt may be writing it).
 */
static int adopt(struct zt_renew *r)
{
	char err[400], when[40], msg[1024];
	bool adopted = false;
	int fd = zt_identity_lock_shared(r->ctx->id, err, sizeof(err));

	if (fd == -2)
		return 2;
	if (fd == -1)
		zt_log(r->ctx, 3, "certificate: reading the identity file without its lock: %s", err);
	if (zt_identity_adopt_newer(r->ctx->id, &adopted, err, sizeof(err))) {
		if (fd >= 0)
			close(fd);
		snprintf(msg, sizeof(msg), "cannot read back the identity file for a newer certificate: %s", err);
		if (strcmp(r->adopt_err, msg)) { /* once, not every minute */
			snprintf(r->adopt_err, sizeof(r->adopt_err), "%s", msg);
			report(r, -EIO, msg);
		}
		return -1;
	}
	if (fd >= 0)
		close(fd);
	r->adopt_err[0] = 0;
	if (!adopted)
		return 0;
	r->renewals++;
	r->last_renewal = time(NULL);
	zt_pki_fmt_time(r->ctx->id->not_after, when, sizeof(when));
	snprintf(msg, sizeof(msg), "certificate renewed by another process: using it from %s (valid until %s, fingerprint %s)",
		 r->ctx->id->path, when, r->ctx->id->cert_fp ? r->ctx->id->cert_fp : "?");
	report(r, 0, msg);
	return 1;
}

int zt_ctx_adopt_cert(struct zt_ctx *ctx)
{
	struct zt_renew *r = ctx->renew;
	int rc = r ? adopt(r) : 0;

	if (rc == 2 && r->state == R_DISABLED) { /* the renewal still holds the file: soon */
		r->adopt_busy_ms = ADOPT_BUSY_MS;
		zt_timer_start(ctx->loop, &r->timer, ADOPT_BUSY_MS);
	}
	return rc;
}

static void timer_cb(void *arg)
{
	struct zt_renew *r = arg;
	int64_t now = time(NULL);
	char when[40], msg[1024];

	if (r->state == R_DISABLED) { /* lock held: 250 ms, doubling up to the minute (a long renewal) */
		if (adopt(r) == 2) {
			r->adopt_busy_ms = r->adopt_busy_ms ? r->adopt_busy_ms * 2 : ADOPT_BUSY_MS;
			if (r->adopt_busy_ms > ADOPT_CHECK_MS)
				r->adopt_busy_ms = ADOPT_CHECK_MS;
		} else {
			r->adopt_busy_ms = 0;
		}
		zt_timer_start(r->ctx->loop, &r->timer, r->adopt_busy_ms ? r->adopt_busy_ms : ADOPT_CHECK_MS);
		return;
	}
	if (r->busy || r->state == R_NOT_RENEWABLE)
		return;
	if (r->renew_at > now) { /* a capped wait: look again */
		arm(r, (uint64_t)(r->renew_at - now) * 1000);
		return;
	}
	if (r->verify_unsure) { /* the lock is still held: ask again about the kept certificate */
		r->busy = true;
		r->state = R_RENEWING;
		r->waiting_auth = true;
		zt_ctx_need_auth(r->ctx, verify_again, r);
		return;
	}
	/* one process at a time renews an identity file; a newer certificate in it is adopted */
	char err[400];
	bool adopted = false;

	r->lock_fd = zt_identity_lock(r->ctx->id, err, sizeof(err));
	if (r->lock_fd == -2) {
		r->lock_fd = -1;
		zt_log(r->ctx, 2, "certificate renewal: %s; looking again in %u s", err, RENEW_RETRY_MIN_MS / 1000);
		arm(r, RENEW_RETRY_MIN_MS);
		return;
	}
	if (r->lock_fd < 0)
		zt_log(r->ctx, 1, "certificate renewal without the lock: %s", err);
	if (zt_identity_adopt_newer(r->ctx->id, &adopted, err, sizeof(err)))
		zt_log(r->ctx, 1, "certificate renewal: cannot read back the identity file: %s", err);
	if (adopted) {
		zt_pki_fmt_time(r->ctx->id->not_after, when, sizeof(when));
		snprintf(msg, sizeof(msg), "certificate renewed by another process: using it from %s (valid until %s, fingerprint %s)",
			 r->ctx->id->path, when, r->ctx->id->cert_fp ? r->ctx->id->cert_fp : "?");
		attempt_clear(r);
		r->requested = r->key_roll = false;
		r->renewals++;
		r->last_renewal = time(NULL);
		r->done_ms = zt_now_ms();
		report(r, 0, msg);
		schedule(r);
		return;
	}
	r->busy = true;
	r->state = R_RENEWING;
	zt_pki_fmt_time(r->ctx->id->not_after, when, sizeof(when));
	snprintf(msg, sizeof(msg), "renewing the identity certificate (valid until %s%s)", when,
		 r->requested ? ", the controller asked for it" : "");
	zt_log(r->ctx, 2, "%s", msg);
	r->waiting_auth = true;
	zt_ctx_need_auth(r->ctx, auth_ready, r);
}

struct zt_renew *zt_renew_new(struct zt_ctx *ctx)
{
	struct zt_renew *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->ctx = ctx;
	r->lock_fd = -1;
	r->state = ctx->o.renew_off ? R_DISABLED : R_UNKNOWN;
	zt_timer_init(&r->timer, timer_cb, r);
	if (r->state == R_DISABLED)
		zt_timer_start(ctx->loop, &r->timer, ADOPT_CHECK_MS);
	return r;
}

void zt_renew_free(struct zt_renew *r)
{
	if (!r)
		return;
	zt_timer_stop(r->ctx->loop, &r->timer);
	if (r->waiting_auth)
		zt_ctx_cancel_auth_wait(r->ctx, r);
	zt_http_cancel(r->req);
	attempt_clear(r);
	free(r->auth_id);
	free(r);
}

void zt_renew_on_auth(struct zt_renew *r, struct json_object *data)
{
	if (!r || r->state == R_DISABLED)
		return;
	const char *aid = jstr(data, "authenticatorId");
	struct json_object *ext = jget(data, "isCertExtendable");
	bool extendable = ext && json_object_get_boolean(ext);
	bool req = json_object_get_boolean(jget(data, "isCertExtendRequested"));
	bool roll = json_object_get_boolean(jget(data, "isCertKeyRollRequested"));

	if (aid && (!r->auth_id || strcmp(aid, r->auth_id))) {
		free(r->auth_id);
		r->auth_id = strdup(aid);
	}
	if (!extendable || !r->auth_id) {
		if (r->state != R_NOT_RENEWABLE)
			zt_log(r->ctx, 2, "identity certificate is not renewable by the controller (not issued by the network)");
		r->state = R_NOT_RENEWABLE;
		r->renew_at = 0;
		zt_timer_stop(r->ctx->loop, &r->timer);
		return;
	}
	if (r->state == R_NOT_RENEWABLE)
		r->state = R_UNKNOWN;
	if (req || roll) {
		if (!r->requested || roll != r->key_roll)
			zt_log(r->ctx, 2, "the controller asks for a certificate renewal (%s key roll)", roll ? "with" : "without");
		r->requested = true;
		r->key_roll = roll;
	}
	if (r->busy || r->state == R_RETRYING)
		return;
	schedule(r);
}

/*
 * A legacy API session refresh's reply (GET current-api-session) carries the same flags as the
 * authentication's, read from the authenticator for every request: an extension the admin
 * requested after the login is seen within one refresh interval, not only at the next
 * re-authentication (a legacy session is refreshed for months). A reply to a request issued
 * before the last attempt ended may still show the flag that attempt cleared (the controller
 * clears it at extend-verify): it is ignored, so one request renews once. (OIDC tokens carry
 * the flags as claims copied from the login at every refresh: they change only at a login.)
 */
void zt_renew_on_refresh(struct zt_renew *r, struct json_object *data, uint64_t issued_ms)
{
	if (!r || r->state == R_DISABLED || r->busy || !jget(data, "isCertExtendable"))
		return;
	if (r->done_ms && issued_ms <= r->done_ms)
		return;
	zt_renew_on_auth(r, data);
}

void zt_ctx_cert_status(struct zt_ctx *ctx, struct zt_cert_status *st)
{
	struct zt_renew *r = ctx->renew;

	memset(st, 0, sizeof(*st));
	st->not_before = ctx->id->not_before;
	st->not_after = ctx->id->not_after;
	st->fingerprint = ctx->id->cert_fp ? ctx->id->cert_fp : "";
	st->state = state_names[r ? r->state : R_UNKNOWN];
	st->last_error = r ? r->last_error : "";
	if (!r)
		return;
	st->renew_at = r->state == R_NOT_RENEWABLE || r->state == R_DISABLED ? 0 : r->renew_at;
	st->last_renewal = r->last_renewal;
	st->renewals = r->renewals;
	st->failures = r->failures;
}
