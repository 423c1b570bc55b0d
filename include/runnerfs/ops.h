/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_OPS_H
#define RUNNERFS_OPS_H

/*
 * ops: the FUSE operations table. Each operation takes the context's lock,
 * resolves its path with tree.h and hands changes to txn.h. The context
 * (struct rfs) is the private data given to fuse_main().
 */

struct fuse_operations;
const struct fuse_operations *rfs_operations(void);

#endif
