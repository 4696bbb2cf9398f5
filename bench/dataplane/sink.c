// SPDX-License-Identifier: GPL-2.0
/*
 * dp-sink: the data-plane benchmark's receiver.
 *
 *   dp-sink --port P [--tcp-port P2] [--register] [--ctl PATH]
 *
 * A transparent (IP_TRANSPARENT) UDP socket and TCP listener on 0.0.0.0:P.
 * With --register both are registered with sipovl.ko as the daemon's sockets
 * (libsipovl, as sipovld does); without it they serve iptables/nft TPROXY
 * (--on-port P), or, not transparent at all, a plain local receiver for the
 * baseline (--tcp-port: the TCP listener's port, default P). One thread: drains UDP datagrams with recvmmsg and accepts
 * (and closes at once) TCP connections, counting both.
 *
 * Prints "ready" once set up. On SIGUSR1 prints one line
 *   udp <datagrams> <bytes> tcp <connections> rcvbuf_errors <n>
 * with the totals so far (the last: Udp RcvbufErrors of its network
 * namespace, datagrams dropped on full socket buffers); --ctl PATH also
 * answers that line to every connection on the UNIX socket PATH (reachable
 * from any network namespace: dp-load bench reads it). SIGTERM / SIGINT end it.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/libsipovl.h"

#define BATCH 64
#define DGRAM_MAX 2048

static void die(const char *what)
{
	fprintf(stderr, "dp-sink: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int transparent_socket(int type, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, type | SOCK_NONBLOCK, 0);

	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)))
		die("IP_TRANSPARENT");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("bind");
	return fd;
}

/* Udp RcvbufErrors of this process's network namespace. */
static unsigned long long rcvbuf_errors(void)
{
	char hdr[1024], val[1024];
	unsigned long long v = 0;
	FILE *f = fopen("/proc/self/net/snmp", "r");

	if (!f)
		return 0;
	while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
		char *hs, *vs, *h, *x;

		if (strncmp(hdr, "Udp: ", 5))
			continue;
		h = strtok_r(hdr, " \n", &hs);
		x = strtok_r(val, " \n", &vs);
		while (h && x) {
			if (!strcmp(h, "RcvbufErrors"))
				v = strtoull(x, NULL, 10);
			h = strtok_r(NULL, " \n", &hs);
			x = strtok_r(NULL, " \n", &vs);
		}
		break;
	}
	fclose(f);
	return v;
}

static int ctl_socket(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
		die("ctl socket");
	strcpy(a.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16))
		die("ctl bind");
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "register", no_argument, NULL, 'r' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "tcp-port", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	static char bufs[BATCH][DGRAM_MAX];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	unsigned long long udp_n = 0, udp_bytes = 0, tcp_n = 0;
	const char *ctl = NULL;
	bool reg = false;
	int port = 0, tport = 0, c, u, t, sfd, ep, cfd = -1, rcvbuf = 16 << 20;
	char line[160];
	sigset_t ss;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'r': reg = true; break;
		case 'c': ctl = optarg; break;
		case 't': tport = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!tport)
		tport = port;
	if (port <= 0 || port > 65535 || tport <= 0 || tport > 65535) {
		fprintf(stderr, "usage: dp-sink --port P [--tcp-port P2] [--register] [--ctl PATH]\n");
		return 2;
	}

	u = transparent_socket(SOCK_DGRAM, port);
	if (setsockopt(u, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(u, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	t = transparent_socket(SOCK_STREAM, tport);
	if (listen(t, 4096))
		die("listen");
	if (reg) {
		struct sipovl_nl *nl;
		struct sipovl_err err;

		if (sipovl_open(&nl, &err)) {
			fprintf(stderr, "dp-sink: netlink: %s\n",
				err.extack[0] ? err.extack : strerror(err.errnum));
			return 1;
		}
		if (sipovl_socket_register(nl, t) || sipovl_socket_register(nl, u)) {
			const struct sipovl_err *e = sipovl_error(nl);

			fprintf(stderr, "dp-sink: register: %s\n",
				e->extack[0] ? e->extack : strerror(e->errnum));
			return 1;
		}
		/* The registrations outlive the netlink socket. */
		sipovl_close(nl);
	}

	sigemptyset(&ss);
	sigaddset(&ss, SIGUSR1);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sfd = signalfd(-1, &ss, SFD_NONBLOCK);
	ep = epoll_create1(0);
	if (sfd < 0 || ep < 0)
		die("signalfd/epoll");
	if (ctl)
		cfd = ctl_socket(ctl);
	int fds[4] = { u, t, sfd, cfd };
	for (int i = 0; i < (ctl ? 4 : 3); i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev))
			die("epoll_ctl");
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], DGRAM_MAX };
		msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	printf("ready\n");
	fflush(stdout);

	for (;;) {
		struct epoll_event evs[4];
		int n = epoll_wait(ep, evs, 4, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == u) {
				int r;

				while ((r = recvmmsg(u, msgs, BATCH, MSG_DONTWAIT, NULL)) > 0) {
					udp_n += r;
					for (int j = 0; j < r; j++)
						udp_bytes += msgs[j].msg_len;
				}
			} else if (fd == t) {
				int cfd;

				while ((cfd = accept4(t, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					tcp_n++;
					close(cfd);
				}
			} else if (fd == cfd) {
				int q;

				while ((q = accept4(cfd, NULL, NULL, 0)) >= 0) {
					int len = snprintf(line, sizeof(line),
							   "udp %llu %llu tcp %llu rcvbuf_errors %llu\n",
							   udp_n, udp_bytes, tcp_n, rcvbuf_errors());
					if (write(q, line, len) != len)
						perror("dp-sink: ctl write");
					close(q);
				}
			} else {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo != SIGUSR1) {
						if (ctl)
							unlink(ctl);
						return 0;
					}
					printf("udp %llu %llu tcp %llu rcvbuf_errors %llu\n",
					       udp_n, udp_bytes, tcp_n, rcvbuf_errors());
					fflush(stdout);
				}
			}
		}
	}
}
