/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libsipovl: the one netlink client of the "sipovl" generic netlink family
 * (uapi/linux/sipovl.h), used by sipovlctl and sipovld.
 *
 * The object types below (intercepts, prefixes, port ranges, counters) carry
 * no netlink state, so the argument and file parsers (ctl/parse.h) use them
 * without linking the netlink code.
 *
 * Every netlink call returns 0 or a negative errno and, on failure, leaves the
 * details in sipovl_error(): the errno, the kernel's extack message verbatim
 * when it sent one, and whether the family itself is missing (module not
 * loaded). Requests are sent with NLM_F_ACK; extended acks are enabled and
 * capped (NETLINK_EXT_ACK, NETLINK_CAP_ACK).
 *
 * A struct sipovl_nl is one netlink socket: use it from one thread at a time.
 * Use a separate handle for events (sipovl_events_subscribe) and for
 * requests. Table transactions belong to the handle's socket.
 */
#ifndef _SIPOVL_LIBSIPOVL_H
#define _SIPOVL_LIBSIPOVL_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/sipovl.h>

struct sipovl_prefix {
	uint16_t family;		/* AF_INET or AF_INET6 */
	uint8_t len;			/* 0..32 or 0..128 */
	uint8_t addr[16];		/* network order; IPv4 in addr[0..3] */
};

struct sipovl_portrange {
	uint16_t low, high;		/* inclusive, low <= high */
};

struct sipovl_istats {
	/* rejects: 0 from a module older than the reject policy */
	uint64_t packets, bytes, flows, drops, passes, rejects;
};

/* Packets sipovl.ko dropped, per reason (uapi: SIPOVL_STATS_A_DROP_*). */
struct sipovl_drops {
	uint64_t no_socket, not_new, martian, local_src, rp_filter;
};

struct sipovl_stats {
	uint64_t lookups, steered, passed, dropped, errors, replies, src_denied;
	/* rejected by policy; 0 from a module older than the reject policy */
	uint64_t rejected;
	/* ICMP errors delivered to steered flows' sockets; 0 from older modules */
	uint64_t icmp_errors;
	/* false: a module older than the per-reason counters (drops, malformed) */
	bool has_drops;
	struct sipovl_drops drops;
	uint64_t malformed;
};

/* Which optional fields of struct sipovl_intercept are set. */
enum {
	SIPOVL_I_ID = 1U << 0,
	SIPOVL_I_NAME = 1U << 1,
	SIPOVL_I_PROTOS = 1U << 2,
	SIPOVL_I_POLICY = 1U << 3,
	SIPOVL_I_STATS = 1U << 4,	/* decoded from the kernel only */
};

struct sipovl_intercept {
	uint32_t present;		/* SIPOVL_I_* */
	uint32_t id;
	char name[SIPOVL_NAME_MAXLEN];
	uint32_t protos;		/* SIPOVL_PROTO_* */
	uint8_t policy;			/* SIPOVL_POLICY_* */
	uint32_t n_dsts, n_ports, n_srcs;
	struct sipovl_prefix *dsts;
	struct sipovl_portrange *ports;
	struct sipovl_prefix *srcs;
	struct sipovl_istats stats;
};

/* Frees the arrays of @in (not @in itself) and zeroes it. */
void sipovl_intercept_release(struct sipovl_intercept *in);
/* Releases @n intercepts and frees the array. */
void sipovl_intercepts_free(struct sipovl_intercept *v, size_t n);

struct sipovl_socket_info {
	uint16_t family;
	uint8_t protocol;
	uint16_t port;
	bool alive;
	/* Group membership (modules with socket groups; else has_group false). */
	bool has_group;
	uint32_t member, members;
	uint64_t inode;
};
/*
 * "socket inet udp port 5060 alive[ member 1/4 inode 1234]" with a newline
 * (objects.c, no netlink).
 */
void sipovl_socket_print(FILE *f, const struct sipovl_socket_info *s);

struct sipovl_config {
	uint32_t generation;
	uint32_t intercept_count;
	uint32_t n_sources;
	struct sipovl_prefix *sources;
	uint32_t n_sockets;
	struct sipovl_socket_info *sockets;
};
void sipovl_config_release(struct sipovl_config *c);

struct sipovl_tuple {
	uint16_t family;
	uint8_t protocol;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t src[16], dst[16];
	bool has_sport;
	uint16_t sport, dport;
};

struct sipovl_event {
	uint8_t cmd;			/* enum sipovl_cmd */
	bool has_generation;
	uint32_t generation;
	bool has_intercept;
	uint32_t id;			/* 0 when absent */
	char name[SIPOVL_NAME_MAXLEN];	/* "" when absent */
};

/* ---- netlink ---------------------------------------------------------- */

struct sipovl_nl;

struct sipovl_err {
	int errnum;			/* positive errno, 0 if none */
	bool no_family;			/* family "sipovl" not registered */
	bool dump_retries;		/* dump kept being interrupted */
	unsigned int restarts;		/* sipovl_intercept_dump: interrupted
					 * dumps restarted (also on success) */
	char extack[256];		/* kernel message, verbatim, or "" */
	uint32_t bad_offset;		/* NLMSGERR_ATTR_OFFS, 0 if none */
	/*
	 * sipovl_table_add/replace: index in the caller's array of the
	 * intercept the kernel's error points at, or -1 if unknown.
	 */
	long index;
};

/* Last error of @nl (also valid after a failed sipovl_open: see there). */
const struct sipovl_err *sipovl_error(const struct sipovl_nl *nl);

/*
 * Moves the calling thread to network namespace /run/netns/@name (as
 * `ip -n`). Returns 0 or a negative errno.
 */
int sipovl_enter_netns(const char *name);

/*
 * Opens a netlink socket and resolves the family. On failure returns a
 * negative errno and fills @err (if not NULL); err->no_family is set when
 * the family does not exist (module not loaded).
 */
int sipovl_open(struct sipovl_nl **out, struct sipovl_err *err);
void sipovl_close(struct sipovl_nl *nl);
/* File descriptor, for poll() on event subscriptions. */
int sipovl_fd(const struct sipovl_nl *nl);

int sipovl_intercept_add(struct sipovl_nl *nl, const struct sipovl_intercept *in,
			 struct sipovl_intercept *reply);
int sipovl_intercept_replace(struct sipovl_nl *nl,
			     const struct sipovl_intercept *in);
/* Selects by @id when not 0, else by @name. */
int sipovl_intercept_del(struct sipovl_nl *nl, uint32_t id, const char *name);
int sipovl_intercept_get(struct sipovl_nl *nl, uint32_t id, const char *name,
			 struct sipovl_intercept *out);
/*
 * Dumps every intercept into a freshly allocated array (ascending id order),
 * restarting when the kernel flags the dump as interrupted.
 */
int sipovl_intercept_dump(struct sipovl_nl *nl, struct sipovl_intercept **out,
			  size_t *n);
int sipovl_intercept_flush(struct sipovl_nl *nl);

int sipovl_table_begin(struct sipovl_nl *nl, uint32_t *txn);
/* Appends @n intercepts, split into messages of at most ~32 KiB. */
int sipovl_table_add(struct sipovl_nl *nl, uint32_t txn,
		     const struct sipovl_intercept *v, size_t n);
int sipovl_table_commit(struct sipovl_nl *nl, uint32_t txn, uint32_t *generation);
/*
 * Commit that also replaces the transparent source ranges with @v[0..n), in
 * the same step (no other change can come in between). *applied tells
 * whether the kernel did; a module older than this always leaves the sources
 * alone: then the caller sets them with sipovl_sources_set.
 */
int sipovl_table_commit_sources(struct sipovl_nl *nl, uint32_t txn,
				const struct sipovl_prefix *v, size_t n,
				uint32_t *generation, bool *applied);
int sipovl_table_abort(struct sipovl_nl *nl, uint32_t txn);
/* begin + add + commit; aborts (keeping the first error) on failure. */
int sipovl_table_replace(struct sipovl_nl *nl, const struct sipovl_intercept *v,
			 size_t n, uint32_t *generation);
/* The same, committing the transparent source ranges with the table (*applied as above). */
int sipovl_table_replace_sources(struct sipovl_nl *nl, const struct sipovl_intercept *v,
				 size_t n, const struct sipovl_prefix *src, size_t nsrc,
				 uint32_t *generation, bool *applied);

/* @fd becomes the only socket for new flows of its family and protocol. */
int sipovl_socket_register(struct sipovl_nl *nl, int fd);
/*
 * @fd joins the group of sockets for new flows of its family and protocol;
 * modules without groups refuse it (EINVAL).
 */
int sipovl_socket_join(struct sipovl_nl *nl, int fd);
/* @fd leaves its group (ENOENT if it is not a member). */
int sipovl_socket_leave(struct sipovl_nl *nl, int fd);
/* @family 0 and @protocol 0: drop all registrations. */
int sipovl_socket_unregister(struct sipovl_nl *nl, uint16_t family,
			     uint8_t protocol);

int sipovl_sources_set(struct sipovl_nl *nl, const struct sipovl_prefix *v,
		       size_t n);
int sipovl_config_get(struct sipovl_nl *nl, struct sipovl_config *out);
int sipovl_stats_get(struct sipovl_nl *nl, bool reset, struct sipovl_stats *out);
/* -ENOENT when nothing matches. */
int sipovl_lookup(struct sipovl_nl *nl, const struct sipovl_tuple *t,
		  uint32_t *id, char name[SIPOVL_NAME_MAXLEN]);

/* Joins the "events" multicast group. */
int sipovl_events_subscribe(struct sipovl_nl *nl);
/*
 * Blocks for the next batch of events and calls @cb for each; returns 0,
 * the first non-zero return of @cb, or a negative errno (-ENOBUFS: events
 * were lost because the socket overflowed; the caller may continue).
 */
int sipovl_events_recv(struct sipovl_nl *nl,
		       int (*cb)(const struct sipovl_event *ev, void *data),
		       void *data);

/* "intercept_add" etc. for a command number; "unknown" otherwise. */
const char *sipovl_cmd_name(uint8_t cmd);

#endif /* _SIPOVL_LIBSIPOVL_H */
