/* SPDX-License-Identifier: MIT */
/*
 * Transactions: every change takes the same road — refresh from disk,
 * edit the document in place (keeping the old bytes to undo), write it
 * atomically; on failure the old bytes come back (txn.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runnerfs/history.h"
#include "runnerfs/kcache.h"
#include "runnerfs/rfs.h"
#include "runnerfs/names.h"
#include "runnerfs/tree.h"
#include "runnerfs/txn.h"
#include "runnerfs/watch.h"

static void set_document(struct rfs *fs, toml_doc *doc)
{
	toml_free(fs->doc);
	fs->doc = doc;
	fs->generation++;
	names_replaced(fs);
	kcache_note_all(fs); /* read from disk: anything may have changed */
}

/* The same bytes again (undo): node ids are a function of the bytes, so
 * the generation stays — a tombstone of the last change stays valid. */
static void same_document(struct rfs *fs, toml_doc *doc)
{
	if (doc != fs->doc)
		toml_free(fs->doc);
	fs->doc = doc;
}

static size_t runners_in(const toml_doc *d)
{
	uint32_t r = toml_get(d, TOML_ROOT, "runners", 7);
	return r == TOML_NONE ? 0 : toml_count(d, r);
}

/* An outside change that empties CONFIG or drops every runner is most
 * likely a mistake (a truncating writer, a half-done rewrite that parses):
 * say so where people look, and where the version before it is. */
static void note_loss(struct rfs *fs, const toml_doc *was, size_t waslen, const toml_doc *now, size_t nowlen)
{
	size_t before = runners_in(was);
	const char *what = waslen && !nowlen	      ? "emptied config.toml"
			   : before && !runners_in(now) ? "removed every runner from config.toml"
							: NULL;
	if (!what) {
		fs->outside_loss[0] = '\0'; /* a later change put things back */
		return;
	}
	snprintf(fs->outside_loss, sizeof(fs->outside_loss),
		 "another writer %s (it had %zu bytes, %zu runners); the version before is .runnerfs/history/1",
		 what, waslen, before);
	rfs_error(fs, -ENODATA, "config.toml", "%s", fs->outside_loss);
}

/* Read CONFIG and make it the document. */
static int load(struct rfs *fs)
{
	char *bytes;
	size_t len;
	bool existed = fs->config_existed;
	int r = commit_load(&fs->disk, &bytes, &len);
	if (r == -EBUSY)
		return r; /* being written: not broken, just not ready */
	if (r == 0 && existed && !fs->disk.id.exists) {
		/* deleted under us: that is not an empty configuration */
		free(bytes);
		snprintf(fs->disk_error, sizeof(fs->disk_error),
			 "%s was deleted; the tree shows the last version; writes fail until it is back",
			 fs->disk.path);
		fs->disk_state = -ENOENT;
		return -ENOENT;
	}
	struct stat st;
	if (r < 0 && stat(fs->disk.path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(fs->disk_error, sizeof(fs->disk_error),
			 "%s is not a regular file (it is a %s); the tree shows the last version", fs->disk.path,
			 S_ISDIR(st.st_mode) ? "directory" : S_ISFIFO(st.st_mode) ? "fifo" : S_ISLNK(st.st_mode) ? "symlink" : "special file");
		fs->disk_state = r;
		return r;
	}
	if (r < 0) {
		snprintf(fs->disk_error, sizeof(fs->disk_error), "cannot read %s: %s", fs->disk.path,
			 strerror(-r));
		fs->disk_state = r;
		return r;
	}
	toml_doc *doc;
	toml_error err;
	r = toml_parse(bytes, len, &doc, &err);
	free(bytes);
	if (r < 0) {
		snprintf(fs->disk_error, sizeof(fs->disk_error), "%s:%d:%d: %s", fs->disk.path,
			 err.line, err.col, err.msg);
		fs->disk_state = r;
		return r;
	}
	fs->disk_state = 0;
	fs->disk_error[0] = '\0';
	if (fs->disk.id.exists)
		fs->config_existed = true;
	fs->loaded_mtime = fs->disk.id.mtime;
	fs->txn.mtime = fs->disk.id.mtime;
	if (fs->doc) {
		size_t oldlen, newlen;
		const char *old = toml_text(fs->doc, &oldlen), *new = toml_text(doc, &newlen);
		history_outside(fs, old, oldlen, new, newlen);
		note_loss(fs, fs->doc, oldlen, doc, newlen);
	}
	set_document(fs, doc);
	return 0;
}

int txn_load(struct rfs *fs)
{
	return load(fs);
}

static int refresh_once(struct rfs *fs)
{
	int r = commit_changed(&fs->disk);
	if (r < 0)
		return r;
	/* unchanged since we last read it: nothing new to learn (a file that
	 * did not parse is not read and reported again on every request) */
	if (r == 0)
		return fs->disk_state;
	char before[sizeof(fs->disk_error)];
	memcpy(before, fs->disk_error, sizeof(before));
	r = load(fs);
	if (r == -EBUSY)
		return r;
	if (r < 0 && strcmp(before, fs->disk_error))
		rfs_log(RFS_LOG_WARN, "%s", fs->disk_error);
	else if (r == 0)
		rfs_log(RFS_LOG_INFO, "%s changed on disk; read it again", fs->disk.path);
	return r;
}

int txn_refresh(struct rfs *fs)
{
	/* our own commit is in flight (fs->lock released): the document is
	 * what it writes; CONFIG is looked at again once it is done */
	if (fs->txn.committing)
		return fs->disk_state;
	return refresh_once(fs);
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Wait a moment with fs->lock released, so that every other request goes
 * on while this change waits for someone else. */
static void pause_unlocked(struct rfs *fs)
{
	pid_t caller = fs->caller;
	pthread_mutex_unlock(&fs->lock);
	struct timespec ts = {0, 20 * 1000000};
	nanosleep(&ts, NULL);
	pthread_mutex_lock(&fs->lock);
	fs->caller = caller;
}

bool txn_busy(struct rfs *fs)
{
	if (fs->txn.committing)
		return false; /* ours: the change waits for it at commit time */
	return watch_settling(fs) || commit_busy(&fs->disk) > 0;
}

void txn_settle(struct rfs *fs)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	bool busy;
	while ((busy = txn_busy(fs)) && ms_since(&start) < RFS_BUSY_WAIT_MS) {
		pause_unlocked(fs);
		watch_sync(fs);
	}
	/* a writer that comes and goes (the runner saving again and again)
	 * is not a reason to refuse: only one that outlasted the wait */
	fs->txn.gave_up = busy;
}

/* Another change's commit is in flight: wait for it (fs->lock released
 * meanwhile by the condition wait). */
static void wait_commit(struct rfs *fs)
{
	pid_t caller = fs->caller;
	while (fs->txn.committing)
		pthread_cond_wait(&fs->txn.committed, &fs->lock);
	fs->caller = caller;
}

/* Someone else is at work on CONFIG: an outside writer has it open (or
 * wrote it a moment ago and inotify saw no close), or it stopped parsing
 * a moment ago (a writer between two writes). */
static bool outside_busy(struct rfs *fs)
{
	if (fs->watch.writing && ms_since(&fs->watch.last) < RFS_WRITER_WAIT_MS)
		return true;
	return watch_settling(fs);
}

static int run_once(struct rfs *fs, const char *path, txn_fn fn, void *arg);

int txn_run(struct rfs *fs, const char *path, txn_fn fn, void *arg)
{
	/* One deadline for the whole change, fixed now: new events from a
	 * writer that keeps writing do not extend it. */
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		wait_commit(fs);
		int r = run_once(fs, path, fn, arg);
		if (r == -ECANCELED) {
			/* raced and taken: again on top of it, now, with a
			 * deadline of its own */
			clock_gettime(CLOCK_MONOTONIC, &start);
			continue;
		}
		if (r != -EAGAIN) {
			/* what the kernel keeps of it is stale now; also after an
			 * undo: readers saw the document being written */
			kcache_note_change(fs, path);
			return r;
		}
		if (ms_since(&start) >= RFS_BUSY_WAIT_MS)
			return rfs_error(fs, -EBUSY, path,
					 "someone else kept writing config.toml for %d s; nothing was changed, try again",
					 RFS_BUSY_WAIT_MS / 1000);
		pause_unlocked(fs);
	}
}

/* Put the document back to `old` after a change that did not happen. */
static void undo(struct rfs *fs, const char *old, size_t oldlen)
{
	size_t len;
	const char *now = toml_text(fs->doc, &len);
	if (len == oldlen && !memcmp(now, old, len))
		return;
	toml_doc *doc;
	if (toml_parse(old, oldlen, &doc, NULL) == 0) {
		same_document(fs, doc);
		return;
	}
	/* out of memory: make the next refresh read CONFIG (which is still
	 * the old version) instead of trusting the document; the history's
	 * diffs start from the old bytes, which the document no longer is */
	fs->disk.id.size = -1;
	history_free(fs);
}

/* Write the document to CONFIG with fs->lock released: the write, its
 * fsyncs and the rename take as long as the disk takes, and no reader
 * waits for that. Meanwhile readers see the document being written (as
 * a read after write(2) does on any filesystem, before fsync), nothing
 * rereads CONFIG and no other change starts (txn.h). */
static int commit(struct rfs *fs, const char *bytes, size_t len)
{
	pid_t caller = fs->caller;
	fs->txn.committing = true;
	pthread_mutex_unlock(&fs->lock);
	int r = commit_write(&fs->disk, bytes, len);
	/* the replaced file: the watch thread, which wakes for this commit's
	 * events anyway, closes it, not this change on its way to the reply
	 * (commit.h) */
	if (!fs->watch.running) {
		int old = commit_retired(&fs->disk);
		if (old >= 0)
			close(old);
	}
	pthread_mutex_lock(&fs->lock);
	fs->caller = caller;
	fs->txn.committing = false;
	fs->txn.in_place = fs->disk.in_place;
	if (fs->disk.id.exists)
		fs->txn.mtime = fs->disk.id.mtime;
	pthread_cond_broadcast(&fs->txn.committed);
	return r;
}

/* Our write went in over someone's (COMMIT_RACED, commit.h): wait for
 * them to close the file we replaced (bounded), and make what they wrote
 * the document, as any outside change is. No other change starts
 * meanwhile (fs->txn.committing). Their bytes must not be lost: the
 * change is then made again on top of them. */
static int take_raced(struct rfs *fs, const char *old, size_t oldlen, const char *path)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	char *b;
	size_t n;
	int r;
	fs->txn.committing = true;
	while ((r = commit_raced(&fs->disk, &b, &n, ms_since(&start) >= RFS_BUSY_WAIT_MS)) == -EBUSY)
		pause_unlocked(fs);
	fs->txn.committing = false;
	pthread_cond_broadcast(&fs->txn.committed);
	toml_doc *doc;
	toml_error err;
	if (r == 0 && toml_parse(b, n, &doc, &err) < 0) {
		free(b);
		return rfs_error(fs, -EIO, path, "written; but someone wrote config.toml at the same moment "
					  "and what they wrote does not parse (%d:%d: %s), so it was not kept",
				 err.line, err.col, err.msg);
	}
	if (r < 0)
		return rfs_error(fs, r, path, "written; but someone wrote config.toml at the same moment "
					     "and what they wrote could not be read back");
	rfs_log(RFS_LOG_WARN, "%s: someone wrote %s at the moment of our rename; their version is taken "
			      "and the change made again on top of it", path, fs->disk.path);
	history_outside(fs, old, oldlen, b, n);
	free(b);
	set_document(fs, doc);
	return -ECANCELED;
}

/* The text from before a change, whole: for the rare ways out (an undo,
 * a raced write). NULL: no memory. */
static char *text_before(const struct history_change *c, size_t *len)
{
	*len = c->at + c->oldn + c->tail;
	char *t = malloc(*len + 1);
	if (!t)
		return NULL;
	memcpy(t, c->new, c->at);
	memcpy(t + c->at, c->old, c->oldn);
	memcpy(t + c->at + c->oldn, c->new + c->newlen - c->tail, c->tail);
	t[*len] = '\0';
	return t;
}

/* Put the document back to the text before c after a change that did not
 * happen. */
static void undo_change(struct rfs *fs, const struct history_change *c)
{
	size_t len;
	char *old = text_before(c, &len);
	if (old) {
		undo(fs, old, len);
	} else {
		fs->disk.id.size = -1; /* as undo() does when out of memory */
		history_free(fs);
	}
	free(old);
}

static int run_once(struct rfs *fs, const char *path, txn_fn fn, void *arg)
{
	int r = txn_refresh(fs);
	if (r == -EBUSY || outside_busy(fs))
		return -EAGAIN; /* txn_run waits, with the lock released */
	if (r < 0 || fs->disk_state < 0)
		return rfs_error(fs, -EIO, path, "config.toml on disk cannot be used (%s); nothing was changed",
				 fs->disk_error[0] ? fs->disk_error : strerror(-r));
	/* fn edits the document itself (no copy of a 1 MB document's index
	 * per change), and the document's journal keeps the bytes each edit
	 * replaced (no copy of its text either): they are what undoes it and
	 * what history keeps the difference to */
	toml_doc *before = fs->doc, *work = fs->doc;
	toml_journal_start(work);
	uint64_t version = toml_version(work);
	char why[512] = "";
	fs->names.in_txn++;
	r = fn(fs, &work, arg, why, sizeof(why));
	fs->names.in_txn--;
	bool replaced = work != before;
	struct toml_delta d = {0, 0, NULL, 0};
	struct history_change c;
	size_t newlen;
	const char *new = toml_text(work, &newlen);
	if (replaced) {
		/* fn made a new document (a whole-file write) and left ours:
		 * its text is the one before */
		toml_journal_stop(before);
		size_t oldn;
		const char *old = toml_text(before, &oldn);
		c = (struct history_change){new, newlen, 0, 0, old, oldn};
	} else {
		int jr = toml_journal_delta(work, &d);
		toml_journal_stop(work);
		if (jr < 0) {
			/* edited, and what it replaced cannot be told: read
			 * CONFIG (still the old version) again */
			fs->disk.id.size = -1;
			history_free(fs);
			return rfs_error(fs, -ENOMEM, path, "out of memory");
		}
		c = (struct history_change){new, newlen, d.at, d.tail, d.old, d.oldn};
	}
	if (r < 0) {
		if (replaced)
			toml_free(work); /* not kept: ours stays */
		else
			undo_change(fs, &c);
		free(d.old);
		return rfs_error(fs, r, path, "%s", why[0] ? why : strerror(-r));
	}
	if (replaced) {
		/* the old document goes once the change is made or undone;
		 * meanwhile it is fs->doc no more */
		fs->doc = work;
		names_replaced(fs);
	}
	bool same = c.oldn == newlen - c.at - c.tail && !memcmp(c.old, new + c.at, c.oldn);
	if ((!replaced && toml_version(work) == version) || same) {
		/* nothing was edited (the value was already that) */
		if (replaced)
			toml_free(before);
		free(d.old);
		return 0;
	}
	r = commit(fs, new, newlen);
	if (r == COMMIT_RACED) {
		size_t oldlen;
		char *old = text_before(&c, &oldlen);
		r = old ? take_raced(fs, old, oldlen, path) : rfs_error(fs, -ENOMEM, path, "out of memory");
		free(old);
		if (replaced)
			toml_free(before);
		free(d.old);
		return r;
	}
	if (r == COMMIT_NOT_DURABLE) {
		/* the change is made (CONFIG is the new file): say so, and that
		 * the disk did not confirm it */
		rfs_error(fs, -EIO, path, "written, but the disk did not confirm it (fsync of %s failed): "
				     "a power loss now may bring the previous version back", fs->disk.dir);
		r = 0;
	}
	if (r < 0) {
		if (replaced) {
			/* ours again: the same bytes as before */
			fs->doc = before;
			toml_free(work);
			names_replaced(fs);
		} else {
			undo_change(fs, &c);
		}
		free(d.old);
		if (r == -EBUSY)
			return -EAGAIN;
		return rfs_error(fs, r, path, "could not write %s: %s; it is unchanged", fs->disk.path,
				 strerror(-r));
	}
	/* a whole-file write (an undo, Ansible's copy) is a version of its
	 * own: undoing it gives back what it replaced */
	if (replaced)
		fs->hist.open = false;
	history_push(fs, &c);
	if (replaced) {
		fs->hist.open = false;
		toml_free(before);
	}
	free(d.old);
	fs->generation++;
	reload_changed(&fs->reload);
	fs->config_existed = true;
	clock_gettime(CLOCK_REALTIME, &fs->last_write);
	rfs_log(RFS_LOG_DEBUG, "%s: written (generation %llu)", path, (unsigned long long)fs->generation);
	return 0;
}
