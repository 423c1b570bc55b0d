/* SPDX-License-Identifier: MIT */
/*
 * The FUSE front end on libfuse's low-level API (ll.h): node ids, paths,
 * and one call into the operations table (ops.h) per request.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "runnerfs/daemon.h"
#include "runnerfs/inodes.h"
#include "runnerfs/kcache.h"
#include "runnerfs/ll.h"
#include "runnerfs/ops.h"
#include "runnerfs/procfd.h"
#include "runnerfs/rfs.h"

/* How long the kernel may keep a name and a node's attributes without
 * asking: every change drops what it may have changed (kcache.h), names
 * a moment later (the checker thread below). The daemon's own files
 * (.runnerfs/) change with time too: a second. */
#define LL_TIMEOUT 60.0
#define LL_CONTROL_TIMEOUT 1.0

struct ll {
	struct rfs *fs;
	const struct fuse_operations *op;
	struct fuse_session *se;
	pthread_mutex_t mu;     /* the node ids (inodes.h) and the checker */
	struct inodes t;
	/* The checker: nodes whose names (a directory: the names in it) may
	 * have gone; each one the kernel keeps that is gone now is dropped
	 * (fuse_lowlevel_notify_inval_entry). Its own thread: the kernel
	 * takes the directory's lock for that, which the request that made
	 * the change may hold (ll.h). Guarded by mu. */
	fuse_ino_t *queue;
	size_t qn, qcap;
	/* checked again later: a name that went with another change is kept
	 * while unlinking it still answers 0 (ops_name) */
	struct later { fuse_ino_t ino; struct timespec due; } *later;
	size_t ln, lcap;
	pthread_cond_t wake, idle;
	pthread_t checker;
	bool checking, stopping, busy;
};

/* ---- the node table (inodes.h), under mu ---- */

static void forget(struct ll *ll, fuse_ino_t ino, uint64_t count)
{
	pthread_mutex_lock(&ll->mu);
	struct inode *n = inodes_get(&ll->t, ino);
	if (n)
		inodes_forget(&ll->t, n, count);
	pthread_mutex_unlock(&ll->mu);
}

static int path_of(struct ll *ll, fuse_ino_t ino, const char *name, char *out, size_t size)
{
	pthread_mutex_lock(&ll->mu);
	struct inode *n = inodes_get(&ll->t, ino);
	int rc = n ? inodes_path(&ll->t, n, name, out, size) : -ESTALE;
	pthread_mutex_unlock(&ll->mu);
	return rc;
}

/* mu held: n's names are to be checked (the checker below). */
static void queue_check(struct ll *ll, struct inode *n)
{
	if (n->queued || !ll->checking)
		return;
	if (ll->qn == ll->qcap) {
		size_t cap = ll->qcap ? ll->qcap * 2 : 256;
		fuse_ino_t *q = realloc(ll->queue, cap * sizeof(*q));
		if (!q)
			return; /* the names expire by themselves (LL_TIMEOUT) */
		ll->queue = q;
		ll->qcap = cap;
	}
	n->queued = true;
	ll->queue[ll->qn++] = inodes_id(n);
	pthread_cond_signal(&ll->wake);
}

/* kcache's inval (kcache.h): what the kernel keeps of path, dropped by
 * the node id it knows it by; -ENOENT if it holds none. Its names are
 * checked afterwards, by the checker. */
static int ll_invalidate(void *ctx, const char *path, bool names)
{
	struct ll *ll = ctx;
	pthread_mutex_lock(&ll->mu);
	struct inode *n = inodes_walk(&ll->t, path);
	fuse_ino_t ino = n ? inodes_id(n) : 0;
	if (n && names)
		queue_check(ll, n);
	pthread_mutex_unlock(&ll->mu);
	if (!ino)
		return -ENOENT;
	return fuse_lowlevel_notify_inval_inode(ll->se, ino, 0, 0);
}

/* A name the kernel may keep: the directory's node id, the name, its
 * path now, and what type of node it was. */
struct kept {
	fuse_ino_t parent;
	mode_t type;
	char *name, *path;
};

/* mu held: n itself, and what is named in it, into v (at most max). */
static size_t collect(const struct inodes *t, struct inode *n, struct kept *v, size_t max)
{
	size_t k = 0;
	char path[PATH_MAX];
	struct inode *up = inodes_parent(t, n);
	if (up && inodes_name(n) && k < max && inodes_path(t, n, NULL, path, sizeof(path)) == 0 &&
	    (v[k].name = strdup(inodes_name(n))) && (v[k].path = strdup(path))) {
		v[k].parent = inodes_id(up);
		v[k++].type = n->type;
	}
	for (struct inode *c = inodes_first(t, n); c && k < max; c = inodes_next(t, c)) {
		if (inodes_path(t, c, NULL, path, sizeof(path)) < 0)
			continue;
		v[k].name = strdup(inodes_name(c));
		v[k].path = strdup(path);
		v[k].parent = inodes_id(n);
		v[k].type = c->type;
		if (v[k].name && v[k].path)
			k++;
		else
			free(v[k].name), free(v[k].path);
	}
	return k;
}

/* The checker thread: each name the kernel keeps that is gone now (or is
 * now another type of node) is dropped, so that the kernel asks again.
 * Names that came need nothing (a failed LOOKUP is not kept); a name
 * that now means another item of the same type is the path it always was
 * (ll.h). No lock is held while the kernel is told (ll.h, the deadlock
 * rule). */
/* mu held: dir is to be checked again in `secs` seconds. */
static void check_later(struct ll *ll, fuse_ino_t dir, int secs)
{
	for (size_t i = 0; i < ll->ln; i++)
		if (ll->later[i].ino == dir)
			return;
	if (ll->ln == ll->lcap) {
		size_t cap = ll->lcap ? ll->lcap * 2 : 16;
		struct later *l = realloc(ll->later, cap * sizeof(*l));
		if (!l)
			return; /* the name expires by itself (LL_TIMEOUT) */
		ll->later = l;
		ll->lcap = cap;
	}
	struct later *l = &ll->later[ll->ln++];
	l->ino = dir;
	clock_gettime(CLOCK_REALTIME, &l->due);
	l->due.tv_sec += secs;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* mu held: wait for a node to check (or stopping); what is due from
 * `later` joins the queue. */
static void wait_work(struct ll *ll)
{
	for (;;) {
		struct timespec now, next = {0, 0};
		clock_gettime(CLOCK_REALTIME, &now);
		for (size_t i = 0; i < ll->ln;) {
			struct inode *n;
			if (!before(&now, &ll->later[i].due)) {
				if ((n = inodes_get(&ll->t, ll->later[i].ino)))
					queue_check(ll, n);
				ll->later[i] = ll->later[--ll->ln];
				continue;
			}
			if (!next.tv_sec || before(&ll->later[i].due, &next))
				next = ll->later[i].due;
			i++;
		}
		if (ll->qn || ll->stopping)
			return;
		if (next.tv_sec)
			pthread_cond_timedwait(&ll->wake, &ll->mu, &next);
		else
			pthread_cond_wait(&ll->wake, &ll->mu);
	}
}

static void *checker(void *arg)
{
	struct ll *ll = arg;
	size_t cap = 64;
	struct kept *v = malloc(cap * sizeof(*v));
	pthread_mutex_lock(&ll->mu);
	while (v) {
		wait_work(ll);
		if (ll->stopping)
			break;
		fuse_ino_t ino = ll->queue[--ll->qn];
		struct inode *n = inodes_get(&ll->t, ino);
		if (!n)
			continue;
		n->queued = false;
		size_t want = n->kids + 1;
		if (want > cap) {
			struct kept *w = realloc(v, want * sizeof(*v));
			if (w) {
				v = w;
				cap = want;
			}
		}
		size_t k = collect(&ll->t, n, v, cap);
		ll->busy = true;
		pthread_mutex_unlock(&ll->mu);
		fuse_ino_t again[2] = {0, 0}; /* n's parent, n */
		for (size_t i = 0; i < k; i++) {
			mode_t type = 0;
			/* no process: -1 is nobody's pid, where 0 would be
			 * anybody's to fresh.h (a copy's maker sees it empty) */
			ops_begin(ll->fs, -1);
			int rc = ops_name(ll->fs, v[i].path, &type);
			bool gone = rc == -ENOENT || rc == -ENOTDIR || (rc == 0 && type != v[i].type);
			if (rc == 1) /* went lately: kept a while (ops.h) */
				again[v[i].parent == ino] = v[i].parent;
			if (gone && !__atomic_load_n(&ll->stopping, __ATOMIC_ACQUIRE))
				fuse_lowlevel_notify_inval_entry(ll->se, v[i].parent, v[i].name, strlen(v[i].name));
			free(v[i].name);
			free(v[i].path);
		}
		pthread_mutex_lock(&ll->mu);
		for (int i = 0; i < 2; i++)
			if (again[i])
				check_later(ll, again[i], RFS_GONE_SECONDS + 1);
		ll->busy = false;
		pthread_cond_broadcast(&ll->idle);
	}
	pthread_mutex_unlock(&ll->mu);
	free(v);
	return NULL;
}

/* The loop has ended: nothing more is sent (the unmount closes /dev/fuse
 * next). A check blocked in the kernel (a directory locked by a request
 * nobody answers now) is let go by the unmount: wait for it a moment
 * only, and join it after the unmount (ll_run). */
static void checker_stop(struct ll *ll)
{
	if (!ll->checking)
		return;
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 1;
	pthread_mutex_lock(&ll->mu);
	__atomic_store_n(&ll->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&ll->wake);
	while (ll->busy && pthread_cond_timedwait(&ll->idle, &ll->mu, &dl) == 0)
		;
	pthread_mutex_unlock(&ll->mu);
}

/* ---- requests ---- */

static struct ll *begin(fuse_req_t req)
{
	struct ll *ll = fuse_req_userdata(req);
	ops_begin(ll->fs, fuse_req_ctx(req)->pid);
	return ll;
}

#define PATH_OR_REPLY(ll, req, ino, name, buf)                                 \
	do {                                                                   \
		int prc_ = path_of(ll, ino, name, buf, sizeof(buf));           \
		if (prc_ < 0) {                                                \
			fuse_reply_err(req, -prc_);                            \
			return;                                                \
		}                                                              \
	} while (0)

/* .runnerfs/ and what is in it */
static bool control(const struct inodes *t, const struct inode *n)
{
	struct inode *up;
	while ((up = inodes_parent(t, n)) && inodes_parent(t, up))
		n = up;
	return inodes_name(n) && !strcmp(inodes_name(n), ".runnerfs");
}

static double attr_timeout(struct ll *ll, fuse_ino_t ino)
{
	pthread_mutex_lock(&ll->mu);
	struct inode *n = inodes_get(&ll->t, ino);
	bool ctl = n && control(&ll->t, n);
	pthread_mutex_unlock(&ll->mu);
	return ctl ? LL_CONTROL_TIMEOUT : LL_TIMEOUT;
}

static void fill_entry(const struct inodes *t, struct fuse_entry_param *e, struct inode *n)
{
	e->ino = inodes_id(n);
	e->generation = n->gen; /* node ids are never used twice */
	e->entry_timeout = LL_TIMEOUT;
	e->attr_timeout = control(t, n) ? LL_CONTROL_TIMEOUT : LL_TIMEOUT;
}

/* The entry for name in parent, after the operation that made it (or a
 * LOOKUP): its attributes, and one more lookup counted. */
static int entry_of(struct ll *ll, fuse_ino_t parent, const char *name, const char *path,
		    struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	int rc = ll->op->getattr(path, &e->attr, fi);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ll->mu);
	struct inode *p = inodes_get(&ll->t, parent);
	struct inode *n = p ? inodes_lookup(&ll->t, p, name, e->attr.st_mode) : NULL;
	if (n)
		fill_entry(&ll->t, e, n);
	pthread_mutex_unlock(&ll->mu);
	return p ? n ? 0 : -ENOMEM : -ESTALE;
}

static void reply_entry(struct ll *ll, fuse_req_t req, const struct fuse_entry_param *e)
{
	/* interrupted: the kernel did not take it */
	if (fuse_reply_entry(req, e) == -ENOENT)
		forget(ll, e->ino, 1);
}

/* The reply to MKDIR, SYMLINK, LINK, MKNOD: the table's error, or the
 * entry it made. */
static void reply_made(struct ll *ll, fuse_req_t req, fuse_ino_t parent, const char *name,
		       const char *path, int rc)
{
	struct fuse_entry_param e;
	if (rc == 0)
		rc = entry_of(ll, parent, name, path, NULL, &e);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_entry(ll, req, &e);
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	struct fuse_entry_param e;
	PATH_OR_REPLY(ll, req, parent, name, path);
	int rc = entry_of(ll, parent, name, path, NULL, &e);
	if (rc < 0)
		fuse_reply_err(req, -rc); /* no negative entry: a name made a moment ago must be found */
	else
		reply_entry(ll, req, &e);
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget(fuse_req_userdata(req), ino, nlookup);
	fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct ll *ll = fuse_req_userdata(req);
	for (size_t i = 0; i < count; i++)
		forget(ll, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	struct stat st;
	memset(&st, 0, sizeof(st));
	int prc = path_of(ll, ino, NULL, path, sizeof(path));
	if (prc == -ESTALE) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	/* an unlinked node: only an open file still has attributes */
	int rc = ll->op->getattr(prc < 0 ? NULL : path, &st, fi);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, attr_timeout(ll, ino));
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		       struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	char buf[PATH_MAX];
	int prc = path_of(ll, ino, NULL, buf, sizeof(buf));
	if (prc == -ESTALE) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	const char *path = prc < 0 ? NULL : buf;
	int rc = 0;
	if (valid & FUSE_SET_ATTR_MODE)
		rc = ll->op->chmod(path, attr->st_mode, fi);
	if (rc == 0 && (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		rc = ll->op->chown(path, valid & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1,
				   valid & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1, fi);
	if (rc == 0 && (valid & FUSE_SET_ATTR_SIZE))
		rc = ll->op->truncate(path, attr->st_size, fi);
	if (rc == 0 && (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		struct timespec tv[2];
		tv[0].tv_sec = tv[1].tv_sec = 0;
		tv[0].tv_nsec = tv[1].tv_nsec = UTIME_OMIT;
		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		rc = ll->op->utimens(path, tv, fi);
	}
	struct stat st;
	memset(&st, 0, sizeof(st));
	if (rc == 0)
		rc = ll->op->getattr(path, &st, fi);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, attr_timeout(ll, ino));
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX], target[PATH_MAX + 1];
	PATH_OR_REPLY(ll, req, ino, NULL, path);
	int rc = ll->op->readlink(path, target, sizeof(target));
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
}

/* mknod(2) of a regular file is a create; nothing else is made here */
static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	(void)rdev;
	PATH_OR_REPLY(ll, req, parent, name, path);
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	struct fuse_file_info fi;
	struct fuse_entry_param e;
	memset(&fi, 0, sizeof(fi));
	fi.flags = O_CREAT | O_EXCL | O_WRONLY;
	int rc = ll->op->create(path, mode, &fi);
	if (rc == 0) {
		rc = entry_of(ll, parent, name, path, &fi, &e);
		ll->op->release(path, &fi);
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		reply_entry(ll, req, &e);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	PATH_OR_REPLY(ll, req, parent, name, path);
	reply_made(ll, req, parent, name, path, ll->op->mkdir(path, mode));
}

/* unlink, rmdir: the node keeps its id for what the kernel still holds,
 * and loses its name */
static void removed(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	PATH_OR_REPLY(ll, req, parent, name, path);
	int rc = dir ? ll->op->rmdir(path) : ll->op->unlink(path);
	if (rc == 0) {
		pthread_mutex_lock(&ll->mu);
		struct inode *p = inodes_get(&ll->t, parent);
		struct inode *n = p ? inodes_child(&ll->t, p, name) : NULL;
		if (n)
			inodes_cut(&ll->t, n);
		pthread_mutex_unlock(&ll->mu);
	}
	fuse_reply_err(req, -rc);
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	removed(req, parent, name, false);
}

static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	removed(req, parent, name, true);
}

static void ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	PATH_OR_REPLY(ll, req, parent, name, path);
	reply_made(ll, req, parent, name, path, ll->op->symlink(link, path));
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct ll *ll = begin(req);
	char from[PATH_MAX], to[PATH_MAX];
	PATH_OR_REPLY(ll, req, parent, name, from);
	PATH_OR_REPLY(ll, req, newparent, newname, to);
	int rc = ll->op->rename(from, to, flags);
	if (rc == 0) {
		/* the kernel moves its dentries once this is answered; the
		 * nodes follow now */
		pthread_mutex_lock(&ll->mu);
		struct inode *p = inodes_get(&ll->t, parent), *np = inodes_get(&ll->t, newparent);
		struct inode *n = p ? inodes_child(&ll->t, p, name) : NULL;
		struct inode *t = np ? inodes_child(&ll->t, np, newname) : NULL;
		/* RENAME_EXCHANGE is refused by the table (change.h) */
		if (t && t != n)
			inodes_cut(&ll->t, t);
		if (n && np)
			inodes_move(&ll->t, n, np, newname);
		pthread_mutex_unlock(&ll->mu);
	}
	fuse_reply_err(req, -rc);
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct ll *ll = begin(req);
	char from[PATH_MAX], to[PATH_MAX];
	PATH_OR_REPLY(ll, req, ino, NULL, from);
	PATH_OR_REPLY(ll, req, newparent, newname, to);
	reply_made(ll, req, newparent, newname, to, ll->op->link(from, to));
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	PATH_OR_REPLY(ll, req, ino, NULL, path);
	int rc = ll->op->open(path, fi);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_open(req, fi) == -ENOENT)
		ll->op->release(path, fi); /* interrupted: nobody will close it */
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	struct fuse_entry_param e;
	PATH_OR_REPLY(ll, req, parent, name, path);
	int rc = ll->op->create(path, mode, fi);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if ((rc = entry_of(ll, parent, name, path, fi, &e)) < 0) {
		ll->op->release(path, fi);
		fuse_reply_err(req, -rc);
	} else if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		forget(ll, e.ino, 1);
		ll->op->release(path, fi);
	}
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	(void)ino;
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* the open file knows what it reads: no path */
	int rc = ll->op->read(NULL, buf, size, off, fi);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
	free(buf);
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	/* the path names the file in a refusal's sentence */
	int prc = path_of(ll, ino, NULL, path, sizeof(path));
	int rc = ll->op->write(prc < 0 ? NULL : path, data, size, off, fi);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, (size_t)rc);
}

static void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	(void)ino;
	fuse_reply_err(req, -ll->op->flush(NULL, fi));
}

static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	(void)ino;
	ll->op->release(NULL, fi);
	fuse_reply_err(req, 0);
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	(void)ino;
	fuse_reply_err(req, -ll->op->fsync(NULL, datasync, fi));
}

/* OPENDIR takes in what an outside writer did (ops.h), so that `ls` right
 * after the writer's close lists the new version; the listing is then
 * kept by the kernel across opens (cache_readdir, keep_cache) until a
 * change drops it (ll_invalidate of the directory). Without OPENDIR
 * (ENOSYS) the kernel would list from its cache with no request at all,
 * before the watch thread has seen the writer's close. Whether the
 * listing may be kept is the table's to say (ops.c). */
static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	PATH_OR_REPLY(ll, req, ino, NULL, path);
	int rc = ll->op->opendir(path, fi);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (fuse_reply_open(req, fi) == -ENOENT)
		ll->op->releasedir(path, fi);
}

static void ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ll *ll = begin(req);
	(void)ino;
	ll->op->releasedir(NULL, fi);
	fuse_reply_err(req, 0);
}

struct dirbuf {
	struct ll *ll;
	fuse_req_t req;
	fuse_ino_t dir; /* held (inodes_hold) while entries are added */
	char *p;
	size_t size, len;
	bool plus;
};

static bool dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* ops' fuse_fill_dir_t: one entry into the reply, 1 once it is full.
 * With PLUS each entry is a lookup the kernel counts (not . and ..). */
static int fill(void *arg, const char *name, const struct stat *st, off_t off,
		enum fuse_fill_dir_flags flags)
{
	struct dirbuf *d = arg;
	size_t room = d->size - d->len, n;
	if (!d->plus) {
		n = fuse_add_direntry(d->req, d->p + d->len, room, name, st, off);
	} else {
		struct fuse_entry_param e;
		memset(&e, 0, sizeof(e));
		e.attr = *st;
		struct inode *node = NULL;
		if ((flags & FUSE_FILL_DIR_PLUS) && !dot_or_dotdot(name)) {
			pthread_mutex_lock(&d->ll->mu);
			struct inode *dir = inodes_get(&d->ll->t, d->dir);
			node = dir ? inodes_lookup(&d->ll->t, dir, name, st->st_mode) : NULL;
			if (node)
				fill_entry(&d->ll->t, &e, node);
			pthread_mutex_unlock(&d->ll->mu);
		}
		n = fuse_add_direntry_plus(d->req, d->p + d->len, room, name, &e, off);
		if (n > room && node) {
			pthread_mutex_lock(&d->ll->mu);
			if ((node = inodes_get(&d->ll->t, e.ino)))
				inodes_forget(&d->ll->t, node, 1); /* not handed out */
			pthread_mutex_unlock(&d->ll->mu);
		}
	}
	if (n > room)
		return 1;
	d->len += n;
	return 0;
}

/* Offsets are positions in the listing taken at offset 0 (ops.c) */
static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi, bool plus)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	PATH_OR_REPLY(ll, req, ino, NULL, path);
	struct dirbuf d = {ll, req, ino, malloc(size ? size : 1), size, 0, plus};
	if (!d.p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&ll->mu);
	struct inode *dir = inodes_get(&ll->t, ino);
	if (dir)
		inodes_hold(dir); /* kept while entries are added below it */
	pthread_mutex_unlock(&ll->mu);
	int rc = dir ? ll->op->readdir(path, &d, fill, off, fi, plus ? FUSE_READDIR_PLUS : 0) : -ESTALE;
	if (dir) {
		pthread_mutex_lock(&ll->mu);
		if ((dir = inodes_get(&ll->t, ino)))
			inodes_unhold(&ll->t, dir);
		pthread_mutex_unlock(&ll->mu);
	}
	if (rc < 0 && d.len == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, d.p, d.len);
	free(d.p);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, false);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, true);
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ll *ll = begin(req);
	struct statvfs sv;
	(void)ino;
	int rc = ll->op->statfs("/", &sv);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

static void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	PATH_OR_REPLY(ll, req, ino, NULL, path);
	fuse_reply_err(req, -ll->op->setxattr(path, name, value, size, flags));
}

/* size 0 asks for the size; else the value, or ERANGE */
static void reply_xattr(fuse_req_t req, int rc, const char *buf, size_t size)
{
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
}

static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	/* the kernel asks for security.capability at every write: only
	 * user.runnerfs.* exists here (ops.c) */
	if (strncmp(name, "user.runnerfs.", 14)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	PATH_OR_REPLY(ll, req, ino, NULL, path);
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	reply_xattr(req, ll->op->getxattr(path, name, buf, size), buf, size);
	free(buf);
}

static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	PATH_OR_REPLY(ll, req, ino, NULL, path);
	char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	reply_xattr(req, ll->op->listxattr(path, buf, size), buf, size);
	free(buf);
}

static void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct ll *ll = begin(req);
	char path[PATH_MAX];
	PATH_OR_REPLY(ll, req, ino, NULL, path);
	fuse_reply_err(req, -ll->op->removexattr(path, name));
}

static void ll_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ll *ll = userdata;
	/* READDIRPLUS for every part of a directory, not only the first */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	pthread_mutex_lock(&ll->fs->kc.mu);
	ll->fs->kc.ctx = ll;
	ll->fs->kc.inval = ll_invalidate;
	pthread_mutex_unlock(&ll->fs->kc.mu);
	pthread_mutex_lock(&ll->mu);
	ll->checking = pthread_create(&ll->checker, NULL, checker, ll) == 0;
	pthread_mutex_unlock(&ll->mu);
	if (!ll->checking)
		rfs_log(RFS_LOG_WARN, "cannot start the thread that checks names: they expire by themselves");
	ops_started(ll->fs);
	daemon_session_started(ll->se);
}

static void ll_destroy(void *userdata)
{
	struct ll *ll = userdata;
	ops_stopped(ll->fs);
}

static const struct fuse_lowlevel_ops ll_ops = {
	.init = ll_init,
	.destroy = ll_destroy,
	.lookup = ll_lookup,
	.forget = ll_forget,
	.forget_multi = ll_forget_multi,
	.getattr = ll_getattr,
	.setattr = ll_setattr,
	.readlink = ll_readlink,
	.mknod = ll_mknod,
	.mkdir = ll_mkdir,
	.unlink = ll_unlink,
	.rmdir = ll_rmdir,
	.symlink = ll_symlink,
	.rename = ll_rename,
	.link = ll_link,
	.open = ll_open,
	.create = ll_create,
	.read = ll_read,
	.write = ll_write,
	.flush = ll_flush,
	.release = ll_release,
	.fsync = ll_fsync,
	.opendir = ll_opendir,
	.releasedir = ll_releasedir,
	.readdir = ll_readdir,
	.readdirplus = ll_readdirplus,
	.statfs = ll_statfs,
	.setxattr = ll_setxattr,
	.getxattr = ll_getxattr,
	.listxattr = ll_listxattr,
	.removexattr = ll_removexattr,
};

/* fuse_main(), step by step (libfuse's helper.c), on a session of our own,
 * with one step more: once the loop has ended (its worker threads are
 * joined) and before the unmount closes /dev/fuse, no more invalidations
 * are sent (kcache_stop). The watch thread sends them through that
 * descriptor; one sent after the close would write to a closed
 * descriptor, or to whatever file next got its number. */
int ll_run(struct fuse_args *args, struct rfs *fs)
{
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *lc = NULL;
	struct ll ll;
	int res;
	memset(&ll, 0, sizeof(ll));
	ll.fs = fs;
	ll.op = rfs_operations();
	pthread_mutex_init(&ll.mu, NULL);
	pthread_cond_init(&ll.wake, NULL);
	pthread_cond_init(&ll.idle, NULL);
	if (fuse_parse_cmdline(args, &opts) != 0)
		return 1;
	if (!opts.mountpoint) {
		fprintf(stderr, "runnerfs: no mount point given\n");
		res = 2;
		goto out;
	}
	if (inodes_init(&ll.t) < 0) {
		res = 3;
		goto out;
	}
	ll.se = fuse_session_new(args, &ll_ops, sizeof(ll_ops), &ll);
	if (!ll.se) {
		res = 3;
		goto out;
	}
	if (fuse_session_mount(ll.se, opts.mountpoint) != 0) {
		res = 4;
		goto destroy;
	}
	if (procfd_mount_dev(opts.mountpoint, &fs->dev) < 0)
		fs->dev = 0; /* a last close then commits at RELEASE (ops.c) */
	if (fuse_daemonize(opts.foreground) != 0) {
		res = 5;
		goto unmount;
	}
	if (fuse_set_signal_handlers(ll.se) != 0) {
		res = 6;
		goto unmount;
	}
	if (opts.singlethread) {
		res = fuse_session_loop(ll.se);
	} else if (!(lc = fuse_loop_cfg_create())) {
		res = 7;
		fuse_remove_signal_handlers(ll.se);
		goto unmount;
	} else {
		fuse_loop_cfg_set_clone_fd(lc, opts.clone_fd);
		/* UINT_MAX is fuse_parse_cmdline's "not given"; libfuse
		 * 3.14.0 (Debian 12) logs "Ignoring invalid max threads
		 * value 4294967295" for it at every mount (into the
		 * journal of runnerfs@.service), so only a given value is
		 * passed on. */
		if (opts.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, opts.max_idle_threads);
		fuse_loop_cfg_set_max_threads(lc, opts.max_threads);
		res = fuse_session_loop_mt(ll.se, lc);
	}
	if (res)
		res = 8;
	fuse_remove_signal_handlers(ll.se);
unmount:
	kcache_stop(fs);
	checker_stop(&ll);
	fuse_session_unmount(ll.se);
	if (ll.checking)
		pthread_join(ll.checker, NULL);
destroy:
	fuse_session_destroy(ll.se);
out:
	if (lc)
		fuse_loop_cfg_destroy(lc);
	free(opts.mountpoint);
	inodes_free(&ll.t);
	free(ll.queue);
	free(ll.later);
	pthread_cond_destroy(&ll.wake);
	pthread_cond_destroy(&ll.idle);
	pthread_mutex_destroy(&ll.mu);
	return res;
}
