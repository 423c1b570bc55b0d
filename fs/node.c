/* SPDX-License-Identifier: MIT */
/*
 * What the mount keeps about a path beyond the document (node.h).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/node.h"

static uint64_t hash_str(uint64_t h, const char *p)
{
	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	return h;
}

static bool has_prefix(const char *p, const char *k, size_t *n)
{
	*n = strlen(k);
	return !strncmp(p, k, *n) && (p[*n] == '\0' || p[*n] == '/');
}

/* The path a node had when this mount first saw it: renames during the
 * mount (mv of a runner or key, a runner whose name changed) are undone. */
static void identity_of(struct rfs *fs, const char *p, struct buf *out)
{
	size_t n;
	for (size_t i = 0; i < fs->origins.n; i++)
		if (has_prefix(p, fs->origins.v[i].key, &n)) {
			buf_adds(out, fs->origins.v[i].val);
			buf_adds(out, p + n);
			return;
		}
	buf_adds(out, p);
}

/* A hash of a node's identity, so that a rename keeps it. A new node at a
 * path another node came from gets another. */
uint64_t node_hash(struct rfs *fs, const char *p)
{
	struct buf id = BUF_INIT;
	identity_of(fs, p, &id);
	uint64_t h = 0xcbf29ce484222325ull;
	size_t n;
	if (id.p && !strcmp(id.p, p))
		for (size_t i = 0; i < fs->origins.n; i++)
			if (has_prefix(p, fs->origins.v[i].val, &n) && strcmp(fs->origins.v[i].key, p)) {
				h = hash_str(h, "\x01new:");
				break;
			}
	h = hash_str(h, id.p ? id.p : p);
	buf_free(&id);
	return h;
}

#define RANK_BITS 20
#define RANK_TABLES (1u << (RANK_BITS - 1))

/* A node's inode number. Within a directory the numbers follow the
 * document (cp -r and rsync create files in inode order on FUSE, so a
 * copy keeps the source's key order): the directory's hash in the high
 * bits, a rank in the low ones — keys by their place (2, 3, ...), tables
 * after every key by their place in the schema, entries by the number
 * they are named. What a walk checks stays put: a directory's number
 * never changes while it exists (fts compares it on the way back up);
 * a key's may when a key before it goes. Runners, the control files and
 * anything else: the hash of the path alone. */
ino_t node_ino(struct rfs *fs, const char *p, const struct tree_ref *r)
{
	uint64_t rank = 0;
	if (r->kind == TK_VALUE && r->parent != TOML_NONE) {
		rank = 2;
		for (uint32_t c = toml_first(fs->doc, r->parent); c != TOML_NONE && c != r->node;
		     c = toml_next(fs->doc, c))
			rank++;
	} else if ((r->kind == TK_TABLE || r->kind == TK_ENTRIES) && !r->entry && r->sk && r->pst &&
		   r->sk >= r->pst->keys && r->sk < r->pst->keys + r->pst->nkeys) {
		rank = RANK_TABLES + (uint64_t)(r->sk - r->pst->keys);
	} else if ((r->kind == TK_TABLE || r->kind == TK_ENTRIES) && !r->entry) {
		/* a table the schema does not know: after the known ones */
		rank = RANK_TABLES + 0x40000 + (node_hash(fs, p) & 0x3ffff);
	} else if (r->kind == TK_REGDIR && r->runner != TOML_NONE) {
		rank = RANK_TABLES - 1; /* after the keys: a copy's environment comes first */
	} else if (r->kind == TK_TABLE && r->entry && !r->runner_entry) {
		const char *s = strrchr(r->canon, '/');
		rank = RANK_TABLES + strtoull(s ? s + 1 : r->canon, NULL, 10);
	}
	if (rank == 0 || rank >= (1u << RANK_BITS))
		return (ino_t)(node_hash(fs, p) | 2); /* never 0 or 1 */
	char dir[PATH_MAX];
	node_parent(p, dir, sizeof(dir));
	return (ino_t)((node_hash(fs, dir) & ~((1ull << RANK_BITS) - 1)) | rank);
}

ino_t node_ino_path(struct rfs *fs, const char *p)
{
	struct tree_ref r;
	if (tree_resolve(fs, p, &r) < 0)
		return (ino_t)(node_hash(fs, p) | 2);
	return node_ino(fs, p, &r);
}

/* `to` is the node that was `from`. */
void node_keep_identity(struct rfs *fs, const char *from, const char *to)
{
	struct buf id = BUF_INIT;
	identity_of(fs, from, &id);
	if (!id.p)
		return;
	rfs_map_del_prefix(&fs->origins, from);
	rfs_map_del_prefix(&fs->origins, to);
	if (strcmp(id.p, to))
		rfs_map_set(&fs->origins, to, NULL, id.p);
	buf_free(&id);
}

struct timespec node_time(struct rfs *fs, const char *p)
{
	struct rfs_map_entry *e = rfs_map_get(&fs->mtimes, p);
	return e ? e->ts : fs->loaded_mtime;
}

void node_touch(struct rfs *fs, const char *p)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	rfs_map_set(&fs->mtimes, p, &now, NULL);
}

/* The directory holding p ("" for the root). */
void node_parent(const char *p, char *out, size_t n)
{
	const char *s = strrchr(p, '/');
	size_t len = s ? (size_t)(s - p) : 0;
	if (len >= n)
		len = n - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}
