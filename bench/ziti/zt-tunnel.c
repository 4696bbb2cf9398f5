// SPDX-License-Identifier: GPL-2.0
/*
 * zt-tunnel: a minimal TCP/UDP tunneler over the native edge client (libzt.a), the
 * counterpart of `ziti tunnel proxy` / `ziti tunnel host` in the Ziti client benchmark
 * (bench/ziti/run.sh).
 *
 *   zt-tunnel proxy -i ID.json -s SERVICE -p PORT [--udp] [--ready-file F]
 *       listen on 127.0.0.1:PORT; TCP: one dial per accepted connection; UDP: one datagram
 *       dial per source address (idle flows closed after 30 s, like the Go tunneler)
 *   zt-tunnel host  -i ID.json -s SERVICE -p PORT [--udp] [--ready-file F]
 *       host SERVICE; each accepted conn is connected to 127.0.0.1:PORT
 *
 * Both directions are piped; the ziti -> socket direction buffers (the library has no
 * receive-side flow control), the socket -> ziti direction stops reading while the router
 * channel is congested (zt_writable / on_writable).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/ziti/zt.h"

static struct {
	const char *cmd, *identity, *service, *ready_file;
	bool udp;
	unsigned port;
} opt;

static struct zt_loop *loop;
static struct zt_ctx *ctx;
static int exit_code;

#define UDP_IDLE_MS 30000
#define UDP_QUEUE 64 /* datagrams held per flow while its dial is in progress */

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static struct sockaddr_in lo_addr(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* ------------------------------------------------------------------ TCP pipe */

struct buf {
	uint8_t *p;
	size_t off, len, cap;
};

static void buf_add(struct buf *b, const uint8_t *p, size_t n)
{
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n > b->cap) {
		if (b->off) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->len + n > b->cap) {
			size_t cap = b->cap ? b->cap : 65536;

			while (cap < b->len + n)
				cap *= 2;
			b->p = realloc(b->p, cap);
			if (!b->p)
				die("realloc");
			b->cap = cap;
		}
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

struct pipe_ {
	int fd;
	struct zt_io io;
	struct zt_conn *c;
	bool sock_up;    /* socket connected */
	bool zt_up;      /* ziti conn connected */
	bool sock_eof;   /* read 0 from the socket (FIN sent to ziti) */
	bool zt_eof;     /* FIN from ziti: shut the socket's write side once out is flushed */
	bool shut_wr;
	bool dead;
	struct buf out;  /* ziti -> socket */
};

static void pipe_free(void *arg)
{
	struct pipe_ *p = arg;

	free(p->out.p);
	free(p);
}

static void pipe_close(struct pipe_ *p)
{
	if (p->dead)
		return;
	p->dead = true;
	if (p->fd >= 0) {
		zt_io_del(loop, &p->io);
		close(p->fd);
		p->fd = -1;
	}
	if (p->c)
		zt_close(p->c);
	p->c = NULL;
	zt_loop_defer_free(loop, pipe_free, p);
}

static void pipe_update(struct pipe_ *p)
{
	uint32_t ev = 0;

	if (p->dead || p->fd < 0)
		return;
	if (!p->sock_up) {
		ev = EPOLLOUT; /* connect in progress */
	} else {
		if (p->zt_up && !p->sock_eof && zt_writable(p->c))
			ev |= EPOLLIN;
		if (p->out.len > p->out.off)
			ev |= EPOLLOUT;
	}
	zt_io_set(loop, &p->io, ev);
}

static void pipe_flush_out(struct pipe_ *p)
{
	while (p->out.len > p->out.off) {
		ssize_t n = send(p->fd, p->out.p + p->out.off, p->out.len - p->out.off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			pipe_close(p);
			return;
		}
		p->out.off += (size_t)n;
	}
	if (p->out.len == p->out.off && p->zt_eof && !p->shut_wr) {
		shutdown(p->fd, SHUT_WR);
		p->shut_wr = true;
		if (p->sock_eof) {
			pipe_close(p);
			return;
		}
	}
}

static void pipe_read(struct pipe_ *p)
{
	uint8_t b[65536];

	while (!p->dead && !p->sock_eof && zt_writable(p->c)) {
		ssize_t n = recv(p->fd, b, sizeof(b), 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			pipe_close(p);
			return;
		}
		if (n == 0) {
			p->sock_eof = true;
			zt_close_write(p->c);
			if (p->shut_wr)
				pipe_close(p);
			return;
		}
		if (zt_write(p->c, b, (size_t)n)) {
			pipe_close(p);
			return;
		}
		if ((size_t)n < sizeof(b))
			return;
	}
}

static void pipe_io(void *arg, uint32_t ev)
{
	struct pipe_ *p = arg;

	if (p->dead)
		return;
	if (!p->sock_up) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			pipe_close(p);
			return;
		}
		p->sock_up = true;
	}
	if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		pipe_flush_out(p);
	if (!p->dead && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		pipe_read(p);
	pipe_update(p);
}

static void pz_on_connect(struct zt_conn *c, int err, const char *reason, void *u)
{
	struct pipe_ *p = u;

	(void)c;
	if (err) {
		fprintf(stderr, "zt-tunnel: dial failed: %s\n", reason ? reason : zt_strerror(err));
		pipe_close(p);
		return;
	}
	p->zt_up = true;
	pipe_update(p);
}

static void pz_on_data(struct zt_conn *c, const uint8_t *d, size_t n, void *u)
{
	struct pipe_ *p = u;

	(void)c;
	if (p->dead)
		return;
	if (n == 0)
		p->zt_eof = true;
	else
		buf_add(&p->out, d, n);
	if (p->sock_up)
		pipe_flush_out(p);
	pipe_update(p);
}

static void pz_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	struct pipe_ *p = u;

	(void)c;
	(void)err;
	(void)reason;
	/* deliver what is buffered, then close */
	if (p->sock_up && !p->dead)
		pipe_flush_out(p);
	pipe_close(p);
}

static void pz_on_writable(struct zt_conn *c, void *u)
{
	struct pipe_ *p = u;

	(void)c;
	if (p->dead)
		return;
	pipe_read(p);
	pipe_update(p);
}

static const struct zt_conn_cbs pipe_cbs = {
	.on_connect = pz_on_connect, .on_data = pz_on_data, .on_close = pz_on_close, .on_writable = pz_on_writable,
};

static struct pipe_ *pipe_new(int fd, bool sock_up)
{
	struct pipe_ *p = calloc(1, sizeof(*p));

	if (!p)
		die("calloc");
	p->fd = fd;
	p->sock_up = sock_up;
	zt_io_init(&p->io, fd, pipe_io, p);
	return p;
}

/* TCP proxy: accept, dial */
static struct zt_io lsn_io;

static void tcp_accept(void *arg, uint32_t ev)
{
	(void)arg;
	(void)ev;
	for (;;) {
		int fd = accept4(lsn_io.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct pipe_ *p = pipe_new(fd, true);

		p->c = zt_dial(ctx, opt.service, NULL, &pipe_cbs, p);
		if (!p->c) {
			pipe_close(p);
			continue;
		}
		pipe_update(p);
	}
}

/* ------------------------------------------------------------------ UDP proxy */

struct flow {
	struct sockaddr_in src;
	uint64_t key;
	struct zt_conn *c;
	bool up;
	uint64_t last_ms;
	unsigned nq;
	uint8_t *q[UDP_QUEUE];
	uint16_t qlen[UDP_QUEUE];
	struct flow *hnext;
};

#define NBUCKETS 16384
static struct flow *flows[NBUCKETS];
static unsigned nflows;
static int udp_fd;
static struct zt_timer sweep_timer;

static unsigned bucket(uint64_t k)
{
	return (unsigned)((k * 0x9e3779b97f4a7c15ull) >> 50) & (NBUCKETS - 1);
}

static void flow_drop_queue(struct flow *f)
{
	for (unsigned i = 0; i < f->nq; i++)
		free(f->q[i]);
	f->nq = 0;
}

static void flow_free(void *arg)
{
	struct flow *f = arg;

	flow_drop_queue(f);
	free(f);
}

static void flow_remove(struct flow *f)
{
	struct flow **pp = &flows[bucket(f->key)];

	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
	nflows--;
	if (f->c)
		zt_close(f->c);
	f->c = NULL;
	zt_loop_defer_free(loop, flow_free, f);
}

static void uf_on_connect(struct zt_conn *c, int err, const char *reason, void *u)
{
	struct flow *f = u;

	if (err) {
		fprintf(stderr, "zt-tunnel: udp dial failed: %s\n", reason ? reason : zt_strerror(err));
		flow_remove(f);
		return;
	}
	f->up = true;
	for (unsigned i = 0; i < f->nq; i++)
		zt_write(c, f->q[i], f->qlen[i]);
	flow_drop_queue(f);
}

static void uf_on_data(struct zt_conn *c, const uint8_t *d, size_t n, void *u)
{
	struct flow *f = u;

	(void)c;
	if (n == 0)
		return;
	f->last_ms = zt_now_ms();
	sendto(udp_fd, d, n, MSG_DONTWAIT, (struct sockaddr *)&f->src, sizeof(f->src));
}

static void uf_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)c;
	(void)err;
	(void)reason;
	flow_remove(u);
}

static const struct zt_conn_cbs flow_cbs = { .on_connect = uf_on_connect, .on_data = uf_on_data, .on_close = uf_on_close };

static void udp_packet(const struct sockaddr_in *src, const uint8_t *d, size_t n, uint64_t now)
{
	uint64_t key = ((uint64_t)src->sin_addr.s_addr << 16) | src->sin_port;
	struct flow *f;

	for (f = flows[bucket(key)]; f; f = f->hnext)
		if (f->key == key)
			break;
	if (!f) {
		struct zt_dial_opts o = { .datagram = true };

		f = calloc(1, sizeof(*f));
		if (!f)
			die("calloc");
		f->src = *src;
		f->key = key;
		f->hnext = flows[bucket(key)];
		flows[bucket(key)] = f;
		nflows++;
		f->c = zt_dial(ctx, opt.service, &o, &flow_cbs, f);
		if (!f->c) {
			flow_remove(f);
			return;
		}
	}
	f->last_ms = now;
	if (f->up) {
		if (zt_writable(f->c))
			zt_write(f->c, d, n); /* datagrams: drop when the channel is congested */
	} else if (f->nq < UDP_QUEUE) {
		f->q[f->nq] = malloc(n);
		if (!f->q[f->nq])
			die("malloc");
		memcpy(f->q[f->nq], d, n);
		f->qlen[f->nq++] = (uint16_t)n;
	}
}

static void udp_read(void *arg, uint32_t ev)
{
	enum { BATCH = 64 };
	static uint8_t bufs[BATCH][2048];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in src[BATCH];

	(void)arg;
	(void)ev;
	for (int round = 0; round < 16; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			m[i].msg_hdr = (struct msghdr){ .msg_name = &src[i], .msg_namelen = sizeof(src[i]),
							.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(udp_fd, m, BATCH, MSG_DONTWAIT, NULL);

		if (n <= 0)
			return;
		uint64_t now = zt_now_ms();

		for (int i = 0; i < n; i++)
			udp_packet(&src[i], bufs[i], m[i].msg_len, now);
		if (n < BATCH)
			return;
	}
}

static void sweep(void *arg)
{
	uint64_t now = zt_now_ms();

	(void)arg;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		struct flow *f = flows[b], *next;

		for (; f; f = next) {
			next = f->hnext;
			if (now - f->last_ms > UDP_IDLE_MS)
				flow_remove(f);
		}
	}
	zt_timer_start(loop, &sweep_timer, 5000);
}

/* ------------------------------------------------------------------ host */

struct uhost {
	int fd;
	struct zt_io io;
	struct zt_conn *c;
};

static void uh_free(void *arg)
{
	free(arg);
}

static void uh_close(struct uhost *h)
{
	if (h->fd < 0)
		return;
	zt_io_del(loop, &h->io);
	close(h->fd);
	h->fd = -1;
	zt_close(h->c);
	zt_loop_defer_free(loop, uh_free, h);
}

static void uh_io(void *arg, uint32_t ev)
{
	struct uhost *h = arg;
	uint8_t b[65536];

	(void)ev;
	for (int i = 0; i < 64 && h->fd >= 0; i++) {
		ssize_t n = recv(h->fd, b, sizeof(b), MSG_DONTWAIT);

		if (n < 0)
			return;
		if (zt_writable(h->c))
			zt_write(h->c, b, (size_t)n);
	}
}

static void uh_on_data(struct zt_conn *c, const uint8_t *d, size_t n, void *u)
{
	struct uhost *h = u;

	(void)c;
	if (n && h->fd >= 0)
		send(h->fd, d, n, MSG_DONTWAIT);
}

static void uh_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)c;
	(void)err;
	(void)reason;
	uh_close(u);
}

static const struct zt_conn_cbs uhost_cbs = { .on_data = uh_on_data, .on_close = uh_on_close };

static void h_on_dial(struct zt_listener *l, struct zt_dial_req *r, void *u)
{
	struct sockaddr_in a = lo_addr(opt.port);

	(void)l;
	(void)u;
	if (opt.udp) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			if (fd >= 0)
				close(fd);
			zt_reject(r, "cannot reach the local target");
			return;
		}
		struct uhost *h = calloc(1, sizeof(*h));

		if (!h)
			die("calloc");
		h->fd = fd;
		zt_io_init(&h->io, fd, uh_io, h);
		h->c = zt_accept(r, &uhost_cbs, h);
		if (!h->c) {
			close(fd);
			free(h);
			return;
		}
		zt_io_set(loop, &h->io, EPOLLIN);
		return;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS)) {
		if (fd >= 0)
			close(fd);
		zt_reject(r, "cannot reach the local target");
		return;
	}
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct pipe_ *p = pipe_new(fd, false);

	p->c = zt_accept(r, &pipe_cbs, p);
	if (!p->c) {
		close(fd);
		free(p);
		return;
	}
	p->zt_up = true;
	pipe_update(p);
}

static void h_on_status(struct zt_listener *l, int err, const char *msg, void *u)
{
	(void)l;
	(void)u;
	fprintf(stderr, "zt-tunnel: host %s: %s%s\n", opt.service, err ? "error: " : "", msg);
	if (!err && opt.ready_file) {
		FILE *f = fopen(opt.ready_file, "w");

		if (f) {
			fputs("ready\n", f);
			fclose(f);
		}
	}
}

static struct zt_listener *listener;

/* ------------------------------------------------------------------ main */

static void on_ready(struct zt_ctx *c, int err, const char *msg, void *u)
{
	(void)c;
	(void)u;
	if (err) {
		fprintf(stderr, "zt-tunnel: %s\n", msg);
		exit_code = 1;
		zt_loop_stop(loop);
		return;
	}
	if (!strcmp(opt.cmd, "host")) {
		struct zt_listen_opts o = { .datagram = opt.udp };
		struct zt_listener_cbs cbs = { .on_status = h_on_status, .on_dial = h_on_dial };

		listener = zt_listen(ctx, opt.service, &o, &cbs, NULL);
		if (!listener) {
			fprintf(stderr, "zt-tunnel: cannot host %s\n", opt.service);
			exit_code = 1;
			zt_loop_stop(loop);
		}
		return;
	}
	/* proxy */
	struct sockaddr_in a = lo_addr(opt.port);
	int fd = socket(AF_INET, (opt.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || (!opt.udp && listen(fd, 512)))
		die("bind/listen");
	if (opt.udp) {
		int sz = 8 << 20;

		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		udp_fd = fd;
		zt_io_init(&lsn_io, fd, udp_read, NULL);
		zt_timer_init(&sweep_timer, sweep, NULL);
		zt_timer_start(loop, &sweep_timer, 5000);
	} else {
		zt_io_init(&lsn_io, fd, tcp_accept, NULL);
	}
	zt_io_set(loop, &lsn_io, EPOLLIN);
	if (opt.ready_file) {
		FILE *f = fopen(opt.ready_file, "w");

		if (f) {
			fputs("ready\n", f);
			fclose(f);
		}
	}
}

static void on_log(struct zt_ctx *c, int level, const char *msg, void *u)
{
	(void)c;
	(void)u;
	fprintf(stderr, "zt-tunnel: [%d] %s\n", level, msg);
}

static struct zt_io sig_io;

static void on_signal(void *arg, uint32_t ev)
{
	struct signalfd_siginfo si;

	(void)arg;
	(void)ev;
	if (read(sig_io.fd, &si, sizeof(si)) > 0)
		zt_loop_stop(loop);
}

static void usage(void)
{
	fprintf(stderr, "usage: zt-tunnel proxy|host -i IDENTITY.json -s SERVICE -p PORT [--udp] [--ready-file F]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "identity", 1, 0, 'i' }, { "service", 1, 0, 's' }, { "port", 1, 0, 'p' },
		{ "udp", 0, 0, 'u' }, { "ready-file", 1, 0, 'r' }, { 0, 0, 0, 0 },
	};
	int ch;

	if (argc < 2)
		usage();
	opt.cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "i:s:p:u", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': opt.identity = optarg; break;
		case 's': opt.service = optarg; break;
		case 'p': opt.port = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'u': opt.udp = true; break;
		case 'r': opt.ready_file = optarg; break;
		default: usage();
		}
	}
	if ((strcmp(opt.cmd, "proxy") && strcmp(opt.cmd, "host")) || !opt.identity || !opt.service || !opt.port ||
	    opt.port > 65535)
		usage();
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	char err[512];
	struct zt_identity *id = zt_identity_load(opt.identity, err, sizeof(err));

	if (!id) {
		fprintf(stderr, "zt-tunnel: %s\n", err);
		return 1;
	}
	loop = zt_loop_new();
	struct zt_opts zo = { .log_level = 1, .app_id = "zt-tunnel" };
	struct zt_ctx_cbs cbs = { .on_ready = on_ready, .on_log = on_log };

	ctx = zt_ctx_new(loop, id, &zo, &cbs, NULL);
	if (!ctx) {
		fprintf(stderr, "zt-tunnel: cannot create context\n");
		return 1;
	}
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	zt_io_init(&sig_io, signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC), on_signal, NULL);
	zt_io_set(loop, &sig_io, EPOLLIN);
	zt_ctx_start(ctx);
	zt_loop_run(loop, -1);
	if (listener)
		zt_listener_close(listener);
	zt_ctx_free(ctx);
	return exit_code;
}
