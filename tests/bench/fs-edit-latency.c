/* SPDX-License-Identifier: MIT */
/*
 * fs-edit-latency: how long one-key edit through the mount takes until
 * config.toml is durable, side by side with the floor. Not a test:
 * fs-edit-latency.sh drives it.
 *
 *   fs-edit-latency VALUE_FILE CONFIG FLOOR_DIR ITERATIONS VALUE_A VALUE_B
 *
 * Each iteration does, in alternating order:
 *   mount: open(VALUE_FILE, O_WRONLY|O_TRUNC), write(VALUE), close() — the
 *          value alternates between VALUE_A and VALUE_B so that every edit
 *          changes the file. runnerfs commits at flush, and close() returns
 *          once config.toml is renamed into place and its directory fsynced.
 *   floor: the bytes of CONFIG as that edit left them (read beforehand,
 *          not timed) written to FLOOR_DIR/.config.toml.tmp (O_CREAT|O_EXCL,
 *          0600), fsync, close, rename over FLOOR_DIR/config.toml, fsync of
 *          FLOOR_DIR (whose descriptor stays open, as the daemon keeps the
 *          descriptor of CONFIG's directory).
 * FLOOR_DIR should be a sibling of CONFIG's directory on the same
 * filesystem (not the same directory: a daemon watching it would see the
 * floor's writes).
 *
 * Prints key=value lines, times in microseconds:
 *   iterations, config_bytes
 *   mount_median_us, mount_p90_us, mount_min_us, mount_mean_us
 *   mount_open_median_us, mount_write_median_us, mount_close_median_us
 *   floor_median_us, floor_p90_us, floor_min_us, floor_mean_us
 *   ratio_median            mount_median / floor_median
 *   ratio_paired_median     median over iterations of mount_i / floor_i
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WARMUP 5

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void die(const char *what, const char *name)
{
	fprintf(stderr, "fs-edit-latency: %s %s: %s\n", what, name, strerror(errno));
	exit(2);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, int n, double p)
{
	int k = (int)(p / 100.0 * n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void write_all(int fd, const char *p, size_t n, const char *name)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write", name);
		}
		p += w;
		n -= (size_t)w;
	}
}

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		die("stat", path);
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *b = malloc(cap);
	if (!b)
		die("malloc", path);
	for (;;) {
		if (n == cap && !(b = realloc(b, cap *= 2)))
			die("realloc", path);
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0)
			die("read", path);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return b;
}

/* One edit through the mount; the times of its three calls in t[3]. */
static double edit_mount(const char *file, const char *value, double t[3])
{
	size_t n = strlen(value);
	double t0 = now_us();
	int fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		die("open", file);
	double t1 = now_us();
	ssize_t w = write(fd, value, n);
	if (w != (ssize_t)n)
		die("write", file);
	double t2 = now_us();
	if (close(fd) < 0)
		die("close", file);
	double t3 = now_us();
	t[0] = t1 - t0;
	t[1] = t2 - t1;
	t[2] = t3 - t2;
	return t3 - t0;
}

static double edit_floor(int dirfd, const char *dir, const char *bytes, size_t len)
{
	double t0 = now_us();
	int fd = openat(dirfd, ".config.toml.tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		die("create temp in", dir);
	write_all(fd, bytes, len, dir);
	if (fsync(fd) < 0)
		die("fsync temp in", dir);
	if (close(fd) < 0)
		die("close temp in", dir);
	if (renameat(dirfd, ".config.toml.tmp", dirfd, "config.toml") < 0)
		die("rename in", dir);
	if (fsync(dirfd) < 0)
		die("fsync", dir);
	return now_us() - t0;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: fs-edit-latency VALUE_FILE CONFIG FLOOR_DIR ITERATIONS VALUE_A VALUE_B\n");
		return 2;
	}
	const char *file = argv[1], *config = argv[2], *floordir = argv[3];
	int iters = atoi(argv[4]);
	const char *vals[2] = {argv[5], argv[6]};
	if (iters < 1)
		iters = 1;
	int dirfd = open(floordir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		die("open", floordir);
	unlinkat(dirfd, ".config.toml.tmp", 0);

	double *m = calloc((size_t)iters, sizeof(double)), *f = calloc((size_t)iters, sizeof(double));
	double *mo = calloc((size_t)iters, sizeof(double)), *mw = calloc((size_t)iters, sizeof(double));
	double *mc = calloc((size_t)iters, sizeof(double)), *ratio = calloc((size_t)iters, sizeof(double));
	if (!m || !f || !mo || !mw || !mc || !ratio)
		die("calloc", "");
	/* Start with the value the file does not hold, so that each edit
	 * changes config.toml. */
	size_t len = 0;
	char *bytes = slurp(file, &len);
	if (len == strlen(vals[0]) && !memcmp(bytes, vals[0], len)) {
		vals[0] = argv[6];
		vals[1] = argv[5];
	}
	free(bytes);
	bytes = NULL;
	struct stat before, after;
	for (int i = -WARMUP; i < iters; i++) {
		const char *v = vals[(i + WARMUP) % 2];
		double t[3], tm, tf;
		/* The floor writes CONFIG as the previous edit left it: the
		 * same bytes but for the one value (VALUE_A and VALUE_B should
		 * have the same length). */
		if (!bytes)
			bytes = slurp(config, &len);
		if (stat(config, &before) < 0)
			die("stat", config);
		if ((i & 1) == 0) {
			tm = edit_mount(file, v, t);
			tf = edit_floor(dirfd, floordir, bytes, len);
		} else {
			tf = edit_floor(dirfd, floordir, bytes, len);
			tm = edit_mount(file, v, t);
		}
		if (stat(config, &after) < 0)
			die("stat", config);
		if (after.st_ino == before.st_ino) {
			fprintf(stderr, "fs-edit-latency: %s was not replaced by the edit of %s\n", config, file);
			return 1;
		}
		free(bytes);
		bytes = slurp(config, &len);
		if (i < 0)
			continue;
		m[i] = tm;
		f[i] = tf;
		mo[i] = t[0];
		mw[i] = t[1];
		mc[i] = t[2];
		ratio[i] = tm / tf;
	}
	unlinkat(dirfd, "config.toml", 0);
	close(dirfd);

	double msum = 0, fsum = 0;
	for (int i = 0; i < iters; i++) {
		msum += m[i];
		fsum += f[i];
	}
	double mmed = median(m, iters), fmed = median(f, iters);
	printf("iterations=%d\nconfig_bytes=%zu\n", iters, len);
	printf("mount_median_us=%.1f\nmount_p90_us=%.1f\nmount_min_us=%.1f\nmount_mean_us=%.1f\n", mmed,
	       pct(m, iters, 90), m[0], msum / iters);
	printf("mount_open_median_us=%.1f\nmount_write_median_us=%.1f\nmount_close_median_us=%.1f\n",
	       median(mo, iters), median(mw, iters), median(mc, iters));
	printf("floor_median_us=%.1f\nfloor_p90_us=%.1f\nfloor_min_us=%.1f\nfloor_mean_us=%.1f\n", fmed,
	       pct(f, iters, 90), f[0], fsum / iters);
	printf("ratio_median=%.3f\nratio_paired_median=%.3f\n", mmed / fmed, median(ratio, iters));
	return 0;
}
