/* SPDX-License-Identifier: MIT */
/*
 * bench-parse: how fast the TOML engine parses and serializes a file, and
 * how much memory the document takes. Not a test: run.sh here drives it and
 * compares with Python's tomllib.
 *
 *   bench-parse FILE [ITERATIONS]
 *
 * Prints key=value lines (times are per call, best and median of
 * ITERATIONS, default 40):
 *   bytes, nodes
 *   parse_best_s, parse_median_s          toml_parse
 *   parse_free_best_s                      toml_parse + toml_free
 *   serialize_best_s, serialize_median_s  toml_text + copying the bytes out
 *   edit_best_s                            one toml_set in the middle of the
 *                                          document + toml_text (an edit
 *                                          splices and reparses)
 *   doc_heap_bytes                         heap in use after toml_parse minus
 *                                          before (mallinfo2; 0 if unknown)
 *   peak_heap_bytes                        highest heap in use during
 *                                          toml_parse, minus before (counted
 *                                          by a malloc wrapper; 0 when built
 *                                          with a sanitizer)
 *   peak_rss_bytes                         VmHWM growth over one parse in a
 *                                          fresh child process
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runnerfs/toml.h"

#if defined(__SANITIZE_ADDRESS__)
#define BENCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define BENCH_SANITIZED 1
#endif
#endif

/*
 * Peak heap: glibc lets a program replace malloc (its own calls go through
 * the replacement too), and exports the real functions as __libc_*. Count
 * usable sizes in use and remember the high-water mark. Not under a
 * sanitizer, which owns malloc itself.
 */
#ifndef BENCH_SANITIZED
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static size_t heap_now, heap_peak;

static void heap_count(void *p, int sign)
{
	if (!p)
		return;
	size_t u = malloc_usable_size(p);
	if (sign > 0) {
		heap_now += u;
		if (heap_now > heap_peak)
			heap_peak = heap_now;
	} else {
		heap_now -= u;
	}
}

void *malloc(size_t n)
{
	void *p = __libc_malloc(n);
	heap_count(p, 1);
	return p;
}

void *calloc(size_t a, size_t b)
{
	void *p = __libc_calloc(a, b);
	heap_count(p, 1);
	return p;
}

void *realloc(void *old, size_t n)
{
	size_t was = old ? malloc_usable_size(old) : 0;
	void *p = __libc_realloc(old, n);
	if (p || n == 0) {
		heap_now -= was;
		heap_count(p, 1);
	}
	return p;
}

void free(void *p)
{
	heap_count(p, -1);
	__libc_free(p);
}

void *memalign(size_t al, size_t n)
{
	void *p = __libc_memalign(al, n);
	heap_count(p, 1);
	return p;
}

void *aligned_alloc(size_t al, size_t n)
{
	return memalign(al, n);
}

int posix_memalign(void **out, size_t al, size_t n)
{
	void *p = memalign(al, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
#define HEAP_COUNTED 1
#else
static size_t heap_now, heap_peak;
#define HEAP_COUNTED 0
#endif

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double best(double *t, size_t n)
{
	qsort(t, n, sizeof *t, cmp_double);
	return t[0];
}

static double median(double *t, size_t n)
{
	qsort(t, n, sizeof *t, cmp_double);
	return t[n / 2];
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1 << 16;
			char *q = realloc(p, cap);
			if (!q) {
				free(p);
				fclose(f);
				return NULL;
			}
			p = q;
		}
		size_t got = fread(p + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	*len = n;
	return p;
}

static long status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t fl = strlen(field);

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, fl) && line[fl] == ':') {
			v = strtol(line + fl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* VmHWM growth over one parse, in a fresh child. */
static long peak_rss(const char *text, size_t len)
{
	int fds[2];
	pid_t pid;
	long out = -1;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		toml_doc *d = NULL;
		long before, after, v;
		FILE *c = fopen("/proc/self/clear_refs", "w");

		close(fds[0]);
		/* Reset the high-water mark to the current RSS (Linux 4.0+). */
		if (c) {
			fputs("5", c);
			fclose(c);
		}
		before = status_kb("VmRSS");
		if (toml_parse(text, len, &d, NULL) != 0)
			_exit(1);
		after = status_kb("VmHWM");
		v = before >= 0 && after >= 0 ? (after - before) * 1024 : -1;
		if (write(fds[1], &v, sizeof v) != (ssize_t)sizeof v)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &out, sizeof out) != (ssize_t)sizeof out)
		out = -1;
	close(fds[0]);
	waitpid(pid, NULL, 0);
	return out;
}

/* A string value near the middle of the document, for the edit timing. */
static uint32_t middle_string(const toml_doc *d, size_t len)
{
	size_t total = toml_node_count_all(d);
	uint32_t found = TOML_NONE;

	for (uint32_t n = 0; n < total; n++) {
		size_t s, e;
		if (toml_type_of(d, n) != TOML_STRING ||
		    toml_span(d, n, &s, &e) != 0)
			continue;
		found = n;
		if (s >= len / 2)
			break;
	}
	return found;
}

int main(int argc, char **argv)
{
	size_t len = 0, iters = 40;
	char *text, *copy;
	toml_doc *doc = NULL;
	toml_error err;
	double *t;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s FILE [ITERATIONS]\n", argv[0]);
		return 2;
	}
	if (argc == 3)
		iters = strtoul(argv[2], NULL, 10);
	if (iters < 1)
		iters = 1;
	text = read_file(argv[1], &len);
	if (!text) {
		perror(argv[1]);
		return 1;
	}
	t = malloc(iters * sizeof *t);
	copy = malloc(len + 1);
	if (!t || !copy)
		return 1;

	/* Peak RSS first, before this process's heap grows. */
	long rss = peak_rss(text, len);

	/* Memory: heap in use before, at the peak of, and after a parse. */
	struct mallinfo2 mi0 = mallinfo2();
	size_t h0 = heap_now;
	heap_peak = heap_now;
	memset(&err, 0, sizeof err);
	if (toml_parse(text, len, &doc, &err) != 0) {
		fprintf(stderr, "%s:%d:%d: %s\n", argv[1], err.line, err.col,
			err.msg);
		return 1;
	}
	size_t peak = heap_peak - h0;
	struct mallinfo2 mi1 = mallinfo2();
	size_t doc_heap = (mi1.uordblks + mi1.hblkhd) -
			  (mi0.uordblks + mi0.hblkhd);
	size_t nodes = toml_node_count_all(doc);

	/* Serialize: the bytes to write, copied out. */
	for (size_t i = 0; i < iters; i++) {
		double a = now();
		size_t l = 0;
		const char *p = toml_text(doc, &l);
		memcpy(copy, p, l);
		t[i] = now() - a;
		if (l != len || memcmp(copy, text, len) != 0) {
			fprintf(stderr, "serialized text differs from input\n");
			return 1;
		}
	}
	double ser_best = best(t, iters), ser_med = median(t, iters);

	/* One edit in the middle: splice + reparse, then the text. */
	double edit_best = -1;
	{
		uint32_t n = middle_string(doc, len);
		if (n != TOML_NONE) {
			for (size_t i = 0; i < iters; i++) {
				char v[32];
				toml_value val = { .type = TOML_STRING };
				int vl = snprintf(v, sizeof v, "edit-%zu", i);
				size_t l = 0;
				val.str = v;
				val.len = (size_t)vl;
				n = middle_string(doc, len);
				double a = now();
				int r = toml_set(doc, n, &val, NULL);
				const char *p = toml_text(doc, &l);
				memcpy(copy, p, l < len ? l : len);
				t[i] = now() - a;
				if (r != 0) {
					fprintf(stderr, "toml_set: %d\n", r);
					t[i] = -1;
				}
			}
			edit_best = best(t, iters);
		}
	}
	toml_free(doc);

	/* Parse alone. */
	for (size_t i = 0; i < iters; i++) {
		double a = now();
		if (toml_parse(text, len, &doc, NULL) != 0)
			return 1;
		t[i] = now() - a;
		toml_free(doc);
	}
	double parse_best = best(t, iters), parse_med = median(t, iters);

	/* Parse and free, as tomllib.loads + dropping the dict. */
	for (size_t i = 0; i < iters; i++) {
		double a = now();
		if (toml_parse(text, len, &doc, NULL) != 0)
			return 1;
		toml_free(doc);
		t[i] = now() - a;
	}
	double pf_best = best(t, iters);

	printf("bytes=%zu\n", len);
	printf("nodes=%zu\n", nodes);
	printf("iterations=%zu\n", iters);
	printf("parse_best_s=%.9f\n", parse_best);
	printf("parse_median_s=%.9f\n", parse_med);
	printf("parse_free_best_s=%.9f\n", pf_best);
	printf("serialize_best_s=%.9f\n", ser_best);
	printf("serialize_median_s=%.9f\n", ser_med);
	printf("edit_best_s=%.9f\n", edit_best);
	printf("doc_heap_bytes=%zu\n", doc_heap);
	printf("peak_heap_bytes=%zu\n", HEAP_COUNTED ? peak : (size_t)0);
	printf("peak_rss_bytes=%ld\n", rss);
	printf("parse_mb_s=%.1f\n", (double)len / 1e6 / parse_best);
	printf("serialize_mb_s=%.1f\n", (double)len / 1e6 / ser_best);
	free(text);
	free(copy);
	free(t);
	return 0;
}
