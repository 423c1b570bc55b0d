/* SPDX-License-Identifier: MIT */
/*
 * The FUSE operations: thin wrappers that take the lock, resolve the
 * path, and hand the change to a transaction. The rules of what a path
 * means are in tree.c; how a change reaches the disk is in txn.c.
 *
 * Writes are buffered per open file and committed at flush/fsync (whose
 * errors reach close()/fsync()), never at release (whose result the kernel
 * drops) — except a file that was only truncated by open(O_TRUNC):
 * `echo v > key` flushes once *before* it writes, so such a truncation
 * waits for a write, a second flush (`: > key` flushes twice and never
 * writes), an fsync, or the release. An ftruncate() is a request of its
 * own (`truncate -s 0 key`): it is committed at the next flush, so close()
 * returns once config.toml holds it.
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

#include "runnerfs/change.h"
#include "runnerfs/control.h"
#include "runnerfs/daemon.h"
#include "runnerfs/fresh.h"
#include "runnerfs/kcache.h"
#include "runnerfs/node.h"
#include "runnerfs/registry.h"
#include "runnerfs/ops.h"
#include "runnerfs/procfd.h"
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
	bool resized;   /* an ftruncate() since the last commit */
	unsigned flushes; /* since the last commit: the second of an
			   * O_TRUNC open that wrote nothing commits it */
	bool failed;    /* a write() was rejected: never commit this */
	bool created;   /* a new key: it exists once committed */
	bool has_mtime; /* utimens while writing: the mtime after the commit */
	bool unsynced;  /* written since the kernel's copy was last dropped */
	bool cached;    /* read through the page cache (rfs_open): reads give
			 * the value as it is now, never an older snapshot */
	uint64_t gen;   /* fs->kc.content_gen when buf was rendered */
	struct timespec mtime;
	struct timespec emptied; /* the value's time (node.h) when O_TRUNC
				  * emptied it, or its last commit since */
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

/* The request being served (ops_begin): its thread's own. */
static __thread struct rfs *req_fs;
static __thread pid_t req_pid;

void ops_begin(struct rfs *fs, pid_t pid)
{
	req_fs = fs;
	req_pid = pid;
}

static struct rfs *ctx(void)
{
	return req_fs;
}

/* The process making the request (fresh.h: what it just made), as
 * lock_fs took it. */
static pid_t caller(void)
{
	return ctx()->caller;
}

/* Every operation on the model starts here: one at a time, and with what
 * outside writers did to CONFIG taken in first. Never waits for them. */
static void lock_fs(struct rfs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->caller = req_pid;
	fs->txn.gave_up = false;
	watch_sync(fs);
}

/* The same, for an operation that starts a change (open for writing,
 * create, truncate): while someone else is writing CONFIG, wait for them
 * — bounded, fs->lock released meanwhile (txn.h) — so that the change
 * starts on what they wrote, or is refused at open() with EBUSY where
 * the shell sees it (disk_usable). */
static void lock_fs_to_change(struct rfs *fs)
{
	lock_fs(fs);
	txn_settle(fs);
}

/* The end of an operation: what it changed is dropped from the kernel's
 * caches before the request is answered (kcache.h), with fs->lock
 * released (a page being read needs it). */
static void unlock_fs(struct rfs *fs)
{
	kcache_expand(fs);
	pthread_mutex_unlock(&fs->lock);
	kcache_sync(fs);
}

/* p, and the directory holding it (its mtime, its size), may have
 * changed outside a transaction (scratch files, times, an open writer's
 * size): fs->lock held. */
static void note(struct rfs *fs, const char *p)
{
	char dir[PATH_MAX];
	kcache_note(fs, p);
	node_parent(p, dir, sizeof(dir));
	kcache_note(fs, dir);
}

/* The same where names came or went (a new key, a removed one, a
 * scratch file): the kernel keeps names, and is told to check them. */
static void note_names(struct rfs *fs, const char *p)
{
	char dir[PATH_MAX];
	kcache_note_names(fs, p);
	node_parent(p, dir, sizeof(dir));
	kcache_note_names(fs, dir);
}

/* A handle that wrote (or truncated) leaves the kernel with its own idea
 * of the file's size: drop it (a value's other attributes change with the
 * commit, which notes its own scope; a new key's directory too). */
static void note_handle(struct rfs *fs, struct handle *h, bool created)
{
	if (!h->unsynced)
		return;
	h->unsynced = false;
	if (created || h->sd)
		note_names(fs, h->path);
	else
		kcache_note(fs, h->path);
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

static ino_t ino_of(struct rfs *fs, const char *p)
{
	struct scratch *sc = scratch_get(&fs->scratch, p);
	return sc ? sc->data->ino : node_ino_path(fs, p);
}

/* A file's text: the document's, or a password that waits for its
 * registry's user name (tree_half_password). */
static int render(struct rfs *fs, const struct tree_ref *r, struct buf *out)
{
	if (r->kind == TK_CTLFILE)
		change_stale_scratch(fs); /* what is read there is up to date */
	if (r->kind == TK_CTLFILE || r->kind == TK_HISTFILE)
		return control_render(fs, r, out);
	if (r->kind == TK_REGFILE && !strcmp(r->key, "password")) {
		char dir[PATH_MAX];
		node_parent(r->canon, dir, sizeof(dir));
		const char *half = tree_half_password(fs, dir);
		if (half)
			return buf_adds(out, half) < 0 ? -ENOMEM : buf_addc(out, '\n');
	}
	return tree_render(fs->doc, r, out);
}

static int file_size(struct rfs *fs, const struct tree_ref *r, off_t *size)
{
	struct buf b = BUF_INIT;
	int rc = render(fs, r, &b);
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
	st->st_ino = node_ino(fs, p, &r);
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
		st->st_mtim = fs->txn.mtime.tv_sec ? fs->txn.mtime : fs->loaded_mtime;
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
	if (!path && hof(fi))
		path = hof(fi)->path; /* an open file whose directory was removed */
	if (!path)
		return -ENOENT;
	struct rfs *fs = ctx();
	lock_fs(fs);
	/* fstat of a file open for reading: the node's attributes, which the
	 * kernel keeps for every open, not the size of this open's snapshot */
	struct handle *h = hof(fi) && (hof(fi)->writable || hof(fi)->truncated || hof(fi)->sd) ? hof(fi) : NULL;
	int rc = attr_of(fs, rel(path), st, h);
	unlock_fs(fs);
	return rc;
}

int ops_name(struct rfs *fs, const char *path, mode_t *type)
{
	struct stat st;
	const char *p = rel(path);
	lock_fs(fs);
	/* not in the middle of a change (fs->lock released for its commit,
	 * txn.c): what went with it is noted only after it */
	while (fs->txn.committing)
		pthread_cond_wait(&fs->txn.committed, &fs->lock);
	int rc = attr_of(fs, p, &st, NULL);
	if (rc == 0)
		*type = st.st_mode & S_IFMT;
	else if (rc == -ENOENT && change_went_lately(fs, p))
		rc = 1;
	unlock_fs(fs);
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
	return dir_add(a->d, name, tree_is_dir(r) ? S_IFDIR : S_IFREG, node_ino_path(a->fs, p));
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
	node_parent(dir, up, sizeof(up));
	if ((rc = dir_add(d, ".", S_IFDIR, ino_of(fs, dir))) < 0 ||
	    (rc = dir_add(d, "..", S_IFDIR, ino_of(fs, up))) < 0)
		return rc;
	struct fill_arg a = {fs, dir, in_tree ? r.canon : dir, d};
	if (in_tree)
		fresh_listed(fs, r.canon, caller()); /* a copy reads its source */
	if (in_tree && (rc = tree_list(fs, dir, &r, fill, &a)) == -EAGAIN)
		return list_dir(fs, dir, d); /* a commit was in flight (names.h): again */
	if (in_tree && rc < 0)
		return rc;
	/* the editors' files next to the keys */
	size_t n = strlen(dir);
	for (size_t i = 0; i < fs->scratch.n; i++) {
		const struct scratch *sc = &fs->scratch.v[i];
		const char *base = n ? sc->path + n + 1 : sc->path;
		if ((n && (strncmp(sc->path, dir, n) || sc->path[n] != '/')) || strchr(base, '/'))
			continue;
		mode_t t = sc->type == SC_DIR ? S_IFDIR : sc->type == SC_LINK ? S_IFLNK : S_IFREG;
		bool shadowed = false; /* a key of that name came from outside */
		for (size_t k = 2; k < d->n && !shadowed; k++)
			shadowed = !strcmp(d->v[k].name, base);
		if (!shadowed && (rc = dir_add(d, base, t, sc->data->ino)) < 0)
			return rc;
	}
	return 0;
}

/* The kernel keeps a listing across opens (ll.h) until a change drops
 * it: what an outside writer did is taken in here first. Not while a new
 * directory is being filled (fresh.h): what it shows depends on who
 * asks, and changes with time, not with a change. */
static int rfs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct rfs *fs = ctx();
	struct dir_handle *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	(void)path;
	lock_fs(fs);
	fi->cache_readdir = 1;
	fi->keep_cache = fs->fresh.n == 0;
	if (fi->keep_cache)
		kcache_want(fs); /* an outside change another thread took in: sent first */
	unlock_fs(fs);
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
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
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
	unlock_fs(fs);
	return rc;
}

/* ---- committing ---- */

/* An open(O_TRUNC) that wrote nothing empties the value when it was
 * opened, as on any filesystem: a write through another open since
 * (`exec 3> key; echo v > key; exec 3>&-`) came after it and stays. */
static bool emptied_before_a_write(struct rfs *fs, const struct handle *h)
{
	if (!h->truncated || h->wrote || h->resized || h->kind != TK_VALUE)
		return false;
	struct timespec now = node_time(fs, h->path);
	return now.tv_sec != h->emptied.tv_sec || now.tv_nsec != h->emptied.tv_nsec;
}

static int commit_handle(struct rfs *fs, struct handle *h)
{
	if (h->failed)
		return -EINVAL;
	if (!h->dirty)
		return 0;
	if (emptied_before_a_write(fs, h)) {
		h->dirty = h->truncated = false;
		h->flushes = 0;
		return 0;
	}
	int rc = 0;
	if (h->kind == TK_CTLFILE) {
		if (h->ctl == CTL_RELOAD) {
			rfs_log(RFS_LOG_INFO, "reload requested through .runnerfs/reload");
			reload_now(&fs->reload);
		}
	} else {
		/* its opener: RELEASE comes from no process */
		fs->caller = h->pid;
		rc = change_store(fs, h->path, h->kind, h->buf.p ? h->buf.p : "", h->buf.len);
	}
	if (rc == 0 && h->has_mtime) {
		/* cp -p, mv, rsync -a set the time before they close */
		rfs_map_set(&fs->mtimes, h->path, &h->mtime, NULL);
		h->has_mtime = false;
	}
	if (rc == 0) {
		h->dirty = h->wrote = h->truncated = h->resized = false;
		h->flushes = 0;
		h->emptied = node_time(fs, h->path);
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
	h->unsynced = h->writable;
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
	h->pid = req_pid;
	h->ctl = r->index;
	h->writable = (flags & O_ACCMODE) != O_RDONLY;
	h->append = flags & O_APPEND;
	int rc = 0;
	if (flags & O_TRUNC) {
		h->truncated = h->dirty = h->unsynced = true;
		h->emptied = node_time(fs, p);
	} else if (r->kind != TK_MISSING) {
		rc = render(fs, r, &h->buf);
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
	/* lock_fs_to_change waited for them already, in vain */
	if (fs->txn.gave_up)
		return rfs_error(fs, -EBUSY, p,
				 "someone else kept writing config.toml for %d s; nothing was changed, try again",
				 RFS_BUSY_WAIT_MS / 1000);
	if (fs->disk_state >= 0)
		return 0;
	return rfs_error(fs, -EIO, p, "config.toml on disk cannot be used (%s); nothing can be changed",
			 fs->disk_error);
}

static int check_open(struct rfs *fs, const char *p, const struct tree_ref *r, int flags)
{
	bool w = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	int du;
	if (w && (r->kind == TK_VALUE || r->kind == TK_CONFIG || r->kind == TK_REGFILE) &&
	    (du = disk_usable(fs, p)) < 0)
		return du;
	switch (r->kind) {
	case TK_VALUE:
	case TK_CONFIG:
	case TK_REGFILE:
		return w && fs->opt.ro ? -EROFS : 0;
	case TK_CTLFILE:
		return w && r->index != CTL_RELOAD
			       ? rfs_error(fs, -EACCES, p, "this file of .runnerfs/ is read-only (only reload can be written)")
			       : 0;
	case TK_HISTFILE:
		return w ? rfs_error(fs, -EACCES, p, "history versions are read-only; to go back to one, "
						     "copy it onto config.toml")
			 : 0;
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

/* May a read-only open of p (handle h, its value rendered) use the page
 * cache? A value of one page at most: the kernel reads it with one READ,
 * never half of one version and half of the next. And nobody has p open
 * for writing: the kernel sets the inode's size from their writes
 * (O_TRUNC makes it 0) before anything is committed, and page-cache
 * reads stop at that size (docs/performance.md). */
static bool page_cacheable(struct rfs *fs, const char *p, const struct handle *h)
{
	if ((h->kind != TK_VALUE && h->kind != TK_REGFILE) || h->buf.len > 4096)
		return false;
	for (const struct handle *x = fs->handles; x; x = x->next)
		if ((x->writable || x->truncated) && !strcmp(x->path, p))
			return false;
	return true;
}

/* An open for writing of p: the kernel will set p's size from it
 * (O_TRUNC: 0) before anything is committed, and a page-cache read of p
 * under way then stops at that size. Let those reads end first — they
 * are a cat's open, read, close — waiting at most RFS_READER_WAIT_MS
 * with fs->lock released; new readers meanwhile are direct
 * (page_cacheable). */
#define RFS_READER_WAIT_MS 200

static bool cached_reader(struct rfs *fs, const char *p)
{
	for (const struct handle *x = fs->handles; x; x = x->next)
		if (x->cached && !strcmp(x->path, p))
			return true;
	return false;
}

static void wait_cached_readers(struct rfs *fs, const char *p)
{
	if (!cached_reader(fs, p))
		return;
	pid_t caller = fs->caller;
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += RFS_READER_WAIT_MS * 1000000L;
	dl.tv_sec += dl.tv_nsec / 1000000000L;
	dl.tv_nsec %= 1000000000L;
	while (cached_reader(fs, p) && pthread_cond_timedwait(&fs->reader_gone, &fs->lock, &dl) == 0)
		;
	fs->caller = caller;
}

static int rfs_open(const char *path, struct fuse_file_info *fi)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
	struct rfs *fs = ctx();
	const char *p = rel(path);
	if (read_only(fi->flags))
		lock_fs(fs);
	else
		lock_fs_to_change(fs);
	struct scratch *sc = scratch_get(&fs->scratch, p);
	if (sc) {
		struct handle *sh = sc->type == SC_FILE ? scratch_handle(sc, p, fi->flags) : NULL;
		if (sh)
			track(fs, sh);
		unlock_fs(fs);
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
		       (change_key_name(&r) && (fi->flags & O_ACCMODE) != O_RDONLY && !fs->opt.ro));
	if (rc == 0 && !making)
		rc = check_open(fs, p, &r, fi->flags);
	if (rc == 0 && !read_only(fi->flags)) {
		wait_cached_readers(fs, p);
		/* the document may have changed while we waited */
		rc = resolve(fs, p, &r);
		if (rc == 0 && !making)
			rc = check_open(fs, p, &r, fi->flags);
	}
	if (rc == 0)
		rc = new_handle(fs, p, &r, fi->flags, &h);
	if (rc == 0 && !making && read_only(fi->flags) && page_cacheable(fs, p, h)) {
		h->cached = true;
		h->gen = fs->kc.content_gen;
		kcache_want(fs); /* no old pages may be left when the open returns */
	}
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
	unlock_fs(fs);
	if (rc < 0)
		return rc;
	fi->fh = (uintptr_t)h;
	/* A small value opened for reading comes from the page cache, kept
	 * across opens: no READ for EOF, none at all while it is cached.
	 * kcache.h drops it at every change; a READ gives the value as it is
	 * now (rfs_read). Everything else is direct: each open reads the
	 * snapshot it took (config.toml and history are read in pieces and
	 * must not mix two versions; control files change by themselves;
	 * scratch files are written by other opens without a commit). */
	fi->direct_io = !h->cached;
	fi->keep_cache = h->cached;
	fi->noflush = read_only(fi->flags);
	return 0;
}

static int rfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
	struct rfs *fs = ctx();
	const char *p = rel(path);
	lock_fs_to_change(fs);
	struct tree_ref r;
	struct handle *h = NULL;
	int rc = resolve(fs, p, &r);
	bool in_scratch_dir = rc == -ENOENT && change_scratch_parent(fs, p);
	if ((rc == 0 || in_scratch_dir) && fs->opt.ro) {
		rc = -EROFS;
	} else if (in_scratch_dir || (rc == 0 && r.kind == TK_MISSING && !change_key_name(&r) &&
				      !change_copied_key(fs, &r) && change_scratch_name(fs, &r))) {
		/* not a key: an editor's or a tool's own file, kept in memory */
		struct scratch *sc;
		rc = scratch_add(&fs->scratch, p, SC_FILE, mode, &sc);
		if (rc == 0 && !(h = scratch_handle(sc, p, fi->flags)))
			rc = -ENOMEM;
		if (rc == 0) {
			change_note_scratch(fs, p, &r, in_scratch_dir);
			track(fs, h);
		}
		note_names(fs, p);
		unlock_fs(fs);
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
		rc = change_creatable(fs, p, &r);
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
	note_names(fs, p); /* a new name, or one whose size the kernel sets to 0 */
	unlock_fs(fs);
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
	if (h->cached && h->gen != fs->kc.content_gen) {
		/* What this READ returns fills the page cache every open
		 * shares (keep_cache): the value as it is now, not as it was
		 * when this handle was opened. Gone since: what it was. */
		struct tree_ref r;
		struct buf now = BUF_INIT;
		if (resolve(fs, h->path, &r) == 0 && r.kind == h->kind && tree_render(fs->doc, &r, &now) == 0) {
			buf_free(&h->buf);
			h->buf = now;
		} else {
			buf_free(&now);
		}
		h->gen = fs->kc.content_gen;
	}
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

/* A scratch file (scratch.h) lives in memory: may it grow from `now` to
 * `want` bytes? */
static int scratch_room(struct rfs *fs, const char *p, size_t now, size_t want)
{
	if (want <= now)
		return 0;
	if (want > RFS_SCRATCH_FILE_MAX)
		return rfs_error(fs, -EFBIG, p, "a file that is not a key lives in memory only, and at most %d MiB of it",
				 RFS_SCRATCH_FILE_MAX >> 20);
	if (scratch_bytes(&fs->scratch) + (want - now) > RFS_SCRATCH_TOTAL_MAX)
		return rfs_error(fs, -ENOSPC, p, "files that are not keys live in memory only, %d MiB in all; "
						 "remove some", RFS_SCRATCH_TOTAL_MAX >> 20);
	return 0;
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
			rc = scratch_room(fs, h->path, b->len, (size_t)off + size);
		if (rc == 0 && (size_t)off + size > b->len)
			rc = buf_resize(b, (size_t)off + size);
		if (rc == 0)
			memcpy(b->p + off, data, size);
		clock_gettime(CLOCK_REALTIME, &h->sd->mtime);
		h->unsynced = true; /* noted at this open's flush */
		pthread_mutex_unlock(&fs->lock);
		return rc < 0 ? rc : (int)size;
	}
	if (h->append)
		off = (off_t)h->buf.len;
	/* A whole invalid value in one write fails now: shells and scripts
	 * ignore errors from close(). */
	if (!h->wrote && off == 0 && h->buf.len == 0 && h->kind != TK_CONFIG && h->kind != TK_CTLFILE) {
		struct tree_ref r;
		char why[300];
		if (resolve(fs, h->path, &r) == 0 && tree_precheck(fs->doc, &r, data, size, why, sizeof(why)) < 0) {
			h->failed = true;
			rc = rfs_error(fs, -EINVAL, h->path, "%s", why);
		}
		/* a runner's name another runner has: echo must fail, not close */
		if (rc == 0 && size && data[size - 1] == '\n' &&
		    (rc = change_name_precheck(fs, h->path, data, size)) < 0)
			h->failed = true;
	} else if (!h->failed && h->kind == TK_VALUE && size && data[size - 1] == '\n' &&
		   (size_t)off + size >= h->buf.len) {
		/* a write that ends the text with a whole line (echo >>, the
		 * next lines of a list): judge the whole text it makes */
		struct tree_ref r;
		char why[300];
		struct buf all = BUF_INIT;
		if (buf_add(&all, h->buf.p ? h->buf.p : "", (size_t)off < h->buf.len ? (size_t)off : h->buf.len) == 0 &&
		    (size_t)off <= h->buf.len && buf_add(&all, data, size) == 0 && resolve(fs, h->path, &r) == 0 &&
		    tree_precheck(fs->doc, &r, all.p, all.len, why, sizeof(why)) < 0) {
			h->failed = true;
			rc = rfs_error(fs, -EINVAL, h->path, "%s", why);
		}
		buf_free(&all);
	}
	if (rc < 0)
		change_refused(fs, h->path);
	if (rc == 0 && (size_t)off + size > RFS_WRITE_MAX)
		rc = rfs_error(fs, -EFBIG, h->path, "more than %d MiB written: no value or config.toml is that large",
			       RFS_WRITE_MAX >> 20);
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
			h->wrote = h->dirty = h->unsynced = true;
		}
	}
	if (rc < 0) {
		unlock_fs(fs); /* .runnerfs/errors grew: stat sees it at once */
		return rc;
	}
	pthread_mutex_unlock(&fs->lock);
	return (int)size;
}

/* This FLUSH is the close of the caller's last descriptor of h's open,
 * not the first of bash's two: it holds no file of the mount any more
 * (procfd.h). */
static bool last_close(struct rfs *fs)
{
	return fs->dev && procfd_holds(req_pid, fs->dev) == 0;
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
	struct tree_ref r;
	char why[300];
	bool created = h->created;
	bool refused_empty = false;
	if (!h->failed && h->truncated && !h->wrote && !h->resized && (h->kind == TK_VALUE || h->created) &&
	    !emptied_before_a_write(fs, h))
		refused_empty = resolve(fs, h->path, &r) == 0 &&
				tree_precheck(fs->doc, &r, "\n", 1, why, sizeof(why)) < 0;
	h->flushes++;
	if (h->failed)
		rc = -EINVAL;
	else if (h->dirty && (h->wrote || h->resized))
		/* a write, or ftruncate() (`truncate -s 0 key`, vim's and
		 * rsync --inplace's come with writes): a reader after close()
		 * must find it in config.toml, not wait for RELEASE */
		rc = commit_handle(fs, h);
	else if (refused_empty)
		/* open(O_TRUNC) of a number or boolean, nothing written yet:
		 * close() is told now (Python's open('w').close()). Nothing
		 * is logged or kept: bash closes once before it writes, and the
		 * write may still come; if it does not, RELEASE refuses the
		 * empty value and logs it once. */
		rc = -EINVAL;
	else if (h->dirty && h->truncated && (h->flushes >= 2 || last_close(fs)))
		/* `: > key`: the copy bash closed before the command, then
		 * the one it restores after; no write came between. Or the
		 * only close of `cp /dev/null key`, Python's
		 * open(key, 'w').close(): a reader after it must find it */
		rc = commit_handle(fs, h);
	/* the kernel set the size from this open's writes, committed or not */
	note_handle(fs, h, created);
	unlock_fs(fs);
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
	bool created = h->created;
	int rc = commit_handle(fs, h);
	note_handle(fs, h, created);
	unlock_fs(fs);
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
	bool created = h->created;
	if (h->dirty && !h->failed)
		commit_handle(fs, h);
	if (h->sd && h->writable) {
		clock_gettime(CLOCK_MONOTONIC, &h->sd->closed);
		h->sd->reported = false;
	}
	change_stale_scratch(fs);
	note_handle(fs, h, created);
	if (h->cached)
		pthread_cond_broadcast(&fs->reader_gone);
	if (h->created) {
		struct rfs_map_entry *e = rfs_map_get(&fs->pending, h->path);
		if (e && --e->ts.tv_sec <= 0)
			rfs_map_del(&fs->pending, h->path);
	}
	untrack(fs, h);
	/* the scratch data is shared with the scratch set (fs->lock) */
	scratch_data_unref(h->sd);
	h->sd = NULL;
	unlock_fs(fs);
	free_handle(h);
	return 0;
}

static int rfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
	struct rfs *fs = ctx();
	struct handle *h = hof(fi);
	const char *p = rel(path);
	if (size < 0)
		return -EINVAL;
	lock_fs_to_change(fs);
	int rc = 0;
	struct scratch *sc = h ? NULL : scratch_get(&fs->scratch, p);
	if ((h && h->sd) || sc) {
		struct scratch_data *d = h ? h->sd : sc->data;
		rc = sc && sc->type != SC_FILE ? -EISDIR : scratch_room(fs, p, d->content.len, (size_t)size);
		if (rc == 0)
			rc = buf_resize(&d->content, (size_t)size);
		clock_gettime(CLOCK_REALTIME, &d->mtime);
		note(fs, p);
	} else if (h) {
		/* ftruncate: part of an edit in progress (vim, rsync --inplace) */
		if (!h->writable) {
			rc = -EBADF;
		} else if ((size_t)size <= h->buf.len) {
			/* ftruncate(0) of a number is not refused here: vim
			 * truncates, then writes; an empty value left so is
			 * refused at close() (rfs_flush) */
			h->buf.len = (size_t)size;
			if (h->buf.p)
				h->buf.p[size] = '\0';
		} else if ((rc = buf_reserve(&h->buf, (size_t)size - h->buf.len)) == 0) {
			memset(h->buf.p + h->buf.len, 0, (size_t)size - h->buf.len);
			h->buf.len = (size_t)size;
			h->buf.p[size] = '\0';
		}
		if (rc == 0) {
			h->dirty = h->unsynced = h->resized = true;
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
	unlock_fs(fs);
	return rc;
}

/* ---- registries ---- */

/* ---- removing ---- */

/* ---- making directories ---- */

/* ---- renaming ---- */

/* ---- changes of the tree: change.h ---- */

static int rfs_unlink(const char *path)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
	struct rfs *fs = ctx();
	lock_fs(fs);
	int rc = change_unlink(fs, rel(path));
	note_names(fs, rel(path)); /* scratch names too, not only the document */
	unlock_fs(fs);
	return rc;
}

static int rfs_rmdir(const char *path)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
	struct rfs *fs = ctx();
	lock_fs(fs);
	int rc = change_rmdir(fs, rel(path));
	note_names(fs, rel(path)); /* scratch names too, not only the document */
	unlock_fs(fs);
	return rc;
}

static int rfs_mkdir(const char *path, mode_t mode)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
	struct rfs *fs = ctx();
	lock_fs(fs);
	int rc = change_mkdir(fs, rel(path), mode);
	note_names(fs, rel(path)); /* scratch names too, not only the document */
	unlock_fs(fs);
	return rc;
}

static int rfs_rename(const char *from, const char *to, unsigned int flags)
{
	if (!from || !to)
		return -ENOENT;
	struct rfs *fs = ctx();
	lock_fs(fs);
	int rc = change_rename(fs, rel(from), rel(to), flags);
	/* the transaction noted where it went; where it came from too, and
	 * what the kernel keeps under either name */
	kcache_note_change(fs, rel(from));
	if (rc == 0)
		kcache_note_moved(fs, rel(from), rel(to));
	note_names(fs, rel(from));
	note_names(fs, rel(to));
	unlock_fs(fs);
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
	else if ((rc == -ENOENT && change_scratch_parent(fs, p)) || (rc == 0 && !r.entry && r.parent != TOML_NONE))
		rc = fs->opt.ro ? -EROFS : scratch_add(&fs->scratch, p, SC_LINK, 0777, &sc);
	else if (rc == 0)
		rc = -EACCES;
	if (rc == 0)
		rc = buf_adds(&sc->data->content, target);
	note_names(fs, p);
	unlock_fs(fs);
	return rc;
}

static int rfs_readlink(const char *path, char *buf, size_t size)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
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
	unlock_fs(fs);
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
	bool free_name = (rt_rc == -ENOENT && change_scratch_parent(fs, t)) ||
			 (rt_rc == 0 && rt.kind == TK_MISSING && !change_key_name(&rt) && !rt.entry &&
			  change_scratch_name(fs, &rt));
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
	note_names(fs, t);
	unlock_fs(fs);
	return rc;
}

/* ---- metadata ---- */

/* chmod, chown: accepted and not stored (modes follow the schema), so
 * that cp -p, install, rsync and Ansible work. */
static int rfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
	struct stat st;
	struct rfs *fs = ctx();
	lock_fs(fs);
	struct scratch *sc = scratch_get(&fs->scratch, rel(path));
	if (sc)
		sc->data->mode = mode & 07777;
	else if (hof(fi) && hof(fi)->sd)
		hof(fi)->sd->mode = mode & 07777;
	int rc = attr_of(fs, rel(path), &st, hof(fi));
	note(fs, rel(path));
	unlock_fs(fs);
	return rc;
}

static int rfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
	struct rfs *fs = ctx();
	struct stat st;
	(void)uid;
	(void)gid;
	lock_fs(fs);
	int rc = attr_of(fs, rel(path), &st, hof(fi));
	unlock_fs(fs);
	return rc;
}

static int rfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
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
		note(fs, p);
	}
	unlock_fs(fs);
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
	unlock_fs(fs);
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
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
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
	unlock_fs(fs);
	return rc;
}

static int rfs_listxattr(const char *path, char *list, size_t size)
{
	if (!path)
		return -ENOENT; /* its directory was removed meanwhile (libfuse gives no path then) */
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
	unlock_fs(fs);
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

void ops_started(struct rfs *fs)
{
	int r = watch_start(fs);
	if (r < 0)
		rfs_log(RFS_LOG_WARN, "cannot watch %s for outside changes (%s): they are noticed at the next write",
			fs->disk.dir, strerror(-r));
	if ((r = reload_start(&fs->reload)) < 0)
		rfs_log(RFS_LOG_WARN, "cannot start the reload thread: %s", strerror(-r));
}

void ops_stopped(struct rfs *fs)
{
	pthread_mutex_lock(&fs->lock);
	while (fs->handles) {
		struct handle *h = fs->handles;
		untrack(fs, h);
		free_handle(h);
	}
	pthread_mutex_unlock(&fs->lock);
}

/* ---- every refusal says why ----
 *
 * Every refused change has its sentence in .runnerfs/errors
 * (docs/filesystem.md, "Errors"). The modules say why where they decide;
 * a change that failed without a sentence gets a general one here. ENOENT,
 * EEXIST (O_EXCL probes, mkdir -p), ENODATA and EOPNOTSUPP are answers
 * tools ask for, not refusals, and are not logged. */
static int said(const char *path, const char *op, unsigned long mark, int rc)
{
	const char *why;
	if (rc >= 0 || rfs_errors_said() != mark)
		return rc;
	switch (-rc) {
	case EROFS: why = "the mount is read-only"; break;
	case ENOTEMPTY: why = "the directory is not empty (rm -r removes what is in it)"; break;
	case EISDIR: why = "it is a directory (a table: change its keys)"; break;
	case ENOTDIR: why = "it is not a directory"; break;
	case EACCES: why = "permission denied"; break;
	case EPERM: why = "not something this file or directory can do"; break;
	case EINVAL: why = "not valid here"; break;
	case EBUSY: why = "busy"; break;
	case EFBIG: case ENOSPC: why = "too large"; break;
	default: return rc;
	}
	struct rfs *fs = ctx();
	pthread_mutex_lock(&fs->lock);
	rfs_error(fs, rc, path ? rel(path) : "", "%s: %s", op, why);
	unlock_fs(fs); /* .runnerfs/errors grew (kcache.h) */
	return rc;
}

#define SAID(op, path, call)                                                   \
	do {                                                                   \
		unsigned long mark_ = rfs_errors_said();                       \
		return said(path, op, mark_, call);                            \
	} while (0)

static int op_open(const char *p, struct fuse_file_info *fi)
{
	if ((fi->flags & O_ACCMODE) == O_RDONLY && !(fi->flags & O_TRUNC))
		return rfs_open(p, fi);
	SAID("open for writing", p, rfs_open(p, fi));
}
static int op_create(const char *p, mode_t m, struct fuse_file_info *fi) { SAID("create", p, rfs_create(p, m, fi)); }
static int op_write(const char *p, const char *b, size_t n, off_t o, struct fuse_file_info *fi)
{
	SAID("write", p, rfs_write(p, b, n, o, fi));
}
static int op_truncate(const char *p, off_t s, struct fuse_file_info *fi) { SAID("truncate", p, rfs_truncate(p, s, fi)); }
static int op_unlink(const char *p) { SAID("unlink", p, rfs_unlink(p)); }
static int op_mkdir(const char *p, mode_t m) { SAID("mkdir", p, rfs_mkdir(p, m)); }
static int op_rmdir(const char *p) { SAID("rmdir", p, rfs_rmdir(p)); }
static int op_rename(const char *f, const char *t, unsigned int fl) { SAID("rename", f, rfs_rename(f, t, fl)); }
static int op_symlink(const char *f, const char *t) { SAID("symlink", t, rfs_symlink(f, t)); }
static int op_link(const char *f, const char *t) { SAID("link", t, rfs_link(f, t)); }
static int op_chmod(const char *p, mode_t m, struct fuse_file_info *fi) { SAID("chmod", p, rfs_chmod(p, m, fi)); }
static int op_chown(const char *p, uid_t u, gid_t g, struct fuse_file_info *fi) { SAID("chown", p, rfs_chown(p, u, g, fi)); }

static const struct fuse_operations rfs_ops = {
	.getattr     = rfs_getattr,
	.opendir     = rfs_opendir,
	.readdir     = rfs_readdir,
	.releasedir  = rfs_releasedir,
	.open        = op_open,
	.create      = op_create,
	.read        = rfs_read,
	.write       = op_write,
	.flush       = rfs_flush,
	.fsync       = rfs_fsync,
	.release     = rfs_release,
	.truncate    = op_truncate,
	.unlink      = op_unlink,
	.mkdir       = op_mkdir,
	.rmdir       = op_rmdir,
	.rename      = op_rename,
	.chmod       = op_chmod,
	.chown       = op_chown,
	.utimens     = rfs_utimens,
	.statfs      = rfs_statfs,
	.getxattr    = rfs_getxattr,
	.listxattr   = rfs_listxattr,
	.setxattr    = rfs_setxattr,
	.removexattr = rfs_removexattr,
	.symlink     = op_symlink,
	.readlink    = rfs_readlink,
	.link        = op_link,
	.mknod       = NULL, /* create() covers regular files; no devices here */
};

const struct fuse_operations *rfs_operations(void)
{
	return &rfs_ops;
}
