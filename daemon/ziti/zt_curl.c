// SPDX-License-Identifier: GPL-2.0
/*
 * Controller HTTPS on libcurl's multi interface, driven by the context's zt_loop.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION -> zt_io) and when to call it
 * back (CURLMOPT_TIMERFUNCTION -> zt_timer); nothing here waits. One multi handle per context
 * keeps its connections alive between requests (one TLS handshake for many requests); a share
 * handle keeps the TLS sessions, so a connection the controller closed while idle is replaced
 * by a resumed handshake (no client-certificate signature).
 *
 * Names are resolved by the context's c-ares resolver (zt_resolve.h: cached, never blocking)
 * and handed to curl with CURLOPT_RESOLVE: Debian's libcurl resolves with a thread and
 * getaddrinfo, which would bypass the resolver the rest of the client uses.
 *
 * TLS: the identity's certificate (and chain), key and CA bundle, as in-memory blobs; curl
 * verifies the controller's certificate and host name against that bundle only. A renewed
 * certificate is a different blob, so connections of the previous one are not reused.
 */
#include "zt_internal.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define HTTP_MAX_RESPONSE (32u << 20)

struct zt_curl {
	struct zt_ctx *ctx;
	struct zt_loop *loop;
	CURLM *multi;
	CURLSH *share;
	struct zt_timer timer;
	struct zt_http *reqs; /* every request not finished or cancelled */
	unsigned gen;         /* bumped by zt_curl_free: stops a completion loop */
	bool dead;
};

struct curl_sock {
	struct zt_curl *c;
	curl_socket_t fd;
	struct zt_io io;
};

struct zt_http {
	struct zt_curl *c;
	struct zt_http *next, *prev;
	CURL *e;
	struct zt_resolve_req *rq;
	struct curl_slist *hdrs, *resolve;
	struct zt_buf in;
	bool too_large, added;
	zt_http_cb cb;
	void *arg;
	char *what; /* "GET /path" for errors */
	char *url, *body, *ctype, *authz;
	bool no_session;
	char *sent_token;    /* the session token the request carries (NULL: none) */
	bool resent;         /* sent again once with a newer token (a 401 for a replaced one) */
	size_t ctrl;         /* the member it went to (ctx->ctrls), SIZE_MAX: a complete URL */
	char *host, *port;   /* that member's */
	struct zt_timer fail_timer; /* reports a failure before curl was involved */
	char fail[300];
	char errbuf[CURL_ERROR_SIZE];
};

static int ssl_ex_idx = -1, ssl_seen_idx = -1;

/* ---------------- TLS handshake accounting ---------------- */

static void ssl_info_cb(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_DONE))
		return;
	struct zt_identity *id = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ssl_ex_idx);

	/* once per connection: TLS 1.3 session tickets end "handshakes" of their own */
	if (!id || SSL_get_ex_data(ssl, ssl_seen_idx) || !SSL_set_ex_data((SSL *)ssl, ssl_seen_idx, id))
		return;
	if (SSL_session_reused((SSL *)ssl))
		id->api_resumed++;
	else
		id->api_handshakes++;
}

static CURLcode ssl_ctx_cb(CURL *e, void *sslctx, void *arg)
{
	(void)e;
	SSL_CTX_set_ex_data(sslctx, ssl_ex_idx, arg);
	SSL_CTX_set_info_callback(sslctx, ssl_info_cb);
	return CURLE_OK;
}

/* ---------------- loop plumbing ---------------- */

static void check_done(struct zt_curl *c);

static void sock_io(void *arg, uint32_t ev)
{
	struct curl_sock *s = arg;
	struct zt_curl *c = s->c;
	int flags = 0, running;

	if (ev & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (ev & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (ev & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(c->multi, s->fd, flags, &running);
	check_done(c);
}

static int socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct zt_curl *c = userp;
	struct curl_sock *s = socketp;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			zt_io_del(c->loop, &s->io);
			curl_multi_assign(c->multi, fd, NULL);
			zt_loop_defer_free(c->loop, free, s); /* events of this batch may still name it */
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		s->c = c;
		s->fd = fd;
		zt_io_init(&s->io, fd, sock_io, s);
		curl_multi_assign(c->multi, fd, s);
	}
	uint32_t evs = 0;

	if (what & CURL_POLL_IN)
		evs |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		evs |= EPOLLOUT;
	return zt_io_set(c->loop, &s->io, evs) ? -1 : 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct zt_curl *c = userp;

	(void)m;
	if (timeout_ms < 0)
		zt_timer_stop(c->loop, &c->timer);
	else
		zt_timer_start(c->loop, &c->timer, (uint64_t)timeout_ms); /* 0: next iteration */
	return 0;
}

static void timer_fire(void *arg)
{
	struct zt_curl *c = arg;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

/* ---------------- requests ---------------- */

static void req_unlink(struct zt_http *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else if (h->c->reqs == h)
		h->c->reqs = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->next = h->prev = NULL;
}

static void req_free(struct zt_http *h)
{
	struct zt_curl *c = h->c;

	zt_timer_stop(c->loop, &h->fail_timer);
	zt_resolve_cancel(h->rq);
	h->rq = NULL;
	if (h->e) {
		if (h->added)
			curl_multi_remove_handle(c->multi, h->e);
		curl_easy_cleanup(h->e);
	}
	req_unlink(h);
	curl_slist_free_all(h->hdrs);
	curl_slist_free_all(h->resolve);
	zt_buf_free(&h->in);
	free(h->what);
	free(h->url);
	free(h->host);
	free(h->port);
	if (h->body)
		OPENSSL_cleanse(h->body, strlen(h->body));
	free(h->body);
	free(h->ctype);
	free(h->authz);
	if (h->sent_token)
		OPENSSL_cleanse(h->sent_token, strlen(h->sent_token));
	free(h->sent_token);
	free(h);
}

static void req_finish(struct zt_http *h, struct zt_http_resp *r)
{
	zt_http_cb cb = h->cb;
	void *arg = h->arg;

	if (r->status == 0)
		zt_log(h->c->ctx, 3, "%s: %s", h->what ? h->what : "?", r->err ? r->err : "?");
	if (h->ctrl != SIZE_MAX)
		zt_ctx_ctrl_outcome(h->c->ctx, h->ctrl, r);
	if (cb)
		cb(arg, r);
}

/* a failure before the transfer started: reported from the loop, never from the request call */
static void fail_timer_cb(void *arg)
{
	struct zt_http *h = arg;
	struct zt_http_resp r = { .err = h->fail };

	req_unlink(h);
	req_finish(h, &r);
	req_free(h);
}

static void req_fail_later(struct zt_http *h, const char *fmt, const char *detail)
{
	snprintf(h->fail, sizeof(h->fail), fmt, detail);
	zt_resolve_cancel(h->rq);
	h->rq = NULL;
	zt_timer_start(h->c->loop, &h->fail_timer, 0);
}

static size_t write_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct zt_http *h = arg;

	if (zt_buf_used(&h->in) + n > HTTP_MAX_RESPONSE) {
		h->too_large = true;
		return 0;
	}
	return zt_buf_append(&h->in, p, n) ? 0 : sz * n;
}

static void transfer_error(struct zt_http *h, CURLcode rc, char *buf, size_t len)
{
	const char *detail = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(buf, len, "controller request timed out (%s)", h->what ? h->what : "?");
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(buf, len, "controller unreachable: %s", detail);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(buf, len, "controller: TLS certificate verification failed: %s", detail);
		break;
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(buf, len, "controller: TLS error: %s", detail);
		break;
	case CURLE_GOT_NOTHING:
		snprintf(buf, len, "controller closed the connection without a response");
		break;
	case CURLE_WRITE_ERROR:
		if (h->too_large) {
			snprintf(buf, len, "controller response too large");
			break;
		}
		/* fall through */
	default:
		snprintf(buf, len, "controller: %s", detail);
		break;
	}
}

static bool resend_stale(struct zt_http *h);

static void check_done(struct zt_curl *c)
{
	unsigned gen = c->gen;
	CURLMsg *m;
	int left;

	while (!c->dead && c->gen == gen && (m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct zt_http *h = NULL;
		CURLcode rc = m->data.result;
		char err[600];
		struct zt_http_resp r = { 0 };
		long status = 0;

		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&h);
		curl_multi_remove_handle(c->multi, h->e);
		h->added = false;
		req_unlink(h);
		if (rc == CURLE_OK) {
			curl_easy_getinfo(h->e, CURLINFO_RESPONSE_CODE, &status);
			if (status == 401 && resend_stale(h))
				continue;
			if (!zt_buf_append(&h->in, "", 1)) {
				h->in.len--;
				r.status = (int)status;
				r.body = (const char *)h->in.data + h->in.off;
				r.body_len = zt_buf_used(&h->in);
				curl_easy_getinfo(h->e, CURLINFO_REDIRECT_URL, (char **)&r.location);
			} else {
				r.err = "out of memory";
			}
		} else {
			transfer_error(h, rc, err, sizeof(err));
			r.err = err;
		}
		h->c->ctx->api_requests++;
		req_finish(h, &r);
		req_free(h);
	}
}

static int add_header(struct curl_slist **l, const char *fmt, const char *v)
{
	char b[4096];
	int n = snprintf(b, sizeof(b), fmt, v);
	struct curl_slist *nl;

	if (n < 0 || (size_t)n >= sizeof(b) || !(nl = curl_slist_append(*l, b)))
		return -1;
	*l = nl;
	return 0;
}

/* the identity's certificate with its chain, PEM */
static char *cert_chain_pem(SSL_CTX *sc)
{
	BIO *b = BIO_new(BIO_s_mem());
	X509 *leaf = SSL_CTX_get0_certificate(sc);
	STACK_OF(X509) *chain = NULL;
	char *out = NULL, *p;
	long n;

	if (!b || !leaf || !PEM_write_bio_X509(b, leaf))
		goto done;
	if (SSL_CTX_get0_chain_certs(sc, &chain) && chain)
		for (int i = 0; i < sk_X509_num(chain); i++)
			if (!PEM_write_bio_X509(b, sk_X509_value(chain, i)))
				goto done;
	n = BIO_get_mem_data(b, &p);
	out = malloc((size_t)n + 1);
	if (out) {
		memcpy(out, p, (size_t)n);
		out[n] = 0;
	}
done:
	BIO_free(b);
	return out;
}

/* h's request headers, with the session's current token unless the request goes without it */
static int build_headers(struct zt_http *h)
{
	struct zt_ctx *ctx = h->c->ctx;
	bool tok = ctx->api_token && !h->no_session && !h->authz;

	curl_slist_free_all(h->hdrs);
	h->hdrs = NULL;
	if (h->sent_token)
		OPENSSL_cleanse(h->sent_token, strlen(h->sent_token));
	free(h->sent_token);
	h->sent_token = NULL;
	if (add_header(&h->hdrs, "%s", "Accept: application/json") ||
	    (tok && add_header(&h->hdrs, ctx->bearer ? "Authorization: Bearer %s" : "zt-session: %s", ctx->api_token)) ||
	    (tok && !(h->sent_token = strdup(ctx->api_token))) ||
	    (h->authz && add_header(&h->hdrs, "Authorization: %s", h->authz)) ||
	    (h->body && add_header(&h->hdrs, "Content-Type: %s", h->ctype ? h->ctype : "application/json")) ||
	    add_header(&h->hdrs, "%s", "Expect:"))
		return -1;
	return h->e ? (curl_easy_setopt(h->e, CURLOPT_HTTPHEADER, h->hdrs) ? -1 : 0) : 0;
}

static int setup_easy(struct zt_http *h, const char *method)
{
	struct zt_ctx *ctx = h->c->ctx;
	struct zt_identity *id = ctx->id;
	CURL *e = curl_easy_init();
	char *cert = NULL;
	int rc = -1;

	if (!e)
		return -1;
	h->e = e;
	cert = cert_chain_pem(id->ssl);
	if (!cert || !id->key_pem || !id->ca_pem)
		goto out;
	struct curl_blob cb = { cert, strlen(cert), CURL_BLOB_COPY };
	struct curl_blob kb = { id->key_pem, strlen(id->key_pem), CURL_BLOB_COPY };
	struct curl_blob ab = { id->ca_pem, strlen(id->ca_pem), CURL_BLOB_COPY };

	if (build_headers(h))
		goto out;
	if (curl_easy_setopt(e, CURLOPT_URL, h->url) || curl_easy_setopt(e, CURLOPT_PRIVATE, h) ||
	    curl_easy_setopt(e, CURLOPT_SHARE, h->c->share) ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") || curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf) ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "sipovl-zt/0.1") ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->hdrs) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) || curl_easy_setopt(e, CURLOPT_WRITEDATA, h) ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ctx->o.http_timeout_ms) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)ctx->o.http_timeout_ms) ||
	    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L) || curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) || curl_easy_setopt(e, CURLOPT_COOKIEFILE, "") ||
	    curl_easy_setopt(e, CURLOPT_CAINFO, NULL) || curl_easy_setopt(e, CURLOPT_CAPATH, NULL) ||
	    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ab) || curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb) ||
	    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM") || curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb) ||
	    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM") ||
	    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) || curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) ||
	    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb) ||
	    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, id))
		goto out;
	if (!strcmp(method, "POST")) {
		if (curl_easy_setopt(e, CURLOPT_POST, 1L) || curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->body ? h->body : "") ||
		    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(h->body ? strlen(h->body) : 0)))
			goto out;
	} else if (strcmp(method, "GET")) {
		if (curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) ||
		    (h->body && (curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->body) ||
				 curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(h->body)))))
			goto out;
	}
	rc = 0;
out:
	if (cert)
		OPENSSL_cleanse(cert, strlen(cert));
	free(cert);
	return rc;
}

/* the RESOLVE entry handing curl the resolver's addresses for h's host; 0 or -1 */
static int resolve_entry(struct zt_http *h, const struct zt_addrs *a)
{
	char line[1024], plus[1030];
	size_t n = (size_t)snprintf(line, sizeof(line), "%s:%s:", h->host, h->port);

	for (unsigned i = 0; i < a->n && n < sizeof(line); i++) {
		char ab[INET6_ADDRSTRLEN];
		const struct sockaddr *sa = (const struct sockaddr *)&a->a[i];
		bool v6 = sa->sa_family == AF_INET6;
		const void *src = v6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
				     : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

		if (!inet_ntop(sa->sa_family, src, ab, sizeof(ab)))
			continue;
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s%s%s", i ? "," : "", v6 ? "[" : "", ab,
				      v6 ? "]" : "");
	}
	if (n >= sizeof(line)) {
		req_fail_later(h, "controller unreachable: %s", "too many addresses");
		return -1;
	}
	/* '+': an ordinary cache entry (it expires), replacing the previous request's */
	snprintf(plus, sizeof(plus), "+%s", line);
	struct curl_slist *l = curl_slist_append(NULL, plus);

	if (!l || curl_easy_setopt(h->e, CURLOPT_RESOLVE, l)) {
		curl_slist_free_all(l);
		req_fail_later(h, "%s", "out of memory");
		return -1;
	}
	h->resolve = l;
	return 0;
}

static void resolved(void *arg, int err, const char *msg, const struct zt_addrs *a)
{
	struct zt_http *h = arg;
	unsigned char bin[sizeof(struct in6_addr)];

	h->rq = NULL;
	if (err) {
		req_fail_later(h, "controller unreachable: %s", msg);
		return;
	}
	/*
	 * An address literal needs no entry (curl does not resolve one), and an IPv6 one cannot
	 * have one: libcurl 7.88 refuses "+::1:PORT:[::1]" as unparsable, so a ztAPI (or a
	 * cluster member) at https://[::1]:PORT was never reached.
	 */
	if (inet_pton(AF_INET6, h->host, bin) != 1 && inet_pton(AF_INET, h->host, bin) != 1 &&
	    resolve_entry(h, a))
		return;
	if (curl_multi_add_handle(h->c->multi, h->e)) {
		req_fail_later(h, "%s", "curl_multi_add_handle failed");
		return;
	}
	h->added = true;
}

static void req_link(struct zt_http *h)
{
	struct zt_curl *c = h->c;

	h->prev = NULL;
	h->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = h;
	c->reqs = h;
}

/*
 * A 401 for a request that carried a session token the context has replaced since (refreshed,
 * or a new login, while the request was out) says nothing of the current token. The v1.6.5
 * controller revokes an OIDC login's access token at the login's first refresh (the refresh
 * token carries the access token's id, and the refresh revokes that id), so a request sent
 * before that refresh was answered is refused "access token has been revoked by id"; its owner
 * would drop the new, valid token and log in from scratch. Such a request is sent again, once,
 * with the current token. True when it was.
 */
static bool resend_stale(struct zt_http *h)
{
	struct zt_ctx *ctx = h->c->ctx;

	if (!h->sent_token || h->resent || ctx->auth != ZT_AUTH_OK || !ctx->api_token ||
	    !strcmp(ctx->api_token, h->sent_token) || build_headers(h))
		return false;
	h->resent = true;
	zt_buf_consume(&h->in, zt_buf_used(&h->in));
	h->too_large = false;
	h->errbuf[0] = 0;
	if (curl_multi_add_handle(h->c->multi, h->e))
		return false;
	h->added = true;
	req_link(h);
	zt_log(ctx, 2, "%s: HTTP 401 for the session token it was sent with, replaced since: sent again with the current one",
	       h->what ? h->what : "?");
	return true;
}

struct zt_http *zt_http_request_ex(struct zt_ctx *ctx, const struct zt_http_opts *o, zt_http_cb cb, void *arg)
{
	struct zt_curl *c = ctx->curl;
	struct zt_http *h;
	size_t idx = ctx->ctrls.cur;

	if (o->pin_host && ctx->ctrls.n) {
		for (idx = 0; idx < ctx->ctrls.n; idx++)
			if (!strcmp(ctx->ctrls.v[idx].host, o->pin_host) && !strcmp(ctx->ctrls.v[idx].port, o->pin_port))
				break;
		if (idx == ctx->ctrls.n)
			return NULL; /* no longer a member */
	}
	const struct zt_ctrl *ct = ctx->ctrls.n ? &ctx->ctrls.v[idx] : NULL;
	const char *host = ct ? ct->host : ctx->id->host, *port = ct ? ct->port : ctx->id->port;
	bool v6 = strchr(host, ':') != NULL;

	if (!c || c->dead || !(h = calloc(1, sizeof(*h))))
		return NULL;
	h->c = c;
	h->ctrl = o->url || !ct ? SIZE_MAX : idx;
	h->cb = cb;
	h->arg = arg;
	h->no_session = o->no_session;
	zt_timer_init(&h->fail_timer, fail_timer_cb, h);
	if (asprintf(&h->what, "%s %s", o->method, o->path) < 0) {
		h->what = NULL;
		goto fail;
	}
	if (o->url) {
		h->url = strdup(o->url);
	} else if (asprintf(&h->url, "https://%s%s%s:%s%s", v6 ? "[" : "", host, v6 ? "]" : "", port, o->path) < 0) {
		h->url = NULL;
	}
	h->host = strdup(host);
	h->port = strdup(port);
	if (!h->url || !h->host || !h->port || (o->body && !(h->body = strdup(o->body))) ||
	    (o->content_type && !(h->ctype = strdup(o->content_type))) ||
	    (o->authorization && !(h->authz = strdup(o->authorization))))
		goto fail;
	req_link(h);
	if (setup_easy(h, o->method)) {
		req_free(h);
		return NULL;
	}
	h->rq = zt_resolve(ctx->res, host, (uint16_t)atoi(port), AF_UNSPEC, resolved, h);
	if (!h->rq)
		req_fail_later(h, "controller unreachable: cannot resolve %s: out of memory", host);
	return h;
fail:
	req_free(h);
	return NULL;
}

struct zt_http *zt_http_request(struct zt_ctx *ctx, const char *method, const char *path, const char *body,
				zt_http_cb cb, void *arg)
{
	struct zt_http_opts o = { .method = method, .path = path, .body = body };

	return zt_http_request_ex(ctx, &o, cb, arg);
}

void zt_http_cancel(struct zt_http *h)
{
	if (h)
		req_free(h);
}

int zt_curl_init(struct zt_ctx *ctx)
{
	static bool global;
	struct zt_curl *c;

	if (!global) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return -1;
		global = true;
	}
	if (ssl_ex_idx < 0)
		ssl_ex_idx = SSL_CTX_get_ex_new_index(0, "sipovl-zt identity", NULL, NULL, NULL);
	if (ssl_seen_idx < 0)
		ssl_seen_idx = SSL_get_ex_new_index(0, "sipovl-zt counted", NULL, NULL, NULL);
	if (ssl_ex_idx < 0 || ssl_seen_idx < 0 || !(c = calloc(1, sizeof(*c))))
		return -1;
	c->ctx = ctx;
	c->loop = ctx->loop;
	zt_timer_init(&c->timer, timer_fire, c);
	c->multi = curl_multi_init();
	c->share = curl_share_init();
	if (!c->multi || !c->share || curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE) ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb) ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) ||
	    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 4L) ||
	    /*
	     * At most 2 connections to the controller: a burst of requests (start: listing,
	     * identity, sessions) queues on them instead of opening one connection each, whose
	     * full handshakes (no session ticket yet) would each sign with the identity's key.
	     */
	    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 2L)) {
		curl_multi_cleanup(c->multi);
		curl_share_cleanup(c->share);
		free(c);
		return -1;
	}
	ctx->curl = c;
	return 0;
}

static void curl_free_deferred(void *p)
{
	struct zt_curl *c = p;

	curl_multi_cleanup(c->multi); /* closes the kept-alive connections */
	curl_share_cleanup(c->share);
	free(c);
}

/* Every request's owner has cancelled it by now; whatever is left is cancelled silently. */
void zt_curl_free(struct zt_ctx *ctx)
{
	struct zt_curl *c = ctx->curl;

	if (!c)
		return;
	ctx->curl = NULL;
	while (c->reqs)
		req_free(c->reqs);
	c->dead = true;
	c->gen++;
	zt_timer_stop(c->loop, &c->timer);
	/* curl_multi_cleanup removes its sockets through socket_cb: the loop must still exist */
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, NULL);
	/* a completion callback may be freeing the context: the loop frees c after it */
	zt_loop_defer_free(c->loop, curl_free_deferred, c);
}
