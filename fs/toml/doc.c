/* SPDX-License-Identifier: MIT */
/*
 * The document: its bytes, its nodes, the key index, and the read side of
 * the API. Parsing is in parse.c, edits in edit.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void set_error(toml_error *err, const char *text, size_t len, size_t off,
	       const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->line = 0;
	err->col = 0;
	if (!text)
		return;
	if (off > len)
		off = len;
	int line = 1;
	size_t ls = 0;
	for (const char *p = text; (p = memchr(p, '\n', (size_t)(text + off - p))); p++) {
		line++;
		ls = (size_t)(p - text) + 1;
	}
	err->line = line;
	err->col = (int)(off - ls) + 1;
}

uint32_t doc_key_hash(uint32_t parent, const char *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 0x100000001b3ull;
	/* The same keys recur under many parents ("name" in every runner):
	 * mix the parent in and finish with a full avalanche (murmur3's
	 * fmix64), or the probe chains grow long. */
	h ^= (uint64_t)parent * 0x9e3779b97f4a7c15ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static const char *key_of(const toml_doc *d, uint32_t n)
{
	return d->keys + d->nodes[n].key_off;
}

static int hash_alloc(toml_doc *d, uint32_t cap)
{
	struct slot *h = malloc(sizeof(*h) * cap);
	if (!h)
		return -ENOMEM;
	memset(h, 0xff, sizeof(*h) * cap);
	struct slot *old = d->hash;
	uint32_t oldcap = old ? d->hash_mask + 1 : 0;
	d->hash = h;
	d->hash_mask = cap - 1;
	/* the stored hashes spare a visit to every node and key */
	for (uint32_t i = 0; i < oldcap; i++) {
		if (old[i].id == NONE)
			continue;
		uint32_t s = old[i].h & d->hash_mask;
		while (h[s].id != NONE)
			s = (s + 1) & d->hash_mask;
		h[s] = old[i];
	}
	free(old);
	return 0;
}

int doc_hash_reserve(toml_doc *d, size_t keys)
{
	uint32_t cap = 64;
	while (cap < keys * 2 && cap < (1u << 31))
		cap *= 2;
	return d->hash && d->hash_mask + 1 >= cap ? 0 : hash_alloc(d, cap);
}

static int hash_insert_h(toml_doc *d, uint32_t n, uint32_t h)
{
	/* keep the load under one half: the table holds every keyed node */
	if (!d->hash || d->nnodes * 2 > d->hash_mask) {
		int r = hash_alloc(d, d->hash ? (d->hash_mask + 1) * 2 : 64);
		if (r < 0)
			return r;
	}
	uint32_t s = h & d->hash_mask;
	while (d->hash[s].id != NONE)
		s = (s + 1) & d->hash_mask;
	d->hash[s] = (struct slot){n, h};
	return 0;
}

uint32_t doc_lookup(const toml_doc *d, uint32_t parent, const char *key, size_t klen)
{
	return doc_lookup_h(d, parent, key, klen, doc_key_hash(parent, key, klen));
}

uint32_t doc_lookup_h(const toml_doc *d, uint32_t parent, const char *key, size_t klen,
		      uint32_t h)
{
	if (!d->hash)
		return NONE;
	for (uint32_t s = h & d->hash_mask; d->hash[s].id != NONE; s = (s + 1) & d->hash_mask) {
		if (d->hash[s].h != h)
			continue;
		uint32_t id = d->hash[s].id;
		const struct tnode *nd = &d->nodes[id];
		if (nd->parent == parent && nd->key_len == klen &&
		    (klen == 0 || !memcmp(key_of(d, id), key, klen)))
			return id;
	}
	return NONE;
}

int doc_new_node(toml_doc *d, uint32_t parent, toml_type type, toml_form form,
		 uint32_t *out)
{
	if (d->nnodes == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 64;
		struct tnode *nn = realloc(d->nodes, sizeof(*nn) * cap);
		if (!nn)
			return -ENOMEM;
		d->nodes = nn;
		d->cap = cap;
	}
	uint32_t id = d->nnodes++;
	struct tnode *n = &d->nodes[id];
	memset(n, 0xff, sizeof(*n));
	n->count = 0;
	n->type = (uint8_t)type;
	n->form = (uint8_t)form;
	n->flags = 0;
	n->parent = parent;
	if (parent != NONE) {
		struct tnode *p = &d->nodes[parent];
		if (p->last == NONE)
			p->first = id;
		else
			d->nodes[p->last].next = id;
		p->last = id;
		p->count++;
	}
	*out = id;
	return 0;
}

int doc_set_key(toml_doc *d, uint32_t n, const char *key, size_t klen)
{
	return doc_set_key_h(d, n, key, klen, doc_key_hash(d->nodes[n].parent, key, klen));
}

int doc_set_key_h(toml_doc *d, uint32_t n, const char *key, size_t klen, uint32_t h)
{
	if (klen > UINT32_MAX - d->keys_len - 1)
		return -EFBIG;
	if (d->keys_len + klen + 1 > d->keys_cap) {
		uint32_t cap = d->keys_cap ? d->keys_cap : 256;
		while (cap < d->keys_len + klen + 1)
			cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
		char *k = realloc(d->keys, cap);
		if (!k)
			return -ENOMEM;
		d->keys = k;
		d->keys_cap = cap;
	}
	if (klen)
		memcpy(d->keys + d->keys_len, key, klen);
	d->keys[d->keys_len + klen] = '\0';
	d->nodes[n].key_off = d->keys_len;
	d->nodes[n].key_len = (uint32_t)klen;
	d->keys_len += (uint32_t)klen + 1;
	return hash_insert_h(d, n, h);
}

void doc_clear(toml_doc *d)
{
	free(d->nodes);
	free(d->keys);
	free(d->hash);
	free(d->segs);
	free(d->headers);
	d->nodes = NULL;
	d->keys = NULL;
	d->hash = NULL;
	d->segs = NULL;
	d->headers = NULL;
	d->nnodes = d->cap = d->keys_len = d->keys_cap = 0;
	d->nsegs = d->segs_cap = d->nheaders = d->headers_cap = 0;
	d->hash_mask = 0;
}

int toml_parse(const char *text, size_t len, toml_doc **out, toml_error *err)
{
	if (len >= UINT32_MAX - 1) {
		set_error(err, NULL, 0, 0, "the document is larger than 4 GiB");
		return -EFBIG;
	}
	toml_doc *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->text = malloc(len + 1);
	if (!d->text) {
		free(d);
		return -ENOMEM;
	}
	if (len)
		memcpy(d->text, text, len);
	d->text[len] = '\0';
	d->len = (uint32_t)len;
	int r = parse_into(d, err);
	if (r < 0) {
		toml_free(d);
		return r;
	}
	*out = d;
	return 0;
}

void toml_journal_stop(toml_doc *doc)
{
	for (uint32_t i = 0; i < doc->j.n; i++)
		free(doc->j.v[i].removed);
	free(doc->j.v);
	memset(&doc->j, 0, sizeof(doc->j));
}

void toml_journal_start(toml_doc *doc)
{
	toml_journal_stop(doc);
	doc->j.on = true;
}

int doc_journal(toml_doc *d, size_t start, size_t rem, size_t ins, size_t len_after)
{
	struct journal *j = &d->j;
	if (!j->on)
		return 0;
	if (j->n == j->cap) {
		uint32_t cap = j->cap ? j->cap * 2 : 4;
		struct jentry *v = realloc(j->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		j->v = v;
		j->cap = cap;
	}
	char *removed = malloc(rem ? rem : 1);
	if (!removed)
		return -ENOMEM;
	memcpy(removed, d->text + start, rem);
	j->v[j->n++] = (struct jentry){(uint32_t)start, (uint32_t)rem, (uint32_t)ins, (uint32_t)len_after,
				       removed};
	return 0;
}

/* Every byte before `at` and the last `tail` bytes are as they were at
 * the start: the splices are undone, last first, on what is between. */
int toml_journal_delta(const toml_doc *doc, struct toml_delta *out)
{
	const struct journal *j = &doc->j;
	size_t at = doc->len, tail = doc->len;
	for (uint32_t i = 0; i < j->n; i++) {
		const struct jentry *e = &j->v[i];
		size_t after = (size_t)e->len_after - e->start - e->ins;
		if (e->start < at)
			at = e->start;
		if (after < tail)
			tail = after;
	}
	if (!j->n)
		at = doc->len, tail = 0;
	size_t n = doc->len - at - tail, cap = n;
	for (uint32_t i = 0; i < j->n; i++)
		cap += j->v[i].rem; /* enough for every step back */
	char *b = malloc(cap ? cap : 1);
	if (!b)
		return -ENOMEM;
	memcpy(b, doc->text + at, n);
	for (uint32_t i = j->n; i-- > 0;) {
		const struct jentry *e = &j->v[i];
		size_t s = e->start - at;
		memmove(b + s + e->rem, b + s + e->ins, n - s - e->ins);
		memcpy(b + s, e->removed, e->rem);
		n = n - e->ins + e->rem;
	}
	out->at = at;
	out->tail = tail;
	out->old = b;
	out->oldn = n;
	return 0;
}

void toml_free(toml_doc *doc)
{
	if (!doc)
		return;
	toml_journal_stop(doc);
	doc_clear(doc);
	free(doc->text);
	free(doc);
}

const char *toml_text(const toml_doc *doc, size_t *len)
{
	if (len)
		*len = doc->len;
	return doc->text;
}

static void *dup_mem(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}

/* A copy of the arrays: the same document without parsing it again. */
int toml_clone(const toml_doc *doc, toml_doc **out)
{
	toml_doc *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = *doc;
	memset(&d->j, 0, sizeof(d->j));
	d->text = dup_mem(doc->text, (size_t)doc->len + 1);
	d->nodes = dup_mem(doc->nodes, sizeof(*d->nodes) * doc->nnodes);
	d->cap = doc->nnodes;
	d->keys = dup_mem(doc->keys, doc->keys_len);
	d->keys_cap = doc->keys_len;
	d->hash = doc->hash ? dup_mem(doc->hash, sizeof(*d->hash) * ((size_t)doc->hash_mask + 1)) : NULL;
	d->segs = dup_mem(doc->segs, sizeof(*d->segs) * doc->nsegs);
	d->segs_cap = doc->nsegs;
	d->headers = dup_mem(doc->headers, sizeof(*d->headers) * doc->nheaders);
	d->headers_cap = doc->nheaders;
	if (!d->text || !d->nodes || !d->keys || (doc->hash && !d->hash) || !d->segs || !d->headers) {
		toml_free(d);
		return -ENOMEM;
	}
	*out = d;
	return 0;
}

uint64_t toml_version(const toml_doc *doc)
{
	return doc->version;
}

uint64_t toml_shape(const toml_doc *doc)
{
	return doc->shape;
}

const char *toml_eol(const toml_doc *doc)
{
	return doc->crlf ? "\r\n" : "\n";
}

static bool valid(const toml_doc *d, uint32_t n)
{
	return n < d->nnodes;
}

size_t toml_node_count_all(const toml_doc *doc) { return doc->nnodes; }

toml_type toml_type_of(const toml_doc *doc, uint32_t n)
{
	return valid(doc, n) ? (toml_type)doc->nodes[n].type : TOML_TABLE;
}

toml_form toml_form_of(const toml_doc *doc, uint32_t n)
{
	return valid(doc, n) ? (toml_form)doc->nodes[n].form : TOML_FORM_PLAIN;
}

uint32_t toml_parent(const toml_doc *doc, uint32_t n)
{
	return valid(doc, n) ? doc->nodes[n].parent : NONE;
}

uint32_t toml_first(const toml_doc *doc, uint32_t n)
{
	return valid(doc, n) ? doc->nodes[n].first : NONE;
}

uint32_t toml_next(const toml_doc *doc, uint32_t n)
{
	return valid(doc, n) ? doc->nodes[n].next : NONE;
}

size_t toml_count(const toml_doc *doc, uint32_t n)
{
	return valid(doc, n) ? doc->nodes[n].count : 0;
}

uint32_t toml_get(const toml_doc *doc, uint32_t t, const char *key, size_t klen)
{
	if (!valid(doc, t) || doc->nodes[t].type != TOML_TABLE)
		return NONE;
	return doc_lookup(doc, t, key, klen);
}

uint32_t toml_at(const toml_doc *doc, uint32_t a, size_t i)
{
	if (!valid(doc, a) || doc->nodes[a].type != TOML_ARRAY)
		return NONE;
	uint32_t c = doc->nodes[a].first;
	while (c != NONE && i--)
		c = doc->nodes[c].next;
	return c;
}

const char *toml_key(const toml_doc *doc, uint32_t n, size_t *len)
{
	if (!valid(doc, n) || doc->nodes[n].key_off == NONE)
		return NULL;
	if (len)
		*len = doc->nodes[n].key_len;
	return key_of(doc, n);
}

const char *toml_raw(const toml_doc *doc, uint32_t n, size_t *len)
{
	if (!valid(doc, n))
		return NULL;
	const struct tnode *nd = &doc->nodes[n];
	if (nd->vstart == NONE || nd->form == TOML_FORM_HEADER || nd->form == TOML_FORM_ENTRY ||
	    n == TOML_ROOT)
		return NULL;
	if (len)
		*len = nd->vend - nd->vstart;
	return doc->text + nd->vstart;
}

int toml_span(const toml_doc *doc, uint32_t n, size_t *start, size_t *end)
{
	if (!valid(doc, n) || doc->nodes[n].vstart == NONE)
		return -ENOENT;
	*start = doc->nodes[n].vstart;
	*end = doc->nodes[n].vend;
	return 0;
}

int toml_line_of(const toml_doc *doc, size_t offset)
{
	toml_error e;
	set_error(&e, doc->text, doc->len, offset, "-");
	return e.line;
}

int toml_get_string(const toml_doc *doc, uint32_t n, char **out, size_t *len)
{
	if (!valid(doc, n) || doc->nodes[n].type != TOML_STRING)
		return -EINVAL;
	const struct tnode *nd = &doc->nodes[n];
	struct buf b = BUF_INIT;
	int r = decode_string(doc->text + nd->vstart, nd->vend - nd->vstart,
			      (toml_form)nd->form, &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	*out = buf_steal(&b, len);
	return *out ? 0 : -ENOMEM;
}

int toml_get_int(const toml_doc *doc, uint32_t n, int64_t *out)
{
	if (!valid(doc, n) || doc->nodes[n].type != TOML_INTEGER)
		return -EINVAL;
	const struct tnode *nd = &doc->nodes[n];
	return decode_int(doc->text + nd->vstart, nd->vend - nd->vstart, (toml_form)nd->form, out);
}

int toml_get_float(const toml_doc *doc, uint32_t n, double *out)
{
	if (!valid(doc, n) || doc->nodes[n].type != TOML_FLOAT)
		return -EINVAL;
	const struct tnode *nd = &doc->nodes[n];
	return decode_float(doc->text + nd->vstart, nd->vend - nd->vstart, out);
}

int toml_get_bool(const toml_doc *doc, uint32_t n, bool *out)
{
	if (!valid(doc, n) || doc->nodes[n].type != TOML_BOOL)
		return -EINVAL;
	*out = doc->text[doc->nodes[n].vstart] == 't';
	return 0;
}

const char *toml_type_name(toml_type type)
{
	static const char *const names[] = {
		[TOML_STRING] = "string",
		[TOML_INTEGER] = "integer",
		[TOML_FLOAT] = "float",
		[TOML_BOOL] = "boolean",
		[TOML_DATETIME] = "offset date-time",
		[TOML_DATETIME_LOCAL] = "local date-time",
		[TOML_DATE_LOCAL] = "local date",
		[TOML_TIME_LOCAL] = "local time",
		[TOML_ARRAY] = "array",
		[TOML_TABLE] = "table",
	};
	return (unsigned)type <= TOML_TABLE ? names[type] : "unknown";
}
