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
 *                          refresh; hand fn the document to edit (no copy,
 *                          not even of its text: its journal keeps the
 *                          bytes each edit replaced, toml.h); if fn succeeds
 *                          and the bytes changed, write them to CONFIG
 *                          atomically (commit.h), and keep the difference
 *                          in history. If anything fails, the document is
 *                          put back to the old bytes, CONFIG stays as it
 *                          was and the reason goes to .runnerfs/errors and
 *                          the log under `path`.
 *
 * Waiting never holds fs->lock (so no read waits for a change): a change
 * that finds CONFIG being written by someone else (open for writing: no
 * read lease; or it stopped parsing a moment ago) waits with fs->lock
 * released, and fails with EBUSY and a sentence once RFS_BUSY_WAIT_MS
 * have passed since it started — a deadline that new events do not
 * extend. The write, fsyncs and rename of a commit also run with fs->lock
 * released (fs->txn.committing): readers meanwhile see the document
 * being written, nothing rereads CONFIG, and another change waits for the
 * commit to end. A change that finds at the last check before the rename
 * that someone wrote CONFIG meanwhile starts over on top of what they
 * wrote. So a caller must not keep pointers into the document across
 * txn_run(): the document may have been replaced meanwhile.
 *
 * *work is fs->doc. fn edits it in place, or puts a new document there
 * (a whole-file write) and leaves the old one, which txn_run frees once
 * the change is made or undone (its text is the version before). A
 * failing fn must not have replaced it. Caches keyed by the document must
 * also check toml_version(): fn's own lookups see its earlier edits.
 * On failure fn returns -errno with a sentence in why; it need not undo
 * what it did.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "runnerfs/toml.h"

struct rfs;

/* fs->txn, guarded by fs->lock. */
struct rfs_txn {
	bool committing;          /* a commit is writing CONFIG, fs->lock released */
	pthread_cond_t committed; /* signalled when it is done */
	bool in_place;            /* CONFIG is written in place (bind mount) */
	struct timespec mtime;    /* CONFIG's mtime as last read or written */
	bool gave_up;             /* this operation's txn_settle() ran out of time */
};

/* How long a change waits for someone else who is writing CONFIG. */
#define RFS_BUSY_WAIT_MS 3000

typedef int (*txn_fn)(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t whylen);

int txn_refresh(struct rfs *fs);
/* Someone else is at work on CONFIG: it has it open for writing, or it
 * stopped parsing a moment ago (watch.h: a writer between two writes). */
bool txn_busy(struct rfs *fs);
/* With fs->lock held, before a change begins (open for writing, create,
 * truncate): while txn_busy(), wait, with the lock released, at most
 * RFS_BUSY_WAIT_MS — so that a refusal can come at open(), where a shell
 * sees it, rather than at close(). fs->txn.gave_up says whether it ran
 * out of time (reset by every operation's lock). */
void txn_settle(struct rfs *fs);
int txn_run(struct rfs *fs, const char *path, txn_fn fn, void *arg);
/* Load CONFIG at start-up: 0, or -EINVAL when it does not parse (the
 * reason in fs->disk_error), or -errno. */
int txn_load(struct rfs *fs);

#endif
