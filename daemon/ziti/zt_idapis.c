// SPDX-License-Identifier: GPL-2.0
/*
 * The identity file's ztAPIs rewritten with the members of an HA cluster (zt_ctrls.c decides
 * when, zt_urls_next what). ziti-sdk-c keeps the learned members in its configuration's
 * controller list and hands it to the application, which saves the identity with that list as
 * ztAPIs; sipovld saves it itself.
 *
 * The file is read again under the identity's lock (the one certificate renewal takes, also
 * across processes), so that a renewal's rewrite and ours do not lose each other's change,
 * and only ztAPIs is replaced: every other field stays as the file has it. The new file is
 * written beside the old one, synced, made 0600 (it holds, or names, key material; its
 * owner is kept), renamed over it, and the directory is synced (zt_stage_*). On any failure
 * the old file is left as it was.
 */
#include "zt_internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int seterr(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* @root's ztAPIs set to @next; the serialized file (to free), NULL with @err */
static char *with_apis(struct json_object *root, const struct zt_urls *next, char *err, size_t errlen)
{
	struct json_object *arr = json_object_new_array();
	const char *js;
	size_t len = 0;
	char *out;

	for (size_t i = 0; arr && i < next->n; i++)
		if (json_object_array_add(arr, json_object_new_string(next->v[i]))) {
			json_object_put(arr);
			arr = NULL;
		}
	if (!arr || json_object_object_add(root, "ztAPIs", arr)) {
		json_object_put(arr);
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	js = json_object_to_json_string_length(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	out = js ? strndup(js, len) : NULL;
	if (!out)
		seterr(err, errlen, "out of memory");
	return out;
}

int zt_identity_save_apis(struct zt_identity *id, const struct zt_urls *m, char *err, size_t errlen)
{
	struct json_object *root = NULL, *idobj = NULL, *apis = NULL;
	struct zt_urls old = { 0 }, next = { 0 };
	struct zt_stage st = { 0 };
	char *text = NULL, *js = NULL, *aj = NULL;
	int lock, rc = -1;

	lock = zt_identity_lock(id, err, errlen);
	if (lock < 0)
		return lock;
	text = zt_read_file(id->path, 1 << 20, NULL);
	if (!text) {
		seterr(err, errlen, "cannot read '%s': %s", id->path, strerror(errno));
		goto out;
	}
	root = json_tokener_parse(text);
	OPENSSL_cleanse(text, strlen(text));
	if (!root || !json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "id", &idobj) ||
	    !json_object_is_type(idobj, json_type_object)) {
		seterr(err, errlen, "'%s' is no longer an identity file (no object 'id')", id->path);
		goto out;
	}
	json_object_object_get_ex(root, "ztAPIs", &apis);
	if (zt_urls_apis(&old, apis, zt_jstr(root, "ztAPI"))) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	rc = zt_urls_next(m, &old, &next);
	if (rc < 0) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	if (rc == 1) {
		rc = -1;
		js = with_apis(root, &next, err, errlen);
		if (!js || zt_stage_add(&st, id->path, js, strlen(js), 0600 | ZT_STAGE_SECRET, err, errlen))
			goto out;
		if (zt_stage_commit(&st, err, errlen))
			goto out;
		rc = 1;
	}
	/* what the file now holds: the next reply is compared with it */
	if (json_object_object_get_ex(root, "ztAPIs", &apis) && json_object_is_type(apis, json_type_array) &&
	    (aj = strdup(json_object_to_json_string_ext(apis, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)))) {
		free(id->apis_json);
		id->apis_json = aj;
	}
out:
	zt_stage_abort(&st);
	if (js)
		OPENSSL_cleanse(js, strlen(js));
	free(js);
	free(text);
	zt_urls_free(&old);
	zt_urls_free(&next);
	json_object_put(root);
	close(lock);
	return rc;
}
