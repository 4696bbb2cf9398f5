/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libsipovl's insides, shared by its files and by nothing else: the handle,
 * the buffers' sizes, the request/reply helpers (libsipovl.c), the attribute
 * encoders and decoders (nl_codec.c), the intercept reply callback
 * (nl_intercept.c). Exported names start with snl_ (the library is linked
 * into sipovlctl and sipovld).
 */
#ifndef SIPOVL_CTL_LIBSIPOVL_INT_H
#define SIPOVL_CTL_LIBSIPOVL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "ctl/libsipovl.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/*
 * Send buffer: one message carries at most one intercept plus headers when
 * the intercept alone exceeds TXN_MSG_TARGET; an intercept within the uapi
 * limits (1024 destinations, 1024 sources, 1024 ranges) encodes to ~101 KiB.
 */
#define SBUF_SIZE (256 * 1024)
/* Receive buffer: the kernel caps dump skbs at 32 KiB; do replies may be larger. */
#define RBUF_SIZE (256 * 1024)
/* Target size of one SIPOVL_CMD_TABLE_ADD message. */
#define TXN_MSG_TARGET (32 * 1024 - 512)
/* Intercepts in one SIPOVL_CMD_TABLE_ADD message, at most. */
#define BATCH_MAX 1024
/* Interrupted dumps are restarted this many times before giving up. */
#define DUMP_RETRIES 16
/* Receive buffer asked for event sockets. */
#define EVENTS_RCVBUF (4 * 1024 * 1024)

struct sipovl_nl {
	struct mnl_socket *sk;
	uint32_t portid;
	uint32_t seq;
	uint16_t family_id;
	uint32_t events_group;		/* 0: the family has no "events" group */
	char *sbuf;
	char *rbuf;
	struct sipovl_err err;
	uint32_t batch_off[BATCH_MAX];	/* offsets of the intercepts in a TABLE_ADD */
};

typedef int (*msg_cb)(struct sipovl_nl *nl, const struct nlmsghdr *nlh,
		      void *data);

/* libsipovl.c: errors, the socket, requests and their replies */
int snl_fail(struct sipovl_nl *nl, int errnum);
void snl_clear_err(struct sipovl_nl *nl);
int snl_transact(struct sipovl_nl *nl, struct nlmsghdr *nlh, msg_cb cb, void *data, bool *intr);
struct nlmsghdr *snl_put_req(struct sipovl_nl *nl, uint8_t cmd, uint16_t flags);

/* nl_codec.c: attributes */
size_t snl_prefixes_size(const struct sipovl_prefix *v, uint32_t n);
size_t snl_intercept_size(const struct sipovl_intercept *in);
void snl_put_prefixes(struct nlmsghdr *nlh, uint16_t type, const struct sipovl_prefix *v, uint32_t n);
void snl_put_intercept(struct nlmsghdr *nlh, const struct sipovl_intercept *in);
size_t snl_sbuf_room(const struct nlmsghdr *nlh);
int snl_check_intercept(struct sipovl_nl *nl, const struct nlmsghdr *nlh, const struct sipovl_intercept *in);
int snl_decode_prefixes(const struct nlattr *nest, struct sipovl_prefix **v, uint32_t *n);
uint64_t snl_get_u64(const struct nlattr *a);
int snl_decode_intercept(const struct nlattr *nest, struct sipovl_intercept *in);
const struct nlattr *snl_find_attr(const struct nlmsghdr *nlh, uint16_t type);

/* nl_intercept.c */
int snl_intercept_reply_cb(struct sipovl_nl *nl, const struct nlmsghdr *nlh, void *data);

#endif
