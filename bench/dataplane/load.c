// SPDX-License-Identifier: GPL-2.0
/*
 * dp-load: the data-plane benchmark's traffic generator.
 *
 *   dp-load udp --dst A.B.C.D:P --seconds S [--size 172] [--batch 64]
 *	One connected UDP socket sending SIZE-byte datagrams with sendmmsg,
 *	BATCH per call, as fast as it can for S seconds.
 *	Prints "sent N seconds S.sss errors E".
 *   dp-load tcp --dst A.B.C.D:P --seconds S [--parallel K]
 *	K non-blocking connects in flight; each connection that completes is
 *	closed at once with an RST (SO_LINGER 0: no TIME_WAIT, no port
 *	exhaustion) and replaced by a new one, for S seconds.
 *	Prints "connected N seconds S.sss errors E".
 *   dp-load bench udp|tcp --dst A.B.C.D:P --seconds S --runs R [options]
 *	LABEL,NETNS,SINKCTL...
 *	Alternates between targets in one process: for each of R runs, for each
 *	target (the order rotated by one every run), enters network namespace
 *	/run/netns/NETNS (setns; sockets created there stay there), reads the
 *	counters of the target's dp-sink from its UNIX socket SINKCTL, sends as
 *	above for S seconds, waits until the sink's count settles, reads them
 *	again and prints one line
 *	  RAW <udp|tcp> <LABEL> <run> sent <N> got <N> secs <S> rate <N/s>
 *	      rcvbuf_drops <N> errors <N>
 *	got: datagrams the sink read / connections it accepted; rate: got / S
 *	for UDP, connections completed within S / S for TCP.
 *
 * --cpu C pins the process (and so the softirq work of its packets, which
 * veth does on the sending CPU) to CPU C.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "dp-load: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void parse_dst(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *c = strrchr(s, ':');

	if (!c || (size_t)(c - s) >= sizeof(host)) {
		fprintf(stderr, "dp-load: bad address %s\n", s);
		exit(2);
	}
	memcpy(host, s, c - s);
	host[c - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(atoi(c + 1));
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
		fprintf(stderr, "dp-load: bad address %s\n", s);
		exit(2);
	}
}

struct result {
	unsigned long long n, errors;
	double secs;
};

static void run_udp(const struct sockaddr_in *dst, double secs, int size, int batch,
		    struct result *res)
{
	struct mmsghdr *msgs = calloc(batch, sizeof(*msgs));
	char *buf = calloc(1, size);
	struct iovec iov = { buf, size };
	unsigned long long sent = 0, errors = 0;
	double t0, t;
	int fd;

	if (!msgs || !buf)
		die("calloc");
	memset(buf, 'x', size);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)dst, sizeof(*dst)))
		die("udp socket");
	for (int i = 0; i < batch; i++)
		msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1 };
	t0 = now();
	do {
		int r = sendmmsg(fd, msgs, batch, 0);

		if (r > 0) {
			sent += r;
		} else if (errno == ECONNREFUSED || errno == ENOBUFS || errno == EAGAIN) {
			/* an ICMP error of an earlier datagram, or a full queue */
			errors++;
		} else {
			die("sendmmsg");
		}
		t = now();
	} while (t - t0 < secs);
	close(fd);
	free(msgs);
	free(buf);
	res->n = sent;
	res->errors = errors;
	res->secs = t - t0;
}

static int tcp_start(int ep, const struct sockaddr_in *dst)
{
	struct linger lg = { 1, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		die("tcp socket");
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) && errno != EINPROGRESS)
		die("connect");
	struct epoll_event ev = { .events = EPOLLOUT, .data.fd = fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		die("epoll_ctl");
	return fd;
}

static void run_tcp(const struct sockaddr_in *dst, double secs, int parallel,
		    struct result *res)
{
	unsigned long long ok = 0, errors = 0;
	struct epoll_event evs[256];
	double t0, t;
	int ep = epoll_create1(0), inflight = 0;

	if (ep < 0)
		die("epoll_create1");
	t0 = t = now();
	for (; inflight < parallel; inflight++)
		tcp_start(ep, dst);
	while (inflight > 0) {
		int n = epoll_wait(ep, evs, 256, 100);

		t = now();
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t el = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err)
				errors++;
			else if (t - t0 < secs)
				ok++;
			close(fd);
			inflight--;
			if (t - t0 < secs) {
				tcp_start(ep, dst);
				inflight++;
			}
		}
		if (t - t0 > secs + 5)
			break;
	}
	close(ep);
	res->n = ok;
	res->errors = errors;
	res->secs = secs;
}

struct sinkc {
	unsigned long long udp, bytes, tcp, drops;
};

static void sink_read(const char *path, struct sinkc *c)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char line[256];
	ssize_t n, len = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
		die("unix socket");
	strcpy(a.sun_path, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die(path);
	while (len < (ssize_t)sizeof(line) - 1 && (n = read(fd, line + len, sizeof(line) - 1 - len)) > 0)
		len += n;
	line[len] = 0;
	close(fd);
	if (sscanf(line, "udp %llu %llu tcp %llu rcvbuf_errors %llu",
		   &c->udp, &c->bytes, &c->tcp, &c->drops) != 4) {
		fprintf(stderr, "dp-load: bad answer from %s: %s\n", path, line);
		exit(1);
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

struct target {
	char *label, *netns, *sink;
	int nsfd;
};

static int run_bench(bool tcp, const struct sockaddr_in *dst, double secs, int runs,
		     int size, int batch, int parallel, struct target *tg, int nt)
{
	for (int i = 0; i < nt; i++) {
		char path[300];

		snprintf(path, sizeof(path), "/run/netns/%s", tg[i].netns);
		tg[i].nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (tg[i].nsfd < 0)
			die(path);
	}
	for (int r = 0; r < runs; r++) {
		for (int j = 0; j < nt; j++) {
			struct target *t = &tg[(j + r) % nt];
			struct sinkc b, a, prev;
			struct result res;
			unsigned long long got;

			if (setns(t->nsfd, CLONE_NEWNET))
				die("setns");
			sink_read(t->sink, &b);
			if (tcp)
				run_tcp(dst, secs, parallel, &res);
			else
				run_udp(dst, secs, size, batch, &res);
			/* Let the sink drain its queue: until two reads agree. */
			sink_read(t->sink, &prev);
			for (int k = 0; k < 60; k++) {
				sleep_ms(50);
				sink_read(t->sink, &a);
				if (a.udp == prev.udp && a.tcp == prev.tcp)
					break;
				prev = a;
			}
			got = tcp ? a.tcp - b.tcp : a.udp - b.udp;
			printf("RAW %s %s %d sent %llu got %llu secs %.3f rate %.0f rcvbuf_drops %llu errors %llu\n",
			       tcp ? "tcp" : "udp", t->label, r + 1, res.n, got, res.secs,
			       (tcp ? res.n : got) / res.secs, a.drops - b.drops, res.errors);
			fflush(stdout);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'z' },
		{ "batch", required_argument, NULL, 'b' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "runs", required_argument, NULL, 'r' },
		{ "cpu", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dst = NULL;
	double secs = 3;
	int size = 172, batch = 64, parallel = 16, runs = 3, cpu = -1, c;
	bool bench = false, tcp;
	struct sockaddr_in d;
	struct result res;

	if (argc < 2) {
		fprintf(stderr, "usage: dp-load [bench] udp|tcp --dst A.B.C.D:P --seconds S ...\n");
		return 2;
	}
	if (!strcmp(argv[1], "bench")) {
		bench = true;
		argv++;
		argc--;
	}
	if (argc < 2 || (strcmp(argv[1], "udp") && strcmp(argv[1], "tcp"))) {
		fprintf(stderr, "dp-load: udp or tcp?\n");
		return 2;
	}
	tcp = !strcmp(argv[1], "tcp");
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dst = optarg; break;
		case 's': secs = atof(optarg); break;
		case 'z': size = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'P': parallel = atoi(optarg); break;
		case 'r': runs = atoi(optarg); break;
		case 'C': cpu = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!dst || secs <= 0 || size < 1 || size > 65000 || batch < 1 || batch > 1024 ||
	    parallel < 1 || parallel > 4096) {
		fprintf(stderr, "dp-load: bad arguments\n");
		return 2;
	}
	parse_dst(dst, &d);
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("sched_setaffinity");
	}
	if (bench) {
		int nt = argc - optind;
		struct target *tg = calloc(nt > 0 ? nt : 1, sizeof(*tg));

		if (nt < 1 || runs < 1) {
			fprintf(stderr, "dp-load: bench needs runs >= 1 and LABEL,NETNS,SINKCTL targets\n");
			return 2;
		}
		for (int i = 0; i < nt; i++) {
			tg[i].label = strdup(argv[optind + i]);
			tg[i].netns = strchr(tg[i].label, ',');
			tg[i].sink = tg[i].netns ? strchr(tg[i].netns + 1, ',') : NULL;
			if (!tg[i].sink) {
				fprintf(stderr, "dp-load: bad target %s\n", argv[optind + i]);
				return 2;
			}
			*tg[i].netns++ = 0;
			*tg[i].sink++ = 0;
		}
		return run_bench(tcp, &d, secs, runs, size, batch, parallel, tg, nt);
	}
	if (tcp) {
		run_tcp(&d, secs, parallel, &res);
		printf("connected %llu seconds %.3f errors %llu\n", res.n, res.secs, res.errors);
	} else {
		run_udp(&d, secs, size, batch, &res);
		printf("sent %llu seconds %.3f errors %llu\n", res.n, res.secs, res.errors);
	}
	return 0;
}
