/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One request, one reply per connection, in the event loop (daemon/reqsrv.c): the connection
 * handling the control socket (control.c) and the metrics endpoint (metrics_http.c) share.
 * Connections are non-blocking: the request is read as it arrives into a bounded buffer, the
 * reply written as the client reads it, then the connection is closed. One idle for idle_ms
 * is closed, and at most max_conns are open (a new one closes the oldest).
 */
#ifndef SIPOVLD_REQSRV_H
#define SIPOVLD_REQSRV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "daemon/ziti/zt.h"

struct reqsrv_conn {
	struct reqsrv_conn *next;
	struct reqsrv *srv;
	int fd;
	struct zt_io io;
	struct zt_timer idle;
	char *out;                   /* the reply (malloc'ed), once the request is complete */
	size_t out_len, out_off;
	size_t n;                    /* bytes of the request in in[] (in[n] is 0) */
	char in[];                   /* in_max + 1 bytes */
};

/*
 * The request so far (c->in, c->n) after a read of @r bytes (r <= 0: the end of input or an
 * error, errno kept). Return 0 to read on (only while the buffer has room), 1 once c->out
 * holds the reply, -1 to close the connection.
 */
typedef int (*reqsrv_request_cb)(struct reqsrv_conn *c, ssize_t r);

struct reqsrv {
	const char *what;            /* logged when the oldest connection is closed; NULL: not logged */
	unsigned max_conns, idle_ms;
	size_t in_max;               /* request bytes read at most */
	reqsrv_request_cb request;
	/* state */
	int lfd;                     /* -1: not listening */
	struct zt_io lio;
	struct reqsrv_conn *conns;   /* newest first */
	unsigned n_conns;
};

/* Start accepting on @lfd (listening, non-blocking); the server owns it from now on. */
void reqsrv_listen(struct reqsrv *s, int lfd);
/* Close every connection and the listening socket (if any). */
void reqsrv_close(struct reqsrv *s);

#endif
