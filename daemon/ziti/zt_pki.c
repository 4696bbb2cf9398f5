// SPDX-License-Identifier: GPL-2.0
/*
 * Key material for certificate renewal and enrollment: key generation, certificate signing
 * requests, PEM helpers, and the atomic replacement of files (temporary file in the same
 * directory, fsync, rename, fsync of the directory; mode and owner of the replaced file kept).
 */
#include "zt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void seterr(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static void ossl_seterr(char *err, size_t len, const char *what)
{
	unsigned long e = ERR_get_error();
	char b[200];

	ERR_error_string_n(e, b, sizeof(b));
	ERR_clear_error();
	seterr(err, len, "%s: %s", what, e ? b : "no details");
}

EVP_PKEY *zt_pki_keygen(const char *spec, char *err, size_t errlen)
{
	EVP_PKEY *k = NULL;

	if (!spec || !*spec || !strcmp(spec, "ec") || !strcmp(spec, "ec:P-256")) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	} else if (!strncmp(spec, "ec:", 3)) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", spec + 3);
	} else if (!strcmp(spec, "rsa") || !strncmp(spec, "rsa:", 4)) {
		char *end = NULL;
		long bits = spec[3] ? strtol(spec + 4, &end, 10) : 2048;

		if ((end && *end) || bits < 2048 || bits > 8192) {
			seterr(err, errlen, "key type '%s': RSA size must be 2048-8192 bits", spec);
			return NULL;
		}
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else {
		seterr(err, errlen, "key type '%s' is not one of ec, ec:CURVE, rsa, rsa:BITS", spec);
		return NULL;
	}
	if (!k)
		ossl_seterr(err, errlen, "key generation");
	return k;
}

/* A new key of the same kind (EC curve, RSA size) as @old. */
EVP_PKEY *zt_pki_keygen_like(EVP_PKEY *old, char *err, size_t errlen)
{
	char spec[80];

	if (EVP_PKEY_is_a(old, "EC")) {
		char group[64];

		if (!EVP_PKEY_get_utf8_string_param(old, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL))
			snprintf(group, sizeof(group), "P-256");
		snprintf(spec, sizeof(spec), "ec:%s", group);
	} else if (EVP_PKEY_is_a(old, "RSA")) {
		int bits = EVP_PKEY_get_bits(old);

		snprintf(spec, sizeof(spec), "rsa:%d", bits < 2048 ? 2048 : bits);
	} else {
		snprintf(spec, sizeof(spec), "ec");
	}
	return zt_pki_keygen(spec, err, errlen);
}

static char *bio_to_string(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;

	if (s) {
		memcpy(s, data, (size_t)n);
		s[n] = 0;
	}
	return s;
}

char *zt_pki_key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1)
		s = bio_to_string(b);
	if (b) {
		char *data = NULL;
		long n = BIO_get_mem_data(b, &data);

		if (n > 0)
			OPENSSL_cleanse(data, (size_t)n);
	}
	BIO_free(b);
	return s;
}

char *zt_pki_csr_pem(EVP_PKEY *k, const X509_NAME *subject, char *err, size_t errlen)
{
	X509_REQ *req = X509_REQ_new();
	BIO *b = NULL;
	char *s = NULL;

	if (!req || X509_REQ_set_version(req, 0) != 1 || X509_REQ_set_pubkey(req, k) != 1 ||
	    (subject && X509_REQ_set_subject_name(req, subject) != 1) || X509_REQ_sign(req, k, EVP_sha256()) <= 0) {
		ossl_seterr(err, errlen, "certificate request");
		goto out;
	}
	b = BIO_new(BIO_s_mem());
	if (!b || PEM_write_bio_X509_REQ(b, req) != 1) {
		ossl_seterr(err, errlen, "certificate request PEM");
		goto out;
	}
	s = bio_to_string(b);
out:
	BIO_free(b);
	X509_REQ_free(req);
	return s;
}

X509 *zt_pki_first_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	ERR_clear_error();
	return x;
}

char *zt_pki_ca_union(const char *new_ca, const char *old_ca, char *err, size_t errlen)
{
	STACK_OF(X509) *nv = sk_X509_new_null();
	BIO *in = NULL, *out = BIO_new(BIO_s_mem());
	X509 *x;
	char *data = NULL, *res = NULL;
	long n;

	if (!nv || !out) {
		seterr(err, errlen, "out of memory");
		goto done;
	}
	in = BIO_new_mem_buf(new_ca, -1);
	while (in && (x = PEM_read_bio_X509(in, NULL, NULL, NULL))) {
		if (!X509_check_ca(x)) {
			seterr(err, errlen, "the controller's CA bundle holds a certificate that is not a CA");
			X509_free(x);
			goto done;
		}
		if (!sk_X509_push(nv, x) || !PEM_write_bio_X509(out, x)) {
			seterr(err, errlen, "out of memory");
			goto done;
		}
	}
	ERR_clear_error();
	BIO_free(in);
	if (!sk_X509_num(nv)) {
		in = NULL;
		seterr(err, errlen, "the controller's CA bundle holds no certificate");
		goto done;
	}
	in = BIO_new_mem_buf(old_ca, -1);
	while (in && (x = PEM_read_bio_X509(in, NULL, NULL, NULL))) { /* every trusted root stays */
		bool have = false;

		for (int i = 0; i < sk_X509_num(nv) && !have; i++)
			have = !X509_cmp(x, sk_X509_value(nv, i));
		if (!have && !PEM_write_bio_X509(out, x)) {
			X509_free(x);
			seterr(err, errlen, "out of memory");
			goto done;
		}
		X509_free(x);
	}
	ERR_clear_error();
	n = BIO_get_mem_data(out, &data);
	res = n > 0 ? strndup(data, (size_t)n) : NULL;
	if (!res)
		seterr(err, errlen, "out of memory");
done:
	BIO_free(in);
	BIO_free(out);
	sk_X509_pop_free(nv, X509_free);
	return res;
}

int64_t zt_pki_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

void zt_pki_fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "?");
}

/* ---------------- atomic file replacement ---------------- */

static int fsync_dir_of(const char *path)
{
	char *d = strdup(path);
	int rc = -1;

	if (!d)
		return -1;
	int fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(d);
	return rc;
}

int zt_stage_add(struct zt_stage *s, const char *dst, const char *data, size_t len, mode_t mode_if_new,
		 char *err, size_t errlen)
{
	struct stat st;
	bool exists = stat(dst, &st) == 0;
	char *tmp = NULL;
	int fd = -1;

	if (s->n >= ZT_STAGE_MAX) {
		seterr(err, errlen, "too many files to replace");
		return -1;
	}
	if (asprintf(&tmp, "%s.XXXXXX", dst) < 0) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		seterr(err, errlen, "cannot create a file next to '%s': %s", dst, strerror(errno));
		free(tmp);
		return -1;
	}
	mode_t mode = exists ? (st.st_mode & 07777) : (mode_if_new & 07777);

	if (mode_if_new & ZT_STAGE_SECRET)
		mode &= 07600; /* key material: owner only, the one rule sipovld loads it by (priv.c) */

	if (fchmod(fd, mode)) {
		seterr(err, errlen, "cannot set the mode of '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	if (exists && (st.st_uid != geteuid() || st.st_gid != getegid()) && fchown(fd, st.st_uid, st.st_gid)) {
		seterr(err, errlen, "cannot keep the owner of '%s' (%u:%u): %s", dst, (unsigned)st.st_uid,
		       (unsigned)st.st_gid, strerror(errno));
		goto fail;
	}
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			seterr(err, errlen, "cannot write '%s': %s", tmp, w < 0 ? strerror(errno) : "short write");
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd)) {
		seterr(err, errlen, "cannot sync '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd)) {
		fd = -1;
		seterr(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	s->tmp[s->n] = tmp;
	s->dst[s->n] = strdup(dst);
	s->n++;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

int zt_stage_commit(struct zt_stage *s, char *err, size_t errlen)
{
	int rc = 0;

	for (int i = 0; i < s->n; i++) {
		if (rc == 0 && (!s->dst[i] || rename(s->tmp[i], s->dst[i]))) {
			seterr(err, errlen, "cannot rename '%s' to '%s': %s", s->tmp[i], s->dst[i] ? s->dst[i] : "?",
			       strerror(errno));
			rc = -1;
		}
		if (rc == 0)
			fsync_dir_of(s->dst[i]);
		else
			unlink(s->tmp[i]);
		free(s->tmp[i]);
		free(s->dst[i]);
	}
	s->n = 0;
	return rc;
}

void zt_stage_abort(struct zt_stage *s)
{
	for (int i = 0; i < s->n; i++) {
		unlink(s->tmp[i]);
		free(s->tmp[i]);
		free(s->dst[i]);
	}
	s->n = 0;
}
