// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: status and calls: sipovld's state over its control socket.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ctl/calls.h"
#include "ctl/json.h"
#include "ctl/libsipovl.h"
#include "ctl/parse.h"
#include "ctl/request.h"
#include "ctl/sipovlctl.h"

static void status_print(struct json_object *o, int depth, const char *key)
{
	enum json_type t = json_object_get_type(o);
	size_t i, n;

	if (t == json_type_object) {
		if (key)
			printf("%*s%s:\n", depth * 2, "", key);
		json_object_object_foreach(o, k, v)
			status_print(v, key ? depth + 1 : depth, k);
	} else if (t == json_type_array) {
		n = json_object_array_length(o);
		printf("%*s%s: (%zu)\n", depth * 2, "", key ? key : "-", n);
		for (i = 0; i < n; i++)
			status_print(json_object_array_get_idx(o, i), depth + 1, "-");
	} else {
		printf("%*s%s: %s\n", depth * 2, "", key ? key : "-",
		       o ? json_object_get_string(o) : "null");
	}
}

/*
 * sipovld's control socket (Documentation/sipovld.8.md): one request line,
 * one JSON document in reply.
 */
static int do_status(const struct ctl *ctl, int argc, char **argv)
{
	struct json_object *doc, *err;
	char msg[300];
	int rc = no_more_args(argc, argv);

	if (rc)
		return rc;
	rc = sipovld_request(NULL, "status", SIPOVLD_CTL_TIMEOUT_S, &doc, msg, sizeof(msg));
	if (rc == SIPOVLD_REQ_NOT_RUNNING)
		return fail("%s", msg);
	if (rc == SIPOVLD_REQ_BAD_ENV)
		return usage_err("status: %s", msg);
	if (rc)
		return fail("status: %s", msg);
	if (json_object_object_get_ex(doc, "error", &err)) {
		rc = fail("status: sipovld: %s", json_object_get_string(err));
		json_object_put(doc);
		return rc;
	}
	if (ctl->json)
		json_emit(stdout, doc, ctl->pretty);
	else {
		status_print(doc, 0, NULL);
		json_object_put(doc);
	}
	return 0;
}

/* "calls": the calls sipovld follows (ctl/calls.c) */
static int do_calls(const struct ctl *ctl, int argc, char **argv)
{
	char err[300];
	int rc = no_more_args(argc, argv);

	if (rc)
		return rc;
	rc = calls_show(NULL, ctl->json, ctl->pretty, ctl->stats, err, sizeof(err));
	if (rc == SIPOVLD_REQ_BAD_ENV)
		return usage_err("calls: %s", err);
	return rc ? fail("calls: %s", err) : 0;
}

const struct cmd status_cmds[] = {
	{ "STATUS", NULL, do_status, "",
	  "Reports sipovld's state over its control socket " SIPOVLD_CTL_SOCK "\n"
	  "(or $SIPOVLD_CTL_SOCK): identities, services with their kernel intercepts\n"
	  "and hosting state, flows, counters, memory, running configuration and the\n"
	  "kernel's state, as indented \"key: value\" lines, or with -j the daemon's\n"
	  "JSON document (fields: sipovld(8)). Fails with \"sipovld not running\"\n"
	  "when nothing listens on the socket, and when sipovld has not answered\n"
	  "within $SIPOVLD_CTL_TIMEOUT seconds (default 10).\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

const struct cmd calls_cmds[] = {
	{ "CALLS", NULL, do_calls, "",
	  "Lists the calls sipovld follows in the SIP it carries (active ones, and\n"
	  "ended ones for 32 s): id, state, end reason, duration, codec, caller and\n"
	  "callee (user@host of From and To), Call-ID; then its SIP counters. -s adds\n"
	  "each call's media streams (side, media, RTP and RTCP address from the SDP,\n"
	  "codec, direction, hold); -j prints the daemon's JSON document (sipovld(8)).\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};
