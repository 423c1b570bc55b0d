/* SPDX-License-Identifier: MIT */
/*
 * fs-walk: read every regular file under a directory, in one process (what
 * `find DIR -type f -exec cat {} +` does, without the fork and exec costs
 * that would hide the filesystem's). Not a test: fs-read-all.sh drives it.
 *
 *   fs-walk DIR                 read every file once; print one line:
 *                               files=N dirs=N bytes=N seconds=S
 *   fs-walk DIR ROUNDS          the same, ROUNDS times; one line per round
 *   fs-walk --list DIR [ROUNDS] what `find DIR` does: the walk without
 *                               opening the files (counted, not read)
 *   fs-walk --copy DIR DEST     copy the tree (directories and regular files,
 *                               byte for byte) into DEST, which must exist
 *
 * The walk is find's: getdents on each directory, the d_type of each entry
 * (an fstatat when the filesystem reports DT_UNKNOWN, as find does), then
 * openat + read until EOF + close of each regular file, relative to the
 * directory's descriptor. Entries are visited in readdir order.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct count {
	unsigned long files, dirs, stats;
	unsigned long long bytes;
};

static char rbuf[1 << 16];
static int list_only; /* --list: find's walk, no file is opened */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const char *name)
{
	fprintf(stderr, "fs-walk: %s %s: %s\n", what, name, strerror(errno));
	exit(2);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read (and with out >= 0, copy) one file. */
static void read_file(int dirfd, const char *name, int outdir, struct count *c)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", name);
	int out = -1;
	if (outdir >= 0 && (out = openat(outdir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		die("create", name);
	for (;;) {
		ssize_t n = read(fd, rbuf, sizeof(rbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read", name);
		}
		if (n == 0)
			break;
		c->bytes += (unsigned long long)n;
		if (out >= 0 && write_all(out, rbuf, (size_t)n) < 0)
			die("write", name);
	}
	close(fd);
	if (out >= 0 && close(out) < 0)
		die("close", name);
	c->files++;
}

static void walk(int dirfd, const char *label, int outdir, struct count *c)
{
	DIR *d = fdopendir(dirfd);
	if (!d)
		die("fdopendir", label);
	c->dirs++;
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		unsigned char type = e->d_type;
		if (type == DT_UNKNOWN) {
			struct stat st;
			if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				die("stat", e->d_name);
			c->stats++;
			type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
		}
		if (type == DT_DIR) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub < 0)
				die("open", e->d_name);
			int subout = -1;
			if (outdir >= 0) {
				if (mkdirat(outdir, e->d_name, 0755) < 0 && errno != EEXIST)
					die("mkdir", e->d_name);
				subout = openat(outdir, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (subout < 0)
					die("open", e->d_name);
			}
			walk(sub, e->d_name, subout, c);
			if (subout >= 0)
				close(subout);
		} else if (type == DT_REG && list_only) {
			c->files++;
		} else if (type == DT_REG) {
			read_file(dirfd, e->d_name, outdir, c);
		}
		errno = 0;
	}
	if (errno)
		die("readdir", label);
	closedir(d);
}

static void one(const char *dir, const char *dest)
{
	struct count c = {0, 0, 0, 0};
	int outdir = -1;
	if (dest && (outdir = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die("open", dest);
	double t0 = now();
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open", dir);
	walk(fd, dir, outdir, &c);
	double t = now() - t0;
	if (outdir >= 0)
		close(outdir);
	printf("files=%lu dirs=%lu stats=%lu bytes=%llu seconds=%.6f\n", c.files, c.dirs, c.stats,
	       c.bytes, t);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--copy")) {
		one(argv[2], argv[3]);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "--list")) {
		list_only = 1;
		argv++;
		argc--;
	}
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: fs-walk [--list] DIR [ROUNDS] | fs-walk --copy DIR DEST\n");
		return 2;
	}
	int rounds = argc == 3 ? atoi(argv[2]) : 1;
	for (int i = 0; i < rounds; i++)
		one(argv[1], NULL);
	return 0;
}
