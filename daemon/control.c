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

#include "daemon/sipovld.h"

static int ctl_fd = -1;
static struct zt_io ctl_io;

static void ctl_reply(int fd, const char *s)
{
	size_t n = strlen(s), off = 0;

	while (off < n) {
		ssize_t w = write(fd, s + off, n - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += (size_t)w;
	}
}

/*
 * Control protocol (Documentation/sipovld.8.md): one request line per connection, one JSON
 * document in reply, then the daemon closes. Requests: "status", "flows", "reload".
 */
static void ctl_cb(void *arg, uint32_t ev)
{
	(void)arg;
	(void)ev;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC);
		char line[128];
		size_t n = 0;

		if (fd < 0)
			return;
		struct timeval tv = { 1, 0 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		while (n < sizeof(line) - 1) {
			ssize_t r = read(fd, line + n, sizeof(line) - 1 - n);

			if (r <= 0)
				break;
			n += (size_t)r;
			if (memchr(line, '\n', n))
				break;
		}
		line[n] = 0;
		line[strcspn(line, "\r\n")] = 0;
		struct json_object *o = NULL;

		if (!strcmp(line, "status")) {
			o = status_json();
		} else if (!strcmp(line, "flows")) {
			o = flows_json();
		} else if (!strcmp(line, "reload")) {
			/* answered once done, so `--request reload` tells whether it worked */
			o = json_object_new_object();
			if (stopping)
				JADD(o, "error", JS("sipovld is stopping"));
			else if (reload("control socket"))
				JADD(o, "error", JS("reload failed: the configuration is invalid (see the log); "
						    "keeping the running configuration"));
			else
				JADD(o, "ok", JB(true));
		} else {
			o = json_object_new_object();
			JADD(o, "error", JS("unknown request: expected status, flows or reload"));
		}
		ctl_reply(fd, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		ctl_reply(fd, "\n");
		json_object_put(o);
		close(fd);
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
	if (mkdir(d, 0755) && errno != EEXIST)
		logm(L_WARN, "mkdir %s: %s", d, strerror(errno));
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

/* Client side: sipovld --request R. Exit status 1 when the daemon answers with an error. */
int ctl_request(const char *path, const char *req)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct json_tokener *tok = json_tokener_new();
	struct json_object *doc = NULL, *err;
	char buf[4096];
	ssize_t n;
	int rc = 0;

	if (strlen(path) >= sizeof(a.sun_path) || fd < 0 || !tok) {
		fprintf(stderr, "sipovld: %s: %s\n", path, fd < 0 ? strerror(errno) : "cannot use this path");
		if (fd >= 0)
			close(fd);
		if (tok)
			json_tokener_free(tok);
		return 1;
	}
	strcpy(a.sun_path, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		fprintf(stderr, "sipovld: %s: %s (is sipovld running?)\n", path, strerror(errno));
		close(fd);
		json_tokener_free(tok);
		return 1;
	}
	dprintf(fd, "%s\n", req);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		if (!doc)
			doc = json_tokener_parse_ex(tok, buf, (int)n);
	}
	close(fd);
	json_tokener_free(tok);
	if (!doc) {
		fprintf(stderr, "sipovld: %s: no valid reply to \"%s\"\n", path, req);
		return 1;
	}
	if (json_object_object_get_ex(doc, "error", &err)) {
		fprintf(stderr, "sipovld: %s\n", json_object_get_string(err));
		rc = 1;
	}
	json_object_put(doc);
	return rc;
}

void ctl_close(const char *path)
{
	if (ctl_fd < 0)
		return;
	zt_io_del(D.loop, &ctl_io);
	close(ctl_fd);
	ctl_fd = -1;
	unlink(path);
}
