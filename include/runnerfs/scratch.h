/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_SCRATCH_H
#define RUNNERFS_SCRATCH_H

/*
 * scratch: the files editors and tools make next to the file they save
 * (sedXXXXXX, .key.swp, key~, 4913, .ansible_tmp*, an emacs lock symlink,
 * puppet's lock directory). A name that is not a key of its table is a
 * scratch file: an ordinary file, directory or symlink that lives in
 * memory only, never reaches config.toml and is gone at unmount.
 *
 * Hard links share their content (struct scratch_data is reference
 * counted, so an open file keeps its content after unlink). A scratch
 * file holds at most RFS_SCRATCH_FILE_MAX bytes and all of them together
 * RFS_SCRATCH_TOTAL_MAX (EFBIG, ENOSPC): an editor's swap file or backup
 * of a large config.toml fits, a runaway writer does not fill the
 * daemon's memory. Paths are
 * mount paths without the leading slash. The set is small and searched
 * linearly. State: fs->scratch, guarded by fs->lock (so is the content
 * of an open scratch file).
 */

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "runnerfs/buf.h"

#define RFS_SCRATCH_FILE_MAX (32 << 20)
#define RFS_SCRATCH_TOTAL_MAX (128 << 20)

enum scratch_type { SC_FILE, SC_DIR, SC_LINK };

struct scratch_data {
	int refs;
	struct buf content; /* a file's bytes, a link's target */
	mode_t mode;
	struct timespec mtime;
	ino_t ino;
	unsigned nlink;
	/* when a writer last closed it (CLOCK_MONOTONIC; 0: never), and
	 * whether that has been reported as a temp file left behind */
	struct timespec closed;
	bool reported;
};

struct scratch {
	char *path;
	enum scratch_type type;
	struct scratch_data *data;
};

struct scratch_set {
	struct scratch *v;
	size_t n, cap;
	unsigned long serial; /* for inode numbers */
};

struct scratch *scratch_get(struct scratch_set *s, const char *path);
/* A new entry; -EEXIST if the path is taken. */
int scratch_add(struct scratch_set *s, const char *path, enum scratch_type type, mode_t mode,
		struct scratch **out);
/* A second name for a file's content (link(2)). */
int scratch_link(struct scratch_set *s, const char *from, const char *to);
int scratch_remove(struct scratch_set *s, const char *path);
/* Move an entry (and, for a directory, everything under it). An entry at
 * `to` is replaced. */
int scratch_rename(struct scratch_set *s, const char *from, const char *to);
/* Is anything under directory `dir`? */
bool scratch_has_children(struct scratch_set *s, const char *dir);
/* Drop everything under `dir` (its table went away). */
void scratch_remove_under(struct scratch_set *s, const char *dir);
struct scratch_data *scratch_data_ref(struct scratch_data *d);
void scratch_data_unref(struct scratch_data *d);
void scratch_free(struct scratch_set *s);
/* Is `name` one the tools of docs/filesystem.md ("Scratch files") give
 * their own files: a dot file (swap files, rsync, Python, Ansible, an
 * emacs lock, .fuse_hidden), a backup ending in ~, emacs's #auto-save#,
 * vim's numeric probe (4913), sedXXXXXX, perl's XXxxxxxx, tmpXXXXXX?
 * (A key's name followed by a suffix, value.bak, is the caller's test.) */
bool scratch_tool_name(const char *name, size_t len);
/* Is `name` a tool's temp file, one that is renamed onto the file it
 * saves (sedXXXXXX, .ansible_tmp…, rsync's and Python's .value.XXXXXX),
 * as opposed to a swap file, lock, auto-save or backup that stays? */
bool scratch_temp_name(const char *name, size_t len);
/* Bytes held by the files of the set (a hard link counts twice). */
size_t scratch_bytes(const struct scratch_set *s);

#endif
