// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld metrics endpoint: a small non-blocking HTTP/1.1 responder in the event loop, for
 * Prometheus scrapes of metrics_listen (GET or HEAD /metrics; / answers with a link).
 *
 * Why not libmicrohttpd: the endpoint answers one fixed resource, once per connection
 * (Connection: close), and the control socket (control.c) already has the pattern this
 * needs in the daemon's own loop, shared in reqsrv.c: non-blocking sockets, a bounded
 * request, a reply written as the client reads it, an idle timer, a bound on connections. A library would bring its own
 * threads or fd sets, TLS and request machinery (and GnuTLS) into a privileged daemon for
 * that. The request parser (metrics_http_parse) is I/O free; tests/daemon/metrics.sh sends it
 * good, malformed (400), oversized (431), unknown (404) and non-GET (405) requests.
 *
 * Bounds: METRICS_MAX_CONNS connections (a new one closes the oldest), a request header of
 * at most METRICS_REQ_MAX bytes (431 beyond), METRICS_IDLE_MS without progress closes it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/metrics.h"
#include "daemon/reqsrv.h"
#include "daemon/sipovld.h"

#define METRICS_MAX_CONNS 16
#define METRICS_IDLE_MS 10000
#define METRICS_REQ_MAX 4096

static int request_cb(struct reqsrv_conn *c, ssize_t r);

static struct reqsrv srv = {
	.max_conns = METRICS_MAX_CONNS,
	.idle_ms = METRICS_IDLE_MS,
	.in_max = METRICS_REQ_MAX,
	.request = request_cb,
	.lfd = -1,
};
static struct sockaddr_storage bound;
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

static int respond(struct reqsrv_conn *c, int code, const char *reason, const char *ctype, const char *body, size_t blen,
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

static int answer(struct reqsrv_conn *c, int rc, const char *method, const char *path)
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

/* the request so far: answered once complete, malformed or too large (reqsrv.h) */
static int request_cb(struct reqsrv_conn *c, ssize_t r)
{
	char method[16] = "", path[256] = "";
	int rc;

	if (r <= 0) /* closed or failed before a complete request */
		return -1;
	rc = metrics_http_parse(c->in, c->n, method, sizeof(method), path, sizeof(path));
	if (rc == 1 && c->n < METRICS_REQ_MAX)
		return 0;
	if (rc == 1)
		rc = 2;
	if (answer(c, rc, method, path))
		return -1;
	shutdown(c->fd, SHUT_RD);
	return 1;
}

void metrics_close(void)
{
	bool listening = srv.lfd >= 0;

	reqsrv_close(&srv);
	if (listening)
		memset(&bound, 0, sizeof(bound));
}

int metrics_apply(void)
{
	const struct sockaddr_storage *a = &D.cfg.metrics_addr;
	char x[64];
	int one = 1;

	if (!D.cfg.has_metrics) {
		if (srv.lfd >= 0)
			logm(L_NOTICE, "metrics endpoint %s closed", cfg_fmt_sa(&bound, x, sizeof(x)));
		metrics_close();
		return 0;
	}
	if (srv.lfd >= 0 && !memcmp(&bound, a, sizeof(bound)))
		return 0;
	metrics_close();
	int lfd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (const struct sockaddr *)a, cfg_sa_len(a)) || listen(lfd, 16)) {
		logm(L_ERR, "metrics_listen %s: %s; no metrics endpoint", cfg_fmt_sa(a, x, sizeof(x)), strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	bound = *a;
	reqsrv_listen(&srv, lfd);
	logm(L_NOTICE, "metrics endpoint on http://%s/metrics", cfg_fmt_sa(a, x, sizeof(x)));
	return 0;
}
