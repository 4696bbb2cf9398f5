// SPDX-License-Identifier: GPL-2.0
/*
 * zt-relay: the ceiling of the host-level packet benchmark (bench/ziti/hostpps.sh, issue 16):
 * a minimal relay that does, per datagram, the work the overlay requires of a tunneler, with
 * nothing else and with batched system calls: end-to-end encryption per datagram (libsodium
 * secretstream XChaCha20-Poly1305, as Ziti's end-to-end encryption) and TLS to the peer
 * (OpenSSL, TLS 1.3, the cipher suite the Ziti router negotiates with sipovld), framed with
 * an 8-byte header, written once per event-loop iteration.
 *
 *   zt-relay dial --listen UDPPORT --to TLSPORT
 *       one UDP socket on 127.0.0.1:UDPPORT for every flow (a flow = a source port), read
 *       with recvmmsg and answered with sendmmsg; a TLS connection to 127.0.0.1:TLSPORT
 *   zt-relay host --listen TLSPORT --target UDPPORT
 *       TLS server (a throw-away self-signed P-256 certificate); each flow gets its own UDP
 *       socket connected to 127.0.0.1:UDPPORT (as a gateway originates each flow from its
 *       own socket, so that replies reach the flow), read with recvmmsg, written with send
 *
 * The host half is what the benchmark compares with sipovld's hosting side: the same job
 * (flow from Ziti: TLS read, decrypt, UDP send; flow to Ziti: UDP receive, encrypt, TLS
 * write) without a router protocol, flow state machines, metrics or anything else.
 * Keys are fixed per flow and direction (a benchmark, not a protocol). At SIGTERM it prints
 * its counters to stderr: datagrams each way, system calls by kind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HDR crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define MAX_FLOWS 65536
#define BATCH 64
#define UDP_READ_BATCH 16
#define TLS_READ_MAX (256 * 1024) /* per wakeup, as sipovld's channel */
#define OUT_CAP (8 << 20)

enum { T_SETUP = 1, T_DATA = 2 };
struct frame {
	uint8_t type, rsv;
	uint16_t len;
	uint32_t flow;
};

struct flow {
	bool used, rx_ready;
	int fd;                  /* host: the flow's connected socket */
	struct sockaddr_in peer; /* dial: the load's source */
	crypto_secretstream_xchacha20poly1305_state tx, rx;
};

static struct flow *flows;
static uint32_t nflows;
static uint32_t by_port[65536]; /* dial: source port -> flow id + 1 */
static bool is_host;
static int ep, udp_fd = -1, lsn_fd = -1, tls_fd = -1;
static SSL_CTX *sctx;
static SSL *ssl;
static uint8_t *out, *in;
static size_t out_len, in_len;
static bool want_out;
static volatile sig_atomic_t stop;
static const char *cipher = "TLS_AES_128_GCM_SHA256";
static unsigned target_port;
static unsigned long long n_up, n_down, n_dropped, c_recvmmsg, c_send, c_sendmmsg, c_ssl_read, c_ssl_write, c_wait;

enum { K_UDP = 1, K_TLS, K_LSN, K_FLOW };
#define EVD(k, id) (((uint64_t)(k) << 32) | (uint32_t)(id))

static void die(const char *what)
{
	fprintf(stderr, "zt-relay: %s: %s\n", what, errno ? strerror(errno) : "failed");
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void key_for(uint8_t key[32], uint32_t id, uint8_t dir)
{
	uint8_t m[5] = { (uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16), (uint8_t)(id >> 24), dir };

	crypto_generichash(key, 32, m, sizeof(m), (const uint8_t *)"zt-relay bench", 14);
}

static uint8_t *out_frame(uint8_t type, uint32_t id, size_t len)
{
	if (out_len + sizeof(struct frame) + len > OUT_CAP)
		return NULL; /* the peer is not reading: drop, as a full channel does */
	struct frame f = { type, 0, (uint16_t)len, id };

	memcpy(out + out_len, &f, sizeof(f));
	out_len += sizeof(f) + len;
	return out + out_len - len;
}

static void flush_out(void)
{
	size_t done = 0;

	while (done < out_len) {
		int w = SSL_write(ssl, out + done, (int)(out_len - done));

		c_ssl_write++;
		if (w <= 0) {
			int e = SSL_get_error(ssl, w);

			if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
				die("SSL_write");
			break;
		}
		done += (size_t)w;
	}
	memmove(out, out + done, out_len - done);
	out_len -= done;
	bool want = out_len > 0;

	if (want != want_out) {
		struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u64 = EVD(K_TLS, 0) };

		epoll_ctl(ep, EPOLL_CTL_MOD, tls_fd, &ev);
		want_out = want;
	}
}

static struct flow *flow_new(uint32_t id)
{
	struct flow *f = &flows[id];
	uint8_t key[32], *hdr;

	memset(f, 0, sizeof(*f));
	f->used = true;
	f->fd = -1;
	if (is_host) {
		struct sockaddr_in t = { .sin_family = AF_INET, .sin_port = htons((uint16_t)target_port) };
		int sz = 1 << 20;

		f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (f->fd < 0)
			die("flow socket");
		setsockopt(f->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		t.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(f->fd, (struct sockaddr *)&t, sizeof(t)))
			die("flow connect");
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EVD(K_FLOW, id) };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, f->fd, &ev))
			die("epoll_ctl flow");
	}
	/* our sending direction: dial -> host is 0, host -> dial 1 */
	hdr = out_frame(T_SETUP, id, SS_HDR);
	if (!hdr)
		die("no room for a flow's setup");
	key_for(key, id, is_host ? 1 : 0);
	crypto_secretstream_xchacha20poly1305_init_push(&f->tx, hdr, key);
	if (id >= nflows)
		nflows = id + 1;
	return f;
}

/* false: dropped (the output buffer is full), counted in n_dropped */
static bool seal(struct flow *f, uint32_t id, const uint8_t *m, size_t len)
{
	uint8_t *c = out_frame(T_DATA, id, len + SS_ABYTES);

	if (!c) {
		n_dropped++;
		return false;
	}
	crypto_secretstream_xchacha20poly1305_push(&f->tx, c, NULL, m, len, NULL, 0, 0);
	return true;
}

/* the dial half's UDP socket: every flow's datagrams */
static void udp_in(void)
{
	static uint8_t bufs[BATCH][2048];
	static struct sockaddr_in from[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			m[i].msg_hdr = (struct msghdr){ .msg_name = &from[i], .msg_namelen = sizeof(from[i]),
							.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(udp_fd, m, BATCH, MSG_DONTWAIT, NULL);

		c_recvmmsg++;
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			uint16_t port = ntohs(from[i].sin_port);
			uint32_t id = by_port[port];
			struct flow *f;

			if (!id) {
				if (nflows >= MAX_FLOWS)
					continue;
				id = nflows + 1;
				by_port[port] = id;
				f = flow_new(id - 1);
				f->peer = from[i];
			} else {
				f = &flows[id - 1];
			}
			if (seal(f, id - 1, bufs[i], m[i].msg_len))
				n_up++;
		}
		if (n < BATCH)
			return;
	}
}

/* a host flow's socket: the target's replies */
static void flow_in(uint32_t id)
{
	static uint8_t bufs[UDP_READ_BATCH][2048];
	struct mmsghdr m[UDP_READ_BATCH];
	struct iovec iov[UDP_READ_BATCH];
	struct flow *f = &flows[id];

	for (int i = 0; i < UDP_READ_BATCH; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	int n = recvmmsg(f->fd, m, UDP_READ_BATCH, MSG_DONTWAIT, NULL);

	c_recvmmsg++;
	for (int i = 0; i < n; i++) {
		if (seal(f, id, bufs[i], m[i].msg_len))
			n_down++;
	}
}

/* the dial half's replies, gathered for sendmmsg */
static struct mmsghdr rb_m[BATCH];
static struct iovec rb_iov[BATCH];
static uint8_t rb_buf[BATCH][2048];
static int rb_n;

static void replies_flush(void)
{
	for (int done = 0; done < rb_n;) {
		int w = sendmmsg(udp_fd, rb_m + done, (unsigned)(rb_n - done), MSG_DONTWAIT);

		c_sendmmsg++;
		if (w <= 0)
			break;
		done += w;
	}
	rb_n = 0;
}

static void deliver(uint32_t id, const uint8_t *c, size_t clen)
{
	struct flow *f = &flows[id];
	uint8_t *p = is_host ? in + TLS_READ_MAX + 64 * 1024 : rb_buf[rb_n];
	unsigned long long mlen;

	if (!f->used || !f->rx_ready || clen < SS_ABYTES || clen - SS_ABYTES > 2048)
		return;
	if (crypto_secretstream_xchacha20poly1305_pull(&f->rx, p, &mlen, NULL, c, clen, NULL, 0))
		die("a datagram did not decrypt");
	if (is_host) {
		send(f->fd, p, mlen, MSG_DONTWAIT);
		c_send++;
		n_up++;
		return;
	}
	rb_iov[rb_n] = (struct iovec){ p, mlen };
	rb_m[rb_n].msg_hdr = (struct msghdr){ .msg_name = &f->peer, .msg_namelen = sizeof(f->peer),
					      .msg_iov = &rb_iov[rb_n], .msg_iovlen = 1 };
	n_down++;
	if (++rb_n == BATCH)
		replies_flush();
}

static void tls_in(void)
{
	size_t got = 0;

	while (got < TLS_READ_MAX) {
		int r = SSL_read(ssl, in + in_len, (int)(TLS_READ_MAX + 64 * 1024 - in_len));

		c_ssl_read++;
		if (r <= 0) {
			int e = SSL_get_error(ssl, r);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				break;
			if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL) {
				stop = 1;
				break;
			}
			die("SSL_read");
		}
		got += (size_t)r;
		in_len += (size_t)r;
		size_t at = 0;

		while (in_len - at >= sizeof(struct frame)) {
			struct frame fr;

			memcpy(&fr, in + at, sizeof(fr));
			if (in_len - at < sizeof(fr) + fr.len)
				break;
			const uint8_t *p = in + at + sizeof(fr);

			if (fr.flow >= MAX_FLOWS)
				die("a frame names no flow");
			if (fr.type == T_SETUP && fr.len == SS_HDR) {
				struct flow *f = is_host ? flow_new(fr.flow) : &flows[fr.flow];
				uint8_t key[32];

				key_for(key, fr.flow, is_host ? 0 : 1);
				if (crypto_secretstream_xchacha20poly1305_init_pull(&f->rx, p, key))
					die("init_pull");
				f->rx_ready = true;
			} else if (fr.type == T_DATA) {
				deliver(fr.flow, p, fr.len);
			}
			at += sizeof(fr) + fr.len;
		}
		memmove(in, in + at, in_len - at);
		in_len -= at;
	}
	if (!is_host)
		replies_flush();
}

static void make_cert(SSL_CTX *c)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	if (!k || !x)
		die("key");
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"zt-relay", -1,
				   -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	if (!X509_sign(x, k, EVP_sha256()) || SSL_CTX_use_certificate(c, x) != 1 || SSL_CTX_use_PrivateKey(c, k) != 1)
		die("certificate");
	X509_free(x);
	EVP_PKEY_free(k);
}

static void tls_start(int fd)
{
	int one = 1, sz = 4 << 20;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	ssl = SSL_new(sctx);
	SSL_set_fd(ssl, fd);
	if ((is_host ? SSL_accept(ssl) : SSL_connect(ssl)) != 1)
		die("TLS handshake");
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK))
		die("nonblock");
	tls_fd = fd;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EVD(K_TLS, 0) };

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		die("epoll_ctl tls");
	fprintf(stderr, "zt-relay: %s, %s\n", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", 1, 0, 'l' }, { "to", 1, 0, 't' }, { "target", 1, 0, 'g' }, { "cipher", 1, 0, 'c' },
		{ 0, 0, 0, 0 },
	};
	unsigned listen_port = 0, to_port = 0;
	int ch;

	if (argc < 2)
		goto usage;
	is_host = !strcmp(argv[1], "host");
	if (!is_host && strcmp(argv[1], "dial"))
		goto usage;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'l': listen_port = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': to_port = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'g': target_port = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'c': cipher = optarg; break;
		default: goto usage;
		}
	}
	if (!listen_port || (is_host ? !target_port : !to_port))
		goto usage;
	if (sodium_init() < 0)
		die("sodium_init");
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	flows = calloc(MAX_FLOWS, sizeof(*flows));
	out = malloc(OUT_CAP);
	in = malloc(TLS_READ_MAX + 64 * 1024 + 4096);
	ep = epoll_create1(0);
	if (!flows || !out || !in || ep < 0)
		die("setup");
	sctx = SSL_CTX_new(is_host ? TLS_server_method() : TLS_client_method());
	if (!sctx || !SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION) || !SSL_CTX_set_ciphersuites(sctx, cipher))
		die("SSL_CTX");
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port) };
	int one = 1, sz = 16 << 20;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (is_host) {
		make_cert(sctx);
		lsn_fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(lsn_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (lsn_fd < 0 || bind(lsn_fd, (struct sockaddr *)&a, sizeof(a)) || listen(lsn_fd, 4))
			die("listen");
		fprintf(stderr, "zt-relay: host listening on %u, target %u\n", listen_port, target_port);
		int fd = accept(lsn_fd, NULL, NULL);

		if (fd < 0)
			die("accept");
		tls_start(fd);
	} else {
		SSL_CTX_set_verify(sctx, SSL_VERIFY_NONE, NULL);
		udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
			setsockopt(udp_fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (setsockopt(udp_fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
			setsockopt(udp_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		if (bind(udp_fd, (struct sockaddr *)&a, sizeof(a)))
			die("bind");
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EVD(K_UDP, 0) };

		epoll_ctl(ep, EPOLL_CTL_ADD, udp_fd, &ev);
		struct sockaddr_in t = { .sin_family = AF_INET, .sin_port = htons((uint16_t)to_port) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		t.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 || connect(fd, (struct sockaddr *)&t, sizeof(t)))
			die("connect");
		tls_start(fd);
	}
	while (!stop) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, 1000);

		c_wait++;
		for (int i = 0; i < n; i++) {
			uint32_t k = (uint32_t)(evs[i].data.u64 >> 32), id = (uint32_t)evs[i].data.u64;

			if (k == K_UDP)
				udp_in();
			else if (k == K_FLOW)
				flow_in(id);
			else if (k == K_TLS && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				tls_in();
		}
		if (out_len)
			flush_out();
	}
	fprintf(stderr,
		"zt-relay: %s: datagrams to host %llu, from host %llu, dropped (output full) %llu; calls: epoll_wait %llu, "
		"recvmmsg %llu, send %llu, sendmmsg %llu, SSL_read %llu, SSL_write %llu\n",
		argv[1], n_up, n_down, n_dropped, c_wait, c_recvmmsg, c_send, c_sendmmsg, c_ssl_read, c_ssl_write);
	return 0;
usage:
	fprintf(stderr, "usage: zt-relay dial --listen UDPPORT --to TLSPORT [--cipher SUITE]\n"
			"       zt-relay host --listen TLSPORT --target UDPPORT [--cipher SUITE]\n");
	return 2;
}
