// SPDX-License-Identifier: GPL-2.0
/* sipovld TCP flows: keepalive, idle and half-closed bounds, bytes between socket and Ziti. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/flows_int.h"

/* Reset the client's TCP connection instead of a FIN (the dial failed). */
void tcp_rst(struct flow *f)
{
	struct linger lg = { 1, 0 };

	if (f->fd >= 0)
		setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	D.c.tcp_reset++;
}

/*
 * TCP keepalive on a flow's socket: probes after tcp_keepalive_s of silence, every sixth of
 * it, five of them; TCP_USER_TIMEOUT to the same total bounds unacknowledged data too. A
 * peer that vanished (no RST) then surfaces as ETIMEDOUT and the flow is closed.
 */
void tcp_keepalive(int fd)
{
	int one = 1, idle = (int)D.cfg.tcp_keepalive_s, intvl = idle / 6 ? idle / 6 : 1, cnt = 5;
	unsigned uto = (unsigned)(idle + intvl * cnt) * 1000;

	if (!idle)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
}

/* The idle bound of an established TCP flow: shorter once either end has sent FIN. */
bool tcp_half_closed(const struct flow *f)
{
	return f->sock_eof || f->zt_eof;
}

uint64_t tcp_idle_bound(const struct flow *f)
{
	return tcp_half_closed(f) ? D.cfg.tcp_half_closed_ms : D.cfg.tcp_idle_ms;
}

void tcp_idle_arm(struct flow *f)
{
	uint64_t idle = zt_now_ms() - f->last_ms, b = tcp_idle_bound(f);

	if (!f->dead)
		zt_timer_start(D.loop, &f->timer, idle >= b ? 0 : b - idle + 1);
}

/* ------------------------------------------------------------------ pumping */

/* TCP: socket → Ziti while Ziti accepts. */
void tcp_read(struct flow *f)
{
	uint8_t buf[ZT_MAX_CHUNK];

	if (!f->zt_up) {
		flow_io(f);
		return;
	}
	for (int i = 0; i < 16 && !f->dead && !f->sock_eof; i++) {
		if (!zt_writable(f->zc)) {
			f->zt_blocked = true;
			break;
		}
		f->zt_blocked = false;
		ssize_t n = recv(f->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			sipv_data(f, true, buf, (size_t)n);
			int rc = zt_write(f->zc, buf, (size_t)n);

			if (rc) {
				flow_close(f, L_INFO, zt_strerror(rc));
				return;
			}
			f->to_zt += (uint64_t)n;
			D.c.bytes_to_ziti += (uint64_t)n;
			f->last_ms = zt_now_ms();
		} else if (n == 0) {
			f->sock_eof = true;
			f->last_ms = zt_now_ms();
			tcp_idle_arm(f); /* the half-closed bound from now */
			if (!f->zt_fin_sent) {
				f->zt_fin_sent = true;
				zt_close_write(f->zc);
			}
		} else {
			if (errno == EAGAIN || errno == EINTR)
				break;
			flow_close(f, L_INFO, strerror(errno));
			return;
		}
	}
	if (f->sock_eof && f->zt_eof && !f->q) {
		flow_close(f, L_DEBUG, "done");
		return;
	}
	flow_io(f);
}

/* TCP: queued Ziti data → socket. */
void tcp_flush(struct flow *f)
{
	while (f->q) {
		struct qbuf *b = f->q;
		ssize_t n = send(f->fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			flow_close(f, L_INFO, strerror(errno));
			return;
		}
		b->off += (size_t)n;
		f->qbytes -= (size_t)n;
		if (b->off == b->len) {
			f->q = b->next;
			if (!f->q)
				f->qtail = NULL;
			f->qcount--;
			mem_give(sizeof(*b) + b->len);
			free(b);
		}
	}
	if (!f->q && f->zt_eof && !f->sock_fin_sent) {
		f->sock_fin_sent = true;
		shutdown(f->fd, SHUT_WR);
		if (f->sock_eof) {
			flow_close(f, L_DEBUG, "done");
			return;
		}
	}
	flow_io(f);
}
