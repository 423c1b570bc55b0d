/* SPDX-License-Identifier: MIT */
/*
 * A small string-keyed table for per-path facts. Linear: it holds what
 * changed during this mount (edited keys, renamed runners, empty
 * directories), which stays small next to the document.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/rfs.h"

struct rfs_map_entry *rfs_map_get(struct rfs_map *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].key, key))
			return &m->v[i];
	return NULL;
}

int rfs_map_set(struct rfs_map *m, const char *key, const struct timespec *ts, const char *val)
{
	struct rfs_map_entry *e = rfs_map_get(m, key);
	char *v = val ? strdup(val) : NULL;
	if (val && !v)
		return -ENOMEM;
	if (!e) {
		if (m->n == m->cap) {
			size_t cap = m->cap ? m->cap * 2 : 16;
			struct rfs_map_entry *nv = realloc(m->v, sizeof(*nv) * cap);
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			m->v = nv;
			m->cap = cap;
		}
		char *k = strdup(key);
		if (!k) {
			free(v);
			return -ENOMEM;
		}
		e = &m->v[m->n++];
		e->key = k;
		e->val = NULL;
		e->ts = (struct timespec){0, 0};
	}
	if (ts)
		e->ts = *ts;
	free(e->val);
	e->val = v;
	return 0;
}

static void del_at(struct rfs_map *m, size_t i)
{
	free(m->v[i].key);
	free(m->v[i].val);
	m->v[i] = m->v[--m->n];
}

void rfs_map_del(struct rfs_map *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].key, key)) {
			del_at(m, i);
			return;
		}
}

void rfs_map_del_prefix(struct rfs_map *m, const char *prefix)
{
	size_t n = strlen(prefix);
	for (size_t i = 0; i < m->n;) {
		const char *k = m->v[i].key;
		if (!strncmp(k, prefix, n) && (k[n] == '\0' || k[n] == '/'))
			del_at(m, i);
		else
			i++;
	}
}

void rfs_map_free(struct rfs_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].key);
		free(m->v[i].val);
	}
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}
