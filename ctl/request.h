/* SPDX-License-Identifier: GPL-2.0 */
/* sipovlctl: one request to sipovld's control socket (ctl/request.c). */
#ifndef SIPOVLCTL_REQUEST_H
#define SIPOVLCTL_REQUEST_H

#include <stddef.h>

struct json_object;

#define SIPOVLD_CTL_SOCK "/run/sipovld/ctl.sock"
#define SIPOVLD_CTL_TIMEOUT_S 10	/* default of $SIPOVLD_CTL_TIMEOUT */
#define SIPOVLD_CTL_RELOAD_TIMEOUT_S 60	/* ... for "reload", answered once the reload has run */

enum sipovld_req_err {
	SIPOVLD_REQ_FAIL = -1,		/* no reply, not JSON, timed out, system error */
	SIPOVLD_REQ_NOT_RUNNING = -2,	/* nothing listens on the socket */
	SIPOVLD_REQ_BAD_ENV = -3,	/* $SIPOVLD_CTL_TIMEOUT is not a number of seconds */
};

/*
 * Sends one request line to sipovld's control socket (@path, or
 * $SIPOVLD_CTL_SOCK, or SIPOVLD_CTL_SOCK when NULL) and parses its JSON reply
 * into *doc. The whole exchange is bounded by $SIPOVLD_CTL_TIMEOUT seconds,
 * @default_s when it is not set: a daemon that accepts and never answers does
 * not hang the caller. 0, or a negative enum sipovld_req_err with @err saying
 * what failed.
 */
int sipovld_request(const char *path, const char *req, int default_s,
		    struct json_object **doc, char *err, size_t errlen);

#endif
