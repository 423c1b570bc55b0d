/* SPDX-License-Identifier: MIT */
/*
 * New directories look empty to the tools that fill them (fresh.h).
 */
#include <stdlib.h>
#include <string.h>

#include "runnerfs/fresh.h"
#include "runnerfs/history.h"
#include "runnerfs/rfs.h"

/* Fresh state lives only as long as the burst that made it. */
static void expire(struct rfs *fs)
{
	if ((fs->fresh.n || fs->fresh_shown.n) && !history_in_burst(fs)) {
		rfs_map_free(&fs->fresh);
		rfs_map_free(&fs->fresh_shown);
	}
}

void fresh_made(struct rfs *fs, const char *dir)
{
	expire(fs);
	rfs_map_del_prefix(&fs->fresh_shown, dir);
	rfs_map_set(&fs->fresh, dir, NULL, NULL);
}

bool fresh_is(struct rfs *fs, const char *dir)
{
	expire(fs);
	return rfs_map_get(&fs->fresh, dir) != NULL;
}

bool fresh_hidden(struct rfs *fs, const char *path)
{
	expire(fs);
	if (!fs->fresh.n)
		return false;
	const char *slash = strrchr(path, '/');
	if (!slash)
		return false;
	char dir[4096];
	size_t dlen = (size_t)(slash - path);
	if (dlen >= sizeof(dir))
		return false;
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	return rfs_map_get(&fs->fresh, dir) && !rfs_map_get(&fs->fresh_shown, path);
}

void fresh_show(struct rfs *fs, const char *path)
{
	if (fresh_hidden(fs, path))
		rfs_map_set(&fs->fresh_shown, path, NULL, NULL);
}

void fresh_set_source(struct rfs *fs, const char *dir, const char *src)
{
	struct rfs_map_entry *e = rfs_map_get(&fs->fresh, dir);
	if (e)
		rfs_map_set(&fs->fresh, dir, &e->ts, src);
}

const char *fresh_source(struct rfs *fs, const char *path, const char **rest)
{
	expire(fs);
	if (strncmp(path, "runners/", 8))
		return NULL;
	const char *s = strchr(path + 8, '/');
	if (!s)
		return NULL;
	for (size_t i = 0; i < fs->fresh.n; i++) {
		const struct rfs_map_entry *e = &fs->fresh.v[i];
		if (e->val && strlen(e->key) == (size_t)(s - path) && !strncmp(e->key, path, (size_t)(s - path))) {
			*rest = s;
			return e->val;
		}
	}
	return NULL;
}

void fresh_forget(struct rfs *fs, const char *dir)
{
	rfs_map_del_prefix(&fs->fresh, dir);
	rfs_map_del_prefix(&fs->fresh_shown, dir);
}

void fresh_free(struct rfs *fs)
{
	rfs_map_free(&fs->fresh);
	rfs_map_free(&fs->fresh_shown);
}
