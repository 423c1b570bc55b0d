/* SPDX-License-Identifier: MIT */
/*
 * fs-fuse-ideal: the least any FUSE filesystem can cost on a warm walk: a
 * read-only passthrough of a directory on libfuse's low-level API, set up so
 * that the kernel serves a second walk by itself (dentries, attributes,
 * directory listings and file contents all cached, no OPEN/RELEASE/OPENDIR/
 * RELEASEDIR). Not a test: fs-read-all.sh mounts it over the tmpfs copy of
 * the tree, next to fs-fuse-floor, to show what FUSE costs at best here, and
 * what per-open state (which runnerfs's writes need) costs on top.
 *
 *   fs-fuse-ideal SRC MOUNTPOINT [-f] [-d] [-s] [-o OPTIONS...]
 *
 * Node ids are the source's inode numbers plus one (the source directory
 * itself is FUSE_ROOT_ID), mapped through a small hash table to paths
 * relative to SRC, with the kernel's lookup counts (forget drops them).
 * Entries and attributes are valid for IDEAL_TIMEOUT seconds; READDIRPLUS
 * (not AUTO) gives every listed entry its attributes; reads go through the
 * page cache (no direct_io).
 *
 * Environment:
 *   IDEAL_NO_OPEN=1    reply ENOSYS to open and opendir so that the kernel
 *                      stops sending OPEN/RELEASE/OPENDIR/RELEASEDIR
 *                      (FUSE_CAP_NO_OPEN_SUPPORT/_NO_OPENDIR_SUPPORT; the
 *                      kernel then opens files with FOPEN_KEEP_CACHE and
 *                      directories with FOPEN_KEEP_CACHE|FOPEN_CACHE_DIR);
 *                      each read or readdir opens its path itself.
 *                      0: keep OPEN: open replies with an fd as handle,
 *                      keep_cache and noflush; opendir with a DIR* as
 *                      handle, keep_cache and cache_readdir; release and
 *                      releasedir close them (per-open state, as runnerfs)
 *   IDEAL_TIMEOUT=3600 entry and attribute timeout in seconds
 *   IDEAL_MT=0         1: libfuse's multi-threaded loop (0: one thread)
 *   IDEAL_COUNT=0      1: print the requests received, by kind, to stderr
 *                      at exit. SIGUSR1 prints them at any time (and starts
 *                      counting again from zero), whatever IDEAL_COUNT is.
 */
#define FUSE_USE_VERSION 312

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int srcfd = -1;
static ino_t root_ino;
static double timeout = 3600;
static int no_open = 1;

static int env(const char *name, int def)
{
	const char *v = getenv(name);
	return v ? atoi(v) : def;
}

/* Request counters, by kind. */
enum {
	C_LOOKUP, C_FORGET, C_GETATTR, C_OPENDIR, C_READDIR, C_READDIRPLUS,
	C_RELEASEDIR, C_OPEN, C_READ, C_FLUSH, C_RELEASE, C_STATFS, C_N
};
static const char *const cname[C_N] = {
	"LOOKUP", "FORGET", "GETATTR", "OPENDIR", "READDIR", "READDIRPLUS",
	"RELEASEDIR", "OPEN", "READ", "FLUSH", "RELEASE", "STATFS",
};
static atomic_ulong counts[C_N];

static void count(int c)
{
	atomic_fetch_add_explicit(&counts[c], 1, memory_order_relaxed);
}

/* Appends the decimal digits of v at p; returns the end. Async-signal-safe. */
static char *put_ulong(char *p, unsigned long v)
{
	char t[24];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = t[--n];
	return p;
}

static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/* One line to stderr: "fs-fuse-ideal requests: total=N LOOKUP=N ...",
 * kinds with zero left out. Async-signal-safe; reset: count from zero. */
static void print_counts(int reset)
{
	char line[512], *p = line;
	unsigned long v[C_N], total = 0;
	for (int i = 0; i < C_N; i++) {
		v[i] = reset ? atomic_exchange(&counts[i], 0) : atomic_load(&counts[i]);
		total += v[i];
	}
	p = put_str(p, "fs-fuse-ideal requests: total=");
	p = put_ulong(p, total);
	for (int i = 0; i < C_N; i++) {
		if (!v[i])
			continue;
		p = put_str(p, " ");
		p = put_str(p, cname[i]);
		p = put_str(p, "=");
		p = put_ulong(p, v[i]);
	}
	*p++ = '\n';
	ssize_t w = write(2, line, (size_t)(p - line));
	(void)w;
}

static void on_usr1(int sig)
{
	(void)sig;
	print_counts(1);
}

/* The node table: node id -> path relative to srcfd ("." for the root) and
 * the kernel's lookup count. Chained hash, fixed number of buckets. */
struct node {
	struct node *next;
	fuse_ino_t id;
	uint64_t nlookup;
	char path[];
};
#define NBUCKETS (1u << 17)
static struct node *buckets[NBUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static fuse_ino_t node_id(ino_t ino)
{
	return ino == root_ino ? FUSE_ROOT_ID : (fuse_ino_t)ino + 1;
}

static struct node **slot(fuse_ino_t id)
{
	struct node **pp = &buckets[(id * 0x9e3779b97f4a7c15ull) >> 47 & (NBUCKETS - 1)];
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

/* path of id into buf (size PATH_MAX); 0 or -errno. */
static int node_path(fuse_ino_t id, char *buf)
{
	pthread_mutex_lock(&table_lock);
	struct node *n = *slot(id);
	if (n)
		snprintf(buf, PATH_MAX, "%s", n->path);
	pthread_mutex_unlock(&table_lock);
	return n ? 0 : -ESTALE;
}

/* One more lookup of id, known by path (added when new). 0 or -errno. */
static int node_ref(fuse_ino_t id, const char *path)
{
	int r = 0;
	pthread_mutex_lock(&table_lock);
	struct node **pp = slot(id);
	if (!*pp) {
		size_t len = strlen(path) + 1;
		struct node *n = malloc(sizeof(*n) + len);
		if (!n) {
			r = -ENOMEM;
			goto out;
		}
		n->next = NULL;
		n->id = id;
		n->nlookup = 0;
		memcpy(n->path, path, len);
		*pp = n;
	}
	(*pp)->nlookup++;
out:
	pthread_mutex_unlock(&table_lock);
	return r;
}

static void node_forget(fuse_ino_t id, uint64_t nlookup)
{
	pthread_mutex_lock(&table_lock);
	struct node **pp = slot(id);
	struct node *n = *pp;
	if (n && id != FUSE_ROOT_ID) {
		n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
		if (!n->nlookup) {
			*pp = n->next;
			free(n);
		}
	}
	pthread_mutex_unlock(&table_lock);
}

/* parent's path + "/" + name into buf (size PATH_MAX). */
static int child_path(char *buf, const char *parent, const char *name)
{
	int n = strcmp(parent, ".") ? snprintf(buf, PATH_MAX, "%s/%s", parent, name)
				    : snprintf(buf, PATH_MAX, "%s", name);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static void fill_entry(struct fuse_entry_param *e, const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->ino = node_id(st->st_ino);
	e->attr = *st;
	e->attr_timeout = timeout;
	e->entry_timeout = timeout;
}

static void i_init(void *data, struct fuse_conn_info *conn)
{
	(void)data;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (no_open) {
		unsigned need = FUSE_CAP_NO_OPEN_SUPPORT | FUSE_CAP_NO_OPENDIR_SUPPORT;
		if ((conn->capable & need) == need) {
			/* no effect in want (the kernel decides on the first
			 * ENOSYS), set for the record */
			conn->want |= need;
		} else {
			fprintf(stderr, "fs-fuse-ideal: the kernel cannot do without "
					"OPEN/OPENDIR: keeping them\n");
			no_open = 0;
		}
	}
}

static void i_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count(C_LOOKUP);
	char pp[PATH_MAX], p[PATH_MAX];
	struct stat st;
	struct fuse_entry_param e;
	int r = node_path(parent, pp);
	if (!r)
		r = child_path(p, pp, name);
	if (!r && fstatat(srcfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (!r) {
		fill_entry(&e, &st);
		r = node_ref(e.ino, p);
	}
	if (r)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

static void i_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	count(C_FORGET);
	node_forget(ino, nlookup);
	fuse_reply_none(req);
}

static void i_forget_multi(fuse_req_t req, size_t n, struct fuse_forget_data *f)
{
	count(C_FORGET);
	for (size_t i = 0; i < n; i++)
		node_forget(f[i].ino, f[i].nlookup);
	fuse_reply_none(req);
}

static void i_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	count(C_GETATTR);
	char p[PATH_MAX];
	struct stat st;
	int r = node_path(ino, p);
	if (!r && fstatat(srcfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, timeout);
}

static DIR *open_dir(fuse_ino_t ino, int *err)
{
	char p[PATH_MAX];
	int r = node_path(ino, p);
	int fd = r ? -1 : openat(srcfd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		*err = r ? -r : errno;
		if (fd >= 0)
			close(fd);
	}
	return d;
}

static void i_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(C_OPENDIR);
	if (no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	int err = 0;
	DIR *d = open_dir(ino, &err);
	if (!d) {
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	int err = 0;
	DIR *d = fi->fh ? (DIR *)(uintptr_t)fi->fh : open_dir(ino, &err);
	if (!d) {
		fuse_reply_err(req, err);
		return;
	}
	char *buf = malloc(size);
	if (!buf) {
		if (!fi->fh)
			closedir(d);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	char pp[PATH_MAX], p[PATH_MAX];
	size_t used = 0;
	if (plus && (err = -node_path(ino, pp)))
		goto out;
	/* a DIR* kept across requests is where the last one left it */
	if (!fi->fh || telldir(d) != off)
		seekdir(d, off);
	for (;;) {
		long here = telldir(d);
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			err = errno;
			break;
		}
		off_t next = telldir(d);
		size_t need;
		if (!plus) {
			struct stat st;
			memset(&st, 0, sizeof(st));
			st.st_ino = de->d_ino;
			st.st_mode = (mode_t)DTTOIF(de->d_type);
			need = fuse_add_direntry(req, buf + used, size - used, de->d_name, &st, next);
			if (need > size - used) {
				seekdir(d, here);
				break;
			}
			used += need;
			continue;
		}
		struct fuse_entry_param e;
		int dot = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
		if (dot) {
			/* type and inode only: no node for . and .. */
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = de->d_ino;
			e.attr.st_mode = (mode_t)DTTOIF(de->d_type);
		} else {
			struct stat st;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue; /* gone meanwhile */
			fill_entry(&e, &st);
		}
		need = fuse_add_direntry_plus(req, NULL, 0, de->d_name, &e, next);
		if (need > size - used) {
			seekdir(d, here);
			break;
		}
		if (!dot) {
			if (child_path(p, pp, de->d_name) || node_ref(e.ino, p))
				continue;
		}
		used += fuse_add_direntry_plus(req, buf + used, size - used, de->d_name, &e, next);
	}
out:
	if (!fi->fh)
		closedir(d);
	/* entries already counted must go out: an error only when none did */
	if (err && !used)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void i_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	count(C_READDIR);
	do_readdir(req, ino, size, off, fi, 0);
}

static void i_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	count(C_READDIRPLUS);
	do_readdir(req, ino, size, off, fi, 1);
}

static void i_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	count(C_RELEASEDIR);
	if (fi->fh)
		closedir((DIR *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void i_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(C_OPEN);
	if (no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	char p[PATH_MAX];
	int r = node_path(ino, p);
	int fd = r ? -1 : openat(srcfd, p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fuse_reply_err(req, r ? -r : errno);
		return;
	}
	/* fd + 1: 0 means "no handle" (no-open mode) */
	fi->fh = (uint64_t)fd + 1;
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void i_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	count(C_READ);
	int fd = -1, own = !fi->fh;
	if (own) {
		char p[PATH_MAX];
		int r = node_path(ino, p);
		fd = r ? -1 : openat(srcfd, p, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fuse_reply_err(req, r ? -r : errno);
			return;
		}
	} else {
		fd = (int)(fi->fh - 1);
	}
	char *buf = malloc(size ? size : 1);
	ssize_t n = buf ? pread(fd, buf, size, off) : -1;
	if (n < 0)
		fuse_reply_err(req, buf ? errno : ENOMEM);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
	if (own)
		close(fd);
}

static void i_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	count(C_FLUSH);
	/* read-only: nothing to flush. ENOSYS makes the kernel stop sending
	 * FLUSH (without OPEN there is no open reply to say noflush in) */
	fuse_reply_err(req, ENOSYS);
}

static void i_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	count(C_RELEASE);
	if (fi->fh)
		close((int)(fi->fh - 1));
	fuse_reply_err(req, 0);
}

static void i_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	count(C_STATFS);
	struct statvfs sv;
	if (fstatvfs(srcfd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
	.init = i_init,
	.lookup = i_lookup,
	.forget = i_forget,
	.forget_multi = i_forget_multi,
	.getattr = i_getattr,
	.opendir = i_opendir,
	.readdir = i_readdir,
	.readdirplus = i_readdirplus,
	.releasedir = i_releasedir,
	.open = i_open,
	.read = i_read,
	.flush = i_flush,
	.release = i_release,
	.statfs = i_statfs,
};

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fs-fuse-ideal SRC MOUNTPOINT [-f] [-d] [-s] [-o OPTIONS...]\n");
		return 2;
	}
	srcfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (srcfd < 0 || fstat(srcfd, &st) < 0) {
		perror(argv[1]);
		return 2;
	}
	root_ino = st.st_ino;
	no_open = env("IDEAL_NO_OPEN", 1) != 0;
	timeout = env("IDEAL_TIMEOUT", 3600);
	if (node_ref(FUSE_ROOT_ID, ".") < 0)
		return 2;

	/* the rest is the usual command line: argv[0] MOUNTPOINT [options] */
	argv[1] = argv[0];
	struct fuse_args args = FUSE_ARGS_INIT(argc - 1, argv + 1);
	struct fuse_cmdline_opts opts;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 2;
	if (!opts.mountpoint) {
		fprintf(stderr, "fs-fuse-ideal: no mountpoint\n");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);

	int ret = 1;
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(opts.foreground);
	if (env("IDEAL_MT", 0)) {
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(cfg, (unsigned)opts.clone_fd);
		fuse_loop_cfg_set_max_threads(cfg, opts.max_threads);
		ret = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	} else {
		ret = fuse_session_loop(se);
	}
	fuse_session_unmount(se);
	if (env("IDEAL_COUNT", 0))
		print_counts(0);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
