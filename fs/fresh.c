/* SPDX-License-Identifier: MIT */
/*
 * New directories look empty to the tool copying into them (fresh.h).
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

/* What kind of directory a copy can be made of: 1 a runner
 * ("runners/X"), 2 a registry (".../registries/HOST"), 0 neither. */
static int kind_of(const char *dir)
{
	if (!strncmp(dir, "runners/", 8)) {
		const char *p = dir + 8;
		while (*p && *p != '/')
			p++;
		if (p > dir + 8 && !*p)
			return 1;
	}
	const char *slash = strrchr(dir, '/');
	size_t up = slash ? (size_t)(slash - dir) : 0;
	if (slash && up >= 10 && !strncmp(slash - 10, "registries", 10) && (up == 10 || slash[-11] == '/'))
		return 2;
	return 0;
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
 * RFS_FRESH_MS pass with nothing made or written in it (a loaded
 * machine can take longer than that over a whole copy). */
static void expire(struct rfs *fs)
{
	for (size_t i = fs->fresh.n; i-- > 0;)
		if (ms_since(&fs->fresh.v[i].last) >= RFS_FRESH_MS)
			drop(fs, i);
}

/* pid 0: made by any process */
static struct fresh_dir *find(struct rfs *fs, const char *dir, size_t len, pid_t pid)
{
	expire(fs);
	for (size_t i = 0; i < fs->fresh.n; i++) {
		struct fresh_dir *f = &fs->fresh.v[i];
		if ((!pid || f->pid == pid) && strlen(f->dir) == len && !memcmp(f->dir, dir, len))
			return f;
	}
	return NULL;
}

static void set_src(struct fresh_dir *f, const char *src)
{
	char *copy = strdup(src);
	if (copy) {
		free(f->src);
		f->src = copy;
	}
}

/* Something was made or written at path: the copies it is inside are
 * still being filled, by whichever process (rsync makes a directory in
 * one process and fills it from another). */
static void at_work(struct rfs *fs, const char *path)
{
	for (size_t i = 0; i < fs->fresh.n; i++) {
		struct fresh_dir *f = &fs->fresh.v[i];
		size_t n = strlen(f->dir);
		if (!strncmp(path, f->dir, n) && path[n] == '/')
			now(&f->last);
	}
}

void fresh_made(struct rfs *fs, const char *dir, pid_t pid, const char *src)
{
	struct fresh_dir *f = find(fs, dir, strlen(dir), pid);
	at_work(fs, dir);
	if (!f) {
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
	}
	now(&f->last);
	/* cp -r reads the source right after its mkdir, shutil.copytree
	 * right before, rsync in another process (its sender): a directory
	 * of the same kind listed a moment ago is what is copied */
	int kind = kind_of(dir);
	const struct fresh_list *l = kind ? &fs->fresh.listed[kind - 1] : NULL;
	if (src) {
		set_src(f, src);
		f->guessed = false;
	} else if (l && l->dir && ms_since(&l->when) < RFS_FRESH_MS && strcmp(l->dir, dir)) {
		set_src(f, l->dir);
		f->guessed = true;
	}
}

void fresh_listed(struct rfs *fs, const char *dir, pid_t pid)
{
	int kind = kind_of(dir);
	if (!kind)
		return;
	struct fresh_list *l = &fs->fresh.listed[kind - 1];
	char *copy = strdup(dir);
	if (!copy)
		return;
	free(l->dir);
	l->dir = copy;
	l->pid = pid;
	now(&l->when);
	expire(fs);
	for (size_t i = 0; i < fs->fresh.n; i++) {
		struct fresh_dir *f = &fs->fresh.v[i];
		/* what the maker reads after its mkdir is what it copies (cp
		 * -r); a guess from before the mkdir gives way to it */
		if ((!f->src || (f->pid == pid && f->guessed)) && kind_of(f->dir) == kind_of(dir) &&
		    strcmp(f->dir, dir)) {
			set_src(f, dir);
			f->guessed = f->pid != pid;
		}
	}
}

static struct fresh_dir *copy_of(struct rfs *fs, const char *dir, size_t len, pid_t pid)
{
	struct fresh_dir *f = find(fs, dir, len, pid);
	return f && f->src ? f : NULL;
}

bool fresh_is(struct rfs *fs, const char *dir, pid_t pid)
{
	return copy_of(fs, dir, strlen(dir), pid) != NULL;
}

bool fresh_copying(struct rfs *fs, const char *dir)
{
	return copy_of(fs, dir, strlen(dir), 0) != NULL;
}

bool fresh_made_by(struct rfs *fs, const char *dir, pid_t pid)
{
	return find(fs, dir, strlen(dir), pid) != NULL;
}

bool fresh_made_lately(struct rfs *fs, const char *dir)
{
	return find(fs, dir, strlen(dir), 0) != NULL;
}

bool fresh_listed_lately(struct rfs *fs, const char *dir)
{
	int kind = kind_of(dir);
	const struct fresh_list *l = kind ? &fs->fresh.listed[kind - 1] : NULL;
	return l && l->dir && !strcmp(l->dir, dir) && ms_since(&l->when) < RFS_FRESH_MS;
}

static struct fresh_dir *parent(struct rfs *fs, const char *path, pid_t pid)
{
	const char *slash = strrchr(path, '/');
	return slash ? copy_of(fs, path, (size_t)(slash - path), pid) : NULL;
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

const char *fresh_source(struct rfs *fs, const char *path, const char **rest, pid_t pid)
{
	if (!fs->fresh.n || strncmp(path, "runners/", 8))
		return NULL;
	const char *s = strchr(path + 8, '/');
	struct fresh_dir *f = s ? copy_of(fs, path, (size_t)(s - path), 0) : NULL;
	(void)pid; /* rsync writes from another process than its mkdir */
	if (!f || kind_of(f->src) != 1)
		return NULL;
	now(&f->last); /* still being filled */
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
	free(fs->fresh.listed[0].dir);
	free(fs->fresh.listed[1].dir);
	rfs_map_free(&fs->fresh.shown);
	memset(&fs->fresh, 0, sizeof(fs->fresh));
}
