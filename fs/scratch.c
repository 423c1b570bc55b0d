/* SPDX-License-Identifier: MIT */
/*
 * Scratch files: in memory, never in config.toml. See scratch.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/scratch.h"

struct scratch *scratch_get(struct scratch_set *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].path, path))
			return &s->v[i];
	return NULL;
}

struct scratch_data *scratch_data_ref(struct scratch_data *d)
{
	d->refs++;
	return d;
}

void scratch_data_unref(struct scratch_data *d)
{
	if (d && --d->refs == 0) {
		buf_free(&d->content);
		free(d);
	}
}

static int grow(struct scratch_set *s)
{
	if (s->n < s->cap)
		return 0;
	size_t cap = s->cap ? s->cap * 2 : 8;
	struct scratch *v = realloc(s->v, sizeof(*v) * cap);
	if (!v)
		return -ENOMEM;
	s->v = v;
	s->cap = cap;
	return 0;
}

int scratch_add(struct scratch_set *s, const char *path, enum scratch_type type, mode_t mode,
		struct scratch **out)
{
	if (scratch_get(s, path))
		return -EEXIST;
	struct scratch_data *d = calloc(1, sizeof(*d));
	char *p = strdup(path);
	if (!d || !p || grow(s) < 0) {
		free(d);
		free(p);
		return -ENOMEM;
	}
	d->refs = 1;
	d->mode = mode & 07777;
	d->nlink = 1;
	/* inode numbers from the top of the range, away from the tree's */
	d->ino = (ino_t)(0x7f00000000000000ull + ++s->serial);
	clock_gettime(CLOCK_REALTIME, &d->mtime);
	s->v[s->n] = (struct scratch){p, type, d};
	if (out)
		*out = &s->v[s->n];
	s->n++;
	return 0;
}

int scratch_link(struct scratch_set *s, const char *from, const char *to)
{
	struct scratch *f = scratch_get(s, from);
	if (!f)
		return -ENOENT;
	if (f->type == SC_DIR)
		return -EPERM;
	if (scratch_get(s, to))
		return -EEXIST;
	char *p = strdup(to);
	if (!p || grow(s) < 0) {
		free(p);
		return -ENOMEM;
	}
	f = scratch_get(s, from); /* grow may have moved it */
	f->data->nlink++;
	s->v[s->n++] = (struct scratch){p, f->type, scratch_data_ref(f->data)};
	return 0;
}

static void drop_at(struct scratch_set *s, size_t i)
{
	s->v[i].data->nlink--;
	scratch_data_unref(s->v[i].data);
	free(s->v[i].path);
	s->v[i] = s->v[--s->n];
}

int scratch_remove(struct scratch_set *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].path, path)) {
			drop_at(s, i);
			return 0;
		}
	return -ENOENT;
}

static bool under(const char *p, const char *dir, size_t n)
{
	return !strncmp(p, dir, n) && p[n] == '/';
}

bool scratch_has_children(struct scratch_set *s, const char *dir)
{
	size_t n = strlen(dir);
	for (size_t i = 0; i < s->n; i++)
		if (n == 0 ? strchr(s->v[i].path, '/') == NULL : under(s->v[i].path, dir, n))
			return true;
	return false;
}

void scratch_remove_under(struct scratch_set *s, const char *dir)
{
	size_t n = strlen(dir);
	for (size_t i = 0; i < s->n;)
		if (under(s->v[i].path, dir, n))
			drop_at(s, i);
		else
			i++;
}

int scratch_rename(struct scratch_set *s, const char *from, const char *to)
{
	struct scratch *f = scratch_get(s, from);
	if (!f)
		return -ENOENT;
	if (!strcmp(from, to))
		return 0;
	struct scratch *t = scratch_get(s, to);
	if (t) {
		if (t->type == SC_DIR && (f->type != SC_DIR || scratch_has_children(s, to)))
			return f->type == SC_DIR ? -ENOTEMPTY : -EISDIR;
		if (f->type == SC_DIR && t->type != SC_DIR)
			return -ENOTDIR;
		scratch_remove(s, to);
	}
	size_t fl = strlen(from), tl = strlen(to);
	for (size_t i = 0; i < s->n; i++) {
		const char *p = s->v[i].path;
		bool self = !strcmp(p, from);
		if (!self && !under(p, from, fl))
			continue;
		char *np = malloc(tl + strlen(p + fl) + 1);
		if (!np)
			return -ENOMEM;
		memcpy(np, to, tl);
		strcpy(np + tl, p + fl);
		free(s->v[i].path);
		s->v[i].path = np;
	}
	return 0;
}

void scratch_free(struct scratch_set *s)
{
	while (s->n)
		drop_at(s, s->n - 1);
	free(s->v);
	s->v = NULL;
	s->cap = 0;
}

size_t scratch_bytes(const struct scratch_set *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].type == SC_FILE)
			n += s->v[i].data->content.len;
	return n;
}

static bool prefixed(const char *name, size_t len, const char *pre, size_t want_len)
{
	size_t n = strlen(pre);
	return len >= n && !memcmp(name, pre, n) && (!want_len || len == want_len);
}

bool scratch_tool_name(const char *name, size_t len)
{
	if (!len)
		return false;
	if (name[0] == '.' || name[len - 1] == '~' || (name[0] == '#' && name[len - 1] == '#'))
		return true;
	bool digits = true;
	for (size_t i = 0; i < len; i++)
		digits = digits && name[i] >= '0' && name[i] <= '9';
	return digits || prefixed(name, len, "sed", 9) || prefixed(name, len, "XX", 8) ||
	       prefixed(name, len, "tmp", 0);
}

static bool suffixed(const char *name, size_t len, const char *suf)
{
	size_t n = strlen(suf);
	return len >= n && !memcmp(name + len - n, suf, n);
}

bool scratch_temp_name(const char *name, size_t len)
{
	if (!scratch_tool_name(name, len) || name[len - 1] == '~' || name[0] == '#' ||
	    prefixed(name, len, ".fuse_hidden", 0) || prefixed(name, len, ".#", 0))
		return false;
	/* vim's and nano's swap files and locks: .value.swp, .swo, .swpx */
	if (name[0] == '.' && (suffixed(name, len, ".swpx") ||
			       (len > 4 && !memcmp(name + len - 4, ".sw", 3))))
		return false;
	return true;
}
