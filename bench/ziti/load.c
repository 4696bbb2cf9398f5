// SPDX-License-Identifier: GPL-2.0
/*
 * zt-load: load generator and sink of the Ziti client benchmark (bench/ziti/run.sh), both
 * in one process so that send and receive times come from one clock.
 *
 *   zt-load tcp --to PORT --sink PORT --bytes N [--timeout-s T]
 *       listen on 127.0.0.1:SINK, connect to 127.0.0.1:TO, send N bytes, half-close; the
 *       sink counts. Prints: bytes, seconds (sink: first to last byte), MB/s, setup ms
 *       (connect to first byte at the sink).
 *   zt-load udp --to PORT --sink PORT [--flows F] [--pps P] [--size S] [--warm-s W]
 *               [--secs S] [--drain-s D]
 *       F flows (one UDP socket each, a distinct source port) each send P packets/s of S
 *       bytes to 127.0.0.1:TO for W+S seconds; packets sent during the last S seconds are
 *       counted. Each carries (flow, seq, send time CLOCK_REALTIME ns); the sink takes the
 *       kernel receive timestamp (SO_TIMESTAMPNS). Prints: sent, received, lost, loss %,
 *       duplicates, one-way latency p50/p90/p99/max in microseconds.
 *       With --echo (no --sink): the datagrams come back on the flows' own sockets (a UDP
 *       echo behind the path, e.g. `zt-load echo`), so they cross the path both ways; the
 *       latency is then the round trip.
 *   zt-load echo --port PORT
 *       a UDP echo on 127.0.0.1:PORT (recvmmsg/sendmmsg, 64 at a time), until killed.
 *
 * Output is one line of key=value pairs (parsed by run.sh).
 */
#include <stdbool.h>
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct {
	unsigned to, sink, flows, pps, size;
	double warm_s, secs, drain_s, timeout_s;
	uint64_t bytes;
	bool echo;
} opt = { .flows = 1000, .pps = 50, .size = 172, .warm_s = 3, .secs = 10, .drain_s = 2, .timeout_s = 120 };

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct sockaddr_in lo_addr(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static atomic_bool stop;

/* ------------------------------------------------------------------ TCP */

static int tcp_lsn;
static uint64_t t_first, t_last, t_connect, rx_bytes;

static void *tcp_sink(void *arg)
{
	(void)arg;
	struct pollfd pf = { .fd = tcp_lsn, .events = POLLIN };

	if (poll(&pf, 1, (int)(opt.timeout_s * 1000)) <= 0) {
		fprintf(stderr, "zt-load: no connection at the sink\n");
		exit(1);
	}
	static uint8_t b[1 << 18];
	int fd;

again:
	fd = accept(tcp_lsn, NULL, NULL);
	if (fd < 0)
		die("accept");
	for (;;) {
		ssize_t n = recv(fd, b, sizeof(b), 0);

		if (n <= 0 && !rx_bytes) { /* a stray connection (a late dial of an earlier test) */
			close(fd);
			goto again;
		}
		if (n <= 0)
			break;
		uint64_t t = now_ns(CLOCK_MONOTONIC);

		if (!rx_bytes)
			t_first = t;
		t_last = t;
		rx_bytes += (uint64_t)n;
		if (rx_bytes >= opt.bytes)
			break;
	}
	close(fd);
	return NULL;
}

static int run_tcp(void)
{
	struct sockaddr_in a = lo_addr(opt.sink);
	int one = 1;
	pthread_t th;

	tcp_lsn = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(tcp_lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(tcp_lsn, (struct sockaddr *)&a, sizeof(a)) || listen(tcp_lsn, 16))
		die("sink bind/listen");
	pthread_create(&th, NULL, tcp_sink, NULL);

	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a = lo_addr(opt.to);
	t_connect = now_ns(CLOCK_MONOTONIC);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	static uint8_t b[1 << 16];

	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 131 + 7);
	uint64_t sent = 0;

	while (sent < opt.bytes) {
		size_t n = opt.bytes - sent > sizeof(b) ? sizeof(b) : opt.bytes - sent;
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w <= 0)
			die("send");
		sent += (uint64_t)w;
	}
	shutdown(fd, SHUT_WR);
	/* the sink thread ends at N bytes (or EOF); bound the wait */
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)opt.timeout_s;
	if (pthread_timedjoin_np(th, NULL, &dl)) {
		fprintf(stderr, "zt-load: sink got %" PRIu64 " of %" PRIu64 " bytes before the timeout\n", rx_bytes,
			opt.bytes);
		return 1;
	}
	close(fd);
	double s = (double)(t_last - t_first) / 1e9;

	printf("bytes=%" PRIu64 " secs=%.3f mbps=%.1f setup_ms=%.1f\n", rx_bytes, s,
	       s > 0 ? (double)rx_bytes / 1e6 / s : 0.0, (double)(t_first - t_connect) / 1e6);
	return rx_bytes == opt.bytes ? 0 : 1;
}

/* ------------------------------------------------------------------ UDP */

struct pkt {
	uint32_t flow, seq;
	uint64_t ts;   /* CLOCK_REALTIME ns at send */
	uint32_t win;  /* sent inside the measurement window */
	uint32_t pad;
};

static int udp_sink_fd; /* the sink socket, or (--echo) an epoll set of the flows' sockets */
static uint8_t *seen;         /* [flow][seq] receive count */
static unsigned max_seq;      /* per flow */
static uint32_t *win_lo, *win_hi; /* per flow: seqs [lo, hi) were sent inside the window */
static uint32_t *lat;         /* one-way latency, us, of received in-window packets */
static size_t nlat, cap_lat;
static uint64_t dups, rx_total, rx_bad;

static void *udp_sink(void *arg)
{
	enum { BATCH = 64 };
	static uint8_t bufs[BATCH][2048];
	static uint8_t ctl[BATCH][CMSG_SPACE(sizeof(struct timespec))];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];

	(void)arg;
	while (!atomic_load(&stop)) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1, .msg_control = ctl[i],
							.msg_controllen = sizeof(ctl[i]) };
		}
		struct timespec tmo = { 0, 100000000 };
		struct pollfd pf = { .fd = udp_sink_fd, .events = POLLIN };
		int rfd = udp_sink_fd;

		if (opt.echo) {
			struct epoll_event ev;

			if (epoll_wait(udp_sink_fd, &ev, 1, 100) <= 0)
				continue;
			rfd = ev.data.fd;
		} else if (ppoll(&pf, 1, &tmo, NULL) <= 0) {
			continue;
		}
		int n = recvmmsg(rfd, m, BATCH, MSG_DONTWAIT, NULL);

		for (int i = 0; i < n; i++) {
			struct pkt p;
			uint64_t rt = 0;

			rx_total++;
			if (m[i].msg_len < sizeof(p)) {
				rx_bad++;
				continue;
			}
			memcpy(&p, bufs[i], sizeof(p));
			if (p.flow >= opt.flows || p.seq >= max_seq) {
				rx_bad++;
				continue;
			}
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&m[i].msg_hdr); c; c = CMSG_NXTHDR(&m[i].msg_hdr, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					rt = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
				}
			if (!rt)
				rt = now_ns(CLOCK_REALTIME);
			uint8_t *s = &seen[(size_t)p.flow * max_seq + p.seq];

			if (*s) {
				dups++;
				continue;
			}
			*s = 1;
			uint64_t d = rt > p.ts ? (rt - p.ts) / 1000 : 0;

			if (p.win && nlat < cap_lat)
				lat[nlat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		}
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int run_udp(void)
{
	struct sockaddr_in a = lo_addr(opt.sink);
	int one = 1, sz = 16 << 20;
	pthread_t th;

	if (opt.echo) {
		udp_sink_fd = epoll_create1(0);
		if (udp_sink_fd < 0)
			die("epoll");
	} else {
		udp_sink_fd = socket(AF_INET, SOCK_DGRAM, 0);
		setsockopt(udp_sink_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (setsockopt(udp_sink_fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
			setsockopt(udp_sink_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(udp_sink_fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
		if (bind(udp_sink_fd, (struct sockaddr *)&a, sizeof(a)))
			die("sink bind");
	}

	double total_s = opt.warm_s + opt.secs;

	max_seq = (unsigned)(total_s * opt.pps) + 2;
	seen = calloc((size_t)opt.flows * max_seq, 1);
	win_lo = calloc(opt.flows, sizeof(*win_lo));
	win_hi = calloc(opt.flows, sizeof(*win_hi));
	cap_lat = (size_t)opt.flows * max_seq;
	lat = malloc(cap_lat * sizeof(*lat));
	int *fds = malloc(opt.flows * sizeof(*fds));

	if (!seen || !win_lo || !win_hi || !lat || !fds)
		die("malloc");
	/* the window: seq numbers sent while inside [warm, warm+secs) */
	a = lo_addr(opt.to);
	for (unsigned f = 0; f < opt.flows; f++) {
		fds[f] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[f] < 0 || connect(fds[f], (struct sockaddr *)&a, sizeof(a)))
			die("flow socket");
		if (opt.echo) {
			struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[f] };

			setsockopt(fds[f], SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
			if (epoll_ctl(udp_sink_fd, EPOLL_CTL_ADD, fds[f], &ev))
				die("epoll_ctl");
		}
		win_lo[f] = UINT32_MAX;
	}
	pthread_create(&th, NULL, udp_sink, NULL);

	/* pacing: the 1/pps period is split into 1 ms slots; flow f sends in slot f % slots */
	uint64_t period = 1000000000ull / opt.pps, slot_ns = 1000000;
	unsigned slots = (unsigned)(period / slot_ns);

	if (!slots)
		slots = 1;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC), t_warm = t0 + (uint64_t)(opt.warm_s * 1e9),
		 t_end = t_warm + (uint64_t)(opt.secs * 1e9);
	uint8_t buf[2048];
	uint64_t sent_total = 0, send_err = 0, late_max = 0, late_slots = 0;

	memset(buf, 0xa5, sizeof(buf));
	for (uint64_t k = 0;; k++) {
		uint64_t due = t0 + k * slot_ns;

		if (due >= t_end)
			break;
		struct timespec ts = { (time_t)(due / 1000000000ull), (long)(due % 1000000000ull) };

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		uint64_t now = now_ns(CLOCK_MONOTONIC);

		if (now > due && now - due > late_max)
			late_max = now - due;
		if (now > due + 5000000)
			late_slots++;
		unsigned slot = (unsigned)(k % slots);
		uint32_t seq = (uint32_t)(k / slots);
		bool in_win = due >= t_warm;

		for (unsigned f = slot; f < opt.flows; f += slots) {
			struct pkt p = { f, seq, now_ns(CLOCK_REALTIME), in_win, 0 };

			memcpy(buf, &p, sizeof(p));
			if (send(fds[f], buf, opt.size, MSG_DONTWAIT) != (ssize_t)opt.size) {
				send_err++;
				continue;
			}
			sent_total++;
			if (in_win) {
				if (win_lo[f] == UINT32_MAX)
					win_lo[f] = seq;
				win_hi[f] = seq + 1;
			}
		}
	}
	struct timespec dr = { (time_t)opt.drain_s, (long)((opt.drain_s - (double)(time_t)opt.drain_s) * 1e9) };

	nanosleep(&dr, NULL);
	atomic_store(&stop, true);
	pthread_join(th, NULL);

	/* in-window accounting */
	uint64_t sent = 0, recvd = 0;

	for (unsigned f = 0; f < opt.flows; f++) {
		if (win_lo[f] == UINT32_MAX)
			continue;
		sent += win_hi[f] - win_lo[f];
		for (uint32_t s = win_lo[f]; s < win_hi[f]; s++)
			recvd += seen[(size_t)f * max_seq + s] != 0;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
#define PCT(q) (nlat ? lat[(size_t)((double)(nlat - 1) * (q))] : 0)
	printf("sent=%" PRIu64 " recvd=%" PRIu64 " lost=%" PRIu64 " loss_pct=%.3f dups=%" PRIu64 " bad=%" PRIu64
	       " send_err=%" PRIu64 " sent_all=%" PRIu64 " rx_all=%" PRIu64 " sender_late_max_ms=%.1f sender_late_slots=%" PRIu64
	       " lat_n=%zu p50_us=%u p90_us=%u p99_us=%u max_us=%u\n",
	       sent, recvd, sent - recvd, sent ? 100.0 * (double)(sent - recvd) / (double)sent : 0.0, dups, rx_bad,
	       send_err, sent_total, rx_total, (double)late_max / 1e6, late_slots, nlat, PCT(0.5), PCT(0.9), PCT(0.99), PCT(1.0));
	return 0;
}

/* ------------------------------------------------------------------ echo */

static _Noreturn void run_echo(void)
{
	enum { BATCH = 64 };
	static uint8_t bufs[BATCH][2048];
	static struct sockaddr_in from[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in a = lo_addr(opt.sink);
	int one = 1, sz = 16 << 20, fd = socket(AF_INET, SOCK_DGRAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("echo bind");
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			m[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
							.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(fd, m, BATCH, MSG_WAITFORONE, NULL);

		if (n <= 0) {
			if (n < 0 && errno != EINTR)
				die("echo recvmmsg");
			continue;
		}
		for (int i = 0; i < n; i++)
			iov[i].iov_len = m[i].msg_len;
		for (int done = 0; done < n;) {
			int w = sendmmsg(fd, m + done, (unsigned)(n - done), 0);

			if (w <= 0)
				break; /* a full send buffer drops the rest, as a phone would */
			done += w;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", 1, 0, 't' }, { "sink", 1, 0, 'k' }, { "bytes", 1, 0, 'b' }, { "flows", 1, 0, 'f' },
		{ "pps", 1, 0, 'p' }, { "size", 1, 0, 'z' }, { "warm-s", 1, 0, 'w' }, { "secs", 1, 0, 's' },
		{ "drain-s", 1, 0, 'd' }, { "timeout-s", 1, 0, 'T' }, { "echo", 0, 0, 'e' }, { "port", 1, 0, 'k' },
		{ 0, 0, 0, 0 },
	};
	int ch;

	if (argc < 2)
		goto usage;
	const char *cmd = argv[1];

	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 't': opt.to = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'k': opt.sink = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'b': opt.bytes = strtoull(optarg, NULL, 0); break;
		case 'f': opt.flows = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'p': opt.pps = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'z': opt.size = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'w': opt.warm_s = strtod(optarg, NULL); break;
		case 's': opt.secs = strtod(optarg, NULL); break;
		case 'd': opt.drain_s = strtod(optarg, NULL); break;
		case 'T': opt.timeout_s = strtod(optarg, NULL); break;
		case 'e': opt.echo = true; break;
		default: goto usage;
		}
	}
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!strcmp(cmd, "tcp") && opt.to && opt.sink && opt.bytes)
		return run_tcp();
	if (!strcmp(cmd, "echo") && opt.sink)
		run_echo();
	if (!strcmp(cmd, "udp") && opt.to && (opt.sink || opt.echo) && opt.flows && opt.pps && opt.size >= sizeof(struct pkt) &&
	    opt.size <= 2048 && opt.secs > 0)
		return run_udp();
usage:
	fprintf(stderr, "usage: zt-load tcp --to PORT --sink PORT --bytes N\n"
			"       zt-load udp --to PORT --sink PORT|--echo [--flows F --pps P --size S --warm-s W --secs S]\n"
			"       zt-load echo --port PORT\n");
	return 2;
}
