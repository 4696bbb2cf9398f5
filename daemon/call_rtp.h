/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A call's RTP (daemon/call_rtp.c), free of I/O: the RTP quality of one media stream of a
 * call from the two directions of the flow steered for it (rtpq.h), for the CDR and the calls
 * view, and the SDP's a=rtpmap given to those directions.
 *
 * A flow outlives calls: phones and SIPp reuse their media ports, so consecutive calls
 * between the same addresses share one flow. A call's figures are those of its interval: from
 * the flow's start, or from when it takes a flow a previous call used (call_rtp_rtpmap), to
 * its own end; call_rtp_end() closes the interval (rtpq_end) after the CDR's figures are taken,
 * call_rtp_end_call() that of every media stream of the call.
 */
#ifndef SIPOVLD_CALL_RTP_H
#define SIPOVLD_CALL_RTP_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/calls.h"
#include "daemon/rtpq.h"

struct call_rtp {
	struct rtpq_dir *dir[2]; /* [0] the caller's stream (to the callee), [1] the callee's */
	struct rtpq_dir *rep[2]; /* where the peer's RTCP reports about dir[i] are read, or NULL */
};

/* the call's figures of each stream, [0] caller to callee, [1] callee to caller */
void call_rtp_quality(const struct call_rtp *r, uint64_t now_us, struct rtpq_snap q[2]);

/*
 * The CDR's quality fields ("packets=A/B loss_pct=A/B jitter_ms=A/B mos=A/B", A caller to
 * callee, B callee to caller) into @b, then the end of the call's interval on the flow
 * (rtpq_end: the next call's starts when it takes the flow, call_rtp_rtpmap).
 */
void call_rtp_end(const struct call_rtp *r, uint64_t now_us, char *b, size_t n);

/*
 * The view of the call @c's @i-th media stream (its flow's directions) into @r: false when no
 * flow carries it. Given by the caller (sip_view.c looks the flow up between the two SDP
 * addresses).
 */
typedef bool (*call_rtp_find_fn)(void *arg, const struct call *c, unsigned i, struct call_rtp *r);

/* the final figures of each media stream of a call (call_rtp_end_call) */
struct call_rtp_final {
	unsigned has;                         /* bit i: the i-th stream had a flow */
	struct rtpq_snap q[SDP_MAX_MEDIA][2]; /* [i][0] caller to callee, [i][1] callee to caller */
};

/*
 * The end of call @c: the CDR's quality fields into @b, for the first media stream as
 * call_rtp_end() writes them ("packets=- loss_pct=- jitter_ms=- mos=-" without a flow), then
 * for each further stream that has a flow " mI=MEDIA packetsI=A/B loss_pctI=A/B
 * jitter_msI=A/B" (I from 1; MEDIA of the caller's m= line: audio, video, image...), and
 * "mosI=A/B" for audio; the interval of every stream ends. @fin (NULL: not wanted): every
 * stream's figures, as in the CDR (zeroed, its bit clear, without a flow). True when the
 * first stream had a flow.
 */
bool call_rtp_end_call(const struct call *c, call_rtp_find_fn find, void *arg, uint64_t now_us, char *b, size_t n,
		       struct call_rtp_final *fin);

/*
 * The CDR's quality fields of call @c from the final figures @fin (as call_rtp_end_call writes
 * them): a call whose streams were carried by other processes (sipovld's workers) gets its
 * figures from them, then its CDR.
 */
void call_rtp_fmt(const struct call *c, const struct call_rtp_final *fin, char *b, size_t n);

/*
 * The a=rtpmap of the @i-th media of each side's SDP to the stream's two directions, so that
 * dynamic payload types have their codec name and clock rate (jitter): a stream gets the
 * maps of the payload types both sides list first, its receiver's before its sender's (RFC
 * 3264: the numbers an SDP lists are those its author receives), then the others', at most
 * RTPQ_MAX_RTPMAP. Without both SDPs, the one there is. The call takes the flow then: what
 * the flow carried since the previous call's end (its late RTP) is left out (rtpq_claim).
 */
void call_rtp_rtpmap(const struct call_rtp *r, const struct call *c, unsigned i);

#endif
