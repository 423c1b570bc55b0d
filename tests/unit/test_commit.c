/* SPDX-License-Identifier: MIT */
/*
 * test_commit: the atomic write-back of config.toml (fs/commit.c), on real
 * files in a temp directory under /tmp.
 *
 *   - init: path splitting, relative paths, symlinks, bad paths;
 *   - round trip, mode and owner kept, a new file is 0600, no temp left,
 *     empty and large files, the content hash (XXH64 test vectors);
 *   - the mtime strictly increases (100 fast writes, a file dated in the
 *     future);
 *   - commit_changed: outside rewrite with the mtime set back, touch,
 *     rename-over, deletion, creation;
 *   - fault injection through a wrapping commit_ops: every step of the
 *     sequence fails once with EIO, ENOSPC, EACCES, on an existing and on
 *     a new file, with short writes so that there are several writes;
 *     EINTR on every write; EINVAL from fsync of the directory;
 *   - the bind-mount fallback: EBUSY/EXDEV at rename, then each of its own
 *     steps failing once;
 *   - crash simulation (SQLite test6 style): from a chosen step on every
 *     call fails and nothing more happens. A model of what is durable
 *     (data only after fsync of the file, a rename only after fsync of the
 *     directory, a rename may reach the disk before the data) says what a
 *     power cut at that point could leave as config.toml: it must be the old
 *     or the new bytes (in place: the backup must be durable and complete).
 *     The real file must be old or new too, and commit_cleanup_stale()
 *     removes the leftover temp. A broken writer (no fsync before rename)
 *     checks that the model catches it.
 *   - commit_cleanup_stale: which names it removes;
 *   - as root: a real full tmpfs (-ENOSPC), the same tmpfs remounted
 *     read-only (-EROFS), a directory the caller may not write (-EACCES,
 *     run as uid 65534 in a child), a real single-file bind mount (EBUSY).
 *
 * Prints `N passed, N failed`; exit 1 on a failure, 77 if nothing failed but
 * a part needing root or mount was skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runnerfs/commit.h"
#include "test.h"

static bool verbose;
static bool is_root;
static char root[64];
static char mounts[8][PATH_MAX];
static int nmounts;
static int ncase;
#define DIRLEN 256

static void skip(const char *what, const char *why)
{
	t_case("%s", what);
	t_skip("%s", why);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static void rmtree(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void cleanup(void)
{
	if (chdir("/") < 0)
		perror("chdir");
	while (nmounts > 0)
		umount2(mounts[--nmounts], MNT_DETACH);
	if (root[0]) {
		rmtree(root);
		root[0] = '\0';
	}
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void add_mount(const char *p)
{
	snprintf(mounts[nmounts++], PATH_MAX, "%s", p);
}

static void drop_mount(const char *p)
{
	if (umount2(p, 0) < 0)
		umount2(p, MNT_DETACH);
	for (int i = 0; i < nmounts; i++)
		if (!strcmp(mounts[i], p)) {
			memmove(mounts[i], mounts[i + 1], (size_t)(nmounts - i - 1) * PATH_MAX);
			nmounts--;
			break;
		}
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *b;

	if (fd < 0)
		return NULL;
	b = malloc(cap);
	for (;;) {
		if (cap - n < 1) {
			cap *= 2;
			b = realloc(b, cap);
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return b;
}

static void spit(const char *path, const char *s, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t r = fd < 0 ? -1 : write(fd, s, len);
	CHECK(fd >= 0 && r == (ssize_t)len, "writing %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static bool file_is(const char *path, const char *s, size_t len)
{
	size_t n;
	char *b = slurp(path, &n);
	bool ok = b && n == len && memcmp(b, s, len) == 0;
	free(b);
	return ok;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Entries of dir named .<name>.runnerfs-*, the backup counted apart. */
static int count_temps(const char *dir, const char *name, int *backups)
{
	char prefix[NAME_MAX + 1], backup[NAME_MAX + 1];
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	snprintf(prefix, sizeof prefix, ".%s.runnerfs-", name);
	snprintf(backup, sizeof backup, ".%s.runnerfs-backup", name);
	if (backups)
		*backups = 0;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, backup)) {
			if (backups)
				(*backups)++;
		} else if (!strncmp(de->d_name, prefix, strlen(prefix))) {
			n++;
		}
	}
	closedir(d);
	return n;
}

static void mkcase(char *dir, char *path, const char *tag)
{
	snprintf(dir, DIRLEN, "%s/%s-%d", root, tag, ncase++);
	if (mkdir(dir, 0755) < 0) {
		perror(dir);
		exit(1);
	}
	snprintf(path, PATH_MAX, "%s/config.toml", dir);
}

struct warns {
	int n;
	char last[1024];
};

static void on_warn(void *arg, const char *msg)
{
	struct warns *w = arg;
	w->n++;
	snprintf(w->last, sizeof w->last, "%s", msg);
	if (verbose)
		t_note("  warn: %s", msg);
}

static int ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	if (a.tv_nsec != b.tv_nsec)
		return a.tv_nsec < b.tv_nsec ? -1 : 1;
	return 0;
}

static const char OLD[] =
	"concurrent = 4\ncheck_interval = 0\n\n[[runners]]\n  name = \"old\"\n";
static const char NEW[] =
	"concurrent = 8\ncheck_interval = 0\n\n[[runners]]\n  name = \"new runner\"\n";
#define OLDLEN (sizeof OLD - 1)
#define NEWLEN (sizeof NEW - 1)

/* ------------------------------------------------------------------ */
/* The simulated system: faults, crashes and a model of durability     */

enum obj { OBJ_NONE, OBJ_TMP, OBJ_BACKUP, OBJ_TARGET };

struct mfile {
	char *data; /* written since the open that created or truncated it */
	size_t len;
	char *dur; /* durable content (as of the last fsync); NULL: garbage */
	size_t dlen;
};

#define MAXSTEPS 512

struct sim {
	int fail_at, fail_err; /* one fault at this op index */
	int crash_at;          /* from this op index on everything fails */
	int eintr_at;          /* this op (a write) gets EINTR */
	int rename_err;        /* renameat always fails with this */
	int fsync_dir_err;     /* fsync of the directory always fails with this */
	bool no_fsync;         /* a broken system: fsync of a file does nothing */
	bool coarse;           /* futimens keeps whole seconds (a 1 s granularity fs) */
	int tmp_flags;         /* how the temp file was created */
	mode_t tmp_mode;
	size_t max_write;      /* short writes */
	int n;
	bool hit, crashed;
	const char *label[MAXSTEPS];
	int dirfd;
	const char *name;
	/* model */
	struct mfile f[4];
	enum obj fdobj[1024];
	bool wr[1024];         /* fd opened for writing */
	bool target_volatile; /* truncated in place, not fsynced since */
	bool rename_done;     /* tmp renamed over the target */
	bool rename_durable;  /* ... and the directory fsynced since */
	char *renamed;        /* the durable content of the renamed file */
	size_t renamed_len;
	bool renamed_garbage;
	bool backup_made, backup_dirent_durable;
};

static struct sim S;

static void mf_free(struct mfile *m)
{
	free(m->data);
	free(m->dur);
	memset(m, 0, sizeof *m);
}

static char *dupmem(const char *p, size_t n)
{
	char *d = malloc(n + 1);
	if (n)
		memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

static void sim_reset(const char *name, const char *old, size_t oldlen)
{
	for (int i = 0; i < 4; i++)
		mf_free(&S.f[i]);
	free(S.renamed);
	memset(&S, 0, sizeof S);
	S.fail_at = S.crash_at = S.eintr_at = -1;
	S.dirfd = -1;
	S.name = name;
	if (old) {
		S.f[OBJ_TARGET].dur = dupmem(old, oldlen);
		S.f[OBJ_TARGET].dlen = oldlen;
	}
}

static enum obj classify(const char *n)
{
	size_t nl = strlen(S.name);

	if (!strcmp(n, S.name))
		return OBJ_TARGET;
	if (n[0] == '.' && !strncmp(n + 1, S.name, nl) && !strncmp(n + 1 + nl, ".runnerfs-", 10))
		return strcmp(n + 1 + nl + 10, "backup") ? OBJ_TMP : OBJ_BACKUP;
	return OBJ_NONE;
}

/* Count one op; true if it must fail (errno set). */
static bool step(const char *label)
{
	int i = S.n++;

	if (i < MAXSTEPS)
		S.label[i] = label;
	if (S.crash_at >= 0 && i >= S.crash_at) {
		S.crashed = true;
		errno = EIO;
		return true;
	}
	if (i == S.fail_at) {
		S.hit = true;
		errno = S.fail_err;
		return true;
	}
	return false;
}

static int sim_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	enum obj o = dirfd == S.dirfd ? classify(name) : OBJ_NONE;
	bool wr = (flags & O_ACCMODE) != O_RDONLY;
	static const char *lab[2][4] = {
		{ "openat(other,read)", "openat(tmp,read)", "openat(backup,read)", "openat(target,read)" },
		{ "openat(other,write)", "openat(tmp)", "openat(backup)", "openat(target,trunc)" },
	};
	int fd;

	if (step(lab[wr][o]))
		return -1;
	fd = openat(dirfd, name, flags, mode);
	if (fd >= 0 && fd < 1024)
		S.wr[fd] = wr;
	if (fd >= 0 && o == OBJ_TMP) {
		S.tmp_flags = flags;
		S.tmp_mode = mode;
	}
	if (fd < 0 || !wr || o == OBJ_NONE)
		return fd;
	if (fd < 1024)
		S.fdobj[fd] = o;
	if (flags & (O_TRUNC | O_EXCL)) {
		struct mfile *m = &S.f[o];
		free(m->data);
		m->data = NULL;
		m->len = 0;
		if (o == OBJ_TARGET)
			S.target_volatile = true;
		if (o == OBJ_BACKUP || o == OBJ_TMP) {
			free(m->dur);
			m->dur = NULL; /* a new file: nothing durable yet */
		}
		if (o == OBJ_BACKUP) {
			S.backup_made = true;
			S.backup_dirent_durable = false;
		}
	}
	return fd;
}

static ssize_t sim_write(int fd, const void *buf, size_t len)
{
	ssize_t n;

	if (step("write"))
		return -1;
	if (S.n - 1 == S.eintr_at) {
		errno = EINTR;
		return -1;
	}
	if (S.max_write && len > S.max_write)
		len = S.max_write;
	n = write(fd, buf, len);
	if (n > 0 && fd < 1024 && S.fdobj[fd] != OBJ_NONE) {
		struct mfile *m = &S.f[S.fdobj[fd]];
		m->data = realloc(m->data, m->len + (size_t)n + 1);
		memcpy(m->data + m->len, buf, (size_t)n);
		m->len += (size_t)n;
	}
	return n;
}

static ssize_t sim_read(int fd, void *buf, size_t len)
{
	if (step("read"))
		return -1;
	return read(fd, buf, len);
}

static int sim_fsync(int fd)
{
	if (fd == S.dirfd) {
		if (step("fsync(dir)"))
			return -1;
		if (S.fsync_dir_err) {
			errno = S.fsync_dir_err;
			return -1;
		}
		if (fsync(fd) < 0)
			return -1;
		if (S.rename_done)
			S.rename_durable = true;
		if (S.backup_made)
			S.backup_dirent_durable = true;
		return 0;
	}
	if (step("fsync"))
		return -1;
	if (S.no_fsync)
		return 0;
	if (fsync(fd) < 0)
		return -1;
	if (fd < 1024 && S.fdobj[fd] != OBJ_NONE) {
		struct mfile *m = &S.f[S.fdobj[fd]];
		free(m->dur);
		m->dur = dupmem(m->data ? m->data : "", m->len);
		m->dlen = m->len;
		if (S.fdobj[fd] == OBJ_TARGET)
			S.target_volatile = false;
	}
	return 0;
}

static int sim_fchown(int fd, uid_t uid, gid_t gid)
{
	if (step("fchown"))
		return -1;
	return fchown(fd, uid, gid);
}

static int sim_fchmod(int fd, mode_t mode)
{
	if (step("fchmod"))
		return -1;
	return fchmod(fd, mode);
}

static int sim_futimens(int fd, const struct timespec ts[2])
{
	struct timespec t[2] = { ts[0], ts[1] };

	if (step("futimens"))
		return -1;
	if (S.coarse)
		t[1].tv_nsec = 0;
	return futimens(fd, t);
}

static int sim_renameat(int od, const char *on, int nd, const char *nn)
{
	if (step("renameat"))
		return -1;
	if (S.rename_err) {
		errno = S.rename_err;
		return -1;
	}
	if (renameat(od, on, nd, nn) < 0)
		return -1;
	if (classify(on) == OBJ_TMP && classify(nn) == OBJ_TARGET) {
		struct mfile *m = &S.f[OBJ_TMP];
		S.rename_done = true;
		S.rename_durable = false;
		free(S.renamed);
		S.renamed = m->dur ? dupmem(m->dur, m->dlen) : NULL;
		S.renamed_len = m->dlen;
		S.renamed_garbage = !m->dur;
	}
	return 0;
}

static int sim_unlinkat(int dirfd, const char *name, int flags)
{
	if (step("unlinkat"))
		return -1;
	return unlinkat(dirfd, name, flags);
}

static int sim_fstatat(int dirfd, const char *name, struct stat *st, int flags)
{
	const char *l = !*name ? "fstat(fd)" : dirfd == S.dirfd && !strcmp(name, S.name) ?
		"fstatat(target)" : "fstatat(other)";
	if (step(l))
		return -1;
	return fstatat(dirfd, name, st, flags);
}

/* The fd is closed even when the call fails (Linux), or after a crash (a
 * dead process's files are closed; that writes nothing). */
static int sim_close(int fd)
{
	bool w = fd >= 0 && fd < 1024 && S.wr[fd];
	bool fail = step(w ? "close" : "close(read)");
	int e = errno;

	if (fd >= 0 && fd < 1024) {
		S.fdobj[fd] = OBJ_NONE;
		S.wr[fd] = false;
	}
	if (fail) {
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

static const struct commit_ops sim_ops = {
	.openat = sim_openat,
	.write = sim_write,
	.read = sim_read,
	.fsync = sim_fsync,
	.fchown = sim_fchown,
	.fchmod = sim_fchmod,
	.futimens = sim_futimens,
	.renameat = sim_renameat,
	.unlinkat = sim_unlinkat,
	.fstatat = sim_fstatat,
	.close = sim_close,
};

static bool same(const char *a, size_t al, const char *b, size_t bl)
{
	return a && al == bl && memcmp(a, b, al) == 0;
}

/*
 * What could config.toml hold after a power cut now? Each possibility must
 * be the old or the new bytes; while the target is truncated in place and
 * not yet fsynced, the backup must be durable and hold the old bytes.
 */
static bool model_ok(const char *old, size_t oldlen, const char *nw, size_t nwlen, char *why,
		     size_t whylen)
{
	struct mfile *t = &S.f[OBJ_TARGET], *b = &S.f[OBJ_BACKUP];

	if (S.target_volatile) {
		if (!b->dur || !same(b->dur, b->dlen, old, oldlen) || !S.backup_dirent_durable) {
			snprintf(why, whylen, "target torn in place without a durable backup");
			return false;
		}
		return true;
	}
	if (!S.rename_durable) {
		if (!same(t->dur, t->dlen, old, oldlen) && !same(t->dur, t->dlen, nw, nwlen)) {
			snprintf(why, whylen, "durable target is neither old nor new");
			return false;
		}
	}
	if (S.rename_done) {
		if (S.renamed_garbage || (!same(S.renamed, S.renamed_len, old, oldlen) &&
					  !same(S.renamed, S.renamed_len, nw, nwlen))) {
			snprintf(why, whylen, "renamed file not durable before the rename");
			return false;
		}
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_init(void)
{
	struct commit c;
	char longname[300], p[PATH_MAX];
	int r;

	if (chdir(root) < 0) {
		perror("chdir");
		exit(1);
	}
	CHECK(commit_init(&c, "", NULL) == -EINVAL, "empty path");
	CHECK(commit_init(&c, NULL, NULL) == -EINVAL, "NULL path");
	CHECK(commit_init(&c, "sub/", NULL) == -EINVAL, "trailing slash");
	CHECK(commit_init(&c, "sub/..", NULL) == -EINVAL, "..");
	CHECK(commit_init(&c, "nodir/x.toml", NULL) == -ENOENT, "missing directory");

	r = commit_init(&c, "config.toml", NULL);
	CHECK(r == 0, "relative, no slash: %d", r);
	if (r == 0) {
		CHECK(!strcmp(c.dir, ".") && !strcmp(c.name, "config.toml") &&
		      !strcmp(c.path, "config.toml"), "split: %s | %s", c.dir, c.name);
		CHECK(commit_write(&c, "a = 1\n", 6) == 0, "write relative");
		CHECK(file_is("config.toml", "a = 1\n", 6), "relative file written");
		commit_fini(&c);
		CHECK(c.dirfd == -1 && !c.path, "fini clears");
	}
	mkdir("sub", 0755);
	r = commit_init(&c, "sub/config.toml", NULL);
	CHECK(r == 0 && !strcmp(c.dir, "sub") && !strcmp(c.name, "config.toml"), "relative dir");
	if (r == 0)
		commit_fini(&c);
	r = commit_init(&c, "/runnerfs-test-none.toml", NULL);
	CHECK(r == 0 && !strcmp(c.dir, "/") && !strcmp(c.name, "runnerfs-test-none.toml"),
	      "file in /: %d", r);
	if (r == 0)
		commit_fini(&c);
	snprintf(p, sizeof p, "%s/sub/config.toml", root);
	r = commit_init(&c, p, NULL);
	CHECK(r == 0 && !strncmp(c.dir, root, strlen(root)), "absolute");
	if (r == 0)
		commit_fini(&c);

	memset(longname, 'x', 245);
	longname[245] = '\0';
	CHECK(commit_init(&c, longname, NULL) == -ENAMETOOLONG, "name too long for the temp");

	/* a symlink: the file it points to is replaced, the link stays */
	mkdir("real", 0755);
	spit("real/config.toml", OLD, OLDLEN);
	CHECK(symlink("real/config.toml", "link.toml") == 0, "symlink");
	CHECK(symlink("../real/config.toml", "sub/link2.toml") == 0, "symlink");
	r = commit_init(&c, "link.toml", NULL);
	CHECK(r == 0 && !strcmp(c.dir, "real") && !strcmp(c.name, "config.toml"),
	      "symlink resolved: %s | %s", r == 0 ? c.dir : "", r == 0 ? c.name : "");
	if (r == 0) {
		struct stat st;
		CHECK(commit_write(&c, NEW, NEWLEN) == 0, "write through symlink");
		CHECK(lstat("link.toml", &st) == 0 && S_ISLNK(st.st_mode), "link kept");
		CHECK(file_is("real/config.toml", NEW, NEWLEN), "target written");
		commit_fini(&c);
	}
	r = commit_init(&c, "sub/link2.toml", NULL);
	CHECK(r == 0 && !strcmp(c.name, "config.toml"), "relative link in a subdir");
	if (r == 0) {
		CHECK(commit_write(&c, OLD, OLDLEN) == 0, "write via sub/link2.toml");
		CHECK(file_is("real/config.toml", OLD, OLDLEN), "target written");
		commit_fini(&c);
	}
	CHECK(symlink("loop1", "loop2") == 0 && symlink("loop2", "loop1") == 0, "loop");
	CHECK(commit_init(&c, "loop1", NULL) == -ELOOP, "symlink loop");
	/* a dangling link: its target is created */
	CHECK(symlink("real/fresh.toml", "dangling.toml") == 0, "dangling");
	r = commit_init(&c, "dangling.toml", NULL);
	CHECK(r == 0 && !strcmp(c.name, "fresh.toml"), "dangling link resolved");
	if (r == 0) {
		CHECK(commit_write(&c, NEW, NEWLEN) == 0, "write dangling");
		CHECK(file_is("real/fresh.toml", NEW, NEWLEN), "dangling target created");
		commit_fini(&c);
	}
	if (chdir("/") < 0)
		perror("chdir");
}

static void test_roundtrip(void)
{
	char dir[DIRLEN], path[PATH_MAX];
	struct commit c;
	struct stat st;
	char *b = NULL;
	size_t n = 99;
	mode_t um;
	int r;

	mkcase(dir, path, "roundtrip");
	CHECK(commit_init(&c, path, NULL) == 0, "init");
	r = commit_load(&c, &b, &n);
	CHECK(r == 0 && b && n == 0 && b[0] == '\0' && !c.id.exists, "missing loads empty: %d", r);
	CHECK(c.id.hash == 0xEF46DB3751D8E999ULL, "XXH64 of nothing: %016llx",
	      (unsigned long long)c.id.hash);
	CHECK(commit_changed(&c) == 0, "still missing: unchanged");
	free(b);

	um = umask(0277); /* the file must still end up 0600 */
	r = commit_write(&c, "abc", 3);
	umask(um);
	CHECK(r == 0, "first write: %d", r);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600,
	      "new file is 0600: %o", st.st_mode & 07777);
	CHECK(st.st_uid == geteuid(), "new file owned by us");
	CHECK(c.id.exists && c.id.ino == st.st_ino && c.id.size == 3 &&
	      ts_cmp(c.id.mtime, st.st_mtim) == 0, "id after write");
	CHECK(c.id.hash == 0x44BC2CF5AD770999ULL, "XXH64(abc): %016llx",
	      (unsigned long long)c.id.hash);
	CHECK(count_temps(dir, "config.toml", NULL) == 0, "no temp left");
	CHECK(commit_changed(&c) == 0, "own write: unchanged");

	static const char spam[] = "Nobody inspects the spammish repetition";
	CHECK(commit_write(&c, spam, sizeof spam - 1) == 0, "write");
	CHECK(c.id.hash == 0xFBCEA83C8A378BF1ULL, "XXH64(spam): %016llx",
	      (unsigned long long)c.id.hash);

	CHECK(commit_write(&c, OLD, OLDLEN) == 0, "write");
	r = commit_load(&c, &b, &n);
	CHECK(r == 0 && n == OLDLEN && !memcmp(b, OLD, n), "round trip");
	free(b);

	if (is_root) {
		CHECK(chmod(path, 0640) == 0 && chown(path, 65534, 65534) == 0, "chmod/chown");
		r = commit_write(&c, NEW, NEWLEN);
		CHECK(r == 0, "write: %d", r);
		CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640, "mode kept: %o",
		      st.st_mode & 07777);
		CHECK(st.st_uid == 65534 && st.st_gid == 65534, "owner kept: %d:%d",
		      (int)st.st_uid, (int)st.st_gid);
		CHECK(file_is(path, NEW, NEWLEN), "content");
		CHECK(chmod(path, 02755) == 0, "chmod setgid");
		CHECK(commit_write(&c, OLD, OLDLEN) == 0, "write");
		CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 02755, "mode kept: %o",
		      st.st_mode & 07777);
	} else {
		skip("owner kept", "not root");
	}
	CHECK(chmod(path, 0644) == 0, "chmod");

	CHECK(commit_write(&c, "", 0) == 0, "empty write");
	CHECK(stat(path, &st) == 0 && st.st_size == 0 && (st.st_mode & 07777) == 0644,
	      "empty file, mode kept");
	r = commit_load(&c, &b, &n);
	CHECK(r == 0 && n == 0 && c.id.exists, "empty file loads, exists");
	free(b);

	size_t big = 3u << 20;
	char *bb = malloc(big);
	for (size_t i = 0; i < big; i++)
		bb[i] = (char)('a' + i * 7 % 26);
	CHECK(commit_write(&c, bb, big) == 0, "3 MB write");
	r = commit_load(&c, &b, &n);
	CHECK(r == 0 && n == big && !memcmp(b, bb, big), "3 MB round trip");
	CHECK(commit_changed(&c) == 0, "3 MB unchanged");
	free(b);
	free(bb);
	CHECK(count_temps(dir, "config.toml", NULL) == 0, "no temp left");
	commit_fini(&c);

	/* a directory where the file should be */
	mkcase(dir, path, "isdir");
	mkdir(path, 0755);
	CHECK(commit_init(&c, path, NULL) == 0, "init");
	CHECK(commit_load(&c, &b, &n) == -EISDIR, "load of a directory");
	CHECK(commit_write(&c, OLD, OLDLEN) < 0, "write over a directory fails");
	CHECK(count_temps(dir, "config.toml", NULL) == 0, "no temp left");
	commit_fini(&c);
}

static void test_mtime(void)
{
	char dir[DIRLEN], path[PATH_MAX];
	struct commit c;
	struct stat st;
	struct timespec prev = { 0, 0 };
	int bad = 0, eq = 0;

	mkcase(dir, path, "mtime");
	spit(path, OLD, OLDLEN);
	CHECK(commit_init(&c, path, NULL) == 0, "init");
	for (int i = 0; i < 100; i++) {
		char v[32];
		int len = snprintf(v, sizeof v, "n = %d\n", i % 10); /* sizes repeat */
		if (commit_write(&c, v, (size_t)len) != 0 || stat(path, &st) < 0) {
			bad++;
			continue;
		}
		if (ts_cmp(st.st_mtim, prev) <= 0)
			bad++;
		if (ts_cmp(c.id.mtime, st.st_mtim) != 0)
			eq++;
		prev = st.st_mtim;
	}
	CHECK(bad == 0, "mtime strictly increases over 100 writes: %d bad", bad);
	CHECK(eq == 0, "id.mtime is the file's: %d differ", eq);

	/* a file dated an hour ahead: still newer after the write */
	struct timespec fut[2];
	clock_gettime(CLOCK_REALTIME, &fut[1]);
	fut[1].tv_sec += 3600;
	fut[0] = fut[1];
	CHECK(utimensat(AT_FDCWD, path, fut, 0) == 0, "utimensat");
	CHECK(commit_write(&c, OLD, OLDLEN) == 0, "write");
	CHECK(stat(path, &st) == 0 && ts_cmp(st.st_mtim, fut[1]) > 0, "newer than a future mtime");

	/* the file removed and written again: still after our last mtime */
	prev = st.st_mtim;
	unlink(path);
	char *b;
	size_t n;
	CHECK(commit_load(&c, &b, &n) == 0 && !c.id.exists, "load missing");
	free(b);
	CHECK(commit_write(&c, NEW, NEWLEN) == 0, "write new");
	CHECK(stat(path, &st) == 0 && ts_cmp(st.st_mtim, prev) > 0, "recreated file newer");
	commit_fini(&c);
}

static void test_changed(void)
{
	char dir[DIRLEN], path[PATH_MAX], other[PATH_MAX];
	struct commit c;
	struct stat st;
	char *b;
	size_t n;
	int r;

	mkcase(dir, path, "changed");
	snprintf(other, sizeof other, "%s/other", dir);
	spit(path, OLD, OLDLEN);
	CHECK(commit_init(&c, path, NULL) == 0, "init");
	CHECK(commit_load(&c, &b, &n) == 0, "load");
	free(b);
	CHECK(commit_changed(&c) == 0, "fresh: unchanged");

	/* same size, other bytes, in place, mtime set back exactly */
	CHECK(stat(path, &st) == 0, "stat");
	{
		int fd = open(path, O_WRONLY);
		CHECK(fd >= 0 && pwrite(fd, "5", 1, 13) == 1, "pwrite");
		close(fd);
		struct timespec ts[2] = { st.st_atim, st.st_mtim };
		CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0, "utimensat back");
		struct stat st2;
		CHECK(stat(path, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_size == st.st_size &&
		      ts_cmp(st2.st_mtim, st.st_mtim) == 0, "stat looks the same");
	}
	r = commit_changed(&c);
	CHECK(r == 1, "hash catches a rewrite with the mtime set back: %d", r);
	CHECK(commit_load(&c, &b, &n) == 0 && n == OLDLEN && b[13] == '5', "reload");
	free(b);
	CHECK(commit_changed(&c) == 0, "after reload: unchanged");

	/* touch: newer mtime, same bytes */
	CHECK(utimensat(AT_FDCWD, path, NULL, 0) == 0, "touch");
	CHECK(stat(path, &st) == 0, "stat");
	r = commit_changed(&c);
	CHECK(r == 0, "touch only: unchanged: %d", r);
	CHECK(ts_cmp(c.id.mtime, st.st_mtim) == 0, "id.mtime follows a touch");

	/* an outside rename-over with the same bytes: a new inode */
	b = slurp(path, &n);
	spit(other, b, n);
	free(b);
	CHECK(rename(other, path) == 0, "rename over");
	CHECK(commit_changed(&c) == 1, "new inode: changed");
	CHECK(commit_load(&c, &b, &n) == 0, "reload");
	free(b);
	CHECK(commit_changed(&c) == 0, "after reload: unchanged");

	/* size change in place (the runner's os.WriteFile) */
	spit(path, NEW, NEWLEN);
	CHECK(commit_changed(&c) == 1, "in-place rewrite: changed");
	CHECK(commit_load(&c, &b, &n) == 0, "reload");
	free(b);

	/* deletion, then creation */
	CHECK(unlink(path) == 0, "unlink");
	CHECK(commit_changed(&c) == 1, "deleted: changed");
	CHECK(commit_load(&c, &b, &n) == 0 && n == 0 && !c.id.exists, "load missing");
	free(b);
	CHECK(commit_changed(&c) == 0, "still missing: unchanged");
	spit(path, OLD, OLDLEN);
	CHECK(commit_changed(&c) == 1, "created: changed");
	CHECK(commit_load(&c, &b, &n) == 0, "reload");
	free(b);
	CHECK(commit_write(&c, NEW, NEWLEN) == 0, "write");
	CHECK(commit_changed(&c) == 0, "own write: unchanged");
	commit_fini(&c);
}

/* The step list of a clean write, printed once (verbose) and checked. */
static void test_sequence(void)
{
	char dir[DIRLEN], path[PATH_MAX], seq[2048] = "";
	struct commit c;
	char *b;
	size_t n;

	mkcase(dir, path, "seq");
	spit(path, OLD, OLDLEN);
	sim_reset("config.toml", OLD, OLDLEN);
	CHECK(commit_init(&c, path, &sim_ops) == 0, "init");
	S.dirfd = c.dirfd;
	CHECK(commit_load(&c, &b, &n) == 0, "load");
	free(b);
	S.n = 0;
	CHECK(commit_write(&c, NEW, NEWLEN) == 0, "write");
	for (int i = 0; i < S.n && i < MAXSTEPS; i++) {
		strcat(seq, S.label[i]);
		strcat(seq, i + 1 < S.n ? " " : "");
	}
	if (verbose)
		t_note("sequence: %s", seq);
	CHECK(!strcmp(seq, "openat(target,read) fstat(fd) fstatat(target) openat(tmp) write "
			   "fchown fchmod futimens fstat(fd) fsync close fstatat(target) renameat fsync(dir) "
			   "fstatat(target) fstat(fd)"), /* close(read): commit_retired */
	      "sequence: %s", seq);
	CHECK(S.rename_durable && model_ok(OLD, OLDLEN, NEW, NEWLEN, seq, sizeof seq),
	      "model: durable new file");
	CHECK(S.tmp_mode == 0600 && (S.tmp_flags & O_ACCMODE) == O_WRONLY &&
	      (S.tmp_flags & (O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW)) ==
		      (O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW),
	      "temp created O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW, 0600: %o %o",
	      (unsigned)S.tmp_flags, (unsigned)S.tmp_mode);

	/* a filesystem that keeps whole seconds: the mtime must still grow */
	struct stat st;
	struct timespec prev = { 0, 0 };
	int bad = 0;
	S.coarse = true;
	for (int i = 0; i < 5; i++) {
		if (commit_write(&c, i % 2 ? OLD : NEW, i % 2 ? OLDLEN : NEWLEN) != 0 ||
		    stat(path, &st) < 0 || ts_cmp(st.st_mtim, prev) <= 0 || st.st_mtim.tv_nsec)
			bad++;
		prev = st.st_mtim;
	}
	CHECK(bad == 0, "1 s timestamps: mtime grows over 5 fast writes: %d bad", bad);
	commit_fini(&c);
	sim_reset("config.toml", NULL, 0);
}

enum mode { NORMAL, NEWFILE, FALLBACK_EBUSY, FALLBACK_EXDEV };
static const char *mode_name[] = { "existing file", "new file", "fallback EBUSY", "fallback EXDEV" };

/* One write with a single fault at each op index in turn. */
static void fault_matrix(enum mode mode, int err)
{
	int steps = 0;

	for (int k = 0; k < MAXSTEPS; k++) {
		char dir[DIRLEN], path[PATH_MAX];
		struct commit c;
		struct warns w = { 0, "" };
		struct stat before, after;
		char *b = NULL;
		size_t n;
		int rc, tmps, backups;

		mkcase(dir, path, "fault");
		if (mode != NEWFILE) {
			spit(path, OLD, OLDLEN);
			chmod(path, 0640);
			if (is_root)
				CHECK(chown(path, 65534, 65534) == 0, "chown");
		}
		sim_reset("config.toml", mode == NEWFILE ? NULL : OLD, OLDLEN);
		CHECK(commit_init(&c, path, &sim_ops) == 0, "init");
		c.warn = on_warn;
		c.warn_arg = &w;
		S.dirfd = c.dirfd;
		CHECK(commit_load(&c, &b, &n) == 0, "load");
		free(b);
		stat(path, &before);

		S.n = 0;
		S.max_write = 7;
		S.fail_at = k;
		S.fail_err = err;
		if (mode == FALLBACK_EBUSY)
			S.rename_err = EBUSY;
		if (mode == FALLBACK_EXDEV)
			S.rename_err = EXDEV;
		rc = commit_write(&c, NEW, NEWLEN);
		S.fail_at = -1;
		tmps = count_temps(dir, "config.toml", &backups);

		if (!S.hit) {
			/* past the last step: a clean write */
			CHECK(rc == 0, "%s: clean write: %d", mode_name[mode], rc);
			CHECK(file_is(path, NEW, NEWLEN), "%s: new content", mode_name[mode]);
			CHECK(tmps == 0 && backups == 0, "%s: clean: no temp", mode_name[mode]);
			if (mode >= FALLBACK_EBUSY) {
				CHECK(c.in_place == 1 && w.n == 1, "%s: in_place, one warning (%d)",
				      mode_name[mode], w.n);
				CHECK(strstr(w.last, "single-file bind mount") != NULL, "warning: %s",
				      w.last);
				rc = commit_write(&c, OLD, OLDLEN);
				CHECK(rc == 0 && w.n == 1 && file_is(path, OLD, OLDLEN),
				      "%s: second write, still one warning", mode_name[mode]);
			} else {
				CHECK(c.in_place == 0 && w.n == 0, "no fallback");
			}
			commit_fini(&c);
			rmtree(dir);
			break;
		}
		steps++;

		const char *lab = S.label[k];
		bool dirsync_after_rename = S.rename_done && !strcmp(lab, "fsync(dir)");
		/* after the rename: only looking at the new file's ctime */
		bool stat_after_rename = S.rename_done && (!strcmp(lab, "fstatat(target)") ||
							   !strcmp(lab, "fstat(fd)") || !strcmp(lab, "close(read)"));
		const char *ctx = mode_name[mode];

		if (!strcmp(lab, "close(read)")) {
			/* closing a read-only fd: nothing can be lost, ignored */
			CHECK(rc == 0 && file_is(path, NEW, NEWLEN), "%s: %s at step %d (%s): rc %d",
			      ctx, strerror(err), k, lab, rc);
		} else if (!strcmp(lab, "unlinkat")) {
			/* only the clean-up after a successful in-place write */
			CHECK(mode >= FALLBACK_EBUSY, "%s: unlinkat at %d", ctx, k);
			CHECK(rc == 0, "%s: %s fault at step %d (%s): rc %d", ctx, strerror(err), k,
			      lab, rc);
			CHECK(file_is(path, NEW, NEWLEN), "%s: new content after %s", ctx, lab);
			CHECK(commit_changed(&c) == 0, "%s: id is the new file", ctx);
		} else if (stat_after_rename) {
			CHECK(rc == 0 && file_is(path, NEW, NEWLEN), "%s: %s at step %d (%s): rc %d", ctx,
			      strerror(err), k, lab, rc);
		} else if (dirsync_after_rename) {
			/* commit.h: in place, not known to be durable */
			CHECK(rc == COMMIT_NOT_DURABLE, "%s: %s at step %d (%s): rc %d", ctx, strerror(err),
			      k, lab, rc);
			CHECK(file_is(path, NEW, NEWLEN), "%s: new file in place after %s", ctx, lab);
			CHECK(tmps == 0 && backups == 0, "%s: no temp after %s", ctx, lab);
			CHECK(commit_changed(&c) == 0, "%s: id is the new file", ctx);
		} else {
			CHECK(rc == -err, "%s: %s at step %d (%s): rc %d", ctx, strerror(err), k, lab,
			      rc);
			if (mode == NEWFILE)
				CHECK(!file_exists(path), "%s: still no file after %s", ctx, lab);
			else
				CHECK(file_is(path, OLD, OLDLEN), "%s: old bytes after %s (step %d)",
				      ctx, lab, k);
			CHECK(tmps == 0 && backups == 0, "%s: no temp after %s (step %d): %d %d", ctx,
			      lab, k, tmps, backups);
			if (mode != NEWFILE) {
				CHECK(stat(path, &after) == 0 && (after.st_mode & 07777) == 0640 &&
				      after.st_uid == before.st_uid && after.st_ino == before.st_ino,
				      "%s: mode, owner, inode unchanged after %s", ctx, lab);
				if (mode < FALLBACK_EBUSY)
					CHECK(ts_cmp(after.st_mtim, before.st_mtim) == 0,
					      "%s: mtime unchanged after %s", ctx, lab);
			}
			CHECK(commit_changed(&c) == 0, "%s: unchanged for the caller after %s", ctx,
			      lab);
		}
		if (verbose)
			t_note("  %s %s step %2d %-20s rc %d", ctx, strerror(err), k, lab, rc);
		commit_fini(&c);
		rmtree(dir);
	}
	t_note("fault %s, %s: %d steps", mode_name[mode], strerror(err), steps);
	CHECK(steps >= (mode >= FALLBACK_EBUSY ? 30 : 10), "enough steps: %d", steps);
	sim_reset("config.toml", NULL, 0);
}

static void test_eintr_and_dirsync(void)
{
	int done = 0;

	for (int k = 0; k < 100; k++) {
		char dir[DIRLEN], path[PATH_MAX];
		struct commit c;
		int rc;

		mkcase(dir, path, "eintr");
		spit(path, OLD, OLDLEN);
		sim_reset("config.toml", OLD, OLDLEN);
		CHECK(commit_init(&c, path, &sim_ops) == 0, "init");
		S.dirfd = c.dirfd;
		S.max_write = 5;
		S.eintr_at = k;
		rc = commit_write(&c, NEW, NEWLEN);
		bool was_write = k < S.n && !strcmp(S.label[k], "write");
		CHECK(rc == 0 && file_is(path, NEW, NEWLEN), "EINTR at step %d: %d", k, rc);
		done += was_write;
		commit_fini(&c);
		rmtree(dir);
		if (k >= S.n)
			break;
	}
	CHECK(done >= 10, "EINTR at each write: %d writes", done);

	/* EINVAL from fsync(dir): the filesystem cannot sync directories */
	char dir[DIRLEN], path[PATH_MAX];
	struct commit c;
	mkcase(dir, path, "dirsync");
	spit(path, OLD, OLDLEN);
	sim_reset("config.toml", OLD, OLDLEN);
	CHECK(commit_init(&c, path, &sim_ops) == 0, "init");
	S.dirfd = c.dirfd;
	S.fsync_dir_err = EINVAL;
	CHECK(commit_write(&c, NEW, NEWLEN) == 0, "EINVAL from fsync(dir) ignored");
	CHECK(file_is(path, NEW, NEWLEN) && commit_changed(&c) == 0, "written");
	commit_fini(&c);
	sim_reset("config.toml", NULL, 0);
}

/* A crash (power cut) after each step. */
static void crash_matrix(bool fallback, bool broken)
{
	int steps = 0, model_bad = 0;

	for (int k = 0; k < MAXSTEPS; k++) {
		char dir[DIRLEN], path[PATH_MAX], bpath[PATH_MAX], why[128] = "";
		struct commit c;
		struct warns w = { 0, "" };
		char *b = NULL;
		size_t n;
		int rc, tmps, backups;

		mkcase(dir, path, "crash");
		snprintf(bpath, sizeof bpath, "%s/.config.toml.runnerfs-backup", dir);
		spit(path, OLD, OLDLEN);
		sim_reset("config.toml", OLD, OLDLEN);
		CHECK(commit_init(&c, path, &sim_ops) == 0, "init");
		c.warn = on_warn;
		c.warn_arg = &w;
		S.dirfd = c.dirfd;
		CHECK(commit_load(&c, &b, &n) == 0, "load");
		free(b);
		S.n = 0;
		S.max_write = 11;
		S.crash_at = k;
		S.no_fsync = broken;
		if (fallback)
			S.rename_err = EBUSY;
		rc = commit_write(&c, NEW, NEWLEN);
		commit_fini(&c);
		if (!S.crashed) {
			CHECK(rc == 0 && file_is(path, NEW, NEWLEN), "no crash: clean write");
			rmtree(dir);
			break;
		}
		steps++;
		const char *lab = k < MAXSTEPS ? S.label[k] : "?";
		/* after the in-place write is verified only ignored clean-up is left */
		/* ... and, on the normal path, a last look at the renamed file */
		bool after_rename = S.rename_done && (!strcmp(lab, "fstatat(target)") || !strcmp(lab, "fstat(fd)") ||
						      !strcmp(lab, "close(read)") || !strcmp(lab, "fsync(dir)"));
		CHECK(rc < 0 || ((fallback || after_rename) && file_is(path, NEW, NEWLEN)),
		      "crash at %d (%s): error returned: %d", k, lab, rc);

		bool mok = model_ok(OLD, OLDLEN, NEW, NEWLEN, why, sizeof why);
		if (!broken)
			CHECK(mok, "%s: power cut after step %d (before %s): %s",
			      fallback ? "fallback" : "normal", k, lab, why);
		model_bad += !mok;

		/* the real files, as the crash left them */
		bool old = file_is(path, OLD, OLDLEN), nw = file_is(path, NEW, NEWLEN);
		if (!fallback)
			CHECK(old || nw, "crash at %d (%s): config.toml is old or new", k, lab);
		else
			CHECK(old || nw || file_is(bpath, OLD, OLDLEN),
			      "crash at %d (%s): old, new, or the backup is old", k, lab);

		/* restart: clean up */
		struct commit c2;
		CHECK(commit_init(&c2, path, NULL) == 0, "init after crash");
		int removed = commit_cleanup_stale(&c2);
		tmps = count_temps(dir, "config.toml", &backups);
		CHECK(removed >= 0 && tmps == 0, "crash at %d (%s): cleanup_stale: %d, %d left", k,
		      lab, removed, tmps);
		CHECK(file_is(path, OLD, OLDLEN) == old && file_is(path, NEW, NEWLEN) == nw,
		      "cleanup leaves config.toml alone");
		commit_fini(&c2);
		if (verbose)
			t_note("  crash %s step %2d before %-20s %s%s removed %d",
			       fallback ? "fallback" : "normal", k, lab,
			       old ? "old" : nw ? "new" : "torn", backups ? " +backup" : "", removed);
		rmtree(dir);
	}
	t_note("crash %s%s: %d points", fallback ? "fallback" : "normal",
	       broken ? " (no fsync: the model must object)" : "", steps);
	if (broken)
		CHECK(model_bad > 0, "the model catches a rename without fsync");
	else
		CHECK(steps >= 10, "enough crash points: %d", steps);
	sim_reset("config.toml", NULL, 0);
}

static void test_cleanup(void)
{
	char dir[DIRLEN], path[PATH_MAX], p[PATH_MAX];
	struct commit c;
	static const char *keep[] = {
		".config.toml.runnerfs-backup", ".config.toml.runnerfs-abc",
		".config.toml.runnerfs-toolong1", ".config.toml.runnerfs-ab-cde",
		".other.toml.runnerfs-AbC123", "config.toml.runnerfs-AbC123", "config.toml",
	};
	static const char *gone[] = { ".config.toml.runnerfs-AbC123", ".config.toml.runnerfs-000000" };

	mkcase(dir, path, "cleanup");
	for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
		spit(p, "x", 1);
	}
	for (size_t i = 0; i < sizeof gone / sizeof *gone; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, gone[i]);
		spit(p, "x", 1);
	}
	snprintf(p, sizeof p, "%s/.config.toml.runnerfs-Dir123", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/.config.toml.runnerfs-Lnk123", dir);
	CHECK(symlink("config.toml", p) == 0, "symlink");

	CHECK(commit_init(&c, path, NULL) == 0, "init");
	int r = commit_cleanup_stale(&c);
	CHECK(r == 2, "two stale temps removed: %d", r);
	for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
		CHECK(file_exists(p), "kept: %s", keep[i]);
	}
	for (size_t i = 0; i < sizeof gone / sizeof *gone; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, gone[i]);
		CHECK(!file_exists(p), "removed: %s", gone[i]);
	}
	snprintf(p, sizeof p, "%s/.config.toml.runnerfs-Dir123", dir);
	CHECK(file_exists(p), "a directory is not touched");
	snprintf(p, sizeof p, "%s/.config.toml.runnerfs-Lnk123", dir);
	CHECK(file_exists(p), "a symlink is not touched");
	CHECK(commit_cleanup_stale(&c) == 0, "nothing left to remove");
	commit_fini(&c);
}

static void test_tmpfs(void)
{
	char dir[DIRLEN], path[PATH_MAX], mnt[DIRLEN + 16], filler[PATH_MAX];
	struct commit c;
	char *b;
	size_t n;
	int rc;

	if (!is_root) {
		skip("full tmpfs, read-only tmpfs", "not root");
		return;
	}
	mkcase(dir, path, "tmpfs");
	snprintf(mnt, sizeof mnt, "%s/mnt", dir);
	mkdir(mnt, 0755);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0) {
		skip("full tmpfs, read-only tmpfs", strerror(errno));
		return;
	}
	add_mount(mnt);
	snprintf(path, sizeof path, "%s/config.toml", mnt);
	snprintf(filler, sizeof filler, "%s/filler", mnt);

	char cfg[2000];
	memset(cfg, '#', sizeof cfg);
	cfg[sizeof cfg - 1] = '\n';
	spit(path, cfg, sizeof cfg);
	CHECK(commit_init(&c, path, NULL) == 0, "init");
	CHECK(commit_load(&c, &b, &n) == 0 && n == sizeof cfg, "load");
	free(b);

	/* fill the disk */
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char blk[4096];
	memset(blk, 'f', sizeof blk);
	ssize_t w;
	while ((w = write(fd, blk, sizeof blk)) > 0)
		;
	CHECK(w < 0 && errno == ENOSPC, "disk full: %s", strerror(errno));
	close(fd);

	size_t big = 16384;
	char *bb = malloc(big);
	memset(bb, 'b', big);
	rc = commit_write(&c, bb, big);
	CHECK(rc == -ENOSPC, "full disk: %d", rc);
	CHECK(file_is(path, cfg, sizeof cfg), "full disk: intact");
	CHECK(count_temps(mnt, "config.toml", NULL) == 0, "full disk: no temp");
	CHECK(commit_changed(&c) == 0, "full disk: unchanged");

	unlink(filler);
	rc = commit_write(&c, bb, big);
	CHECK(rc == 0 && file_is(path, bb, big), "space again: written: %d", rc);

	/* read-only */
	if (mount("tmpfs", mnt, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=64k") < 0) {
		skip("read-only tmpfs", strerror(errno));
	} else {
		rc = commit_write(&c, cfg, sizeof cfg);
		CHECK(rc == -EROFS, "read-only: %d", rc);
		CHECK(file_is(path, bb, big), "read-only: intact");
		CHECK(count_temps(mnt, "config.toml", NULL) == 0, "read-only: no temp");
		CHECK(commit_cleanup_stale(&c) == 0, "read-only: nothing to clean");
	}
	free(bb);
	commit_fini(&c);
	drop_mount(mnt);
}

static void test_eacces(void)
{
	char dir[DIRLEN], path[PATH_MAX];
	pid_t pid;
	int status = 0;

	if (!is_root) {
		skip("EACCES as another user", "not root");
		return;
	}
	mkcase(dir, path, "eacces");
	spit(path, OLD, OLDLEN);
	chmod(path, 0666); /* the file is writable, its directory is not */
	chmod(root, 0755);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct commit c;
		int rc = 10;
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		if (commit_init(&c, path, NULL) != 0)
			_exit(3);
		rc = commit_write(&c, NEW, NEWLEN);
		commit_fini(&c);
		_exit(rc == -EACCES ? 0 : rc == 0 ? 4 : 5);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "unwritable directory: -EACCES (%d)",
	      WEXITSTATUS(status));
	CHECK(file_is(path, OLD, OLDLEN), "EACCES: intact");
	CHECK(count_temps(dir, "config.toml", NULL) == 0, "EACCES: no temp");
}

/* Someone opens the file by name in the moment between commit_write's
 * last look and its rename (the runner saving its token in place): their
 * open waits for commit_write's read lease, and after the rename it
 * writes the replaced file. commit_write says COMMIT_RACED and
 * commit_raced() gives their bytes once they have written and closed it.
 * The writer is another process, as the runner is (a lease does not hold
 * off its own holder's process in a useful way). */
static struct {
	const char *path;
	bool keep_open;
	pid_t pid;
	int go[2]; /* keep_open: the writer closes when this is written */
} race;

/* A lease break pending on some file (the writer's open waits). */
static bool lease_breaking(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/locks", "re");
	while (f && fgets(line, sizeof line, f))
		found |= strstr(line, "LEASE") && (strstr(line, "BREAKING") || strstr(line, "UNLCK"));
	if (f)
		fclose(f);
	return found;
}

static int racing_renameat(int od, const char *on, int nd, const char *nn)
{
	static const char theirs[] = "# theirs\n";
	if (pipe(race.go) < 0)
		return -1;
	race.pid = fork();
	if (race.pid == 0) {
		int fd = open(race.path, O_WRONLY | O_TRUNC | O_CLOEXEC); /* waits for the lease */
		if (fd < 0 || write(fd, theirs, sizeof(theirs) - 1) < 0)
			_exit(1);
		char c;
		if (race.keep_open && read(race.go[0], &c, 1) < 0)
			_exit(1);
		close(fd);
		_exit(0);
	}
	/* the writer's open has found the file and waits for our lease */
	for (int i = 0; i < 5000 && !lease_breaking(); i++)
		usleep(1000);
	return renameat(od, on, nd, nn);
}

static void test_raced(void)
{
	if (!is_root) {
		skip("raced commit", "not root (leases)");
		return;
	}
	for (int keep = 0; keep < 2; keep++) {
		char dir[DIRLEN], path[PATH_MAX];
		struct commit c;
		struct commit_ops ops = commit_sys_ops;
		char *b = NULL;
		size_t n = 0;
		int st;
		ops.renameat = racing_renameat;
		mkcase(dir, path, "raced");
		spit(path, OLD, OLDLEN);
		race.path = path;
		race.keep_open = keep;
		CHECK(commit_init(&c, path, &ops) == 0, "init");
		CHECK(commit_load(&c, &b, &n) == 0, "load");
		free(b);
		int rc = commit_write(&c, NEW, NEWLEN);
		CHECK(rc == COMMIT_RACED, "raced (kept open %d): %d", keep, rc);
		CHECK(file_is(path, NEW, NEWLEN) && commit_changed(&c) == 0, "ours in place, and known");
		int tries = 0;
		b = NULL;
		if (keep) {
			/* their file is open for writing: wait */
			while ((rc = commit_raced(&c, &b, &n, 0)) == -EBUSY && ++tries < 200 && !c.raced_waiting)
				usleep(1000);
			CHECK(rc == -EBUSY, "still open for writing: wait (%d)", rc);
			CHECK(write(race.go[1], "x", 1) == 1, "tell the writer to close");
		}
		waitpid(race.pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the writer wrote");
		CHECK(commit_raced(&c, &b, &n, 0) == 0 && n == 9 && !memcmp(b, "# theirs\n", 9),
		      "their bytes (kept open %d)", keep);
		free(b);
		CHECK(c.raced_fd == -1 && commit_raced(&c, &b, &n, 0) == -ENOENT, "let go");
		close(race.go[0]);
		close(race.go[1]);
		/* nobody racing: a plain write */
		ops.renameat = commit_sys_ops.renameat;
		CHECK(commit_load(&c, &b, &n) == 0, "load theirs");
		free(b);
		CHECK(commit_write(&c, OLD, OLDLEN) == 0 && file_is(path, OLD, OLDLEN), "then a clean write");
		commit_fini(&c);
		rmtree(dir);
	}
}

static void test_bind(void)
{
	char dir[DIRLEN], path[PATH_MAX], src[PATH_MAX];
	struct commit c;
	struct warns w = { 0, "" };
	struct stat st1, st2;
	char *b;
	size_t n;
	int rc, backups;

	if (!is_root) {
		skip("single-file bind mount", "not root");
		return;
	}
	mkcase(dir, path, "bind");
	snprintf(src, sizeof src, "%s/src.toml", dir);
	spit(src, OLD, OLDLEN);
	chmod(src, 0640);
	spit(path, "", 0);
	if (mount(src, path, "none", MS_BIND, NULL) < 0) {
		skip("single-file bind mount", strerror(errno));
		return;
	}
	add_mount(path);
	CHECK(commit_init(&c, path, NULL) == 0, "init");
	c.warn = on_warn;
	c.warn_arg = &w;
	CHECK(commit_load(&c, &b, &n) == 0 && n == OLDLEN, "load through the bind mount");
	free(b);
	stat(path, &st1);
	rc = commit_write(&c, NEW, NEWLEN);
	CHECK(rc == 0, "bind mount: write in place: %d", rc);
	CHECK(c.in_place == 1 && w.n == 1, "in_place, warned once: %d", w.n);
	CHECK(strstr(w.last, "single-file bind mount") && strstr(w.last, "mount its directory"),
	      "warning text: %s", w.last);
	CHECK(file_is(src, NEW, NEWLEN) && file_is(path, NEW, NEWLEN), "content in place");
	CHECK(count_temps(dir, "config.toml", &backups) == 0 && backups == 0,
	      "no temp, no backup left");
	CHECK(stat(path, &st2) == 0 && st2.st_ino == st1.st_ino && (st2.st_mode & 07777) == 0640,
	      "same inode, mode kept");
	CHECK(ts_cmp(st2.st_mtim, st1.st_mtim) > 0, "mtime newer");
	CHECK(commit_changed(&c) == 0, "unchanged after own write");
	struct timespec prev = st2.st_mtim;
	int bad = 0;
	for (int i = 0; i < 20; i++) {
		rc = commit_write(&c, i % 2 ? NEW : OLD, i % 2 ? NEWLEN : OLDLEN);
		if (rc != 0 || stat(path, &st2) < 0 || ts_cmp(st2.st_mtim, prev) <= 0)
			bad++;
		prev = st2.st_mtim;
	}
	CHECK(bad == 0 && w.n == 1, "20 in-place writes, mtime increasing, one warning: %d bad",
	      bad);
	commit_fini(&c);
	drop_mount(path);
}

int main(int argc, char **argv)
{
	/* commit.h: leases are taken, so the caller ignores SIGIO */
	signal(SIGIO, SIG_IGN);
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-v"))
			verbose = true;
	if (getenv("VERBOSE"))
		verbose = true;
	is_root = geteuid() == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);

	snprintf(root, sizeof root, "/tmp/runnerfs-commit-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	t_case("init");
	test_init();
	t_case("round trip: mode, owner, bytes");
	test_roundtrip();
	t_case("mtime");
	test_mtime();
	t_case("outside changes");
	test_changed();
	t_case("a sequence of commits");
	test_sequence();
	static const int errs[] = { EIO, ENOSPC, EACCES };
	for (int m = NORMAL; m <= FALLBACK_EXDEV; m++)
		for (size_t e = 0; e < sizeof errs / sizeof *errs; e++)
			if (m != NEWFILE || errs[e] == EIO) {
				t_case("fault injection at every step: mode %d, %s", m, strerrorname_np(errs[e]));
				fault_matrix((enum mode)m, errs[e]);
			}
	t_case("EINTR and directory fsync");
	test_eintr_and_dirsync();
	t_case("crash at every step");
	crash_matrix(false, false);
	t_case("crash at every step, bind-mount fallback");
	crash_matrix(true, false);
	t_case("crash at every step, broken file");
	crash_matrix(false, true);
	t_case("leftovers cleaned up");
	test_cleanup();
	t_case("full and read-only tmpfs");
	test_tmpfs();
	t_case("EACCES");
	test_eacces();
	t_case("raced commit");
	test_raced();
	t_case("single-file bind mount");
	test_bind();

	cleanup();
	return t_done();
}
