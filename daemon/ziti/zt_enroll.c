// SPDX-License-Identifier: GPL-2.0
/*
 * Enrollment of an identity from its enrollment token (JWT), as the reference clients do it
 * (sdk-golang ziti/enroll, ziti-sdk-c library/ziti_enroll.c):
 *
 *   1. parse the JWT (iss: the controller URL, sub: the identity id, jti: the one-time
 *      token, em: the method, exp) and refuse an expired one before any network traffic;
 *   2. connect to iss without trusting anything yet, take the controller's TLS certificate
 *      and verify the JWT's signature with its public key: only the controller that issued
 *      the token holds that key;
 *   3. fetch the CA bundle from iss/.well-known/est/cacerts (base64 PKCS#7) over a connection
 *      that trusts exactly that server certificate, and check that the certificate chains
 *      to the bundle;
 *   4. enroll over a connection verified against the bundle (host name too):
 *      ott:   POST /edge/client/v1/enroll?method=ott&token=JTI with a CSR for a new key
 *             (EC P-256 by default) → the certificate;
 *      ottca: POST /edge/client/v1/enroll?method=ottca&token=JTI, authenticated by the
 *             CA-issued client certificate given, which becomes the identity's certificate;
 *   5. write the identity JSON (ztAPI, id.cert/key/ca inline) atomically with mode 0600.
 *
 * This runs as a command (sipovld enroll), not in the daemon's event loop: its I/O blocks,
 * each step bounded by a timeout. The JWT parser does no I/O.
 */
#include "zt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ENROLL_TIMEOUT_S 15

static void seterr(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* ---------------- JWT (no I/O) ---------------- */

static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
	size_t padded = (n + 3) / 4 * 4;
	char *t = malloc(padded + 1);
	unsigned char *out = malloc(padded / 4 * 3 + 1);

	if (!t || !out)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9'))
			goto bad;
		t[i] = c;
	}
	for (size_t i = n; i < padded; i++)
		t[i] = '=';
	t[padded] = 0;
	if (n % 4 == 1)
		goto bad;
	int r = EVP_DecodeBlock(out, (unsigned char *)t, (int)padded);

	if (r < 0)
		goto bad;
	*outlen = (size_t)r - (padded - n); /* EVP_DecodeBlock counts the padding as zero bytes */
	out[*outlen] = 0;
	free(t);
	return out;
bad:
	free(t);
	free(out);
	return NULL;
}

void zt_jwt_free(struct zt_jwt *j)
{
	free(j->alg);
	free(j->iss);
	free(j->sub);
	free(j->jti);
	free(j->em);
	free(j->signing_input);
	free(j->sig);
	memset(j, 0, sizeof(*j));
}

int zt_jwt_parse(const char *token, struct zt_jwt *j, char *err, size_t errlen)
{
	const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	struct json_object *h = NULL, *p = NULL, *v;
	unsigned char *hb = NULL, *pb = NULL;
	size_t hl, pl, tl = strlen(token);
	int rc = -1;

	memset(j, 0, sizeof(*j));
	while (tl && (token[tl - 1] == '\n' || token[tl - 1] == '\r' || token[tl - 1] == ' '))
		tl--;
	if (!d1 || !d2 || strchr(d2 + 1, '.') || (size_t)(d2 - token) >= tl) {
		seterr(err, errlen, "not a JWT (expected three dot-separated parts)");
		return -1;
	}
	hb = b64url_decode(token, (size_t)(d1 - token), &hl);
	pb = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &pl);
	j->sig = b64url_decode(d2 + 1, tl - (size_t)(d2 + 1 - token), &j->sig_len);
	if (!hb || !pb || !j->sig) {
		seterr(err, errlen, "not a JWT (bad base64url in the %s)", !hb ? "header" : !pb ? "claims" : "signature");
		goto out;
	}
	h = json_tokener_parse((char *)hb);
	p = json_tokener_parse((char *)pb);
	if (!h || !p || !json_object_is_type(h, json_type_object) || !json_object_is_type(p, json_type_object)) {
		seterr(err, errlen, "not a JWT (the %s is not a JSON object)", !h ? "header" : "claims");
		goto out;
	}
#define JDUP(o, k) (json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? \
		    strdup(json_object_get_string(v)) : NULL)
	j->alg = JDUP(h, "alg");
	j->iss = JDUP(p, "iss");
	j->sub = JDUP(p, "sub");
	j->jti = JDUP(p, "jti");
	j->em = JDUP(p, "em");
#undef JDUP
	if (json_object_object_get_ex(p, "exp", &v) && (json_object_is_type(v, json_type_int) ||
							json_object_is_type(v, json_type_double)))
		j->exp = json_object_get_int64(v);
	const char *miss = !j->alg ? "alg" : !j->iss ? "iss" : !j->jti ? "jti" : !j->em ? "em" : NULL;

	if (miss) {
		seterr(err, errlen, "not an enrollment token (no '%s')", miss);
		goto out;
	}
	if (strncmp(j->iss, "https://", 8)) {
		seterr(err, errlen, "enrollment token: issuer '%s' is not an https:// URL", j->iss);
		goto out;
	}
	j->signing_input = strndup(token, (size_t)(d2 - token));
	if (!j->signing_input) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_object_put(h);
	json_object_put(p);
	free(hb);
	free(pb);
	if (rc)
		zt_jwt_free(j);
	return rc;
}

/* Verify the JWT's signature (RS256/384/512, ES256/384/512) with @key. */
int zt_jwt_verify(const struct zt_jwt *j, EVP_PKEY *key, char *err, size_t errlen)
{
	const EVP_MD *md = NULL;
	unsigned char *der = NULL;
	const unsigned char *sig = j->sig;
	size_t siglen = j->sig_len;
	int rc = -1;
	bool ec = j->alg[0] == 'E';

	/* exactly RS or ES and a digest size: a shorter name has nothing at alg + 2 */
	if (strlen(j->alg) != 5) {
		seterr(err, errlen, "enrollment token: signature algorithm '%s' is not supported", j->alg);
		return -1;
	}
	if (!strcmp(j->alg + 2, "256"))
		md = EVP_sha256();
	else if (!strcmp(j->alg + 2, "384"))
		md = EVP_sha384();
	else if (!strcmp(j->alg + 2, "512"))
		md = EVP_sha512();
	if (!md || (strncmp(j->alg, "ES", 2) && strncmp(j->alg, "RS", 2))) {
		seterr(err, errlen, "enrollment token: signature algorithm '%s' is not supported", j->alg);
		return -1;
	}
	if (ec != EVP_PKEY_is_a(key, "EC")) {
		seterr(err, errlen, "the JWT is signed with %s but the controller's key is %s", j->alg,
		       EVP_PKEY_get0_type_name(key));
		return -1;
	}
	if (ec) { /* JOSE: r || s, fixed width; OpenSSL wants DER */
		ECDSA_SIG *es = ECDSA_SIG_new();
		size_t half = j->sig_len / 2;
		BIGNUM *r = BN_bin2bn(j->sig, (int)half, NULL), *s = BN_bin2bn(j->sig + half, (int)half, NULL);
		int n;

		if (!es || !r || !s || j->sig_len % 2 || ECDSA_SIG_set0(es, r, s) != 1) {
			BN_free(r);
			BN_free(s);
			ECDSA_SIG_free(es);
			seterr(err, errlen, "enrollment token: malformed ECDSA signature");
			return -1;
		}
		n = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (n <= 0) {
			seterr(err, errlen, "enrollment token: malformed ECDSA signature");
			return -1;
		}
		sig = der;
		siglen = (size_t)n;
	}
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	if (m && EVP_DigestVerifyInit(m, NULL, md, NULL, key) == 1 &&
	    EVP_DigestVerify(m, sig, siglen, (const unsigned char *)j->signing_input, strlen(j->signing_input)) == 1)
		rc = 0;
	else
		seterr(err, errlen, "the enrollment token's signature does not verify with the certificate of the server at %s: "
		       "not the controller that issued it, or the token was altered", j->iss);
	ERR_clear_error();
	EVP_MD_CTX_free(m);
	OPENSSL_free(der);
	return rc;
}

/* ---------------- blocking HTTPS (bounded) ---------------- */

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->ssl = NULL;
	c->ctx = NULL;
	ERR_clear_error();
}

static int tcp_connect_timeout(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res), fd = -1, e = 0;

	if (rc) {
		seterr(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
			e = errno;
			close(fd);
			fd = -1;
			continue;
		}
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		socklen_t sl = sizeof(e);

		e = 0;
		if (poll(&pf, 1, ENROLL_TIMEOUT_S * 1000) != 1)
			e = ETIMEDOUT;
		else
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl);
		if (e) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		seterr(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(e ? e : EHOSTUNREACH));
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	struct timeval tv = { .tv_sec = ENROLL_TIMEOUT_S };

	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/*
 * TLS to host:port. trust: PEM CA bundle to verify against (with the host name), or NULL to
 * accept any certificate (the caller checks it). cert/key: client credentials or NULL.
 */
static int conn_open(struct conn *c, const char *host, const char *port, const char *trust, X509 *pin,
		     const char *cert, const char *key, char *err, size_t errlen)
{
	char e2[300];

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx)
		goto ossl;
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	if (trust || pin) {
		X509_STORE *st = SSL_CTX_get_cert_store(c->ctx);
		int n = 0;

		if (pin)
			n += X509_STORE_add_cert(st, pin) == 1;
		if (trust) {
			BIO *b = BIO_new_mem_buf(trust, -1);
			X509 *x;

			while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
				n += X509_STORE_add_cert(st, x) == 1;
				X509_free(x);
			}
			BIO_free(b);
			ERR_clear_error();
		}
		if (!n) {
			seterr(err, errlen, "no certificate to trust");
			goto fail;
		}
		if (pin) /* a self-issued server certificate trusted as itself */
			X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	}
	if (cert && key && zt_identity_use_cert(c->ctx, cert, key, e2, sizeof(e2))) {
		seterr(err, errlen, "%s", e2);
		goto fail;
	}
	c->fd = tcp_connect_timeout(host, port, err, errlen);
	if (c->fd < 0)
		goto fail;
	c->ssl = SSL_new(c->ctx);
	if (!c->ssl)
		goto ossl;
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, host);
	if (trust || pin) {
		SSL_set1_host(c->ssl, host);
		SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	}
	int rc = SSL_connect(c->ssl);

	if (rc != 1) {
		zt_ssl_err(e2, sizeof(e2), host, c->ssl, rc);
		seterr(err, errlen, "%s", e2);
		goto fail;
	}
	return 0;
ossl:
	seterr(err, errlen, "TLS setup failed");
fail:
	ERR_clear_error();
	conn_close(c);
	return -1;
}

/* One request on an open connection (Connection: close). Returns the HTTP status or -1. */
static int conn_request(struct conn *c, const char *method, const char *host, const char *port, const char *path,
			const char *ctype, const char *body, char **resp, char *err, size_t errlen)
{
	char hdr[2048];
	size_t blen = body ? strlen(body) : 0;
	int n = snprintf(hdr, sizeof(hdr),
			 "%s %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: sipovld-enroll\r\nAccept: */*\r\n"
			 "Connection: close\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			 method, path, host, port, ctype ? ctype : "text/plain", blen);

	*resp = NULL;
	if (n < 0 || (size_t)n >= sizeof(hdr) || SSL_write(c->ssl, hdr, n) != n ||
	    (blen && SSL_write(c->ssl, body, (int)blen) != (int)blen)) {
		seterr(err, errlen, "%s %s: cannot send the request", method, path);
		return -1;
	}
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap + 1);

	while (buf) {
		if (len == cap) {
			if (cap >= (4u << 20))
				break;
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		int r = SSL_read(c->ssl, buf + len, (int)(cap - len));

		if (r <= 0)
			break;
		len += (size_t)r;
	}
	ERR_clear_error();
	if (!buf) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	buf[len] = 0;
	int status = 0;
	char *body_start = strstr(buf, "\r\n\r\n");

	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || !body_start) {
		seterr(err, errlen, "%s %s: %s", method, path, len ? "malformed HTTP response" : "no response (timeout or closed)");
		free(buf);
		return -1;
	}
	*body_start = 0;
	body_start += 4;
	if (strcasestr(buf, "Transfer-Encoding: chunked")) { /* de-chunk in place */
		char *rd = body_start, *wr = body_start;

		for (;;) {
			unsigned long sz = strtoul(rd, NULL, 16);
			char *nl = strstr(rd, "\r\n");

			if (!nl || sz == 0)
				break;
			rd = nl + 2;
			/* the chunk and its CRLF must be there: never step past the end */
			if (strlen(rd) < sz + 2 || rd[sz] != '\r')
				break;
			memmove(wr, rd, sz);
			wr += sz;
			rd += sz + 2;
		}
		*wr = 0;
	}
	*resp = strdup(body_start);
	free(buf);
	return status;
}

/* The controller's error envelope as "code: message", or the body's start. */
static void api_error(const char *body, int status, char *out, size_t len)
{
	struct json_object *r = json_tokener_parse(body ? body : ""), *e = NULL, *v;
	const char *code = NULL, *msg = NULL, *cause = NULL;

	if (r && json_object_object_get_ex(r, "error", &e)) {
		if (json_object_object_get_ex(e, "code", &v))
			code = json_object_get_string(v);
		if (json_object_object_get_ex(e, "message", &v))
			msg = json_object_get_string(v);
		struct json_object *c;

		if (json_object_object_get_ex(e, "cause", &c) && json_object_object_get_ex(c, "message", &v))
			cause = json_object_get_string(v);
	}
	if (code || msg)
		snprintf(out, len, "HTTP %d %s: %s%s%s", status, code ? code : "", msg ? msg : "", cause ? " - " : "",
			 cause ? cause : "");
	else
		snprintf(out, len, "HTTP %d %.200s", status, body ? body : "");
	json_object_put(r);
}

/* base64 PKCS#7 (the EST cacerts format) → PEM bundle */
static char *pkcs7_to_pem(const char *b64, char *err, size_t errlen)
{
	size_t n = strlen(b64), k = 0;
	char *clean = malloc(n + 1);
	unsigned char *der = malloc(n + 1);
	char *out = NULL;

	if (!clean || !der)
		goto done;
	for (size_t i = 0; i < n; i++)
		if (b64[i] != '\n' && b64[i] != '\r' && b64[i] != ' ')
			clean[k++] = b64[i];
	clean[k] = 0;
	int dl = EVP_DecodeBlock(der, (unsigned char *)clean, (int)k);

	if (dl <= 0) {
		seterr(err, errlen, "CA bundle: not base64");
		goto done;
	}
	const unsigned char *pp = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &pp, dl);
	STACK_OF(X509) *certs = p7 && PKCS7_type_is_signed(p7) && p7->d.sign ? p7->d.sign->cert : NULL;
	BIO *b = BIO_new(BIO_s_mem());

	for (int i = 0; b && certs && i < sk_X509_num(certs); i++)
		PEM_write_bio_X509(b, sk_X509_value(certs, i));
	char *data = NULL;
	long bl = b ? BIO_get_mem_data(b, &data) : 0;

	if (bl > 0)
		out = strndup(data, (size_t)bl);
	else
		seterr(err, errlen, "CA bundle: no certificate in the PKCS#7 reply");
	BIO_free(b);
	PKCS7_free(p7);
	ERR_clear_error();
done:
	free(clean);
	free(der);
	return out;
}

/* ---------------- enrollment ---------------- */

static char *read_small(const char *path, char *err, size_t errlen, const char *what)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0;

	if (!f) {
		seterr(err, errlen, "cannot read %s '%s': %s", what, path, strerror(errno));
		return NULL;
	}
	buf = calloc(1, 1 << 20);
	if (buf)
		n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	if (buf && n == 0) {
		seterr(err, errlen, "%s '%s' is empty", what, path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* @json to a new file (mode 0600, synced) from the mkostemp template @tmpl. 0 or -1 with @err. */
static int write_new(char *tmpl, const char *json, char *err, size_t errlen)
{
	size_t len = strlen(json);
	int fd = mkostemp(tmpl, O_CLOEXEC);

	if (fd < 0) {
		seterr(err, errlen, "%s: %s", tmpl, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600))
		goto fail;
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, json + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	seterr(err, errlen, "%s: %s", tmpl, strerror(errno ? errno : EIO));
	if (fd >= 0)
		close(fd);
	unlink(tmpl);
	return -1;
}

/*
 * The token is spent and the identity could not be written (or used) as asked: save it next
 * to @out, else in $TMPDIR (default /var/tmp, which survives a reboot). The path in @where.
 */
static int save_spent(const char *out, const char *json, char *where, size_t wl, char *err, size_t errlen)
{
	const char *tmp = getenv("TMPDIR"), *base = strrchr(out, '/');
	char e1[200] = "", e2[200] = "";

	snprintf(where, wl, "%s.enrolled.XXXXXX", out);
	if (!write_new(where, json, e1, sizeof(e1)))
		return 0;
	snprintf(where, wl, "%s/%s.enrolled.XXXXXX", tmp && *tmp ? tmp : "/var/tmp", base ? base + 1 : out);
	if (!write_new(where, json, e2, sizeof(e2)))
		return 0;
	seterr(err, errlen, "%s; %s", e1, e2);
	return -1;
}

int zt_enroll(const struct zt_enroll_opts *o, char *err, size_t errlen)
{
	struct zt_jwt j;
	struct zt_stage st = { 0 };
	struct conn c = { .fd = -1 };
	char *token = NULL, *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	char *ca = NULL, *key_pem = NULL, *cert_pem = NULL, *cert_in = NULL, *key_in = NULL, *resp = NULL;
	char *json = NULL, e[600], url[1024];
	X509 *server = NULL;
	EVP_PKEY *key = NULL;
	int rc = -1, status;
	struct stat sb;

	memset(&j, 0, sizeof(j));
	/* inputs first: nothing is sent before everything local is right */
	if (stat(o->jwt, &sb) == 0) {
		if (!(token = read_small(o->jwt, err, errlen, "enrollment token")))
			return -1;
	} else if (strchr(o->jwt, '.') && !strchr(o->jwt, '/')) {
		token = strdup(o->jwt);
	} else {
		seterr(err, errlen, "cannot read enrollment token '%s': %s", o->jwt, strerror(errno));
		return -1;
	}
	if (zt_jwt_parse(token, &j, e, sizeof(e))) {
		seterr(err, errlen, "%s: %s", o->jwt, e);
		goto out;
	}
	if (strcmp(j.em, "ott") && strcmp(j.em, "ottca")) {
		seterr(err, errlen, "enrollment method '%s' is not supported (ott and ottca are)", j.em);
		goto out;
	}
	if (!strcmp(j.em, "ottca") != !!o->cert) {
		seterr(err, errlen, !strcmp(j.em, "ottca") ?
		       "this token is for ottca enrollment: give the CA-issued certificate and its key (--cert, --key)" :
		       "this token is for ott enrollment: the controller issues the certificate (no --cert)");
		goto out;
	}
	if (j.exp && j.exp < (int64_t)time(NULL)) {
		char when[40];

		zt_pki_fmt_time(j.exp, when, sizeof(when));
		seterr(err, errlen, "the enrollment token expired at %s (create a new one: ziti edge create enrollment ...)",
		       when);
		goto out;
	}
	if (stat(o->out, &sb) == 0 && !o->force) {
		seterr(err, errlen, "'%s' exists: not overwritten (remove it or use --force)", o->out);
		goto out;
	}
	/* can we write next to the output? (a one-time token must not be spent for nothing) */
	if (zt_stage_add(&st, o->out, "", 0, 0600, e, sizeof(e))) {
		seterr(err, errlen, "cannot write the identity: %s", e);
		goto out;
	}
	zt_stage_abort(&st);
	if (o->cert) {
		if (!(cert_in = read_small(o->cert, err, errlen, "certificate")) ||
		    !(key_in = read_small(o->key, err, errlen, "key")))
			goto out;
		key_pem = strdup(key_in);
	} else {
		if (o->key) {
			seterr(err, errlen, "--key is for ottca (with --cert); for ott a key is generated (--key-type)");
			goto out;
		}
		if (!(key = zt_pki_keygen(o->key_type, e, sizeof(e)))) {
			seterr(err, errlen, "%s", e);
			goto out;
		}
		key_pem = zt_pki_key_pem(key);
	}
	if (!key_pem) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	if (zt_parse_url(j.iss, &scheme, &host, &port, &path)) {
		seterr(err, errlen, "enrollment token: issuer '%s' is not a URL", j.iss);
		goto out;
	}

	/* 2. the server's certificate must hold the key that signed the token */
	if (conn_open(&c, host, port, NULL, NULL, NULL, NULL, e, sizeof(e))) {
		seterr(err, errlen, "controller %s: %s", j.iss, e);
		goto out;
	}
	server = SSL_get1_peer_certificate(c.ssl);
	conn_close(&c);
	EVP_PKEY *spub = server ? X509_get0_pubkey(server) : NULL;

	if (!spub) {
		seterr(err, errlen, "controller %s presented no certificate", j.iss);
		goto out;
	}
	if (zt_jwt_verify(&j, spub, err, errlen))
		goto out;

	/* 3. the CA bundle, from the server we just authenticated */
	if (conn_open(&c, host, port, NULL, server, NULL, NULL, e, sizeof(e)) ||
	    (status = conn_request(&c, "GET", host, port, "/.well-known/est/cacerts", NULL, NULL, &resp, e, sizeof(e))) < 0) {
		seterr(err, errlen, "CA bundle from %s: %s", j.iss, e);
		goto out;
	}
	conn_close(&c);
	if (status != 200) {
		api_error(resp, status, e, sizeof(e));
		seterr(err, errlen, "CA bundle from %s/.well-known/est/cacerts: %s", j.iss, e);
		goto out;
	}
	if (!(ca = pkcs7_to_pem(resp, e, sizeof(e)))) {
		seterr(err, errlen, "%s: %s", j.iss, e);
		goto out;
	}
	free(resp);
	resp = NULL;

	/* 4. enroll, verifying the controller against the bundle */
	snprintf(url, sizeof(url), "/edge/client/v1/enroll?method=%s&token=%s", j.em, j.jti);
	if (!strcmp(j.em, "ott")) {
		/* subject as the reference clients: CN = the identity id */
		char *csr;
		X509_NAME *nm = X509_NAME_new();

		if (nm)
			X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"OpenZiti", -1, -1, 0);
		if (nm && j.sub)
			X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)j.sub, -1, -1, 0);
		csr = zt_pki_csr_pem(key, nm, e, sizeof(e));
		X509_NAME_free(nm);
		if (!csr) {
			seterr(err, errlen, "%s", e);
			goto out;
		}
		if (conn_open(&c, host, port, ca, NULL, NULL, NULL, e, sizeof(e)) ||
		    (status = conn_request(&c, "POST", host, port, url, "application/x-pem-file", csr, &resp, e,
					   sizeof(e))) < 0) {
			free(csr);
			seterr(err, errlen, "enroll at %s: %s", j.iss, e);
			goto out;
		}
		free(csr);
	} else {
		if (conn_open(&c, host, port, ca, NULL, cert_in, key_in, e, sizeof(e)) ||
		    (status = conn_request(&c, "POST", host, port, url, "text/plain", "", &resp, e, sizeof(e))) < 0) {
			seterr(err, errlen, "enroll at %s: %s", j.iss, e);
			goto out;
		}
	}
	conn_close(&c);
	if (status != 200) {
		api_error(resp, status, e, sizeof(e));
		seterr(err, errlen, "the controller refused the enrollment: %s", e);
		goto out;
	}
	if (!strcmp(j.em, "ott")) {
		struct json_object *r = json_tokener_parse(resp), *d = NULL, *v = NULL;

		if (r && json_object_object_get_ex(r, "data", &d) && json_object_object_get_ex(d, "cert", &v) &&
		    json_object_is_type(v, json_type_string))
			cert_pem = strdup(json_object_get_string(v));
		else if (strstr(resp, "-----BEGIN CERTIFICATE-----"))
			cert_pem = strdup(resp);
		json_object_put(r);
		if (!cert_pem) {
			seterr(err, errlen, "enroll: no certificate in the controller's reply");
			goto out;
		}
	} else {
		cert_pem = strdup(cert_in);
	}

	/*
	 * 5. an identity we can use, written atomically. The token is spent from here on: what
	 * the controller issued is never dropped (a local failure would leave the identity
	 * enrolled at the controller with nobody holding its key).
	 */
	char api[600], where[PATH_MAX + 64], e2[300];

	snprintf(api, sizeof(api), "%s/edge/client/v1", j.iss);
	json = zt_identity_json(api, cert_pem, key_pem, ca);
	if (!json) {
		seterr(err, errlen, "enrolled, but out of memory: the certificate is lost (token spent)");
		goto out;
	}
	if (zt_identity_check(cert_pem, key_pem, ca, e, sizeof(e))) {
		if (save_spent(o->out, json, where, sizeof(where), e2, sizeof(e2)))
			seterr(err, errlen, "enrolled, but the result is not usable: %s; it could not be saved either (%s)", e,
			       e2);
		else
			seterr(err, errlen, "enrolled, but the result is not usable here: %s; the identity as issued (token "
			       "spent) is saved in %s (check the clock, then move it to %s)", e, where, o->out);
		goto out;
	}
	if (zt_stage_add(&st, o->out, json, strlen(json), 0600 | ZT_STAGE_SECRET, e, sizeof(e)) ||
	    zt_stage_commit(&st, e, sizeof(e))) {
		zt_stage_abort(&st);
		if (save_spent(o->out, json, where, sizeof(where), e2, sizeof(e2)))
			seterr(err, errlen, "enrolled, but the identity could not be written: %s; nor saved elsewhere (%s)", e,
			       e2);
		else
			seterr(err, errlen, "enrolled, but the identity could not be written to %s: %s; it is saved in %s "
			       "instead (token spent: move it there)", o->out, e, where);
		goto out;
	}
	rc = 0;
out:
	zt_stage_abort(&st);
	conn_close(&c);
	zt_jwt_free(&j);
	X509_free(server);
	EVP_PKEY_free(key);
	if (key_pem)
		OPENSSL_cleanse(key_pem, strlen(key_pem));
	if (key_in)
		OPENSSL_cleanse(key_in, strlen(key_in));
	if (json)
		OPENSSL_cleanse(json, strlen(json));
	free(token);
	free(scheme);
	free(host);
	free(port);
	free(path);
	free(ca);
	free(key_pem);
	free(key_in);
	free(cert_in);
	free(cert_pem);
	free(resp);
	free(json);
	return rc;
}
