/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_NAMES_H
#define RUNNERFS_NAMES_H

/*
 * names: the directory names of the entries of arrays of tables (runners
 * by their `name`, every other array by position), and how they stay put.
 *
 * A name, once given to an entry, stays with that entry until the entry is
 * removed or renamed through the mount: when its `name` key is removed
 * (rm -r removes it before the directory), when another runner of the
 * same name goes, when an entry before it goes (services/1 stays
 * services/1 after rm -r services/0). So a tool halfway through a walk
 * never finds another item under a name it has listed.
 *
 * Fresh names (the first time an array is seen, and when CONFIG was
 * changed from outside in a way the old names no longer fit): a runner is
 * named by its `name` (encoded, tree.h); the first runner of a name keeps
 * it, later ones and nameless ones get `NAME#N` / `#N`, N their 1-based
 * position; other entries are named 0, 1, 2, ...
 *
 * Lists are keyed by the array's directory in the mount, spelled with
 * these names ("runners", "runners/x/docker/services"). State lives in
 * fs->names, guarded by fs->lock like the document.
 *
 * Life cycle:
 *   names_of(fs, d, dir, arr, runners, &l, &tmp)
 *                 the names of array arr (TOML_NONE: not there) of
 *                 document d. For fs->doc outside a transaction the list
 *                 is kept (and made when missing or no longer matching);
 *                 inside one, or for another document, when the array no
 *                 longer has as many entries as the list, a fresh list is
 *                 made in *tmp, which the caller frees (names_list_free).
 *                 -EAGAIN: a commit was in flight (fs->lock released,
 *                 txn.c) whose names were not settled yet; it waited for
 *                 it, and the caller starts again from fs->doc (fresh
 *                 names then would renumber what a tool is walking).
 *   names_removed / names_appended / names_renamed
 *                 after a committed change that removed entry idx, added
 *                 an entry at the end, or gave entry idx a new name (lists
 *                 under a removed or renamed entry go or move with it)
 *   names_unnamed(fs, dir, idx)
 *                 entry idx of runners lost its `name` through the mount
 *                 (rm -r removes it first): it keeps its directory, also
 *                 across an outside change, until it is removed or named
 *   names_replaced(fs)
 *                 the document was read again or replaced as a whole: each
 *                 list is checked against it when next used and kept if
 *                 it still fits (same count; each runner's name, if it has
 *                 one, still the base of its directory name; a runner
 *                 without one keeps a named directory only if names_unnamed
 *                 said so: a name lost outside, or by a whole new
 *                 config.toml, gives fresh names, or the old directory
 *                 would show another runner than the one it names)
 *   names_free(fs)
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runnerfs/toml.h"

struct rfs;

struct name_list {
	char *dir;      /* the array's directory in the mount */
	char **names;   /* one per entry, in document order */
	size_t n;
	size_t *sorted; /* positions, by name */
	uint64_t epoch;
	char **unnamed; /* names of entries names_unnamed kept */
	size_t nunnamed;
};

struct rfs_names {
	struct name_list **v;   /* each its own allocation: names_of's *out
				 * stays valid while other lists are made */
	size_t n, cap;
	uint64_t epoch;  /* bumped by names_replaced */
	int in_txn;      /* a transaction is editing fs->doc */
};

int names_of(struct rfs *fs, const toml_doc *d, const char *dir, size_t dlen, uint32_t arr,
	     bool runners, const struct name_list **out, struct name_list **tmp);
/* The position of the entry named `name`, or -1. */
long names_find(const struct name_list *l, const char *name);
/* Positional arrays: the name the next entry gets (one past the
 * largest). */
unsigned long names_next(const struct name_list *l);
void names_list_free(struct name_list *l);

void names_removed(struct rfs *fs, const char *dir, size_t idx);
void names_appended(struct rfs *fs, const char *dir, const char *name);
void names_renamed(struct rfs *fs, const char *dir, size_t idx, const char *name);
void names_unnamed(struct rfs *fs, const char *dir, size_t idx);
void names_replaced(struct rfs *fs);
/* The lists at and under `from` are copied to `to` (an inline table
 * copied whole: its entries keep their names). */
void names_copy(struct rfs *fs, const char *from, const char *to);
void names_free(struct rfs *fs);

/* The fresh names of the root runners of d (see above): *names has *n
 * malloc'd strings. */
int names_fresh_runners(const toml_doc *d, char ***names, size_t *n);

#endif
