// SPDX-License-Identifier: GPL-2.0
/*
 * libsipovl object helpers that need no netlink (linked by the parsers'
 * unit tests and fuzzer as well as by libsipovl).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "ctl/libsipovl.h"

void sipovl_intercept_release(struct sipovl_intercept *in)
{
	free(in->dsts);
	free(in->ports);
	free(in->srcs);
	memset(in, 0, sizeof(*in));
}

void sipovl_intercepts_free(struct sipovl_intercept *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		sipovl_intercept_release(&v[i]);
	free(v);
}

void sipovl_config_release(struct sipovl_config *c)
{
	free(c->sources);
	free(c->sockets);
	memset(c, 0, sizeof(*c));
}

void sipovl_socket_print(FILE *f, const struct sipovl_socket_info *s)
{
	fprintf(f, "socket %s %s port %u %s",
		s->family == AF_INET ? "inet" : s->family == AF_INET6 ? "inet6" : "unknown",
		s->protocol == IPPROTO_TCP ? "tcp" :
		s->protocol == IPPROTO_UDP ? "udp" : "unknown",
		s->port, s->alive ? "alive" : "closed");
	if (s->has_group)
		fprintf(f, " member %" PRIu32 "/%" PRIu32 " inode %" PRIu64,
			s->member, s->members, s->inode);
	fputc('\n', f);
}

const char *sipovl_cmd_name(uint8_t cmd)
{
	static const char *const names[] = {
		[SIPOVL_CMD_INTERCEPT_ADD] = "intercept_add",
		[SIPOVL_CMD_INTERCEPT_REPLACE] = "intercept_replace",
		[SIPOVL_CMD_INTERCEPT_DEL] = "intercept_del",
		[SIPOVL_CMD_INTERCEPT_GET] = "intercept_get",
		[SIPOVL_CMD_INTERCEPT_FLUSH] = "intercept_flush",
		[SIPOVL_CMD_TABLE_BEGIN] = "table_begin",
		[SIPOVL_CMD_TABLE_ADD] = "table_add",
		[SIPOVL_CMD_TABLE_COMMIT] = "table_commit",
		[SIPOVL_CMD_TABLE_ABORT] = "table_abort",
		[SIPOVL_CMD_SOCKET_REGISTER] = "socket_register",
		[SIPOVL_CMD_SOCKET_UNREGISTER] = "socket_unregister",
		[SIPOVL_CMD_SOURCES_SET] = "sources_set",
		[SIPOVL_CMD_CONFIG_GET] = "config_get",
		[SIPOVL_CMD_STATS_GET] = "stats_get",
		[SIPOVL_CMD_LOOKUP] = "lookup",
	};

	if (cmd < sizeof(names) / sizeof(names[0]) && names[cmd])
		return names[cmd];
	return "unknown";
}

