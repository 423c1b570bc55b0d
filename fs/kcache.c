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
}

/* kc->mu held. Out of memory: everything, which needs no list. */
static void add(struct rfs_kcache *kc, const char *path)
{
	if (kc->all)
		return;
	/* a burst of notes of one path (a write, its flush) */
	if (kc->n && !strcmp(kc->v[kc->n - 1], path))
		return;
	if (kc->n == kc->cap) {
		size_t cap = kc->cap ? kc->cap * 2 : 64;
		char **v = realloc(kc->v, cap * sizeof(*v));
		if (!v) {
			kc->all = true;
			return;
		}
		kc->v = v;
		kc->cap = cap;
	}
	char *copy = strdup(path);
	if (!copy) {
		kc->all = true;
		return;
	}
	kc->v[kc->n++] = copy;
}

void kcache_note(struct rfs *fs, const char *path)
{
	struct rfs_kcache *kc = &fs->kc;
	if (!kc->inval)
		return;
	pthread_mutex_lock(&kc->mu);
	add(kc, path);
	kc->noted++;
	pthread_mutex_unlock(&kc->mu);
}

void kcache_note_all(struct rfs *fs)
{
	struct rfs_kcache *kc = &fs->kc;
	if (!kc->inval)
		return;
	pthread_mutex_lock(&kc->mu);
	kc->all = true;
	clear(kc);
	kc->noted++;
	pthread_mutex_unlock(&kc->mu);
}

/* Every path under dir (and dir itself), as the tree names them now. */
struct walk {
	struct rfs *fs;
	const char *dir;
	void (*emit)(void *arg, const char *path);
	void *arg;
	int depth;
};

static void walk_dir(struct rfs *fs, const char *dir, int depth,
		     void (*emit)(void *arg, const char *path), void *arg);

static int walk_fill(void *arg, const char *name, const struct tree_ref *r)
{
	struct walk *w = arg;
	char p[PATH_MAX];
	int len = *w->dir ? snprintf(p, sizeof(p), "%s/%s", w->dir, name) : snprintf(p, sizeof(p), "%s", name);
	if (len < 0 || (size_t)len >= sizeof(p))
		return 0;
	if (tree_is_dir(r) && w->depth > 0)
		walk_dir(w->fs, p, w->depth - 1, w->emit, w->arg);
	else
		w->emit(w->arg, p);
	return 0;
}

/* dir and what is in it, `depth` directories down (a tree is at most a
 * dozen deep; INT_MAX: all). */
static void walk_dir(struct rfs *fs, const char *dir, int depth,
		     void (*emit)(void *arg, const char *path), void *arg)
{
	struct tree_ref r;
	emit(arg, dir);
	if (tree_resolve(fs, dir, &r) < 0 || !tree_is_dir(&r))
		return;
	struct walk w = {fs, dir, emit, arg, depth};
	tree_list(fs, dir, &r, walk_fill, &w);
}

/* A change at path (its scope is walked when it is sent: the caller
 * may not be done with its bookkeeping yet, names.h). */
void kcache_note_change(struct rfs *fs, const char *path)
{
	struct rfs_kcache *kc = &fs->kc;
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
	int len = snprintf(item, sizeof(item), "\x01%s", path);
	pthread_mutex_lock(&kc->mu);
	if (len > 0 && (size_t)len < sizeof(item))
		add(kc, item);
	else
		kc->all = true;
	kc->noted++;
	pthread_mutex_unlock(&kc->mu);
}

static void emit_buf(void *arg, const char *path)
{
	buf_add(arg, path, strlen(path) + 1);
}

/* What a change at path may have changed (kcache.h): the root's own
 * files (config.toml, the top-level keys) and the daemon's (status,
 * errors, history) change with every change; and the item holding path,
 * a runner (runners/NAME/...) or a top-level table, whose files derive
 * from each other (registries/ and environment) and whose keys' inode
 * numbers follow their place. */
static void expand_change(struct rfs *fs, const char *path, struct buf *out)
{
	walk_dir(fs, "", 0, emit_buf, out);
	walk_dir(fs, ".runnerfs", 1, emit_buf, out);
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
		walk_dir(fs, item, INT_MAX, emit_buf, out);
	}
	emit_buf(out, path); /* also when it is gone now */
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static void send_one(struct rfs_kcache *kc, const char *path, uint64_t *sent)
{
	char p[PATH_MAX];
	size_t n = strlen(path);
	if (n + 2 > sizeof(p))
		return;
	p[0] = '/';
	memcpy(p + 1, path, n + 1);
	/* -ENOENT: the kernel holds nothing for it */
	if (kc->inval(kc->ctx, p) == 0)
		(*sent)++;
}

void kcache_sync(struct rfs *fs)
{
	struct rfs_kcache *kc = &fs->kc;
	if (!kc->inval)
		return;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&kc->mu);
	uint64_t want = kc->noted;
	while (kc->done < want) {
		if (kc->busy) {
			/* another thread is sending (maybe what we noted): wait
			 * for it, bounded (kcache.h) */
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += 20 * 1000000L;
			if (dl.tv_nsec >= 1000000000L) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&kc->sent, &kc->mu, &dl);
			if (ms_since(&t0) > RFS_KCACHE_WAIT_MS)
				break;
			continue;
		}
		/* take the batch: what is noted meanwhile is the next one */
		kc->busy = true;
		uint64_t upto = kc->noted;
		bool all = kc->all;
		char **v = kc->v;
		size_t n = kc->n;
		kc->all = false;
		kc->v = NULL;
		kc->n = kc->cap = 0;
		pthread_mutex_unlock(&kc->mu);
		uint64_t sent = 0;
		struct buf paths = BUF_INIT;
		bool walk = all;
		for (size_t i = 0; i < n && !walk; i++)
			walk = v[i][0] == '\x01';
		if (walk) {
			/* the tree as it is once no commit is in flight (names
			 * are settled only after it, names.h) */
			pthread_mutex_lock(&fs->lock);
			while (fs->txn.committing)
				pthread_cond_wait(&fs->txn.committed, &fs->lock);
			if (all)
				walk_dir(fs, "", INT_MAX, emit_buf, &paths);
			for (size_t i = 0; i < n && !all; i++)
				if (v[i][0] == '\x01')
					expand_change(fs, v[i] + 1, &paths);
			pthread_mutex_unlock(&fs->lock);
		}
		for (size_t off = 0; off < paths.len; off += strlen(paths.p + off) + 1)
			send_one(kc, paths.p + off, &sent);
		buf_free(&paths);
		for (size_t i = 0; i < n; i++) {
			if (!all && v[i][0] != '\x01')
				send_one(kc, v[i], &sent);
			free(v[i]);
		}
		free(v);
		pthread_mutex_lock(&kc->mu);
		kc->busy = false;
		kc->done = upto;
		kc->invalidations += sent;
		pthread_cond_broadcast(&kc->sent);
	}
	pthread_mutex_unlock(&kc->mu);
}
