/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_FUZZ_COMMON_H
#define RUNNERFS_FUZZ_COMMON_H

/*
 * Shared checks for the libFuzzer targets: a consistency walk over every
 * node of a document (calling every getter), a canonical dump of the
 * document's data (to compare two documents), and paths that survive an
 * edit (node ids do not).
 *
 * Every violation calls fuzz_fail(), which prints what went wrong and
 * aborts, so libFuzzer records the input.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runnerfs/toml.h"

/* Abort with a message (printf format). */
void fuzz_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			fuzz_fail(__VA_ARGS__); \
	} while (0)

/* Is the "quality" check `name` on? These are properties the issue or
 * toml.h state that are not memory safety; all are on unless named in
 * FUZZ_SKIP (comma-separated, or "all"), so that a known finding does not
 * stop a long run from looking for others:
 *   msg       toml_parse's error messages are printable UTF-8 and name a
 *             place inside the input
 *   value-msg toml_value_parse's error messages are printable UTF-8
 *   eol       toml_eol() follows the first line break
 *   style     a string keeps its quoting style when the value fits it
 *   locality  an edit changes only the bytes of the item edited
 *   array-layout  removing an array element deletes only its bytes, and
 *             appending an entry to an inline array only inserts (the
 *             rest of the array keeps its layout and comments)
 *   datetime  a date/time reads back with the text it was given */
bool fuzz_check_on(const char *name);

/* A growable byte buffer (aborts on out of memory). */
struct fbuf {
	char *p;
	size_t len, cap;
};
void fbuf_add(struct fbuf *b, const void *data, size_t len);
void fbuf_adds(struct fbuf *b, const char *s);
void fbuf_free(struct fbuf *b);

/* Check an error filled in by the engine for input `text`: message
 * present, NUL-terminated, printable, and a line:col that lies inside the
 * input (or 0 when not about a place). */
void fuzz_check_error(const toml_error *err, const char *text, size_t len,
		      const char *what, const char *check);

/* Walk every node reachable from the root and check the getters against
 * each other. Returns the number of nodes reached. If `ids` is not NULL it
 * is filled (malloc'd) with every reached node id in walk order. */
size_t fuzz_check_doc(const toml_doc *doc, uint32_t **ids);

/* Canonical dump of the data under `n` (keys sorted, values decoded),
 * leaving out node `skip` (TOML_NONE: nothing left out). Two documents
 * that hold the same data dump to the same bytes. */
void fuzz_dump(const toml_doc *doc, uint32_t n, uint32_t skip,
	       struct fbuf *out);

/* A path from the root: each step a key (table member) or an index
 * (array element). */
struct fpath_step {
	bool is_index;
	size_t index;
	char *key;
	size_t klen;
};
struct fpath {
	struct fpath_step *steps;
	size_t n;
};
/* The path of node n; returns false if some step cannot be named. */
bool fpath_of(const toml_doc *doc, uint32_t n, struct fpath *out);
/* Node at path p, or TOML_NONE. `depth` limits the steps used
 * (SIZE_MAX: all). */
uint32_t fpath_resolve(const toml_doc *doc, const struct fpath *p, size_t depth);
void fpath_free(struct fpath *p);

/* Is s[0..len) valid UTF-8 (TOML's definition: no surrogates, <= U+10FFFF,
 * shortest form)? */
bool fuzz_utf8_valid(const char *s, size_t len);

#endif
