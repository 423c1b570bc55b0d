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
 *                          refresh; hand fn the document to edit (no copy:
 *                          the old bytes are kept instead); if fn succeeds
 *                          and the bytes changed, write them to CONFIG
 *                          atomically (commit.h), and keep the difference
 *                          in history. If anything fails, the document is
 *                          put back to the old bytes, CONFIG stays as it
 *                          was and the reason goes to .runnerfs/errors and
 *                          the log under `path`.
 *
 * *work is fs->doc. fn edits it in place, or frees it and puts a new
 * document there (a whole-file write). Caches keyed by the document must
 * also check toml_version(): fn's own lookups see its earlier edits.
 * On failure fn returns -errno with a sentence in why; it need not undo
 * what it did.
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
