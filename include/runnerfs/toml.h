/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_TOML_H
#define RUNNERFS_TOML_H

/*
 * toml: a lossless TOML 1.0.0 document.
 *
 * The document *is* its bytes. Parsing builds an index of nodes over those
 * bytes (tables, arrays, values, with the spans they occupy); serializing
 * is returning the bytes, so an unedited document writes back exactly as it
 * was read, comments, spacing, quoting and line endings included.
 *
 * Life cycle:
 *
 *   toml_parse()        text -> document, or -EINVAL with line:col and a
 *                       sentence in *err. The text is copied.
 *   toml_text()         the current bytes (what to write to disk).
 *   read                toml_root / toml_get / toml_first / toml_next and the
 *                       typed getters. Node ids are small integers; the root
 *                       is always TOML_ROOT.
 *   edit                toml_set*, toml_insert*, toml_add_table,
 *                       toml_append_entry, toml_remove, toml_rename. Each
 *                       edit splices new bytes over the edited item only,
 *                       reparses (a scalar replaced by a scalar on its line
 *                       only moves the offsets after it: the same result
 *                       without the cost), and either succeeds or leaves the
 *                       document exactly as it was (same bytes, same node
 *                       ids). A successful edit invalidates every node id:
 *                       look nodes up again by key after it.
 *   toml_free()
 *
 * Everything returns 0 or -errno: -EINVAL for input that is not TOML or a
 * value that does not fit, -EEXIST for a key that is already there, -ENOENT,
 * -ENOTDIR when a table was expected, -EISDIR when a value was expected,
 * -EFBIG for a document over 4 GiB, -ENOMEM. Where an error has a reason a
 * person should read, it is in *err (which may be NULL).
 *
 * Not thread-safe: one document, one user at a time.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct toml_doc toml_doc;

#define TOML_ROOT 0u
#define TOML_NONE UINT32_MAX

/* Limits that keep hostile input from costing more than linear time and
 * bounded stack. */
#define TOML_MAX_DEPTH 128 /* nesting of arrays and inline tables */
#define TOML_MAX_KEYS 128  /* segments in one dotted key or header */

typedef enum toml_type {
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,       /* offset date-time: 1979-05-27T07:32:00Z */
	TOML_DATETIME_LOCAL, /* 1979-05-27T07:32:00 */
	TOML_DATE_LOCAL,     /* 1979-05-27 */
	TOML_TIME_LOCAL,     /* 07:32:00 */
	TOML_ARRAY,
	TOML_TABLE,
} toml_type;

/* How a node is spelled in the file. */
typedef enum toml_form {
	/* tables */
	TOML_FORM_ROOT,
	TOML_FORM_HEADER,   /* [a.b] */
	TOML_FORM_ENTRY,    /* one [[a.b]] entry of an array of tables */
	TOML_FORM_IMPLICIT, /* only named inside a longer header: a in [a.b] */
	TOML_FORM_DOTTED,   /* made by dotted keys: a in a.b = 1 */
	TOML_FORM_INLINE,   /* { ... } */
	/* arrays */
	TOML_FORM_ARRAY,    /* [ ... ] */
	TOML_FORM_AOT,      /* the array made by [[a.b]] headers */
	/* strings */
	TOML_FORM_BASIC,    /* "..." */
	TOML_FORM_LITERAL,  /* '...' */
	TOML_FORM_ML_BASIC, /* """...""" */
	TOML_FORM_ML_LITERAL, /* '''...''' */
	/* integers */
	TOML_FORM_DEC,
	TOML_FORM_HEX,
	TOML_FORM_OCT,
	TOML_FORM_BIN,
	/* everything else */
	TOML_FORM_PLAIN,
} toml_form;

typedef struct toml_error {
	int line; /* 1-based; 0 when the error is not about a place */
	int col;  /* 1-based byte column */
	char msg[200];
} toml_error;

/* A value handed to an edit. For TOML_STRING, str/len are the raw bytes of
 * the value (any bytes that are valid UTF-8; NUL included). For the four
 * date/time types, str/len are their TOML text. */
typedef struct toml_value {
	toml_type type;
	const char *str;
	size_t len;
	int64_t i;
	double f;
	bool b;
} toml_value;

/* ---- parse, serialize ---- */

int toml_parse(const char *text, size_t len, toml_doc **out, toml_error *err);
void toml_free(toml_doc *doc);
const char *toml_text(const toml_doc *doc, size_t *len);
/* A new document with the same bytes (and so the same node ids). */
int toml_clone(const toml_doc *doc, toml_doc **out);
/* A number that changes with every successful edit: caches of what was
 * looked up in a document are valid while it stays the same. */
uint64_t toml_version(const toml_doc *doc);
/* The same, but a scalar replaced in place (toml_set of a scalar on one
 * line) does not change it: while it stays, every node id, key and
 * structure stays; only scalar values (and the offsets) may differ. */
uint64_t toml_shape(const toml_doc *doc);
/* "\r\n" when the document's first line break is CRLF, else "\n". New
 * lines written by edits use it. */
const char *toml_eol(const toml_doc *doc);

/* What edits changed, without a copy of the text from before them (a
 * transaction's undo and history, txn.h):
 *   toml_journal_start(doc)   record, from now on, the bytes each edit
 *                             replaces (an edit fails with -ENOMEM, and
 *                             changes nothing, if they cannot be kept)
 *   toml_journal_delta(doc, &d)
 *                             the text from before the start is the text
 *                             now with [d.at, len - d.tail) replaced by
 *                             d.old (d.oldn bytes, malloc'd: free it)
 *   toml_journal_stop(doc)    forget it (toml_free does too)
 * A clone does not record. */
struct toml_delta {
	size_t at, tail;
	char *old;
	size_t oldn;
};
void toml_journal_start(toml_doc *doc);
int toml_journal_delta(const toml_doc *doc, struct toml_delta *d);
void toml_journal_stop(toml_doc *doc);

/* ---- read ---- */

size_t toml_node_count_all(const toml_doc *doc); /* every node, for sizing */
toml_type toml_type_of(const toml_doc *doc, uint32_t n);
toml_form toml_form_of(const toml_doc *doc, uint32_t n);
uint32_t toml_parent(const toml_doc *doc, uint32_t n);
/* Children of a table (its keys, in document order) or an array (its
 * elements). TOML_NONE at the end. */
uint32_t toml_first(const toml_doc *doc, uint32_t n);
uint32_t toml_next(const toml_doc *doc, uint32_t n);
size_t toml_count(const toml_doc *doc, uint32_t n);
/* Member `key` of table `t`, or TOML_NONE. */
uint32_t toml_get(const toml_doc *doc, uint32_t t, const char *key, size_t klen);
/* Element `i` of array `a` (0-based), or TOML_NONE. O(i). */
uint32_t toml_at(const toml_doc *doc, uint32_t a, size_t i);
/* The decoded key under which n sits in its table; NULL for array elements
 * and the root. Not NUL-terminated (keys may contain NUL). */
const char *toml_key(const toml_doc *doc, uint32_t n, size_t *len);
/* The source text of a value (scalar, [ ... ] array, { ... } table): e.g.
 * `0x1F`, `"a\tb"`, `1979-05-27 07:32:00`. NULL for tables and arrays of
 * tables that have no single span. */
const char *toml_raw(const toml_doc *doc, uint32_t n, size_t *len);
/* Byte offsets of that span, and 1-based line of its start. */
int toml_span(const toml_doc *doc, uint32_t n, size_t *start, size_t *end);
int toml_line_of(const toml_doc *doc, size_t offset);

/* Typed getters; -EINVAL when n is not of that type. toml_get_string
 * returns a malloc'd, NUL-terminated copy (the length excludes the NUL;
 * the bytes may contain NUL). */
int toml_get_string(const toml_doc *doc, uint32_t n, char **out, size_t *len);
int toml_get_int(const toml_doc *doc, uint32_t n, int64_t *out);
int toml_get_float(const toml_doc *doc, uint32_t n, double *out);
int toml_get_bool(const toml_doc *doc, uint32_t n, bool *out);

/* ---- values ---- */

/* Parse text a person wrote as a value of `type` ("10", "1_000", "0x1f",
 * "true", "1.5e3", "inf", "2024-05-01T10:00:00Z"). Surrounding white space
 * (spaces, tabs, newlines) is ignored. TOML_STRING takes the bytes as they
 * are. The result points into `text`. */
int toml_value_parse(toml_type type, const char *text, size_t len,
		     toml_value *out, toml_error *err);
/* The TOML name of a type ("string", "integer", ..., "array", "table"). */
const char *toml_type_name(toml_type type);

/* ---- edit ----
 *
 * Each edit changes only the bytes of the item it edits. Values are
 * encoded so that no content can change the document's structure; a
 * string keeps its quoting style when the new value can be written in it.
 */

/* Replace scalar n with v (v may be of another type). */
int toml_set(toml_doc *doc, uint32_t n, const toml_value *v, toml_error *err);
/* Replace array n (or any value) with an array of scalars; elements that
 * stay the same keep their text and comments. */
int toml_set_array(toml_doc *doc, uint32_t n, const toml_value *vals,
		   size_t count, toml_error *err);
/* Replace value n with TOML text (one value: `[[1, 2], "a"]`, `{x = 1}`). */
int toml_set_raw(toml_doc *doc, uint32_t n, const char *text, size_t len,
		 toml_error *err);

/* Add `key` to table t, after the last key of t, indented like its
 * siblings. -EEXIST if t already has it. */
int toml_insert(toml_doc *doc, uint32_t t, const char *key, size_t klen,
		const toml_value *v, toml_error *err);
int toml_insert_array(toml_doc *doc, uint32_t t, const char *key, size_t klen,
		      const toml_value *vals, size_t count, toml_error *err);
int toml_insert_raw(toml_doc *doc, uint32_t t, const char *key, size_t klen,
		    const char *text, size_t len, toml_error *err);

/* Add an empty table `key` under t: a [t.key] header at the end of t's
 * block, or `key = {}` inside an inline table. */
int toml_add_table(toml_doc *doc, uint32_t t, const char *key, size_t klen,
		   toml_error *err);
/* The same, [t.key] (aot: the first [[t.key]]) written just before the
 * header of `before`, a table or array of tables of t written with
 * headers; anywhere else (before is TOML_NONE, inline, dotted), as
 * toml_add_table / toml_append_entry do. */
int toml_add_table_before(toml_doc *doc, uint32_t t, const char *key, size_t klen, bool aot,
			  uint32_t before, toml_error *err);
/* Append an empty entry to the array of tables `key` under t (creating the
 * array if needed): a [[t.key]] header after the last entry's block, or
 * `{}` in an inline array. */
int toml_append_entry(toml_doc *doc, uint32_t t, const char *key, size_t klen,
		      toml_error *err);

/* Remove n: a key/value (its whole line, trailing comment included), a
 * table or array-of-tables entry (its header, body and sub-tables, and the
 * comment lines directly above its header), or an element of an array. */
int toml_remove(toml_doc *doc, uint32_t n, toml_error *err);

/* Rename the key under which n sits (every place the key is spelled:
 * a dotted key, each header naming a table). -EEXIST on a clash. */
int toml_rename(toml_doc *doc, uint32_t n, const char *key, size_t klen,
		toml_error *err);

/* The bytes toml_remove(n) takes for a key/value written on lines of its
 * own (indentation to line end, line break included): -EINVAL otherwise. */
int toml_line_span(const toml_doc *doc, uint32_t n, size_t *start, size_t *end);

/* Low level: replace bytes [start, end) with text and reparse; the
 * document is unchanged if the result is not TOML. For putting back bytes
 * that an earlier edit removed. */
int toml_splice(toml_doc *doc, size_t start, size_t end, const char *text, size_t len,
		toml_error *err);

#endif
