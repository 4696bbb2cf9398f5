/* SPDX-License-Identifier: GPL-2.0 */
/* zt-tool request (zt_tool_request.c) */
#ifndef SIPOVL_ZT_TOOL_REQUEST_H
#define SIPOVL_ZT_TOOL_REQUEST_H

#include "daemon/ziti/zt.h"
#include "daemon/ziti/zt_loop.h"

/* dial @service, send @text and a newline, print the reply; *exit_code 0 (a reply) or 1 */
void run_request(struct zt_ctx *ctx, struct zt_loop *loop, const char *service, const char *text,
		 unsigned timeout_ms, int *exit_code);

#endif
