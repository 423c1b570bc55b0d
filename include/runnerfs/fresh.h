/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_FRESH_H
#define RUNNERFS_FRESH_H

/*
 * fresh: a directory that a copy made a moment ago looks empty to the
 * process copying into it, as a new directory does on any filesystem.
 * cp -r and cp -a fill a directory they made by creating each file with
 * O_EXCL and each subdirectory with mkdir (Python's shutil.copytree makes
 * each subdirectory with mkdir), and fail on anything already there; but
 * `mkdir runners/NEW` writes a runner with `name = "NEW"` (and the
 * registries every runner has), and every runner has `registries/`.
 *
 * A copy is recognised by what is read: a runner (or registry) directory
 * made and, a moment before or after the mkdir, the listing of another
 * runner (registry) — cp -r reads the source right after its mkdir,
 * copytree right before, rsync's sender in a process of its own. Until
 * RFS_FRESH_MS pass with nothing made or written in it by any process,
 * what the copy holds is hidden from that process
 * alone until it makes it (open with O_CREAT, mkdir), which shows it; then
 * it works as usual. Every other process sees what is there. And:
 *   - `name` written in a runner made a moment ago keeps the
 *     directory's name when it is another runner's name (cp -r, rsync
 *     and tar x bring the source's `name` file too) or when the process
 *     that made the directory writes it (cp -a of a backup from
 *     elsewhere);
 *   - a key written in a copy takes the source's TOML text when the bytes
 *     written are what the source's file reads (arrays stay arrays,
 *     quoting stays); a table the source has, known to the schema or
 *     not, is made (an inline one copied whole, then fresh in turn).
 *
 * Paths are canonical mount paths (tree_ref.canon); pid is the calling
 * process. State: fs->fresh, guarded by fs->lock; a fresh directory that
 * goes is forgotten with it.
 */

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "runnerfs/map.h"

struct rfs;

struct fresh_dir {
	char *dir;
	char *src;   /* what it is a copy of (NULL: not known to be a copy) */
	pid_t pid;   /* the process that made it */
	bool guessed; /* src: listed before the mkdir, or by another process */
	struct timespec last;
};

struct fresh_list {  /* the last runner (or registry) a process listed */
	char *dir;
	pid_t pid;
	struct timespec when;
};

struct rfs_fresh {
	struct fresh_dir *v;
	size_t n, cap;
	struct rfs_map shown; /* parts made since */
	/* [0] the last runner listed, [1] the last registry: kept apart,
	 * because a copier (rsync's sender) goes on into the source's
	 * registries while the runner's mkdir is on its way */
	struct fresh_list listed[2];
};

/* dir was made by pid; src: what it is a copy of, if known already. */
void fresh_made(struct rfs *fs, const char *dir, pid_t pid, const char *src);
/* pid read the listing of dir (readdir from the start). */
void fresh_listed(struct rfs *fs, const char *dir, pid_t pid);
/* dir is a copy pid is making. */
bool fresh_is(struct rfs *fs, const char *dir, pid_t pid);
/* dir is a copy some process is making (rsync: one makes the directory,
 * another renames files into it). */
bool fresh_copying(struct rfs *fs, const char *dir);
/* dir was made by mkdir a moment ago by pid. */
bool fresh_made_by(struct rfs *fs, const char *dir, pid_t pid);
/* dir was made by mkdir a moment ago, by any process (tar x, rsync). */
bool fresh_made_lately(struct rfs *fs, const char *dir);
/* dir was listed a moment ago (the source of a copy). */
bool fresh_listed_lately(struct rfs *fs, const char *dir);
/* Something in a copy of pid's that was not made since. */
bool fresh_hidden(struct rfs *fs, const char *path, pid_t pid);
void fresh_show(struct rfs *fs, const char *path, pid_t pid);
/* For a path inside a copy of a runner (whoever writes it): the source
 * runner's path, and in
 * *rest what follows the copy's own path ("/docker/image"). */
const char *fresh_source(struct rfs *fs, const char *path, const char **rest, pid_t pid);
void fresh_forget(struct rfs *fs, const char *dir);
void fresh_free(struct rfs *fs);

#endif
