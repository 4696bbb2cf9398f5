// SPDX-License-Identifier: GPL-2.0
/*
 * TCP connect to a host name or address without blocking the loop: resolve (zt_resolve), then
 * try the addresses one after the other, moving on when a connect fails or has not completed
 * within the attempt time (see zt_resolve.h).
 */
#include "zt_resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct zt_connect {
	struct zt_resolver *r;
	struct zt_loop *loop;
	struct zt_resolve_req *rq;
	char *host, *port;
	unsigned attempt_ms;
	zt_connect_cb cb;
	void *arg;
	struct zt_addrs addrs;
	unsigned next; /* next address to try */
	int fd;
	struct zt_io io;
	struct zt_timer timer;
	char tried[200]; /* "addr: error; ..." for the final message */
	bool done;
};

static void fmt_addr(const struct sockaddr_storage *ss, char *b, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
		snprintf(b, n, "%s", ip);
	} else {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof(ip));
		snprintf(b, n, "[%s]", ip);
	}
}

static void conn_free(void *p)
{
	struct zt_connect *c = p;

	free(c->host);
	free(c->port);
	free(c);
}

static void close_attempt(struct zt_connect *c)
{
	zt_timer_stop(c->loop, &c->timer);
	if (c->fd >= 0) {
		zt_io_del(c->loop, &c->io);
		close(c->fd);
		c->fd = -1;
	}
}

static void finish(struct zt_connect *c, int fd, const char *err)
{
	zt_connect_cb cb = c->cb;
	void *arg = c->arg;

	c->done = true;
	zt_timer_stop(c->loop, &c->timer);
	if (c->fd >= 0 && fd < 0)
		close_attempt(c);
	else if (c->fd >= 0)
		zt_io_del(c->loop, &c->io); /* handed over */
	c->fd = -1;
	c->rq = NULL;
	zt_loop_defer_free(c->loop, conn_free, c); /* the io may have a queued event */
	cb(arg, fd, err);
}

static void note_failure(struct zt_connect *c, const char *why)
{
	char a[64];
	size_t l = strlen(c->tried);

	fmt_addr(&c->addrs.a[c->next - 1], a, sizeof(a));
	if (l < sizeof(c->tried) - 1)
		snprintf(c->tried + l, sizeof(c->tried) - l, "%s%s: %s", l ? "; " : "", a, why);
}

static void try_next(struct zt_connect *c);

static void attempt_io(void *arg, uint32_t ev)
{
	struct zt_connect *c = arg;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	(void)ev;
	if (c->done)
		return;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (!soerr) {
		finish(c, c->fd, NULL);
		return;
	}
	note_failure(c, strerror(soerr));
	close_attempt(c);
	try_next(c);
}

static void attempt_timeout(void *arg)
{
	struct zt_connect *c = arg;
	char why[48];

	snprintf(why, sizeof(why), "no answer within %u ms", c->attempt_ms);
	note_failure(c, why);
	close_attempt(c);
	try_next(c);
}

static void try_next(struct zt_connect *c)
{
	char err[320];

	while (c->next < c->addrs.n) {
		const struct sockaddr_storage *ss = &c->addrs.a[c->next++];
		socklen_t sl = ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

		if (fd < 0) {
			note_failure(c, strerror(errno));
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if (connect(fd, (const struct sockaddr *)ss, sl) < 0 && errno != EINPROGRESS) {
			note_failure(c, strerror(errno));
			close(fd);
			continue;
		}
		c->fd = fd;
		zt_io_init(&c->io, fd, attempt_io, c);
		if (zt_io_set(c->loop, &c->io, EPOLLOUT)) {
			note_failure(c, "cannot watch the socket");
			close_attempt(c);
			continue;
		}
		zt_timer_start(c->loop, &c->timer, c->attempt_ms);
		return;
	}
	snprintf(err, sizeof(err), "connect %s:%s: %s", c->host, c->port, c->tried[0] ? c->tried : "no address");
	finish(c, -1, err);
}

static void resolved(void *arg, int err, const char *msg, const struct zt_addrs *addrs)
{
	struct zt_connect *c = arg;

	c->rq = NULL;
	if (err) {
		finish(c, -1, msg);
		return;
	}
	c->addrs = *addrs;
	try_next(c);
}

struct zt_connect *zt_connect_start(struct zt_resolver *r, const char *host, const char *port, unsigned attempt_ms,
				    zt_connect_cb cb, void *arg)
{
	struct zt_connect *c = calloc(1, sizeof(*c));
	char *end;
	unsigned long p = strtoul(port, &end, 10);

	if (!c)
		return NULL;
	c->r = r;
	c->loop = zt_resolver_loop(r);
	c->fd = -1;
	c->cb = cb;
	c->arg = arg;
	c->attempt_ms = attempt_ms ? attempt_ms : 5000;
	c->host = strdup(host);
	c->port = strdup(port);
	if (!c->host || !c->port || !*port || *end || p == 0 || p > 65535) {
		conn_free(c);
		return NULL;
	}
	zt_timer_init(&c->timer, attempt_timeout, c);
	c->rq = zt_resolve(r, host, (uint16_t)p, AF_UNSPEC, resolved, c);
	if (!c->rq) {
		conn_free(c);
		return NULL;
	}
	return c;
}

void zt_connect_cancel(struct zt_connect *c)
{
	if (!c || c->done)
		return;
	zt_resolve_cancel(c->rq);
	c->rq = NULL;
	close_attempt(c);
	c->done = true;
	zt_loop_defer_free(c->loop, conn_free, c);
}
