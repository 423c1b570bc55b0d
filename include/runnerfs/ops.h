/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_OPS_H
#define RUNNERFS_OPS_H

/*
 * ops: the operations on paths, as libfuse's fuse_operations table. Each
 * takes the context's lock, resolves its path with tree.h and hands
 * changes to txn.h. The FUSE front end (ll.h) turns each request into a
 * path and calls the table.
 *
 *   ops_begin(fs, pid)   before each call, in the thread that makes it:
 *                        the context, and the process that asks (fresh.h)
 *   ops_started(fs)      the mount is up: the watch and reload threads
 *                        start (after the daemon forked: threads do not
 *                        survive a fork)
 *   ops_stopped(fs)      the session is over: open files are freed
 *   ops_name(fs, path, &type)
 *                        is path a name now (0, its S_IFMT in type)? 1:
 *                        not, but it went with another change a moment
 *                        ago and unlinking it answers 0 (change.h): the
 *                        kernel may keep it a while yet; -ENOENT: gone
 */

#include <sys/types.h>

struct fuse_operations;
struct rfs;

const struct fuse_operations *rfs_operations(void);
void ops_begin(struct rfs *fs, pid_t pid);
void ops_started(struct rfs *fs);
void ops_stopped(struct rfs *fs);
int ops_name(struct rfs *fs, const char *path, mode_t *type);

#endif
