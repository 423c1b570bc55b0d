/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_TXN_H
#define RUNNERFS_TXN_H

/*
 * txn: one change is one transaction. With fs->lock held:
 *
 *   txn_refresh(fs)        if CONFIG changed on disk since we read or wrote
 *                          it, read it again (the runner rewrites its own
 *                          file; `gitlab-runner register` appends to it)
 *   txn_run(fs, path, fn, arg)
 *                          refresh; hand fn a copy of the document to edit;
 *                          if fn succeeds and the bytes changed, write them
 *                          to CONFIG atomically (commit.h), keep the old
 *                          version in history, and make the copy the
 *                          document. If anything fails, the document and
 *                          CONFIG stay as they were and the reason goes to
 *                          .runnerfs/errors and the log under `path`.
 *
 * fn may replace *work entirely (a whole-file write) or edit it in place.
 * On failure it returns -errno with a sentence in why.
 */

#include <stddef.h>

#include "runnerfs/rfs.h"

/* How long a change waits for someone else who is writing CONFIG. */
#define RFS_BUSY_WAIT_MS 3000

typedef int (*txn_fn)(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t whylen);

int txn_refresh(struct rfs *fs);
int txn_run(struct rfs *fs, const char *path, txn_fn fn, void *arg);
/* Load CONFIG at start-up: 0, or -EINVAL when it does not parse (the
 * reason in fs->disk_error), or -errno. */
int txn_load(struct rfs *fs);

#endif
