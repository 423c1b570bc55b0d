/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_TOML_INTERNAL_H
#define RUNNERFS_TOML_INTERNAL_H

/*
 * Shared by the files of fs/toml only. The document is its text plus a flat array of
 * nodes that index into it; nodes refer to each other by position in that
 * array, and a parent is always created before its children (so one
 * reverse pass over the array visits children before parents).
 */

#include <stdbool.h>
#include <stdint.h>

#include "runnerfs/buf.h"
#include "runnerfs/toml.h"

#define NONE TOML_NONE

enum node_flag {
	F_EXPLICIT = 1 << 0, /* named by its own [header] / [[header]] */
	F_FROZEN = 1 << 1,   /* inline table or array: closed to later keys */
	F_LINE = 1 << 2,     /* a key/value that owns lines [lstart, lend) */
	F_INLINE_ENTRY = 1 << 3, /* value of a key inside { }: key at lstart */
	F_BLANK_AFTER_OPEN = 1 << 4, /* ml string: a newline follows the opening quotes */
};

struct tnode {
	uint32_t parent, first, last, next;
	uint32_t count;
	uint32_t key_off, key_len; /* decoded key in doc->keys; NONE if none */
	/* Values: the value's text. Header tables and entries: '[' .. ']'. */
	uint32_t vstart, vend;
	/* F_LINE values: indentation .. end of line (after the line break).
	 * Header tables and entries: attached comments .. end of header line.
	 * F_INLINE_ENTRY values: first key segment .. vend. */
	uint32_t lstart, lend;
	/* Sections (root, header tables, entries): where the section ends
	 * (start of the next header's comments, or EOF) and where its last
	 * key/value line ends (or its header line, when it has none). */
	uint32_t sect_end, content_end;
	/* Tables: the value of the last key/value line written in this
	 * table or, through dotted keys, below it; the section (or inline
	 * table) whose body spells this table's keys; the end of the last
	 * section content anywhere in the subtree. */
	uint32_t last_kv, home, block_end;
	uint32_t dot_sect; /* dotted tables: id of the section that made them */
	uint8_t type, form, flags;
};

/* One spelling of a key segment: which node it names, and where. */
struct seg {
	uint32_t node, start, end;
};

struct slot {
	uint32_t id; /* NONE: empty */
	uint32_t h;
};

/* One splice an edit made (toml_journal_*): `rem` old bytes at `start`
 * became `ins` new ones; the text was `len_after` long after it. */
struct jentry {
	uint32_t start, rem, ins, len_after;
	char *removed;
};

struct journal {
	bool on;
	struct jentry *v;
	uint32_t n, cap;
};

struct toml_doc {
	char *text; /* NUL-terminated */
	uint32_t len;
	uint32_t bom;  /* 3 when the text starts with a UTF-8 BOM */
	bool crlf;
	struct tnode *nodes;
	uint32_t nnodes, cap;
	char *keys;
	uint32_t keys_len, keys_cap;
	struct slot *hash; /* keyed nodes, by (parent, key) */
	uint32_t hash_mask;
	struct seg *segs;
	uint32_t nsegs, segs_cap;
	uint32_t *headers; /* header tables and entries, in document order */
	uint32_t nheaders, headers_cap;
	struct journal j; /* kept across the reparse of an edit */
	uint64_t version; /* counts successful edits (toml_version) */
	uint64_t shape;   /* counts those that reparsed (toml_shape) */
};

/* doc.c */
int doc_new_node(toml_doc *d, uint32_t parent, toml_type type, toml_form form,
		 uint32_t *out);
int doc_set_key(toml_doc *d, uint32_t n, const char *key, size_t klen);
uint32_t doc_lookup(const toml_doc *d, uint32_t parent, const char *key, size_t klen);
/* The same, with the hash of (parent, key) computed once by the caller. */
uint32_t doc_key_hash(uint32_t parent, const char *key, size_t klen);
uint32_t doc_lookup_h(const toml_doc *d, uint32_t parent, const char *key, size_t klen,
		      uint32_t h);
int doc_set_key_h(toml_doc *d, uint32_t n, const char *key, size_t klen, uint32_t h);
int doc_hash_reserve(toml_doc *d, size_t keys);
void doc_clear(toml_doc *d);
/* Record that [start, start + rem) of the text now becomes ins bytes and
 * the text len_after bytes (nothing while the journal is off); -ENOMEM
 * before anything is changed. */
int doc_journal(toml_doc *d, size_t start, size_t rem, size_t ins, size_t len_after);
void set_error(toml_error *err, const char *text, size_t len, size_t off,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* scan.c: lexical pieces shared by the parser and toml_value_parse.
 * Each scanner starts at s[pos], never reads past s[len], and on success
 * stores the end of what it read in *end. On failure it returns -EINVAL
 * with *why set to a sentence and *at to the offending offset. */
struct scan_err {
	const char *why;
	size_t at;
};
size_t utf8_len(const char *s, size_t len, size_t pos); /* 0 if invalid */
int scan_string(const char *s, size_t len, size_t pos, size_t *end,
		toml_form *form, struct buf *decoded, struct scan_err *e);
int scan_bare_scalar(const char *s, size_t len, size_t pos, size_t *end,
		     toml_type *type, toml_form *form, struct scan_err *e);
int decode_int(const char *s, size_t len, toml_form form, int64_t *out);
int decode_float(const char *s, size_t len, double *out);
int decode_string(const char *s, size_t len, toml_form form, struct buf *out);
extern const unsigned char bare_key_chars[256];
static inline bool is_bare_key_char(unsigned char c) { return bare_key_chars[c]; }

/* value.c */
int encode_key(struct buf *out, const char *key, size_t klen);
int encode_value(struct buf *out, const toml_value *v, toml_form hint,
		 bool newline_after_open, const char *eol, toml_error *err);

/* parse.c */
int parse_into(toml_doc *d, toml_error *err);

#endif
