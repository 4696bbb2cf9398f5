// SPDX-License-Identifier: GPL-2.0
/*
 * Minimal asynchronous HTTPS/1.1 client for the controller's edge client API.
 * The controller's name is resolved without blocking (zt_resolve.h), every address tried.
 * One TLS connection per request with "Connection: close"; responses with Content-Length,
 * chunked encoding or read-until-close are accepted. The server certificate is verified
 * against the identity's CA bundle and the ztAPI host name; the identity certificate is
 * presented as the TLS client certificate.
 */
#include "zt_internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_MAX_RESPONSE (32u << 20)

enum { H_CONNECT, H_TLS, H_SEND, H_RECV, H_DONE };

struct zt_http {
	struct zt_ctx *ctx;
	int fd;
	SSL *ssl;
	struct zt_connect *conn; /* resolving and connecting */
	struct zt_io io;
	struct zt_timer timer;
	int state;
	struct zt_buf out, in;
	zt_http_cb cb;
	void *arg;
	char *what; /* "GET /path" for errors */
	char pending_err[300];
};

void zt_ssl_err(char *buf, size_t len, const char *what, SSL *ssl, int rc)
{
	int e = SSL_get_error(ssl, rc);
	long vr = SSL_get_verify_result(ssl);
	unsigned long oe = ERR_peek_last_error();
	char ob[200] = "";

	if (oe)
		ERR_error_string_n(oe, ob, sizeof(ob));
	ERR_clear_error();
	if (vr != X509_V_OK)
		snprintf(buf, len, "%s: TLS certificate verification failed: %s", what,
			 X509_verify_cert_error_string(vr));
	else if (e == SSL_ERROR_SYSCALL)
		snprintf(buf, len, "%s: TLS I/O error: %s", what, errno ? strerror(errno) : "connection closed");
	else if (e == SSL_ERROR_ZERO_RETURN)
		snprintf(buf, len, "%s: TLS connection closed", what);
	else
		snprintf(buf, len, "%s: TLS error: %s", what, *ob ? ob : "unknown");
}

static void http_free(void *p)
{
	struct zt_http *h = p;

	zt_buf_free(&h->in);
	zt_buf_free(&h->out);
	free(h->what);
	free(h);
}

static void http_release(struct zt_http *h)
{
	struct zt_loop *l = h->ctx->loop;

	zt_timer_stop(l, &h->timer);
	zt_connect_cancel(h->conn);
	h->conn = NULL;
	if (h->fd >= 0) {
		zt_io_del(l, &h->io);
		close(h->fd);
		h->fd = -1;
	}
	SSL_free(h->ssl);
	h->ssl = NULL;
	h->state = H_DONE;
	zt_loop_defer_free(l, http_free, h);
}

static void http_finish(struct zt_http *h, const struct zt_http_resp *r)
{
	zt_http_cb cb = h->cb;
	void *arg = h->arg;

	http_release(h);
	if (cb)
		cb(arg, r);
}

static void http_fail(struct zt_http *h, const char *fmt, const char *detail)
{
	char msg[512];
	struct zt_http_resp r = { 0 };

	snprintf(msg, sizeof(msg), fmt, detail);
	r.err = msg;
	http_finish(h, &r);
}

void zt_http_cancel(struct zt_http *h)
{
	if (!h || h->state == H_DONE)
		return;
	h->cb = NULL;
	http_release(h);
}

/* Returns 1 when a complete response is in h->in (and fills r), 0 if more is needed, -1 bad. */
static int http_parse(struct zt_http *h, bool eof, struct zt_http_resp *r, struct zt_buf *dechunk)
{
	char *s = (char *)h->in.data + h->in.off;
	size_t n = zt_buf_used(&h->in);
	char *end = memmem(s, n, "\r\n\r\n", 4);

	if (!end)
		return eof ? -1 : 0;
	size_t hlen = end + 4 - s;
	int status = 0;

	if (sscanf(s, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	long clen = -1;
	bool chunked = false;

	for (char *line = strstr(s, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
		if (!strncasecmp(line, "Content-Length:", 15))
			clen = strtol(line + 15, NULL, 10);
		else if (!strncasecmp(line, "Transfer-Encoding:", 18) && strcasestr(line, "chunked") &&
			 strcasestr(line, "chunked") < strstr(line, "\r\n"))
			chunked = true;
	}
	r->status = status;
	if (chunked) {
		size_t pos = hlen;

		dechunk->len = dechunk->off = 0;
		for (;;) {
			char *lend = memmem(s + pos, n - pos, "\r\n", 2);

			if (!lend)
				return eof ? -1 : 0;
			unsigned long csz = strtoul(s + pos, NULL, 16);

			pos = lend + 2 - s;
			if (csz == 0) {
				r->body = (const char *)dechunk->data;
				r->body_len = dechunk->len;
				if (zt_buf_append(dechunk, "", 1))
					return -1;
				dechunk->len--;
				return 1;
			}
			if (csz > n - pos || n - pos - csz < 2)
				return eof ? -1 : 0;
			if (zt_buf_append(dechunk, s + pos, csz))
				return -1;
			pos += csz + 2;
		}
	}
	if (clen >= 0) {
		if (n - hlen < (size_t)clen)
			return eof ? -1 : 0;
		r->body = s + hlen;
		r->body_len = (size_t)clen;
		return 1;
	}
	if (!eof)
		return 0;
	r->body = s + hlen;
	r->body_len = n - hlen;
	return 1;
}

static void http_io(void *arg, uint32_t ev);

static void http_step(struct zt_http *h)
{
	char err[512];
	int rc;

	if (h->state == H_CONNECT) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			http_fail(h, "controller unreachable: %s", strerror(soerr));
			return;
		}
		h->ssl = SSL_new(h->ctx->id->ssl);
		if (!h->ssl) {
			http_fail(h, "%s", "SSL_new failed");
			return;
		}
		SSL_set_app_data(h->ssl, ZT_SSL_API);
		if (h->ctx->id->api_sess)
			SSL_set_session(h->ssl, h->ctx->id->api_sess); /* resume: no client signature */
		SSL_set_fd(h->ssl, h->fd);
		SSL_set1_host(h->ssl, h->ctx->id->host);
		SSL_set_hostflags(h->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		SSL_set_tlsext_host_name(h->ssl, h->ctx->id->host);
		h->state = H_TLS;
	}
	if (h->state == H_TLS) {
		ERR_clear_error();
		rc = SSL_connect(h->ssl);
		if (rc != 1) {
			int e = SSL_get_error(h->ssl, rc);

			if (e == SSL_ERROR_WANT_READ) {
				zt_io_set(h->ctx->loop, &h->io, EPOLLIN);
				return;
			}
			if (e == SSL_ERROR_WANT_WRITE) {
				zt_io_set(h->ctx->loop, &h->io, EPOLLOUT);
				return;
			}
			zt_ssl_err(err, sizeof(err), "controller", h->ssl, rc);
			http_fail(h, "%s", err);
			return;
		}
		if (SSL_session_reused(h->ssl))
			h->ctx->id->api_resumed++;
		else
			h->ctx->id->api_handshakes++;
		h->state = H_SEND;
	}
	if (h->state == H_SEND) {
		while (zt_buf_used(&h->out)) {
			ERR_clear_error();
			rc = SSL_write(h->ssl, h->out.data + h->out.off, (int)zt_buf_used(&h->out));
			if (rc <= 0) {
				int e = SSL_get_error(h->ssl, rc);

				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					zt_io_set(h->ctx->loop, &h->io, e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN);
					return;
				}
				zt_ssl_err(err, sizeof(err), "controller", h->ssl, rc);
				http_fail(h, "%s", err);
				return;
			}
			zt_buf_consume(&h->out, (size_t)rc);
		}
		h->state = H_RECV;
		zt_io_set(h->ctx->loop, &h->io, EPOLLIN);
	}
	if (h->state == H_RECV) {
		bool eof = false;

		for (;;) {
			if (zt_buf_reserve(&h->in, 16384)) {
				http_fail(h, "%s", "out of memory");
				return;
			}
			ERR_clear_error();
			rc = SSL_read(h->ssl, h->in.data + h->in.len, 16384);
			if (rc > 0) {
				h->in.len += rc;
				if (zt_buf_used(&h->in) > HTTP_MAX_RESPONSE) {
					http_fail(h, "%s", "controller response too large");
					return;
				}
				continue;
			}
			int e = SSL_get_error(h->ssl, rc);

			if (e == SSL_ERROR_WANT_READ)
				break;
			if (e == SSL_ERROR_WANT_WRITE) {
				zt_io_set(h->ctx->loop, &h->io, EPOLLOUT);
				break;
			}
			eof = true; /* close (clean or not) ends a Connection: close response */
			ERR_clear_error();
			break;
		}
		struct zt_http_resp r = { 0 };
		struct zt_buf dechunk = { 0 };

		/* NUL-terminate for sscanf/strstr (the reserve above left room) */
		if (zt_buf_reserve(&h->in, 1)) {
			http_fail(h, "%s", "out of memory");
			return;
		}
		h->in.data[h->in.len] = 0;
		int pr = http_parse(h, eof, &r, &dechunk);

		if (pr == 0) {
			zt_buf_free(&dechunk);
			return;
		}
		if (pr < 0) {
			zt_buf_free(&dechunk);
			http_fail(h, "%s", eof && !zt_buf_used(&h->in) ? "controller closed the connection without a response"
								 : "malformed HTTP response from controller");
			return;
		}
		/* body must be NUL terminated for json-c: copy */
		char *body = malloc(r.body_len + 1);

		if (!body) {
			zt_buf_free(&dechunk);
			http_fail(h, "%s", "out of memory");
			return;
		}
		memcpy(body, r.body, r.body_len);
		body[r.body_len] = 0;
		r.body = body;
		zt_buf_free(&dechunk);
		/*
		 * A complete response: close the TLS session cleanly (close_notify, best effort,
		 * not waited for). OpenSSL drops a session whose connection ended without it, and
		 * the next request would need a full handshake.
		 */
		ERR_clear_error();
		if (SSL_shutdown(h->ssl) < 0)
			ERR_clear_error();
		http_finish(h, &r);
		free(body);
	}
}

static void http_io(void *arg, uint32_t ev)
{
	(void)ev;
	http_step(arg);
}

static void http_connected(void *arg, int fd, const char *err)
{
	struct zt_http *h = arg;

	h->conn = NULL;
	if (fd < 0) {
		http_fail(h, "controller unreachable: %s", err);
		return;
	}
	h->fd = fd;
	zt_io_init(&h->io, h->fd, http_io, h);
	h->state = H_CONNECT;
	http_step(h);
}

static void http_timeout(void *arg)
{
	struct zt_http *h = arg;

	if (h->pending_err[0])
		http_fail(h, "%s", h->pending_err);
	else
		http_fail(h, "controller request timed out (%s)", h->what ? h->what : "?");
}

struct zt_http *zt_http_request(struct zt_ctx *ctx, const char *method, const char *path,
				const char *body, zt_http_cb cb, void *arg)
{
	struct zt_http *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ctx = ctx;
	h->fd = -1;
	h->cb = cb;
	h->arg = arg;
	zt_timer_init(&h->timer, http_timeout, h);
	size_t blen = body ? strlen(body) : 0;
	char hdr[1024];
	int n = snprintf(hdr, sizeof(hdr),
			 "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: sipovl-zt/0.1\r\n"
			 "Accept: application/json\r\nConnection: close\r\n%s%s%s"
			 "Content-Length: %zu\r\n%s\r\n",
			 method, path, ctx->id->host, ctx->id->port, ctx->api_token ? "zt-session: " : "",
			 ctx->api_token ? ctx->api_token : "", ctx->api_token ? "\r\n" : "", blen,
			 body ? "Content-Type: application/json\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(hdr) || zt_buf_append(&h->out, hdr, n) || zt_buf_append(&h->out, body, blen)) {
		http_free(h);
		return NULL;
	}
	h->what = malloc(strlen(method) + strlen(path) + 2);
	if (h->what)
		sprintf(h->what, "%s %s", method, path);
	/* resolve without blocking, then try every address (a third of the request's time each) */
	h->state = H_CONNECT;
	h->conn = zt_connect_start(ctx->res, ctx->id->host, ctx->id->port, ctx->o.http_timeout_ms / 3,
				   http_connected, h);
	if (!h->conn) {
		/* report asynchronously for uniform callback semantics */
		snprintf(h->pending_err, sizeof(h->pending_err), "controller unreachable: cannot connect to %s:%s",
			 ctx->id->host, ctx->id->port);
		zt_timer_start(ctx->loop, &h->timer, 0);
		return h;
	}
	zt_timer_start(ctx->loop, &h->timer, ctx->o.http_timeout_ms);
	return h;
}
