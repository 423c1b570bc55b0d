/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_MAP_H
#define RUNNERFS_MAP_H

/*
 * map: a small string-keyed table, searched linearly. Keys are copied;
 * an entry carries a time and an optional string. Not thread-safe: its
 * owner's lock guards it.
 */

#include <stddef.h>
#include <time.h>

/* A small string-keyed table: per-path facts that outlive a document
 * (mtimes, name aliases, empty directories). */
struct rfs_map_entry {
	char *key;
	struct timespec ts;
	char *val;
};
struct rfs_map {
	struct rfs_map_entry *v;
	size_t n, cap;
};

struct rfs_map_entry *rfs_map_get(struct rfs_map *m, const char *key);
int rfs_map_set(struct rfs_map *m, const char *key, const struct timespec *ts, const char *val);
void rfs_map_del(struct rfs_map *m, const char *key);
void rfs_map_del_prefix(struct rfs_map *m, const char *prefix);
void rfs_map_free(struct rfs_map *m);

#endif
