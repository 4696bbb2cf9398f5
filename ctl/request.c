// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: one request to sipovld's control socket (Documentation/sipovld.8.md):
 * a request line out, one JSON document back, within a deadline.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <json-c/json.h>

#include "ctl/request.h"

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* $SIPOVLD_CTL_TIMEOUT: 1-3600 s; unset or empty: @default_s. */
static int timeout_s(int default_s, char *err, size_t errlen)
{
	const char *v = getenv("SIPOVLD_CTL_TIMEOUT");
	char *end;
	long s;

	if (!v || !*v)
		return default_s;
	errno = 0;
	s = strtol(v, &end, 10);
	if (errno || *end || end == v || s < 1 || s > 3600 || v[0] < '0' || v[0] > '9') {
		snprintf(err, errlen,
			 "SIPOVLD_CTL_TIMEOUT must be a whole number of seconds from 1 to 3600: \"%.32s\"", v);
		return SIPOVLD_REQ_BAD_ENV;
	}
	return (int)s;
}

/* Waits until @fd is ready for @events or the deadline passes: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		long long left = deadline - mono_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		return n;
	}
}

int sipovld_request(const char *path, const char *req, int default_s,
		    struct json_object **doc, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *buf = NULL, *line = NULL;
	size_t len = 0, cap = 0, off = 0, llen;
	long long deadline;
	int fd, tmo, rc = SIPOVLD_REQ_FAIL;
	ssize_t r;

	*doc = NULL;
	tmo = timeout_s(default_s, err, errlen);
	if (tmo < 0)
		return tmo;
	if (!path || !*path)
		path = getenv("SIPOVLD_CTL_SOCK");
	if (!path || !*path)
		path = SIPOVLD_CTL_SOCK;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return SIPOVLD_REQ_FAIL;
	}
	strcpy(sa.sun_path, path);
	deadline = mono_ms() + tmo * 1000LL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return SIPOVLD_REQ_FAIL;
	}
	/* A full backlog makes a non-blocking connect(2) fail with EAGAIN: retry until the deadline. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == EINTR || (e == EAGAIN && mono_ms() < deadline)) {
			if (e == EAGAIN)
				usleep(10000);
			continue;
		}
		close(fd);
		if (e == EAGAIN) {
			snprintf(err, errlen, "sipovld did not accept on %s within %d s", path, tmo);
			return SIPOVLD_REQ_FAIL;
		}
		snprintf(err, errlen, "sipovld not running (cannot connect to %s: %s)", path, strerror(e));
		return SIPOVLD_REQ_NOT_RUNNING;
	}
	llen = strlen(req) + 1;
	line = malloc(llen + 1);
	if (!line) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(line, llen + 1, "%s\n", req);
	while (off < llen) {
		int w = wait_fd(fd, POLLOUT, deadline);

		if (w == 0)
			goto timed_out;
		r = w < 0 ? -1 : send(fd, line + off, llen - off, MSG_NOSIGNAL);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			snprintf(err, errlen, "write to %s: %s", path, strerror(errno));
			goto out;
		}
		off += (size_t)r;
	}
	for (;;) {
		int w;

		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!nb) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			buf = nb;
		}
		w = wait_fd(fd, POLLIN, deadline);
		if (w == 0)
			goto timed_out;
		r = w < 0 ? -1 : read(fd, buf + len, cap - len - 1);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			snprintf(err, errlen, "read from %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (!len) {
		snprintf(err, errlen, "sipovld closed %s without a reply", path);
		goto out;
	}
	buf[len] = 0;
	*doc = json_tokener_parse(buf);
	if (!*doc) {
		snprintf(err, errlen, "sipovld's reply is not JSON");
		goto out;
	}
	rc = 0;
	goto out;
timed_out:
	snprintf(err, errlen, "sipovld did not answer on %s within %d s", path, tmo);
out:
	free(line);
	free(buf);
	close(fd);
	return rc;
}
