/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_SCHEMA_H
#define RUNNERFS_SCHEMA_H

/*
 * schema: GitLab Runner's config.toml keys, as data.
 *
 * Locking: none needed — constant data, read by every thread.
 *
 * One set of tables describes every table the runner reads: each key's
 * kind and type, whether it is a secret, the values it allows, its default,
 * a one-line description, and the runner's own hard rules. Everything else
 * reads it from here: the filesystem (types of writes, modes, which names
 * are keys, xattrs), `runnerfs --check`, `runnerfs --schema` and the key
 * reference in docs/. Keys not in the schema (a newer runner) are not
 * errors: callers treat them by the type they already have.
 *
 * All data is static and const; nothing here allocates or keeps state.
 */

#include <stdbool.h>
#include <stddef.h>

#include "runnerfs/toml.h"

enum schema_kind {
	SK_VALUE,   /* a scalar or an array of scalars */
	SK_TABLE,   /* [a.b] */
	SK_ENTRIES, /* [[a.b]]: an array of tables */
	SK_MAP,     /* a table of free keys (feature_flags, labels, sysctls):
		     * every value has `type` */
};

enum schema_type {
	SV_NONE,     /* tables */
	SV_STRING,
	SV_INT,
	SV_FLOAT,
	SV_BOOL,
	SV_DATETIME, /* offset date-time */
	SV_DURATION, /* a string Go's time.ParseDuration reads ("15m", "1h30m",
		      * "90s"), or an integer (nanoseconds) */
	SV_STRINGS,  /* array of strings */
	SV_INTS,     /* array of integers */
	SV_STRING_OR_STRINGS, /* either (pull_policy) */
	SV_ANY,      /* anything; shown as TOML text */
};

enum schema_flag {
	SF_SECRET = 1 << 0,  /* mode 0600, never logged */
	SF_RESTART = 1 << 1, /* the runner reads it only at start */
};

struct schema_table;

struct schema_key {
	const char *name;               /* as the runner spells it */
	enum schema_kind kind;
	enum schema_type type;          /* SK_VALUE; for SK_MAP, its values */
	unsigned flags;
	const char *const *allowed;     /* NULL-terminated, or NULL: any */
	const char *def;                /* the default the runner applies, as text */
	const char *doc;                /* one line, no trailing period */
	const struct schema_table *table; /* SK_TABLE, SK_ENTRIES */
	/* A hard rule on each scalar (each element of an array): 0, or
	 * -EINVAL with a sentence in why. NULL: none. */
	int (*rule)(const toml_value *v, char *why, size_t whylen);
	/* SK_MAP only: a rule on the keys (label patterns). */
	int (*key_rule)(const char *key, size_t len, char *why, size_t whylen);
};

struct schema_table {
	const char *path; /* "", "runners", "runners.docker", ... */
	const struct schema_key *keys;
	size_t nkeys;
};

/* The root table (global keys, [session_server], [[runners]], ...). */
const struct schema_table *schema_root(void);

/* Key `name` of table t, or NULL. Exact match (the runner's spelling). */
const struct schema_key *schema_key(const struct schema_table *t, const char *name,
				    size_t len);

/* The closest key name of t to `name` (edit distance, case-insensitive
 * first), for "did you mean"; NULL when nothing is close. */
const char *schema_suggest(const struct schema_table *t, const char *name, size_t len);

/* Does v fit key k: its type (an integer fits a float; SV_DURATION takes a
 * duration string or an integer), its allowed values, its rule? 0, or
 * -EINVAL with a sentence in why ("\"fast\" is not one of: always, never,
 * if-not-present"). For arrays call it once per element with the element. */
int schema_check_value(const struct schema_key *k, const toml_value *v, char *why,
		       size_t whylen);

/* The TOML type a person's text for key k is read as (SV_DURATION and
 * SV_STRING: TOML_STRING; SV_STRINGS: TOML_STRING elements, ...). */
toml_type schema_toml_type(const struct schema_key *k);
bool schema_is_array(const struct schema_key *k);
const char *schema_type_name(enum schema_type t); /* "string", "duration", ... */

/* Checking a whole document (runnerfs --check). Each problem is reported
 * once, in document order: severity 2 = error (a type error or a broken
 * hard rule: the runner would refuse the file), 1 = warning (an unknown
 * key, with "did you mean" when one is close). `path` is the dotted path
 * with runners by index ("runners[1].docker.image"). Returns the number
 * of errors. */
typedef void (*schema_report_fn)(void *arg, int severity, int line, const char *path,
				 const char *msg);
int schema_check_doc(const toml_doc *doc, schema_report_fn report, void *arg);

/* Every table, depth first, for docs and `runnerfs --schema`. */
void schema_walk(void (*fn)(void *arg, const struct schema_table *t), void *arg);

#endif
