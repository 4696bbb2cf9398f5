// SPDX-License-Identifier: GPL-2.0
/* One request, one reply per connection, in the event loop (see reqsrv.h). */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/reqsrv.h"
#include "daemon/sipovld.h"

static void conn_free(void *arg)
{
	free(arg);
}

static void conn_close(struct reqsrv_conn *c)
{
	struct reqsrv *s = c->srv;
	struct reqsrv_conn **pp = &s->conns;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	s->n_conns--;
	zt_timer_stop(D.loop, &c->idle);
	zt_io_del(D.loop, &c->io);
	close(c->fd);
	free(c->out);
	c->out = NULL;
	/* it may still have an event queued in this batch */
	zt_loop_defer_free(D.loop, conn_free, c);
}

static void conn_idle(void *arg)
{
	conn_close(arg);
}

/* Write what the socket takes; true when the connection is done (all written or failed). */
static bool conn_flush(struct reqsrv_conn *c)
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
	struct reqsrv_conn *c = arg;
	struct reqsrv *s = c->srv;

	(void)ev;
	if (!c->out) {
		int rc;

		for (;;) {
			ssize_t r = recv(c->fd, c->in + c->n, s->in_max - c->n, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				return;
			if (r > 0)
				c->n += (size_t)r;
			c->in[c->n] = 0;
			rc = s->request(c, r);
			if (rc == 0 && r > 0 && c->n < s->in_max)
				continue;
			break;
		}
		if (rc != 1 || !c->out) {
			conn_close(c);
			return;
		}
	}
	if (conn_flush(c)) {
		conn_close(c);
		return;
	}
	zt_io_set(D.loop, &c->io, EPOLLOUT);
	zt_timer_start(D.loop, &c->idle, s->idle_ms);
}

static void listen_cb(void *arg, uint32_t ev)
{
	struct reqsrv *s = arg;

	(void)ev;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct reqsrv_conn *c;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c) + s->in_max + 1);
		if (!c) {
			close(fd);
			continue;
		}
		if (s->n_conns == s->max_conns) {
			struct reqsrv_conn *old = s->conns;

			while (old->next)
				old = old->next;
			if (s->what)
				logm(L_WARN, "%s: %u connections open; closing the oldest", s->what, s->n_conns);
			conn_close(old);
		}
		c->srv = s;
		c->fd = fd;
		c->next = s->conns;
		s->conns = c;
		s->n_conns++;
		zt_io_init(&c->io, fd, conn_cb, c);
		zt_timer_init(&c->idle, conn_idle, c);
		zt_timer_start(D.loop, &c->idle, s->idle_ms);
		if (zt_io_set(D.loop, &c->io, EPOLLIN))
			conn_close(c);
	}
}

void reqsrv_listen(struct reqsrv *s, int lfd)
{
	s->lfd = lfd;
	zt_io_init(&s->lio, lfd, listen_cb, s);
	zt_io_set(D.loop, &s->lio, EPOLLIN);
}

void reqsrv_close(struct reqsrv *s)
{
	while (s->conns)
		conn_close(s->conns);
	if (s->lfd < 0)
		return;
	zt_io_del(D.loop, &s->lio);
	close(s->lfd);
	s->lfd = -1;
}
