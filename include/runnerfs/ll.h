/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_LL_H
#define RUNNERFS_LL_H

/*
 * ll: the FUSE front end, on libfuse's low-level API. It owns the kernel's
 * node ids: each is a (parent, name) the kernel looked up, kept until the
 * kernel forgets it (FORGET), renamed with a rename, cut loose from its
 * name by an unlink. Each request is turned into the path its node has
 * now and handed to the operations table (ops.h), which knows what a path
 * means; the table's -errno is the reply. Where the high-level API would
 * have stood in the way (docs/performance.md, "The low-level front end"):
 *
 *   - OPENDIR is answered ENOSYS, so the kernel opens directories itself
 *     and keeps their listings (readdir cache) until a change drops them;
 *     each READDIR lists the directory again from the table and answers
 *     from its offset (offsets are positions in that list);
 *   - the table of nodes is small (a node is its parent, its name, its
 *     lookup count), where libfuse's takes 7 MB at 1000 runners;
 *   - ll_invalidate drops what the kernel keeps of a path (its
 *     attributes, its pages, a directory's listing) by the node id the
 *     kernel knows it by, and tells when the kernel holds none.
 *
 * Life cycle: ll_run(args, fs) mounts, serves until unmounted or stopped
 * by a signal, unmounts. While it serves, fs->kc.inval is ll_invalidate.
 * State: struct ll (fs/ll.c), its node table guarded by its own mutex,
 * taken after fs->lock and kc.mu, never before; no call into ops is made
 * with it held.
 */

struct fuse_args;
struct rfs;

/* Exit codes as fuse_main's: 0 served and unmounted, 1 bad options, 2 no
 * mount point, 3 session, 4 mount, 5 daemonize, 6 signals, 7 loop
 * configuration, 8 the loop failed. */
int ll_run(struct fuse_args *args, struct rfs *fs);

#endif
