/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_TREE_H
#define RUNNERFS_TREE_H

/*
 * tree: the mapping of docs/filesystem.md ("The tree") between paths in the mount and
 * the document. It resolves a path to what it names, lists directories,
 * renders a value as the bytes of its file, and turns the bytes a person
 * wrote into an edit of the document (checked against the schema). It
 * knows nothing of FUSE or of how bytes reach the disk.
 * Locking: every call with fs->lock held (it reads fs->doc and fs->names).
 *
 * Paths are relative to the mount root, without a leading slash ("" is
 * the root). A tree_ref is valid until the document changes. Entries of
 * arrays of tables are named as names.h says.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runnerfs/buf.h"
#include "runnerfs/rfs.h"
#include "runnerfs/schema.h"
#include "runnerfs/toml.h"

enum tree_kind {
	TK_ROOT,     /* the root table */
	TK_TABLE,    /* a table: a directory */
	TK_ENTRIES,  /* an array of tables: a directory of entries */
	TK_VALUE,    /* a value: a file */
	TK_CONFIG,   /* config.toml: the whole document */
	TK_CTLDIR,   /* .runnerfs */
	TK_CTLFILE,  /* .runnerfs/{status,errors,reload} */
	TK_HISTDIR,  /* .runnerfs/history */
	TK_HISTFILE, /* .runnerfs/history/N */
	TK_EMPTYDIR, /* a directory with nothing behind it yet */
	TK_MISSING,  /* nothing; `parent` is the table where `key` would go */
	TK_REGDIR,   /* registries/: a runner's (or every runner's) registries */
	TK_REG,      /* registries/HOST */
	TK_REGFILE,  /* registries/HOST/{username,password,auth,...} */
};

enum ctl_file { CTL_STATUS, CTL_ERRORS, CTL_RELOAD, CTL_COUNT };
extern const char *const tree_ctl_names[CTL_COUNT];

/* How a value's file reads and writes (docs/filesystem.md "The tree"). */
enum tree_format {
	VF_STRING, /* the string, one trailing newline */
	VF_SCALAR, /* TOML text of a number, boolean or date, a newline */
	VF_LINES,  /* an array of scalars, one element per line */
	VF_RAW,    /* anything else, as TOML text */
};

struct tree_ref {
	enum tree_kind kind;
	uint32_t node;   /* ROOT, TABLE, ENTRIES, VALUE */
	uint32_t parent; /* the table holding it (or that would); TOML_NONE */
	const struct schema_table *st;  /* ROOT/TABLE: its schema, if known */
	const struct schema_table *pst; /* the parent table's schema */
	const struct schema_key *sk;    /* this key in the parent's schema */
	char key[256];  /* the decoded last name */
	size_t klen;
	int index;      /* CTLFILE: enum ctl_file; HISTFILE: N (1 = newest);
			 * entries: position */
	/* entries (existing or to be made): the array's key and the table
	 * that holds the array */
	char akey[256];
	size_t aklen;
	uint32_t holder;
	bool runners;   /* ENTRIES: the root [[runners]] (named by name) */
	bool runner_entry; /* TABLE: an entry of the root [[runners]] */
	bool noncanonical; /* MISSING: a name no key can have (scratch only) */
	/* registries: the runner (TOML_NONE: every runner), the host; a
	 * TK_MISSING under registries/ has reg set (host or field to make) */
	bool reg;
	uint32_t runner;
	char host[256];
	bool entry;     /* TABLE: an entry of an array of tables */
	bool entries_dir; /* EMPTYDIR: of an array of tables (else a table) */
	/* the path spelled with the names entries have (names.h): what the
	 * path given names, also when it came by a runner's old name */
	char canon[4096];
};

/* 0, -ENOENT (nothing and no table to put it in), -ENOTDIR, -EINVAL (a
 * name that is not in canonical encoded form). A name that does not exist
 * in an existing table resolves to TK_MISSING. */
int tree_resolve(struct rfs *fs, const char *path, struct tree_ref *r);
/* The same in another document (a transaction's working copy). */
int tree_resolve_in(struct rfs *fs, toml_doc *doc, const char *path, struct tree_ref *r);

/* The password written for registry directory `reg` (a canonical path)
 * before it had a user name, or NULL (rfs_change.halfreg). */
const char *tree_half_password(struct rfs *fs, const char *reg);

/* Names of the entries of a directory, encoded, in document order. */
typedef int (*tree_fill_fn)(void *arg, const char *name, const struct tree_ref *r);
int tree_list(struct rfs *fs, const char *path, const struct tree_ref *dir, tree_fill_fn fill,
	      void *arg);

/* Encode a key as a file name (docs/filesystem.md "The tree") / decode a name; decoding
 * fails (-EINVAL) for a name that is not the canonical encoding of a
 * key. */
int tree_encode_name(const char *key, size_t klen, struct buf *out);
int tree_decode_name(const char *name, char *key, size_t cap, size_t *klen);

bool tree_is_dir(const struct tree_ref *r);
bool tree_is_secret(const struct tree_ref *r);
enum tree_format tree_format_of(const toml_doc *doc, const struct tree_ref *r, toml_type *elem);

/* The bytes of a value's file. */
int tree_render(const toml_doc *doc, const struct tree_ref *r, struct buf *out);

/*
 * Store what a person wrote into the value at r (TK_VALUE or TK_MISSING)
 * in doc: parse it by the value's format, check it against the schema,
 * edit. On failure the document is unchanged and *why holds a sentence
 * (without secret values).
 */
int tree_store(toml_doc *doc, const struct tree_ref *r, const char *text, size_t len,
	       char *why, size_t whylen);

/* The length of text without the one final line break a value's file
 * ends with ("\n" or "\r\n", docs/filesystem.md "Values"). */
size_t tree_chomp(const char *text, size_t len);

/* Can `text`, written as one write() from the start of the file, already
 * be rejected (an invalid number or boolean)? 0 or -EINVAL with why. */
int tree_precheck(const toml_doc *doc, const struct tree_ref *r, const char *text, size_t len,
		  char *why, size_t whylen);
/* A later write of lines to a key of allowed values (pull_policy, one
 * element per line, written by printf a line at a time): each whole line
 * is judged as it comes. 0 or -EINVAL with a sentence in why. */
int tree_precheck_lines(const toml_doc *d, const struct tree_ref *r, const char *text, size_t len,
			char *why, size_t whylen);

/* The directory names of the root runners, in document order (names.h);
 * valid until the next change. Not inside a transaction (-EBUSY). */
int tree_runner_names(struct rfs *fs, char ***names, size_t *n);

#endif
