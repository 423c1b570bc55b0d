/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_CONTROL_H
#define RUNNERFS_CONTROL_H

/*
 * control: the files of .runnerfs/ (docs/filesystem.md ".runnerfs/") — status, errors,
 * reload and history/N — rendered from the context. Nothing here writes;
 * writes to `reload` are handled by the reload module.
 * Locking: rendered with fs->lock held; the reload part takes the
 * reload module's own lock (reload.h).
 */

#include "runnerfs/buf.h"
#include "runnerfs/rfs.h"
#include "runnerfs/tree.h"

int control_render(struct rfs *fs, const struct tree_ref *r, struct buf *out);

#endif
