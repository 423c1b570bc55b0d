/* SPDX-License-Identifier: MIT */
/*
 * test.h: the one helper of the C unit tests. Each test program reports
 * each of its cases in TAP (meson runs them with protocol 'tap'):
 *
 *	t_case("name %d", i);     start a case (ends the one before)
 *	CHECK(cond, "fmt", ...);  a check; a failure prints a diagnostic
 *	                          and fails the current case
 *	t_fail("fmt", ...);       fail the current case, saying why
 *	t_skip("fmt", ...);       the current case did not run, saying why
 *	t_note("fmt", ...);       a diagnostic line (# ...)
 *	t_known("fmt", ...);      a known failure: the case is reported
 *	                          "not ok ... # TODO why" (meson: expected
 *	                          fail) unless something else fails in it
 *	return t_done();          end: the plan, `N passed, N failed, N
 *	                          skipped`, the exit status
 *
 * A check outside any case is a case of its own. Output goes to stdout,
 * line-buffered; diagnostics are TAP comments (# ...). contrib/test.sh
 * counts the ok / not ok lines.
 *
 * Also: t_suite_open(), the toml-test case list (tests/compliance/
 * toml-test-list.py) that roundtrip and inplace read.
 */
#ifndef RUNNERFS_TEST_H
#define RUNNERFS_TEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
	unsigned n, passed, failed, skipped, known, checks;
	bool open, case_failed, case_skipped, case_known;
	char name[512], skip_why[512], known_why[512];
} t_;

__attribute__((format(printf, 3, 0))) static void t_vname(char *out, size_t n, const char *fmt,
							     va_list ap)
{
	vsnprintf(out, n, fmt, ap);
	for (char *p = out; *p; p++) /* one line; '#' would start a directive */
		if (*p == '\n' || *p == '\r' || *p == '#')
			*p = ' ';
}

static void t_end_case(void)
{
	if (!t_.open)
		return;
	t_.open = false;
	t_.n++;
	if (t_.case_failed) {
		t_.failed++;
		printf("not ok %u - %s\n", t_.n, t_.name);
	} else if (t_.case_known) {
		t_.known++;
		printf("not ok %u - %s # TODO %s\n", t_.n, t_.name, t_.known_why);
	} else if (t_.case_skipped) {
		t_.skipped++;
		printf("ok %u - %s # SKIP %s\n", t_.n, t_.name, t_.skip_why);
	} else {
		t_.passed++;
		printf("ok %u - %s\n", t_.n, t_.name);
	}
}

__attribute__((format(printf, 1, 2), unused)) static void t_case(const char *fmt, ...)
{
	static bool init;
	va_list ap;

	if (!init) {
		setvbuf(stdout, NULL, _IOLBF, 0);
		init = true;
	}
	t_end_case();
	va_start(ap, fmt);
	t_vname(t_.name, sizeof t_.name, fmt, ap);
	va_end(ap);
	t_.open = true;
	t_.case_failed = t_.case_skipped = t_.case_known = false;
}

__attribute__((format(printf, 1, 2), unused)) static void t_note(const char *fmt, ...)
{
	va_list ap;
	char line[2048];

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (char *s = line, *e; *s; s = e) {
		e = s + strcspn(s, "\n");
		printf("# %.*s\n", (int)(e - s), s);
		if (*e)
			e++;
	}
}

__attribute__((format(printf, 3, 0))) static void t_vfail(const char *file, int line,
							     const char *fmt, va_list ap)
{
	char msg[2048];
	bool adhoc = !t_.open;

	if (adhoc)
		t_case("%s:%d", file, line);
	vsnprintf(msg, sizeof msg, fmt, ap);
	t_note("FAIL %s:%d: %s", file, line, msg);
	t_.case_failed = true;
	if (adhoc)
		t_end_case();
}

__attribute__((format(printf, 3, 4), unused)) static void t_fail_at(const char *file, int line,
								      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t_vfail(file, line, fmt, ap);
	va_end(ap);
}

#define t_fail(...) t_fail_at(__FILE__, __LINE__, __VA_ARGS__)

__attribute__((format(printf, 5, 6), unused)) static bool
t_check_at(bool ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;
	char msg[2048];

	t_.checks++;
	if (ok) {
		if (!t_.open) {
			t_case("%s:%d: %s", file, line, expr);
			t_end_case();
		}
		return true;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t_fail_at(file, line, "%s: %s", expr, msg);
	return false;
}

/* CHECK(cond, fmt, ...): true when cond holds */
#define CHECK(cond, ...) t_check_at(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

__attribute__((format(printf, 1, 2), unused)) static void t_known(const char *fmt, ...)
{
	va_list ap;

	if (!t_.open)
		t_case("known failure");
	if (t_.case_known)
		return; /* said once a case */
	va_start(ap, fmt);
	t_vname(t_.known_why, sizeof t_.known_why, fmt, ap);
	va_end(ap);
	t_note("known failure: %s", t_.known_why);
	t_.case_known = true;
}

__attribute__((format(printf, 1, 2), unused)) static void t_skip(const char *fmt, ...)
{
	va_list ap;

	if (!t_.open)
		t_case("skipped");
	va_start(ap, fmt);
	t_vname(t_.skip_why, sizeof t_.skip_why, fmt, ap);
	va_end(ap);
	t_.case_skipped = true;
}

/* Whether the current case has failed so far. */
__attribute__((unused)) static bool t_case_failed(void)
{
	return t_.open && t_.case_failed;
}

/* Failed cases so far (the current one included). */
__attribute__((unused)) static unsigned t_failures(void)
{
	return t_.failed + (t_.open && t_.case_failed);
}

__attribute__((unused)) static int t_done(void)
{
	t_end_case();
	printf("1..%u\n", t_.n);
	printf("# %u passed, %u failed, %u skipped, %u known failures (%u checks)\n", t_.passed,
	       t_.failed, t_.skipped, t_.known, t_.checks);
	fflush(stdout);
	return t_.failed ? 1 : 0;
}

/*
 * The toml-test cases: ARG is a list written by toml-test-list.py (its
 * first line says which set; "# dir: DIR" where the cases are) or, as
 * before, a toml-test folder with tests/files-toml-1.0.0. Returns the open
 * list with *dir filled in, or NULL after a skipped case saying why.
 * Each following line of the list ending in .toml is a case under *dir.
 */
__attribute__((unused)) static FILE *t_suite_open(const char *arg, char *dir, size_t dirlen)
{
	char path[4200], line[4200];
	FILE *f = fopen(arg, "r");

	dir[0] = '\0';
	if (f && fgets(line, sizeof line, f) && !strncmp(line, "# toml-test: ", 13)) {
		line[strcspn(line, "\r\n")] = '\0';
		t_note("%s", line + 2);
		while (fgets(line, sizeof line, f)) {
			line[strcspn(line, "\r\n")] = '\0';
			if (strncmp(line, "# dir: ", 7) || strlen(line + 7) >= dirlen)
				continue;
			memcpy(dir, line + 7, strlen(line + 7) + 1);
			return f;
		}
		fclose(f);
		t_case("toml-test suite");
		t_skip("no toml-test suite (meson -Dtoml_test=DIR)");
		t_end_case();
		return NULL;
	}
	if (f)
		fclose(f);
	size_t l = strlen(arg);
	snprintf(path, sizeof path, "%s/tests/files-toml-1.0.0", arg);
	if (l + 6 < dirlen && (f = fopen(path, "r"))) {
		memcpy(dir, arg, l);
		memcpy(dir + l, "/tests", 7);
		return f;
	}
	snprintf(path, sizeof path, "%s/files-toml-1.0.0", arg);
	if (l < dirlen && (f = fopen(path, "r"))) {
		memcpy(dir, arg, l + 1);
		return f;
	}
	t_case("toml-test suite");
	t_skip("no toml-test suite at %s", arg);
	t_end_case();
	return NULL;
}

#endif
