/* SPDX-License-Identifier: MIT */
/*
 * commit: config.toml on disk, written atomically. The contract is in
 * include/runnerfs/commit.h; this file records the decisions the header
 * leaves open.
 *
 * commit_write, the normal path (every call through c->ops):
 *
 *   fstatat(target)                   owner, mode, mtime of the current file
 *   openat(".<name>.runnerfs-XXXXXX", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW, 0600)
 *   write ...                         short writes continue, EINTR retries
 *   fchown(uid, gid)                  only when the file exists (a new file
 *                                     keeps the creator's owner, which also
 *                                     respects a setgid directory)
 *   fchmod(mode)                      the file's mode; 0600 for a new file
 *   futimens(mtime)                   max(now, previous mtime + 1 ns)
 *   fstatat(tmp, "", AT_EMPTY_PATH)   the new identity; if the filesystem
 *                                     rounded the mtime down to the previous
 *                                     one, futimens/fstatat again with a
 *                                     larger step (1 us, 1 ms, 1 s, 2 s)
 *   fsync(tmp), close(tmp)            close's error counts
 *   renameat(tmp, target)             the commit point
 *   fsync(dirfd)
 *   (the replaced file, open read-only since the lease checks, stays open:
 *   its last close frees its blocks, which no reply needs to wait for; the
 *   caller closes it once the change is answered (commit_retired), or the
 *   next write or commit_fini does)
 *
 * Any failure before the rename: unlinkat(tmp) (its error ignored), the
 * first -errno is returned and the target has not been touched.
 *
 * fsync of the directory fails after the rename: the new file is in place
 * (a reader sees it) but may not be durable. The error is returned, and
 * c->id is left describing the *old* file, so commit_changed() reports 1
 * and the caller reloads what is really on disk instead of going on with a
 * document that no longer matches it. EINVAL from fsync(dirfd) means the
 * filesystem cannot sync directories and is ignored (as SQLite does).
 *
 * The mtime: the runner reloads only when the mtime is newer than the one
 * it loaded, so the new mtime is after both the file's current mtime and
 * the one in c->id (the last we loaded or wrote, kept even when the file
 * has gone), and after now.
 *
 * The identity recorded after a write comes from fstat of the file we
 * wrote (dev, ino, size, mtime do not change on rename), not from a stat of
 * the name afterwards, which could already see someone else's file.
 *
 * The bind-mount fallback (renameat fails with EBUSY or EXDEV):
 *
 *   1. read the current file; write it to `.<name>.runnerfs-backup` with a
 *      plain O_CREAT|O_TRUNC write, fchmod 0600, fsync, close, fsync(dirfd).
 *      A plain write is enough: the target is not touched until the backup
 *      is complete and durable, so a torn backup never matters.
 *   2. open the target O_WRONLY|O_TRUNC, write, futimens, fsync, close.
 *   3. read it back and compare (a mismatch is -EIO).
 *   4. unlinkat the temp file and the backup (errors ignored: the write has
 *      succeeded; commit_cleanup_stale() removes a leftover temp later).
 *   If step 2 or 3 fails the old bytes are written back the same way
 *   (verified too); if that also fails the backup is kept, and in both
 *   cases c->warn says so. A failure in step 1 removes the partial backup.
 *   c->in_place is set and the warning logged once, when rename first
 *   fails that way; every later write still tries the rename first.
 *
 * commit_changed: fstatat by name; ENOENT, another dev/ino or size decide
 * at once. Otherwise (same inode and size) the content hash decides, even
 * when the mtime is the same: a writer can set the mtime back, and the
 * identity has no ctime. When the content is the same but the mtime has
 * moved (touch), c->id.mtime is updated.
 *
 * commit_init resolves a symlink in the last component (once, at init), so
 * that the rename replaces the file the link points to, not the link.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "runnerfs/commit.h"

#define TMP_TAG ".runnerfs-"
#define SUFFIX_LEN 6
#define BACKUP_SUFFIX "backup"
/* "." + name + ".runnerfs-" + suffix */
#define NAME_OVERHEAD (1 + (sizeof(TMP_TAG) - 1) + SUFFIX_LEN)
#define MAX_FILE_SIZE ((size_t)1 << 30)
#define MAX_SYMLINKS 40

/* ------------------------------------------------------------------ */
/* The real system calls                                               */

static int sys_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	return openat(dirfd, name, flags, mode);
}

static ssize_t sys_write(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len);
}

static ssize_t sys_read(int fd, void *buf, size_t len)
{
	return read(fd, buf, len);
}

static int sys_fsync(int fd)
{
	return fsync(fd);
}

static int sys_fchown(int fd, uid_t uid, gid_t gid)
{
	return fchown(fd, uid, gid);
}

static int sys_fchmod(int fd, mode_t mode)
{
	return fchmod(fd, mode);
}

static int sys_futimens(int fd, const struct timespec ts[2])
{
	return futimens(fd, ts);
}

static int sys_renameat(int olddirfd, const char *oldname, int newdirfd, const char *newname)
{
	return renameat(olddirfd, oldname, newdirfd, newname);
}

static int sys_unlinkat(int dirfd, const char *name, int flags)
{
	return unlinkat(dirfd, name, flags);
}

static int sys_fstatat(int dirfd, const char *name, struct stat *st, int flags)
{
	return fstatat(dirfd, name, st, flags);
}

static int sys_close(int fd)
{
	return close(fd);
}

const struct commit_ops commit_sys_ops = {
	.openat = sys_openat,
	.write = sys_write,
	.read = sys_read,
	.fsync = sys_fsync,
	.fchown = sys_fchown,
	.fchmod = sys_fchmod,
	.futimens = sys_futimens,
	.renameat = sys_renameat,
	.unlinkat = sys_unlinkat,
	.fstatat = sys_fstatat,
	.close = sys_close,
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* The -errno of a call that has just failed; never 0. */
static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* XXH64 (seed 0), written from the published algorithm. */
#define XP1 0x9E3779B185EBCA87ULL
#define XP2 0xC2B2AE3D27D4EB4FULL
#define XP3 0x165667B19E3779F9ULL
#define XP4 0x85EBCA77C2B2AE63ULL
#define XP5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

static inline uint32_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t xround(uint64_t acc, uint64_t in)
{
	acc += in * XP2;
	acc = rotl64(acc, 31);
	return acc * XP1;
}

static inline uint64_t xmerge(uint64_t acc, uint64_t v)
{
	acc ^= xround(0, v);
	return acc * XP1 + XP4;
}

static uint64_t hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	const unsigned char *end = p + len;
	uint64_t h;

	if (len >= 32) {
		const unsigned char *limit = end - 32;
		uint64_t v1 = XP1 + XP2, v2 = XP2, v3 = 0, v4 = -XP1;
		do {
			v1 = xround(v1, rd64(p));
			v2 = xround(v2, rd64(p + 8));
			v3 = xround(v3, rd64(p + 16));
			v4 = xround(v4, rd64(p + 24));
			p += 32;
		} while (p <= limit);
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		h = xmerge(h, v1);
		h = xmerge(h, v2);
		h = xmerge(h, v3);
		h = xmerge(h, v4);
	} else {
		h = XP5;
	}
	h += (uint64_t)len;
	while (end - p >= 8) {
		h ^= xround(0, rd64(p));
		h = rotl64(h, 27) * XP1 + XP4;
		p += 8;
	}
	if (end - p >= 4) {
		h ^= (uint64_t)rd32(p) * XP1;
		h = rotl64(h, 23) * XP2 + XP3;
		p += 4;
	}
	while (p < end) {
		h ^= (uint64_t)*p * XP5;
		h = rotl64(h, 11) * XP1;
		p++;
	}
	h ^= h >> 33;
	h *= XP2;
	h ^= h >> 29;
	h *= XP3;
	h ^= h >> 32;
	return h;
}

static int ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	if (a.tv_nsec != b.tv_nsec)
		return a.tv_nsec < b.tv_nsec ? -1 : 1;
	return 0;
}

static struct timespec ts_add_ns(struct timespec t, long long ns)
{
	t.tv_sec += ns / 1000000000LL;
	t.tv_nsec += ns % 1000000000LL;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static struct timespec ts_max(struct timespec a, struct timespec b)
{
	return ts_cmp(a, b) >= 0 ? a : b;
}

static int write_all(const struct commit_ops *o, int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = o->write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return neg_errno();
		}
		if (n == 0 || (size_t)n > len)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read fd to its end into a malloc'd, NUL-terminated buffer. */
static int read_all(const struct commit_ops *o, int fd, size_t hint, char **out, size_t *outlen)
{
	size_t cap = hint < 4096 ? 4096 : hint + 1;
	size_t len = 0;
	char *b;

	if (cap > MAX_FILE_SIZE + 1)
		cap = MAX_FILE_SIZE + 1;
	b = malloc(cap);
	if (!b)
		return -ENOMEM;
	for (;;) {
		if (cap - len < 2) {
			size_t ncap;
			char *nb;
			if (cap > MAX_FILE_SIZE) {
				free(b);
				return -EFBIG;
			}
			ncap = cap * 2;
			nb = realloc(b, ncap);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap = ncap;
		}
		ssize_t n = o->read(fd, b + len, cap - len - 1);
		if (n < 0) {
			int r;
			if (errno == EINTR)
				continue;
			r = neg_errno();
			free(b);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	b[len] = '\0';
	*out = b;
	*outlen = len;
	return 0;
}

/*
 * Open the file for reading and fstat the open file. *fdp = -1 when it
 * does not exist. O_NONBLOCK keeps a FIFO put there from blocking us.
 */
static int open_current(struct commit *c, int *fdp, struct stat *st)
{
	const struct commit_ops *o = c->ops;
	int fd = o->openat(c->dirfd, c->name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
	int r;

	*fdp = -1;
	if (fd < 0)
		return errno == ENOENT ? 0 : neg_errno();
	if (o->fstatat(fd, "", st, AT_EMPTY_PATH) < 0) {
		r = neg_errno();
		o->close(fd);
		return r;
	}
	if (!S_ISREG(st->st_mode)) {
		o->close(fd);
		return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	}
	*fdp = fd;
	return 0;
}

/* Read the whole current file; *exists = 0 (and an empty buffer) if missing. */
static int read_current(struct commit *c, char **bytes, size_t *len, struct stat *st, int *exists)
{
	int fd, r;

	r = open_current(c, &fd, st);
	if (r < 0)
		return r;
	if (fd < 0) {
		*exists = 0;
		*bytes = calloc(1, 1);
		*len = 0;
		return *bytes ? 0 : -ENOMEM;
	}
	/* Someone who has the file open for writing (the runner rewrites it
	 * in place: O_TRUNC, then writes) may leave it half-written, and a
	 * half-written file can parse. A read lease is granted only while
	 * nobody has it open for writing, and holds new writers off while we
	 * read. Where leases are not available we cannot tell, and read. */
	bool leased = fcntl(fd, F_SETLEASE, F_RDLCK) == 0;
	if (!leased && errno == EAGAIN) {
		c->ops->close(fd);
		return -EBUSY;
	}
	r = read_all(c->ops, fd, (size_t)st->st_size, bytes, len);
	if (leased)
		fcntl(fd, F_SETLEASE, F_UNLCK);
	c->ops->close(fd); /* read-only: nothing to lose */
	*exists = 1;
	return r;
}

/* Does someone have fd's file open for writing? (see read_current) */
static bool open_for_writing(int fd)
{
	bool busy = fcntl(fd, F_SETLEASE, F_RDLCK) < 0 && errno == EAGAIN;
	if (!busy)
		fcntl(fd, F_SETLEASE, F_UNLCK);
	return busy;
}

/* Is someone writing the file right now? 1, 0 or -errno. *keep: the file,
 * open read-only, when nobody is (-1 when it does not exist): commit_write
 * looks at it again after its rename. */
static int writer_active(struct commit *c, int *keep)
{
	struct stat st;
	int fd;
	*keep = -1;
	int r = open_current(c, &fd, &st);
	if (r < 0 || fd < 0)
		return r < 0 ? r : 0;
	if (open_for_writing(fd)) {
		c->ops->close(fd);
		return 1;
	}
	*keep = fd;
	return 0;
}

int commit_busy(struct commit *c)
{
	int fd = -1; /* stays -1 without a directory to look in */
	int r = c->dirfd >= 0 ? writer_active(c, &fd) : 0;
	if (r == 0 && fd >= 0)
		c->ops->close(fd);
	return r;
}

int commit_raced(struct commit *c, char **bytes, size_t *len, int force)
{
	if (c->raced_fd < 0)
		return -ENOENT;
	struct stat st;
	int r = c->ops->fstatat(c->raced_fd, "", &st, AT_EMPTY_PATH) < 0 ? neg_errno() : 0;
	/* their open was waiting for our lease: until it has truncated or
	 * written the file, they have not started */
	bool started = r < 0 || !c->raced_waiting || st.st_size != c->raced_was.size ||
		       ts_cmp(st.st_mtim, c->raced_was.mtime) != 0;
	if (!force && (!started || open_for_writing(c->raced_fd)))
		return -EBUSY;
	if (!force && r == 0 && c->ops->fstatat(c->raced_fd, "", &st, AT_EMPTY_PATH) < 0)
		r = neg_errno(); /* the size after they closed */
	if (r == 0 && lseek(c->raced_fd, 0, SEEK_SET) < 0)
		r = neg_errno();
	if (r == 0)
		r = read_all(c->ops, c->raced_fd, (size_t)st.st_size, bytes, len);
	c->ops->close(c->raced_fd);
	c->raced_fd = -1;
	return r;
}

static void warnf(struct commit *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warnf(struct commit *c, const char *fmt, ...)
{
	char msg[PATH_MAX + 256];
	va_list ap;

	if (!c->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->warn(c->warn_arg, msg);
}

static void random_suffix(char out[SUFFIX_LEN + 1])
{
	static const char set[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static uint64_t counter;
	unsigned char rnd[SUFFIX_LEN];

	do {
		if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			uint64_t seed[4] = { (uint64_t)now.tv_sec, (uint64_t)now.tv_nsec,
					     (uint64_t)getpid(), ++counter };
			uint64_t h = hash_bytes(seed, sizeof seed);
			memcpy(rnd, &h, sizeof rnd);
		}
		for (int i = 0; i < SUFFIX_LEN; i++)
			out[i] = set[rnd[i] % (sizeof set - 1)];
		out[SUFFIX_LEN] = '\0';
	} while (strcmp(out, BACKUP_SUFFIX) == 0);
}

/* Create the temp file; its name goes to tmp (NAME_MAX + 1 bytes). */
static int create_temp(struct commit *c, char *tmp)
{
	for (int tries = 0; tries < 100; tries++) {
		char sfx[SUFFIX_LEN + 1];
		random_suffix(sfx);
		snprintf(tmp, NAME_MAX + 1, "." "%s" TMP_TAG "%s", c->name, sfx);
		int fd = c->ops->openat(c->dirfd, tmp,
					O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return neg_errno();
	}
	return -EEXIST;
}

/*
 * Set the mtime of fd strictly after prev (and not before now); *st gets
 * the file's stat afterwards. A filesystem with coarse timestamps may round
 * the time down to prev; then a larger step is tried.
 */
static int set_mtime(const struct commit_ops *o, int fd, struct timespec prev, struct stat *st)
{
	static const long long step[] = { 1, 1000, 1000000, 1000000000LL, 2000000000LL };
	struct timespec now;
	struct timespec want;

	clock_gettime(CLOCK_REALTIME, &now);
	want = ts_max(now, ts_add_ns(prev, step[0]));
	for (size_t i = 0;; i++) {
		struct timespec ts[2] = { { .tv_sec = 0, .tv_nsec = UTIME_OMIT }, want };
		if (o->futimens(fd, ts) < 0)
			return neg_errno();
		if (o->fstatat(fd, "", st, AT_EMPTY_PATH) < 0)
			return neg_errno();
		if (ts_cmp(st->st_mtim, prev) > 0 || i + 1 == sizeof step / sizeof step[0])
			return 0; /* best effort past the last step */
		want = ts_max(want, ts_add_ns(prev, step[i + 1]));
	}
}

static void set_id(struct commit *c, const struct stat *st, const char *bytes, size_t len)
{
	c->id.dev = st->st_dev;
	c->id.ino = st->st_ino;
	c->id.size = (off_t)len;
	c->id.mtime = st->st_mtim;
	c->id.ctime = st->st_ctim;
	c->id.hash = hash_bytes(bytes, len);
	c->id.exists = 1;
}

/* ------------------------------------------------------------------ */
/* init / fini                                                         */

/* Follow a symlink in the last component; returns a malloc'd path. */
static int resolve_last(const struct commit_ops *o, const char *path, char **out)
{
	char *cur = strdup(path);

	if (!cur)
		return -ENOMEM;
	for (int n = 0;; n++) {
		struct stat st;
		char target[PATH_MAX];
		ssize_t tl;
		char *next;

		if (o->fstatat(AT_FDCWD, cur, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
			break; /* missing or not a link: the path is final */
		if (n == MAX_SYMLINKS) {
			free(cur);
			return -ELOOP;
		}
		tl = readlink(cur, target, sizeof target - 1);
		if (tl < 0) {
			int r = neg_errno();
			free(cur);
			return r;
		}
		target[tl] = '\0';
		const char *slash = strrchr(cur, '/');
		if (target[0] == '/' || !slash) {
			next = strdup(target);
		} else {
			int dl = (int)(slash - cur) + 1;
			if (asprintf(&next, "%.*s%s", dl, cur, target) < 0)
				next = NULL;
		}
		free(cur);
		if (!next)
			return -ENOMEM;
		cur = next;
	}
	*out = cur;
	return 0;
}

int commit_init(struct commit *c, const char *path, const struct commit_ops *ops)
{
	char *real = NULL;
	const char *slash;
	int r;

	memset(c, 0, sizeof *c);
	c->dirfd = -1;
	c->raced_fd = -1;
	c->retired_fd = -1;
	c->ops = ops ? ops : &commit_sys_ops;
	if (!path || !*path)
		return -EINVAL;
	c->path = strdup(path);
	if (!c->path)
		return -ENOMEM;
	r = resolve_last(c->ops, path, &real);
	if (r < 0)
		goto fail;

	slash = strrchr(real, '/');
	if (!slash) {
		c->dir = strdup(".");
		c->name = strdup(real);
	} else {
		c->dir = slash == real ? strdup("/") : strndup(real, (size_t)(slash - real));
		c->name = strdup(slash + 1);
	}
	free(real);
	if (!c->dir || !c->name) {
		r = -ENOMEM;
		goto fail;
	}
	if (!*c->name || !strcmp(c->name, ".") || !strcmp(c->name, "..")) {
		r = -EINVAL;
		goto fail;
	}
	if (strlen(c->name) + NAME_OVERHEAD > NAME_MAX) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	c->dirfd = c->ops->openat(AT_FDCWD, c->dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0);
	if (c->dirfd < 0) {
		r = neg_errno();
		c->dirfd = -1;
		goto fail;
	}
	return 0;
fail:
	commit_fini(c);
	return r;
}

void commit_fini(struct commit *c)
{
	/* A real close: the ops may be a test double that no longer works. */
	if (c->dirfd >= 0)
		close(c->dirfd);
	if (c->raced_fd >= 0)
		close(c->raced_fd);
	if (c->retired_fd >= 0)
		close(c->retired_fd);
	c->raced_fd = -1;
	c->retired_fd = -1;
	free(c->path);
	free(c->dir);
	free(c->name);
	c->path = c->dir = c->name = NULL;
	c->dirfd = -1;
}

/* ------------------------------------------------------------------ */
/* load / changed                                                      */

int commit_load(struct commit *c, char **bytes, size_t *len)
{
	struct stat st;
	char *b = NULL;
	size_t n = 0;
	int exists, r;

	if (c->dirfd < 0)
		return -EBADF;
	r = read_current(c, &b, &n, &st, &exists);
	if (r < 0)
		return r;
	if (exists) {
		set_id(c, &st, b, n);
	} else {
		/* the last mtime is kept: a new file must still be newer */
		struct timespec keep = c->id.mtime;
		memset(&c->id, 0, sizeof c->id);
		c->id.mtime = keep;
		c->id.hash = hash_bytes("", 0);
	}
	*bytes = b;
	*len = n;
	return 0;
}

int commit_changed(struct commit *c)
{
	const struct commit_ops *o = c->ops;
	struct stat st;
	char *b = NULL;
	size_t n = 0;
	int exists, r;

	if (c->dirfd < 0)
		return -EBADF;
	if (o->fstatat(c->dirfd, c->name, &st, 0) < 0) {
		if (errno == ENOENT)
			return c->id.exists ? 1 : 0;
		return neg_errno();
	}
	if (!c->id.exists)
		return 1;
	if (st.st_dev != c->id.dev || st.st_ino != c->id.ino || st.st_size != c->id.size)
		return 1;

	/* Same inode, size, mtime and ctime: nothing has written it (a write
	 * or a utimens to set the mtime back would change ctime). */
	if (ts_cmp(st.st_mtim, c->id.mtime) == 0 && ts_cmp(st.st_ctim, c->id.ctime) == 0)
		return 0;

	/* Same inode and size: only the bytes can tell. */
	r = read_current(c, &b, &n, &st, &exists);
	if (r < 0)
		return r;
	r = !exists || st.st_dev != c->id.dev || st.st_ino != c->id.ino ||
	    (off_t)n != c->id.size || hash_bytes(b, n) != c->id.hash;
	free(b);
	if (!r && ts_cmp(st.st_mtim, c->id.mtime) != 0)
		c->id.mtime = st.st_mtim; /* touched, same content */
	return r;
}

/* ------------------------------------------------------------------ */
/* write                                                               */

/* O_TRUNC write in place, mtime after *last, fsync, read back, compare. */
static int write_verify_in_place(struct commit *c, const char *bytes, size_t len,
				 struct timespec *last, struct stat *st)
{
	const struct commit_ops *o = c->ops;
	char *back = NULL;
	size_t backlen = 0;
	int fd, r, exists;
	struct stat rst;

	fd = o->openat(c->dirfd, c->name, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0);
	if (fd < 0)
		return neg_errno();
	r = write_all(o, fd, bytes, len);
	if (r == 0) {
		r = set_mtime(o, fd, *last, st);
		if (r == 0)
			*last = ts_max(*last, st->st_mtim);
	}
	if (r == 0 && o->fsync(fd) < 0)
		r = neg_errno();
	if (o->close(fd) < 0 && r == 0)
		r = neg_errno();
	if (r < 0)
		return r;

	r = read_current(c, &back, &backlen, &rst, &exists);
	if (r < 0)
		return r;
	if (!exists || backlen != len || memcmp(back, bytes, len) != 0 ||
	    rst.st_ino != st->st_ino || rst.st_dev != st->st_dev)
		r = -EIO;
	free(back);
	return r;
}

static int write_backup(struct commit *c, const char *bname, const char *old, size_t oldlen)
{
	const struct commit_ops *o = c->ops;
	int fd, r;

	fd = o->openat(c->dirfd, bname,
		       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return neg_errno();
	r = write_all(o, fd, old, oldlen);
	if (r == 0 && o->fchmod(fd, 0600) < 0)
		r = neg_errno();
	if (r == 0 && o->fsync(fd) < 0)
		r = neg_errno();
	if (o->close(fd) < 0 && r == 0)
		r = neg_errno();
	if (r == 0 && o->fsync(c->dirfd) < 0 && errno != EINVAL)
		r = neg_errno();
	return r;
}

/* rename failed with EBUSY/EXDEV: the target is a mount point. */
static int write_in_place(struct commit *c, const char *bytes, size_t len,
			  const char *tmp, struct timespec prev)
{
	const struct commit_ops *o = c->ops;
	char bname[NAME_MAX + 1];
	char *old = NULL;
	size_t oldlen = 0;
	struct stat st, ost;
	struct timespec last = prev;
	int r, r2, exists;

	if (!c->in_place) {
		c->in_place = 1;
		warnf(c, "%s is a single-file bind mount; writes are in place, not atomic; "
			 "mount its directory instead", c->path);
	}
	snprintf(bname, sizeof bname, "." "%s" TMP_TAG BACKUP_SUFFIX, c->name);

	r = read_current(c, &old, &oldlen, &ost, &exists);
	if (r < 0) {
		o->unlinkat(c->dirfd, tmp, 0);
		return r;
	}
	r = write_backup(c, bname, old, oldlen);
	if (r < 0) {
		o->unlinkat(c->dirfd, bname, 0);
		o->unlinkat(c->dirfd, tmp, 0);
		free(old);
		return r;
	}

	r = write_verify_in_place(c, bytes, len, &last, &st);
	if (r < 0) {
		struct stat rst;
		r2 = write_verify_in_place(c, old, oldlen, &last, &rst);
		if (r2 == 0) {
			o->unlinkat(c->dirfd, bname, 0);
			warnf(c, "%s: in-place write failed (%s); the old content was written back",
			      c->path, strerror(-r));
		} else {
			warnf(c, "%s: in-place write failed (%s) and so did writing the old content "
				 "back (%s); the old content is kept in %s/%s",
			      c->path, strerror(-r), strerror(-r2), c->dir, bname);
		}
		o->unlinkat(c->dirfd, tmp, 0);
		free(old);
		return r;
	}
	free(old);
	o->unlinkat(c->dirfd, tmp, 0);
	o->unlinkat(c->dirfd, bname, 0);
	set_id(c, &st, bytes, len);
	return 0;
}

/* The replaced file, kept open until commit_retired() takes it: the last
 * close of a file renamed over frees its blocks (ext4, 1.3 MB: a few
 * hundred microseconds), which nothing before the reply needs. One at a
 * time: a file nobody took is closed by the next write. */
static void commit_retire(struct commit *c, int fd)
{
	if (c->retired_fd >= 0)
		c->ops->close(c->retired_fd);
	c->retired_fd = fd;
}

int commit_retired(struct commit *c)
{
	int fd = c->retired_fd;
	c->retired_fd = -1;
	return fd;
}

int commit_write(struct commit *c, const char *bytes, size_t len)
{
	/* never replace a file someone is in the middle of writing: their
	 * writes would land in the replaced inode and be lost */
	int oldfd = -1;
	int active = c->dirfd >= 0 ? writer_active(c, &oldfd) : 0;
	if (active)
		return active < 0 ? active : -EBUSY;
	if (c->raced_fd >= 0) { /* the caller did not take it: too late now */
		c->ops->close(c->raced_fd);
		c->raced_fd = -1;
	}
	const struct commit_ops *o = c->ops;
	char tmp[NAME_MAX + 1];
	struct stat cur, st;
	struct timespec prev;
	mode_t mode = 0600;
	int exists = 0;
	int fd, r;

	if (c->dirfd < 0)
		return -EBADF;
	if (!bytes && len) {
		if (oldfd >= 0)
			o->close(oldfd);
		return -EINVAL;
	}
	if (!bytes)
		bytes = "";

	if (o->fstatat(c->dirfd, c->name, &cur, 0) == 0) {
		exists = 1;
		mode = cur.st_mode & 07777;
	} else if (errno != ENOENT) {
		r = neg_errno();
		if (oldfd >= 0)
			o->close(oldfd);
		return r;
	}
	prev = c->id.mtime;
	if (exists)
		prev = ts_max(prev, cur.st_mtim);

	fd = create_temp(c, tmp);
	if (fd < 0) {
		if (oldfd >= 0)
			o->close(oldfd);
		return fd;
	}
	r = write_all(o, fd, bytes, len);
	if (r < 0)
		goto fail;
	if (exists && o->fchown(fd, cur.st_uid, cur.st_gid) < 0) {
		r = neg_errno();
		goto fail;
	}
	if (o->fchmod(fd, mode) < 0) {
		r = neg_errno();
		goto fail;
	}
	r = set_mtime(o, fd, prev, &st);
	if (r < 0)
		goto fail;
	if (o->fsync(fd) < 0) {
		r = neg_errno();
		goto fail;
	}
	r = o->close(fd);
	fd = -1; /* closed even when close fails */
	if (r < 0) {
		r = neg_errno();
		goto fail;
	}
	/* Last look before the rename: if someone wrote the file since we
	 * read it (and closed it again, so no lease told us), our bytes are
	 * built on an old version: give up; the caller starts over on top of
	 * theirs. */
	/* From here to just after the rename, a read lease on the file we
	 * replace holds off anyone who opens it for writing (the runner
	 * saving its token): their open waits until we let go, and we see
	 * that they wait. Taken only now, so that a slow fsync above does
	 * not hold them. */
	bool leased = false;
	if (oldfd >= 0) {
		if (fcntl(oldfd, F_SETLEASE, F_RDLCK) == 0)
			leased = true;
		else if (errno == EAGAIN) {
			r = -EBUSY; /* someone has it open for writing now */
			goto fail;
		}
	}
	if (c->id.exists && (r = commit_changed(c)) != 0) {
		if (r > 0)
			r = -EBUSY;
		goto fail;
	}
	/* someone's open for writing is waiting for our lease: let them
	 * write the file they found, and start over on top of it */
	if (leased && fcntl(oldfd, F_GETLEASE) != F_RDLCK) {
		r = -EBUSY;
		goto fail;
	}
	if (o->renameat(c->dirfd, tmp, c->dirfd, c->name) < 0) {
		r = neg_errno();
		if (r == -EBUSY || r == -EXDEV) {
			if (oldfd >= 0)
				o->close(oldfd);
			return write_in_place(c, bytes, len, tmp, prev);
		}
		goto fail;
	}
	/* an open that came in the moment between the look before the rename
	 * and the rename is waiting for our lease: it will write the file we
	 * replaced. Let it go now (not after the fsync below). */
	bool waiting = leased && fcntl(oldfd, F_GETLEASE) != F_RDLCK;
	if (leased)
		fcntl(oldfd, F_SETLEASE, F_UNLCK);
	/* The new file is in place: whatever happens now, it is what readers
	 * of CONFIG see, so it is what c->id records (commit.h). */
	int durable = o->fsync(c->dirfd) < 0 && errno != EINVAL ? COMMIT_NOT_DURABLE : 0;
	/* rename changed its ctime: take the one it has now, if it is still
	 * our file, so that our own write needs no rereading to be known */
	struct stat now;
	if (o->fstatat(c->dirfd, c->name, &now, 0) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev)
		st.st_ctim = now.st_ctim;
	/* Last look after the rename: did someone open the file we replaced
	 * for writing between the look before it and the rename (their open
	 * found it by name a moment before)? Their bytes go to a file nobody
	 * reads any more: tell the caller, who takes them (commit_raced).
	 * Size and mtime, not ctime: our rename changed that. */
	int raced = 0;
	if (oldfd >= 0 && c->id.exists) {
		struct stat os;
		raced = waiting ||
			(o->fstatat(oldfd, "", &os, AT_EMPTY_PATH) == 0 &&
			 (os.st_size != c->id.size || ts_cmp(os.st_mtim, c->id.mtime) != 0)) ||
			open_for_writing(oldfd);
		if (raced) {
			c->raced_fd = oldfd;
			c->raced_waiting = waiting;
			c->raced_was = c->id;
			oldfd = -1;
		}
	}
	if (oldfd >= 0)
		commit_retire(c, oldfd);
	set_id(c, &st, bytes, len);
	return raced ? COMMIT_RACED : durable;
fail:
	if (fd >= 0)
		o->close(fd);
	if (oldfd >= 0)
		o->close(oldfd);
	o->unlinkat(c->dirfd, tmp, 0);
	return r;
}

/* ------------------------------------------------------------------ */
/* cleanup                                                             */

/*
 * Remove `.<name>.runnerfs-XXXXXX` regular files (six letters or digits,
 * not "backup"). Returns how many were removed, or the first -errno.
 */
int commit_cleanup_stale(struct commit *c)
{
	const struct commit_ops *o = c->ops;
	char prefix[NAME_MAX + 1];
	size_t plen;
	DIR *d;
	struct dirent *de;
	int fd, n = 0, err = 0;

	if (c->dirfd < 0)
		return -EBADF;
	plen = (size_t)snprintf(prefix, sizeof prefix, "." "%s" TMP_TAG, c->name);
	fd = o->openat(c->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return neg_errno();
	d = fdopendir(fd);
	if (!d) {
		int r = neg_errno();
		o->close(fd);
		return r;
	}
	for (;;) {
		struct stat st;
		const char *sfx;
		bool ok = true;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno && !err)
				err = -errno;
			break;
		}
		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		sfx = de->d_name + plen;
		if (strlen(sfx) != SUFFIX_LEN || !strcmp(sfx, BACKUP_SUFFIX))
			continue;
		for (const char *s = sfx; *s; s++)
			if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			      (*s >= '0' && *s <= '9')))
				ok = false;
		if (!ok)
			continue;
		if (o->fstatat(c->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (o->unlinkat(c->dirfd, de->d_name, 0) == 0)
			n++;
		else if (errno != ENOENT && !err)
			err = neg_errno();
	}
	closedir(d);
	return err ? err : n;
}
