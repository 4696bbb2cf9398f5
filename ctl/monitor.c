// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: monitor: table events as they happen.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/json.h"
#include "ctl/libsipovl.h"
#include "ctl/parse.h"
#include "ctl/sipovlctl.h"

static int print_event(const struct sipovl_event *ev, void *data)
{
	const struct ctl *ctl = data;
	const char *n = sipovl_cmd_name(ev->cmd);

	if (ctl->json) {
		json_emit(stdout, json_event(ev), false);
	} else {
		for (; *n; n++)
			putchar(*n == '_' ? ' ' : *n);
		if (ev->has_intercept && ev->id)
			printf(" id %u", ev->id);
		if (ev->has_intercept && ev->name[0]) {
			fputs(" name ", stdout);
			print_name_token(stdout, ev->name);
		}
		if (ev->has_generation)
			printf(" generation %u", ev->generation);
		putchar('\n');
	}
	fflush(stdout);
	return ferror(stdout) ? -EIO : 0;
}

static int do_monitor(const struct ctl *ctl, int argc, char **argv)
{
	struct sipovl_nl *nl;
	int rc = no_more_args(argc, argv), ret;

	if (rc)
		return rc;
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_events_subscribe(nl)) {
		rc = sipovl_error(nl)->errnum == EOPNOTSUPP ?
			fail("monitor: the sipovl family has no \"%s\" multicast group",
			     SIPOVL_MCGRP_EVENTS) :
			nl_fail(sipovl_error(nl), "monitor", NULL);
		goto out;
	}
	for (;;) {
		ret = sipovl_events_recv(nl, print_event, (void *)ctl);
		if (ret == -ENOBUFS) {
			fprintf(stderr, "%s: monitor: events lost (receive buffer overflow)\n",
				ctl_prog);
			continue;
		}
		if (ret == -EIO) {
			rc = EXIT_FAIL;	/* stdout closed */
			break;
		}
		if (ret) {
			rc = nl_fail(sipovl_error(nl), "monitor", NULL);
			break;
		}
	}
out:
	sipovl_close(nl);
	return rc;
}

/* Human form of sipovld's status document: indented "key: value" lines. */

const struct cmd monitor_cmds[] = {
	{ "EVENTS", NULL, do_monitor, "",
	  "Prints table changes as they happen, one line (or, with -j, one JSON\n"
	  "object) per event, until interrupted.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};
