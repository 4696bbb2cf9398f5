/* SPDX-License-Identifier: GPL-2.0 */
/* sipovlctl calls: the calls sipovld follows, from its control socket (ctl/calls.c). */
#ifndef SIPOVLCTL_CALLS_H
#define SIPOVLCTL_CALLS_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/*
 * One request line to sipovld's control socket ($SIPOVLD_CTL_SOCK or path), its JSON reply
 * in *doc. 0, or -1 with err saying what failed (not running, no reply, not JSON).
 */
int sipovld_request(const char *path, const char *req, struct json_object **doc, char *err, size_t errlen);

/* "sipovlctl calls": a table, with stats the streams of each call too, or the JSON document */
int calls_show(const char *path, bool json, bool pretty, bool stats, char *err, size_t errlen);

#endif
