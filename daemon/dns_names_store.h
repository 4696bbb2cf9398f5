/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld's DNS responder: its name table kept in a file across restarts (dns_names_store.c). */
#ifndef SIPOVLD_DNS_NAMES_STORE_H
#define SIPOVLD_DNS_NAMES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/cfg.h"

struct dns_zone;

/* The file of @d: dns_names_file; without it $STATE_DIRECTORY/dns-names (systemd's
 * StateDirectory=); NULL: not kept. In @buf when built. */
const char *dns_names_path(const struct daemon_cfg *d, char *buf, size_t len);
/*
 * The new zone @z (empty, its clock and idle time set) gets its names: from @carry (the
 * previous zone's dns_zone_dump, a restart of the responder on reload) or, without it, from
 * @path. What happened is logged. Then the zone's changes are written to @path (NULL: nowhere).
 */
void dns_names_start(struct dns_zone *z, const char *path, const char *carry, size_t carry_len);
/* names got or lost addresses: written within a second, off the event loop */
void dns_names_changed(void);
/* the zone goes: its last changes are submitted for writing now */
void dns_names_stop(void);

struct dns_names_stats {
	const char *path;               /* NULL: not kept */
	uint64_t writes, write_errors;
};
void dns_names_stats(struct dns_names_stats *st);

#endif
