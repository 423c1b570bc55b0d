/* SPDX-License-Identifier: MIT */
/*
 * New directories look empty to the tool that fills them (fresh.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runnerfs/fresh.h"
#include "runnerfs/rfs.h"

static void now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

static long ms_since(const struct timespec *t)
{
	struct timespec n;
	now(&n);
	return (n.tv_sec - t->tv_sec) * 1000 + (n.tv_nsec - t->tv_nsec) / 1000000;
}

static void drop(struct rfs *fs, size_t i)
{
	struct fresh_dir *f = &fs->fresh.v[i];
	rfs_map_del_prefix(&fs->fresh.shown, f->dir);
	free(f->dir);
	free(f->src);
	memmove(f, f + 1, sizeof(*f) * (fs->fresh.n - i - 1));
	fs->fresh.n--;
}

/* A directory stays fresh while the tool filling it goes on: until
 * RFS_FRESH_MS pass with nothing made in it. */
static void expire(struct rfs *fs)
{
	for (size_t i = fs->fresh.n; i-- > 0;)
		if (ms_since(&fs->fresh.v[i].last) >= RFS_FRESH_MS)
			drop(fs, i);
}

static struct fresh_dir *find(struct rfs *fs, const char *dir, size_t len, pid_t pid)
{
	expire(fs);
	for (size_t i = 0; i < fs->fresh.n; i++) {
		struct fresh_dir *f = &fs->fresh.v[i];
		if (f->pid == pid && strlen(f->dir) == len && !memcmp(f->dir, dir, len))
			return f;
	}
	return NULL;
}

void fresh_made(struct rfs *fs, const char *dir, pid_t pid)
{
	struct fresh_dir *f = find(fs, dir, strlen(dir), pid);
	if (f) {
		now(&f->last);
		return;
	}
	if (fs->fresh.n == fs->fresh.cap) {
		size_t cap = fs->fresh.cap ? fs->fresh.cap * 2 : 8;
		struct fresh_dir *v = realloc(fs->fresh.v, cap * sizeof(*v));
		if (!v)
			return; /* then it is an ordinary directory: cp may complain */
		fs->fresh.v = v;
		fs->fresh.cap = cap;
	}
	char *copy = strdup(dir);
	if (!copy)
		return;
	rfs_map_del_prefix(&fs->fresh.shown, dir);
	f = &fs->fresh.v[fs->fresh.n++];
	*f = (struct fresh_dir){.dir = copy, .pid = pid};
	now(&f->last);
}

bool fresh_is(struct rfs *fs, const char *dir, pid_t pid)
{
	return find(fs, dir, strlen(dir), pid) != NULL;
}

static struct fresh_dir *parent(struct rfs *fs, const char *path, pid_t pid)
{
	const char *slash = strrchr(path, '/');
	return slash ? find(fs, path, (size_t)(slash - path), pid) : NULL;
}

bool fresh_hidden(struct rfs *fs, const char *path, pid_t pid)
{
	if (!fs->fresh.n)
		return false;
	return parent(fs, path, pid) && !rfs_map_get(&fs->fresh.shown, path);
}

void fresh_show(struct rfs *fs, const char *path, pid_t pid)
{
	if (!fresh_hidden(fs, path, pid))
		return;
	rfs_map_set(&fs->fresh.shown, path, NULL, NULL);
	struct fresh_dir *f = parent(fs, path, pid);
	if (f)
		now(&f->last); /* the tool is still at work here */
}

void fresh_set_source(struct rfs *fs, const char *dir, const char *src, pid_t pid)
{
	struct fresh_dir *f = find(fs, dir, strlen(dir), pid);
	char *copy = f ? strdup(src) : NULL;
	if (copy) {
		free(f->src);
		f->src = copy;
		now(&f->last);
	}
}

const char *fresh_source(struct rfs *fs, const char *path, const char **rest, pid_t pid)
{
	if (!fs->fresh.n || strncmp(path, "runners/", 8))
		return NULL;
	const char *s = strchr(path + 8, '/');
	struct fresh_dir *f = s ? find(fs, path, (size_t)(s - path), pid) : NULL;
	if (!f || !f->src)
		return NULL;
	*rest = s;
	return f->src;
}

void fresh_forget(struct rfs *fs, const char *dir)
{
	size_t n = strlen(dir);
	for (size_t i = fs->fresh.n; i-- > 0;) {
		const char *d = fs->fresh.v[i].dir;
		if (!strncmp(d, dir, n) && (d[n] == '\0' || d[n] == '/'))
			drop(fs, i);
	}
}

void fresh_free(struct rfs *fs)
{
	while (fs->fresh.n)
		drop(fs, fs->fresh.n - 1);
	free(fs->fresh.v);
	rfs_map_free(&fs->fresh.shown);
	memset(&fs->fresh, 0, sizeof(fs->fresh));
}
