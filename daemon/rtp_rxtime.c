// SPDX-License-Identifier: GPL-2.0
/*
 * A UDP datagram's receive time for the RTP figures (flows_udp.c's udp_read): the kernel's
 * timestamp, on the monotonic clock. Apart from flows_rtp.c so that the RTP unit tests link it.
 */
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "daemon/rtp_rxtime.h"
#include "daemon/ziti/zt_loop.h"

/*
 * The kernel's receive time of a datagram (SCM_TIMESTAMPNS, CLOCK_REALTIME) on the monotonic
 * clock, never later than now. *now_us starts as the loop batch's time (rtp_now_us); a
 * datagram that arrived after it (read later in the batch) moves it to the clock's time, read
 * then, once. Without a timestamp: *now_us.
 */
uint64_t rtp_rx_time(struct msghdr *mh, int64_t real_to_mono_ns, uint64_t *now_us)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			int64_t ns;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + real_to_mono_ns;
			if (ns <= 0)
				break;
			if ((uint64_t)ns / 1000u > *now_us)
				*now_us = zt_now_us();
			return (uint64_t)ns / 1000u <= *now_us ? (uint64_t)ns / 1000u : *now_us;
		}
	return *now_us;
}
