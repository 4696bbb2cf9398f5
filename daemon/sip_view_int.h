/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld's SIP view, between its files (sip_view.c, sip_view_json.c, sip_view_workers.c). */
#ifndef SIPOVLD_SIP_VIEW_INT_H
#define SIPOVLD_SIP_VIEW_INT_H

#include <stdint.h>
#include <sys/socket.h>

#include "daemon/call_rtp.h"
#include "daemon/calls.h"

struct flow;

extern struct calls *sipv_T; /* the tracker, NULL when the SIP view is off */
struct sipv_counters {
	uint64_t flows_sip, flows_not_sip, tap_refused;
};
extern struct sipv_counters sipv_vc;

/* the UDP flow steered between x and y (either way), or NULL */
struct flow *sipv_flow_between(const struct sockaddr_storage *x, const struct sockaddr_storage *y);
/* an ended call's final RTP figures (its CDR's), by its number, or NULL */
const struct call_rtp_final *sipv_endq_find(uint64_t seq);

void sipv_endq_merge(uint64_t seq, const struct call_rtp_final *fin);
/* the i-th media of both sides' SDP, when both have an address and a port */
struct sdp_media;
bool sipv_media_pair(const struct call *c, unsigned i, const struct sdp_media **x, const struct sdp_media **y);
/* the CDR of call @c (a journal line) with its streams' final figures */
void sipv_cdr(const struct call *c, const struct call_rtp_final *fin);

/* sip_view_workers.c: true when the CDR waits for other workers' figures (it is written later) */
bool sipv_pend(const struct call *c, const struct call_rtp_final *fin);
void sipv_pend_flush(void); /* write every waiting CDR now */
/* the primary while stopping: the figures the workers sent for call @seq, added to @fin */
void sipv_stop_fin_add(uint64_t seq, struct call_rtp_final *fin);

#endif
