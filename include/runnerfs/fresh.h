/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_FRESH_H
#define RUNNERFS_FRESH_H

/*
 * fresh: a directory that mkdir made a moment ago looks empty to the
 * process that made it, as a new directory does on any filesystem.
 * cp -r, cp -a and Python's shutil.copytree count on it: they fill a
 * directory they made by creating each file with O_EXCL and each
 * subdirectory with mkdir, and fail on anything already there. Any other
 * process (cat, ls, the next Ansible task) sees what mkdir wrote.
 *
 * `mkdir runners/NEW` writes a runner with `name = "NEW"` and the
 * registries every runner has (an `environment`); `mkdir
 * .../registries/HOST` writes an empty registry. While the burst of
 * changes that made such a directory goes on (history_in_burst), what is
 * in it is hidden until it is made (open with O_CREAT, mkdir), which shows
 * it; then it works as usual. Rules for copies:
 *   - `name` written with another runner's name is a copy (cp -r A NEW):
 *     the runner keeps its directory's name and A becomes its source;
 *   - mkdir of a registry a fresh runner already has (it came with the
 *     copied `environment`) succeeds and makes that registry fresh;
 *   - a key written in a copy takes the source's TOML text when the bytes
 *     written are what the source's file reads (arrays stay arrays,
 *     quoting stays).
 *
 * Paths are canonical mount paths (tree_ref.canon); pid is the calling
 * process. State: fs->fresh (each fresh directory: the process, its copy
 * source if any, when something was last made in it; and the parts made
 * since), guarded by fs->lock; a fresh directory that goes is forgotten
 * with it.
 */

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "runnerfs/map.h"

struct rfs;

struct fresh_dir {
	char *dir;
	char *src;   /* a copy's source runner, or NULL */
	pid_t pid;   /* the process that made it */
	struct timespec last;
};

struct rfs_fresh {
	struct fresh_dir *v;
	size_t n, cap;
	struct rfs_map shown; /* parts made since */
};

void fresh_made(struct rfs *fs, const char *dir, pid_t pid);
bool fresh_is(struct rfs *fs, const char *dir, pid_t pid);
/* Something in a fresh directory of pid's that was not made since. */
bool fresh_hidden(struct rfs *fs, const char *path, pid_t pid);
void fresh_show(struct rfs *fs, const char *path, pid_t pid);
void fresh_set_source(struct rfs *fs, const char *dir, const char *src, pid_t pid);
/* For a path inside a fresh copy: the source runner's path, and in *rest
 * what follows the copy's own path ("/docker/image"). NULL otherwise. */
const char *fresh_source(struct rfs *fs, const char *path, const char **rest, pid_t pid);
void fresh_forget(struct rfs *fs, const char *dir);
void fresh_free(struct rfs *fs);

#endif
