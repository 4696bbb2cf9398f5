/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SIPOVLD_RTP_RXTIME_H
#define SIPOVLD_RTP_RXTIME_H

#include <stdint.h>
#include <sys/socket.h>

/*
 * The kernel's receive time of a datagram (SCM_TIMESTAMPNS, CLOCK_REALTIME, plus
 * @real_to_mono_ns) on the monotonic clock in us, never later than now: *now_us is the loop
 * batch's time, moved to the clock's time (read then, once) by a datagram that arrived
 * after it. Without a timestamp: *now_us. (rtp_rxtime.c)
 */
uint64_t rtp_rx_time(struct msghdr *mh, int64_t real_to_mono_ns, uint64_t *now_us);

#endif
