/* SPDX-License-Identifier: MIT */
/*
 * Bounds: hostile input costs linear time and bounded stack, numbers never
 * wrap, and errors say where and what in words.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/buf.h"
#include "runnerfs/toml.h"

#include "test.h"

/* Parse text; return the errno and fill err. */
static int parse(const char *text, size_t len, toml_error *err)
{
	toml_doc *d;
	int r = toml_parse(text, len, &d, err);
	if (r == 0)
		toml_free(d);
	return r;
}

static void error_at(const char *text, int line, int col, const char *words)
{
	toml_error err;
	int r = parse(text, strlen(text), &err);
	CHECK(r == -EINVAL && err.line == line && err.col == col && strstr(err.msg, words),
	      "%s: got %d %d:%d \"%s\", want %d:%d containing \"%s\"", text, r, err.line, err.col,
	      err.msg, line, col, words);
}

static void integers(void)
{
	toml_error err;
	toml_doc *d;
	const char *ok = "a = 9223372036854775807\nb = -9223372036854775808\nc = 0x7FFFFFFFFFFFFFFF\n";
	CHECK(toml_parse(ok, strlen(ok), &d, &err) == 0, "int64 limits: %s", err.msg);
	if (!t_case_failed()) {
		int64_t a, b, c;
		toml_get_int(d, toml_get(d, TOML_ROOT, "a", 1), &a);
		toml_get_int(d, toml_get(d, TOML_ROOT, "b", 1), &b);
		toml_get_int(d, toml_get(d, TOML_ROOT, "c", 1), &c);
		CHECK(a == INT64_MAX && b == INT64_MIN && c == INT64_MAX, "int64 values");
		toml_free(d);
	}
	error_at("a = 9223372036854775808\n", 1, 5, "64 bits");
	error_at("a = -9223372036854775809\n", 1, 5, "64 bits");
	error_at("a = 0x8000000000000000\n", 1, 5, "64 bits");
	error_at("a = 99999999999999999999999999\n", 1, 5, "64 bits");

	toml_value v;
	CHECK(toml_value_parse(TOML_INTEGER, "18446744073709551616", 20, &v, &err) == -EINVAL,
	      "value_parse overflow");
	CHECK(toml_value_parse(TOML_INTEGER, " 1_000\n", 7, &v, &err) == 0 && v.i == 1000,
	      "value_parse 1_000");
	CHECK(toml_value_parse(TOML_INTEGER, "abc", 3, &v, &err) == -EINVAL &&
		      strstr(err.msg, "\"abc\" is not an integer"),
	      "value_parse abc: %s", err.msg);
	CHECK(toml_value_parse(TOML_BOOL, "yes", 3, &v, &err) == -EINVAL &&
		      strstr(err.msg, "true or false"),
	      "value_parse yes: %s", err.msg);
}

/* n copies of s, then tail. */
static char *repeat(const char *s, size_t n, const char *tail, size_t *len)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		buf_adds(&b, s);
	buf_adds(&b, tail);
	return buf_steal(&b, len);
}

static void nesting(void)
{
	toml_error err;
	size_t len;
	char *t;

	t = repeat("[", 100000, "", &len);
	CHECK(parse(t, len, &err) == -EINVAL && err.line == 1, "100k [ at the start: %s", err.msg);
	free(t);

	char *inner = repeat("[", 100000, "", &len);
	struct buf b = BUF_INIT;
	buf_adds(&b, "a = ");
	buf_add(&b, inner, len);
	free(inner);
	CHECK(parse(b.p, b.len, &err) == -EINVAL && strstr(err.msg, "nested too deeply"),
	      "a = [[[[... 100k deep: %s", err.msg);
	buf_free(&b);

	t = repeat("a = {b = ", 100000, "", &len);
	CHECK(parse(t, len, &err) == -EINVAL, "inline tables 100k deep: %s", err.msg);
	free(t);

	/* as deep as allowed still parses */
	struct buf ok = BUF_INIT;
	buf_adds(&ok, "a = ");
	for (int i = 0; i < TOML_MAX_DEPTH; i++)
		buf_addc(&ok, '[');
	for (int i = 0; i < TOML_MAX_DEPTH; i++)
		buf_addc(&ok, ']');
	buf_addc(&ok, '\n');
	CHECK(parse(ok.p, ok.len, &err) == 0, "depth %d parses: %s", TOML_MAX_DEPTH, err.msg);
	buf_free(&ok);

	t = repeat("a.", 100000, "b = 1\n", &len);
	CHECK(parse(t, len, &err) == -EINVAL && strstr(err.msg, "dotted parts"),
	      "100k dotted key parts: %s", err.msg);
	free(t);
}

/* 50 MB of keys, tables and runners: parses (linear time is what lets it
 * finish inside the test's timeout) and writes back exactly. */
static void big(void)
{
	struct buf b = BUF_INIT;
	for (int i = 0; b.len < 25u << 20; i++)
		buf_addf(&b, "key_%d = \"value %d\" # comment\n", i, i);
	for (int i = 0; b.len < 50u << 20; i++)
		buf_addf(&b, "[[runners]]\n  name = \"r%d\"\n  [runners.docker]\n    volumes = [\"/a\", \"/b\"]\n", i);
	toml_doc *d;
	toml_error err;
	int r = toml_parse(b.p, b.len, &d, &err);
	CHECK(r == 0, "50 MB parses: %s", err.msg);
	if (r == 0) {
		size_t len;
		const char *t = toml_text(d, &len);
		CHECK(len == b.len && !memcmp(t, b.p, len), "50 MB round trip");
		uint32_t runners = toml_get(d, TOML_ROOT, "runners", 7);
		CHECK(toml_count(d, runners) > 100000, "many runners");
		/* an edit on a big document is one splice and one reparse */
		toml_value v = {.type = TOML_STRING, .str = "x", .len = 1};
		CHECK(toml_set(d, toml_get(d, TOML_ROOT, "key_0", 5), &v, &err) == 0, "edit big: %s",
		      err.msg);
		toml_free(d);
	}
	buf_free(&b);
}

static void messages(void)
{
	error_at("a = 1\nb = \n", 2, 5, "expected a value");
	error_at("a = 1\na = 2\n", 2, 1, "duplicate key \"a\"");
	error_at("[t]\nx = 1\n[t]\n", 3, 2, "\"t\" is already defined");
	error_at("a = \"abc\n", 1, 9, "not closed on its line");
	error_at("a = \"\"\"abc\n", 1, 5, "never closed");
	error_at("a = \"\\q\"\n", 1, 6, "unknown escape");
	error_at("a = 01\n", 1, 5, "leading zero");
	error_at("a = 2024-02-30\n", 1, 5, "date does not exist");
	error_at("a = [1, 2\n", 2, 1, "never closed");
	error_at("a = {x = 1,}\n", 1, 12, "trailing comma");
	error_at("a b = 1\n", 1, 3, "expected '='");
	error_at("\xef\xbb\xbf" "a = 1 # \x01\n", 1, 12, "control characters");
	error_at("a = 1\r\nb = \"\xff\"\r\n", 2, 6, "UTF-8");
	error_at("[x]\nv = 1\n[x.v.y]\n", 3, 4, "holds a value");
	error_at("a = {b = 1}\n[a.c]\n", 2, 2, "inline table");
}

int main(void)
{
	t_case("integers: int64 bounds, no wrap");
	integers();
	t_case("nesting: 100k deep, bounded stack");
	nesting();
	t_case("error messages: where and what");
	messages();
	t_case("a 50 MB document");
	big();
	return t_done();
}
