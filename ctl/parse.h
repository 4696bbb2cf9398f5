/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sipovlctl argument and configuration-file parsers, and the canonical text
 * formatters. No netlink here: host unit tests and fuzzing link this alone.
 *
 * Every parser returns 0, or -1 with one line (no trailing newline) in
 * err->msg naming the offending token and what was expected.
 */
#ifndef _SIPOVL_CTL_PARSE_H
#define _SIPOVL_CTL_PARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl/libsipovl.h"

struct ctl_err {
	char msg[1024];
};

void ctl_errf(struct ctl_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Quotes @tok for an error message: "..." with non-printable bytes, quotes
 * and backslashes escaped, cut at 80 bytes. Returns @buf.
 */
#define TOKQ_LEN 340
const char *tokq(char buf[TOKQ_LEN], const char *tok);

/* "10.2.0.0/16", "fd00::/48"; a bare address is a host prefix. */
int parse_prefix(const char *tok, struct sipovl_prefix *p, struct ctl_err *err);
/* Comma-separated prefixes; @what names the list in messages ("destination"). */
int parse_prefix_list(const char *tok, const char *what, uint32_t max,
		      struct sipovl_prefix **v, uint32_t *n, struct ctl_err *err);
/* "5060" or "5060-5061" */
int parse_port_range(const char *tok, struct sipovl_portrange *r,
		     struct ctl_err *err);
int parse_port_list(const char *tok, struct sipovl_portrange **v, uint32_t *n,
		    struct ctl_err *err);
/* A single port 0..65535 (lookup). */
int parse_port(const char *tok, uint16_t *port, struct ctl_err *err);
/* "udp", "tcp", "tcp,udp" -> SIPOVL_PROTO_* bits */
int parse_protos(const char *tok, uint32_t *protos, struct ctl_err *err);
/* "tcp" or "udp" -> IPPROTO_* */
int parse_l4proto(const char *tok, uint8_t *proto, struct ctl_err *err);
int parse_policy(const char *tok, uint8_t *policy, struct ctl_err *err);
/* 1..4294967295 */
int parse_id(const char *tok, uint32_t *id, struct ctl_err *err);
/*
 * An intercept name: 1..SIPOVL_NAME_MAXLEN-1 bytes of UTF-8, no control
 * characters, not starting with '-', not all digits (an all-digit word is
 * an id).
 */
int parse_name(const char *tok, char name[SIPOVL_NAME_MAXLEN],
	       struct ctl_err *err);
/* UTF-8 (RFC 3629) validity; names must be valid UTF-8. */
bool utf8_valid(const char *s);
/* Copies @src, invalid bytes replaced by U+FFFD, cut to fit @size. */
void utf8_sanitize(char *dst, size_t size, const char *src);
/* An IPv4 or IPv6 address (lookup). */
int parse_addr(const char *tok, uint16_t *family, uint8_t addr[16],
	       struct ctl_err *err);
/* True if @tok is a decimal id (all digits); for NAME|ID selectors. */
bool is_id_token(const char *tok);

/*
 * argv[0] is the intercept name, then keyword/value pairs:
 *   id N, proto LIST, addr LIST, port LIST, src LIST, policy drop|pass|reject.
 * With @full (add, replace, apply), proto, addr and port are required and a
 * missing policy means drop. Frees nothing on error beyond what it allocated.
 */
int parse_intercept_args(int argc, char **argv, bool full,
			 struct sipovl_intercept *in, struct ctl_err *err);

/*
 * Splits a configuration line into whitespace-separated tokens in place.
 * A token may be double-quoted ("a b", with \" and \\ escapes); an unquoted
 * '#' at the start of a token begins a comment. Returns the number of tokens
 * or -1.
 */
int tokenize_line(char *line, char ***toks, int *cap, struct ctl_err *err);

struct ctl_arena;

struct ctl_config {
	/*
	 * In file order, ids all assigned. The arrays the intercepts point to
	 * belong to the configuration (ctl_config_release frees them): do not
	 * free them one by one.
	 */
	struct sipovl_intercept *v;
	size_t n, cap;
	unsigned int *lines;		/* line of each intercept */
	bool has_sources;
	struct sipovl_prefix *sources;
	uint32_t n_sources;
	struct ctl_arena *arena;	/* the intercepts' arrays */
};

/*
 * Parses an apply file read from @f; @fname is used in messages, which are
 * "FNAME:LINE: ..." for errors on a line. Lines without "id" get the lowest
 * ids not used by any line, in file order.
 */
int parse_config(FILE *f, const char *fname, struct ctl_config *cfg,
		 struct ctl_err *err);
/*
 * For streaming: sipovlctl apply hands intercepts to a thread that sends
 * them to the kernel while the rest of the file is still being parsed.
 * parse_config_stream calls, from the parsing thread:
 *   lock/unlock around every move of cfg->v (it grows by reallocation);
 *   ready(n) when cfg->v[0..n) are complete, have their ids and will not
 *     change any more (every few thousand intercepts, and with cfg->n at the
 *     end of a successful parse); a line without "id" stops the progress
 *     until the end, where such lines get their ids;
 *   failed() when the file has an error, before the intercepts are freed:
 *     after it returns nobody may touch them any more.
 */
struct ctl_config_hooks {
	void *arg;
	void (*lock)(void *arg);
	void (*unlock)(void *arg);
	void (*ready)(void *arg, size_t n);
	void (*failed)(void *arg);
};

int parse_config_stream(FILE *f, const char *fname, struct ctl_config *cfg,
			const struct ctl_config_hooks *hooks,
			struct ctl_err *err);
/* Same, from a memory buffer (for tests and fuzzing). */
int parse_config_mem(const char *buf, size_t len, const char *fname,
		     struct ctl_config *cfg, struct ctl_err *err);
void ctl_config_release(struct ctl_config *cfg);

/* ---- formatting ------------------------------------------------------- */

#define PREFIX_STRLEN 64
/* "10.2.0.0/16" */
const char *fmt_prefix(char buf[PREFIX_STRLEN], const struct sipovl_prefix *p);
/* "5060" or "5060-5061" */
const char *fmt_portrange(char buf[16], const struct sipovl_portrange *r);
/* "tcp,udp"; unknown bits as "0xN" */
const char *fmt_protos(char buf[32], uint32_t protos);
const char *fmt_policy(uint8_t policy);
/* The name as a config-file token: quoted only when it must be. */
void print_name_token(FILE *f, const char *name);
void print_prefix_list(FILE *f, const struct sipovl_prefix *v, uint32_t n);
void print_port_list(FILE *f, const struct sipovl_portrange *v, uint32_t n);

/* " proto P addr L port L [src L] policy P": the match, as both listings print it */
void print_intercept_match(FILE *f, const struct sipovl_intercept *in);
/*
 * The canonical apply-file line of @in, with trailing newline:
 * intercept NAME id N proto P addr L port L [src L] policy P
 */
void print_intercept_config(FILE *f, const struct sipovl_intercept *in);
/* "sources L" or "sources none", with trailing newline. */
void print_sources_config(FILE *f, const struct sipovl_prefix *v, uint32_t n);

#endif /* _SIPOVL_CTL_PARSE_H */
