// SPDX-License-Identifier: GPL-2.0
/* A call's RTP, free of I/O (see call_rtp.h). */
#include <stdio.h>
#include <string.h>

#include "daemon/call_rtp.h"

void call_rtp_quality(const struct call_rtp *r, uint64_t now_us, struct rtpq_snap q[2])
{
	for (int i = 0; i < 2; i++)
		rtpq_snapshot_since(r->dir[i], r->rep[i], now_us, &q[i]);
}

void call_rtp_end(const struct call_rtp *r, uint64_t now_us, char *b, size_t n)
{
	struct rtpq_snap q[2];

	call_rtp_quality(r, now_us, q);
	snprintf(b, n, "packets=%llu/%llu loss_pct=%.2f/%.2f jitter_ms=%.1f/%.1f mos=%.2f/%.2f",
		 (unsigned long long)q[0].packets, (unsigned long long)q[1].packets, q[0].loss_ratio * 100,
		 q[1].loss_ratio * 100, q[0].jitter_ms, q[1].jitter_ms, q[0].mos, q[1].mos);
	/* the next call on this flow starts here */
	for (int i = 0; i < 2; i++) {
		rtpq_mark(r->dir[i]);
		if (r->rep[i] && r->rep[i] != r->dir[!i])
			rtpq_mark(r->rep[i]);
	}
}
