// SPDX-License-Identifier: GPL-2.0
/* sipovld: the control socket, server side (in the event loop) and client side (--request). */
#include <errno.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl/request.h"
#include "daemon/sip_view.h"
#include "daemon/sipovld.h"
/*
 * Control protocol (Documentation/sipovld.8.md): one request line per connection, one JSON
 * document in reply, then the daemon closes. Requests: "status", "flows", "calls", "reload".
 *
 * Nothing here blocks the event loop: connections are non-blocking and in the loop; a request
 * is read as it arrives and the reply written as the client reads it. A connection that is idle
 * for CTL_IDLE_MS is closed, and at most CTL_MAX_CONNS are open (a new one closes the oldest).
 */
#define CTL_MAX_CONNS 16
#define CTL_IDLE_MS 5000
#define CTL_LINE_MAX 128

struct ctl_conn {
	struct ctl_conn *next;
	int fd;
	struct zt_io io;
	struct zt_timer idle;
	char line[CTL_LINE_MAX];
	size_t n;
	char *out;                   /* the reply, once the request is complete */
	size_t out_len, out_off;
};

static int ctl_fd = -1;
static struct zt_io ctl_io;
static char *ctl_dir;            /* the socket's directory, when we made it */
static struct ctl_conn *conns;   /* newest first */
static unsigned n_conns;

static void conn_free(void *arg)
{
	free(arg);
}

static void conn_close(struct ctl_conn *c)
{
	struct ctl_conn **pp = &conns;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	n_conns--;
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

static struct json_object *ctl_answer(const char *line)
{
	struct json_object *o;

	if (!strcmp(line, "status"))
		return status_json();
	if (!strcmp(line, "flows"))
		return flows_json();
	if (!strcmp(line, "calls"))
		return sipv_calls_json();
	o = json_object_new_object();
	if (!strcmp(line, "reload")) {
		/* answered once done, so `--request reload` tells whether it worked */
		if (stopping)
			JADD(o, "error", JS("sipovld is stopping"));
		else if (reload("control socket"))
			JADD(o, "error", JS("reload failed: the configuration is invalid (see the log); "
					    "keeping the running configuration"));
		else
			JADD(o, "ok", JB(true));
	} else {
		JADD(o, "error", JS("unknown request: expected status, flows, calls or reload"));
	}
	return o;
}

/* Write what the socket takes; true when the connection is done (all written or failed). */
static bool conn_flush(struct ctl_conn *c)
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
	struct ctl_conn *c = arg;

	(void)ev;
	if (!c->out) {
		for (;;) {
			ssize_t r = recv(c->fd, c->line + c->n, sizeof(c->line) - 1 - c->n, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				return;
			if (r > 0)
				c->n += (size_t)r;
			c->line[c->n] = 0;
			/* a line, end of input, an error or a full buffer: answer what we have */
			if (r > 0 && !memchr(c->line, '\n', c->n) && c->n < sizeof(c->line) - 1)
				continue;
			break;
		}
		c->line[strcspn(c->line, "\r\n")] = 0;
		struct json_object *o = ctl_answer(c->line);
		const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE);

		if (asprintf(&c->out, "%s\n", js) < 0)
			c->out = NULL;
		json_object_put(o);
		if (!c->out) {
			conn_close(c);
			return;
		}
		c->out_len = strlen(c->out);
	}
	if (conn_flush(c)) {
		conn_close(c);
		return;
	}
	zt_io_set(D.loop, &c->io, EPOLLOUT);
	zt_timer_start(D.loop, &c->idle, CTL_IDLE_MS);
}

static void ctl_cb(void *arg, uint32_t ev)
{
	(void)arg;
	(void)ev;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ctl_conn *c;

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		if (n_conns == CTL_MAX_CONNS) {
			struct ctl_conn *old = conns;

			while (old->next)
				old = old->next;
			logm(L_WARN, "control socket: %u connections open; closing the oldest", n_conns);
			conn_close(old);
		}
		c->fd = fd;
		c->next = conns;
		conns = c;
		n_conns++;
		zt_io_init(&c->io, fd, conn_cb, c);
		zt_timer_init(&c->idle, conn_idle, c);
		zt_timer_start(D.loop, &c->idle, CTL_IDLE_MS);
		if (zt_io_set(D.loop, &c->io, EPOLLIN))
			conn_close(c);
	}
}

int ctl_open(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char *dir = strdup(path), *d;

	if (strlen(path) >= sizeof(a.sun_path)) {
		free(dir);
		logm(L_ERR, "control socket path too long: %s", path);
		return -1;
	}
	d = dirname(dir);
	if (!mkdir(d, 0755)) {
		free(ctl_dir);
		ctl_dir = strdup(d);
	} else if (errno != EEXIST) {
		logm(L_WARN, "mkdir %s: %s", d, strerror(errno));
	}
	free(dir);
	strcpy(a.sun_path, path);
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl_fd < 0)
		return -1;
	/* a stale socket of a dead daemon is replaced; a live one is not */
	if (connect(ctl_fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		logm(L_ERR, "another sipovld answers on %s", path);
		close(ctl_fd);
		ctl_fd = -1;
		return -1;
	}
	close(ctl_fd);
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(path);
	mode_t old = umask(0077);

	if (bind(ctl_fd, (struct sockaddr *)&a, sizeof(a)) || listen(ctl_fd, 16)) {
		umask(old);
		logm(L_ERR, "control socket %s: %s", path, strerror(errno));
		close(ctl_fd);
		ctl_fd = -1;
		return -1;
	}
	umask(old);
	zt_io_init(&ctl_io, ctl_fd, ctl_cb, NULL);
	zt_io_set(D.loop, &ctl_io, EPOLLIN);
	return 0;
}

/*
 * Client side: sipovld --request R (ctl/request.c: the whole exchange bounded by
 * $SIPOVLD_CTL_TIMEOUT seconds, by default 10, and 60 for "reload", which is answered once the
 * reload has run). Exit status 1 when the daemon answers with an error.
 */
int ctl_request(const char *path, const char *req)
{
	struct json_object *doc, *err;
	char msg[300];
	int rc;

	if (sipovld_request(path, req, strcmp(req, "reload") ? SIPOVLD_CTL_TIMEOUT_S : SIPOVLD_CTL_RELOAD_TIMEOUT_S,
			    &doc, msg, sizeof(msg))) {
		fprintf(stderr, "sipovld: %s\n", msg);
		return 1;
	}
	printf("%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	rc = json_object_object_get_ex(doc, "error", &err);
	if (rc)
		fprintf(stderr, "sipovld: %s\n", json_object_get_string(err));
	json_object_put(doc);
	return rc ? 1 : 0;
}

/* The user the daemon drops to owns the socket (and its directory if we made it): it removes it. */
int ctl_chown(const char *path, uid_t uid, gid_t gid)
{
	if (chown(path, uid, gid) || (ctl_dir && chown(ctl_dir, uid, gid))) {
		logm(L_ERR, "control socket %s: chown: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

void ctl_close(const char *path)
{
	while (conns)
		conn_close(conns);
	if (ctl_fd < 0)
		return;
	zt_io_del(D.loop, &ctl_io);
	close(ctl_fd);
	ctl_fd = -1;
	unlink(path);
	free(ctl_dir);
	ctl_dir = NULL;
}
