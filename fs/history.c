/* SPDX-License-Identifier: MIT */
/*
 * History as reverse diffs: one changed range per version (an edit
 * through the mount changes one place; a whole-file write is still one
 * range, at worst the whole file).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/history.h"
#include "runnerfs/rfs.h"

static int keep(const struct rfs *fs)
{
	return fs->opt.backups < RFS_BACKUPS_MAX ? fs->opt.backups : RFS_BACKUPS_MAX;
}

/* The diff that turns `from` into `to`: the range of `from` between their
 * common prefix and suffix, and the bytes of `to` that go there. */
static void common(const char *from, size_t flen, const char *to, size_t tlen, size_t *pp, size_t *ps)
{
	size_t p = 0, s = 0, min = flen < tlen ? flen : tlen;
	/* a block at a time first: this runs on every write of a 1 MB file */
	while (p + 4096 <= min && !memcmp(from + p, to + p, 4096))
		p += 4096;
	while (p < min && from[p] == to[p])
		p++;
	while (s + 4096 <= min - p && !memcmp(from + flen - s - 4096, to + tlen - s - 4096, 4096))
		s += 4096;
	while (s < min - p && from[flen - 1 - s] == to[tlen - 1 - s])
		s++;
	*pp = p;
	*ps = s;
}

/* The reverse diff of a change: the range of the new text, narrowed to
 * where the bytes differ, and the old bytes that go there. */
static int diff(const struct history_change *c, struct rfs_version *v)
{
	size_t p, s;
	size_t newn = c->newlen - c->at - c->tail;
	common(c->new + c->at, newn, c->old, c->oldn, &p, &s);
	size_t n = c->oldn - p - s;
	char *bytes = malloc(n ? n : 1);
	if (!bytes)
		return -1;
	memcpy(bytes, c->old + p, n);
	free(v->bytes);
	v->at = c->at + p;
	v->cut = newn - p - s;
	v->bytes = bytes;
	v->nbytes = n;
	return 0;
}

/* Bytes [from, to) of the text before the change c. */
static void old_bytes(const struct history_change *c, char *dst, size_t from, size_t to)
{
	size_t mid = c->at + c->oldn; /* where the old range ends, in the old text */
	for (size_t x = from; x < to;) {
		const char *src;
		size_t end;
		if (x < c->at) {
			src = c->new + x;
			end = c->at;
		} else if (x < mid) {
			src = c->old + (x - c->at);
			end = mid;
		} else {
			src = c->new + (c->newlen - c->tail) + (x - mid);
			end = to;
		}
		if (end > to)
			end = to;
		memcpy(dst, src, end - x);
		dst += end - x;
		x = end;
	}
}

/* text (length *len, a malloc'd buffer) -> the next older version */
static int apply(char **text, size_t *len, const struct rfs_version *v)
{
	if (v->at > *len || v->cut > *len - v->at)
		return -EIO; /* not the text these diffs start from: never read past it */
	size_t n = *len - v->cut + v->nbytes;
	char *t = malloc(n + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t, *text, v->at);
	memcpy(t + v->at, v->bytes, v->nbytes);
	memcpy(t + v->at + v->nbytes, *text + v->at + v->cut, *len - v->at - v->cut);
	t[n] = '\0';
	free(*text);
	*text = t;
	*len = n;
	return 0;
}

static void drop_from(struct rfs *fs, int i)
{
	while (fs->hist.n > i)
		free(fs->hist.v[--fs->hist.n].bytes);
}

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* The burst goes on: version 1 stays the text from before it, and its
 * diff now starts from the new text. Both changes are ranges of the text
 * before this one: the new diff covers their union, its bytes are
 * version 1's there (no copy of the whole text: this runs on every write
 * of a burst). */
static int merge(struct rfs *fs, const struct history_change *c)
{
	struct rfs_version *v = &fs->hist.v[0];
	size_t oldlen = c->at + c->oldn + c->tail;
	size_t lo = c->at < v->at ? c->at : v->at;
	size_t hi = oldlen - c->tail > v->at + v->cut ? oldlen - c->tail : v->at + v->cut; /* in old */
	size_t n = (v->at - lo) + v->nbytes + (hi - v->at - v->cut);
	char *b = malloc(n ? n : 1);
	if (!b)
		return -1;
	old_bytes(c, b, lo, v->at);
	memcpy(b + (v->at - lo), v->bytes, v->nbytes);
	old_bytes(c, b + (v->at - lo) + v->nbytes, v->at + v->cut, hi);
	free(v->bytes);
	v->at = lo;
	v->cut = hi + c->newlen - oldlen - lo; /* new equals old shifted past hi */
	v->bytes = b;
	v->nbytes = n;
	return 0;
}

static long window(const struct rfs *fs)
{
	return fs->opt.burst;
}

bool history_in_burst(struct rfs *fs)
{
	return fs->hist.open && ms_since(&fs->hist.last) < window(fs);
}

void history_push(struct rfs *fs, const struct history_change *c)
{
	bool go_on = history_in_burst(fs) && fs->hist.n > 0;
	clock_gettime(CLOCK_MONOTONIC, &fs->hist.last);
	fs->hist.open = true;
	if (keep(fs) <= 0)
		return;
	if (go_on) {
		if (merge(fs, c) < 0)
			drop_from(fs, 0);
		return;
	}
	struct rfs_version v = {0};
	if (diff(c, &v) < 0) {
		drop_from(fs, 0); /* the chain would be broken from here on */
		return;
	}
	drop_from(fs, keep(fs) - 1);
	memmove(&fs->hist.v[1], &fs->hist.v[0], sizeof(fs->hist.v[0]) * (size_t)fs->hist.n);
	clock_gettime(CLOCK_REALTIME, &v.when);
	fs->hist.v[0] = v;
	fs->hist.n++;
}

void history_outside(struct rfs *fs, const char *old, size_t oldlen, const char *new, size_t newlen)
{
	/* what the outside change replaced is a version of its own (a
	 * truncated or emptied file must not take the last good config with
	 * it), and it ends the burst */
	size_t p, s;
	common(new, newlen, old, oldlen, &p, &s);
	struct history_change c = {new, newlen, p, s, old + p, oldlen - p - s};
	fs->hist.open = false;
	history_push(fs, &c);
	fs->hist.open = false;
}

int history_text(struct rfs *fs, int n, struct buf *out)
{
	if (n < 1 || n > fs->hist.n)
		return -ENOENT;
	size_t len;
	const char *cur = toml_text(fs->doc, &len);
	char *t = malloc(len + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t, cur, len);
	int r = 0;
	for (int i = 0; i < n && r == 0; i++)
		r = apply(&t, &len, &fs->hist.v[i]);
	if (r == 0)
		r = buf_add(out, t, len);
	free(t);
	return r;
}

void history_free(struct rfs *fs)
{
	fs->hist.open = false;
	drop_from(fs, 0);
}
