// SPDX-License-Identifier: GPL-2.0
/*
 * zt-unit: the real HTTP client (zt_curl.c, reached as __real_zt_http_request_ex past the
 * controller stand-in's --wrap) against an HTTPS server in a thread of this process.
 *
 *   - stale token: a request answered 401 for a session token the context replaced while it
 *     was out (the v1.6.5 controller revokes an OIDC login's access token at the login's first
 *     refresh, "access token has been revoked by id") is sent again with the current token,
 *     once; its owner sees the answer to that. A 401 for the current token is reported as it
 *     is (sent once).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "daemon/ziti/zt_internal.h"

void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *zt_test_self_signed(EVP_PKEY *k, long serial, int days);
struct zt_http *__real_zt_http_request_ex(struct zt_ctx *ctx, const struct zt_http_opts *o, zt_http_cb cb, void *arg);

#define GOOD_TOKEN "token-new"

static struct {
	SSL_CTX *sc;
	int lfd;
	unsigned requests; /* __atomic */
	char tokens[4][32];
} srv;

/* one connection: requests until EOF; 200 for the good token, 401 otherwise */
static void *conn_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	SSL *s = SSL_new(srv.sc);
	char buf[8192];
	size_t n = 0;

	if (!s || !SSL_set_fd(s, fd) || SSL_accept(s) != 1)
		goto out;
	for (;;) {
		int r = SSL_read(s, buf + n, (int)(sizeof(buf) - 1 - n));
		char *end, *a, resp[512];
		const char *body;
		int code;

		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		unsigned i = __atomic_fetch_add(&srv.requests, 1, __ATOMIC_SEQ_CST);

		a = strcasestr(buf, "\r\nAuthorization: Bearer ");
		if (a && i < 4)
			snprintf(srv.tokens[i], sizeof(srv.tokens[i]), "%.*s", (int)strcspn(a + 24, "\r\n"), a + 24);
		code = a && !strncmp(a + 24, GOOD_TOKEN "\r\n", strlen(GOOD_TOKEN) + 2) ? 200 : 401;
		body = code == 200 ? "{\"data\":[]}"
				   : "{\"error\":{\"code\":\"UNAUTHORIZED\",\"message\":\"access token has been revoked by id\"}}";
		int m = snprintf(resp, sizeof(resp),
				 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", code,
				 code == 200 ? "OK" : "Unauthorized", strlen(body), body);
		if (SSL_write(s, resp, m) != m)
			break;
		n = 0; /* no bodies: a GET */
	}
out:
	SSL_free(s);
	close(fd);
	return NULL;
}

static void *accept_thread(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(srv.lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			return NULL;
		if (pthread_create(&t, NULL, conn_thread, (void *)(intptr_t)fd)) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}

/* a self-signed server certificate for "localhost" */
static char *server_cert(EVP_PKEY *k)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	char *data = NULL, *out = NULL;

	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 77);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, nm);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
	if (ext)
		X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	if (ext)
		X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, k, EVP_sha256());
	PEM_write_bio_X509(b, x);
	long n = BIO_get_mem_data(b, &data);

	out = strndup(data, (size_t)n);
	BIO_free(b);
	X509_NAME_free(nm);
	X509_free(x);
	return out;
}

static int put(const char *dir, const char *name, const char *text, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

struct result {
	bool done;
	int status;
};

static void req_cb(void *arg, const struct zt_http_resp *r)
{
	struct result *res = arg;

	res->done = true;
	res->status = r->status;
}

static char curl_log[4096];

static void on_log(struct zt_ctx *c, int level, const char *msg, void *u)
{
	size_t n = strlen(curl_log);

	(void)c;
	(void)level;
	(void)u;
	snprintf(curl_log + n, sizeof(curl_log) - n, "%s\n", msg);
}

/* one GET sent with token @sent; the context's token is @now once it is out */
static struct result one_get(struct zt_ctx *ctx, struct zt_loop *loop, const char *sent, const char *now)
{
	struct zt_http_opts ho = { .method = "GET", .path = "/edge/client/v1/services" };
	struct result res = { 0 };
	uint64_t end = zt_now_ms() + 10000;

	free(ctx->api_token);
	ctx->api_token = strdup(sent);
	if (!__real_zt_http_request_ex(ctx, &ho, req_cb, &res))
		return res;
	free(ctx->api_token);
	ctx->api_token = strdup(now); /* refreshed while the request was out */
	while (!res.done && zt_now_ms() < end)
		zt_loop_run(loop, 20);
	return res;
}

void test_curl_stale_token(void)
{
	char err[512] = "", dir[] = "/tmp/zt-curl.XXXXXX", cpath[300], kpath[300], apath[300], ipath[300], json[1200];
	EVP_PKEY *k = zt_pki_keygen(NULL, err, sizeof(err));
	char *ccert = k ? zt_test_self_signed(k, 5, 1) : NULL, *scert = k ? server_cert(k) : NULL;
	char *kp = k ? zt_pki_key_pem(k) : NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct zt_identity *id = NULL;
	struct zt_loop *loop = NULL;
	struct zt_ctx *ctx = NULL;
	pthread_t at;
	BIO *b = NULL;
	X509 *x = NULL;

	srv.lfd = -1;
	if (!ccert || !scert || !kp || !mkdtemp(dir)) {
		check(0, "curl: stale token: setup (%s)", err);
		goto out;
	}
	srv.sc = SSL_CTX_new(TLS_server_method());
	b = BIO_new_mem_buf(scert, -1);
	x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!srv.sc || !x || SSL_CTX_use_certificate(srv.sc, x) != 1 || SSL_CTX_use_PrivateKey(srv.sc, k) != 1 ||
	    srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(srv.lfd, 8) ||
	    getsockname(srv.lfd, (struct sockaddr *)&sa, &sl) || pthread_create(&at, NULL, accept_thread, NULL)) {
		check(0, "curl: stale token: server setup");
		goto out;
	}
	pthread_detach(at);
	snprintf(json, sizeof(json),
		 "{\"ztAPI\":\"https://localhost:%u\",\"id\":{\"cert\":\"file://%s/c.pem\",\"key\":\"file:%s/k.pem\","
		 "\"ca\":\"%s/ca.pem\"}}", ntohs(sa.sin_port), dir, dir, dir);
	if (put(dir, "c.pem", ccert, cpath, sizeof(cpath)) || put(dir, "k.pem", kp, kpath, sizeof(kpath)) ||
	    put(dir, "ca.pem", scert, apath, sizeof(apath)) || put(dir, "id.json", json, ipath, sizeof(ipath)) ||
	    !(id = zt_identity_load(ipath, err, sizeof(err)))) {
		check(0, "curl: stale token: identity (%s)", err);
		goto out;
	}
	struct zt_opts o = { .http_timeout_ms = 5000, .svc_poll_ms = 60000, .log_level = 2 };
	struct zt_ctx_cbs cbs = { .on_log = on_log };

	loop = zt_loop_new();
	ctx = loop ? zt_ctx_new(loop, id, &o, &cbs, NULL) : NULL;
	if (!ctx) {
		check(0, "curl: stale token: context");
		zt_identity_free(id);
		goto out;
	}
	ctx->auth = ZT_AUTH_OK; /* as after an OIDC login: no request of its own from here */
	ctx->bearer = true;

	struct result r1 = one_get(ctx, loop, "token-login", GOOD_TOKEN);
	unsigned n1 = __atomic_load_n(&srv.requests, __ATOMIC_SEQ_CST);

	check(r1.done && r1.status == 200 && n1 == 2 && !strcmp(srv.tokens[0], "token-login") &&
		      !strcmp(srv.tokens[1], GOOD_TOKEN) && strstr(curl_log, "sent again with the current one"),
	      "curl: a 401 for a token replaced while the request was out: sent again with the current one "
	      "(HTTP %d, %u requests, tokens '%s' then '%s')", r1.status, n1, srv.tokens[0], srv.tokens[1]);

	struct result r2 = one_get(ctx, loop, "token-bad", "token-bad");
	unsigned n2 = __atomic_load_n(&srv.requests, __ATOMIC_SEQ_CST) - n1;

	check(r2.done && r2.status == 401 && n2 == 1,
	      "curl: a 401 for the current token is the owner's to handle: sent once (HTTP %d, %u requests)", r2.status,
	      n2);
	ctx->auth = ZT_AUTH_NONE;
	zt_ctx_free(ctx);
out:
	if (loop)
		zt_loop_free(loop);
	if (srv.lfd >= 0)
		shutdown(srv.lfd, SHUT_RDWR); /* ends the accept thread */
	X509_free(x);
	BIO_free(b);
	EVP_PKEY_free(k);
	free(ccert);
	free(scert);
	free(kp);
	if (dir[sizeof(dir) - 7] != 'X') {
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", dir);
	}
}
