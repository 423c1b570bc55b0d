/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_NODE_H
#define RUNNERFS_NODE_H

/*
 * node: what the mount keeps about a path beyond the document — its
 * identity across renames (so a runner moved with mv keeps its inode
 * number), the inode number itself, and when its value last changed.
 *
 * Inode numbers: within a directory they follow the document, because
 * cp -r and rsync create files in inode order on FUSE and a copy should
 * keep the source's key order: the directory's hash in the high bits, a
 * rank in the low ones (keys by their place, tables after every key by
 * their place in the schema, unknown tables after those, entries by the
 * number they are named). A directory's number never changes while it
 * exists (fts compares it on the way back up); a key's may, when a key
 * before it goes. Runners and everything else: a hash of the path.
 *
 * State: fs->origins (renamed path -> the path it had), fs->mtimes,
 * guarded by fs->lock.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "runnerfs/rfs.h"
#include "runnerfs/tree.h"

uint64_t node_hash(struct rfs *fs, const char *p);
ino_t node_ino(struct rfs *fs, const char *p, const struct tree_ref *r);
/* The same for a path that is resolved first. */
ino_t node_ino_path(struct rfs *fs, const char *p);
/* `to` is the node that was `from` (a rename). */
void node_keep_identity(struct rfs *fs, const char *from, const char *to);
struct timespec node_time(struct rfs *fs, const char *p);
/* p's value (or listing) changed now. */
void node_touch(struct rfs *fs, const char *p);
/* The directory holding p ("" for the root). */
void node_parent(const char *p, char *out, size_t n);

#endif
