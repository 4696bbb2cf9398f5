/* SPDX-License-Identifier: GPL-2.0 */
/* sipovlctl JSON output (json-c). The schema is in Documentation/sipovlctl.8. */
#ifndef _SIPOVL_CTL_JSON_H
#define _SIPOVL_CTL_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <json-c/json.h>

#include "ctl/libsipovl.h"

/* A string; bytes that are not UTF-8 become U+FFFD. */
struct json_object *json_name(const char *name);
struct json_object *json_intercept(const struct sipovl_intercept *in, bool stats);
struct json_object *json_istats(const struct sipovl_istats *s);
struct json_object *json_stats(const struct sipovl_stats *s);
struct json_object *json_prefixes(const struct sipovl_prefix *v, uint32_t n);
struct json_object *json_config(const struct sipovl_config *c);
struct json_object *json_event(const struct sipovl_event *ev);

/* Prints @o followed by a newline and releases it. */
void json_emit(FILE *f, struct json_object *o, bool pretty);

/*
 * Streams a JSON array without holding all of it in memory: begin, then
 * one element at a time (released), then end.
 */
struct json_stream {
	FILE *f;
	bool pretty;
	size_t n;
};
void json_array_begin(struct json_stream *s, FILE *f, bool pretty);
void json_array_add(struct json_stream *s, struct json_object *o);
void json_array_end(struct json_stream *s);

#endif /* _SIPOVL_CTL_JSON_H */
