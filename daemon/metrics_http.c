// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld metrics endpoint: a small non-blocking HTTP/1.1 responder in the event loop, for
 * Prometheus scrapes of metrics_listen (GET or HEAD /metrics; / answers with a link).
 *
 * Why not libmicrohttpd: the endpoint answers one fixed resource, once per connection
 * (Connection: close), and the control socket (control.c) already has the pattern this
 * needs in the daemon's own loop: non-blocking sockets, a bounded request, a reply written as
 * the client reads it, an idle timer, a bound on connections. A library would bring its own
 * threads or fd sets, TLS and request machinery (and GnuTLS) into a privileged daemon for
 * that. The request parser (metrics_http_parse) is I/O free and unit tested.
 *
 * Bounds: METRICS_MAX_CONNS connections (a new one closes the oldest), a request header of
 * at most METRICS_REQ_MAX bytes (431 beyond), METRICS_IDLE_MS without progress closes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/metrics.h"
#include "daemon/sipovld.h"

#define METRICS_MAX_CONNS 16
#define METRICS_IDLE_MS 10000
#define METRICS_REQ_MAX 4096

struct mconn {
	struct mconn *next;
	int fd;
	struct zt_io io;
	struct zt_timer idle;
	char req[METRICS_REQ_MAX];
	size_t n;
	char *out;
	size_t out_len, out_off;
};

static int lfd = -1;
static struct zt_io lio;
static struct sockaddr_storage bound;
static struct mconn *conns;
static unsigned n_conns;
uint64_t metrics_scrapes; /* requests answered 200 */

int metrics_http_parse(const char *buf, size_t n, char *method, size_t mlen, char *path, size_t plen)
{
	const char *end = NULL, *sp1, *sp2, *eol;

	for (size_t i = 0; i + 3 < n; i++)
		if (!memcmp(buf + i, "\r\n\r\n", 4)) {
			end = buf + i;
			break;
		}
	if (!end) {
		for (size_t i = 0; i + 1 < n; i++) /* bare LF line ends (tolerated by RFC 9112) */
			if (buf[i] == '\n' && buf[i + 1] == '\n') {
				end = buf + i;
				break;
			}
		if (!end)
			return 1;
	}
	eol = memchr(buf, '\n', (size_t)(end - buf) + 1);
	if (!eol)
		return -1;
	if (eol > buf && eol[-1] == '\r')
		eol--;
	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	if (!sp1 || sp1 == buf)
		return -1;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1 || (size_t)(eol - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return -1;
	for (const char *p = buf; p < sp1; p++)
		if (*p < 'A' || *p > 'Z')
			return -1;
	for (const char *p = sp1 + 1; p < sp2; p++)
		if (*p <= ' ' || *p >= 127)
			return -1;
	size_t ml = (size_t)(sp1 - buf), pl = (size_t)(sp2 - sp1 - 1);
	const char *q = memchr(sp1 + 1, '?', pl);

	if (q)
		pl = (size_t)(q - sp1 - 1);
	if (ml >= mlen || pl >= plen)
		return -1;
	memcpy(method, buf, ml);
	method[ml] = 0;
	memcpy(path, sp1 + 1, pl);
	path[pl] = 0;
	return 0;
}

static void conn_free(void *arg)
{
	free(arg);
}

static void conn_close(struct mconn *c)
{
	struct mconn **pp = &conns;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	n_conns--;
	zt_timer_stop(D.loop, &c->idle);
	zt_io_del(D.loop, &c->io);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	zt_loop_defer_free(D.loop, conn_free, c);
}

static void conn_idle(void *arg)
{
	conn_close(arg);
}

static int respond(struct mconn *c, int code, const char *reason, const char *ctype, const char *body, size_t blen,
		   bool head)
{
	int h = asprintf(&c->out,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
			 "Cache-Control: no-store\r\n%s\r\n",
			 code, reason, ctype, blen, code == 405 ? "Allow: GET, HEAD\r\n" : "");

	if (h < 0) {
		c->out = NULL;
		return -1;
	}
	c->out_len = (size_t)h;
	if (!head && blen) {
		char *o = realloc(c->out, (size_t)h + blen);

		if (!o)
			return -1;
		memcpy(o + h, body, blen);
		c->out = o;
		c->out_len += blen;
	}
	return 0;
}

static int answer(struct mconn *c, int rc, const char *method, const char *path)
{
	static const char *txt = "text/plain; charset=utf-8";
	bool head = rc == 0 && !strcmp(method, "HEAD");

	if (rc == 2)
		return respond(c, 431, "Request Header Fields Too Large", txt, "request too large\n", 18, false);
	if (rc < 0)
		return respond(c, 400, "Bad Request", txt, "malformed request\n", 18, false);
	if (strcmp(method, "GET") && !head)
		return respond(c, 405, "Method Not Allowed", txt, "GET or HEAD only\n", 17, false);
	if (!strcmp(path, "/"))
		return respond(c, 200, "OK", "text/html; charset=utf-8",
			       "<html><body><a href=\"/metrics\">/metrics</a></body></html>\n", 58, head);
	if (strcmp(path, "/metrics"))
		return respond(c, 404, "Not Found", txt, "not found: try /metrics\n", 24, head);
	char *body;
	size_t len;

	if (metrics_text(&body, &len))
		return respond(c, 500, "Internal Server Error", txt, "out of memory\n", 14, head);
	rc = respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, len, head);
	free(body);
	metrics_scrapes++;
	return rc;
}

/* Write what the socket takes; true when done (all written or failed). */
static bool conn_flush(struct mconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno != EAGAIN;
		}
		c->out_off += (size_t)w;
	}
	return true;
}

static void conn_cb(void *arg, uint32_t ev)
{
	struct mconn *c = arg;

	(void)ev;
	if (!c->out) {
		char method[16] = "", path[256] = "";
		int rc = 1;

		for (;;) {
			ssize_t r = recv(c->fd, c->req + c->n, sizeof(c->req) - c->n, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				return;
			if (r <= 0) { /* closed or failed before a complete request */
				conn_close(c);
				return;
			}
			c->n += (size_t)r;
			rc = metrics_http_parse(c->req, c->n, method, sizeof(method), path, sizeof(path));
			if (rc != 1)
				break;
			if (c->n == sizeof(c->req)) {
				rc = 2;
				break;
			}
		}
		if (answer(c, rc, method, path)) {
			conn_close(c);
			return;
		}
		shutdown(c->fd, SHUT_RD);
	}
	if (conn_flush(c)) {
		conn_close(c);
		return;
	}
	zt_io_set(D.loop, &c->io, EPOLLOUT);
	zt_timer_start(D.loop, &c->idle, METRICS_IDLE_MS);
}

static void listen_cb(void *arg, uint32_t ev)
{
	(void)arg;
	(void)ev;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct mconn *c;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		if (n_conns == METRICS_MAX_CONNS) {
			struct mconn *old = conns;

			while (old->next)
				old = old->next;
			conn_close(old);
		}
		c->fd = fd;
		c->next = conns;
		conns = c;
		n_conns++;
		zt_io_init(&c->io, fd, conn_cb, c);
		zt_timer_init(&c->idle, conn_idle, c);
		zt_timer_start(D.loop, &c->idle, METRICS_IDLE_MS);
		if (zt_io_set(D.loop, &c->io, EPOLLIN))
			conn_close(c);
	}
}

void metrics_close(void)
{
	while (conns)
		conn_close(conns);
	if (lfd < 0)
		return;
	zt_io_del(D.loop, &lio);
	close(lfd);
	lfd = -1;
	memset(&bound, 0, sizeof(bound));
}

int metrics_apply(void)
{
	const struct sockaddr_storage *a = &D.cfg.metrics_addr;
	char x[64];
	int one = 1;

	if (!D.cfg.has_metrics) {
		if (lfd >= 0)
			logm(L_NOTICE, "metrics endpoint %s closed", cfg_fmt_sa(&bound, x, sizeof(x)));
		metrics_close();
		return 0;
	}
	if (lfd >= 0 && !memcmp(&bound, a, sizeof(bound)))
		return 0;
	metrics_close();
	lfd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (const struct sockaddr *)a, cfg_sa_len(a)) || listen(lfd, 16)) {
		logm(L_ERR, "metrics_listen %s: %s; no metrics endpoint", cfg_fmt_sa(a, x, sizeof(x)), strerror(errno));
		if (lfd >= 0)
			close(lfd);
		lfd = -1;
		return -1;
	}
	bound = *a;
	zt_io_init(&lio, lfd, listen_cb, NULL);
	zt_io_set(D.loop, &lio, EPOLLIN);
	logm(L_NOTICE, "metrics endpoint on http://%s/metrics", cfg_fmt_sa(a, x, sizeof(x)));
	return 0;
}
