// SPDX-License-Identifier: GPL-2.0
/*
 * zt-tool's parts (zt_tool.c: options, the context, main; zt_tool_dial.c, zt_tool_host.c,
 * zt_tool_probe.c: the three commands that use a service).
 */
#ifndef ZT_TOOL_H
#define ZT_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "daemon/ziti/zt.h"

struct zt_tool_opt {
	const char *cmd, *identity, *service, *mode, *ready_file, *term_id, *log_file, *session_file, *app_data, *send;
	bool udp, hold, accept_close, no_renew;
	int verbose; /* -v: informational, -v -v: debug */
	uint64_t bytes;
	unsigned conns, count, size, timeout_ms, interval_ms, poll_ms, latency_ms, cost, precedence, start_delay_ms;
	unsigned linger_ms; /* --hold: keep all connections open this long before any data */
	unsigned pace_ms;   /* --udp: send one datagram every pace_ms (0: all at once) */
	int auth_mode;      /* --auth legacy|auto|oidc */
	unsigned token_refresh_ms; /* --token-refresh-ms: OIDC refresh at least this often */
};

extern struct zt_tool_opt opt;
extern struct zt_loop *loop;
extern struct zt_ctx *ctx;
extern int exit_code;
extern uint64_t t0;

void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint64_t epoch_ms(void);

/* position-addressable pseudo-random byte stream */
static inline uint8_t gen_byte(uint64_t seed, uint64_t i)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ull + (i >> 3) + 0x632be59bd9b4e019ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (uint8_t)(z >> (8 * (i & 7)));
}

static inline void gen_fill(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = gen_byte(seed, off + i);
}

/* each command: run (from on_ready), and what is left of it freed at the end of main */
void run_dial(void);  /* zt_tool_dial.c */
void dial_cleanup(void);
void run_host(void);  /* zt_tool_host.c */
void host_cleanup(void);
void run_probe(void); /* zt_tool_probe.c */
void probe_cleanup(void);
extern FILE *probe_log;
bool probe_waiting(void); /* no probe connection yet, the first one scheduled (--start-delay-ms) */
void probe_now(void);     /* SIGUSR1: the first probe now */

#endif
