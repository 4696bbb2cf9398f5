// SPDX-License-Identifier: GPL-2.0
/* Identity JSON (ziti edge enroll) loading and the TLS client context. */
#include "zt_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

char *zt_read_file(const char *path, size_t max, size_t *outlen)
{
	FILE *f = fopen(path, "rb");

	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);

	while (buf) {
		if (len == cap) {
			if (cap >= max) {
				free(buf);
				buf = NULL;
				errno = EFBIG;
				break;
			}
			cap *= 2;
			char *n = realloc(buf, cap + 1);

			if (!n) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = n;
		}
		size_t r = fread(buf + len, 1, cap - len, f);

		if (r == 0)
			break;
		len += r;
	}
	fclose(f);
	if (buf) {
		buf[len] = 0;
		if (outlen)
			*outlen = len;
	}
	return buf;
}

/* The file a "file://p", "file:p" or "p" value names; NULL for "pem:..." (inline). */
static const char *value_path(const char *v)
{
	if (strncmp(v, "pem:", 4) == 0)
		return NULL;
	if (strncmp(v, "file://", 7) == 0)
		return v + 7;
	if (strncmp(v, "file:", 5) == 0)
		return v + 5;
	return v;
}

const char *zt_identity_key_file(const struct zt_identity *id)
{
	return value_path(id->key_val);
}

/* "pem:..." → the PEM text; "file://p", "file:p" or "p" → the file content. */
static char *resolve_value(const char *v, const char *what, char *err, size_t errlen)
{
	const char *path = value_path(v);

	if (!path)
		return strdup(v + 4);
	char *s = zt_read_file(path, 1 << 20, NULL);

	if (!s)
		seterr(err, errlen, "identity: cannot read %s file '%s': %s", what, path, strerror(errno));
	return s;
}

int zt_parse_url(const char *url, char **scheme, char **host, char **port, char **path)
{
	const char *p = strstr(url, "://");

	if (!p)
		return -EINVAL;
	*scheme = strndup(url, p - url);
	p += 3;
	const char *hs = p, *he;

	if (*p == '[') {
		he = strchr(p, ']');
		if (!he)
			goto bad;
		hs = p + 1;
		p = he + 1;
	} else {
		he = p + strcspn(p, ":/");
		p = he;
	}
	*host = strndup(hs, he - hs);
	if (*p == ':') {
		const char *ps = p + 1;

		p = ps + strcspn(ps, "/");
		*port = strndup(ps, p - ps);
	} else {
		*port = strdup(strcmp(*scheme, "https") == 0 ? "443" : "80");
	}
	*path = strdup(*p ? p : "");
	if (!**host || !**port)
		goto bad2;
	return 0;
bad2:
	free(*host);
	free(*port);
	free(*path);
bad:
	free(*scheme);
	*scheme = *host = *port = *path = NULL;
	return -EINVAL;
}

static const char *json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void zt_identity_free(struct zt_identity *id)
{
	if (!id)
		return;
	free(id->api_url);
	free(id->apis_json);
	free(id->host);
	free(id->port);
	free(id->base_path);
	free(id->cert_fp);
	free(id->path);
	free(id->cert_val);
	free(id->key_val);
	free(id->ca_val);
	free(id->ca_pem);
	if (id->key_pem)
		OPENSSL_cleanse(id->key_pem, strlen(id->key_pem));
	free(id->key_pem);
	X509_NAME_free(id->subject);
	SSL_SESSION_free(id->api_sess);
	SSL_CTX_free(id->ssl);
	free(id);
}

/*
 * A new session (TLS 1.3: a ticket after the handshake) on a controller connection: keep
 * the latest for the next request. Router channels are long-lived and not resumed.
 */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct zt_identity *id = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	/* a session of a replaced certificate (renewal) is not worth keeping */
	if (!id || SSL_get_app_data(ssl) != ZT_SSL_API || !SSL_SESSION_is_resumable(sess) ||
	    SSL_get_SSL_CTX(ssl) != id->ssl)
		return 0;
	SSL_SESSION_free(id->api_sess);
	id->api_sess = sess;
	return 1; /* we keep the reference */
}

const char *zt_identity_api(const struct zt_identity *id)
{
	return id->api_url;
}

static void ossl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char b[256];

	ERR_error_string_n(e, b, sizeof(b));
	ERR_clear_error();
	seterr(err, errlen, "identity: %s: %s", what, e ? b : "no details");
}

/*
 * Build the TLS context of (cert, key, ca) and make it the identity's. On error the identity
 * is unchanged. A replaced context lives on in the connections made with it.
 */
static int setup_ssl(struct zt_identity *id, const char *cert_pem, const char *key_pem,
		     const char *ca_pem, char *err, size_t errlen)
{
	int rc = -1;
	BIO *b = NULL;
	X509 *leaf = NULL;
	EVP_PKEY *key = NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		ossl_err(err, errlen, "SSL_CTX_new");
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

	/* certificate (+ chain) */
	b = BIO_new_mem_buf(cert_pem, -1);
	leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!leaf) {
		ossl_err(err, errlen, "id.cert is not a PEM certificate");
		goto out;
	}
	if (SSL_CTX_use_certificate(ctx, leaf) != 1) {
		ossl_err(err, errlen, "id.cert rejected");
		goto out;
	}
	for (;;) {
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

		if (!x)
			break;
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			break;
		}
	}
	ERR_clear_error();
	BIO_free(b);
	b = NULL;

	/* validity period */
	if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
		BIO *m = BIO_new(BIO_s_mem());
		char when[64] = "?";

		if (m) {
			ASN1_TIME_print(m, X509_get0_notAfter(leaf));
			int n = BIO_read(m, when, sizeof(when) - 1);

			when[n > 0 ? n : 0] = 0;
			BIO_free(m);
		}
		seterr(err, errlen, "identity: certificate expired (notAfter %s)", when);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
		seterr(err, errlen, "identity: certificate not yet valid");
		goto out;
	}

	/* key */
	b = BIO_new_mem_buf(key_pem, -1);
	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	if (!key) {
		ossl_err(err, errlen, "id.key is not a PEM private key");
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		ossl_err(err, errlen, "id.key does not match id.cert");
		goto out;
	}
	BIO_free(b);
	b = NULL;

	/* CA bundle */
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	int nca = 0;

	b = BIO_new_mem_buf(ca_pem, -1);
	for (;;) {
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

		if (!x)
			break;
		if (X509_STORE_add_cert(st, x) == 1)
			nca++;
		X509_free(x);
	}
	ERR_clear_error();
	if (nca == 0) {
		seterr(err, errlen, "identity: id.ca holds no PEM certificate");
		goto out;
	}

	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *fp = NULL, *kp = strdup(key_pem), *cp = strdup(ca_pem);
	X509_NAME *subj = X509_NAME_dup(X509_get_subject_name(leaf));

	X509_digest(leaf, EVP_sha1(), md, &mdlen);
	fp = calloc(1, mdlen * 2 + 1);
	for (unsigned i = 0; fp && i < mdlen; i++)
		sprintf(fp + 2 * i, "%02x", md[i]);
	if (!fp || !kp || !cp || !subj) {
		free(fp);
		free(kp);
		free(cp);
		X509_NAME_free(subj);
		seterr(err, errlen, "identity: out of memory");
		goto out;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	SSL_CTX_set_app_data(ctx, id);
	SSL_CTX_free(id->ssl);
	id->ssl = ctx;
	ctx = NULL;
	free(id->cert_fp);
	id->cert_fp = fp;
	if (id->key_pem)
		OPENSSL_cleanse(id->key_pem, strlen(id->key_pem));
	free(id->key_pem);
	id->key_pem = kp;
	free(id->ca_pem);
	id->ca_pem = cp;
	X509_NAME_free(id->subject);
	id->subject = subj;
	id->not_before = zt_pki_time(X509_get0_notBefore(leaf));
	id->not_after = zt_pki_time(X509_get0_notAfter(leaf));
	/* the controller's session ticket belongs to the previous certificate */
	SSL_SESSION_free(id->api_sess);
	id->api_sess = NULL;
	rc = 0;
out:
	BIO_free(b);
	X509_free(leaf);
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	return rc;
}

struct zt_identity *zt_identity_load(const char *path, char *err, size_t errlen)
{
	struct zt_identity *id = NULL;
	struct json_object *root = NULL;
	char *text = NULL, *cert = NULL, *key = NULL, *ca = NULL;
	char *scheme = NULL;

	text = zt_read_file(path, 1 << 20, NULL);
	if (!text) {
		seterr(err, errlen, "identity: cannot read '%s': %s", path, strerror(errno));
		return NULL;
	}
	enum json_tokener_error jerr;

	root = json_tokener_parse_verbose(text, &jerr);
	if (!root || !json_object_is_type(root, json_type_object)) {
		seterr(err, errlen, "identity: '%s' is not a JSON object (%s)", path,
		       root ? "wrong type" : json_tokener_error_desc(jerr));
		goto fail;
	}
	const char *api = json_str(root, "ztAPI");
	struct json_object *idobj = NULL;

	if (!api) {
		/* fall back to the first of ztAPIs */
		struct json_object *arr;

		if (json_object_object_get_ex(root, "ztAPIs", &arr) && json_object_is_type(arr, json_type_array) &&
		    json_object_array_length(arr) > 0)
			api = json_object_get_string(json_object_array_get_idx(arr, 0));
	}
	if (!api || !*api) {
		seterr(err, errlen, "identity: missing field 'ztAPI'");
		goto fail;
	}
	if (!json_object_object_get_ex(root, "id", &idobj) || !json_object_is_type(idobj, json_type_object)) {
		seterr(err, errlen, "identity: missing object 'id'");
		goto fail;
	}
	const char *vc = json_str(idobj, "cert"), *vk = json_str(idobj, "key"), *va = json_str(idobj, "ca");

	if (!vc || !vk || !va) {
		seterr(err, errlen, "identity: missing field 'id.%s'", !vc ? "cert" : !vk ? "key" : "ca");
		goto fail;
	}
	if (!strncmp(vk, "engine:", 7) || !strncmp(vk, "pkcs11:", 7)) {
		seterr(err, errlen, "identity: key type '%.*s' is not supported (only pem:/file:)", 6, vk);
		goto fail;
	}
	id = calloc(1, sizeof(*id));
	if (!id)
		goto fail;
	id->api_url = strdup(api);
	if (zt_parse_url(api, &scheme, &id->host, &id->port, &id->base_path) || strcmp(scheme, "https")) {
		seterr(err, errlen, "identity: ztAPI '%s' is not an https:// URL", api);
		goto fail;
	}
	struct json_object *apis;

	if (json_object_object_get_ex(root, "ztAPIs", &apis) && json_object_is_type(apis, json_type_array))
		id->apis_json = strdup(json_object_to_json_string_ext(apis, JSON_C_TO_STRING_PLAIN));
	id->path = strdup(path);
	id->cert_val = strdup(vc);
	id->key_val = strdup(vk);
	id->ca_val = strdup(va);
	if (!id->path || !id->cert_val || !id->key_val || !id->ca_val) {
		seterr(err, errlen, "identity: out of memory");
		goto fail;
	}
	if (!(cert = resolve_value(vc, "cert", err, errlen)) || !(key = resolve_value(vk, "key", err, errlen)) ||
	    !(ca = resolve_value(va, "ca", err, errlen)))
		goto fail;
	if (setup_ssl(id, cert, key, ca, err, errlen))
		goto fail;
	goto out;
fail:
	zt_identity_free(id);
	id = NULL;
out:
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	free(scheme);
	if (text)
		OPENSSL_cleanse(text, strlen(text)); /* may hold a pem: key */
	free(text);
	free(cert);
	free(key);
	free(ca);
	json_object_put(root);
	return id;
}

int zt_identity_replace(struct zt_identity *id, const char *cert_pem, const char *key_pem, const char *ca_pem,
			char *err, size_t errlen)
{
	return setup_ssl(id, cert_pem, key_pem ? key_pem : id->key_pem, ca_pem ? ca_pem : id->ca_pem, err, errlen);
}

int zt_identity_check(const char *cert_pem, const char *key_pem, const char *ca_pem, char *err, size_t errlen)
{
	struct zt_identity tmp = { 0 };
	int rc = setup_ssl(&tmp, cert_pem, key_pem, ca_pem, err, errlen);

	SSL_CTX_free(tmp.ssl);
	free(tmp.cert_fp);
	if (tmp.key_pem)
		OPENSSL_cleanse(tmp.key_pem, strlen(tmp.key_pem));
	free(tmp.key_pem);
	free(tmp.ca_pem);
	X509_NAME_free(tmp.subject);
	return rc;
}

/*
 * A new file name next to @path for a new version of it: "<path without .vN>.v<time>", one
 * that does not exist yet.
 */
static char *version_path(const char *path)
{
	size_t n = strlen(path);
	const char *v = strrchr(path, '.');
	char *out = NULL;

	if (v && v[1] == 'v' && v[2] && strspn(v + 2, "0123456789") == strlen(v + 2))
		n = (size_t)(v - path);
	for (unsigned i = 0; i < 100; i++) {
		struct stat sb;

		free(out);
		out = NULL;
		if (asprintf(&out, "%.*s.v%lld%s%.0u", (int)n, path, (long long)time(NULL), i ? "-" : "", i) < 0)
			return NULL;
		if (stat(out, &sb) && errno == ENOENT)
			return out;
	}
	free(out);
	return NULL;
}

/*
 * Stage the identity's new credentials (cert always; key and ca when not NULL) for an atomic
 * replacement: an inline ("pem:") value is rewritten in the identity JSON, a file value has
 * its file rewritten. The JSON is re-read so that fields we do not know are kept.
 *
 * When more than one file changes (a key roll with file: references, or a new CA bundle in
 * its own file), renaming them one after the other is not atomic as a set: a crash between
 * leaves a certificate and a key that do not match. Each is then written as a new file
 * (name.vTIME) and the identity JSON, renamed last, is rewritten to name them: the JSON's
 * rename is the one commit point, the old files stay as they were until then (and after).
 * Keys, and a JSON holding one, are written mode 0600 (group and others cleared).
 */
int zt_identity_stage_update(struct zt_identity *id, const char *cert_pem, const char *key_pem,
			     const char *ca_pem, struct zt_stage *st, char *err, size_t errlen)
{
	struct json_object *root = NULL, *idobj = NULL;
	char *text = zt_read_file(id->path, 1 << 20, NULL);
	bool json_changed = false;
	int rc = -1, nfiles = 0;

	if (!text) {
		seterr(err, errlen, "cannot read '%s': %s", id->path, strerror(errno));
		return -1;
	}
	root = json_tokener_parse(text);
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	if (!root || !json_object_object_get_ex(root, "id", &idobj) || !json_object_is_type(idobj, json_type_object)) {
		seterr(err, errlen, "'%s' is no longer an identity file (no object 'id')", id->path);
		goto out;
	}
	const struct {
		const char *key, *val, *pem;
		mode_t mode;
	} items[] = {
		{ "cert", id->cert_val, cert_pem, 0644 },
		{ "key", id->key_val, key_pem, 0600 | ZT_STAGE_SECRET },
		{ "ca", id->ca_val, ca_pem, 0644 },
	};

	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		nfiles += items[i].pem && value_path(items[i].val);
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		if (!items[i].pem)
			continue;
		const char *path = value_path(items[i].val);
		char *v = NULL;

		if (path && nfiles < 2) {
			if (zt_stage_add(st, path, items[i].pem, strlen(items[i].pem), items[i].mode, err, errlen))
				goto out;
			continue;
		}
		if (path) { /* a new version of the file, named by the JSON */
			char *np = version_path(path);
			struct stat sb;
			mode_t mode = items[i].mode;

			if (!stat(path, &sb))
				mode = (sb.st_mode & 07777) | (mode & ZT_STAGE_SECRET);
			if (!np || zt_stage_add(st, np, items[i].pem, strlen(items[i].pem), mode, err, errlen)) {
				if (!np)
					seterr(err, errlen, "no free file name next to '%s'", path);
				free(np);
				goto out;
			}
			if (asprintf(&v, "file:%s", np) < 0)
				v = NULL;
			free(np);
		} else if (asprintf(&v, "pem:%s", items[i].pem) < 0) {
			v = NULL;
		}
		if (!v) {
			seterr(err, errlen, "out of memory");
			goto out;
		}
		json_object_object_add(idobj, items[i].key, json_object_new_string(v));
		OPENSSL_cleanse(v, strlen(v));
		free(v);
		json_changed = true;
	}
	if (json_changed) {
		size_t len = 0;
		const char *js = json_object_to_json_string_length(root, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		mode_t jm = 0600 | (value_path(id->key_val) ? 0 : ZT_STAGE_SECRET);

		if (!js || zt_stage_add(st, id->path, js, len, jm, err, errlen))
			goto out;
	}
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

int zt_identity_reread_refs(struct zt_identity *id, char *err, size_t errlen)
{
	char *text = zt_read_file(id->path, 1 << 20, NULL);
	struct json_object *root = text ? json_tokener_parse(text) : NULL, *idobj = NULL;
	int rc = -1;

	if (text) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	if (!root || !json_object_object_get_ex(root, "id", &idobj) || !json_object_is_type(idobj, json_type_object)) {
		seterr(err, errlen, "cannot read back '%s'", id->path);
		goto out;
	}
	const char *vc = json_str(idobj, "cert"), *vk = json_str(idobj, "key"), *va = json_str(idobj, "ca");
	char *c = vc ? strdup(vc) : NULL, *k = vk ? strdup(vk) : NULL, *a = va ? strdup(va) : NULL;

	if (!c || !k || !a) {
		free(c);
		free(k);
		free(a);
		seterr(err, errlen, "'%s' lost its id.cert, id.key or id.ca", id->path);
		goto out;
	}
	free(id->cert_val);
	if (id->key_val)
		OPENSSL_cleanse(id->key_val, strlen(id->key_val));
	free(id->key_val);
	free(id->ca_val);
	id->cert_val = c;
	id->key_val = k;
	id->ca_val = a;
	rc = 0;
out:
	json_object_put(root);
	return rc;
}

char *zt_identity_cert_pem(const struct zt_identity *id, char *err, size_t errlen)
{
	return resolve_value(id->cert_val, "cert", err, errlen);
}

int zt_identity_adopt_newer(struct zt_identity *id, bool *adopted, char *err, size_t errlen)
{
	struct zt_identity *n = zt_identity_load(id->path, err, errlen);
	char *cert = NULL, *key = NULL, *ca = NULL;
	int rc = -1;

	*adopted = false;
	if (!n)
		return -1;
	if (n->not_after <= id->not_after || !n->cert_fp || (id->cert_fp && !strcmp(n->cert_fp, id->cert_fp))) {
		rc = 0;
		goto out;
	}
	if (!(cert = resolve_value(n->cert_val, "cert", err, errlen)) ||
	    !(key = resolve_value(n->key_val, "key", err, errlen)) || !(ca = resolve_value(n->ca_val, "ca", err, errlen)) ||
	    setup_ssl(id, cert, key, ca, err, errlen) || zt_identity_reread_refs(id, err, errlen))
		goto out;
	*adopted = true;
	rc = 0;
out:
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	free(cert);
	free(key);
	free(ca);
	zt_identity_free(n);
	return rc;
}

/*
 * The identity file's lock (".NAME.json.lock" beside it). The renewing process (@shared false)
 * creates it and holds it exclusively; a reader (@shared true) opens it read-only, never creates
 * it, and shares it with other readers.
 */
static int lock_file(const struct zt_identity *id, bool shared, char *err, size_t errlen)
{
	char *lp = NULL, *slash = strrchr(id->path, '/');
	int fd, e;

	if (asprintf(&lp, "%.*s.%s.lock", slash ? (int)(slash - id->path + 1) : 0, id->path,
		     slash ? slash + 1 : id->path) < 0) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	fd = shared ? open(lp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		e = errno;
		seterr(err, errlen, "cannot open the lock file '%s': %s", lp, strerror(e));
		free(lp);
		return shared && e == ENOENT ? -3 : -1;
	}
	if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		e = errno;
		if (e == EWOULDBLOCK && !shared)
			seterr(err, errlen, "'%s' is held by another process renewing this identity", lp);
		else
			seterr(err, errlen, "cannot lock '%s': %s", lp, strerror(e));
		close(fd);
		free(lp);
		return e == EWOULDBLOCK ? -2 : -1;
	}
	free(lp);
	return fd;
}

int zt_identity_lock(const struct zt_identity *id, char *err, size_t errlen)
{
	return lock_file(id, false, err, errlen);
}

int zt_identity_lock_shared(const struct zt_identity *id, char *err, size_t errlen)
{
	return lock_file(id, true, err, errlen);
}

char *zt_identity_json(const char *api_url, const char *cert_pem, const char *key_pem, const char *ca_pem)
{
	struct json_object *root = json_object_new_object(), *idobj = json_object_new_object();
	char *c = NULL, *k = NULL, *a = NULL, *out = NULL;

	if (!root || !idobj || asprintf(&c, "pem:%s", cert_pem) < 0 || asprintf(&k, "pem:%s", key_pem) < 0 ||
	    asprintf(&a, "pem:%s", ca_pem) < 0)
		goto done;
	json_object_object_add(root, "ztAPI", json_object_new_string(api_url));
	struct json_object *apis = json_object_new_array();

	json_object_array_add(apis, json_object_new_string(api_url));
	json_object_object_add(root, "ztAPIs", apis);
	json_object_object_add(idobj, "key", json_object_new_string(k));
	json_object_object_add(idobj, "cert", json_object_new_string(c));
	json_object_object_add(idobj, "ca", json_object_new_string(a));
	json_object_object_add(root, "id", idobj);
	idobj = NULL;
	out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
done:
	if (k)
		OPENSSL_cleanse(k, strlen(k));
	free(c);
	free(k);
	free(a);
	json_object_put(idobj);
	json_object_put(root);
	return out;
}

int zt_identity_use_cert(SSL_CTX *ctx, const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
	BIO *b = BIO_new_mem_buf(cert_pem, -1);
	X509 *leaf = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = NULL;
	int rc = -1;

	if (!leaf || SSL_CTX_use_certificate(ctx, leaf) != 1) {
		ossl_err(err, errlen, "the client certificate is not a PEM certificate");
		goto out;
	}
	for (X509 *x; (x = PEM_read_bio_X509(b, NULL, NULL, NULL));)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
			X509_free(x);
	ERR_clear_error();
	BIO_free(b);
	b = BIO_new_mem_buf(key_pem, -1);
	key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	if (!key || SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		ossl_err(err, errlen, key ? "the key does not match the client certificate" : "the key is not a PEM private key");
		goto out;
	}
	rc = 0;
out:
	BIO_free(b);
	X509_free(leaf);
	EVP_PKEY_free(key);
	return rc;
}
