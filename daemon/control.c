// SPDX-License-Identifier: GPL-2.0
/* sipovld: the control socket, server side (in the event loop) and client side (--request). */
#include <errno.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl/request.h"
#include "daemon/reqsrv.h"
#include "daemon/sip_view.h"
#include "daemon/sipovld.h"
#include "daemon/workers.h"
/*
 * Control protocol (Documentation/sipovld.8.md): one request line per connection, one JSON
 * document in reply, then the daemon closes. Requests: "status", "flows", "calls", "reload",
 * "ip-pool release ADDRESS".
 *
 * Nothing here blocks the event loop: connections are non-blocking and in the loop (reqsrv.c);
 * a request is read as it arrives and the reply written as the client reads it. A connection
 * that is idle for CTL_IDLE_MS is closed, and at most CTL_MAX_CONNS are open (a new one closes
 * the oldest).
 */
#define CTL_MAX_CONNS 16
#define CTL_IDLE_MS 5000
#define CTL_LINE_MAX 128

static int ctl_request_cb(struct reqsrv_conn *c, ssize_t r);

static struct reqsrv srv = {
	.what = "control socket",
	.max_conns = CTL_MAX_CONNS,
	.idle_ms = CTL_IDLE_MS,
	.in_max = CTL_LINE_MAX - 1,
	.request = ctl_request_cb,
	.lfd = -1,
};
static char *ctl_dir;            /* the socket's directory, when we made it */

static struct json_object *ctl_answer(const char *line)
{
	struct json_object *o;

	if (!strcmp(line, "status"))
		return status_json();
	if (!strcmp(line, "flows")) { /* the primary's, then each worker's (workers.c) */
		o = flows_json();
		workers_flows(o);
		return o;
	}
	if (!strcmp(line, "calls"))
		return sipv_calls_json();
	if (!strncmp(line, "ip-pool release ", 16))
		return pool_server_release(line + 16);
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
		JADD(o, "error", JS("unknown request: expected status, flows, calls, reload or ip-pool release ADDRESS"));
	}
	return o;
}

static int ctl_request_cb(struct reqsrv_conn *c, ssize_t r)
{
	/* a line, end of input, an error or a full buffer: answer what we have */
	if (r > 0 && !memchr(c->in, '\n', c->n) && c->n < CTL_LINE_MAX - 1)
		return 0;
	c->in[strcspn(c->in, "\r\n")] = 0;
	struct json_object *o = ctl_answer(c->in);
	const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (asprintf(&c->out, "%s\n", js) < 0)
		c->out = NULL;
	json_object_put(o);
	if (!c->out)
		return -1;
	c->out_len = strlen(c->out);
	return 1;
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
	int ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (ctl_fd < 0)
		return -1;
	/* a stale socket of a dead daemon is replaced; a live one is not */
	if (connect(ctl_fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		logm(L_ERR, "another sipovld answers on %s", path);
		close(ctl_fd);
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
		return -1;
	}
	umask(old);
	reqsrv_listen(&srv, ctl_fd);
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
	bool listening = srv.lfd >= 0;

	reqsrv_close(&srv);
	if (!listening)
		return;
	unlink(path);
	free(ctl_dir);
	ctl_dir = NULL;
}
