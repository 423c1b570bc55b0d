/* SPDX-License-Identifier: MIT */
/*
 * Entry names that stay put while tools walk the tree (names.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/names.h"
#include "runnerfs/rfs.h"
#include "runnerfs/tree.h"

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void names_list_free(struct name_list *l)
{
	if (!l)
		return;
	free(l->dir);
	free_strings(l->names, l->n);
	free_strings(l->unnamed, l->nunnamed);
	free(l->sorted);
	free(l);
}

static void clear_list(struct name_list *l)
{
	free(l->dir);
	free_strings(l->names, l->n);
	free_strings(l->unnamed, l->nunnamed);
	free(l->sorted);
	memset(l, 0, sizeof(*l));
}

struct name_ix {
	const char *name;
	size_t i;
};

static int cmp_name_ix(const void *a, const void *b)
{
	const struct name_ix *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

int names_fresh_runners(const toml_doc *d, char ***names, size_t *n)
{
	uint32_t a = toml_get(d, TOML_ROOT, "runners", 7);
	size_t count = a == TOML_NONE || toml_type_of(d, a) != TOML_ARRAY ? 0 : toml_count(d, a);
	char **v = calloc(count ? count : 1, sizeof(*v));
	struct name_ix *ix = calloc(count ? count : 1, sizeof(*ix));
	bool *suffix = calloc(count ? count : 1, sizeof(*suffix));
	int r = 0;
	if (!v || !ix || !suffix) {
		r = -ENOMEM;
		goto out;
	}
	size_t i = 0;
	for (uint32_t e = count ? toml_first(d, a) : TOML_NONE; e != TOML_NONE; e = toml_next(d, e), i++) {
		uint32_t nm = toml_type_of(d, e) == TOML_TABLE ? toml_get(d, e, "name", 4) : TOML_NONE;
		struct buf b = BUF_INIT;
		char *s;
		size_t len;
		if (nm != TOML_NONE && toml_type_of(d, nm) == TOML_STRING && toml_get_string(d, nm, &s, &len) == 0) {
			r = tree_encode_name(s, len, &b);
			free(s);
		}
		if (r < 0 || (!b.p && (r = buf_reserve(&b, 0)) < 0)) {
			buf_free(&b);
			goto out;
		}
		v[i] = buf_steal(&b, NULL);
		ix[i] = (struct name_ix){v[i], i};
	}
	/* the first runner of a name keeps it; later ones and nameless ones
	 * get #N, their 1-based position */
	qsort(ix, count, sizeof(*ix), cmp_name_ix);
	for (size_t k = 0; k < count; k++)
		suffix[ix[k].i] = !v[ix[k].i][0] || (k > 0 && !strcmp(ix[k].name, ix[k - 1].name));
	for (size_t at = 0; at < count && r == 0; at++) {
		char *s;
		if (!suffix[at])
			continue;
		if (asprintf(&s, "%s#%zu", v[at], at + 1) < 0) {
			r = -ENOMEM;
			break;
		}
		free(v[at]);
		v[at] = s;
	}
	if (r == 0) {
		*names = v;
		*n = count;
		v = NULL;
	}
out:
	if (v)
		free_strings(v, count);
	free(ix);
	free(suffix);
	return r;
}

static int fresh(const toml_doc *d, uint32_t arr, bool runners, char ***names, size_t *n)
{
	if (runners)
		return names_fresh_runners(d, names, n);
	size_t count = arr == TOML_NONE ? 0 : toml_count(d, arr);
	char **v = calloc(count ? count : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++)
		if (asprintf(&v[i], "%zu", i) < 0) {
			free_strings(v, i);
			return -ENOMEM;
		}
	*names = v;
	*n = count;
	return 0;
}

static int cmp_sorted(const void *a, const void *b, void *arg)
{
	char **names = arg;
	return strcmp(names[*(const size_t *)a], names[*(const size_t *)b]);
}

static int sort_list(struct name_list *l)
{
	size_t *s = realloc(l->sorted, sizeof(size_t) * (l->n ? l->n : 1));
	if (!s)
		return -ENOMEM;
	l->sorted = s;
	for (size_t i = 0; i < l->n; i++)
		s[i] = i;
	qsort_r(s, l->n, sizeof(size_t), cmp_sorted, l->names);
	return 0;
}

long names_find(const struct name_list *l, const char *name)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(l->names[l->sorted[mid]], name);
		if (c == 0)
			return (long)l->sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

unsigned long names_next(const struct name_list *l)
{
	unsigned long next = 0;
	for (size_t i = 0; i < l->n; i++) {
		char *end;
		unsigned long v = strtoul(l->names[i], &end, 10);
		if (!*end && v + 1 > next)
			next = v + 1;
	}
	return next;
}

static struct name_list *find_list(struct rfs *fs, const char *dir, size_t dlen)
{
	for (size_t i = 0; i < fs->names.n; i++) {
		struct name_list *l = fs->names.v[i];
		if (strlen(l->dir) == dlen && !memcmp(l->dir, dir, dlen))
			return l;
	}
	return NULL;
}

static size_t base_len(const char *name)
{
	const char *h = strchr(name, '#');
	return h ? (size_t)(h - name) : strlen(name);
}

static long unnamed_at(const struct name_list *l, const char *name)
{
	for (size_t i = 0; i < l->nunnamed; i++)
		if (!strcmp(l->unnamed[i], name))
			return (long)i;
	return -1;
}

static void forget_unnamed(struct name_list *l, const char *name)
{
	long i = unnamed_at(l, name);
	if (i < 0)
		return;
	free(l->unnamed[i]);
	l->unnamed[i] = l->unnamed[--l->nunnamed];
}

/* Do the names kept in l still fit the fresh names f of the same array? */
static bool fits(const struct name_list *l, char **f, size_t n, bool runners)
{
	if (l->n != n)
		return false;
	if (!runners)
		return true;
	for (size_t i = 0; i < n; i++) {
		size_t fb = base_len(f[i]), lb = base_len(l->names[i]);
		/* a runner without a name keeps a named directory only if it
		 * lost its name through the mount (halfway through rm -r) */
		if (!fb && lb && unnamed_at(l, l->names[i]) < 0)
			return false;
		if (fb && (fb != lb || memcmp(f[i], l->names[i], fb)))
			return false;
	}
	return true;
}

/* Each list is an allocation of its own: a list handed out stays where
 * it is while a listing below it makes more (kcache's walk lists a
 * runner's services inside the listing of runners/). */
static struct name_list *new_list(struct rfs *fs)
{
	if (fs->names.n == fs->names.cap) {
		size_t cap = fs->names.cap ? fs->names.cap * 2 : 8;
		struct name_list **v = realloc(fs->names.v, cap * sizeof(*v));
		if (!v)
			return NULL;
		fs->names.v = v;
		fs->names.cap = cap;
	}
	struct name_list *l = calloc(1, sizeof(*l));
	if (l)
		fs->names.v[fs->names.n++] = l;
	return l;
}

static void drop_list(struct rfs *fs, struct name_list *l)
{
	size_t i = 0;
	while (i < fs->names.n && fs->names.v[i] != l)
		i++;
	if (i == fs->names.n)
		return;
	clear_list(l);
	free(l);
	memmove(&fs->names.v[i], &fs->names.v[i + 1], sizeof(*fs->names.v) * (fs->names.n - i - 1));
	fs->names.n--;
}

int names_of(struct rfs *fs, const toml_doc *d, const char *dir, size_t dlen, uint32_t arr,
	     bool runners, const struct name_list **out, struct name_list **tmp)
{
	size_t count = arr == TOML_NONE ? 0 : toml_count(d, arr);
	bool ours = d == fs->doc;
	struct name_list *l = ours ? find_list(fs, dir, dlen) : NULL;
	*tmp = NULL;
	if (l && l->epoch == fs->names.epoch && l->n == count) {
		*out = l;
		return 0;
	}
	if (ours && !fs->names.in_txn && fs->txn.committing) {
		/* a commit in flight (fs->lock released, txn.c): the document
		 * has the change, the names not yet (names_removed comes after
		 * it). Fresh names now would renumber what a tool is walking:
		 * wait for it (the array may be another one by then) */
		while (fs->txn.committing)
			pthread_cond_wait(&fs->txn.committed, &fs->lock);
		return -EAGAIN;
	}
	char **f;
	size_t n;
	int r = fresh(d, arr, runners, &f, &n);
	if (r < 0)
		return r;
	/* the kept names still fit the document read again (also inside a
	 * transaction that read it: rmdir of a runner whose `name` rm -r
	 * removed, after an outside change, names.h) */
	if (ours && l && l->epoch != fs->names.epoch && fits(l, f, n, runners)) {
		free_strings(f, n);
		l->epoch = fs->names.epoch;
		*out = l;
		return 0;
	}
	if (ours && !fs->names.in_txn) {
		if (!l) {
			char *key = strndup(dir, dlen);
			if (!key || !(l = new_list(fs))) {
				free(key);
				free_strings(f, n);
				return -ENOMEM;
			}
			l->dir = key;
		} else {
			free_strings(l->names, l->n);
			free_strings(l->unnamed, l->nunnamed);
			l->unnamed = NULL;
			l->nunnamed = 0;
		}
		l->names = f;
		l->n = n;
		l->epoch = fs->names.epoch;
		if ((r = sort_list(l)) < 0) {
			drop_list(fs, l);
			return r;
		}
		*out = l;
		return 0;
	}
	struct name_list *t = calloc(1, sizeof(*t));
	if (!t) {
		free_strings(f, n);
		return -ENOMEM;
	}
	t->names = f;
	t->n = n;
	if ((r = sort_list(t)) < 0) {
		names_list_free(t);
		return r;
	}
	*out = *tmp = t;
	return 0;
}

/* Lists under dir/name/ (a removed or renamed entry's). */
static bool under(const char *p, const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	return !strncmp(p, dir, dl) && p[dl] == '/' && !strncmp(p + dl + 1, name, nl) &&
	       (p[dl + 1 + nl] == '/' || p[dl + 1 + nl] == '\0');
}

void names_removed(struct rfs *fs, const char *dir, size_t idx)
{
	struct name_list *l = find_list(fs, dir, strlen(dir));
	if (!l || idx >= l->n)
		return;
	char *gone = l->names[idx];
	for (size_t i = fs->names.n; i-- > 0;)
		if (under(fs->names.v[i]->dir, dir, gone))
			drop_list(fs, fs->names.v[i]);
	forget_unnamed(l, gone);
	free(gone);
	memmove(&l->names[idx], &l->names[idx + 1], sizeof(char *) * (l->n - idx - 1));
	l->n--;
	if (sort_list(l) < 0)
		drop_list(fs, l);
}

void names_appended(struct rfs *fs, const char *dir, const char *name)
{
	struct name_list *l = find_list(fs, dir, strlen(dir));
	if (!l)
		return;
	char **v = realloc(l->names, sizeof(char *) * (l->n + 1));
	char *copy = strdup(name);
	if (v)
		l->names = v;
	if (!v || !copy || (v[l->n] = copy, l->n++, sort_list(l)) < 0) {
		if (!(v && copy))
			free(copy);
		drop_list(fs, l); /* made fresh when next used */
	}
}

void names_renamed(struct rfs *fs, const char *dir, size_t idx, const char *name)
{
	struct name_list *l = find_list(fs, dir, strlen(dir));
	char *copy = strdup(name);
	if (!l || idx >= l->n || !copy) {
		free(copy);
		if (l)
			drop_list(fs, l);
		return;
	}
	char *old = l->names[idx];
	size_t dl = strlen(dir), ol = strlen(old);
	for (size_t i = 0; i < fs->names.n; i++) {
		struct name_list *s = fs->names.v[i];
		if (!under(s->dir, dir, old))
			continue;
		char *moved;
		if (asprintf(&moved, "%.*s/%s%s", (int)dl, dir, name, s->dir + dl + 1 + ol) < 0)
			continue;
		free(s->dir);
		s->dir = moved;
	}
	l->names[idx] = copy;
	forget_unnamed(l, old);
	free(old);
	if (sort_list(l) < 0)
		drop_list(fs, l);
}

void names_unnamed(struct rfs *fs, const char *dir, size_t idx)
{
	struct name_list *l = find_list(fs, dir, strlen(dir));
	if (!l || idx >= l->n || unnamed_at(l, l->names[idx]) >= 0)
		return;
	char **v = realloc(l->unnamed, sizeof(char *) * (l->nunnamed + 1));
	char *copy = strdup(l->names[idx]);
	if (v)
		l->unnamed = v;
	if (!v || !copy) {
		/* not kept: an outside change now gives fresh names */
		free(copy);
		return;
	}
	v[l->nunnamed++] = copy;
}

void names_copy(struct rfs *fs, const char *from, const char *to)
{
	size_t fl = strlen(from), n = 0;
	char **src = calloc(fs->names.n ? fs->names.n : 1, sizeof(char *));
	if (!src)
		return;
	for (size_t i = 0; i < fs->names.n; i++) {
		const char *d = fs->names.v[i]->dir;
		if (!strncmp(d, from, fl) && (!d[fl] || d[fl] == '/') && (src[n] = strdup(d)))
			n++;
	}
	for (size_t i = 0; i < n; i++) {
		char *dir;
		if (asprintf(&dir, "%s%s", to, src[i] + fl) < 0)
			continue;
		struct name_list *old = find_list(fs, dir, strlen(dir));
		if (old)
			drop_list(fs, old);
		struct name_list *s = find_list(fs, src[i], strlen(src[i]));
		struct name_list *l = s ? new_list(fs) : NULL;
		if (!l) {
			free(dir);
			continue;
		}
		l->dir = dir;
		l->epoch = s->epoch;
		l->names = calloc(s->n ? s->n : 1, sizeof(char *));
		for (size_t k = 0; l->names && k < s->n; k++)
			if ((l->names[k] = strdup(s->names[k])))
				l->n++;
		if (!l->names || l->n != s->n || sort_list(l) < 0)
			drop_list(fs, l);
	}
	for (size_t i = 0; i < n; i++)
		free(src[i]);
	free(src);
}

void names_replaced(struct rfs *fs)
{
	fs->names.epoch++;
}

void names_free(struct rfs *fs)
{
	for (size_t i = 0; i < fs->names.n; i++) {
		clear_list(fs->names.v[i]);
		free(fs->names.v[i]);
	}
	free(fs->names.v);
	memset(&fs->names, 0, sizeof(fs->names));
}
