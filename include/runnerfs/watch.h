/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_WATCH_H
#define RUNNERFS_WATCH_H

/*
 * watch: notice outside writers (docs/filesystem.md "Changes from outside"). The runner rewrites its
 * own file in place (O_TRUNC, then writes, then close); people run vi on
 * it; `gitlab-runner register` appends to it.
 *
 *   watch_start(fs)     inotify on CONFIG's directory and a thread that
 *                       rereads CONFIG when a writer has finished with it
 *   watch_sync(fs)      with fs->lock held, at the start of an operation:
 *                       take in what happened since and reread CONFIG if
 *                       a writer has finished with it, so that a read right
 *                       after an outside write sees it. Never waits: while
 *                       a writer is still at work, requests are answered
 *                       from the last version read; a change waits for the
 *                       writer in txn_run (txn.h), with fs->lock released.
 *   watch_stop(fs)
 *
 * State: fs->watch, guarded by fs->lock (the thread takes it too).
 *
 * A file that does not parse right after a change is retried for a while
 * (RFS_BROKEN_GRACE_MS; changes wait that long, reads do not) before it
 * counts as broken; while broken, the tree
 * keeps the last good version, writes fail with EIO, .runnerfs/status says
 * why, and it recovers by itself when the file is fixed.
 */

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

struct rfs;

struct rfs_watch {
	int fd;
	int file_wd;  /* a watch on CONFIG itself (bind mounts) */
	int stop[2];
	pthread_t tid;
	bool running;
	bool dirty;   /* CONFIG changed: reread it */
	bool writing; /* modified and not yet closed */
	struct timespec last;         /* last event (monotonic) */
	struct timespec broken_since; /* first failed parse (monotonic) */
};

#define RFS_QUIET_MS 50           /* no event for this long: the writer is done */
#define RFS_WRITER_WAIT_MS 2000   /* longest wait for a writer to close the file */
#define RFS_BROKEN_GRACE_MS 2000  /* retries before a bad parse counts */

int watch_start(struct rfs *fs);
void watch_sync(struct rfs *fs);
/* CONFIG stopped parsing less than RFS_BROKEN_GRACE_MS ago: a writer may
 * be between two writes; it does not count as broken yet. */
bool watch_settling(const struct rfs *fs);
void watch_stop(struct rfs *fs);

#endif
