/* SPDX-License-Identifier: MIT */
/*
 * Transactions: every change takes the same road — refresh from disk,
 * edit a copy, write it atomically, swap it in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runnerfs/history.h"
#include "runnerfs/names.h"
#include "runnerfs/tree.h"
#include "runnerfs/txn.h"

static void set_document(struct rfs *fs, toml_doc *doc)
{
	toml_free(fs->doc);
	fs->doc = doc;
	fs->generation++;
	names_replaced(fs);
}

/* The same bytes again (undo): node ids are a function of the bytes, so
 * the generation stays — a tombstone of the last change stays valid. */
static void same_document(struct rfs *fs, toml_doc *doc)
{
	if (doc != fs->doc)
		toml_free(fs->doc);
	fs->doc = doc;
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
	if (fs->doc) {
		size_t oldlen, newlen;
		const char *old = toml_text(fs->doc, &oldlen), *new = toml_text(doc, &newlen);
		history_rebase(fs, old, oldlen, new, newlen);
	}
	set_document(fs, doc);
	return 0;
}

int txn_load(struct rfs *fs)
{
	return load(fs);
}

/* Wait (bounded) while someone else has CONFIG open for writing. */
static int settle(struct rfs *fs, int (*step)(struct rfs *))
{
	int r;
	for (int waited = 0; (r = step(fs)) == -EBUSY && waited < RFS_BUSY_WAIT_MS; waited += 20) {
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	return r;
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
	return settle(fs, refresh_once);
}

static int run_once(struct rfs *fs, const char *path, txn_fn fn, void *arg);

int txn_run(struct rfs *fs, const char *path, txn_fn fn, void *arg)
{
	int r;
	/* someone started writing CONFIG between our read and our write:
	 * wait for them, then do it again on top of their version */
	for (int waited = 0; (r = run_once(fs, path, fn, arg)) == -EAGAIN && waited < RFS_BUSY_WAIT_MS;
	     waited += 20) {
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	if (r == -EAGAIN)
		return rfs_error(fs, -EBUSY, path, "someone else kept writing config.toml; nothing was changed, try again");
	return r;
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

static int run_once(struct rfs *fs, const char *path, txn_fn fn, void *arg)
{
	int r = txn_refresh(fs);
	if (r == -EBUSY)
		return rfs_error(fs, -EBUSY, path, "someone else is writing config.toml; nothing was changed, try again");
	if (r < 0 || fs->disk_state < 0)
		return rfs_error(fs, -EIO, path, "config.toml on disk cannot be used (%s); nothing was changed",
				 fs->disk_error[0] ? fs->disk_error : strerror(-r));
	/* fn edits the document itself (no copy of a 1 MB document's index
	 * per change); the old bytes are what undoes it and what history
	 * keeps the difference to */
	size_t oldlen, newlen;
	const char *cur = toml_text(fs->doc, &oldlen);
	char *old = malloc(oldlen + 1);
	if (!old)
		return rfs_error(fs, -ENOMEM, path, "out of memory");
	memcpy(old, cur, oldlen + 1);
	toml_doc *work = fs->doc;
	uint64_t version = toml_version(work);
	char why[512] = "";
	fs->names.in_txn++;
	r = fn(fs, &work, arg, why, sizeof(why));
	fs->names.in_txn--;
	bool replaced = work != fs->doc;
	if (replaced) {
		/* fn made a new document (a whole-file write) and freed ours */
		fs->doc = NULL;
		same_document(fs, work);
		names_replaced(fs);
	}
	if (r < 0) {
		undo(fs, old, oldlen);
		free(old);
		return rfs_error(fs, r, path, "%s", why[0] ? why : strerror(-r));
	}
	const char *new = toml_text(fs->doc, &newlen);
	if (!replaced && toml_version(work) == version) {
		free(old); /* nothing was edited (the value was already that) */
		return 0;
	}
	if (oldlen == newlen && !memcmp(old, new, newlen)) {
		free(old);
		return 0;
	}
	r = commit_write(&fs->disk, new, newlen);
	if (r < 0) {
		undo(fs, old, oldlen);
		free(old);
		if (r == -EBUSY)
			return -EAGAIN;
		return rfs_error(fs, r, path, "could not write %s: %s; it is unchanged", fs->disk.path,
				 strerror(-r));
	}
	/* a whole-file write (an undo, Ansible's copy) is a version of its
	 * own: undoing it gives back what it replaced */
	if (replaced)
		fs->hist_open = false;
	history_push(fs, old, oldlen, new, newlen);
	if (replaced)
		fs->hist_open = false;
	free(old);
	fs->generation++;
	reload_changed(&fs->reload);
	fs->config_existed = true;
	clock_gettime(CLOCK_REALTIME, &fs->last_write);
	rfs_log(RFS_LOG_DEBUG, "%s: written (generation %llu)", path, (unsigned long long)fs->generation);
	return 0;
}
