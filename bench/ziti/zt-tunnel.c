// SPDX-License-Identifier: GPL-2.0
/*
 * zt-tunnel: a minimal TCP/UDP tunneler over the native edge client (libzt.a), the
 * counterpart of `ziti tunnel proxy` / `ziti tunnel host` in the Ziti client benchmark
 * (bench/ziti/run.sh).
 *
 *   zt-tunnel proxy -i ID.json [--ready-file F] SERVICE:PORT[:udp]...
 *       listen on 127.0.0.1:PORT; TCP: one dial per accepted connection; UDP: one datagram
 *       dial per source address (idle flows closed after 30 s)
 *   zt-tunnel host  -i ID.json [--ready-file F] SERVICE:PORT[:udp]...
 *       host SERVICE; each accepted conn is connected to 127.0.0.1:PORT
 *
 * (the same argument form as `ziti tunnel proxy`; one process, one router channel, for all
 * the services given). The ready file is written once every proxy listens / every host's
 * terminator is established.
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
	const char *cmd, *identity, *ready_file;
} opt;

/* one SERVICE:PORT[:udp] argument */
struct spec {
	char *service;
	unsigned port;
	bool udp;
	int fd;            /* proxy: listening TCP or bound UDP socket */
	struct zt_io io;
	struct zt_listener *l;
	bool established;
};
#define MAX_SPECS 16
static struct spec specs[MAX_SPECS];
static unsigned nspecs, nready;

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
static void tcp_accept(void *arg, uint32_t ev)
{
	struct spec *sp = arg;

	(void)ev;
	for (;;) {
		int fd = accept4(sp->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct pipe_ *p = pipe_new(fd, true);

		p->c = zt_dial(ctx, sp->service, NULL, &pipe_cbs, p);
		if (!p->c) {
			pipe_close(p);
			continue;
		}
		pipe_update(p);
	}
}

/* ------------------------------------------------------------------ UDP proxy */

struct flow {
	struct spec *sp;
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
static struct zt_timer sweep_timer;
/* UDP proxy counters, logged every 5 s when they changed */
static struct {
	unsigned long dials, connected, dial_failed, closed, pkts, fwd, queued, q_drop, cong_drop;
} st, st_last;

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
		if (!st.dial_failed++)
			fprintf(stderr, "zt-tunnel: udp dial failed: %s\n", reason ? reason : zt_strerror(err));
		flow_remove(f);
		return;
	}
	f->up = true;
	st.connected++;
	for (unsigned i = 0; i < f->nq; i++)
		if (!zt_write(c, f->q[i], f->qlen[i]))
			st.fwd++;
	flow_drop_queue(f);
}

static void uf_on_data(struct zt_conn *c, const uint8_t *d, size_t n, void *u)
{
	struct flow *f = u;

	(void)c;
	if (n == 0)
		return;
	f->last_ms = zt_now_ms();
	sendto(f->sp->fd, d, n, MSG_DONTWAIT, (struct sockaddr *)&f->src, sizeof(f->src));
}

static void uf_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)c;
	(void)err;
	(void)reason;
	st.closed++;
	flow_remove(u);
}

static const struct zt_conn_cbs flow_cbs = { .on_connect = uf_on_connect, .on_data = uf_on_data, .on_close = uf_on_close };

static void udp_packet(struct spec *sp, const struct sockaddr_in *src, const uint8_t *d, size_t n, uint64_t now)
{
	uint64_t key = ((uint64_t)(sp - specs) << 48) | ((uint64_t)src->sin_addr.s_addr << 16) | src->sin_port;
	struct flow *f;

	for (f = flows[bucket(key)]; f; f = f->hnext)
		if (f->key == key)
			break;
	if (!f) {
		struct zt_dial_opts o = { .datagram = true };

		f = calloc(1, sizeof(*f));
		if (!f)
			die("calloc");
		f->sp = sp;
		f->src = *src;
		f->key = key;
		f->hnext = flows[bucket(key)];
		flows[bucket(key)] = f;
		nflows++;
		st.dials++;
		f->c = zt_dial(ctx, sp->service, &o, &flow_cbs, f);
		if (!f->c) {
			flow_remove(f);
			return;
		}
	}
	f->last_ms = now;
	st.pkts++;
	if (f->up) {
		if (zt_writable(f->c) && !zt_write(f->c, d, n))
			st.fwd++;
		else
			st.cong_drop++; /* datagrams: dropped while the channel is congested */
	} else if (f->nq == UDP_QUEUE) {
		st.q_drop++;
	} else {
		st.queued++;
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
	struct spec *sp = arg;

	(void)ev;
	for (int round = 0; round < 16; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			m[i].msg_hdr = (struct msghdr){ .msg_name = &src[i], .msg_namelen = sizeof(src[i]),
							.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(sp->fd, m, BATCH, MSG_DONTWAIT, NULL);

		if (n <= 0)
			return;
		uint64_t now = zt_now_ms();

		for (int i = 0; i < n; i++)
			udp_packet(sp, &src[i], bufs[i], m[i].msg_len, now);
		if (n < BATCH)
			return;
	}
}

static void sweep(void *arg)
{
	uint64_t now = zt_now_ms();

	(void)arg;
	if (memcmp(&st, &st_last, sizeof(st))) {
		fprintf(stderr, "zt-tunnel: udp: %u flows; dials %lu connected %lu failed %lu closed %lu; packets %lu "
				"forwarded %lu queued %lu dropped (queue full %lu, congested %lu)\n",
			nflows, st.dials, st.connected, st.dial_failed, st.closed, st.pkts, st.fwd, st.queued, st.q_drop,
			st.cong_drop);
		st_last = st;
	}
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
	struct spec *sp = u;
	struct sockaddr_in a = lo_addr(sp->port);

	(void)l;
	if (sp->udp) {
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

static void write_ready(void)
{
	FILE *f;

	if (opt.ready_file && (f = fopen(opt.ready_file, "w"))) {
		fputs("ready\n", f);
		fclose(f);
	}
}

static void h_on_status(struct zt_listener *l, int err, const char *msg, void *u)
{
	struct spec *sp = u;

	(void)l;
	fprintf(stderr, "zt-tunnel: host %s: %s%s\n", sp->service, err ? "error: " : "", msg);
	if (!err && !sp->established) {
		sp->established = true;
		if (++nready == nspecs)
			write_ready();
	}
}

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
	for (unsigned i = 0; i < nspecs; i++) {
		struct spec *sp = &specs[i];

		if (!strcmp(opt.cmd, "host")) {
			struct zt_listen_opts o = { .datagram = sp->udp };
			struct zt_listener_cbs cbs = { .on_status = h_on_status, .on_dial = h_on_dial };

			sp->l = zt_listen(ctx, sp->service, &o, &cbs, sp);
			if (!sp->l) {
				fprintf(stderr, "zt-tunnel: cannot host %s\n", sp->service);
				exit_code = 1;
				zt_loop_stop(loop);
				return;
			}
			continue;
		}
		/* proxy */
		struct sockaddr_in a = lo_addr(sp->port);
		int one = 1;

		sp->fd = socket(AF_INET, (sp->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (sp->fd < 0)
			die("socket");
		setsockopt(sp->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(sp->fd, (struct sockaddr *)&a, sizeof(a)) || (!sp->udp && listen(sp->fd, 512)))
			die("bind/listen");
		if (sp->udp) {
			int sz = 8 << 20;

			if (setsockopt(sp->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
				setsockopt(sp->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
			zt_io_init(&sp->io, sp->fd, udp_read, sp);
			if (!zt_timer_armed(&sweep_timer))
				zt_timer_start(loop, &sweep_timer, 5000);
		} else {
			zt_io_init(&sp->io, sp->fd, tcp_accept, sp);
		}
		zt_io_set(loop, &sp->io, EPOLLIN);
	}
	if (!strcmp(opt.cmd, "proxy"))
		write_ready();
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
	fprintf(stderr, "usage: zt-tunnel proxy|host -i IDENTITY.json [--ready-file F] SERVICE:PORT[:udp]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "identity", 1, 0, 'i' }, { "ready-file", 1, 0, 'r' }, { 0, 0, 0, 0 },
	};
	int ch;

	if (argc < 2)
		usage();
	opt.cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "i:", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': opt.identity = optarg; break;
		case 'r': opt.ready_file = optarg; break;
		default: usage();
		}
	}
	if ((strcmp(opt.cmd, "proxy") && strcmp(opt.cmd, "host")) || !opt.identity || optind >= argc)
		usage();
	for (int i = optind; i < argc; i++) {
		char *a = strdup(argv[i]), *c1 = strchr(a, ':'), *c2;
		struct spec *sp = &specs[nspecs];

		if (nspecs == MAX_SPECS || !c1)
			usage();
		*c1++ = 0;
		c2 = strchr(c1, ':');
		if (c2) {
			*c2++ = 0;
			if (strcmp(c2, "udp") && strcmp(c2, "tcp"))
				usage();
			sp->udp = !strcmp(c2, "udp");
		}
		sp->service = a;
		sp->port = (unsigned)strtoul(c1, NULL, 10);
		sp->fd = -1;
		if (!sp->port || sp->port > 65535)
			usage();
		nspecs++;
	}
	zt_timer_init(&sweep_timer, sweep, NULL);
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
	/* for bench/ziti/run.sh: how long stream data waited for the router to read it */
	struct zt_router_info ri;

	for (size_t i = 0; zt_ctx_router_at(ctx, i, &ri); i++)
		fprintf(stderr, "zt-tunnel: router %s: stream_held=%llu held_ms=%llu reprobes=%llu\n", ri.name,
			(unsigned long long)ri.stream_held, (unsigned long long)(ri.stream_held_us / 1000),
			(unsigned long long)ri.mark_retries);
	for (unsigned i = 0; i < nspecs; i++)
		if (specs[i].l)
			zt_listener_close(specs[i].l);
	zt_ctx_free(ctx);
	return exit_code;
}
