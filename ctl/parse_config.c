// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl: configuration files (the apply format of
 * Documentation/sipovlctl-config.md): the tokenizer, one line at a time,
 * duplicate names and ids, streaming reads. No netlink, no output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ctl/parse.h"
#include "ctl/parse_int.h"

/* Prefixes an existing message with "FNAME:LINE: ". */
static void err_at(struct ctl_err *err, const char *fname, unsigned int line)
{
	char tmp[sizeof(err->msg)];

	memcpy(tmp, err->msg, sizeof(tmp));
	snprintf(err->msg, sizeof(err->msg), "%.400s:%u: %.560s", fname, line, tmp);
}


static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Byte classes of the tokenizer: one table load per byte of a long file. */
enum { C_SPACE = 1, C_STOP = 2 };	/* C_STOP: ends an unquoted word */
static const unsigned char cclass[256] = {
	[' '] = C_SPACE | C_STOP, ['\t'] = C_SPACE | C_STOP,
	['\r'] = C_SPACE | C_STOP, ['\n'] = C_SPACE | C_STOP,
	['\v'] = C_SPACE | C_STOP, ['\f'] = C_SPACE | C_STOP,
	['\0'] = C_STOP, ['"'] = C_STOP,
};

bool is_space(char c)
{
	return cclass[(unsigned char)c] & C_SPACE;
}

int tokenize_line(char *line, char ***toks, int *cap, struct ctl_err *err)
{
	char *r = line, *w;
	int n = 0;

	for (;;) {
		while (cclass[(unsigned char)*r] & C_SPACE)
			r++;
		if (!*r || *r == '#')
			return n;
		if (n == *cap) {
			int c = *cap ? *cap * 2 : 16;
			char **p = realloc(*toks, (size_t)c * sizeof(**toks));

			if (!p) {
				ctl_errf(err, "out of memory");
				return -1;
			}
			*toks = p;
			*cap = c;
		}
		(*toks)[n++] = w = r;
		if (*r != '"') {
			while (!(cclass[(unsigned char)*r] & C_STOP))
				r++;
			if (*r == '"') {
				ctl_errf(err, "unexpected '\"' inside a word (quote the whole word)");
				return -1;
			}
			if (*r)
				*r++ = '\0';
			continue;
		}
		/* Quoted: unescape in place. */
		r++;
		for (;;) {
			if (!*r) {
				ctl_errf(err, "unterminated quoted string");
				return -1;
			}
			if (*r == '"')
				break;
			if (*r == '\\') {
				int hi, lo;

				if (r[1] == '"' || r[1] == '\\') {
					*w++ = r[1];
					r += 2;
					continue;
				}
				if (r[1] == 'x' && (hi = hexval(r[2])) >= 0 &&
				    (lo = hexval(r[3])) >= 0 && (hi || lo)) {
					*w++ = (char)(hi << 4 | lo);
					r += 4;
					continue;
				}
				ctl_errf(err, "bad escape in quoted string: expected \\\", \\\\ or \\xNN");
				return -1;
			}
			*w++ = *r++;
		}
		r++;
		if (*r && !is_space(*r)) {
			ctl_errf(err, "unexpected text after closing '\"'");
			return -1;
		}
		*w = '\0';
		if (*r)
			r++;
	}
}

/*
 * Open-addressing hash sets for duplicate detection (ids and names). A slot
 * keeps the key's hash next to the intercept's index, so that probing and
 * growing never touch the intercepts themselves (each probe used to be a
 * cache miss into the big array) and names are compared only on a hash hit.
 */
struct dupslot {
	uint32_t idx;		/* 0: empty, else index + 1 into the intercepts */
	uint32_t hash;
};

struct dupset {
	struct dupslot *slot;
	size_t mask, used;
};

static uint32_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (uint32_t)(h ^ h >> 32);
}

static uint32_t hash_id(uint32_t id)
{
	return (uint32_t)((uint64_t)id * 0x9e3779b97f4a7c15ULL >> 32);
}

/* Grows @d to at least @min slots (a power of two), at least doubling it. */
static int dupset_grow_to(struct dupset *d, size_t min)
{
	size_t size = d->slot ? (d->mask + 1) * 2 : 1024, i, j;
	/*
	 * Not calloc(): probing reads before it writes, and a read of fresh
	 * calloc'ed memory maps the shared zero page, whose replacement on the
	 * first write flushes the TLB of every CPU running this process (an IPI
	 * per page while apply's sender thread runs; slow in a VM). memset
	 * writes first.
	 */
	struct dupslot *slot;

	while (size < min)
		size *= 2;
	slot = malloc(size * sizeof(*slot));
	if (!slot)
		return -1;
	memset(slot, 0, size * sizeof(*slot));
	for (i = 0; d->slot && i <= d->mask; i++) {
		if (!d->slot[i].idx)
			continue;
		j = d->slot[i].hash & (size - 1);
		while (slot[j].idx)
			j = (j + 1) & (size - 1);
		slot[j] = d->slot[i];
	}
	free(d->slot);
	d->slot = slot;
	d->mask = size - 1;
	return 0;
}

static int dupset_grow(struct dupset *d)
{
	return dupset_grow_to(d, 0);
}

/*
 * Inserts intercept @idx (by name or id); returns the index of an earlier
 * intercept with the same key, -1 if none, -2 on allocation failure.
 */
static long dupset_insert(struct dupset *d, const struct ctl_config *cfg,
			  size_t idx, bool names)
{
	const struct sipovl_intercept *in = &cfg->v[idx];
	uint32_t h = names ? hash_name(in->name) : hash_id(in->id);
	size_t j;

	if ((!d->slot || (d->used + 1) * 2 > d->mask + 1) && dupset_grow(d))
		return -2;
	for (j = h & d->mask; d->slot[j].idx; j = (j + 1) & d->mask) {
		const struct sipovl_intercept *o;

		if (d->slot[j].hash != h)
			continue;
		o = &cfg->v[d->slot[j].idx - 1];
		if (names ? !strcmp(o->name, in->name) : o->id == in->id)
			return (long)d->slot[j].idx - 1;
	}
	d->slot[j].idx = (uint32_t)idx + 1;
	d->slot[j].hash = h;
	d->used++;
	return -1;
}

static bool dupset_has_id(const struct dupset *d, const struct ctl_config *cfg,
			  uint32_t id)
{
	uint32_t h = hash_id(id);
	size_t j;

	if (!d->slot)
		return false;
	for (j = h & d->mask; d->slot[j].idx; j = (j + 1) & d->mask)
		if (d->slot[j].hash == h && cfg->v[d->slot[j].idx - 1].id == id)
			return true;
	return false;
}

void ctl_config_release(struct ctl_config *cfg)
{
	/* The intercepts' arrays live in the arena. */
	free(cfg->v);
	arena_free(cfg->arena);
	free(cfg->lines);
	free(cfg->sources);
	memset(cfg, 0, sizeof(*cfg));
}

/*
 * Duplicate checks of one parse. Explicit ids usually come in ascending order
 * (show --config writes them so): while they do, they are unique and need no
 * hash set; the first id out of order (or a line without an id, at the end)
 * puts the ids seen so far into one.
 */
struct cfg_state {
	struct dupset names, ids;
	bool ids_hashed;
	uint32_t last_id;
	unsigned int sources_line;
};

/* Hashes the explicit ids of cfg->v[0..n); they are unique (ascending). */
static int ids_hash(struct cfg_state *st, const struct ctl_config *cfg, size_t n)
{
	size_t i;

	st->ids_hashed = true;
	for (i = 0; i < n; i++)
		if ((cfg->v[i].present & SIPOVL_I_ID) &&
		    dupset_insert(&st->ids, cfg, i, false) == -2)
			return -1;
	return 0;
}

static int config_line(struct ctl_config *cfg, char **tok, int ntok,
		       unsigned int line, struct cfg_state *st,
		       const struct ctl_config_hooks *hooks,
		       struct ctl_err *err)
{
	struct sipovl_intercept in;
	char q[TOKQ_LEN];
	long dup;

	if (strcmp(tok[0], "intercept") && !strcmp(tok[0], "sources")) {
		if (st->sources_line) {
			ctl_errf(err, "second \"sources\" line (first on line %u)",
				 st->sources_line);
			return -1;
		}
		if (ntok != 2) {
			ctl_errf(err, ntok < 2 ?
				 "missing value after \"sources\": expected prefixes or none" :
				 "unexpected %s after the sources list",
				 tokq(q, ntok < 2 ? "" : tok[2]));
			return -1;
		}
		st->sources_line = line;
		cfg->has_sources = true;
		if (!strcmp(tok[1], "none"))
			return 0;
		return parse_prefix_list(tok[1], "transparent source",
					 SIPOVL_MAX_TRANSPARENT_SOURCES,
					 &cfg->sources, &cfg->n_sources, err);
	}
	if (strcmp(tok[0], "intercept")) {
		ctl_errf(err, "unknown keyword %s: expected intercept or sources",
			 tokq(q, tok[0]));
		return -1;
	}
	if (cfg->n >= SIPOVL_MAX_INTERCEPTS) {
		ctl_errf(err, "too many intercepts: at most %u", SIPOVL_MAX_INTERCEPTS);
		return -1;
	}
	if (intercept_args(ntok - 1, tok + 1, true, &in, &cfg->arena, err))
		return -1;
	if (cfg->n == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 64;
		void *v, *l;

		if (hooks)
			hooks->lock(hooks->arg);
		v = realloc(cfg->v, cap * sizeof(*cfg->v));
		if (v)
			cfg->v = v;
		if (hooks)
			hooks->unlock(hooks->arg);
		l = v ? realloc(cfg->lines, cap * sizeof(*cfg->lines)) : NULL;
		if (l)
			cfg->lines = l;
		if (!v || !l) {
			ctl_errf(err, "out of memory");
			return -1;
		}
		cfg->cap = cap;
	}
	cfg->v[cfg->n] = in;
	cfg->lines[cfg->n] = line;
	cfg->n++;

	dup = dupset_insert(&st->names, cfg, cfg->n - 1, true);
	if (dup >= 0) {
		ctl_errf(err, "duplicate name %s (also on line %u)",
			 tokq(q, in.name), cfg->lines[dup]);
		return -1;
	}
	if (dup == -1 && (in.present & SIPOVL_I_ID)) {
		if (!st->ids_hashed && in.id > st->last_id) {
			st->last_id = in.id;
		} else {
			if (!st->ids_hashed && ids_hash(st, cfg, cfg->n - 1))
				dup = -2;
			else
				dup = dupset_insert(&st->ids, cfg, cfg->n - 1, false);
			if (dup >= 0) {
				ctl_errf(err, "duplicate id %u (also on line %u)",
					 in.id, cfg->lines[dup]);
				return -1;
			}
		}
	}
	if (dup == -2) {
		ctl_errf(err, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Size the arrays for the whole file up front (an intercept line has at least
 * 32 bytes): no copies while they grow, and while streaming they never move
 * under the sender thread (moving them with mremap also costs every CPU a
 * TLB flush). Untouched reserved memory costs nothing.
 */
static int config_reserve(struct ctl_config *cfg, FILE *f, size_t *fsize)
{
	struct stat st;
	size_t cap;
	int fd = fileno(f);

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0)
		return 0;
	*fsize = (size_t)st.st_size;
	cap = (size_t)st.st_size / 32 + 64;
	if (cap > SIPOVL_MAX_INTERCEPTS + 1)
		cap = SIPOVL_MAX_INTERCEPTS + 1;
	cfg->v = malloc(cap * sizeof(*cfg->v));
	cfg->lines = malloc(cap * sizeof(*cfg->lines));
	if (!cfg->v || !cfg->lines)
		return -1;
	cfg->cap = cap;
	return 0;
}

/* Intercepts handed to ready() at a time while parsing. */
#define STREAM_STEP 2048
/*
 * The file is read in chunks of this size into one buffer and split into
 * lines there (no getline copy, no stdio buffer refills of a few KiB: every
 * read over the test VM's 9p root is a round trip to the host).
 */
#define READ_CHUNK (256 * 1024)

struct reader {
	FILE *f;
	char *buf;
	size_t cap, have, start;	/* buf[start..have) not yet parsed */
	bool eof;
};

/* Reads more after the unparsed rest; 0, or -1 when out of memory. */
static int read_more(struct reader *r)
{
	size_t n, want;
	char *b;

	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->have - r->start);
		r->have -= r->start;
		r->start = 0;
	}
	/* Room for a chunk and a terminating NUL. */
	want = r->have + READ_CHUNK + 1;
	if (r->cap < want) {
		b = realloc(r->buf, want);
		if (!b)
			return -1;
		r->buf = b;
		r->cap = want;
	}
	n = fread(r->buf + r->have, 1, READ_CHUNK, r->f);
	r->have += n;
	if (!n)
		r->eof = true;
	return 0;
}

/*
 * The next line, NUL-terminated in place (without its newline), its length
 * in *len; NULL at the end of the input (or on a read error: see ferror) or
 * with *len SIZE_MAX when out of memory.
 */
static char *next_line(struct reader *r, size_t *len)
{
	char *ln, *nl;

	*len = 0;
	for (;;) {
		ln = r->buf ? r->buf + r->start : NULL;
		nl = r->have > r->start ? memchr(ln, '\n', r->have - r->start) : NULL;
		if (nl) {
			*len = (size_t)(nl - ln);
			*nl = '\0';
			r->start += *len + 1;
			return ln;
		}
		if (r->eof || ferror(r->f)) {
			if (r->start == r->have || ferror(r->f))
				return NULL;
			/* The last line has no newline; buf has room for a NUL. */
			*len = r->have - r->start;
			ln[*len] = '\0';
			r->start = r->have;
			return ln;
		}
		if (read_more(r)) {
			*len = SIZE_MAX;
			return NULL;
		}
	}
}

/*
 * Sizes the name set for the whole file from the lines of the first chunk
 * read: growing it by doubling wrote (and, in the test VM, page-faulted)
 * twice the memory of its final size. A wrong guess only costs a growth.
 */
static int names_presize(struct dupset *d, const struct reader *r, size_t fsize)
{
	const char *p = r->buf, *end = r->buf + r->have, *nl;
	size_t lines = 0, est;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		lines++;
		p = nl + 1;
	}
	if (lines < 64 || r->have >= fsize)
		return 0;	/* small, or all read: grow as needed */
	est = fsize / ((size_t)(p - r->buf) / lines) + 64;
	if (est > SIPOVL_MAX_INTERCEPTS)
		est = SIPOVL_MAX_INTERCEPTS;
	/* At most half full, as dupset_insert keeps it. */
	return dupset_grow_to(d, 2 * est + 2);
}

int parse_config(FILE *f, const char *fname, struct ctl_config *cfg,
		 struct ctl_err *err)
{
	return parse_config_stream(f, fname, cfg, NULL, err);
}

int parse_config_stream(FILE *f, const char *fname, struct ctl_config *cfg,
			const struct ctl_config_hooks *hooks,
			struct ctl_err *err)
{
	struct cfg_state st = { 0 };
	struct reader rd = { .f = f };
	unsigned int line = 0;
	char *ln, **tok = NULL;
	int cap = 0, ntok, ret = -1;
	size_t len, i, lead = 0, told = 0, fsize = 0;
	uint32_t next_id = 1;

	memset(cfg, 0, sizeof(*cfg));
	if (config_reserve(cfg, f, &fsize)) {
		ctl_errf(err, "out of memory");
		goto fail;
	}
	while ((ln = next_line(&rd, &len))) {
		line++;
		if (line == 1 && fsize && names_presize(&st.names, &rd, fsize)) {
			ctl_errf(err, "out of memory");
			goto fail;
		}
		if (memchr(ln, '\0', len)) {
			ctl_errf(err, "NUL byte in line");
			goto fail_line;
		}
		ntok = tokenize_line(ln, &tok, &cap, err);
		if (ntok < 0)
			goto fail_line;
		if (!ntok)
			continue;
		if (config_line(cfg, tok, ntok, line, &st, hooks, err))
			goto fail_line;
		if (!hooks)
			continue;
		/* The leading run of intercepts with explicit ids is final. */
		if (lead == cfg->n - 1 && (cfg->v[lead].present & SIPOVL_I_ID))
			lead++;
		if (lead - told >= STREAM_STEP) {
			told = lead;
			hooks->ready(hooks->arg, lead);
		}
	}
	if (len == SIZE_MAX) {
		ctl_errf(err, "out of memory");
		goto fail;
	}
	if (ferror(f)) {
		ctl_errf(err, "%s: read error: %s", fname, strerror(errno));
		goto fail;
	}

	/* Lines without an id get the lowest unused ids, in file order. */
	for (i = 0; i < cfg->n; i++) {
		struct sipovl_intercept *in = &cfg->v[i];

		if (in->present & SIPOVL_I_ID)
			continue;
		if (!st.ids_hashed && ids_hash(&st, cfg, cfg->n)) {
			ctl_errf(err, "out of memory");
			goto fail;
		}
		while (dupset_has_id(&st.ids, cfg, next_id))
			next_id++;	/* < 2^20 intercepts: cannot wrap */
		in->id = next_id++;
		in->present |= SIPOVL_I_ID;
	}
	if (hooks)
		hooks->ready(hooks->arg, cfg->n);
	ret = 0;
	goto out;

fail_line:
	err_at(err, fname, line);
fail:
	if (hooks)
		hooks->failed(hooks->arg);
	ctl_config_release(cfg);
out:
	free(st.names.slot);
	free(st.ids.slot);
	free(tok);
	free(rd.buf);
	return ret;
}

int parse_config_mem(const char *buf, size_t len, const char *fname,
		     struct ctl_config *cfg, struct ctl_err *err)
{
	FILE *f;
	int ret;

	if (!len) {
		memset(cfg, 0, sizeof(*cfg));
		return 0;
	}
	f = fmemopen((void *)buf, len, "r");
	if (!f) {
		ctl_errf(err, "%s: %s", fname, strerror(errno));
		return -1;
	}
	ret = parse_config(f, fname, cfg, err);
	fclose(f);
	return ret;
}
