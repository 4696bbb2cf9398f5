// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld intercept side: the transparent sockets registered with sipovl.ko, the service an
 * intercepted tuple matched, and the dial of a new intercepted flow.
 */
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

#include "daemon/dns_server.h"
#include "daemon/flows_int.h"

/*
 * The intercept sockets, per family (0: IPv4, 1: IPv6) and worker: D.n_workers of each protocol
 * join the family's kernel socket group (sipovl.ko spreads new flows over them by a flow hash).
 * The primary opens them all and serves set 0; set w goes to worker process w (workers.c), the
 * primary keeping its copy so that the group member outlives the worker. A worker serves its
 * set as its set 0 (flows_adopt).
 */
#define MAX_WORKERS 64
static struct zt_io tcp_io[2][MAX_WORKERS], udp_io[2][MAX_WORKERS];
static int tcp_fd[2][MAX_WORKERS], udp_fd[2][MAX_WORKERS];
static unsigned n_main[2];

/* ------------------------------------------------------------------ intercept side */

int flow_set_transparent(int fd, int family)
{
	int one = 1;

	if (family == AF_INET)
		return setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
	return setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one));
}

/* Which service's intercept a tuple matched (kernel LOOKUP). */
struct svc *flow_match(int proto, const struct sockaddr_storage *src, const struct sockaddr_storage *dst)
{
	struct sipovl_tuple t = { .family = src->ss_family, .protocol = (uint8_t)proto, .has_sport = true };
	char name[SIPOVL_NAME_MAXLEN];
	uint32_t id = 0;
	size_t al = src->ss_family == AF_INET ? 4 : 16;

	memcpy(t.src, cfg_sa_addr(src), al);
	memcpy(t.dst, cfg_sa_addr(dst), al);
	t.sport = cfg_sa_port(src);
	t.dport = cfg_sa_port(dst);
	if (!D.nl || sipovl_lookup(D.nl, &t, &id, name))
		return NULL;
	if (D.worker) /* the kernel's ids are the primary's */
		return svc_by_kname(name);
	struct svc *s = svc_by_kid(id);

	return s && !strcmp(s->kname, name) ? s : NULL;
}

void flow_fail_dial(struct flow *f)
{
	if (f->type == F_ITCP)
		tcp_rst(f);
	flow_close(f, L_WARN, "cannot dial");
}

/*
 * Dial the service for a new intercepted flow. A worker's flow of a service with hostname
 * intercepts first asks the primary for its address's name (worker_names.c), which dials it.
 */
int flow_dial(struct flow *f, const char *proto)
{
	struct svc *s = f->svc;
	struct app_data ad;
	char identity[256], unknown[64], json[1024], d[200];
	struct tpl_vars iv = ident_tpl(s->id);
	const char *host = NULL;
	int jl;

	if (worker_name_needed(f))
		return worker_name_ask(f, proto);
	if (s->icpt.n_skipped)
		host = D.worker ? f->hostname : dns_hostname_of(&f->b);
	if (icpt_dial_params_host(&s->icpt, proto, &f->a, &f->b, host, &iv, &ad, identity, sizeof(identity), unknown,
				  sizeof(unknown))) {
		logm(L_WARN, "service %s: dialOptions.identity or sourceIp expands beyond its limit", s->name);
		return -1;
	}
	if (unknown[0]) { /* a tag or appData key our identity lacks: a wrong source is worse than none */
		uint64_t now = zt_now_ms();

		if (!s->tpl_warned_ms || now - s->tpl_warned_ms >= 10000) {
			s->tpl_warned_ms = now;
			logm(L_WARN, "service %s: sourceIp/dialOptions.identity: template variable %s has no value for "
			     "identity %s; flows are not dialed", s->name, unknown, s->id->name ? s->id->name : "?");
		}
		return -1;
	}
	jl = app_data_build(&ad, json, sizeof(json));
	if (jl < 0)
		return -1;
	struct zt_dial_opts o = {
		.terminator_identity = identity[0] ? identity : NULL,
		.app_data = json,
		.app_data_len = (size_t)jl,
		.datagram = f->type == F_IUDP,
		.lossy = f->type == F_IUDP, /* RTP: its own queue, before stream data */
		/* attempts numbered: a hosting sipovld refuses one given up that arrives late */
		.attempt_key = "sipovl_dial",
	};

	f->zc = zt_dial(s->id->ctx, s->name, &o, &flow_cbs, f);
	if (!f->zc)
		return -1;
	s->dials++;
	zt_timer_start(D.loop, &f->timer, s->icpt.connect_timeout_ms);
	logm(L_DEBUG, "flow %s: dialing%s%s app_data=%s", flow_desc(f, d, sizeof(d)), identity[0] ? " terminator " : "",
	     identity, json);
	return 0;
}

static void tcp_accept(int lfd)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage src, dst;
		socklen_t sl = sizeof(src), dl = sizeof(dst);
		int fd = accept4(lfd, (struct sockaddr *)&src, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		char x[64], y[64];

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				logm(L_WARN, "accept: %s", strerror(errno));
			return;
		}
		if (getsockname(fd, (struct sockaddr *)&dst, &dl)) {
			close(fd);
			continue;
		}
		struct svc *s = flow_match(IPPROTO_TCP, &src, &dst);
		struct linger lg = { 1, 0 };

		if (!s || !s->has_icpt) {
			D.c.unmatched++;
			logm(L_NOTICE, "tcp %s -> %s: no service for this intercept (any more); reset",
			     cfg_fmt_sa(&src, x, sizeof(x)), cfg_fmt_sa(&dst, y, sizeof(y)));
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			continue;
		}
		struct flow *f = flow_new(F_ITCP, s, fd);

		if (!f) {
			if (mem_log_now())
				logm(L_WARN, "tcp %s -> %s (%s): memory limit reached (%llu of %llu bytes, mem_limit_hits %llu); reset",
				     cfg_fmt_sa(&src, x, sizeof(x)), cfg_fmt_sa(&dst, y, sizeof(y)), s->name,
				     (unsigned long long)D.mem_used, (unsigned long long)D.cfg.memory_limit,
				     (unsigned long long)D.c.mem_limit_hits);
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			continue;
		}
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		tcp_keepalive(fd);
		f->a = src;
		f->b = dst;
		f->sock_up = true; /* connected; nothing is read before the dial completes */
		D.c.tcp_intercepted++;
		if (flow_dial(f, "tcp")) {
			flow_fail_dial(f);
			continue;
		}
		flow_io(f);
	}
}

static void main_io_cb(void *arg, uint32_t ev)
{
	intptr_t a = (intptr_t)arg, k = a & 3, w = a >> 2; /* k 0/1: tcp v4/v6, 2/3: udp v4/v6 */

	(void)ev;
	if (k < 2)
		tcp_accept(tcp_fd[k][w]);
	else
		udp_main_read(udp_fd[k - 2][w], k == 2 ? AF_INET : AF_INET6);
}

static void serve(int i, unsigned w)
{
	zt_io_init(&tcp_io[i][w], tcp_fd[i][w], main_io_cb, (void *)(intptr_t)(i | (intptr_t)w << 2));
	zt_io_init(&udp_io[i][w], udp_fd[i][w], main_io_cb, (void *)(intptr_t)((i + 2) | (intptr_t)w << 2));
	zt_io_set(D.loop, &tcp_io[i][w], EPOLLIN);
	zt_io_set(D.loop, &udp_io[i][w], EPOLLIN);
}

static int open_main(int family, int type)
{
	struct sockaddr_storage a = { 0 };
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	a.ss_family = (sa_family_t)family;
	if (flow_set_transparent(fd, family) || (family == AF_INET6 &&
					    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))))
		goto fail;
	if (type == SOCK_DGRAM &&
	    (family == AF_INET ? setsockopt(fd, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one)) :
				 setsockopt(fd, SOL_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one))))
		goto fail;
	if (bind(fd, (struct sockaddr *)&a, cfg_sa_len(&a)) || (type == SOCK_STREAM && listen(fd, 4096)))
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static void close_main(int i, unsigned w, bool in_loop)
{
	if (in_loop) {
		zt_io_del(D.loop, &tcp_io[i][w]);
		zt_io_del(D.loop, &udp_io[i][w]);
	}
	if (tcp_fd[i][w] >= 0)
		close(tcp_fd[i][w]);
	if (udp_fd[i][w] >= 0)
		close(udp_fd[i][w]);
	tcp_fd[i][w] = udp_fd[i][w] = -1;
}

/*
 * Open and register one worker's intercept sockets of a family: worker 0 registers (replacing
 * the registrations of any earlier sipovld), the others join the group. 1: the module has no
 * socket groups (it refused the join), 0 done, -1 failed.
 */
static int open_worker(int i, unsigned w)
{
	int fam = i ? AF_INET6 : AF_INET;
	const struct sipovl_err *e;

	tcp_fd[i][w] = open_main(fam, SOCK_STREAM);
	udp_fd[i][w] = open_main(fam, SOCK_DGRAM);
	if (tcp_fd[i][w] < 0 || udp_fd[i][w] < 0) {
		logm(i ? L_WARN : L_ERR, "cannot open the %s intercept sockets: %s", i ? "IPv6" : "IPv4",
		     strerror(errno));
		goto fail;
	}
	if (!w ? !sipovl_socket_register(D.nl, tcp_fd[i][w]) && !sipovl_socket_register(D.nl, udp_fd[i][w]) :
		 !sipovl_socket_join(D.nl, tcp_fd[i][w]) && !sipovl_socket_join(D.nl, udp_fd[i][w])) {
		if (!w)
			serve(i, 0);
		return 0;
	}
	e = sipovl_error(D.nl);
	if (w && e->errnum == EINVAL && strstr(e->extack, "reserved bit")) {
		/* SIPOVL_F_SOCKET_JOIN refused by the flags' mask: a module without groups. */
		close_main(i, w, false);
		return 1;
	}
	logm(L_ERR, "cannot register the %s sockets with sipovl.ko: %s", i ? "IPv6" : "IPv4",
	     e->extack[0] ? e->extack : strerror(e->errnum));
fail:
	close_main(i, w, false);
	return -1;
}

/* Open and register the intercept sockets (per family; a missing IPv6 stack is only logged). */
int flows_init(void)
{
	int ok = 0;

	if (D.no_kernel)
		return 0;
	for (int i = 0; i < 2; i++) {
		unsigned w;
		int r = 0;

		for (w = 0; w < MAX_WORKERS; w++)
			tcp_fd[i][w] = udp_fd[i][w] = -1;
		for (w = 0; w < D.n_workers && w < MAX_WORKERS && !r; w++) {
			r = open_worker(i, w);
			if (r > 0 && D.cfg.workers) /* "auto" settles for one (sipovld.c) */
				logm(L_WARN, "sipovl.ko has no socket groups: one %s socket per protocol instead of %u "
				     "(the other workers carry no intercepted flow)", i ? "IPv6" : "IPv4", D.n_workers);
		}
		/* A failed join leaves the workers registered before it serving. */
		n_main[i] = r ? w - 1 : w;
		if (n_main[i])
			ok++;
	}
	return ok ? 0 : -1;
}

/* The workers that have intercept sockets registered (at least one). */
unsigned flows_members(void)
{
	unsigned n = n_main[0] > n_main[1] ? n_main[0] : n_main[1];

	return n ? n : 1;
}

/* Worker w's intercept sockets (tcp4, udp4, tcp6, udp6; -1: none), for workers.c. */
int flows_worker_fds(unsigned w, int fds[4])
{
	for (int i = 0; i < 2; i++) {
		bool have = w < n_main[i];

		fds[2 * i] = have ? tcp_fd[i][w] : -1;
		fds[2 * i + 1] = have ? udp_fd[i][w] : -1;
	}
	return 0;
}

int flows_adopt(const int fds[4])
{
	for (int i = 0; i < 2; i++) {
		tcp_fd[i][0] = fds[2 * i];
		udp_fd[i][0] = fds[2 * i + 1];
		if (tcp_fd[i][0] < 0 || udp_fd[i][0] < 0) {
			close_main(i, 0, false);
			continue;
		}
		if (fcntl(tcp_fd[i][0], F_SETFL, O_NONBLOCK | O_RDWR) || fcntl(udp_fd[i][0], F_SETFL, O_NONBLOCK | O_RDWR) ||
		    fcntl(tcp_fd[i][0], F_SETFD, FD_CLOEXEC) || fcntl(udp_fd[i][0], F_SETFD, FD_CLOEXEC))
			return -1;
		serve(i, 0);
		n_main[i] = 1;
	}
	return 0;
}

void flows_fini(void)
{
	hres_cancel(NULL, "sipovld stopping");
	while (D.flows)
		flow_close(D.flows, L_DEBUG, "sipovld stopping");
	for (int i = 0; i < 2; i++) {
		while (n_main[i]) {
			n_main[i]--;
			close_main(i, n_main[i], !n_main[i]); /* only set 0 is in this loop */
		}
	}
	udp_table_free();
	xpair_free();
}
