// SPDX-License-Identifier: GPL-2.0
/*
 * peer: the selftests' traffic tool for sipovl.ko.
 *
 *   peer listen -4|-6 --port P [--no-register]
 *	Transparent TCP listener and UDP socket on the wildcard address, port P,
 *	registered with sipovl.ko. Prints "ready". Every TCP connection gets one
 *	reply line "TCP <peer> <origdst> <line>"; every UDP datagram gets
 *	"UDP <peer> <origdst> <payload>" sent from the original destination
 *	(except "blast N" datagrams, which are only logged).
 *	--sources PREFIX sets the transparent source ranges first.
 *	--backlog N sets the TCP listen backlog (default 128).
 *   peer originate --tcp|--udp --src ADDR:PORT --dst ADDR:PORT --msg TEXT
 *	Transparent socket bound to a (foreign) source; sends TEXT, prints the
 *	reply. Exit 0 on a reply, 1 on timeout or error.
 *   peer echo --tcp|--udp --bind ADDR:PORT
 *	Plain server: replies "ECHO <peer> <msg>" (the source it saw).
 *   peer send --tcp|--udp --dst ADDR:PORT --msg TEXT [--src ADDR] [--retransmit]
 *	Plain client: sends TEXT, prints the reply. --retransmit (UDP): sends
 *	TEXT again while no reply came, as a SIP UA does over UDP (RFC 3261
 *	timer E: after 500 ms, doubling to 4 s), until --timeout.
 *   peer blast --udp --dst ADDR:PORT --count N [--gap-us U]
 *	Sends N numbered datagrams from one socket, U microseconds apart
 *	(default 200), without waiting for replies. --count 0: forever.
 *
 * ADDR:PORT is a.b.c.d:p or [v6]:p, [v6%IFNAME]:p for a scoped (link-local)
 * address. --timeout S (default 3) bounds waits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl/libsipovl.h"

static int timeout_ms = 3000;
static bool retransmit;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "peer: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(1);
}

static void parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *port;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof(host))
			die("bad address \"%s\"", s);
		memcpy(host, s + 1, e - s - 1);
		host[e - s - 1] = 0;
		port = e + 2;
	} else {
		const char *c = strrchr(s, ':');
		if (!c || (size_t)(c - s) >= sizeof(host))
			die("bad address \"%s\"", s);
		memcpy(host, s, c - s);
		host[c - s] = 0;
		port = c + 1;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	char *scope = strchr(host, '%');
	if (scope) {
		*scope++ = 0;
		a6->sin6_scope_id = if_nametoindex(scope);
		if (!a6->sin6_scope_id)
			die("bad scope in \"%s\"", s);
	}
	if (!scope && inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(atoi(port));
		*len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(atoi(port));
		*len = sizeof(*a6);
	} else {
		die("bad address \"%s\"", s);
	}
}

static const char *fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t n)
{
	char h[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
		snprintf(buf, n, "%s:%u", h, ntohs(a->sin_port));
	} else {
		const struct sockaddr_in6 *a = (const void *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
		snprintf(buf, n, "[%s]:%u", h, ntohs(a->sin6_port));
	}
	return buf;
}

static void set_transparent(int fd, int family)
{
	int one = 1;
	if (family == AF_INET) {
		if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)))
			die("IP_TRANSPARENT: %s", strerror(errno));
	} else {
		if (setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)))
			die("IPV6_TRANSPARENT: %s", strerror(errno));
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, timeout_ms) == 1;
}

/* Send @msg on a connected socket and print the reply. */
static int exchange(int fd, const char *msg, bool tcp)
{
	char buf[2048];
	ssize_t n;
	size_t len = strlen(msg);
	if (send(fd, msg, len, 0) != (ssize_t)len) {
		fprintf(stderr, "peer: send: %s\n", strerror(errno));
		return 1;
	}
	if (tcp)
		shutdown(fd, SHUT_WR);
	if (retransmit && !tcp) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = timeout_ms, wait = 500, sends = 1;

		for (;;) {
			int step = wait < left ? wait : left, err;
			socklen_t el = sizeof(err);
			uint64_t t0 = now_ms(), el_ms;

			if (poll(&p, 1, step) == 1 && (p.revents & POLLIN))
				break;
			/* an ICMP error (nothing listening yet) is no answer: sent again, as by a UA */
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			el_ms = now_ms() - t0;
			if (el_ms < (uint64_t)step && poll(&p, 1, (int)((uint64_t)step - el_ms)) == 1 && (p.revents & POLLIN))
				break;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			left -= step;
			if (left <= 0) {
				fprintf(stderr, "peer: no reply within %d ms (sent %d times)\n", timeout_ms, sends);
				return 1;
			}
			if (send(fd, msg, len, 0) == (ssize_t)len)
				sends++;
			wait = wait * 2 < 4000 ? wait * 2 : 4000;
		}
		if (sends > 1)
			fprintf(stderr, "peer: a reply after %d sends\n", sends);
		if (p.revents & POLLERR) { /* an ICMP error besides the reply: recv() would say it first */
			int err;
			socklen_t el = sizeof(err);

			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
		}
	} else if (!wait_in(fd)) {
		fprintf(stderr, "peer: no reply within %d ms\n", timeout_ms);
		return 1;
	}
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0) {
		fprintf(stderr, "peer: recv: %s\n", n ? strerror(errno) : "connection closed");
		return 1;
	}
	buf[n] = 0;
	fputs(buf, stdout);
	if (n && buf[n - 1] != '\n')
		fputc('\n', stdout);
	return 0;
}

static int connect_wait(int fd, const struct sockaddr_storage *dst, socklen_t len)
{
	if (connect(fd, (const struct sockaddr *)dst, len) == 0)
		return 0;
	fprintf(stderr, "peer: connect: %s\n", strerror(errno));
	return 1;
}

static int cmd_client(bool tcp, const char *src, const char *dst, const char *msg,
		      bool transparent)
{
	struct sockaddr_storage d, s;
	socklen_t dl, sl;
	int fd;

	parse_addr(dst, &d, &dl);
	fd = socket(d.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (transparent)
		set_transparent(fd, d.ss_family);
	if (src) {
		parse_addr(src, &s, &sl);
		if (bind(fd, (struct sockaddr *)&s, sl))
			die("bind: %s", strerror(errno));
	}
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect_wait(fd, &d, dl))
		return 1;
	return exchange(fd, msg, tcp);
}

static void serve_tcp_conn(int c, const char *tag)
{
	struct sockaddr_storage peer, orig;
	socklen_t pl = sizeof(peer), ol = sizeof(orig);
	char pb[80], ob[80], buf[1024], out[1300];
	ssize_t n = 0, r;

	getpeername(c, (struct sockaddr *)&peer, &pl);
	getsockname(c, (struct sockaddr *)&orig, &ol);
	while (wait_in(c) && (r = recv(c, buf + n, sizeof(buf) - 1 - n, 0)) > 0) {
		n += r;
		if (memchr(buf, '\n', n) || n == (ssize_t)sizeof(buf) - 1)
			break;
	}
	buf[n > 0 ? n : 0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (!strcmp(tag, "ECHO"))
		snprintf(out, sizeof(out), "ECHO %s %s\n", fmt_addr(&peer, pb, sizeof(pb)), buf);
	else
		snprintf(out, sizeof(out), "TCP %s %s %s\n", fmt_addr(&peer, pb, sizeof(pb)),
			 fmt_addr(&orig, ob, sizeof(ob)), buf);
	if (send(c, out, strlen(out), MSG_NOSIGNAL) < 0)
		perror("peer: send");
	fprintf(stderr, "%s", out);
	close(c);
}

static __attribute__((noreturn)) void cmd_listen(int family, int port, bool reg, const char *sources,
						 int backlog)
{
	struct sockaddr_storage a = {};
	socklen_t al;
	int one = 1, t, u;
	struct sipovl_nl *nl = NULL;
	struct sipovl_err err;

	if (family == AF_INET) {
		struct sockaddr_in *s = (void *)&a;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		al = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (void *)&a;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		al = sizeof(*s);
	}
	t = socket(family, SOCK_STREAM, 0);
	u = socket(family, SOCK_DGRAM, 0);
	if (t < 0 || u < 0)
		die("socket: %s", strerror(errno));
	set_transparent(t, family);
	set_transparent(u, family);
	if (family == AF_INET6) {
		setsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		setsockopt(u, SOL_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one));
	} else {
		setsockopt(u, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one));
	}
	if (bind(t, (struct sockaddr *)&a, al) || listen(t, backlog) ||
	    bind(u, (struct sockaddr *)&a, al))
		die("bind/listen: %s", strerror(errno));
	if (reg || sources) {
		if (sipovl_open(&nl, &err))
			die("netlink: %s", err.extack[0] ? err.extack : strerror(err.errnum));
	}
	if (sources) {
		struct sipovl_prefix p = {};
		char buf[64];
		snprintf(buf, sizeof(buf), "%s", sources);
		char *sl = strchr(buf, '/');
		if (!sl)
			die("bad prefix \"%s\"", sources);
		*sl = 0;
		p.len = atoi(sl + 1);
		p.family = strchr(buf, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(p.family, buf, p.addr) != 1)
			die("bad prefix \"%s\"", sources);
		if (sipovl_sources_set(nl, &p, 1))
			die("sources: %s", sipovl_error(nl)->extack);
	}
	if (reg && (sipovl_socket_register(nl, t) || sipovl_socket_register(nl, u)))
		die("register: %s", sipovl_error(nl)->extack[0] ?
		    sipovl_error(nl)->extack : strerror(sipovl_error(nl)->errnum));
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		struct pollfd p[2] = { { .fd = t, .events = POLLIN }, { .fd = u, .events = POLLIN } };
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[0].revents & POLLIN) {
			int c = accept(t, NULL, NULL);
			if (c >= 0)
				serve_tcp_conn(c, "TCP");
		}
		if (p[1].revents & POLLIN) {
			char buf[1024], cbuf[256], pb[80], ob[80], out[1300];
			struct sockaddr_storage peer = {}, orig = {};
			struct iovec iov = { buf, sizeof(buf) - 1 };
			struct msghdr mh = { .msg_name = &peer, .msg_namelen = sizeof(peer),
					     .msg_iov = &iov, .msg_iovlen = 1,
					     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
			ssize_t n = recvmsg(u, &mh, 0);
			if (n < 0)
				continue;
			buf[n] = 0;
			buf[strcspn(buf, "\n")] = 0;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
				if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR) ||
				    (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR))
					memcpy(&orig, CMSG_DATA(c), c->cmsg_len - CMSG_LEN(0) < sizeof(orig) ?
					       c->cmsg_len - CMSG_LEN(0) : sizeof(orig));
			}
			snprintf(out, sizeof(out), "UDP %s %s %s\n", fmt_addr(&peer, pb, sizeof(pb)),
				 fmt_addr(&orig, ob, sizeof(ob)), buf);
			fprintf(stderr, "%s", out);
			/*
			 * Reply from the original destination, through a socket
			 * connected to the peer (which would also take the
			 * flow's next datagrams while it exists: not for blasts).
			 */
			if (!strncmp(buf, "blast ", 6))
				continue;
			int r = socket(family, SOCK_DGRAM, 0);
			set_transparent(r, family);
			if (bind(r, (struct sockaddr *)&orig, al) ||
			    connect(r, (struct sockaddr *)&peer, mh.msg_namelen) ||
			    send(r, out, strlen(out), 0) < 0)
				perror("peer: udp reply");
			close(r);
		}
	}
}

static int cmd_blast(const char *dst, long count, long gap_us)
{
	struct sockaddr_storage d;
	socklen_t dl;
	char buf[64];
	long i;
	int fd;

	parse_addr(dst, &d, &dl);
	fd = socket(d.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&d, dl))
		die("blast: %s", strerror(errno));
	for (i = 0; !count || i < count; i++) {
		int len = snprintf(buf, sizeof(buf), "blast %ld", i);

		/* ECONNREFUSED from an ICMP error of the previous one: keep going. */
		if (send(fd, buf, len, 0) < 0 && errno != ECONNREFUSED)
			die("blast send: %s", strerror(errno));
		if (gap_us)
			usleep(gap_us);
	}
	return 0;
}

static __attribute__((noreturn)) void cmd_echo(bool tcp, const char *bindaddr)
{
	struct sockaddr_storage a;
	socklen_t al;
	int one = 1, fd;

	parse_addr(bindaddr, &a, &al);
	fd = socket(a.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, al) || (tcp && listen(fd, 128)))
		die("echo bind: %s", strerror(errno));
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (tcp) {
			int c = accept(fd, NULL, NULL);
			if (c >= 0)
				serve_tcp_conn(c, "ECHO");
			continue;
		}
		char buf[1024], pb[80], out[1200];
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&peer, &pl);
		if (n < 0)
			continue;
		buf[n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		snprintf(out, sizeof(out), "ECHO %s %s\n", fmt_addr(&peer, pb, sizeof(pb)), buf);
		fprintf(stderr, "%s", out);
		sendto(fd, out, strlen(out), 0, (struct sockaddr *)&peer, pl);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tcp", no_argument, NULL, 't' }, { "udp", no_argument, NULL, 'u' },
		{ "port", required_argument, NULL, 'p' }, { "src", required_argument, NULL, 's' },
		{ "dst", required_argument, NULL, 'd' }, { "msg", required_argument, NULL, 'm' },
		{ "bind", required_argument, NULL, 'b' }, { "timeout", required_argument, NULL, 'T' },
		{ "no-register", no_argument, NULL, 'N' }, { "sources", required_argument, NULL, 'S' },
		{ "count", required_argument, NULL, 'c' }, { "gap-us", required_argument, NULL, 'g' },
		{ "backlog", required_argument, NULL, 'B' }, { "retransmit", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	const char *src = NULL, *dst = NULL, *msg = "hello", *bindaddr = NULL, *sources = NULL;
	bool tcp = false, udp = false, reg = true;
	int family = AF_INET, port = 0, backlog = 128, c;
	long count = 1, gap_us = 200;

	if (argc < 2)
		die("usage: peer listen|originate|echo|send ...%s", "");
	signal(SIGPIPE, SIG_IGN);
	optind = 2;
	while ((c = getopt_long(argc, argv, "46", opts, NULL)) != -1) {
		switch (c) {
		case '4': family = AF_INET; break;
		case '6': family = AF_INET6; break;
		case 't': tcp = true; break;
		case 'u': udp = true; break;
		case 'p': port = atoi(optarg); break;
		case 's': src = optarg; break;
		case 'd': dst = optarg; break;
		case 'm': msg = optarg; break;
		case 'b': bindaddr = optarg; break;
		case 'T': timeout_ms = atoi(optarg) * 1000; break;
		case 'N': reg = false; break;
		case 'S': sources = optarg; break;
		case 'c': count = atol(optarg); break;
		case 'g': gap_us = atol(optarg); break;
		case 'B': backlog = atoi(optarg); break;
		case 'R': retransmit = true; break;
		default: exit(2);
		}
	}
	if (!strcmp(argv[1], "listen"))
		cmd_listen(family, port, reg, sources, backlog);
	if (tcp == udp)
		die("need exactly one of --tcp, --udp%s", "");
	if (!strcmp(argv[1], "originate") && src && dst)
		return cmd_client(tcp, src, dst, msg, true);
	if (!strcmp(argv[1], "send") && dst)
		return cmd_client(tcp, src, dst, msg, false);
	if (!strcmp(argv[1], "blast") && udp && dst)
		return cmd_blast(dst, count, gap_us);
	if (!strcmp(argv[1], "echo") && bindaddr)
		cmd_echo(tcp, bindaddr);
	die("bad command line for \"%s\"", argv[1]);
	return 2;
}
