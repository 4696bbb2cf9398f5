/* SPDX-License-Identifier: GPL-2.0 */
/* sipovlctl calls: the calls sipovld follows, from its control socket (ctl/calls.c). */
#ifndef SIPOVLCTL_CALLS_H
#define SIPOVLCTL_CALLS_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

/*
 * "sipovlctl calls": a table, with stats the streams of each call too, or the JSON document.
 * 0, or a negative enum sipovld_req_err (ctl/request.h) with err saying what failed.
 */
int calls_show(const char *path, bool json, bool pretty, bool stats, char *err, size_t errlen);

#endif
