/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SIP dialog tracker, free of I/O: follows calls by Call-ID and tags through the messages it
 * is shown (sip_msg.h), with the SDP offer/answer media of each side (sip_sdp.h). It only
 * reads: nothing it does changes a byte of what is carried.
 *
 * One call per Call-ID: the INVITE without a To tag starts it (its From tag is the caller's);
 * provisional responses with a To tag make it early (early media when they carry SDP), a 2xx
 * confirms it, a re-INVITE/UPDATE/PRACK/ACK with SDP updates the sender's media; it ends on
 * BYE (by the caller or the callee), on a 3xx-6xx final response to the INVITE (cancelled
 * when a CANCEL came first), when no message of the dialog was seen for setup_timeout_ms
 * before it was answered or idle_timeout_ms after, or when the tracker is stopped. Forked
 * early dialogs are folded into one call (the last To tag wins; a 2xx sets it).
 *
 * Memory: a call is a fixed-size record (strings cut to their fields); at most max_calls
 * records (active and ended ones still lingering) exist; a new call past the limit is not
 * tracked and counted in limit_hits (an ended call lingering is dropped first). Ended calls
 * stay linger_ms so that late responses and retransmissions find them, then are freed.
 */
#ifndef SIPOVLD_CALLS_H
#define SIPOVLD_CALLS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "daemon/sip_msg.h"
#include "daemon/sip_sdp.h"

enum call_state { CALL_TRYING, CALL_PROCEEDING, CALL_EARLY, CALL_CONFIRMED, CALL_ENDED };

enum call_end {
	CALL_END_NONE, CALL_END_BYE_CALLER, CALL_END_BYE_CALLEE, CALL_END_CANCELLED, CALL_END_REJECTED,
	CALL_END_SETUP_TIMEOUT, CALL_END_IDLE_TIMEOUT, CALL_END_STOPPED, CALL_END__N
};

#define CALL_ID_LEN 96
#define CALL_TAG_LEN 48
#define CALL_PARTY_LEN 80

struct call {
	struct call *next, *prev;        /* all calls, newest first */
	struct call *hnext;              /* Call-ID hash chain */
	uint64_t seq;                    /* 1, 2, ... in the order calls started */
	unsigned origin;                 /* who read its first INVITE (calls_set_origin; sipovld: the worker) */
	char call_id[CALL_ID_LEN];
	char tag[2][CALL_TAG_LEN];       /* [0] the caller's (From of the INVITE), [1] the callee's */
	char party[2][CALL_PARTY_LEN];   /* user@host of From and To of the INVITE */
	struct sockaddr_storage sig[2];  /* where the INVITE came from and went to */
	enum call_state state;
	enum call_end end;
	unsigned status;                 /* the INVITE's final status (0: none yet) */
	bool cancel_seen, early_media;
	uint32_t invite_cseq;
	unsigned reinvites;
	uint64_t start_ms, answer_ms, end_ms, last_ms;
	bool has_sdp[2];
	struct sdp sdp[2];               /* the last SDP each side sent (offer or answer) */
};

struct calls_stats {
	uint64_t messages, requests, responses;
	uint64_t malformed, sdp_malformed;    /* messages / SDP bodies that did not parse */
	uint64_t unknown_dialog;              /* in-dialog messages of no tracked call */
	uint64_t other_dialog;                /* of another dialog of an answered call's Call-ID (forked INVITE) */
	uint64_t started, ended[CALL_END__N];
	uint64_t limit_hits;                  /* calls not tracked: max_calls reached */
	unsigned active, lingering;
};

struct calls;
typedef void (*calls_end_cb)(void *arg, const struct call *c);
typedef void (*calls_media_cb)(void *arg, const struct call *c, int side);

struct calls_cfg {
	unsigned max_calls;
	uint32_t setup_timeout_ms, idle_timeout_ms, linger_ms;
	calls_end_cb on_end;                  /* once per call, when it ends */
	calls_media_cb on_media;              /* an SDP of @side (0 caller, 1 callee) was taken, or NULL */
	void *arg;
};

struct calls *calls_new(const struct calls_cfg *cfg);
/* ends every call (CALL_END_STOPPED at @now, on_end called) and frees everything */
void calls_free(struct calls *t, uint64_t now);
void calls_set_cfg(struct calls *t, const struct calls_cfg *cfg);

/* A message parsed from the wire between src and dst (either may be NULL). */
void calls_msg(struct calls *t, const struct sip_msg *m, const struct sockaddr_storage *src,
	       const struct sockaddr_storage *dst, uint64_t now_ms);
/* A datagram or stream chunk that did not parse. */
void calls_malformed(struct calls *t, const char *why);
/* the origin of the calls the next messages start (0 until set) */
void calls_set_origin(struct calls *t, unsigned origin);
/* the call of a Call-ID, or NULL */
const struct call *calls_find(const struct calls *t, const char *call_id);
/* Timeouts and lingering calls; call every second or so. */
void calls_tick(struct calls *t, uint64_t now_ms);

const struct calls_stats *calls_stats(const struct calls *t);
const struct call *calls_first(const struct calls *t);
const char *calls_last_error(const struct calls *t);
size_t calls_mem(const struct calls *t);

const char *call_state_name(enum call_state s);
const char *call_end_name(enum call_end e);
/* the codec of the call (first stream of the answer, else of the offer), "" when none */
const char *call_codec(const struct call *c);
/* seconds from answer to end (or now), 0 when it was not answered */
uint64_t call_duration_ms(const struct call *c, uint64_t now_ms);

#endif
