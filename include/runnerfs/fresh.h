/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_FRESH_H
#define RUNNERFS_FRESH_H

/*
 * fresh: a directory that mkdir made a moment ago looks empty, as a new
 * directory does on any filesystem. cp -r, cp -a and rsync count on it:
 * they fill a directory they made by creating each file with O_EXCL and
 * each subdirectory with mkdir, and fail on anything already there.
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
 * Paths are canonical mount paths (tree_ref.canon). State: fs->fresh
 * (a fresh directory -> its copy source, if any) and fs->fresh_shown (the
 * parts made since), guarded by fs->lock; both are dropped when the burst
 * is over, and a fresh directory that goes is forgotten with it.
 */

#include <stdbool.h>

struct rfs;

void fresh_made(struct rfs *fs, const char *dir);
bool fresh_is(struct rfs *fs, const char *dir);
/* Something in a fresh directory that was not made since. */
bool fresh_hidden(struct rfs *fs, const char *path);
void fresh_show(struct rfs *fs, const char *path);
void fresh_set_source(struct rfs *fs, const char *dir, const char *src);
/* For a path inside a fresh copy: the source runner's path, and in *rest
 * what follows the copy's own path ("/docker/image"). NULL otherwise. */
const char *fresh_source(struct rfs *fs, const char *path, const char **rest);
void fresh_forget(struct rfs *fs, const char *dir);
void fresh_free(struct rfs *fs);

#endif
