// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: the socket and config objects.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ctl/json.h"
#include "ctl/libsipovl.h"
#include "ctl/parse.h"
#include "ctl/sipovlctl.h"

/* ---- socket, config ---------------------------------------------------- */

static void print_sockets(const struct sipovl_config *c)
{
	uint32_t i;

	for (i = 0; i < c->n_sockets; i++)
		sipovl_socket_print(stdout, &c->sockets[i]);
}

static int get_config(struct sipovl_config *cfg, const char *what)
{
	struct sipovl_nl *nl;
	int rc = 0;

	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_config_get(nl, cfg))
		rc = nl_fail(sipovl_error(nl), what, NULL);
	sipovl_close(nl);
	return rc;
}

static int do_socket_show(const struct ctl *ctl, int argc, char **argv)
{
	struct sipovl_config cfg;
	int rc = no_more_args(argc, argv);

	if (rc || (rc = get_config(&cfg, "socket show")))
		return rc;
	if (ctl->json) {
		struct json_object *o = json_config(&cfg), *s = NULL;

		json_object_object_get_ex(o, "sockets", &s);
		json_emit(stdout, json_object_get(s), ctl->pretty);
		json_object_put(o);
	} else {
		print_sockets(&cfg);
	}
	sipovl_config_release(&cfg);
	return 0;
}

static int do_socket_unregister(const struct ctl *ctl, int argc, char **argv)
{
	uint16_t family = 0;
	uint8_t proto = 0;
	struct sipovl_nl *nl;
	struct ctl_err err;
	char q[TOKQ_LEN];
	int i, rc = 0;

	(void)ctl;
	for (i = 0; i < argc; i += 2) {
		if (i + 1 >= argc)
			return usage_err("missing value after %s", tokq(q, argv[i]));
		if (!strcmp(argv[i], "family") && !family) {
			if (!strcmp(argv[i + 1], "inet"))
				family = AF_INET;
			else if (!strcmp(argv[i + 1], "inet6"))
				family = AF_INET6;
			else
				return usage_err("bad family %s: expected inet or inet6",
						 tokq(q, argv[i + 1]));
		} else if (!strcmp(argv[i], "proto") && !proto) {
			if (parse_l4proto(argv[i + 1], &proto, &err))
				return parse_err(&err);
		} else if (!strcmp(argv[i], "family") || !strcmp(argv[i], "proto")) {
			return usage_err("keyword %s given twice", tokq(q, argv[i]));
		} else {
			return usage_err("unknown keyword %s: expected family or proto",
					 tokq(q, argv[i]));
		}
	}
	nl = nl_open(&rc);
	if (!nl)
		return rc;
	if (sipovl_socket_unregister(nl, family, proto))
		rc = nl_fail(sipovl_error(nl), "socket unregister",
			     "no such socket registration");
	sipovl_close(nl);
	return rc;
}

static int do_config_show(const struct ctl *ctl, int argc, char **argv)
{
	struct sipovl_config cfg;
	int rc = no_more_args(argc, argv);

	if (rc || (rc = get_config(&cfg, "config show")))
		return rc;
	if (ctl->json) {
		json_emit(stdout, json_config(&cfg), ctl->pretty);
	} else {
		printf("generation %u\nintercepts %u\n", cfg.generation,
		       cfg.intercept_count);
		print_sources_config(stdout, cfg.sources, cfg.n_sources);
		print_sockets(&cfg);
	}
	sipovl_config_release(&cfg);
	return 0;
}


const struct cmd socket_cmds[] = {
	{ "show", "list", do_socket_show, "show",
	  "Prints the sockets sipovld registered (family, protocol, port, state).\n" },
	{ "unregister", NULL, do_socket_unregister,
	  "unregister [family inet|inet6] [proto tcp|udp]",
	  "Drops socket registrations (all without arguments); matched flows then\n"
	  "follow each intercept's policy.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};

const struct cmd config_cmds[] = {
	{ "show", NULL, do_config_show, "show",
	  "Prints the table generation, the number of intercepts, the transparent\n"
	  "source ranges and the registered sockets.\n" },
	{ NULL, NULL, NULL, NULL, NULL }
};
