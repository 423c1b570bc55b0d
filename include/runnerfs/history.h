/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_HISTORY_H
#define RUNNERFS_HISTORY_H

/*
 * history: the versions of config.toml that our writes replaced
 * (.runnerfs/history/N, N = 1 newest), kept as reverse diffs so that five
 * versions of a 1 MB file cost a few bytes each, not 5 MB.
 * State: fs->hist (struct rfs_history below), guarded by fs->lock.
 *
 * Entry 0 turns the document's current text into version 1; entry k turns
 * version k into version k + 1. So every change of the document's text
 * must tell the history:
 *
 *   history_push(fs, change)
 *                          our write replaced the text before the change
 *                          (struct history_change: one range of the new
 *                          text, which is now the document's, and the
 *                          bytes it had; no copy of the whole text is
 *                          needed); the text before becomes version 1 —
 *                          unless it came within a burst (each change
 *                          less than burst= ms after the one before; a
 *                          whole-file write is a burst of its own,
 *                          fs->hist.open = false around it): then version 1
 *                          stays the text from before the burst, so one
 *                          rm -r, cp -r or Ansible run is undone in one
 *                          step
 *   history_outside(fs, old, oldlen, new, newlen)
 *                          the document's text changed from old to new
 *                          without our write (CONFIG was changed on disk):
 *                          old becomes version 1, a version of its own
 *                          (undo gives back what the outside writer
 *                          replaced), and the burst ends
 *   history_in_burst(fs)   the last write was a moment ago: the burst
 *                          it belongs to is still going on
 *   history_text(fs, n, out)
 *                          version n (1-based), appended to out
 *   history_free(fs)
 *
 * Failures to remember are not errors of the write: the oldest versions
 * are dropped instead (history is a convenience).
 */

#include <stdbool.h>
#include <stddef.h>

#include <time.h>

#include "runnerfs/buf.h"

#define RFS_BACKUPS_MAX 100

struct rfs;

/* One version of .runnerfs/history: a reverse diff. */
struct rfs_version {
	size_t at, cut;  /* the range [at, at + cut) of the newer version ... */
	char *bytes;     /* ... is replaced by these */
	size_t nbytes;
	struct timespec when;
};

/* fs->hist, guarded by fs->lock. */
struct rfs_history {
	struct rfs_version v[RFS_BACKUPS_MAX]; /* [0] newest */
	int n;
	struct timespec last; /* the last change of the burst (monotonic) */
	bool open;            /* v[0] is the burst's: changes join it */
};

/* A change of the text, as one range: the text before it is `new` with
 * [at, newlen - tail) replaced by the oldn bytes at `old`. */
struct history_change {
	const char *new;
	size_t newlen, at, tail;
	const char *old;
	size_t oldn;
};

void history_push(struct rfs *fs, const struct history_change *c);
void history_outside(struct rfs *fs, const char *old, size_t oldlen, const char *new, size_t newlen);
bool history_in_burst(struct rfs *fs);
int history_text(struct rfs *fs, int n, struct buf *out);
void history_free(struct rfs *fs);

#endif
