/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_LL_H
#define RUNNERFS_LL_H

/*
 * ll: the FUSE front end, on libfuse's low-level API. It owns the kernel's
 * node ids (inodes.h): each is a (parent, name) the kernel looked up,
 * kept until the kernel forgets it, renamed with a rename, cut loose from
 * its name by an unlink. Each request is turned into the path its node has
 * now and handed to the operations table (ops.h), which knows what a path
 * means; the table's -errno is the reply. What the low-level API allows
 * (docs/performance.md, "The low-level front end"):
 *
 *   - the kernel keeps names and attributes for a minute (.runnerfs/
 *     attributes for a second) and directory listings across opens
 *     (cache_readdir; keep_cache as ops.c says at OPENDIR, which still
 *     reaches the daemon: it takes in an outside writer's change);
 *   - kcache's inval (kcache.h) drops what the kernel keeps of a path
 *     (attributes, pages, a directory's listing) by the node id the
 *     kernel knows it by, before the change is answered; -ENOENT when
 *     the kernel holds none;
 *   - names that may have gone are checked afterwards by the checker, a
 *     thread of ll's own: it asks the table (ops_name) as process -1 and
 *     tells the kernel (notify_inval_entry) with no lock held, because
 *     the kernel takes the directory's lock for that, which the request
 *     that made the change may hold. A name that went with another
 *     change is kept while unlinking it answers 0, then checked again.
 *
 * Life cycle: ll_run(args, fs) mounts, serves until unmounted or stopped
 * by a signal, unmounts. The checker and fs->kc.inval are set up in the
 * INIT callback (after the daemon forked) and stopped between the loop's
 * end and the unmount (kcache_stop, then the checker, bounded: a send
 * blocked in the kernel is let go by the unmount).
 * State: struct ll (fs/ll.c); its mutex guards the node table and the
 * checker's queue, taken after fs->lock and kc.mu, never before, and
 * never held across a call into ops.
 */

struct fuse_args;
struct rfs;

/* Exit codes as fuse_main's: 0 served and unmounted, 1 bad options, 2 no
 * mount point, 3 session, 4 mount, 5 daemonize, 6 signals, 7 loop
 * configuration, 8 the loop failed. */
int ll_run(struct fuse_args *args, struct rfs *fs);

#endif
