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
 * This runs as a command (sipovld enroll), not in the daemon's event loop: its HTTPS is
 * libcurl's easy interface (blocking, each request bounded by a timeout); no HTTP of our own.
 * The JWT parser does no I/O.
 */
#include "zt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* ---------------- HTTPS by libcurl (blocking, bounded: a one-shot command) ---------------- */

#define ENROLL_MAX_REPLY (4u << 20)

/*
 * What a request trusts: @trust a PEM CA bundle, checked with the host name; @pin a server
 * certificate trusted as itself (with the host name); neither: anything (the caller checks
 * the certificate it gets). @cert/@key: the client's certificate, or NULL.
 */
struct enr_req {
	const char *method; /* NULL: the TLS handshake alone, for the server's certificate */
	const char *path, *ctype, *body;
	const char *trust;
	X509 *pin;
	const char *cert, *key;
};

struct enr_reply {
	char *data;
	size_t len;
	bool too_big;
};

static size_t enr_write(char *p, size_t size, size_t n, void *arg)
{
	struct enr_reply *r = arg;
	size_t add = size * n;
	char *nd;

	if (r->len + add > ENROLL_MAX_REPLY) {
		r->too_big = true;
		return 0;
	}
	nd = realloc(r->data, r->len + add + 1);
	if (!nd)
		return 0;
	memcpy(nd + r->len, p, add);
	r->len += add;
	nd[r->len] = 0;
	r->data = nd;
	return add;
}

/* the pinned certificate into the store curl verifies against, trusted as itself */
static CURLcode enr_ssl_ctx(CURL *e, void *sslctx, void *arg)
{
	X509_STORE *st = SSL_CTX_get_cert_store(sslctx);

	(void)e;
	if (!st || X509_STORE_add_cert(st, arg) != 1)
		return CURLE_SSL_CERTPROBLEM;
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	return CURLE_OK;
}

/* the server's certificate from curl's certificate info (PEM in "Cert:") */
static X509 *enr_peer_cert(CURL *e)
{
	struct curl_certinfo *ci = NULL;
	X509 *x = NULL;

	if (curl_easy_getinfo(e, CURLINFO_CERTINFO, &ci) || !ci || ci->num_of_certs < 1)
		return NULL;
	for (struct curl_slist *l = ci->certinfo[0]; l && !x; l = l->next) {
		if (strncmp(l->data, "Cert:", 5))
			continue;
		BIO *b = BIO_new_mem_buf(l->data + 5, -1);

		x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	}
	ERR_clear_error();
	return x;
}

/*
 * One request to https://@host:@port (a new connection each: three requests in a command's
 * life). Returns the HTTP status and the body in *resp (NUL-terminated), or -1 and @err.
 * With q->method NULL: the handshake only, the server's certificate in *peer.
 */
static int enr_https(const char *host, const char *port, const struct enr_req *q, char **resp, X509 **peer,
		     char *err, size_t errlen)
{
	char url[1024], ebuf[CURL_ERROR_SIZE] = "";
	struct curl_blob ca = { 0 }, cb = { 0 }, kb = { 0 };
	struct curl_slist *hdrs = NULL;
	struct enr_reply r = { 0 };
	long status = 0;
	int rc = -1;
	CURL *e;

	if (resp)
		*resp = NULL;
	snprintf(url, sizeof(url), strchr(host, ':') ? "https://[%s]:%s%s" : "https://%s:%s%s", host, port,
		 q->path ? q->path : "/");
	e = curl_easy_init();
	if (!e) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (q->ctype) {
		char h[128];

		snprintf(h, sizeof(h), "Content-Type: %s", q->ctype);
		hdrs = curl_slist_append(NULL, h);
		if (!hdrs)
			goto oom;
	}
	ca = (struct curl_blob){ .data = (void *)q->trust, .len = q->trust ? strlen(q->trust) : 0,
				 .flags = CURL_BLOB_COPY };
	if (curl_easy_setopt(e, CURLOPT_URL, url) || curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https") ||
	    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) || curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf) ||
	    curl_easy_setopt(e, CURLOPT_USERAGENT, "sipovld-enroll") ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)ENROLL_TIMEOUT_S) ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)ENROLL_TIMEOUT_S) ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) ||
	    curl_easy_setopt(e, CURLOPT_CAINFO, NULL) || curl_easy_setopt(e, CURLOPT_CAPATH, NULL) ||
	    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, enr_write) || curl_easy_setopt(e, CURLOPT_WRITEDATA, &r) ||
	    (hdrs && curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs)))
		goto setup;
	if (q->trust || q->pin) {
		if (curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) || curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) ||
		    (q->trust && curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca)) ||
		    (q->pin && (curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, enr_ssl_ctx) ||
				curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, q->pin))))
			goto setup;
	} else if (curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L) || curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L)) {
		goto setup;
	}
	if (q->cert && q->key) {
		cb = (struct curl_blob){ .data = (void *)q->cert, .len = strlen(q->cert), .flags = CURL_BLOB_COPY };
		kb = (struct curl_blob){ .data = (void *)q->key, .len = strlen(q->key), .flags = CURL_BLOB_COPY };
		if (curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb) || curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM") ||
		    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb) || curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM"))
			goto setup;
	}
	if (!q->method) {
		/* a TLS server that is no HTTP server (a router: the wrong issuer) must answer too */
		if (curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L) || curl_easy_setopt(e, CURLOPT_CERTINFO, 1L) ||
		    curl_easy_setopt(e, CURLOPT_SSL_ENABLE_ALPN, 0L))
			goto setup;
	} else if (!strcmp(q->method, "POST")) {
		if (curl_easy_setopt(e, CURLOPT_POST, 1L) || curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body ? q->body : "") ||
		    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)(q->body ? strlen(q->body) : 0)))
			goto setup;
	}
	CURLcode cc = curl_easy_perform(e);

	if (cc != CURLE_OK) {
		const char *why = *ebuf ? ebuf : curl_easy_strerror(cc);

		if (r.too_big)
			seterr(err, errlen, "%s %s: the reply is larger than %u bytes", q->method, q->path, ENROLL_MAX_REPLY);
		else if (q->method)
			seterr(err, errlen, "%s %s: %s", q->method, q->path, why);
		else
			seterr(err, errlen, "cannot reach %s:%s: %s", host, port, why);
		goto out;
	}
	if (!q->method) {
		*peer = enr_peer_cert(e);
		rc = 0;
		goto out;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	*resp = r.data ? r.data : strdup("");
	r.data = NULL;
	if (!*resp)
		goto oom;
	rc = (int)status;
	goto out;
setup:
	seterr(err, errlen, "HTTP client setup failed (libcurl)");
	goto out;
oom:
	seterr(err, errlen, "out of memory");
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
	free(r.data);
	return rc;
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
		SSL_CTX *sc = SSL_CTX_new(TLS_client_method());

		if (!sc || zt_identity_use_cert(sc, cert_in, key_in, e, sizeof(e))) {
			seterr(err, errlen, "%s, %s: %s", o->cert, o->key, sc ? e : "out of memory");
			SSL_CTX_free(sc);
			goto out;
		}
		SSL_CTX_free(sc);
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
	if (enr_https(host, port, &(struct enr_req){ 0 }, NULL, &server, e, sizeof(e))) {
		seterr(err, errlen, "controller %s: %s", j.iss, e);
		goto out;
	}
	EVP_PKEY *spub = server ? X509_get0_pubkey(server) : NULL;

	if (!spub) {
		seterr(err, errlen, "controller %s presented no certificate", j.iss);
		goto out;
	}
	if (zt_jwt_verify(&j, spub, err, errlen))
		goto out;

	/* 3. the CA bundle, from the server we just authenticated */
	status = enr_https(host, port, &(struct enr_req){ .method = "GET", .path = "/.well-known/est/cacerts", .pin = server },
			   &resp, NULL, e, sizeof(e));
	if (status < 0) {
		seterr(err, errlen, "CA bundle from %s: %s", j.iss, e);
		goto out;
	}
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
		status = enr_https(host, port, &(struct enr_req){ .method = "POST", .path = url,
				   .ctype = "application/x-pem-file", .body = csr, .trust = ca }, &resp, NULL, e, sizeof(e));
		free(csr);
		if (status < 0) {
			seterr(err, errlen, "enroll at %s: %s", j.iss, e);
			goto out;
		}
	} else {
		status = enr_https(host, port, &(struct enr_req){ .method = "POST", .path = url, .ctype = "text/plain",
				   .body = "", .trust = ca, .cert = cert_in, .key = key_in }, &resp, NULL, e, sizeof(e));
		if (status < 0) {
			seterr(err, errlen, "enroll at %s: %s", j.iss, e);
			goto out;
		}
	}
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
