/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_KCACHE_H
#define RUNNERFS_KCACHE_H

/*
 * kcache: what the kernel keeps of the tree (attributes for attr_timeout,
 * the pages of small values read through the page cache, docs/performance.md
 * "Kernel caching (issue 12)") is dropped whenever it may have changed.
 *
 *   kcache_note(fs, path)        path's content or attributes changed
 *   kcache_note_names(fs, path)  names came or went at path, or in it (a
 *                                directory): the kernel keeps names too
 *   kcache_note_change(fs, path) a change of the document at path: every
 *                                file it may have changed (the subtree of
 *                                the runner or top-level table holding
 *                                path, the root's files, .runnerfs/); a
 *                                runner's name, config.toml or root
 *                                registries/: everything; after
 *                                kcache_value_only(true) in this thread
 *                                (change_store: a new value of a key that
 *                                exists changes only its own file),
 *                                path, config.toml and .runnerfs/ alone
 *   kcache_note_moved(fs, from, to)
 *                                a rename: everything under to, under
 *                                both names (libfuse renames its nodes
 *                                only after the rename is answered)
 *   kcache_note_all(fs)          everything (an outside change, a reload)
 *   kcache_expand(fs)            with fs->lock held, at the end of the
 *                                operation (its bookkeeping done): the
 *                                paths the notes name, as the tree is now
 *   kcache_sync(fs)              send what was noted (fs->lock NOT held):
 *                                if this thread noted anything since its
 *                                last sync, returns once every note made
 *                                before the call has reached the kernel;
 *                                a thread that noted nothing (a read)
 *                                returns at once, unless it called
 *   kcache_want(fs)              (fs->lock held) its reply lets the
 *                                kernel serve what it kept (an open
 *                                with keep_cache, an OPENDIR whose
 *                                listing is kept): its kcache_sync also
 *                                waits until the last outside change,
 *                                taken in by whichever thread, has been
 *                                sent. The outside writer closed before
 *                                this open began: no old pages may be
 *                                served. Other threads' changes through
 *                                the mount are not waited for (their
 *                                replies are not sent yet: old or new
 *                                are both right, and waiting for them
 *                                made reads 22x slower under 16 writers,
 *                                docs/performance.md)
 *   kcache_stop(fs)              the FUSE loop has ended: nothing more is
 *                                sent (the unmount closes /dev/fuse next);
 *                                returns once a send in progress has
 *                                stopped, or after RFS_KCACHE_WAIT_MS
 *
 * Notes are made with fs->lock held and only record the path; the tree
 * is walked to know the paths of a change's scope at the end of the
 * operation (kcache_expand, still under fs->lock: the change's caller
 * has then done its bookkeeping of names, names.h). kcache_sync runs after
 * the operation has released fs->lock, in the thread that made the
 * change (a request handler, the watch thread), before the request is
 * answered: so `echo x > f` returns once no stale copy of anything it
 * changed is left in the kernel. The invalidation
 * itself is ll.h's (the inode's attributes, pages, a directory's listing;
 * names are checked afterwards by ll's own thread), set as kc.inval; it
 * takes no inode lock, only the page locks of pages being read, whose
 * READ needs fs->lock — never held here.
 * A sync that waits for another thread's sending gives up after
 * RFS_KCACHE_WAIT_MS (all FUSE workers waiting would starve that READ).
 *
 * State: fs->kc, guarded by kc.mu (taken after fs->lock, never before).
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runnerfs/buf.h"

struct rfs;

struct rfs_kcache {
	pthread_mutex_t mu;
	pthread_cond_t sent;  /* a batch has been sent */
	/* the kernel's copy of path ("/a/b") may be stale: drop it; `names`:
	 * the name itself, or names in it (a directory), may have come or
	 * gone too (every directory of a change's scope, the path a change
	 * names, kcache_note_names). NULL until the mount is up (and in
	 * tools without FUSE): nothing kept */
	int (*inval)(void *ctx, const char *path, bool names);
	void *ctx;
	char **v;             /* paths noted, not yet sent ("\1path": a
			       * change's scope, kcache_note_change;
			       * "\2from\0to": kcache_note_moved) */
	size_t n, cap;
	bool all;             /* everything: walk the tree when sending */
	struct buf ready;     /* expanded: NUL-separated paths to send */
	bool busy;            /* a thread is sending */
	uint64_t noted, done; /* notes made / sent */
	uint64_t all_noted;   /* `noted` at the last kcache_note_all */
	bool stopped;         /* kcache_stop: atomic, read by senders */
	uint64_t invalidations; /* sent to the kernel, for the log */
	/* bumped by every note of a change of the document (also one that
	 * was undone, whose bytes readers saw meanwhile): a page-cache open
	 * rendered before it renders again (ops.c). Guarded by fs->lock. */
	uint64_t content_gen;
};

#define RFS_KCACHE_WAIT_MS 1000

void kcache_init(struct rfs *fs);
void kcache_free(struct rfs *fs);
void kcache_note(struct rfs *fs, const char *path);
void kcache_note_names(struct rfs *fs, const char *path);
void kcache_note_change(struct rfs *fs, const char *path);
void kcache_note_moved(struct rfs *fs, const char *from, const char *to);
void kcache_value_only(bool on);
void kcache_want(struct rfs *fs);
void kcache_note_all(struct rfs *fs);
void kcache_expand(struct rfs *fs);
void kcache_sync(struct rfs *fs);
void kcache_stop(struct rfs *fs);

#endif
