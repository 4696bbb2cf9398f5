// SPDX-License-Identifier: GPL-2.0
/*
 * sockreg: registers one transparent socket with sipovl.ko through libsipovl,
 * the way sipovld does, and keeps it open until killed (for the selftests of
 * `sipovlctl socket`).
 *
 *   sockreg tcp|udp inet|inet6 PORT [join]
 *
 * With "join" the socket joins the group of its family and protocol instead
 * of replacing it.
 * Prints "registered inode N" (the socket's inode, as the kernel reports it)
 * once the kernel accepted it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ctl/libsipovl.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	const struct sipovl_err *e;
	struct sipovl_nl *nl;
	struct sipovl_err oe;
	struct stat st;
	int fd, one = 1, tcp, v6, port;

	if ((argc != 4 && argc != 5) || (argc == 5 && strcmp(argv[4], "join"))) {
		fprintf(stderr, "usage: sockreg tcp|udp inet|inet6 PORT [join]\n");
		return 2;
	}
	tcp = !strcmp(argv[1], "tcp");
	v6 = !strcmp(argv[2], "inet6");
	port = atoi(argv[3]);
	fd = socket(v6 ? AF_INET6 : AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0 ||
	    setsockopt(fd, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT,
		       &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		perror("sockreg: socket");
		return 1;
	}
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		s6->sin6_addr = in6addr_loopback;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	if (bind(fd, (struct sockaddr *)&ss, sizeof(ss)) < 0 ||
	    (tcp && listen(fd, 16) < 0)) {
		perror("sockreg: bind");
		return 1;
	}
	if (sipovl_open(&nl, &oe)) {
		fprintf(stderr, "sockreg: open: %s\n", strerror(oe.errnum));
		return 1;
	}
	if (argc == 5 ? sipovl_socket_join(nl, fd) : sipovl_socket_register(nl, fd)) {
		e = sipovl_error(nl);
		fprintf(stderr, "sockreg: register: %s (%s)\n", e->extack,
			strerror(e->errnum));
		return 1;
	}
	if (fstat(fd, &st) < 0) {
		perror("sockreg: fstat");
		return 1;
	}
	printf("registered inode %llu\n", (unsigned long long)st.st_ino);
	fflush(stdout);
	for (;;)
		pause();
}
