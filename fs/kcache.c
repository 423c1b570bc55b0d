/* SPDX-License-Identifier: MIT */
/*
 * Dropping what the kernel keeps of the tree when it may have changed
 * (kcache.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runnerfs/kcache.h"
#include "runnerfs/rfs.h"
#include "runnerfs/tree.h"

/* Names at a path, or in it (a directory), may have come or gone: NAMES
 * before the path, in a note and in what is sent (kcache.h, inval) */
#define NAMES '\x05'

/* Notes this thread made since its last sync: a request that changed
 * nothing (a read) does not wait for what other threads' changes send. */
static __thread unsigned long mine;
/* This thread's change is a new value of an existing key (kcache.h):
 * per thread, as a transaction releases fs->lock while it commits. */
static __thread bool value_only;
/* This thread's reply lets the kernel use what it keeps (an open with
 * keep_cache): its sync waits until the last outside change taken in by
 * any thread has been sent (kcache.h); 0: nothing to wait for. */
static __thread uint64_t wants;

void kcache_want(struct rfs *fs)
{
	struct rfs_kcache *kc = &fs->kc;
	if (!kc->inval)
		return;
	pthread_mutex_lock(&kc->mu);
	if (kc->done < kc->all_noted)
		wants = kc->all_noted;
	pthread_mutex_unlock(&kc->mu);
}

void kcache_value_only(bool on)
{
	value_only = on;
}

void kcache_init(struct rfs *fs)
{
	struct rfs_kcache *kc = &fs->kc;
	memset(kc, 0, sizeof(*kc));
	pthread_mutex_init(&kc->mu, NULL);
	pthread_cond_init(&kc->sent, NULL);
}

static void clear(struct rfs_kcache *kc)
{
	for (size_t i = 0; i < kc->n; i++)
		free(kc->v[i]);
	kc->n = 0;
}

void kcache_free(struct rfs *fs)
{
	struct rfs_kcache *kc = &fs->kc;
	clear(kc);
	free(kc->v);
	kc->v = NULL;
	kc->cap = 0;
	buf_free(&kc->ready);
}

/* kc->mu held: item joins the list (true), or there is no room and
 * everything will be sent instead, which needs no list (false). */
static bool push(struct rfs_kcache *kc, char *item)
{
	if (kc->n == kc->cap) {
		size_t cap = kc->cap ? kc->cap * 2 : 64;
		char **v = realloc(kc->v, cap * sizeof(*v));
		if (!v) {
			kc->all = true;
			return false;
		}
		kc->v = v;
		kc->cap = cap;
	}
	kc->v[kc->n++] = item;
	return true;
}

/* kc->mu held. */
static void add(struct rfs_kcache *kc, const char *path)
{
	if (kc->all)
		return;
	/* a burst of notes of one path (a write, its flush) */
	if (kc->n && !strcmp(kc->v[kc->n - 1], path))
		return;
	char *copy = strdup(path);
	if (!copy)
		kc->all = true;
	else if (!push(kc, copy))
		free(copy);
}

void kcache_note(struct rfs *fs, const char *path)
{
	struct rfs_kcache *kc = &fs->kc;
	if (!kc->inval)
		return;
	pthread_mutex_lock(&kc->mu);
	add(kc, path);
	kc->noted++;
	mine++;
	pthread_mutex_unlock(&kc->mu);
}

void kcache_note_names(struct rfs *fs, const char *path)
{
	char item[PATH_MAX];
	int len = snprintf(item, sizeof(item), "%c%s", NAMES, path);
	if (len > 0 && (size_t)len < sizeof(item))
		kcache_note(fs, item);
	else
		kcache_note_all(fs);
}

void kcache_note_all(struct rfs *fs)
{
	struct rfs_kcache *kc = &fs->kc;
	kc->content_gen++;
	if (!kc->inval)
		return;
	pthread_mutex_lock(&kc->mu);
	kc->all = true;
	clear(kc);
	buf_reset(&kc->ready);
	kc->noted++;
	kc->all_noted = kc->noted;
	mine++;
	pthread_mutex_unlock(&kc->mu);
}

/* Every path under dir (and dir itself), as the tree names them now. */
struct walk {
	struct rfs *fs;
	const char *dir;
	void (*emit)(void *arg, const char *path, bool dir);
	void *arg;
	int depth;
	bool dirs;
};

static void walk_dir(struct rfs *fs, const char *dir, int depth, bool dirs,
		     void (*emit)(void *arg, const char *path, bool dir), void *arg);

static int walk_fill(void *arg, const char *name, const struct tree_ref *r)
{
	struct walk *w = arg;
	char p[PATH_MAX];
	int len = *w->dir ? snprintf(p, sizeof(p), "%s/%s", w->dir, name) : snprintf(p, sizeof(p), "%s", name);
	if (len < 0 || (size_t)len >= sizeof(p))
		return 0;
	if (tree_is_dir(r) && w->depth > 0)
		walk_dir(w->fs, p, w->depth - 1, w->dirs, w->emit, w->arg);
	else if (w->dirs || !tree_is_dir(r))
		w->emit(w->arg, p, tree_is_dir(r));
	return 0;
}

/* What is in dir, `depth` directories down (a tree is at most a dozen
 * deep; INT_MAX: all); directories themselves (dir too) if `dirs`. */
static void walk_dir(struct rfs *fs, const char *dir, int depth, bool dirs,
		     void (*emit)(void *arg, const char *path, bool dir), void *arg)
{
	struct tree_ref r;
	if (dirs)
		emit(arg, dir, true);
	if (tree_resolve(fs, dir, &r) < 0 || !tree_is_dir(&r))
		return;
	struct walk w = {fs, dir, emit, arg, depth, dirs};
	/* -EAGAIN: a commit was in flight (names.h); the listing starts
	 * again (paths sent twice are harmless) */
	while (tree_list(fs, dir, &r, walk_fill, &w) == -EAGAIN)
		if (tree_resolve(fs, dir, &r) < 0 || !tree_is_dir(&r))
			return;
}

/* A change at path (its scope is walked when it is sent: the caller
 * may not be done with its bookkeeping yet, names.h). */
void kcache_note_change(struct rfs *fs, const char *path)
{
	struct rfs_kcache *kc = &fs->kc;
	kc->content_gen++;
	if (!kc->inval)
		return;
	const char *slash = strchr(path, '/');
	size_t top = slash ? (size_t)(slash - path) : strlen(path);
	/* a runner's directory name, config.toml itself, the registries of
	 * every runner: names or files anywhere may change */
	bool everything = !strcmp(path, "config.toml") || (top == 10 && !strncmp(path, "registries", 10));
	const char *name = strrchr(path, '/');
	if (!strncmp(path, "runners/", 8) && name && !strcmp(name, "/name") && strchr(path + 8, '/') == name)
		everything = true;
	if (everything) {
		kcache_note_all(fs);
		return;
	}
	char item[PATH_MAX];
	int len = snprintf(item, sizeof(item), "%c%s", value_only ? '\x04' : '\x01', path);
	pthread_mutex_lock(&kc->mu);
	if (len > 0 && (size_t)len < sizeof(item))
		add(kc, item);
	else
		kc->all = true;
	kc->noted++;
	mine++;
	pthread_mutex_unlock(&kc->mu);
}

static void emit_buf(void *arg, const char *path, bool dir)
{
	if (dir)
		buf_addc(arg, NAMES);
	buf_add(arg, path, strlen(path) + 1);
}

void kcache_note_moved(struct rfs *fs, const char *from, const char *to)
{
	struct rfs_kcache *kc = &fs->kc;
	kc->content_gen++;
	if (!kc->inval)
		return;
	size_t a = strlen(from), b = strlen(to);
	char *item = malloc(a + b + 3); /* "\2from\0to" */
	if (item) {
		item[0] = '\x02';
		memcpy(item + 1, from, a + 1);
		memcpy(item + a + 2, to, b + 1);
	}
	pthread_mutex_lock(&kc->mu);
	if (!item)
		kc->all = true;
	else if (!kc->all && push(kc, item))
		item = NULL;
	kc->noted++;
	mine++;
	pthread_mutex_unlock(&kc->mu);
	free(item);
}

/* A subtree moved from `from` to `to`: libfuse names its nodes by path
 * and renames them only once the rename is answered, so a sync before
 * that finds them under the old names, one after under the new: both. */
struct moved {
	struct buf *out;
	const char *from, *to;
};

static void emit_moved(void *arg, const char *path, bool dir)
{
	struct moved *m = arg;
	emit_buf(m->out, path, dir);
	size_t n = strlen(m->to);
	if (strncmp(path, m->to, n) || (path[n] && path[n] != '/'))
		return;
	struct buf old = BUF_INIT;
	if (buf_adds(&old, m->from) == 0 && buf_adds(&old, path + n) == 0)
		emit_buf(m->out, old.p, dir);
	buf_free(&old);
}

/* What a change at path may have changed (kcache.h): the root's own
 * files (config.toml, the top-level keys) and the daemon's (status,
 * errors, history) change with every change; and the files of the item
 * holding path, a runner (runners/NAME/...) or a top-level table, which
 * derive from each other (registries/ and environment) and whose keys'
 * inode numbers follow their place; its directories too, whose listings
 * the kernel keeps (ll.h): a write to environment adds or removes names
 * in registries/. */
static void expand_change(struct rfs *fs, const char *path, struct buf *out)
{
	walk_dir(fs, "", 0, false, emit_buf, out);
	walk_dir(fs, ".runnerfs", 1, false, emit_buf, out);
	emit_buf(out, ".runnerfs/history", true); /* a new version */
	const char *slash = strchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : strlen(path);
	if (n == 7 && !strncmp(path, "runners", 7) && slash) {
		const char *s2 = strchr(slash + 1, '/');
		n = s2 ? (size_t)(s2 - path) : strlen(path);
	}
	char item[PATH_MAX];
	if (slash && n < sizeof(item)) {
		memcpy(item, path, n);
		item[n] = '\0';
		walk_dir(fs, item, INT_MAX, true, emit_buf, out);
	}
	emit_buf(out, path, true); /* also when it is gone now */
	/* a runner's registries are part of the root's registries/ (the
	 * hosts every runner has alike): its listing and files change with
	 * them, and with a runner that comes or goes */
	bool runner = !strncmp(path, "runners/", 8) && !strchr(path + 8, '/');
	if (slash && (runner || strstr(path, "/registries") || strstr(path, "/environment")))
		walk_dir(fs, "registries", INT_MAX, true, emit_buf, out);
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* kc->mu held: wait up to 20 ms for a sender to finish its batch (the
 * callers bound the total, RFS_KCACHE_WAIT_MS). */
static void wait_sent(struct rfs_kcache *kc)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += 20 * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&kc->sent, &kc->mu, &dl);
}

static void send_one(struct rfs_kcache *kc, const char *path, uint64_t *sent)
{
	char p[PATH_MAX];
	size_t n = strlen(path);
	if (n + 2 > sizeof(p))
		return;
	if (__atomic_load_n(&kc->stopped, __ATOMIC_ACQUIRE))
		return; /* the mount is going away (kcache_stop) */
	bool names = path[0] == NAMES;
	if (names) {
		path++;
		n--;
	}
	p[0] = '/';
	memcpy(p + 1, path, n + 1);
	/* -ENOENT: the kernel holds nothing for it */
	if (kc->inval(kc->ctx, p, names) == 0)
		(*sent)++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each path of the NUL-separated list once (a burst of notes names the
 * same files again and again; each one the kernel holds costs a write
 * to /dev/fuse). */
static void send_all(struct rfs_kcache *kc, struct buf *paths, uint64_t *sent)
{
	size_t n = 0;
	for (size_t off = 0; off < paths->len; off += strlen(paths->p + off) + 1)
		n++;
	char **v = n ? malloc(n * sizeof(*v)) : NULL;
	if (!v) {
		for (size_t off = 0; off < paths->len; off += strlen(paths->p + off) + 1)
			send_one(kc, paths->p + off, sent);
		return;
	}
	size_t i = 0;
	for (size_t off = 0; off < paths->len; off += strlen(paths->p + off) + 1)
		v[i++] = paths->p + off;
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]))
			send_one(kc, v[i], sent);
	free(v);
}

/* fs->lock held (not kc->mu: walking the tree may note, e.g. an
 * invalid DOCKER_AUTH_CONFIG reported to .runnerfs/errors): turn the
 * notes made so far into the paths they name, appended to out. Notes
 * made meanwhile stay for the next time. */
static void expand(struct rfs *fs, struct rfs_kcache *kc, struct buf *out)
{
	pthread_mutex_lock(&kc->mu);
	bool all = kc->all;
	char **v = kc->v;
	size_t n = kc->n;
	kc->all = false;
	kc->v = NULL;
	kc->n = kc->cap = 0;
	pthread_mutex_unlock(&kc->mu);
	if (all)
		walk_dir(fs, "", INT_MAX, true, emit_buf, out);
	for (size_t i = 0; i < n; i++) {
		if (all) {
		} else if (v[i][0] == '\x01') {
			expand_change(fs, v[i] + 1, out);
		} else if (v[i][0] == '\x04') {
			emit_buf(out, v[i] + 1, false);
			emit_buf(out, "config.toml", false);
			walk_dir(fs, ".runnerfs", 1, false, emit_buf, out);
			emit_buf(out, ".runnerfs/history", true); /* a new version */
		} else if (v[i][0] == '\x02') {
			struct moved m = {out, v[i] + 1, v[i] + strlen(v[i]) + 1};
			walk_dir(fs, m.to, INT_MAX, true, emit_moved, &m);
		} else {
			emit_buf(out, v[i], false); /* NAMES kept, if noted so */
		}
		free(v[i]);
	}
	free(v);
}

void kcache_expand(struct rfs *fs)
{
	struct rfs_kcache *kc = &fs->kc;
	if (!kc->inval || !mine)
		return;
	struct buf out = BUF_INIT;
	expand(fs, kc, &out);
	pthread_mutex_lock(&kc->mu);
	if (out.len && buf_add(&kc->ready, out.p, out.len) < 0)
		kc->all = true;
	pthread_mutex_unlock(&kc->mu);
	buf_free(&out);
}

void kcache_sync(struct rfs *fs)
{
	struct rfs_kcache *kc = &fs->kc;
	if (!kc->inval || (!mine && !wants))
		return;
	bool own = mine;
	uint64_t other = wants;
	mine = 0;
	wants = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&kc->mu);
	uint64_t want = own ? kc->noted : other;
	while (kc->done < want) {
		if (kc->busy) {
			/* another thread is sending (maybe what we noted): wait
			 * for it, bounded (kcache.h) */
			wait_sent(kc);
			if (ms_since(&t0) > RFS_KCACHE_WAIT_MS)
				break;
			continue;
		}
		/* take the batch: what is noted meanwhile is the next one */
		kc->busy = true;
		uint64_t upto = kc->noted;
		struct buf paths = kc->ready;
		kc->ready = (struct buf)BUF_INIT;
		bool later = kc->all || kc->n; /* noted, not yet expanded */
		pthread_mutex_unlock(&kc->mu);
		if (later) {
			/* notes made without unlock_fs (a write's error): the tree
			 * as it is once no commit is in flight (names are settled
			 * only after it, names.h) */
			pthread_mutex_lock(&fs->lock);
			while (fs->txn.committing)
				pthread_cond_wait(&fs->txn.committed, &fs->lock);
			expand(fs, kc, &paths);
			pthread_mutex_unlock(&fs->lock);
		}
		uint64_t sent = 0;
		send_all(kc, &paths, &sent);
		buf_free(&paths);
		pthread_mutex_lock(&kc->mu);
		kc->busy = false;
		kc->done = upto;
		kc->invalidations += sent;
		pthread_cond_broadcast(&kc->sent);
	}
	pthread_mutex_unlock(&kc->mu);
}

void kcache_stop(struct rfs *fs)
{
	struct rfs_kcache *kc = &fs->kc;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&kc->mu);
	__atomic_store_n(&kc->stopped, true, __ATOMIC_RELEASE);
	/* a send in progress ends at its next path; one blocked in the
	 * kernel (a page being read, whose READ nobody answers now) is let
	 * go by the unmount itself, after this bounded wait */
	while (kc->busy && ms_since(&t0) < RFS_KCACHE_WAIT_MS) {
		wait_sent(kc);
	}
	pthread_mutex_unlock(&kc->mu);
}
