/* SPDX-License-Identifier: MIT */
/*
 * The FUSE operations: thin wrappers that take the lock, resolve the
 * path, and hand the change to a transaction. The rules of what a path
 * means are in tree.c; how a change reaches the disk is in txn.c.
 *
 * Writes are buffered per open file and committed at flush/fsync (whose
 * errors reach close()/fsync()), never at release (whose result the kernel
 * drops) — except a file that was only truncated: `: > key` flushes twice
 * and never writes, and `echo v > key` flushes once *before* it writes, so
 * a truncation alone waits for a write, an fsync, or the release.
 */
#define FUSE_USE_VERSION 31

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "runnerfs/control.h"
#include "runnerfs/fresh.h"
#include "runnerfs/registry.h"
#include "runnerfs/ops.h"
#include "runnerfs/tree.h"
#include "runnerfs/txn.h"
#include "runnerfs/watch.h"

struct handle {
	char *path; /* without the leading slash */
	enum tree_kind kind;
	int ctl;
	struct buf buf;
	bool writable, append;
	bool dirty;     /* differs from what was last committed */
	bool wrote;     /* a write() since the last commit */
	bool truncated; /* emptied by O_TRUNC or ftruncate since */
	bool failed;    /* a write() was rejected: never commit this */
	bool created;   /* a new key: it exists once committed */
	bool has_mtime; /* utimens while writing: the mtime after the commit */
	struct timespec mtime;
	struct scratch_data *sd; /* a scratch file: reads and writes go here */
	pid_t pid;               /* who opened it (its commit may come at release) */
	struct handle *prev, *next; /* every open handle, for unmount */
};

/* The kernel sends release asynchronously; at unmount some may never
 * arrive. Open handles are listed so destroy can free them. */
static void track(struct rfs *fs, struct handle *h)
{
	h->next = fs->handles;
	if (h->next)
		h->next->prev = h;
	fs->handles = h;
}

static void untrack(struct rfs *fs, struct handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
}

static void free_handle(struct handle *h)
{
	scratch_data_unref(h->sd);
	buf_free(&h->buf);
	free(h->path);
	free(h);
}

static bool key_name(const struct tree_ref *r);

static struct rfs *ctx(void)
{
	return fuse_get_context()->private_data;
}

/* The process making the request (fresh.h: what it just made); for a
 * commit, the one that opened the file (RELEASE comes from no process). */
static pid_t caller(void)
{
	struct rfs *fs = ctx();
	return fs->committing_pid ? fs->committing_pid : fuse_get_context()->pid;
}

/* Every operation on the model starts here: one at a time, and with what
 * outside writers did to CONFIG taken in first. */
static void lock_fs(struct rfs *fs)
{
	pthread_mutex_lock(&fs->lock);
	watch_sync(fs);
}

static const char *rel(const char *path)
{
	return path[0] == '/' ? path + 1 : path;
}

static struct handle *hof(struct fuse_file_info *fi)
{
	return fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
}

static int resolve(struct rfs *fs, const char *path, struct tree_ref *r)
{
	int rc = tree_resolve(fs, path, r);
	return rc == -EINVAL ? -ENOENT : rc;
}

/* ---- attributes ---- */

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
static uint64_t path_hash(struct rfs *fs, const char *p)
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

static void parent_of(const char *p, char *out, size_t n);

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
static ino_t path_ino_ref(struct rfs *fs, const char *p, const struct tree_ref *r)
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
		rank = RANK_TABLES + 0x40000 + (path_hash(fs, p) & 0x3ffff);
	} else if (r->kind == TK_REGDIR && r->runner != TOML_NONE) {
		rank = RANK_TABLES - 1; /* after the keys: a copy's environment comes first */
	} else if (r->kind == TK_TABLE && r->entry && !r->runner_entry) {
		const char *s = strrchr(r->canon, '/');
		rank = RANK_TABLES + strtoull(s ? s + 1 : r->canon, NULL, 10);
	}
	if (rank == 0 || rank >= (1u << RANK_BITS))
		return (ino_t)(path_hash(fs, p) | 2); /* never 0 or 1 */
	char dir[PATH_MAX];
	parent_of(p, dir, sizeof(dir));
	return (ino_t)((path_hash(fs, dir) & ~((1ull << RANK_BITS) - 1)) | rank);
}

static ino_t path_ino(struct rfs *fs, const char *p)
{
	struct tree_ref r;
	if (resolve(fs, p, &r) < 0)
		return (ino_t)(path_hash(fs, p) | 2);
	return path_ino_ref(fs, p, &r);
}

static ino_t ino_of(struct rfs *fs, const char *p)
{
	struct scratch *sc = scratch_get(&fs->scratch, p);
	return sc ? sc->data->ino : path_ino(fs, p);
}

/* `to` is the node that was `from`. */
static void keep_identity(struct rfs *fs, const char *from, const char *to)
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

static struct timespec node_time(struct rfs *fs, const char *p)
{
	struct rfs_map_entry *e = rfs_map_get(&fs->mtimes, p);
	return e ? e->ts : fs->loaded_mtime;
}

static void touch(struct rfs *fs, const char *p)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	rfs_map_set(&fs->mtimes, p, &now, NULL);
}

/* The directory holding p ("" for the root). */
static void parent_of(const char *p, char *out, size_t n)
{
	const char *s = strrchr(p, '/');
	size_t len = s ? (size_t)(s - p) : 0;
	if (len >= n)
		len = n - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

static int file_size(struct rfs *fs, const struct tree_ref *r, off_t *size)
{
	struct buf b = BUF_INIT;
	int rc;
	if (r->kind == TK_CTLFILE || r->kind == TK_HISTFILE)
		rc = control_render(fs, r, &b);
	else
		rc = tree_render(fs->doc, r, &b);
	*size = (off_t)b.len;
	buf_free(&b);
	return rc;
}

static void scratch_attr(struct rfs *fs, const struct scratch *sc, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	const struct scratch_data *d = sc->data;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_ino = d->ino;
	st->st_mtim = st->st_atim = st->st_ctim = d->mtime;
	st->st_blksize = 4096;
	st->st_nlink = sc->type == SC_DIR ? 2 : d->nlink;
	st->st_mode = (sc->type == SC_DIR ? S_IFDIR : sc->type == SC_LINK ? S_IFLNK : S_IFREG) | d->mode;
	st->st_size = (off_t)d->content.len;
	st->st_blocks = (st->st_size + 511) / 512;
}

/* The directory of p, if it is a scratch directory. */
static struct scratch *scratch_parent(struct rfs *fs, const char *p)
{
	char dir[PATH_MAX];
	const char *s = strrchr(p, '/');
	if (!s)
		return NULL;
	size_t n = (size_t)(s - p);
	if (n >= sizeof(dir))
		return NULL;
	memcpy(dir, p, n);
	dir[n] = '\0';
	struct scratch *sc = scratch_get(&fs->scratch, dir);
	return sc && sc->type == SC_DIR ? sc : NULL;
}

static int attr_of(struct rfs *fs, const char *p, struct stat *st, struct handle *h)
{
	struct scratch *sc = scratch_get(&fs->scratch, p);
	if (sc) {
		scratch_attr(fs, sc, st);
		return 0;
	}
	struct tree_ref r;
	int rc = resolve(fs, p, &r);
	if (rc < 0)
		return rc;
	if (!h && fresh_hidden(fs, r.canon, caller()))
		return -ENOENT; /* a new directory looks empty (fresh.h) */
	memset(st, 0, sizeof(*st));
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_ino = path_ino_ref(fs, p, &r);
	st->st_mtim = node_time(fs, p);
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
	st->st_blksize = 4096;
	if (tree_is_dir(&r)) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		st->st_size = 4096;
		return 0;
	}
	st->st_nlink = 1;
	st->st_mode = S_IFREG | (tree_is_secret(&r) ? 0600 : 0644);
	switch (r.kind) {
	case TK_MISSING:
		if (!rfs_map_get(&fs->pending, p))
			return -ENOENT;
		st->st_size = h ? (off_t)h->buf.len : 0;
		return 0;
	case TK_CONFIG: {
		size_t len;
		toml_text(fs->doc, &len);
		st->st_size = (off_t)len;
		st->st_mtim = fs->disk.id.mtime.tv_sec ? fs->disk.id.mtime : fs->loaded_mtime;
		break;
	}
	case TK_CTLFILE:
		clock_gettime(CLOCK_REALTIME, &st->st_mtim);
		/* fallthrough */
	default:
		if ((rc = file_size(fs, &r, &st->st_size)) < 0)
			return rc;
	}
	if (h)
		st->st_size = (off_t)h->buf.len;
	st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}

static int rfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	lock_fs(fs);
	int rc = attr_of(fs, rel(path), st, hof(fi));
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* ---- directories ---- */

/* A directory's names, taken when it is read from the start, so that the
 * offsets stay valid however large it is and whatever changes meanwhile. */
struct dir_entry {
	char *name;
	mode_t type; /* S_IFDIR, S_IFREG, S_IFLNK */
	ino_t ino;
};

struct dir_handle {
	struct dir_entry *v;
	size_t n, cap;
};

static void dir_clear(struct dir_handle *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].name);
	d->n = 0;
}

static int dir_add(struct dir_handle *d, const char *name, mode_t type, ino_t ino)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 32;
		struct dir_entry *v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	char *copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	d->v[d->n++] = (struct dir_entry){copy, type, ino};
	return 0;
}

/* dir/name, or name in the root; false if too long. */
static bool child_path(const char *dir, const char *name, char *out, size_t n)
{
	int len = *dir ? snprintf(out, n, "%s/%s", dir, name) : snprintf(out, n, "%s", name);
	return len >= 0 && (size_t)len < n;
}

struct fill_arg {
	struct rfs *fs;
	const char *dir;
	const char *canon;
	struct dir_handle *d;
};

static int fill(void *arg, const char *name, const struct tree_ref *r)
{
	struct fill_arg *a = arg;
	char p[PATH_MAX];
	if (!child_path(a->canon, name, p, sizeof(p)) || fresh_hidden(a->fs, p, caller()))
		return 0;
	if (!child_path(a->dir, name, p, sizeof(p)))
		return 0;
	/* the listing's refs are not whole (no schema, no path): ask again */
	return dir_add(a->d, name, tree_is_dir(r) ? S_IFDIR : S_IFREG, path_ino(a->fs, p));
}

/* The names in dir, "." and ".." first. */
static int list_dir(struct rfs *fs, const char *dir, struct dir_handle *d)
{
	dir_clear(d);
	struct tree_ref r;
	struct scratch *sd = scratch_get(&fs->scratch, dir);
	if (sd && sd->type != SC_DIR)
		return -ENOTDIR;
	/* a scratch directory (git init, a tool's lock) lists what is in it */
	int rc = sd ? -ENOENT : resolve(fs, dir, &r);
	bool in_tree = rc == 0;
	if (in_tree && !tree_is_dir(&r))
		return -ENOTDIR;
	if (!in_tree && !(rc == -ENOENT && scratch_get(&fs->scratch, dir)))
		return rc; /* not a directory of the tree nor a scratch one */
	char up[PATH_MAX];
	parent_of(dir, up, sizeof(up));
	if ((rc = dir_add(d, ".", S_IFDIR, ino_of(fs, dir))) < 0 ||
	    (rc = dir_add(d, "..", S_IFDIR, ino_of(fs, up))) < 0)
		return rc;
	struct fill_arg a = {fs, dir, in_tree ? r.canon : dir, d};
	if (in_tree)
		fresh_listed(fs, r.canon, caller()); /* a copy reads its source */
	if (in_tree && (rc = tree_list(fs, dir, &r, fill, &a)) < 0)
		return rc;
	/* the editors' files next to the keys */
	size_t n = strlen(dir);
	for (size_t i = 0; i < fs->scratch.n; i++) {
		const struct scratch *sc = &fs->scratch.v[i];
		const char *base = n ? sc->path + n + 1 : sc->path;
		if ((n && (strncmp(sc->path, dir, n) || sc->path[n] != '/')) || strchr(base, '/'))
			continue;
		mode_t t = sc->type == SC_DIR ? S_IFDIR : sc->type == SC_LINK ? S_IFLNK : S_IFREG;
		if ((rc = dir_add(d, base, t, sc->data->ino)) < 0)
			return rc;
	}
	return 0;
}

static int rfs_opendir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	struct dir_handle *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	fi->fh = (uintptr_t)d;
	return 0;
}

static int rfs_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	if (d) {
		dir_clear(d);
		free(d->v);
		free(d);
	}
	return 0;
}

/* Each entry comes with its type and inode number; for READDIRPLUS with
 * all its attributes (exactly what getattr gives), so the kernel needs no
 * LOOKUP for it. Offsets are positions in the list taken at offset 0. */
static int rfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct rfs *fs = ctx();
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	const char *dir = rel(path);
	if (!d)
		return -EBADF;
	lock_fs(fs);
	int rc = 0;
	if (off == 0 || d->n == 0)
		rc = list_dir(fs, dir, d);
	for (size_t i = off > 0 ? (size_t)off : 0; rc == 0 && i < d->n; i++) {
		const struct dir_entry *e = &d->v[i];
		struct stat st;
		enum fuse_fill_dir_flags plus = 0;
		memset(&st, 0, sizeof(st));
		st.st_mode = e->type;
		st.st_ino = e->ino;
		char p[PATH_MAX];
		if (i >= 2 && (flags & FUSE_READDIR_PLUS) && child_path(dir, e->name, p, sizeof(p))) {
			struct stat full;
			int a = attr_of(fs, p, &full, NULL);
			if (a == -ENOENT)
				continue; /* gone since the list was taken */
			if (a == 0) {
				st = full;
				plus = FUSE_FILL_DIR_PLUS;
			}
		}
		if (filler(buf, e->name, &st, (off_t)i + 1, plus))
			break;
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* ---- committing ---- */

static void drop_tomb(struct rfs *fs, int i)
{
	free(fs->tombs[i].path);
	free(fs->tombs[i].text);
	memmove(&fs->tombs[i], &fs->tombs[i + 1], sizeof(fs->tombs[0]) * (size_t)(fs->ntombs - i - 1));
	fs->ntombs--;
}

static void push_tomb(struct rfs *fs, const char *p, size_t at, char *text, size_t len)
{
	if (fs->ntombs == RFS_TOMBS)
		drop_tomb(fs, 0);
	char *path = strdup(p);
	if (!path) {
		free(text);
		return;
	}
	struct rfs_tomb *t = &fs->tombs[fs->ntombs++];
	*t = (struct rfs_tomb){path, at, text, len, fs->generation, {0, 0}};
	clock_gettime(CLOCK_REALTIME, &t->when);
}

/* The removed line of key p, if it can go back: nothing else has changed
 * since its removal and it was removed a moment ago. */
static struct rfs_tomb *find_tomb(struct rfs *fs, const char *p)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = fs->ntombs; i-- > 0;) {
		struct rfs_tomb *t = &fs->tombs[i];
		if (t->gen != fs->generation || now.tv_sec - t->when.tv_sec > RFS_REVIVE_SECONDS)
			continue;
		if (!strcmp(t->path, p))
			return t;
	}
	return NULL;
}

struct store_arg {
	const char *path;
	const char *text;
	size_t len;
};

/* A key written in a copy (fresh.h) with what the source's file reads
 * takes the source's TOML text: 0 or -errno when it did, 1 when it is
 * not such a write. */
static int copy_source_text(struct rfs *fs, toml_doc *d, const struct tree_ref *r, const char *text,
			    size_t len, char *why, size_t n)
{
	const char *rest;
	const char *src = (r->kind == TK_MISSING || r->kind == TK_VALUE) && !r->reg && !r->entry
				  ? fresh_source(fs, r->canon, &rest, caller())
				  : NULL;
	if (!src || !strcmp(rest, "/name"))
		return 1;
	char sp[PATH_MAX];
	struct tree_ref sr;
	struct buf b = BUF_INIT;
	if (snprintf(sp, sizeof(sp), "%s%s", src, rest) >= (int)sizeof(sp) ||
	    tree_resolve_in(fs, d, sp, &sr) < 0 || sr.kind != TK_VALUE || tree_render(d, &sr, &b) < 0 ||
	    b.len != len || (len && memcmp(b.p, text, len))) {
		buf_free(&b);
		return 1;
	}
	buf_free(&b);
	size_t rl;
	const char *raw = toml_raw(d, sr.node, &rl);
	char *copy = raw ? strndup(raw, rl) : NULL; /* the edit moves the text */
	if (!copy)
		return 1;
	toml_error err = {0};
	int rc = r->kind == TK_MISSING ? toml_insert_raw(d, r->parent, r->key, r->klen, copy, rl, &err)
				       : toml_set_raw(d, r->node, copy, rl, &err);
	free(copy);
	if (rc < 0)
		snprintf(why, n, "%s", err.msg[0] ? err.msg : strerror(-rc));
	return rc;
}

static int store_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct store_arg *a = arg;
	struct tree_ref r;
	int rc = resolve(fs, a->path, &r);
	if (rc < 0) {
		snprintf(why, n, "it no longer exists");
		return rc;
	}
	if ((rc = copy_source_text(fs, *work, &r, a->text, a->len, why, n)) != 1)
		return rc;
	struct rfs_tomb *t = r.kind == TK_MISSING ? find_tomb(fs, a->path) : NULL;
	if (t) {
		/* a save that removed the key and made it again: put its line
		 * back where it was, then change only its value */
		toml_error err;
		struct tree_ref back;
		if (toml_splice(*work, t->at, t->at, t->text, t->len, &err) == 0) {
			if (tree_resolve_in(fs, *work, a->path, &back) == 0 && back.kind == TK_VALUE)
				return tree_store(*work, &back, a->text, a->len, why, n);
			/* it does not fit back: take it out again (the same
			 * bytes, so the same node ids as r's) */
			if ((rc = toml_splice(*work, t->at, t->at + t->len, "", 0, &err)) < 0)
				return rc;
		}
	}
	return tree_store(*work, &r, a->text, a->len, why, n);
}

struct first_error {
	char msg[300];
	int errors;
};

static void first_error(void *arg, int severity, int line, const char *path, const char *msg)
{
	struct first_error *fe = arg;
	if (severity < 2)
		return;
	if (!fe->errors++)
		snprintf(fe->msg, sizeof(fe->msg), "line %d: %s: %s", line, path, msg);
}

static int replace_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct store_arg *a = arg;
	toml_doc *d;
	toml_error err;
	(void)fs;
	int rc = toml_parse(a->text, a->len, &d, &err);
	if (rc < 0) {
		snprintf(why, n, "the new text is not valid TOML: line %d, column %d: %s", err.line, err.col,
			 err.msg);
		return rc;
	}
	struct first_error fe = {"", 0};
	schema_check_doc(d, first_error, &fe);
	if (fe.errors > 0) {
		toml_free(d);
		snprintf(why, n, "the new text breaks %d rule%s of GitLab Runner's config; the first: %s",
			 fe.errors, fe.errors == 1 ? "" : "s", fe.msg);
		return -EINVAL;
	}
	toml_free(*work);
	*work = d;
	return 0;
}

/* The runner a path is under ("runners/NAME/..."): its position, its
 * directory's path and the encoded `name` it has now ("" for none). */
struct runner_at {
	long idx;
	char dir[PATH_MAX];
	char name[PATH_MAX];
};

static void runner_at(struct rfs *fs, const char *p, struct runner_at *ra)
{
	ra->idx = -1;
	ra->dir[0] = ra->name[0] = '\0';
	if (strncmp(p, "runners/", 8))
		return;
	const char *s = strchr(p + 8, '/');
	size_t len = s ? (size_t)(s - p) : strlen(p);
	char top[PATH_MAX];
	struct tree_ref r;
	if (len >= sizeof(top))
		return;
	memcpy(top, p, len);
	top[len] = '\0';
	if (tree_resolve(fs, top, &r) < 0 || r.kind != TK_TABLE || !r.runner_entry)
		return;
	ra->idx = r.index;
	snprintf(ra->dir, sizeof(ra->dir), "%s", r.canon);
	uint32_t nm = toml_get(fs->doc, r.node, "name", 4);
	char *v;
	size_t vlen;
	struct buf b = BUF_INIT;
	if (nm != TOML_NONE && toml_type_of(fs->doc, nm) == TOML_STRING &&
	    toml_get_string(fs->doc, nm, &v, &vlen) == 0) {
		if (tree_encode_name(v, vlen, &b) == 0 && b.p)
			snprintf(ra->name, sizeof(ra->name), "%s", b.p);
		free(v);
	}
	buf_free(&b);
}

/* Before `name` of a runner becomes text: no other runner may have the
 * directory name it gives (mv refuses the same, contract 2.2) — except in
 * a runner mkdir just made, where it is cp -r copying the other runner
 * (fresh.h): 1, with that runner's path in copy_of. */
static int runner_name_free(struct rfs *fs, const char *p, const struct runner_at *ra,
			    const char *text, size_t len, char *copy_of, size_t cn)
{
	if (ra->idx < 0 || strlen(p) != strlen(ra->dir) + 5 || strcmp(p + strlen(ra->dir), "/name") ||
	    strncmp(p, ra->dir, strlen(ra->dir)))
		return 0;
	if (len && text[len - 1] == '\n')
		len--;
	struct buf b = BUF_INIT;
	char **names;
	size_t n;
	int rc = 0;
	if (memchr(text, '\0', len) || tree_encode_name(text, len, &b) < 0 || !b.p ||
	    !strcmp(b.p, ra->name) || tree_runner_names(fs, &names, &n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((long)i != ra->idx && !strcmp(names[i], b.p)) {
			if (fresh_is(fs, ra->dir, caller())) {
				snprintf(copy_of, cn, "runners/%s", names[i]);
				rc = 1;
				break;
			}
			rc = rfs_error(fs, -EEXIST, p, "another runner is named \"%s\"; runner names are directory names and must differ", b.p);
			break;
		}
out:
	buf_free(&b);
	return rc;
}

/* After a change under a runner: if its `name` now gives another
 * directory name, the directory takes it; the old name keeps answering
 * for what is still open there (a shell's cwd). A removed `name` changes
 * nothing (names.h). */
static void follow_runner(struct rfs *fs, const struct runner_at *before)
{
	struct runner_at now;
	if (before->idx < 0)
		return;
	runner_at(fs, before->dir, &now);
	if (now.idx != before->idx || !now.name[0] || !strcmp(now.name, before->name) ||
	    !strcmp(now.name, before->dir + 8))
		return;
	char to[PATH_MAX + 16];
	snprintf(to, sizeof(to), "runners/%s", now.name);
	names_renamed(fs, "runners", (size_t)now.idx, now.name);
	keep_identity(fs, before->dir, to);
	rfs_map_set(&fs->aliases, before->dir, NULL, now.name);
	touch(fs, "runners");
}

/* Old names of the runner at dir (renamed by its `name`) lead nowhere. */
static void forget_aliases(struct rfs *fs, const char *dir)
{
	const char *name = dir + 8;
	for (size_t i = fs->aliases.n; i-- > 0;)
		if (fs->aliases.v[i].val && !strcmp(fs->aliases.v[i].val, name))
			rfs_map_del(&fs->aliases, fs->aliases.v[i].key);
	rfs_map_del_prefix(&fs->aliases, dir);
}

/* An entry was removed: the names of the others stay (names.h); names
 * that led to it lead nowhere now. */
static void forget_entry(struct rfs *fs, const struct tree_ref *r)
{
	char dir[PATH_MAX];
	parent_of(r->canon, dir, sizeof(dir));
	if (r->runner_entry)
		forget_aliases(fs, r->canon);
	names_removed(fs, dir, (size_t)r->index);
	fresh_forget(fs, r->canon);
}

/* A table that vanished with its last key (a dotted table) stays as an
 * empty directory, so that rm -r can still remove it — and so do the
 * dotted tables above it that vanished with it (a.b.c = 1). */
static void keep_dir(struct rfs *fs, const char *dir)
{
	char d[PATH_MAX];
	struct tree_ref r;
	snprintf(d, sizeof(d), "%s", dir);
	while (d[0]) {
		int rc = tree_resolve(fs, d, &r);
		if (rc == 0 && r.kind != TK_MISSING)
			break;
		rfs_map_set(&fs->emptydirs, d, NULL, NULL);
		char up[PATH_MAX];
		parent_of(d, up, sizeof(up));
		memcpy(d, up, strlen(up) + 1);
	}
}

static int restore_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct rfs_tomb *t = arg;
	toml_error err;
	(void)fs;
	int rc = toml_splice(*work, t->at, t->at, t->text, t->len, &err);
	if (rc < 0)
		snprintf(why, n, "could not put the old value back: %s", err.msg);
	return rc;
}

static int commit_text(struct rfs *fs, const char *p, enum tree_kind kind, const char *text,
		       size_t len)
{
	struct store_arg a = {p, text, len};
	struct runner_at ra;
	char copy_of[PATH_MAX], own[PATH_MAX];
	runner_at(fs, p, &ra);
	int rn = kind == TK_CONFIG ? 0 : runner_name_free(fs, p, &ra, text, len, copy_of, sizeof(copy_of));
	if (rn < 0)
		return rn;
	size_t olen;
	if (rn == 1 && tree_decode_name(ra.dir + 8, own, sizeof(own) - 1, &olen) == 0) {
		/* cp -r A NEW: NEW stays NEW, a copy of A */
		own[olen++] = '\n';
		a.text = own;
		a.len = olen;
		rfs_log(RFS_LOG_INFO, "%s: a copy of %s keeps its directory's name", ra.dir, copy_of);
	}
	bool was_missing = false;
	struct tree_ref r;
	if (kind != TK_CONFIG && resolve(fs, p, &r) == 0)
		was_missing = r.kind == TK_MISSING;
	int rc = txn_run(fs, p, kind == TK_CONFIG ? replace_fn : store_fn, &a);
	if (rc < 0) {
		/* a save that removed the key and then failed (install of a bad
		 * value): the key comes back as it was, nothing is lost */
		struct rfs_tomb *t = kind == TK_CONFIG ? NULL : find_tomb(fs, p);
		if (t && txn_run(fs, p, restore_fn, t) == 0) {
			drop_tomb(fs, (int)(t - fs->tombs));
			touch(fs, p);
		}
		return rc;
	}
	/* a revived key has been written: its removal is over */
	for (int i = fs->ntombs; i-- > 0;)
		if (!strcmp(fs->tombs[i].path, p))
			drop_tomb(fs, i);
	touch(fs, p);
	if (was_missing) {
		char dir[PATH_MAX];
		parent_of(p, dir, sizeof(dir));
		touch(fs, dir);
	}
	follow_runner(fs, &ra);
	return 0;
}

static int commit_handle(struct rfs *fs, struct handle *h)
{
	if (h->failed)
		return -EINVAL;
	if (!h->dirty)
		return 0;
	int rc = 0;
	if (h->kind == TK_CTLFILE) {
		if (h->ctl == CTL_RELOAD) {
			rfs_log(RFS_LOG_INFO, "reload requested through .runnerfs/reload");
			reload_now(&fs->reload);
		}
	} else {
		fs->committing_pid = h->pid;
		rc = commit_text(fs, h->path, h->kind, h->buf.p ? h->buf.p : "", h->buf.len);
		fs->committing_pid = 0;
	}
	if (rc == 0 && h->has_mtime) {
		/* cp -p, mv, rsync -a set the time before they close */
		rfs_map_set(&fs->mtimes, h->path, &h->mtime, NULL);
		h->has_mtime = false;
	}
	if (rc == 0) {
		h->dirty = h->wrote = h->truncated = false;
		if (h->created) {
			rfs_map_del(&fs->pending, h->path);
			h->created = false;
		}
	} else {
		/* a rejected change is not retried by the next flush */
		h->failed = true;
	}
	return rc;
}

/* ---- files ---- */

/* Grow with zeros or cut. */
static int buf_resize(struct buf *b, size_t n)
{
	if (n <= b->len) {
		b->len = n;
		if (b->p)
			b->p[n] = '\0';
		return 0;
	}
	int rc = buf_reserve(b, n - b->len);
	if (rc < 0)
		return rc;
	memset(b->p + b->len, 0, n - b->len);
	b->len = n;
	b->p[n] = '\0';
	return 0;
}

static struct handle *scratch_handle(struct scratch *sc, const char *p, int flags)
{
	struct handle *h = calloc(1, sizeof(*h));
	if (!h || !(h->path = strdup(p))) {
		free(h);
		return NULL;
	}
	h->sd = scratch_data_ref(sc->data);
	h->writable = (flags & O_ACCMODE) != O_RDONLY;
	h->append = flags & O_APPEND;
	if (flags & O_TRUNC) {
		buf_resize(&h->sd->content, 0);
		clock_gettime(CLOCK_REALTIME, &h->sd->mtime);
	}
	return h;
}

static int new_handle(struct rfs *fs, const char *p, const struct tree_ref *r, int flags,
		      struct handle **out)
{
	struct handle *h = calloc(1, sizeof(*h));
	if (!h || !(h->path = strdup(p))) {
		free(h);
		return -ENOMEM;
	}
	h->kind = r->kind;
	h->pid = fuse_get_context()->pid;
	h->ctl = r->index;
	h->writable = (flags & O_ACCMODE) != O_RDONLY;
	h->append = flags & O_APPEND;
	int rc = 0;
	if (flags & O_TRUNC) {
		h->truncated = h->dirty = true;
	} else if (r->kind == TK_CTLFILE || r->kind == TK_HISTFILE) {
		rc = control_render(fs, r, &h->buf);
	} else if (r->kind != TK_MISSING) {
		rc = tree_render(fs->doc, r, &h->buf);
	}
	if (rc < 0) {
		buf_free(&h->buf);
		free(h->path);
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

/* A change is about to start: say now if CONFIG cannot take one (shells
 * ignore the error close() would give). */
static int disk_usable(struct rfs *fs, const char *p)
{
	if (fs->disk_state >= 0)
		return 0;
	return rfs_error(fs, -EIO, p, "config.toml on disk cannot be used (%s); nothing can be changed",
			 fs->disk_error);
}

static int check_open(struct rfs *fs, const char *p, const struct tree_ref *r, int flags)
{
	bool w = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	if (w && (r->kind == TK_VALUE || r->kind == TK_CONFIG || r->kind == TK_REGFILE) &&
	    disk_usable(fs, p) < 0)
		return -EIO;
	switch (r->kind) {
	case TK_VALUE:
	case TK_CONFIG:
	case TK_REGFILE:
		return w && fs->opt.ro ? -EROFS : 0;
	case TK_CTLFILE:
		return w && r->index != CTL_RELOAD ? -EACCES : 0;
	case TK_HISTFILE:
		return w ? -EACCES : 0;
	case TK_MISSING:
		return -ENOENT;
	default:
		return -EISDIR;
	}
}

/* An open that can never have anything to commit at close: flush would
 * do nothing (no write, no truncation), so the kernel need not send it. */
static bool read_only(int flags)
{
	return (flags & O_ACCMODE) == O_RDONLY && !(flags & O_TRUNC);
}

static int rfs_open(const char *path, struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	const char *p = rel(path);
	lock_fs(fs);
	struct scratch *sc = scratch_get(&fs->scratch, p);
	if (sc) {
		struct handle *sh = sc->type == SC_FILE ? scratch_handle(sc, p, fi->flags) : NULL;
		if (sh)
			track(fs, sh);
		pthread_mutex_unlock(&fs->lock);
		if (!sh)
			return sc->type == SC_FILE ? -ENOMEM : sc->type == SC_DIR ? -EISDIR : -ELOOP;
		fi->fh = (uintptr_t)sh;
		fi->direct_io = 1; /* written by other opens without a commit */
		fi->noflush = read_only(fi->flags);
		return 0;
	}
	struct tree_ref r;
	struct handle *h = NULL;
	int rc = resolve(fs, p, &r);
	/* a key being created by another open, or one whose creation failed
	 * while the kernel still remembers the name: writing makes it */
	bool making = rc == 0 && r.kind == TK_MISSING &&
		      (rfs_map_get(&fs->pending, p) ||
		       (key_name(&r) && (fi->flags & O_ACCMODE) != O_RDONLY && !fs->opt.ro));
	if (rc == 0 && !making)
		rc = check_open(fs, p, &r, fi->flags);
	if (rc == 0)
		rc = new_handle(fs, p, &r, fi->flags, &h);
	if (rc == 0 && making) {
		struct timespec one = {1, 0};
		struct rfs_map_entry *e = rfs_map_get(&fs->pending, p);
		h->created = true;
		if (e)
			e->ts.tv_sec++;
		else
			rfs_map_set(&fs->pending, p, &one, NULL);
	}
	if (rc == 0)
		track(fs, h);
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0)
		return rc;
	fi->fh = (uintptr_t)h;
	/* Always direct, never the page cache: a read-only open reads the
	 * snapshot its handle took, and the size the kernel keeps for the
	 * inode is not that snapshot's while another open writes the file
	 * (O_TRUNC and writes set it locally; a GETATTR that crosses a write
	 * is dropped), so page-cache reads came back empty or cut under
	 * concurrent writers (test_many_writers). See docs/performance.md. */
	fi->direct_io = 1;
	fi->noflush = read_only(fi->flags);
	return 0;
}

/* Is r a name that a key of its table may have (one the schema knows,
 * or any name in an open map such as feature_flags)? */
static bool key_name(const struct tree_ref *r)
{
	if (r->kind == TK_MISSING && r->reg)
		return r->klen && registry_field_name(r->key);
	return r->kind == TK_MISSING && !r->entry && r->parent != TOML_NONE && r->sk &&
	       (r->sk->kind == SK_VALUE || r->sk->kind == SK_MAP);
}

/* A scratch file was made; a name close to a key is most likely a typo,
 * and the person should hear that it will not reach config.toml. */
static void note_scratch(struct rfs *fs, const char *p, const struct tree_ref *r, bool in_dir)
{
	(void)fs;
	const char *hint = !in_dir && r->pst ? schema_suggest(r->pst, r->key, r->klen) : NULL;
	if (hint && r->key[0] != '.' && !strchr(r->key, '~'))
		rfs_log(RFS_LOG_INFO, "%s: not a key here (did you mean \"%s\"?); kept in memory only", p, hint);
	else
		rfs_log(RFS_LOG_DEBUG, "%s: scratch file, kept in memory only", p);
}

/* May a new file named by r be made? Only a key the schema knows for its
 * table (or any key of an open map such as feature_flags). */
/* What a missing r is in the source of the copy it is in (fresh.h):
 * true with its ref in *sr. */
static bool in_copy_source(struct rfs *fs, const struct tree_ref *r, struct tree_ref *sr)
{
	const char *rest;
	const char *src = r->kind == TK_MISSING && !r->reg && !r->entry ? fresh_source(fs, r->canon, &rest, caller())
									: NULL;
	char sp[PATH_MAX];
	return src && snprintf(sp, sizeof(sp), "%s%s", src, rest) < (int)sizeof(sp) &&
	       tree_resolve(fs, sp, sr) == 0 && sr->kind != TK_MISSING;
}

static bool copied_key(struct rfs *fs, const struct tree_ref *r)
{
	struct tree_ref sr;
	return in_copy_source(fs, r, &sr) && sr.kind == TK_VALUE;
}

static int creatable(struct rfs *fs, const char *p, const struct tree_ref *r)
{
	struct tree_ref sr;
	if (in_copy_source(fs, r, &sr) && sr.kind == TK_VALUE)
		return 0; /* a key the copied runner has, known or not */
	if (r->kind == TK_MISSING && r->reg && r->klen)
		return registry_field_name(r->key)
			       ? 0
			       : rfs_error(fs, -EINVAL, p, "a registry holds username, password and auth");
	if (r->kind != TK_MISSING || r->entry || r->parent == TOML_NONE)
		return -EACCES;
	if (r->sk && (r->sk->kind == SK_VALUE || r->sk->kind == SK_MAP))
		return 0;
	if (r->sk)
		return rfs_error(fs, -EISDIR, p, "%s is a table; make it with mkdir", r->key);
	const char *hint = r->pst ? schema_suggest(r->pst, r->key, r->klen) : NULL;
	if (hint)
		return rfs_error(fs, -EINVAL, p, "no key \"%s\" here; did you mean \"%s\"?", r->key, hint);
	return rfs_error(fs, -EINVAL, p, "no key \"%s\" is known here", r->key);
}

static int rfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	const char *p = rel(path);
	lock_fs(fs);
	struct tree_ref r;
	struct handle *h = NULL;
	int rc = resolve(fs, p, &r);
	bool in_scratch_dir = rc == -ENOENT && scratch_parent(fs, p);
	if ((rc == 0 || in_scratch_dir) && fs->opt.ro) {
		rc = -EROFS;
	} else if (in_scratch_dir || (rc == 0 && r.kind == TK_MISSING && !key_name(&r) && !copied_key(fs, &r))) {
		/* not a key: an editor's or a tool's own file, kept in memory */
		struct scratch *sc;
		rc = scratch_add(&fs->scratch, p, SC_FILE, mode, &sc);
		if (rc == 0 && !(h = scratch_handle(sc, p, fi->flags)))
			rc = -ENOMEM;
		if (rc == 0) {
			note_scratch(fs, p, &r, in_scratch_dir);
			track(fs, h);
		}
		pthread_mutex_unlock(&fs->lock);
		if (rc < 0)
			return rc;
		fi->fh = (uintptr_t)h;
		fi->direct_io = 1;
		return 0;
	} else if (rc == 0 && r.kind != TK_MISSING) {
		rc = check_open(fs, p, &r, fi->flags | O_TRUNC);
		if (rc == 0)
			fresh_show(fs, r.canon, caller()); /* made: shown from now on */
	} else if (rc == 0) {
		rc = creatable(fs, p, &r);
		if (rc == 0)
			rc = disk_usable(fs, p);
	}
	if (rc == 0)
		rc = new_handle(fs, p, &r, fi->flags | O_TRUNC, &h);
	if (rc == 0)
		fresh_show(fs, r.canon, caller());
	if (rc == 0 && r.kind == TK_MISSING) {
		struct timespec one = {1, 0};
		struct rfs_map_entry *e = rfs_map_get(&fs->pending, p);
		if (e)
			e->ts.tv_sec++;
		else
			rfs_map_set(&fs->pending, p, &one, NULL);
		h->created = true;
	}
	if (rc == 0)
		track(fs, h);
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0)
		return rc;
	fi->fh = (uintptr_t)h;
	fi->direct_io = 1;
	return 0;
}

static int rfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = hof(fi);
	(void)path;
	if (!h)
		return -EBADF;
	struct rfs *fs = ctx();
	pthread_mutex_lock(&fs->lock);
	const struct buf *b = h->sd ? &h->sd->content : &h->buf;
	size_t n = 0;
	if ((size_t)off < b->len) {
		n = b->len - (size_t)off;
		if (n > size)
			n = size;
		memcpy(buf, b->p + off, n);
	}
	pthread_mutex_unlock(&fs->lock);
	return (int)n;
}

static int rfs_write(const char *path, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	struct handle *h = hof(fi);
	(void)path;
	if (!h || !h->writable)
		return -EBADF;
	pthread_mutex_lock(&fs->lock);
	int rc = 0;
	if (h->sd) {
		struct buf *b = &h->sd->content;
		if (h->append)
			off = (off_t)b->len;
		if ((size_t)off + size > b->len)
			rc = buf_resize(b, (size_t)off + size);
		if (rc == 0)
			memcpy(b->p + off, data, size);
		clock_gettime(CLOCK_REALTIME, &h->sd->mtime);
		pthread_mutex_unlock(&fs->lock);
		return rc < 0 ? rc : (int)size;
	}
	if (h->append)
		off = (off_t)h->buf.len;
	/* A whole invalid number in one write fails now: shells and scripts
	 * ignore errors from close(). */
	if (!h->wrote && off == 0 && h->buf.len == 0 && h->kind != TK_CONFIG && h->kind != TK_CTLFILE) {
		struct tree_ref r;
		char why[300];
		if (resolve(fs, h->path, &r) == 0 && tree_precheck(fs->doc, &r, data, size, why, sizeof(why)) < 0) {
			h->failed = true;
			rc = rfs_error(fs, -EINVAL, h->path, "%s", why);
		}
		/* a runner's name another runner has: echo must fail, not close */
		struct runner_at ra;
		char copy_of[PATH_MAX];
		if (rc == 0 && size && data[size - 1] == '\n') {
			runner_at(fs, h->path, &ra);
			if ((rc = runner_name_free(fs, h->path, &ra, data, size, copy_of, sizeof(copy_of))) < 0)
				h->failed = true;
			else
				rc = 0;
		}
	}
	if (rc == 0) {
		size_t end = (size_t)off + size;
		if (end > h->buf.len) {
			rc = buf_reserve(&h->buf, end - h->buf.len);
			if (rc == 0) {
				memset(h->buf.p + h->buf.len, 0, end - h->buf.len);
				h->buf.len = end;
				h->buf.p[end] = '\0';
			}
		}
		if (rc == 0) {
			memcpy(h->buf.p + off, data, size);
			h->wrote = h->dirty = true;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return rc < 0 ? rc : (int)size;
}

static int rfs_flush(const char *path, struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	struct handle *h = hof(fi);
	(void)path;
	if (!h)
		return 0;
	lock_fs(fs);
	int rc = 0;
	if (h->failed)
		rc = -EINVAL;
	else if (h->dirty && h->wrote)
		rc = commit_handle(fs, h);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int rfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	struct handle *h = hof(fi);
	(void)path;
	(void)datasync;
	if (!h)
		return 0;
	lock_fs(fs);
	int rc = commit_handle(fs, h);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int rfs_release(const char *path, struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	struct handle *h = hof(fi);
	(void)path;
	if (!h)
		return 0;
	lock_fs(fs);
	/* `: > key`: truncated, never written; it happens now */
	if (h->dirty && !h->failed)
		commit_handle(fs, h);
	if (h->created) {
		struct rfs_map_entry *e = rfs_map_get(&fs->pending, h->path);
		if (e && --e->ts.tv_sec <= 0)
			rfs_map_del(&fs->pending, h->path);
	}
	untrack(fs, h);
	pthread_mutex_unlock(&fs->lock);
	free_handle(h);
	return 0;
}

static int rfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	struct handle *h = hof(fi);
	const char *p = rel(path);
	if (size < 0)
		return -EINVAL;
	lock_fs(fs);
	int rc = 0;
	struct scratch *sc = h ? NULL : scratch_get(&fs->scratch, p);
	if ((h && h->sd) || sc) {
		struct scratch_data *d = h ? h->sd : sc->data;
		rc = sc && sc->type != SC_FILE ? -EISDIR : buf_resize(&d->content, (size_t)size);
		clock_gettime(CLOCK_REALTIME, &d->mtime);
	} else if (h) {
		/* ftruncate: part of an edit in progress (vim, rsync --inplace) */
		if (!h->writable) {
			rc = -EBADF;
		} else if ((size_t)size <= h->buf.len) {
			h->buf.len = (size_t)size;
			if (h->buf.p)
				h->buf.p[size] = '\0';
		} else if ((rc = buf_reserve(&h->buf, (size_t)size - h->buf.len)) == 0) {
			memset(h->buf.p + h->buf.len, 0, (size_t)size - h->buf.len);
			h->buf.len = (size_t)size;
			h->buf.p[size] = '\0';
		}
		if (rc == 0) {
			h->dirty = true;
			h->truncated |= size == 0;
		}
	} else {
		/* truncate(1): a change of its own */
		struct tree_ref r;
		struct handle *t = NULL;
		rc = resolve(fs, p, &r);
		if (rc == 0)
			rc = check_open(fs, p, &r, O_WRONLY);
		if (rc == 0 && r.kind == TK_CTLFILE)
			rc = 0;
		else if (rc == 0 && (rc = new_handle(fs, p, &r, O_RDWR, &t)) == 0) {
			if ((size_t)size <= t->buf.len)
				t->buf.len = (size_t)size;
			else if ((rc = buf_reserve(&t->buf, (size_t)size - t->buf.len)) == 0) {
				memset(t->buf.p + t->buf.len, 0, (size_t)size - t->buf.len);
				t->buf.len = (size_t)size;
			}
			t->dirty = t->wrote = true;
			if (rc == 0)
				rc = commit_handle(fs, t);
			buf_free(&t->buf);
			free(t->path);
			free(t);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* ---- registries ---- */

struct reg_arg {
	const char *path;
	int op; /* 'a'dd, 'r'emove, 'u'nset, 'm'ove */
	const char *to;
};

static int reg_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct reg_arg *a = arg;
	struct tree_ref r, t;
	int rc = resolve(fs, a->path, &r);
	if (rc < 0)
		return rc;
	switch (a->op) {
	case 'a':
		return registry_add(*work, r.runner, r.host, why, n);
	case 'r':
		return registry_remove(*work, r.runner, r.host, why, n);
	case 'u':
		return registry_unset(*work, r.runner, r.host, r.key, why, n);
	default:
		if ((rc = tree_resolve(fs, a->to, &t)) < 0)
			return rc;
		return registry_rename(*work, r.runner, r.host, t.host, why, n);
	}
}

static int reg_change(struct rfs *fs, const char *p, int op, const char *to)
{
	struct reg_arg a = {p, op, to};
	int rc = fs->opt.ro ? -EROFS : txn_run(fs, p, reg_fn, &a);
	if (rc == 0) {
		char dir[PATH_MAX];
		parent_of(p, dir, sizeof(dir));
		touch(fs, dir);
		touch(fs, p);
	}
	return rc;
}

/* ---- removing ---- */

struct remove_arg {
	const char *path;
	size_t at, len;
	char *text; /* the lines a key took, for revival */
};

static int remove_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct remove_arg *a = arg;
	struct tree_ref r;
	toml_error err = {0};
	size_t start, end;
	int rc = resolve(fs, a->path, &r);
	if (rc < 0)
		return rc;
	if (r.node == TOML_NONE || r.node == TOML_ROOT)
		return -ENOENT;
	if (r.kind == TK_VALUE && toml_line_span(*work, r.node, &start, &end) == 0) {
		free(a->text);
		a->text = malloc(end - start + 1);
		if (a->text) {
			memcpy(a->text, toml_text(*work, NULL) + start, end - start);
			a->at = start;
			a->len = end - start;
		}
	}
	rc = toml_remove(*work, r.node, &err);
	if (rc == 0 && r.entry) {
		/* the last entry of an inline array: `services = []` is no
		 * array of tables any more, and nothing the tool removing it
		 * expects to find; it goes too (an empty directory stays) */
		char arr[PATH_MAX];
		struct tree_ref ar;
		parent_of(a->path, arr, sizeof(arr));
		if (tree_resolve_in(fs, *work, arr, &ar) == 0 && ar.kind == TK_VALUE &&
		    toml_type_of(*work, ar.node) == TOML_ARRAY && toml_count(*work, ar.node) == 0)
			rc = toml_remove(*work, ar.node, &err);
	}
	if (rc < 0)
		snprintf(why, n, "%s", err.msg[0] ? err.msg : strerror(-rc));
	return rc;
}

/* Remove the key at p, keeping what it took for a revival. */
static int remove_key(struct rfs *fs, const char *p)
{
	struct remove_arg a = {.path = p};
	int rc = txn_run(fs, p, remove_fn, &a);
	if (rc == 0) {
		char dir[PATH_MAX];
		parent_of(p, dir, sizeof(dir));
		touch(fs, dir);
		rfs_map_del(&fs->mtimes, p);
		keep_dir(fs, dir);
		if (a.text) {
			push_tomb(fs, p, a.at, a.text, a.len);
			a.text = NULL;
		}
	}
	free(a.text);
	return rc;
}

static int rfs_unlink(const char *path)
{
	struct rfs *fs = ctx();
	const char *p = rel(path);
	lock_fs(fs);
	struct tree_ref r;
	struct scratch *sc = scratch_get(&fs->scratch, p);
	if (sc) {
		int rs = sc->type == SC_DIR ? -EISDIR : scratch_remove(&fs->scratch, p);
		pthread_mutex_unlock(&fs->lock);
		return rs;
	}
	int rc = resolve(fs, p, &r);
	if (rc == 0) {
		switch (r.kind) {
		case TK_VALUE:
			rc = fs->opt.ro ? -EROFS : remove_key(fs, p);
			break;
		case TK_REGFILE:
			rc = reg_change(fs, p, 'u', NULL);
			break;
		case TK_MISSING:
			rc = -ENOENT;
			break;
		case TK_CONFIG:
		case TK_CTLFILE:
		case TK_HISTFILE:
			rc = -EPERM;
			break;
		default:
			rc = -EISDIR;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* Is all that is left in the table at r what mkdir wrote there a moment
 * ago and nobody has seen (fresh.h)? Then rm -r of it may remove it. */
static bool only_hidden_left(struct rfs *fs, const struct tree_ref *r)
{
	if (!fresh_is(fs, r->canon, caller()))
		return false;
	struct buf b = BUF_INIT;
	bool all = true;
	for (uint32_t c = toml_first(fs->doc, r->node); c != TOML_NONE && all; c = toml_next(fs->doc, c)) {
		size_t klen;
		const char *k = toml_key(fs->doc, c, &klen);
		buf_reset(&b);
		all = buf_adds(&b, r->canon) == 0 && buf_addc(&b, '/') == 0 &&
		      tree_encode_name(k, klen, &b) == 0 && fresh_hidden(fs, b.p, caller());
	}
	buf_free(&b);
	return all;
}

static int rfs_rmdir(const char *path)
{
	struct rfs *fs = ctx();
	const char *p = rel(path);
	lock_fs(fs);
	struct tree_ref r;
	struct scratch *sc = scratch_get(&fs->scratch, p);
	if (sc) {
		int rs = sc->type != SC_DIR ? -ENOTDIR
			 : scratch_has_children(&fs->scratch, p) ? -ENOTEMPTY
								 : scratch_remove(&fs->scratch, p);
		pthread_mutex_unlock(&fs->lock);
		return rs;
	}
	int rc = resolve(fs, p, &r);
	if (rc == 0 && fs->opt.ro)
		rc = -EROFS;
	else if (rc == 0 && (r.kind == TK_TABLE || r.kind == TK_ENTRIES) &&
		 scratch_has_children(&fs->scratch, p))
		rc = -ENOTEMPTY; /* an editor's file is still in there */
	else if (rc == 0) {
		switch (r.kind) {
		case TK_EMPTYDIR:
			if (rfs_map_get(&fs->emptydirs, p))
				rfs_map_del(&fs->emptydirs, p);
			else
				rc = -EBUSY; /* runners/ is always there */
			break;
		case TK_TABLE:
		case TK_ENTRIES:
			if (toml_count(fs->doc, r.node) > 0 && !only_hidden_left(fs, &r)) {
				rc = -ENOTEMPTY;
				break;
			}
			struct remove_arg ra = {.path = p};
			rc = txn_run(fs, p, remove_fn, &ra);
			free(ra.text);
			if (rc == 0) {
				char dir[PATH_MAX];
				parent_of(p, dir, sizeof(dir));
				touch(fs, dir);
				rfs_map_del_prefix(&fs->mtimes, p);
				scratch_remove_under(&fs->scratch, p);
				if (r.entry)
					forget_entry(fs, &r);
				keep_dir(fs, dir);
			}
			break;
		case TK_REG: {
			struct buf f = BUF_INIT;
			rc = registry_fields(fs->doc, r.runner, r.host, &f);
			rc = rc < 0 ? rc : f.len && !fresh_is(fs, r.canon, caller()) ? -ENOTEMPTY : reg_change(fs, p, 'r', NULL);
			buf_free(&f);
			break;
		}
		case TK_REGDIR: {
			/* always there, like runners/; rm -r of a runner removes
			 * it after its registries, so an empty one just goes */
			struct buf hosts = BUF_INIT;
			size_t n = 0;
			registry_hosts(fs->doc, r.runner, &hosts, &n);
			buf_free(&hosts);
			rc = n ? -ENOTEMPTY : 0;
			break;
		}
		case TK_ROOT:
		case TK_CTLDIR:
		case TK_HISTDIR:
			rc = -EBUSY;
			break;
		case TK_MISSING:
			rc = -ENOENT;
			break;
		default:
			rc = -ENOTDIR;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* ---- making directories ---- */

struct mkdir_arg {
	struct tree_ref r;
	const char *path;
	struct tree_ref src; /* in a copy: the source's table (fresh.h) */
	bool copied;         /* its inline text was copied whole */
};

static int mkdir_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct mkdir_arg *a = arg;
	struct tree_ref *r = &a->r;
	toml_error err = {0};
	int rc;
	(void)fs;
	if (r->entry) {
		/* the registries a new runner inherits are those of the runners
		 * before it: *work is about to change, so look at a copy (only
		 * when there are some: a copy of 1000 runners is 8 MB) */
		toml_doc *before = NULL;
		struct buf hosts = BUF_INIT;
		size_t common = 0;
		if (r->runners && registry_hosts(*work, TOML_NONE, &hosts, &common) == 0 && common > 0)
			rc = toml_clone(*work, &before);
		else
			rc = 0;
		buf_free(&hosts);
		if (rc < 0)
			return rc;
		rc = toml_append_entry(*work, r->holder, r->akey, r->aklen, &err);
		if (rc == 0 && r->runners) {
			/* a new runner is named by its directory */
			uint32_t arr = toml_get(*work, r->holder, r->akey, r->aklen);
			uint32_t e = toml_at(*work, arr, toml_count(*work, arr) - 1);
			toml_value v = {.type = TOML_STRING, .str = r->key, .len = r->klen};
			rc = toml_insert(*work, e, "name", 4, &v, &err);
			/* it starts with the registries every runner has */
			if (rc == 0 && before) {
				arr = toml_get(*work, r->holder, r->akey, r->aklen);
				e = toml_at(*work, arr, toml_count(*work, arr) - 1);
				rc = registry_inherit(*work, e, before, why, n);
				if (rc < 0) {
					toml_free(before);
					return rc;
				}
			}
		}
		toml_free(before);
	} else {
		size_t rl;
		const char *raw = a->src.kind == TK_TABLE && a->src.node != TOML_NONE
					  ? toml_raw(*work, a->src.node, &rl)
					  : NULL;
		char *copy = raw ? strndup(raw, rl) : NULL;
		if (copy) {
			rc = toml_insert_raw(*work, r->parent, r->key, r->klen, copy, rl, &err);
			a->copied = rc == 0;
			free(copy);
		} else {
			rc = toml_add_table(*work, r->parent, r->key, r->klen, &err);
		}
	}
	if (rc < 0)
		snprintf(why, n, "%s", err.msg[0] ? err.msg : strerror(-rc));
	return rc;
}

/* Is the registry at reg ("runners/X/registries/HOST") in a fresh runner? */
static bool in_fresh_runner(struct rfs *fs, const char *reg)
{
	char d[PATH_MAX], runner[PATH_MAX];
	parent_of(reg, d, sizeof(d));
	parent_of(d, runner, sizeof(runner));
	return !strncmp(runner, "runners/", 8) && fresh_is(fs, runner, caller());
}

static int rfs_mkdir(const char *path, mode_t mode)
{
	struct rfs *fs = ctx();
	const char *p = rel(path);
	lock_fs(fs);
	struct mkdir_arg a = {.path = p};
	struct tree_ref *r = &a.r;
	int rc = tree_resolve(fs, p, r);
	if (rc == 0 && r->runner_entry && strcmp(r->canon, p)) {
		/* the old name of a renamed runner: a new runner may take it */
		rfs_map_del(&fs->aliases, p);
		rc = tree_resolve(fs, p, r);
	}
	char dir[PATH_MAX];
	parent_of(p, dir, sizeof(dir));
	if (scratch_get(&fs->scratch, p)) {
		rc = -EEXIST;
	} else if (rc == 0 && !fs->opt.ro && in_copy_source(fs, r, &a.src) &&
		   (a.src.kind == TK_TABLE || a.src.kind == TK_EMPTYDIR)) {
		/* a table of the runner being copied, known or not; an inline
		 * one is copied whole and looks empty until cp fills it */
		rc = txn_run(fs, p, mkdir_fn, &a);
		if (rc == 0 && a.copied)
			fresh_made(fs, r->canon, caller(), "(copy)");
	} else if ((rc == -ENOENT && scratch_parent(fs, p)) ||
		   (rc == 0 && r->kind == TK_MISSING && !r->entry && !r->reg && !r->sk &&
		    r->parent != TOML_NONE)) {
		/* a tool's own directory (puppet's lock): kept in memory */
		bool in_dir = rc == -ENOENT;
		rc = fs->opt.ro ? -EROFS : scratch_add(&fs->scratch, p, SC_DIR, mode, NULL);
		if (rc == 0)
			note_scratch(fs, p, r, in_dir);
		pthread_mutex_unlock(&fs->lock);
		return rc;
	} else if (rc == -EINVAL)
		rc = rfs_error(fs, -EINVAL, p, "not a valid name: write / as %%2F, %% as %%25, # as %%23");
	else if (rc == 0 && fs->opt.ro)
		rc = -EROFS;
	else if (rc == 0 && r->kind != TK_MISSING && fresh_hidden(fs, r->canon, caller())) {
		/* made again by the tool filling a new directory (fresh.h) */
		fresh_show(fs, r->canon, caller());
		if (tree_is_dir(r))
			fresh_made(fs, r->canon, caller(), "(copy)"); /* and what is in it, in turn */
		rc = tree_is_dir(r) ? 0 : -EEXIST;
	} else if (rc == 0 && r->kind == TK_REG && in_fresh_runner(fs, r->canon)) {
		fresh_made(fs, r->canon, caller(), "(copy)"); /* it came with the copied environment */
	} else if (rc == 0 && r->kind != TK_MISSING)
		rc = rfs_error(fs, -EEXIST, p, "it already exists");
	else if (rc == 0 && r->reg && !r->klen) {
		rc = reg_change(fs, p, 'a', NULL);
		if (rc == 0)
			fresh_made(fs, r->canon, caller(), NULL);
	}
	else if (rc == 0 && r->reg)
		rc = rfs_error(fs, -ENOTDIR, p, "a registry holds username, password and auth");
	else if (rc == 0 && r->entry) {
		if (r->runners) {
			char **names;
			size_t n;
			if (r->klen == 0)
				rc = rfs_error(fs, -EINVAL, p, "a runner needs a name");
			else if ((rc = tree_runner_names(fs, &names, &n)) == 0)
				rc = txn_run(fs, p, mkdir_fn, &a);
		} else {
			char want[32];
			snprintf(want, sizeof(want), "%d", r->index);
			rc = strcmp(r->key, want)
				     ? rfs_error(fs, -EINVAL, p, "entries are named by position: the next one is %s", want)
				     : txn_run(fs, p, mkdir_fn, &a);
		}
		if (rc == 0) {
			rfs_map_del(&fs->emptydirs, dir);
			char cdir[PATH_MAX];
			parent_of(r->canon, cdir, sizeof(cdir));
			names_appended(fs, cdir, r->canon + strlen(cdir) + (cdir[0] ? 1 : 0));
			fresh_show(fs, r->canon, caller());
			if (r->runners)
				fresh_made(fs, r->canon, caller(), NULL);
		}
	} else if (rc == 0) {
		const struct schema_key *sk = r->sk;
		if (sk && sk->kind == SK_ENTRIES) {
			/* an array of tables cannot be empty in TOML: the
			 * directory waits in memory for its first entry */
			rc = rfs_map_set(&fs->emptydirs, p, NULL, NULL);
		} else if (sk && (sk->kind == SK_TABLE || sk->kind == SK_MAP)) {
			rc = txn_run(fs, p, mkdir_fn, &a);
		} else if (sk) {
			rc = rfs_error(fs, -ENOTDIR, p, "%s holds a value, not a table", r->key);
		} else {
			const char *hint = r->pst ? schema_suggest(r->pst, r->key, r->klen) : NULL;
			rc = hint ? rfs_error(fs, -EINVAL, p, "no table \"%s\" here; did you mean \"%s\"?", r->key, hint)
				  : rfs_error(fs, -EINVAL, p, "no table \"%s\" is known here", r->key);
		}
	}
	if (rc == 0) {
		touch(fs, dir);
		fresh_show(fs, r->canon, caller());
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* ---- renaming ---- */

struct rename_arg {
	const char *from, *to;
	struct tree_ref rf, rt;
};

static int rename_runner_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct rename_arg *a = arg;
	toml_error err = {0};
	toml_value v = {.type = TOML_STRING, .str = a->rt.key, .len = a->rt.klen};
	(void)fs;
	uint32_t nm = toml_get(*work, a->rf.node, "name", 4);
	int rc = nm != TOML_NONE ? toml_set(*work, nm, &v, &err)
				 : toml_insert(*work, a->rf.node, "name", 4, &v, &err);
	if (rc < 0)
		snprintf(why, n, "%s", err.msg[0] ? err.msg : strerror(-rc));
	return rc;
}

/* mv key other: the value moves, read and written as text so the target
 * checks it as its own type. */
static int move_value_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct rename_arg *a = arg;
	struct buf text = BUF_INIT;
	toml_error err = {0};
	/* the target keeps its place when it exists (key order stays);
	 * the source's line goes */
	int rc = tree_render(*work, &a->rf, &text);
	/* node ids change with every edit: find both again by path */
	struct tree_ref rf, rt;
	if (rc == 0)
		rc = tree_resolve_in(fs, *work, a->from, &rf);
	if (rc == 0)
		rc = toml_remove(*work, rf.node, &err);
	if (rc == 0)
		rc = tree_resolve_in(fs, *work, a->to, &rt);
	if (rc == 0) {
		rc = tree_store(*work, &rt, text.p ? text.p : "", text.len, why, n);
		/* the message describes the value: a secret's must not show */
		if (rc < 0 && tree_is_secret(&a->rf))
			snprintf(why, n, "the value of %s does not fit %s", a->rf.key, rt.key);
	}
	if (rc < 0 && !why[0])
		snprintf(why, n, "%s", err.msg[0] ? err.msg : strerror(-rc));
	buf_free(&text);
	return rc;
}

/* rename a key's file to a name that is not a key (emacs: key -> key~,
 * vim: key -> key~): its content becomes a scratch file there, and the key
 * goes, kept for revival when the editor writes the key again. */
static int key_to_scratch(struct rfs *fs, struct rename_arg *a)
{
	struct buf text = BUF_INIT;
	struct scratch *sc;
	int rc = tree_render(fs->doc, &a->rf, &text);
	if (rc == 0) {
		scratch_remove(&fs->scratch, a->to);
		rc = scratch_add(&fs->scratch, a->to, SC_FILE, tree_is_secret(&a->rf) ? 0600 : 0644, &sc);
	}
	if (rc == 0 && (rc = buf_add(&sc->data->content, text.p ? text.p : "", text.len)) == 0 &&
	    (rc = remove_key(fs, a->from)) < 0)
		scratch_remove(&fs->scratch, a->to);
	buf_free(&text);
	return rc;
}

/* rename a scratch file onto a key (sed -i, Ansible, rsync, perl -pi,
 * vim's and Python's atomic saves): its content is the key's new value,
 * one transaction; on failure the scratch file stays. */
static int scratch_to_key(struct rfs *fs, struct rename_arg *a, struct scratch *sc)
{
	if (sc->type != SC_FILE)
		return rfs_error(fs, -EISDIR, a->to, "a directory cannot become a key");
	struct scratch_data *d = scratch_data_ref(sc->data);
	int rc = commit_text(fs, a->to, a->rt.kind == TK_CONFIG ? TK_CONFIG : TK_VALUE,
			     d->content.p ? d->content.p : "", d->content.len);
	if (rc == 0) {
		rfs_map_set(&fs->mtimes, a->to, &d->mtime, NULL);
		scratch_remove(&fs->scratch, a->from);
	}
	scratch_data_unref(d);
	return rc;
}

/* A directory cannot go where rename() asks: say why, with an errno that
 * makes mv report it and delete nothing (EXDEV would make mv copy and
 * delete; EINVAL reads as "a subdirectory of itself"). */
static int refuse_dir_move(struct rfs *fs, const struct rename_arg *a, const char *tdir)
{
	struct tree_ref d;
	if (a->rf.runner_entry && tree_resolve(fs, tdir, &d) == 0 && d.runner_entry)
		return rfs_error(fs, -EPERM, a->to,
				 "%s is a runner: a runner does not go into another; "
				 "remove it first or pick a free name", tdir);
	if (a->rf.entry && !a->rf.runner_entry)
		return rfs_error(fs, -EPERM, a->from, "entries are named by position and cannot be renamed");
	if (a->rf.kind == TK_TABLE || a->rf.kind == TK_ENTRIES)
		return rfs_error(fs, -EPERM, a->from,
				 "%s is a table and keeps its name: %s is not a table there (copy it with cp -r instead)",
				 a->rf.key, a->to);
	return rfs_error(fs, -EPERM, a->from, "%s cannot be moved to %s", a->from, a->to);
}

static int rfs_rename(const char *from, const char *to, unsigned int flags)
{
	struct rfs *fs = ctx();
	struct rename_arg a = {.from = rel(from), .to = rel(to)};
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	lock_fs(fs);
	struct scratch *sf = scratch_get(&fs->scratch, a.from), *st = scratch_get(&fs->scratch, a.to);
	int rc = sf ? 0 : resolve(fs, a.from, &a.rf);
	int rt = tree_resolve(fs, a.to, &a.rt);
	bool to_scratch = st || (rt == -ENOENT && scratch_parent(fs, a.to)) ||
			  (rt == 0 && a.rt.kind == TK_MISSING && !key_name(&a.rt) && !a.rt.entry);
	if (rc == 0 && !to_scratch)
		rc = rt;
	/* rename(2)'s EINVAL makes mv say "a subdirectory of itself" */
	if (rc == -EINVAL)
		rc = rfs_error(fs, -EPERM, a.to, "not a valid name: write / as %%2F, %% as %%25, # as %%23");
	if (rc == 0 && fs->opt.ro)
		rc = -EROFS;
	bool to_exists = st || (rt == 0 && a.rt.kind != TK_MISSING);
	if (rc == 0 && (flags & RENAME_NOREPLACE) && to_exists)
		rc = -EEXIST;
	if (rc < 0)
		goto out;
	char fdir[PATH_MAX], tdir[PATH_MAX];
	parent_of(a.from, fdir, sizeof(fdir));
	parent_of(a.to, tdir, sizeof(tdir));

	if (!sf && a.rf.kind == TK_REG) {
		if (a.rt.kind == TK_REG && !strcmp(fdir, tdir))
			rc = rfs_error(fs, -EEXIST, a.to, "a registry of that name already exists");
		else if (a.rt.kind != TK_MISSING || !a.rt.reg || a.rt.klen || strcmp(fdir, tdir))
			rc = rfs_error(fs, -EPERM, a.to, "a registry can be renamed within its registries/ only");
		else
			rc = reg_change(fs, a.from, 'm', a.to);
	} else if (sf && to_scratch) {
		rc = scratch_rename(&fs->scratch, a.from, a.to);
	} else if (sf) {
		if (a.rt.kind == TK_VALUE || a.rt.kind == TK_CONFIG || a.rt.kind == TK_REGFILE || key_name(&a.rt))
			rc = scratch_to_key(fs, &a, sf);
		else
			rc = rfs_error(fs, -EISDIR, a.to, "only a key's file can be replaced this way");
	} else if (to_scratch) {
		if (a.rf.kind == TK_VALUE)
			rc = key_to_scratch(fs, &a);
		else
			rc = refuse_dir_move(fs, &a, tdir);
	} else if (a.rf.kind == TK_TABLE && a.rf.entry && !strncmp(a.from, "runners/", 8) &&
		   !strcmp(fdir, "runners") && !strcmp(tdir, "runners")) {
		if (a.rt.kind != TK_MISSING)
			/* what rename(2) says of a directory onto a full one */
			rc = rfs_error(fs, (flags & RENAME_NOREPLACE) ? -EEXIST : -ENOTEMPTY, a.to,
				       "a runner of that name already exists");
		else if (a.rt.klen == 0)
			rc = rfs_error(fs, -EINVAL, a.to, "a runner needs a name");
		else
			rc = txn_run(fs, a.to, rename_runner_fn, &a);
		if (rc == 0) {
			touch(fs, "runners");
			keep_identity(fs, a.from, a.to);
			forget_aliases(fs, a.rf.canon);
			names_renamed(fs, "runners", (size_t)a.rf.index, a.to + 8);
		}
	} else if (a.rf.kind == TK_VALUE && (a.rt.kind == TK_MISSING || a.rt.kind == TK_VALUE) && !a.rt.entry) {
		rc = txn_run(fs, a.to, move_value_fn, &a);
		if (rc == 0) {
			keep_identity(fs, a.from, a.to);
			touch(fs, fdir);
			touch(fs, tdir);
			touch(fs, a.to);
		}
	} else if (tree_is_dir(&a.rf)) {
		rc = refuse_dir_move(fs, &a, tdir);
	} else {
		rc = rfs_error(fs, -EPERM, a.from, "%s cannot be moved to %s", a.from, a.to);
	}
out:
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* ---- links: scratch only (emacs's lock, perl -pi.bak's backup) ---- */

static int rfs_symlink(const char *target, const char *path)
{
	struct rfs *fs = ctx();
	const char *p = rel(path);
	lock_fs(fs);
	struct tree_ref r;
	struct scratch *sc;
	int rc = resolve(fs, p, &r);
	if (scratch_get(&fs->scratch, p) || (rc == 0 && r.kind != TK_MISSING))
		rc = -EEXIST;
	else if ((rc == -ENOENT && scratch_parent(fs, p)) || (rc == 0 && !r.entry && r.parent != TOML_NONE))
		rc = fs->opt.ro ? -EROFS : scratch_add(&fs->scratch, p, SC_LINK, 0777, &sc);
	else if (rc == 0)
		rc = -EACCES;
	if (rc == 0)
		rc = buf_adds(&sc->data->content, target);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int rfs_readlink(const char *path, char *buf, size_t size)
{
	struct rfs *fs = ctx();
	lock_fs(fs);
	struct scratch *sc = scratch_get(&fs->scratch, rel(path));
	int rc = 0;
	if (!sc || sc->type != SC_LINK) {
		struct stat st;
		rc = sc || attr_of(fs, rel(path), &st, NULL) == 0 ? -EINVAL : -ENOENT;
	} else if (size) {
		size_t n = sc->data->content.len < size - 1 ? sc->data->content.len : size - 1;
		memcpy(buf, sc->data->content.p, n);
		buf[n] = '\0';
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* link(2): a second name for a scratch file, or (perl -pi.bak) a scratch
 * copy of a key's value under a name that is not a key. */
static int rfs_link(const char *from, const char *to)
{
	struct rfs *fs = ctx();
	const char *f = rel(from), *t = rel(to);
	lock_fs(fs);
	struct tree_ref rf, rt;
	struct scratch *sc;
	int rc;
	int rt_rc = resolve(fs, t, &rt);
	bool free_name = (rt_rc == -ENOENT && scratch_parent(fs, t)) ||
			 (rt_rc == 0 && rt.kind == TK_MISSING && !key_name(&rt) && !rt.entry);
	if (scratch_get(&fs->scratch, t) || (rt_rc == 0 && rt.kind != TK_MISSING))
		rc = -EEXIST;
	else if (!free_name)
		rc = -EPERM;
	else if (fs->opt.ro)
		rc = -EROFS;
	else if (scratch_get(&fs->scratch, f))
		rc = scratch_link(&fs->scratch, f, t);
	else if ((rc = resolve(fs, f, &rf)) == 0 && rf.kind == TK_VALUE &&
		 (rc = scratch_add(&fs->scratch, t, SC_FILE, tree_is_secret(&rf) ? 0600 : 0644, &sc)) == 0)
		rc = tree_render(fs->doc, &rf, &sc->data->content);
	else if (rc == 0)
		rc = -EPERM;
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* ---- metadata ---- */

/* chmod, chown: accepted and not stored (modes follow the schema), so
 * that cp -p, install, rsync and Ansible work. */
static int rfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct stat st;
	struct rfs *fs = ctx();
	lock_fs(fs);
	struct scratch *sc = scratch_get(&fs->scratch, rel(path));
	if (sc)
		sc->data->mode = mode & 07777;
	else if (hof(fi) && hof(fi)->sd)
		hof(fi)->sd->mode = mode & 07777;
	int rc = attr_of(fs, rel(path), &st, hof(fi));
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int rfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	struct stat st;
	(void)uid;
	(void)gid;
	lock_fs(fs);
	int rc = attr_of(fs, rel(path), &st, hof(fi));
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int rfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	struct stat st;
	const char *p = rel(path);
	lock_fs(fs);
	int rc = attr_of(fs, p, &st, hof(fi));
	if (rc == 0) {
		struct timespec t;
		if (!tv || tv[1].tv_nsec == UTIME_NOW)
			clock_gettime(CLOCK_REALTIME, &t);
		else if (tv[1].tv_nsec == UTIME_OMIT)
			t = st.st_mtim;
		else
			t = tv[1];
		struct scratch *sc = scratch_get(&fs->scratch, p);
		struct handle *h = hof(fi);
		if (!h) /* utimensat by path while someone writes it (cp -p) */
			for (struct handle *x = fs->handles; x && !h; x = x->next)
				if (x->dirty && !x->sd && !strcmp(x->path, p))
					h = x;
		if (sc) {
			sc->data->mtime = t;
		} else if (h && h->dirty && !h->sd) {
			h->mtime = t;
			h->has_mtime = true;
		} else {
			rc = rfs_map_set(&fs->mtimes, p, &t, NULL);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int rfs_statfs(const char *path, struct statvfs *sv)
{
	struct rfs *fs = ctx();
	(void)path;
	memset(sv, 0, sizeof(*sv));
	lock_fs(fs);
	size_t len;
	toml_text(fs->doc, &len);
	sv->f_bsize = sv->f_frsize = 4096;
	sv->f_blocks = len / 4096 + 1;
	sv->f_files = toml_node_count_all(fs->doc);
	sv->f_namemax = 255;
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

/* ---- extended attributes: the schema, read-only ---- */

static const char *const xattr_names[] = {"user.runnerfs.type", "user.runnerfs.doc",
					  "user.runnerfs.default"};

static int xattr_value(struct rfs *fs, const struct tree_ref *r, int which, const char **out)
{
	const struct schema_key *sk = r->sk;
	switch (which) {
	case 0:
		if (sk)
			*out = sk->kind == SK_MAP && r->kind == TK_TABLE ? "table"
			       : sk->kind == SK_VALUE || sk->kind == SK_MAP ? schema_type_name(sk->type)
			       : sk->kind == SK_ENTRIES ? "array of tables" : "table";
		else if (r->kind == TK_VALUE)
			*out = toml_type_name(toml_type_of(fs->doc, r->node));
		else if (tree_is_dir(r))
			*out = r->kind == TK_ENTRIES ? "array of tables" : "table";
		else
			return -ENODATA;
		return 0;
	case 1:
		if (!sk || !sk->doc)
			return -ENODATA;
		*out = sk->doc;
		return 0;
	default:
		if (!sk || !sk->def)
			return -ENODATA;
		*out = sk->def;
		return 0;
	}
}

static int rfs_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct rfs *fs = ctx();
	int which = -1;
	for (int i = 0; i < 3; i++)
		if (!strcmp(name, xattr_names[i]))
			which = i;
	if (which < 0)
		return -ENODATA;
	lock_fs(fs);
	struct tree_ref r;
	const char *v = NULL;
	int rc = resolve(fs, rel(path), &r);
	if (rc == 0)
		rc = xattr_value(fs, &r, which, &v);
	if (rc == 0) {
		size_t n = strlen(v);
		if (size == 0)
			rc = (int)n;
		else if (size < n)
			rc = -ERANGE;
		else {
			memcpy(value, v, n);
			rc = (int)n;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int rfs_listxattr(const char *path, char *list, size_t size)
{
	struct rfs *fs = ctx();
	lock_fs(fs);
	struct tree_ref r;
	int rc = resolve(fs, rel(path), &r);
	size_t need = 0;
	char tmp[128];
	if (rc == 0) {
		for (int i = 0; i < 3; i++) {
			const char *v;
			if (xattr_value(fs, &r, i, &v) == 0) {
				size_t n = strlen(xattr_names[i]) + 1;
				memcpy(tmp + need, xattr_names[i], n);
				need += n;
			}
		}
		if (size == 0)
			rc = (int)need;
		else if (size < need)
			rc = -ERANGE;
		else {
			memcpy(list, tmp, need);
			rc = (int)need;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* Writing xattrs is not supported; EOPNOTSUPP (never EPERM) lets cp -p,
 * vim and install carry on without ACLs. */
static int rfs_setxattr(const char *path, const char *name, const char *value, size_t size,
			int flags)
{
	(void)path;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	return -EOPNOTSUPP;
}

static int rfs_removexattr(const char *path, const char *name)
{
	(void)path;
	(void)name;
	return -EOPNOTSUPP;
}

static void *rfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	cfg->use_ino = 1;
	cfg->hard_remove = 1;    /* no .fuse_hidden files: nothing here is on disk */
	cfg->entry_timeout = 1;
	cfg->negative_timeout = 0; /* a name made a moment ago must be found */
	/* sizes change with every commit, and a kept attribute would need
	 * invalidating after each: for 5% of the requests of a walk (one
	 * GETATTR per directory, now that readdir gives d_type) it is not
	 * worth it (docs/performance.md) */
	cfg->attr_timeout = 0;
	/* READDIRPLUS for every part of a directory, not only the first */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	return ctx();
}

static void rfs_destroy(void *data)
{
	struct rfs *fs = data;
	pthread_mutex_lock(&fs->lock);
	while (fs->handles) {
		struct handle *h = fs->handles;
		untrack(fs, h);
		free_handle(h);
	}
	pthread_mutex_unlock(&fs->lock);
}

static const struct fuse_operations rfs_ops = {
	.init        = rfs_init,
	.destroy     = rfs_destroy,
	.getattr     = rfs_getattr,
	.opendir     = rfs_opendir,
	.readdir     = rfs_readdir,
	.releasedir  = rfs_releasedir,
	.open        = rfs_open,
	.create      = rfs_create,
	.read        = rfs_read,
	.write       = rfs_write,
	.flush       = rfs_flush,
	.fsync       = rfs_fsync,
	.release     = rfs_release,
	.truncate    = rfs_truncate,
	.unlink      = rfs_unlink,
	.mkdir       = rfs_mkdir,
	.rmdir       = rfs_rmdir,
	.rename      = rfs_rename,
	.chmod       = rfs_chmod,
	.chown       = rfs_chown,
	.utimens     = rfs_utimens,
	.statfs      = rfs_statfs,
	.getxattr    = rfs_getxattr,
	.listxattr   = rfs_listxattr,
	.setxattr    = rfs_setxattr,
	.removexattr = rfs_removexattr,
	.symlink     = rfs_symlink,
	.readlink    = rfs_readlink,
	.link        = rfs_link,
	.mknod       = NULL, /* create() covers regular files; no devices here */
};

const struct fuse_operations *rfs_operations(void)
{
	return &rfs_ops;
}
