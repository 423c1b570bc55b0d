/* SPDX-License-Identifier: MIT */
/*
 * fs-fuse-floor: the least a FUSE filesystem built like runnerfs (libfuse's
 * high-level, path-based API, multi-threaded, direct_io) can cost: a
 * read-only passthrough of a directory that does nothing but forward each
 * request to the directory. Not a test: fs-read-all.sh mounts it over the
 * tmpfs copy of the tree to show how much of runnerfs's time is FUSE's own.
 *
 *   fs-fuse-floor SRC MOUNTPOINT [FUSE OPTIONS...]
 *
 * Environment (defaults are runnerfs's first settings, before READDIRPLUS
 * and noflush):
 *   FLOOR_DIRECT_IO=1      open files with direct_io (0: the page cache)
 *   FLOOR_ATTR_TIMEOUT=0   attribute timeout in seconds
 *   FLOOR_ENTRY_TIMEOUT=1  entry timeout in seconds
 *   FLOOR_DTYPE=0          1: readdir reports each entry's type and inode
 */
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int srcfd = -1;

static int env(const char *name, int def)
{
	const char *v = getenv(name);
	return v ? atoi(v) : def;
}

static const char *rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

static int f_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int r = fi ? fstat((int)fi->fh, st) : fstatat(srcfd, rel(path), st, AT_SYMLINK_NOFOLLOW);
	return r < 0 ? -errno : 0;
}

static int f_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		     struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	int fd = openat(srcfd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	int dtype = env("FLOOR_DTYPE", 0);
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		memset(&st, 0, sizeof(st));
		st.st_ino = e->d_ino;
		st.st_mode = (mode_t)DTTOIF(e->d_type);
		if (filler(buf, e->d_name, dtype ? &st : NULL, 0, 0))
			break;
	}
	closedir(d);
	return 0;
}

static int f_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(srcfd, rel(path), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = env("FLOOR_DIRECT_IO", 1) != 0;
	return 0;
}

static int f_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	ssize_t n = pread((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int f_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return 0;
}

static int f_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static void *f_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->entry_timeout = env("FLOOR_ENTRY_TIMEOUT", 1);
	cfg->negative_timeout = 0;
	cfg->attr_timeout = env("FLOOR_ATTR_TIMEOUT", 0);
	return NULL;
}

static const struct fuse_operations ops = {
	.init = f_init,
	.getattr = f_getattr,
	.readdir = f_readdir,
	.open = f_open,
	.read = f_read,
	.flush = f_flush,
	.release = f_release,
};

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fs-fuse-floor SRC MOUNTPOINT [FUSE OPTIONS...]\n");
		return 2;
	}
	srcfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (srcfd < 0) {
		perror(argv[1]);
		return 2;
	}
	/* fuse_main(argv[0], MOUNTPOINT, options...) */
	argv[1] = argv[0];
	return fuse_main(argc - 1, argv + 1, &ops, NULL);
}
