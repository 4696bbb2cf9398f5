// SPDX-License-Identifier: GPL-2.0
/*
 * sip-rtp: the media of N concurrent calls for the SIP benchmark (bench/sip/run.sh), both
 * ends in one process so that every timestamp comes from one clock.
 *
 *   sip-rtp --a-ns PATH --b-ns PATH --a IP --b IP [--a-port P] [--b-port P] [--flows F]
 *           [--pps P] [--size S] [--warm-s W] [--secs S] [--drain-s D] [--ready FILE]
 *
 * Flow i is one call's media: a UDP socket in network namespace A (--a-ns, a file such as
 * /var/run/netns/NAME) bound to A:(a-port + 2i) and connected to B:(b-port + i), and a socket
 * in namespace B bound to B:(b-port + i) that echoes every datagram back to its sender, as
 * SIPp's -rtp_echo does. Each flow sends P packets/s of S bytes (an RTP header, PT 8, then the
 * probe: flow, sequence number, send time, B's receive time) for W+S seconds; packets sent in
 * the last S seconds are measured, a packet is lost if it is not back within D seconds after
 * the end. Receive times are kernel timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME), the send time
 * is taken right before send(). --ready FILE: the file is created when the warm-up ends (the
 * measured window starts).
 *
 * Output: one line of key=value pairs (parsed by bench/sip/guest.sh): packets sent in the
 * window, received at B (a->b), received back at A (round trip), losses in %, one-way latency
 * A->B and B->A and round trip p50/p99/max in microseconds, and the sender's own lateness
 * (a loaded guest may not run the sender on time).
 */
#include <stdbool.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
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
	const char *a_ns, *b_ns, *a_ip, *b_ip, *ready;
	unsigned a_port, b_port, flows, pps, size;
	double warm_s, secs, drain_s;
} opt = { .a_port = 20000, .b_port = 7222, .flows = 50, .pps = 50, .size = 172,
	  .warm_s = 5, .secs = 10, .drain_s = 2 };

struct probe {
	uint8_t rtp[12];
	uint32_t flow, seq;
	uint64_t t_send, t_b;
	uint32_t win, pad;
};

static atomic_bool stop;
static unsigned max_seq;
static uint8_t *seen_b, *seen_a; /* [flow * max_seq + seq] */
static uint32_t *lat_ab, *lat_ba, *lat_rt;
static size_t n_ab, n_ba, n_rt, cap_lat;
static uint64_t dup_b, dup_a, bad_b, bad_a, echo_err;
static int *a_fd, *b_fd;

static void die(const char *what)
{
	fprintf(stderr, "sip-rtp: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void enter_ns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET))
		die(path);
	close(fd);
}

static struct sockaddr_in addr(const char *ip, unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "sip-rtp: bad IPv4 address '%s'\n", ip);
		exit(2);
	}
	return a;
}

static int udp_socket(struct sockaddr_in *bind_to)
{
	int one = 1, sz = 1 << 20, fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)bind_to, sizeof(*bind_to)))
		die("bind");
	return fd;
}

/* recv one datagram with its kernel timestamp; 0 when none is left */
static ssize_t recv_ts(int fd, struct probe *p, struct sockaddr_in *from, uint64_t *rt)
{
	uint8_t buf[2048], ctl[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { .msg_name = from, .msg_namelen = from ? sizeof(*from) : 0, .msg_iov = &iov,
			    .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);

	if (n <= 0)
		return 0;
	*rt = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			*rt = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		}
	if (!*rt)
		*rt = now_ns(CLOCK_REALTIME);
	if ((size_t)n < sizeof(*p))
		return -1;
	memcpy(p, buf, sizeof(*p));
	return n;
}

static uint32_t us(uint64_t later, uint64_t earlier)
{
	uint64_t d = later > earlier ? (later - earlier) / 1000 : 0;

	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* one epoll loop over one side's sockets */
static void *side(void *arg)
{
	bool is_b = arg != NULL;
	int *fds = is_b ? b_fd : a_fd, ep = epoll_create1(EPOLL_CLOEXEC);
	uint8_t buf[2048];

	if (ep < 0)
		die("epoll");
	for (unsigned f = 0; f < opt.flows; f++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = f };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[f], &ev))
			die("epoll_ctl");
	}
	while (!atomic_load(&stop)) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, 100);

		for (int i = 0; i < n; i++) {
			unsigned f = ev[i].data.u32;
			struct probe p;
			struct sockaddr_in from;
			uint64_t rt;
			ssize_t len;

			while ((len = recv_ts(fds[f], &p, is_b ? &from : NULL, &rt)) != 0) {
				if (len < 0 || p.flow != f || p.seq >= max_seq) {
					is_b ? bad_b++ : bad_a++;
					continue;
				}
				size_t k = (size_t)f * max_seq + p.seq;

				if (is_b) {
					if (seen_b[k]) {
						dup_b++;
					} else {
						seen_b[k] = 1;
						if (p.win && n_ab < cap_lat)
							lat_ab[n_ab++] = us(rt, p.t_send);
					}
					/* echo it, with B's receive time, to whoever sent it */
					p.t_b = rt;
					memset(buf, 0, sizeof(buf));
					memcpy(buf, &p, sizeof(p));
					if (sendto(fds[f], buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&from,
						   sizeof(from)) != len)
						echo_err++;
				} else {
					if (seen_a[k]) {
						dup_a++;
						continue;
					}
					seen_a[k] = 1;
					if (p.win && n_rt < cap_lat) {
						lat_rt[n_rt++] = us(rt, p.t_send);
						lat_ba[n_ba++] = us(rt, p.t_b);
					}
				}
			}
		}
	}
	close(ep);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t pct(uint32_t *v, size_t n, double q)
{
	return n ? v[(size_t)((double)(n - 1) * q)] : 0;
}

static int run(void)
{
	pthread_t ta, tb;

	max_seq = (unsigned)((opt.warm_s + opt.secs) * opt.pps) + 2;
	seen_a = calloc((size_t)opt.flows * max_seq, 1);
	seen_b = calloc((size_t)opt.flows * max_seq, 1);
	cap_lat = (size_t)opt.flows * max_seq;
	lat_ab = malloc(cap_lat * sizeof(*lat_ab));
	lat_ba = malloc(cap_lat * sizeof(*lat_ba));
	lat_rt = malloc(cap_lat * sizeof(*lat_rt));
	a_fd = calloc(opt.flows, sizeof(*a_fd));
	b_fd = calloc(opt.flows, sizeof(*b_fd));
	uint32_t *win_lo = calloc(opt.flows, sizeof(*win_lo)), *win_hi = calloc(opt.flows, sizeof(*win_hi));

	if (!seen_a || !seen_b || !lat_ab || !lat_ba || !lat_rt || !a_fd || !b_fd || !win_lo || !win_hi)
		die("malloc");

	enter_ns(opt.b_ns);
	for (unsigned f = 0; f < opt.flows; f++) {
		struct sockaddr_in b = addr(opt.b_ip, opt.b_port + f);

		b_fd[f] = udp_socket(&b);
	}
	enter_ns(opt.a_ns);
	for (unsigned f = 0; f < opt.flows; f++) {
		struct sockaddr_in a = addr(opt.a_ip, opt.a_port + 2 * f), b = addr(opt.b_ip, opt.b_port + f);

		a_fd[f] = udp_socket(&a);
		if (connect(a_fd[f], (struct sockaddr *)&b, sizeof(b)))
			die("connect");
		win_lo[f] = UINT32_MAX;
	}
	pthread_create(&tb, NULL, side, (void *)1);
	pthread_create(&ta, NULL, side, NULL);

	/* pacing: the 1/pps period is split into 1 ms slots; flow f sends in slot f % slots */
	uint64_t period = 1000000000ull / opt.pps, slot_ns = 1000000;
	unsigned slots = (unsigned)(period / slot_ns);

	if (!slots)
		slots = 1;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC), t_warm = t0 + (uint64_t)(opt.warm_s * 1e9),
		 t_end = t_warm + (uint64_t)(opt.secs * 1e9);
	uint64_t sent_all = 0, send_err = 0, late_max = 0, late_slots = 0, slots_total = 0;
	bool ready_done = false;
	uint8_t buf[2048];

	memset(buf, 0, sizeof(buf));
	for (uint64_t k = 0;; k++) {
		uint64_t due = t0 + k * slot_ns;

		if (due >= t_end)
			break;
		struct timespec ts = { (time_t)(due / 1000000000ull), (long)(due % 1000000000ull) };

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		uint64_t now = now_ns(CLOCK_MONOTONIC);

		slots_total++;
		if (now > due && now - due > late_max)
			late_max = now - due;
		if (now > due + 5000000)
			late_slots++;
		unsigned slot = (unsigned)(k % slots);
		uint32_t seq = (uint32_t)(k / slots);
		bool in_win = due >= t_warm;

		if (in_win && !ready_done && opt.ready) {
			int fd = open(opt.ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

			if (fd >= 0)
				close(fd);
			ready_done = true;
		}
		for (unsigned f = slot; f < opt.flows; f += slots) {
			struct probe p = { .rtp = { 0x80, 8, (uint8_t)(seq >> 8), (uint8_t)seq, 0, 0, 0, 0,
						    (uint8_t)(f >> 24), (uint8_t)(f >> 16), (uint8_t)(f >> 8), (uint8_t)f },
					   .flow = f, .seq = seq, .win = in_win };
			uint32_t rts = seq * 160;

			memcpy(&p.rtp[4], &(uint32_t){ htonl(rts) }, 4);
			p.t_send = now_ns(CLOCK_REALTIME);
			memcpy(buf, &p, sizeof(p));
			if (send(a_fd[f], buf, opt.size, MSG_DONTWAIT) != (ssize_t)opt.size) {
				send_err++;
				continue;
			}
			sent_all++;
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
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);

	uint64_t sent = 0, at_b = 0, back = 0, rx_b_all = 0, rx_a_all = 0;
	unsigned flows_ok = 0;

	for (unsigned f = 0; f < opt.flows; f++) {
		uint64_t fb = 0;

		for (uint32_t s = 0; s < max_seq; s++) {
			rx_b_all += seen_b[(size_t)f * max_seq + s];
			rx_a_all += seen_a[(size_t)f * max_seq + s];
		}
		if (win_lo[f] == UINT32_MAX)
			continue;
		sent += win_hi[f] - win_lo[f];
		for (uint32_t s = win_lo[f]; s < win_hi[f]; s++) {
			at_b += seen_b[(size_t)f * max_seq + s];
			back += seen_a[(size_t)f * max_seq + s];
			fb += seen_a[(size_t)f * max_seq + s];
		}
		flows_ok += fb > 0;
	}
	qsort(lat_ab, n_ab, sizeof(*lat_ab), cmp_u32);
	qsort(lat_ba, n_ba, sizeof(*lat_ba), cmp_u32);
	qsort(lat_rt, n_rt, sizeof(*lat_rt), cmp_u32);
	printf("flows=%u sent=%" PRIu64 " at_b=%" PRIu64 " back=%" PRIu64 " loss_ab_pct=%.3f loss_rt_pct=%.3f"
	       " flows_with_echo=%u sent_all=%" PRIu64 " rx_b_all=%" PRIu64 " rx_a_all=%" PRIu64
	       " dup_b=%" PRIu64 " dup_a=%" PRIu64 " bad=%" PRIu64 " send_err=%" PRIu64 " echo_err=%" PRIu64
	       " late_max_ms=%.1f late_slots_pct=%.2f"
	       " ab_p50_us=%u ab_p99_us=%u ab_max_us=%u ba_p50_us=%u ba_p99_us=%u rt_p50_us=%u rt_p99_us=%u rt_max_us=%u\n",
	       opt.flows, sent, at_b, back, sent ? 100.0 * (double)(sent - at_b) / (double)sent : 0.0,
	       sent ? 100.0 * (double)(sent - back) / (double)sent : 0.0, flows_ok, sent_all, rx_b_all, rx_a_all,
	       dup_b, dup_a, bad_a + bad_b, send_err, echo_err, (double)late_max / 1e6,
	       slots_total ? 100.0 * (double)late_slots / (double)slots_total : 0.0,
	       pct(lat_ab, n_ab, 0.5), pct(lat_ab, n_ab, 0.99), pct(lat_ab, n_ab, 1.0), pct(lat_ba, n_ba, 0.5),
	       pct(lat_ba, n_ba, 0.99), pct(lat_rt, n_rt, 0.5), pct(lat_rt, n_rt, 0.99), pct(lat_rt, n_rt, 1.0));
	return 0;
}

static unsigned num(const char *s, const char *what, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v < lo || v > hi) {
		fprintf(stderr, "sip-rtp: --%s '%s': want an integer in %u..%u\n", what, s, lo, hi);
		exit(2);
	}
	return (unsigned)v;
}

static double secs(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (!*s || *end || !(v >= 0 && v <= 3600)) {
		fprintf(stderr, "sip-rtp: --%s '%s': want seconds in 0..3600\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "a-ns", 1, 0, 'A' },	  { "b-ns", 1, 0, 'B' },   { "a", 1, 0, 'a' },	    { "b", 1, 0, 'b' },
		{ "a-port", 1, 0, 'p' },  { "b-port", 1, 0, 'q' }, { "flows", 1, 0, 'f' },  { "pps", 1, 0, 'r' },
		{ "size", 1, 0, 'z' },	  { "warm-s", 1, 0, 'w' }, { "secs", 1, 0, 's' },   { "drain-s", 1, 0, 'd' },
		{ "ready", 1, 0, 'R' },	  { 0, 0, 0, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'A': opt.a_ns = optarg; break;
		case 'B': opt.b_ns = optarg; break;
		case 'a': opt.a_ip = optarg; break;
		case 'b': opt.b_ip = optarg; break;
		case 'p': opt.a_port = num(optarg, "a-port", 1, 65535); break;
		case 'q': opt.b_port = num(optarg, "b-port", 1, 65535); break;
		case 'f': opt.flows = num(optarg, "flows", 1, 10000); break;
		case 'r': opt.pps = num(optarg, "pps", 1, 1000); break;
		case 'z': opt.size = num(optarg, "size", (unsigned)sizeof(struct probe), 1400); break;
		case 'w': opt.warm_s = secs(optarg, "warm-s"); break;
		case 's': opt.secs = secs(optarg, "secs"); break;
		case 'd': opt.drain_s = secs(optarg, "drain-s"); break;
		case 'R': opt.ready = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc || !opt.a_ns || !opt.b_ns || !opt.a_ip || !opt.b_ip || opt.secs <= 0)
		goto usage;
	if (opt.a_port + 2 * (opt.flows - 1) > 65535 || opt.b_port + opt.flows - 1 > 65535) {
		fprintf(stderr, "sip-rtp: %u flows do not fit above ports %u/%u\n", opt.flows, opt.a_port, opt.b_port);
		return 2;
	}
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return run();
usage:
	fprintf(stderr, "usage: sip-rtp --a-ns PATH --b-ns PATH --a IP --b IP [--a-port P] [--b-port P] [--flows F]\n"
			"               [--pps P] [--size S] [--warm-s W] [--secs S] [--drain-s D] [--ready FILE]\n");
	return 2;
}
