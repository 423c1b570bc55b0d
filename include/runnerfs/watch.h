/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_WATCH_H
#define RUNNERFS_WATCH_H

/*
 * watch: notice outside writers (contract 3.4). The runner rewrites its
 * own file in place (O_TRUNC, then writes, then close); people run vi on
 * it; `gitlab-runner register` appends to it.
 *
 *   watch_start(fs)     inotify on CONFIG's directory and a thread that
 *                       rereads CONFIG when a writer has finished with it
 *   watch_sync(fs)      with fs->lock held, at the start of an operation:
 *                       take in what happened since; if a writer is still
 *                       writing, wait for it (bounded); reread if needed —
 *                       so that a read right after an outside write sees it
 *                       and a change through the mount never lands inside
 *                       someone else's half-written file
 *   watch_stop(fs)
 *
 * A file that does not parse right after a change is retried for a while
 * (RFS_BROKEN_GRACE_MS) before it counts as broken; while broken, the tree
 * keeps the last good version, writes fail with EIO, .runnerfs/status says
 * why, and it recovers by itself when the file is fixed.
 */

#include "runnerfs/rfs.h"

#define RFS_QUIET_MS 50           /* no event for this long: the writer is done */
#define RFS_WRITER_WAIT_MS 2000   /* longest wait for a writer to close the file */
#define RFS_BROKEN_GRACE_MS 2000  /* retries before a bad parse counts */

int watch_start(struct rfs *fs);
void watch_sync(struct rfs *fs);
void watch_stop(struct rfs *fs);

#endif
