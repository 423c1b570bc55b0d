/* SPDX-License-Identifier: MIT */
/*
 * test_edit: exact bytes before and after each edit of the TOML engine.
 *
 * Each case is an input text, one edit, and either the exact expected
 * output or the expected errno (then the bytes must not change). Besides
 * the exact comparison every successful edit is checked for:
 *   - the output parses;
 *   - set/insert: the value reads back identical (strings byte for byte);
 *   - set: the bytes outside the old value's span are unchanged.
 *
 * A case may list alternative outputs that are also right (`alt`): a match
 * there passes but is reported as a note, so that the choice stays
 * visible. A `soft` case reports a mismatch as a note, not a failure:
 * used where the header leaves the layout open and we only have a
 * preference.
 *
 * Paths are '/'-separated; a segment is a key when the node is a table
 * and an index when it is an array. "" is the root.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/toml.h"
#include "test.h"

enum op {
	SET = 1,
	SET_ARRAY,
	SET_RAW,
	INSERT,
	INSERT_ARRAY,
	INSERT_RAW,
	ADD_TABLE,
	APPEND,
	REMOVE,
	RENAME,
};

static const char *op_name[] = {
	[SET] = "set", [SET_ARRAY] = "set_array", [SET_RAW] = "set_raw",
	[INSERT] = "insert", [INSERT_ARRAY] = "insert_array",
	[INSERT_RAW] = "insert_raw", [ADD_TABLE] = "add_table",
	[APPEND] = "append_entry", [REMOVE] = "remove", [RENAME] = "rename",
};

#define MAXVALS 8
#define ANY_ERROR (-1)

struct tcase {
	const char *name;
	const char *in;
	size_t inlen;          /* 0: strlen(in) */
	enum op op;
	const char *path;
	const char *key;       /* insert, add_table, append, rename */
	size_t klen;           /* 0: strlen(key) */
	toml_type type;        /* set, insert, set_array, insert_array */
	const char *val;       /* text for toml_value_parse; raw for strings and *_raw */
	size_t vlen;           /* 0: strlen(val) */
	const char *vals[MAXVALS]; /* set_array / insert_array; NULL-ended */
	const char *out;       /* expected output */
	const char *alt[3];    /* also accepted, reported as a note */
	int err;               /* expected errno, ANY_ERROR for any */
	bool soft;             /* mismatch is a note only */
	const char *why;       /* shown with notes and failures */
};

static int failures, notes, checks;
static bool cur_failed; /* the running case has failed */

/* ---- helpers ---- */

static void show_bytes(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			fputs("\\r", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\\')
			fputs("\\\\", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

struct line {
	const char *p;
	size_t n; /* including its '\n' if any */
};

static size_t split_lines(const char *s, size_t len, struct line **out)
{
	size_t cnt = 0, cap = 16;
	struct line *l = malloc(cap * sizeof(*l));
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '\n') {
			size_t end = i < len ? i + 1 : i;
			if (end == start)
				break;
			if (cnt == cap) {
				cap *= 2;
				l = realloc(l, cap * sizeof(*l));
			}
			l[cnt].p = s + start;
			l[cnt].n = end - start;
			cnt++;
			start = end;
		}
	}
	*out = l;
	return cnt;
}

static bool line_eq(const struct line *a, const struct line *b)
{
	return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

static void show_line(char mark, const struct line *l)
{
	fprintf(stderr, "      %c ", mark);
	show_bytes(stderr, l->p, l->n && l->p[l->n - 1] == '\n' ? l->n - 1 : l->n);
	if (l->n && l->p[l->n - 1] == '\n')
		fputs("\xe2\x8f\x8e", stderr); /* a visible end of line */
	else
		fputs("  (no newline)", stderr);
	fputc('\n', stderr);
}

/* A line diff (LCS; the texts are small): '-' expected, '+' got. */
static void show_diff(const char *exp, size_t elen, const char *got, size_t glen)
{
	struct line *a, *b;
	size_t na = split_lines(exp, elen, &a), nb = split_lines(got, glen, &b);
	size_t *t = calloc((na + 1) * (nb + 1), sizeof(*t));
#define T(i, j) t[(i) * (nb + 1) + (j)]
	for (size_t i = na; i-- > 0;)
		for (size_t j = nb; j-- > 0;)
			T(i, j) = line_eq(&a[i], &b[j]) ? T(i + 1, j + 1) + 1
				: T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1);
	size_t i = 0, j = 0;
	fprintf(stderr, "      (- expected, + got)\n");
	while (i < na || j < nb) {
		if (i < na && j < nb && line_eq(&a[i], &b[j])) {
			show_line(' ', &a[i]);
			i++, j++;
		} else if (j < nb && (i == na || T(i, j + 1) >= T(i + 1, j))) {
			show_line('+', &b[j++]);
		} else {
			show_line('-', &a[i++]);
		}
	}
#undef T
	free(t);
	free(a);
	free(b);
}

static uint32_t resolve(toml_doc *doc, const char *path)
{
	uint32_t n = TOML_ROOT;
	const char *p = path;

	if (!*p)
		return n;
	for (;;) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (toml_type_of(doc, n) == TOML_ARRAY) {
			char tmp[32];
			snprintf(tmp, sizeof(tmp), "%.*s", (int)len, p);
			n = toml_at(doc, n, (size_t)strtoul(tmp, NULL, 10));
		} else if (toml_type_of(doc, n) == TOML_TABLE) {
			n = toml_get(doc, n, p, len);
		} else {
			return TOML_NONE;
		}
		if (n == TOML_NONE || !e)
			return n;
		p = e + 1;
	}
}

static size_t slen(const char *s, size_t n)
{
	return n ? n : strlen(s);
}

/* Does node n hold value v? */
static bool value_matches(toml_doc *doc, uint32_t n, const toml_value *v,
			  char *why, size_t whylen)
{
	toml_type t = toml_type_of(doc, n);

	if (t != v->type) {
		snprintf(why, whylen, "reads back as a %s, not a %s",
			 toml_type_name(t), toml_type_name(v->type));
		return false;
	}
	switch (t) {
	case TOML_STRING: {
		char *s = NULL;
		size_t len = 0;
		if (toml_get_string(doc, n, &s, &len) || len != v->len ||
		    memcmp(s, v->str, len) != 0) {
			snprintf(why, whylen, "string reads back different (%zu bytes, want %zu)",
				 len, v->len);
			free(s);
			return false;
		}
		free(s);
		return true;
	}
	case TOML_INTEGER: {
		int64_t i = 0;
		if (toml_get_int(doc, n, &i) || i != v->i) {
			snprintf(why, whylen, "integer reads back %" PRId64 ", want %" PRId64,
				 i, v->i);
			return false;
		}
		return true;
	}
	case TOML_FLOAT: {
		double f = 0;
		if (toml_get_float(doc, n, &f) ||
		    !((isnan(f) && isnan(v->f)) ||
		      (f == v->f && signbit(f) == signbit(v->f)))) {
			snprintf(why, whylen, "float reads back %.17g, want %.17g", f, v->f);
			return false;
		}
		return true;
	}
	case TOML_BOOL: {
		bool b = !v->b;
		if (toml_get_bool(doc, n, &b) || b != v->b) {
			snprintf(why, whylen, "bool reads back different");
			return false;
		}
		return true;
	}
	default: {
		/* date/time: the written text parses to the same text */
		size_t len;
		const char *raw = toml_raw(doc, n, &len);
		if (!raw || len != v->len || memcmp(raw, v->str, len) != 0) {
			snprintf(why, whylen, "date/time reads back as \"%.*s\"",
				 raw ? (int)len : 0, raw ? raw : "");
			return false;
		}
		return true;
	}
	}
}

/* ---- running one case ---- */

static void fail_case(const struct tcase *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail_case(const struct tcase *c, const char *fmt, ...)
{
	va_list ap;
	cur_failed = true;
	fprintf(stderr, "FAIL %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c->why)
		fprintf(stderr, "      why: %s\n", c->why);
}

static void show_input(const struct tcase *c, size_t inlen)
{
	struct line *l;
	size_t n = split_lines(c->in, inlen, &l);
	fprintf(stderr, "      input (%s %s%s%s):\n", op_name[c->op],
		c->path[0] ? c->path : "<root>", c->key ? " key " : "",
		c->key ? c->key : "");
	for (size_t i = 0; i < n; i++)
		show_line(' ', &l[i]);
	free(l);
}

static int apply(toml_doc *doc, const struct tcase *c, uint32_t n,
		 toml_value *vals, size_t nvals, toml_error *err)
{
	const char *k = c->key;
	size_t kl = k ? slen(k, c->klen) : 0;
	const char *val = c->val;
	size_t vl = val ? slen(val, c->vlen) : 0;

	switch (c->op) {
	case SET: return toml_set(doc, n, &vals[0], err);
	case SET_ARRAY: return toml_set_array(doc, n, vals, nvals, err);
	case SET_RAW: return toml_set_raw(doc, n, val, vl, err);
	case INSERT: return toml_insert(doc, n, k, kl, &vals[0], err);
	case INSERT_ARRAY: return toml_insert_array(doc, n, k, kl, vals, nvals, err);
	case INSERT_RAW: return toml_insert_raw(doc, n, k, kl, val, vl, err);
	case ADD_TABLE: return toml_add_table(doc, n, k, kl, err);
	case APPEND: return toml_append_entry(doc, n, k, kl, err);
	case REMOVE: return toml_remove(doc, n, err);
	case RENAME: return toml_rename(doc, n, k, kl, err);
	}
	return -ENOSYS;
}

static void run_case1(const struct tcase *c);

static void run_case(const struct tcase *c)
{
	t_case("%s", c->name);
	cur_failed = false;
	checks++;
	run_case1(c);
	if (cur_failed) {
		failures++;
		t_fail("%s (details above)", c->name);
	}
}

static void run_case1(const struct tcase *c)
{
	size_t inlen = slen(c->in, c->inlen);
	toml_doc *doc = NULL;
	toml_error err = { 0 };
	toml_value vals[MAXVALS];
	size_t nvals = 0;
	uint32_t n;
	size_t span_s = 0, span_e = 0;
	bool have_span = false;
	int rc;

	memset(vals, 0, sizeof(vals));
	rc = toml_parse(c->in, inlen, &doc, &err);
	if (rc) {
		fail_case(c, "input does not parse: %d:%d %s", err.line, err.col, err.msg);
		return;
	}

	/* values */
	if (c->op == SET || c->op == INSERT) {
		const char *v = c->val;
		rc = toml_value_parse(c->type, v, slen(v, c->vlen), &vals[0], &err);
		if (c->type == TOML_STRING) {
			vals[0].type = TOML_STRING;
			vals[0].str = v;
			vals[0].len = slen(v, c->vlen);
			rc = 0;
		}
		if (rc) {
			if (c->err) {
				/* a value that does not parse is the expected error */
				if (c->err != ANY_ERROR && rc != -c->err)
					fail_case(c, "toml_value_parse returned %d, want %d",
						  rc, -c->err);
				toml_free(doc);
				return;
			}
			fail_case(c, "toml_value_parse(%s, \"%s\"): %s",
				  toml_type_name(c->type), v, err.msg);
			toml_free(doc);
			return;
		}
		nvals = 1;
	} else if (c->op == SET_ARRAY || c->op == INSERT_ARRAY) {
		for (; nvals < MAXVALS && c->vals[nvals]; nvals++) {
			const char *v = c->vals[nvals];
			if (c->type == TOML_STRING) {
				vals[nvals].type = TOML_STRING;
				vals[nvals].str = v;
				vals[nvals].len = strlen(v);
			} else if (toml_value_parse(c->type, v, strlen(v), &vals[nvals], &err)) {
				fail_case(c, "toml_value_parse(\"%s\"): %s", v, err.msg);
				toml_free(doc);
				return;
			}
		}
	}

	n = resolve(doc, c->path);
	if (n == TOML_NONE) {
		fail_case(c, "path \"%s\" not found in the input", c->path);
		toml_free(doc);
		return;
	}
	if (c->op == SET) {
		size_t s, e;
		if (toml_span(doc, n, &s, &e) == 0) {
			span_s = s;
			span_e = e;
			have_span = true;
		}
	}

	size_t nodes_before = toml_node_count_all(doc);
	memset(&err, 0, sizeof(err));
	toml_journal_start(doc);
	rc = apply(doc, c, n, vals, nvals, &err);

	size_t outlen;
	const char *out = toml_text(doc, &outlen);

	/* the journal gives back the input, edit made or not */
	struct toml_delta dl;
	if (toml_journal_delta(doc, &dl) < 0) {
		fail_case(c, "toml_journal_delta: out of memory");
	} else {
		bool back = dl.at + dl.tail <= outlen && dl.at + dl.oldn + dl.tail == inlen &&
			    !memcmp(c->in, out, dl.at) && !memcmp(c->in + dl.at, dl.old, dl.oldn) &&
			    !memcmp(c->in + inlen - dl.tail, out + outlen - dl.tail, dl.tail);
		if (!back)
			fail_case(c, "the journal does not give the input back (at %zu, tail %zu, %zu old bytes)",
				  dl.at, dl.tail, dl.oldn);
		free(dl.old);
	}
	toml_journal_stop(doc);

	if (c->err) {
		if (rc == 0) {
			fail_case(c, "succeeded, want error %s",
				  c->err == ANY_ERROR ? "(any)" : strerrorname_np(c->err));
			show_input(c, inlen);
			show_diff(c->in, inlen, out, outlen);
		} else if (c->err != ANY_ERROR && rc != -c->err) {
			fail_case(c, "returned %s (%s), want %s",
				  strerrorname_np(-rc), err.msg, strerrorname_np(c->err));
		} else if (outlen != inlen || memcmp(out, c->in, inlen) != 0) {
			fail_case(c, "failed (%d) but changed the bytes", rc);
			show_diff(c->in, inlen, out, outlen);
		} else if (toml_node_count_all(doc) != nodes_before ||
			   resolve(doc, c->path) != n) {
			fail_case(c, "failed but node ids changed");
		}
		toml_free(doc);
		return;
	}
	if (rc) {
		fail_case(c, "returned %s: %d:%d %s", strerrorname_np(-rc), err.line,
			  err.col, err.msg);
		show_input(c, inlen);
		toml_free(doc);
		return;
	}

	/* the output parses */
	toml_doc *re = NULL;
	toml_error perr = { 0 };
	if (toml_parse(out, outlen, &re, &perr)) {
		fail_case(c, "output does not parse: %d:%d %s", perr.line, perr.col,
			  perr.msg);
		show_diff(c->out ? c->out : c->in, c->out ? strlen(c->out) : inlen,
			  out, outlen);
		toml_free(doc);
		return;
	}

	/* the value reads back */
	if (c->op == SET || c->op == INSERT) {
		char path[512];
		char why[200];
		if (c->op == INSERT)
			snprintf(path, sizeof(path), "%s%s%.*s", c->path,
				 c->path[0] ? "/" : "", (int)slen(c->key, c->klen), c->key);
		else
			snprintf(path, sizeof(path), "%s", c->path);
		uint32_t m = resolve(re, c->path);
		if (c->op == INSERT && m != TOML_NONE)
			m = toml_get(re, m, c->key, slen(c->key, c->klen));
		if (m == TOML_NONE)
			fail_case(c, "edited node \"%s\" not found after the edit", path);
		else if (!value_matches(re, m, &vals[0], why, sizeof(why)))
			fail_case(c, "%s", why);
	}

	/* set: nothing outside the value's span changed */
	if (have_span) {
		size_t tail = inlen - span_e;
		if (outlen < span_s + tail || memcmp(out, c->in, span_s) != 0 ||
		    memcmp(out + outlen - tail, c->in + span_e, tail) != 0) {
			fail_case(c, "bytes outside the value [%zu,%zu) changed", span_s,
				  span_e);
			show_diff(c->in, inlen, out, outlen);
		}
	}
	toml_free(re);

	/* exact bytes */
	if (c->out) {
		bool ok = strlen(c->out) == outlen && memcmp(c->out, out, outlen) == 0;
		int alt = -1;
		for (int i = 0; !ok && i < 3 && c->alt[i]; i++)
			if (strlen(c->alt[i]) == outlen &&
			    memcmp(c->alt[i], out, outlen) == 0)
				alt = i;
		if (!ok && alt >= 0) {
			notes++;
			fprintf(stderr, "note %s: matched alternative %d, not the preferred output%s%s\n",
				c->name, alt + 1, c->why ? ": " : "", c->why ? c->why : "");
			show_diff(c->out, strlen(c->out), out, outlen);
		} else if (!ok && c->soft) {
			notes++;
			fprintf(stderr, "note %s: output differs from the preferred one%s%s\n",
				c->name, c->why ? ": " : "", c->why ? c->why : "");
			show_diff(c->out, strlen(c->out), out, outlen);
		} else if (!ok) {
			fail_case(c, "output differs");
			show_input(c, inlen);
			show_diff(c->out, strlen(c->out), out, outlen);
		}
	}
	toml_free(doc);
}

/* ---- the cases ---- */

#define RUNNERS2 \
	"concurrent = 4\n" \
	"\n" \
	"[[runners]]\n" \
	"  name = \"a\"\n" \
	"  url = \"https://gitlab.example.com\"\n" \
	"  [runners.docker]\n" \
	"    image = \"alpine\"\n" \
	"\n" \
	"[[runners]]\n" \
	"  name = \"b\"\n" \
	"  [runners.docker]\n" \
	"    image = \"debian\"\n"

#define RUNNERS3 \
	"# runner a\n" \
	"[[runners]]\n" \
	"name = \"a\"\n" \
	"[runners.docker]\n" \
	"image = \"x\"\n" \
	"\n" \
	"# runner b\n" \
	"[[runners]]\n" \
	"name = \"b\"\n" \
	"[runners.docker]\n" \
	"image = \"y\"\n" \
	"[[runners.docker.services]]\n" \
	"name = \"s1\"\n" \
	"\n" \
	"# runner c\n" \
	"[[runners]]\n" \
	"name = \"c\"\n"

static const struct tcase cases[] = {
	/* ================= set: strings ================= */
	{ .name = "set/basic-keeps-basic",
	  .in = "name = \"old\" # comment\n", .op = SET, .path = "name",
	  .type = TOML_STRING, .val = "new",
	  .out = "name = \"new\" # comment\n" },
	{ .name = "set/basic-escapes-quote-backslash",
	  .in = "name = \"old\"\n", .op = SET, .path = "name",
	  .type = TOML_STRING, .val = "a\"b\\c",
	  .out = "name = \"a\\\"b\\\\c\"\n" },
	{ .name = "set/basic-escapes-newline-tab",
	  .in = "name = \"old\"\n", .op = SET, .path = "name",
	  .type = TOML_STRING, .val = "l1\nl2\tx\r",
	  .out = "name = \"l1\\nl2\\tx\\r\"\n",
	  .alt = { "name = \"l1\\nl2\tx\\r\"\n" },
	  .why = "a raw tab is legal in a basic string, but \\t is visible" },
	{ .name = "set/basic-control-chars",
	  .in = "s = \"\"\n", .op = SET, .path = "s", .type = TOML_STRING,
	  .val = "\x01\b\f\x1f", .out = "s = \"\\u0001\\b\\f\\u001F\"\n",
	  .alt = { "s = \"\\u0001\\b\\f\\u001f\"\n" } },
	{ .name = "set/basic-del-and-nul",
	  .in = "s = \"\"\n", .op = SET, .path = "s", .type = TOML_STRING,
	  .val = "a\0b\x7f", .vlen = 4, .out = "s = \"a\\u0000b\\u007F\"\n",
	  .alt = { "s = \"a\\u0000b\\u007f\"\n" } },
	{ .name = "set/basic-unicode-stays-raw",
	  .in = "s = \"\"\n", .op = SET, .path = "s", .type = TOML_STRING,
	  .val = "h\xc3\xa9llo \xf0\x9f\x98\x80", .out = "s = \"h\xc3\xa9llo \xf0\x9f\x98\x80\"\n" },
	{ .name = "set/basic-injection-header",
	  .in = "[[runners]]\nname = \"x\"\n", .op = SET, .path = "runners/0/name",
	  .type = TOML_STRING, .val = "\"]\n[[runners]]",
	  .out = "[[runners]]\nname = \"\\\"]\\n[[runners]]\"\n" },
	{ .name = "set/basic-empty",
	  .in = "s = \"x\"\n", .op = SET, .path = "s", .type = TOML_STRING,
	  .val = "", .out = "s = \"\"\n" },
	{ .name = "set/literal-keeps-literal",
	  .in = "path = 'C:\\dir' # win\n", .op = SET, .path = "path",
	  .type = TOML_STRING, .val = "D:\\x\\y",
	  .out = "path = 'D:\\x\\y' # win\n" },
	{ .name = "set/literal-apostrophe-goes-basic",
	  .in = "s = 'x'\n", .op = SET, .path = "s", .type = TOML_STRING,
	  .val = "it's C:\\", .out = "s = \"it's C:\\\\\"\n" },
	{ .name = "set/literal-newline-goes-basic",
	  .in = "s = 'x'\n", .op = SET, .path = "s", .type = TOML_STRING,
	  .val = "a\nb", .out = "s = \"a\\nb\"\n" },
	{ .name = "set/literal-control-goes-basic",
	  .in = "s = 'x'\n", .op = SET, .path = "s", .type = TOML_STRING,
	  .val = "a\x01", .out = "s = \"a\\u0001\"\n" },
	{ .name = "set/literal-triple-quote-injection",
	  .in = "s = 'x'\nt = 1\n", .op = SET, .path = "s", .type = TOML_STRING,
	  .val = "'''\nt = 2", .out = "s = \"'''\\nt = 2\"\nt = 1\n" },
	{ .name = "set/literal-tab",
	  .in = "s = 'x'\n", .op = SET, .path = "s", .type = TOML_STRING,
	  .val = "a\tb", .out = "s = 'a\tb'\n",
	  .alt = { "s = \"a\\tb\"\n", "s = \"a\tb\"\n" },
	  .why = "TOML allows a tab in a literal string; the brief says no control chars" },
	{ .name = "set/ml-basic-keeps-multiline",
	  .in = "d = \"\"\"\nline1\nline2\"\"\"\nx = 1\n", .op = SET, .path = "d",
	  .type = TOML_STRING, .val = "a\nb",
	  .out = "d = \"\"\"\na\nb\"\"\"\nx = 1\n",
	  .alt = { "d = \"\"\"a\nb\"\"\"\nx = 1\n" },
	  .why = "keeping the newline after the opening \"\"\" keeps the layout" },
	{ .name = "set/ml-basic-triple-quote",
	  .in = "d = \"\"\"x\"\"\"\n", .op = SET, .path = "d", .type = TOML_STRING,
	  .val = "a\"\"\"b\"\"\"\"", .soft = true,
	  .out = "d = \"\"\"a\"\"\\\"b\"\"\\\"\\\"\"\"\"\n",
	  .why = "any escaping is fine as long as it reads back" },
	{ .name = "set/ml-basic-crlf-doc",
	  .in = "d = \"\"\"\r\nx\"\"\"\r\ny = 1\r\n", .op = SET, .path = "d",
	  .type = TOML_STRING, .val = "a\nb",
	  .out = "d = \"\"\"\r\na\r\nb\"\"\"\r\ny = 1\r\n",
	  .alt = { "d = \"\"\"\r\na\nb\"\"\"\r\ny = 1\r\n",
		   "d = \"\"\"\r\na\\nb\"\"\"\r\ny = 1\r\n" },
	  .why = "a new line break in a CRLF file should be CRLF" },
	{ .name = "set/ml-basic-lone-cr",
	  .in = "d = \"\"\"x\"\"\"\n", .op = SET, .path = "d", .type = TOML_STRING,
	  .val = "a\rb\\", .out = "d = \"\"\"a\\rb\\\\\"\"\"\n" },
	{ .name = "set/ml-basic-leading-newline",
	  .in = "d = \"\"\"x\"\"\"\n", .op = SET, .path = "d", .type = TOML_STRING,
	  .val = "\nfirst", .soft = true, .out = "d = \"\"\"\n\nfirst\"\"\"\n",
	  .alt = { "d = \"\"\"\\nfirst\"\"\"\n" },
	  .why = "the newline right after \"\"\" is trimmed by parsers" },
	{ .name = "set/ml-literal-keeps",
	  .in = "r = '''\nx\\y'''\n", .op = SET, .path = "r", .type = TOML_STRING,
	  .val = "C:\\a\nb", .out = "r = '''\nC:\\a\nb'''\n",
	  .alt = { "r = '''C:\\a\nb'''\n" } },
	{ .name = "set/ml-literal-triple-apostrophe",
	  .in = "r = '''x'''\nz = 1\n", .op = SET, .path = "r", .type = TOML_STRING,
	  .val = "a'''\nz = 2", .soft = true,
	  .out = "r = \"\"\"a'''\nz = 2\"\"\"\nz = 1\n",
	  .alt = { "r = \"a'''\\nz = 2\"\nz = 1\n" },
	  .why = "brief: multi-line styles keep multi-line (so ml-basic)" },
	{ .name = "set/ml-literal-control-char",
	  .in = "r = '''x'''\n", .op = SET, .path = "r", .type = TOML_STRING,
	  .val = "a\x7f", .soft = true, .out = "r = \"\"\"a\\u007F\"\"\"\n",
	  .alt = { "r = \"a\\u007F\"\n", "r = \"a\\u007f\"\n", "r = \"\"\"a\\u007f\"\"\"\n" } },
	{ .name = "set/string-in-inline-table",
	  .in = "x = { a = 1, b = \"s\" } # c\n", .op = SET, .path = "x/b",
	  .type = TOML_STRING, .val = "t}, c = {", .out = "x = { a = 1, b = \"t}, c = {\" } # c\n" },
	{ .name = "set/string-array-element-basic",
	  .in = "a = [\"x\", 'y', \"z\"]\n", .op = SET, .path = "a/0",
	  .type = TOML_STRING, .val = "q\", \"r", .out = "a = [\"q\\\", \\\"r\", 'y', \"z\"]\n" },
	{ .name = "set/string-array-element-literal",
	  .in = "a = [\"x\", 'y', \"z\"]\n", .op = SET, .path = "a/1",
	  .type = TOML_STRING, .val = "q\", \"r", .out = "a = [\"x\", 'q\", \"r', \"z\"]\n" },
	{ .name = "set/dotted-key-value",
	  .in = "docker.image = \"alpine\"\ndocker.tls = true\n", .op = SET,
	  .path = "docker/image", .type = TOML_STRING, .val = "debian:12",
	  .out = "docker.image = \"debian:12\"\ndocker.tls = true\n" },
	{ .name = "set/no-spaces-comment",
	  .in = "a=\"x\"#c\n", .op = SET, .path = "a", .type = TOML_STRING,
	  .val = "#y", .out = "a=\"#y\"#c\n" },
	{ .name = "set/crlf-and-no-final-newline",
	  .in = "a = \"x\"\r\nb = 'y'", .op = SET, .path = "b", .type = TOML_STRING,
	  .val = "z", .out = "a = \"x\"\r\nb = 'z'" },
	{ .name = "set/invalid-utf8-rejected",
	  .in = "a = \"x\"\n", .op = SET, .path = "a", .type = TOML_STRING,
	  .val = "\xff\xfe", .err = EINVAL },
	{ .name = "set/in-runner-1",
	  .in = RUNNERS2, .op = SET, .path = "runners/1/docker/image",
	  .type = TOML_STRING, .val = "ubuntu",
	  .out = "concurrent = 4\n\n[[runners]]\n  name = \"a\"\n  url = \"https://gitlab.example.com\"\n"
		 "  [runners.docker]\n    image = \"alpine\"\n\n[[runners]]\n  name = \"b\"\n"
		 "  [runners.docker]\n    image = \"ubuntu\"\n" },

	/* ================= set: other types ================= */
	{ .name = "set/int-decimal",
	  .in = "concurrent = 1 # jobs\n", .op = SET, .path = "concurrent",
	  .type = TOML_INTEGER, .val = "10", .out = "concurrent = 10 # jobs\n" },
	{ .name = "set/int-underscores-dropped",
	  .in = "n = 1_000\n", .op = SET, .path = "n", .type = TOML_INTEGER,
	  .val = "2000", .out = "n = 2000\n" },
	{ .name = "set/int-hex-kept",
	  .in = "n = 0x1F\n", .op = SET, .path = "n", .type = TOML_INTEGER,
	  .val = "255", .out = "n = 0xFF\n", .alt = { "n = 0xff\n" },
	  .why = "the original hex digits were upper case" },
	{ .name = "set/int-hex-lower-kept",
	  .in = "n = 0xdead\n", .op = SET, .path = "n", .type = TOML_INTEGER,
	  .val = "48879", .out = "n = 0xbeef\n" },
	{ .name = "set/int-hex-negative-goes-decimal",
	  .in = "n = 0x10\n", .op = SET, .path = "n", .type = TOML_INTEGER,
	  .val = "-5", .out = "n = -5\n" },
	{ .name = "set/int-oct-bin-kept",
	  .in = "o = 0o755\nb = 0b1\n", .op = SET, .path = "o",
	  .type = TOML_INTEGER, .val = "420", .out = "o = 0o644\nb = 0b1\n" },
	{ .name = "set/int-bin-kept",
	  .in = "b = 0b1\n", .op = SET, .path = "b", .type = TOML_INTEGER,
	  .val = "0", .out = "b = 0b0\n" },
	{ .name = "set/int-min",
	  .in = "n = 0\n", .op = SET, .path = "n", .type = TOML_INTEGER,
	  .val = "-9223372036854775808", .out = "n = -9223372036854775808\n" },
	{ .name = "set/int-too-big-rejected",
	  .in = "n = 0\n", .op = SET, .path = "n", .type = TOML_INTEGER,
	  .val = "9223372036854775808", .err = EINVAL },
	{ .name = "set/string-to-int",
	  .in = "a = \"x\" # c\n", .op = SET, .path = "a", .type = TOML_INTEGER,
	  .val = "5", .out = "a = 5 # c\n" },
	{ .name = "set/float-exp-to-plain",
	  .in = "f = 1e3\n", .op = SET, .path = "f", .type = TOML_FLOAT,
	  .val = "2.5", .out = "f = 2.5\n" },
	{ .name = "set/float-integral-keeps-point",
	  .in = "f = 1.5\n", .op = SET, .path = "f", .type = TOML_FLOAT,
	  .val = "3", .out = "f = 3.0\n" },
	{ .name = "set/float-shortest",
	  .in = "f = 1.5\n", .op = SET, .path = "f", .type = TOML_FLOAT,
	  .val = "0.1", .out = "f = 0.1\n",
	  .why = "0.10000000000000001 would round-trip but no person wrote it" },
	{ .name = "set/float-ten",
	  .in = "f = 1.5\n", .op = SET, .path = "f", .type = TOML_FLOAT,
	  .val = "10", .out = "f = 10.0\n",
	  .why = "positional like Python's repr for exponents -4..15, not 1e+01" },
	{ .name = "set/float-small",
	  .in = "f = 1.5\n", .op = SET, .path = "f", .type = TOML_FLOAT,
	  .val = "1e-5", .out = "f = 1e-05\n", .alt = { "f = 1e-5\n", "f = 0.00001\n" } },
	{ .name = "set/float-inf-nan-negzero",
	  .in = "a = 1.0\n", .op = SET, .path = "a", .type = TOML_FLOAT,
	  .val = "-inf", .out = "a = -inf\n" },
	{ .name = "set/float-nan",
	  .in = "a = 1.0\n", .op = SET, .path = "a", .type = TOML_FLOAT,
	  .val = "nan", .out = "a = nan\n" },
	{ .name = "set/float-negzero",
	  .in = "a = 1.0\n", .op = SET, .path = "a", .type = TOML_FLOAT,
	  .val = "-0.0", .out = "a = -0.0\n" },
	{ .name = "set/float-huge",
	  .in = "a = 1.0\n", .op = SET, .path = "a", .type = TOML_FLOAT,
	  .val = "1e300", .out = "a = 1e+300\n", .alt = { "a = 1e300\n", "a = 1.0e300\n", "a = 1.0e+300\n" } },
	{ .name = "set/bool",
	  .in = "privileged = true\n", .op = SET, .path = "privileged",
	  .type = TOML_BOOL, .val = "false", .out = "privileged = false\n" },
	{ .name = "set/datetime",
	  .in = "t = 1979-05-27T07:32:00Z\n", .op = SET, .path = "t",
	  .type = TOML_DATETIME, .val = "2024-05-01T10:00:00+02:00",
	  .out = "t = 2024-05-01T10:00:00+02:00\n" },
	{ .name = "set/date-local-over-string",
	  .in = "t = \"soon\"\n", .op = SET, .path = "t",
	  .type = TOML_DATE_LOCAL, .val = "2024-05-01", .out = "t = 2024-05-01\n" },
	{ .name = "set/int-in-array",
	  .in = "a = [1, 2, 3]\n", .op = SET, .path = "a/1", .type = TOML_INTEGER,
	  .val = "9", .out = "a = [1, 9, 3]\n" },
	{ .name = "set/table-is-dir",
	  .in = "[t]\na = 1\n", .op = SET, .path = "t", .type = TOML_INTEGER,
	  .val = "1", .err = EISDIR },

	/* ================= set_array ================= */
	{ .name = "set_array/append-inline",
	  .in = "a = [1, 2, 3] # c\n", .op = SET_ARRAY, .path = "a",
	  .type = TOML_INTEGER, .vals = { "1", "2", "3", "4" },
	  .out = "a = [1, 2, 3, 4] # c\n" },
	{ .name = "set_array/keep-element-text",
	  .in = "a = ['x', \"y\", 0x10]\n", .op = SET_ARRAY, .path = "a",
	  .type = TOML_STRING, .vals = { "x", "y", "w" }, .soft = true,
	  .out = "a = ['x', \"y\", \"w\"]\n",
	  .why = "0x10 is not a string; only x and y stay" },
	{ .name = "set_array/multiline-append",
	  .in = "a = [\n  \"x\",\n  \"y\",\n]\nb = 1\n", .op = SET_ARRAY,
	  .path = "a", .type = TOML_STRING, .vals = { "x", "y", "z" },
	  .out = "a = [\n  \"x\",\n  \"y\",\n  \"z\",\n]\nb = 1\n" },
	{ .name = "set_array/multiline-no-trailing-comma",
	  .in = "a = [\n    \"x\",\n    \"y\"\n]\n", .op = SET_ARRAY,
	  .path = "a", .type = TOML_STRING, .vals = { "x", "y", "z" },
	  .out = "a = [\n    \"x\",\n    \"y\",\n    \"z\"\n]\n" },
	{ .name = "set_array/multiline-comments-append",
	  .in = "a = [\n  \"x\", # first\n  \"y\", # second\n]\n", .op = SET_ARRAY,
	  .path = "a", .type = TOML_STRING, .vals = { "x", "y", "z" },
	  .out = "a = [\n  \"x\", # first\n  \"y\", # second\n  \"z\",\n]\n" },
	{ .name = "set_array/multiline-remove-middle",
	  .in = "a = [\n  \"x\", # first\n  \"y\", # second\n  \"z\",\n]\n", .op = SET_ARRAY,
	  .path = "a", .type = TOML_STRING, .vals = { "x", "z" },
	  .out = "a = [\n  \"x\", # first\n  \"z\",\n]\n" },
	{ .name = "set_array/multiline-crlf-tabs",
	  .in = "a = [\r\n\t1,\r\n\t2,\r\n]\r\n", .op = SET_ARRAY, .path = "a",
	  .type = TOML_INTEGER, .vals = { "1", "2", "3" },
	  .out = "a = [\r\n\t1,\r\n\t2,\r\n\t3,\r\n]\r\n" },
	{ .name = "set_array/to-empty",
	  .in = "a = [\"x\", \"y\"]\n", .op = SET_ARRAY, .path = "a",
	  .type = TOML_STRING, .vals = { NULL }, .out = "a = []\n" },
	{ .name = "set_array/from-empty",
	  .in = "a = []\n", .op = SET_ARRAY, .path = "a",
	  .type = TOML_STRING, .vals = { "p", "q" }, .out = "a = [\"p\", \"q\"]\n" },
	{ .name = "set_array/type-change",
	  .in = "a = [1, 2]\n", .op = SET_ARRAY, .path = "a",
	  .type = TOML_STRING, .vals = { "1" }, .out = "a = [\"1\"]\n" },
	{ .name = "set_array/scalar-to-array",
	  .in = "a = 1 # c\n", .op = SET_ARRAY, .path = "a",
	  .type = TOML_INTEGER, .vals = { "1", "2" }, .out = "a = [1, 2] # c\n" },
	{ .name = "set_array/hostile-strings",
	  .in = "volumes = [\"/cache\"]\n", .op = SET_ARRAY, .path = "volumes",
	  .type = TOML_STRING, .vals = { "/cache", "\"]\n[x]\na = [\"" },
	  .out = "volumes = [\"/cache\", \"\\\"]\\n[x]\\na = [\\\"\"]\n" },

	/* ================= set_raw ================= */
	{ .name = "set_raw/nested-array",
	  .in = "a = 1 # c\n", .op = SET_RAW, .path = "a", .val = "[[1, 2], \"a\"]",
	  .out = "a = [[1, 2], \"a\"] # c\n" },
	{ .name = "set_raw/inline-table",
	  .in = "a = 1\n", .op = SET_RAW, .path = "a", .val = "{x = 1}",
	  .out = "a = {x = 1}\n" },
	{ .name = "set_raw/two-values-rejected",
	  .in = "a = 1\n", .op = SET_RAW, .path = "a", .val = "1\nb = 2", .err = EINVAL },
	{ .name = "set_raw/header-injection-rejected",
	  .in = "a = [1]\n", .op = SET_RAW, .path = "a", .val = "[1]\n[x]", .err = EINVAL },
	{ .name = "set_raw/not-a-value-rejected",
	  .in = "a = 1\n", .op = SET_RAW, .path = "a", .val = "bare", .err = EINVAL },

	/* ================= insert ================= */
	{ .name = "insert/root-before-table",
	  .in = "a = 1\n\n[t]\nb = 2\n", .op = INSERT, .path = "", .key = "c",
	  .type = TOML_INTEGER, .val = "3", .out = "a = 1\nc = 3\n\n[t]\nb = 2\n" },
	{ .name = "insert/after-comment-value",
	  .in = "[t]\nb = 2 # about b\n", .op = INSERT, .path = "t", .key = "c",
	  .type = TOML_INTEGER, .val = "3", .out = "[t]\nb = 2 # about b\nc = 3\n" },
	{ .name = "insert/indented-spaces",
	  .in = "[t]\n  b = 2\n[u]\n", .op = INSERT, .path = "t", .key = "c",
	  .type = TOML_STRING, .val = "v", .out = "[t]\n  b = 2\n  c = \"v\"\n[u]\n" },
	{ .name = "insert/indented-tab",
	  .in = "[t]\n\tb = 2\n", .op = INSERT, .path = "t", .key = "c",
	  .type = TOML_BOOL, .val = "true", .out = "[t]\n\tb = 2\n\tc = true\n" },
	{ .name = "insert/crlf",
	  .in = "[t]\r\nb = 2\r\n", .op = INSERT, .path = "t", .key = "c",
	  .type = TOML_INTEGER, .val = "3", .out = "[t]\r\nb = 2\r\nc = 3\r\n" },
	{ .name = "insert/no-final-newline",
	  .in = "[t]\nb = 2", .op = INSERT, .path = "t", .key = "c",
	  .type = TOML_INTEGER, .val = "3", .out = "[t]\nb = 2\nc = 3",
	  .alt = { "[t]\nb = 2\nc = 3\n" },
	  .why = "the file had no final newline; keeping it that way touches fewer bytes" },
	{ .name = "insert/empty-table",
	  .in = "[t]\n[u]\nx = 1\n", .op = INSERT, .path = "t", .key = "c",
	  .type = TOML_INTEGER, .val = "3", .out = "[t]\nc = 3\n[u]\nx = 1\n" },
	{ .name = "insert/empty-table-header-comment",
	  .in = "[t] # the t table\n\n[u]\n", .op = INSERT, .path = "t", .key = "c",
	  .type = TOML_INTEGER, .val = "3", .out = "[t] # the t table\nc = 3\n\n[u]\n" },
	{ .name = "insert/empty-table-eof-no-newline",
	  .in = "[t]", .op = INSERT, .path = "t", .key = "c",
	  .type = TOML_INTEGER, .val = "3", .out = "[t]\nc = 3",
	  .alt = { "[t]\nc = 3\n" } },
	{ .name = "insert/empty-document",
	  .in = "", .op = INSERT, .path = "", .key = "concurrent",
	  .type = TOML_INTEGER, .val = "1", .out = "concurrent = 1\n" },
	{ .name = "insert/root-only-comments",
	  .in = "# config\n\n[t]\n", .op = INSERT, .path = "", .key = "a",
	  .type = TOML_INTEGER, .val = "1", .soft = true,
	  .out = "# config\n\na = 1\n[t]\n",
	  .alt = { "a = 1\n# config\n\n[t]\n", "# config\na = 1\n\n[t]\n" },
	  .why = "root has no header: where the first root key goes is a choice" },
	{ .name = "insert/after-last-key-not-after-comments",
	  .in = "[t]\na = 1\n\n# next table\n[u]\n", .op = INSERT, .path = "t",
	  .key = "b", .type = TOML_INTEGER, .val = "2",
	  .out = "[t]\na = 1\nb = 2\n\n# next table\n[u]\n" },
	{ .name = "insert/after-multiline-array",
	  .in = "[t]\na = [\n  1,\n  2,\n]\n[u]\n", .op = INSERT, .path = "t",
	  .key = "b", .type = TOML_INTEGER, .val = "2",
	  .out = "[t]\na = [\n  1,\n  2,\n]\nb = 2\n[u]\n" },
	{ .name = "insert/after-multiline-string",
	  .in = "a = \"\"\"\nx\n\"\"\" # c\n[u]\n", .op = INSERT, .path = "",
	  .key = "b", .type = TOML_INTEGER, .val = "2",
	  .out = "a = \"\"\"\nx\n\"\"\" # c\nb = 2\n[u]\n" },
	{ .name = "insert/dotted-table",
	  .in = "docker.image = \"x\"\ndocker.privileged = false\nname = \"r\"\n",
	  .op = INSERT, .path = "docker", .key = "tls_verify", .type = TOML_BOOL,
	  .val = "true",
	  .out = "docker.image = \"x\"\ndocker.privileged = false\ndocker.tls_verify = true\nname = \"r\"\n" },
	{ .name = "insert/dotted-in-runner",
	  .in = "[[runners]]\n  name = \"a\"\n  docker.image = \"x\"\n[[runners]]\n  name = \"b\"\n",
	  .op = INSERT, .path = "runners/0/docker", .key = "pull_policy",
	  .type = TOML_STRING, .val = "always",
	  .out = "[[runners]]\n  name = \"a\"\n  docker.image = \"x\"\n  docker.pull_policy = \"always\"\n"
		 "[[runners]]\n  name = \"b\"\n" },
	{ .name = "insert/dotted-quoted-prefix",
	  .in = "\"my key\".a = 1\n", .op = INSERT, .path = "my key", .key = "b",
	  .type = TOML_INTEGER, .val = "2", .out = "\"my key\".a = 1\n\"my key\".b = 2\n" },
	{ .name = "insert/inline-table",
	  .in = "x = { a = 1 } # c\n", .op = INSERT, .path = "x", .key = "b",
	  .type = TOML_INTEGER, .val = "2", .out = "x = { a = 1, b = 2 } # c\n" },
	{ .name = "insert/inline-table-empty",
	  .in = "x = {}\n", .op = INSERT, .path = "x", .key = "b",
	  .type = TOML_INTEGER, .val = "2", .out = "x = { b = 2 }\n",
	  .alt = { "x = {b = 2}\n" } },
	{ .name = "insert/inline-table-compact",
	  .in = "x = {a=1}\n", .op = INSERT, .path = "x", .key = "b",
	  .type = TOML_INTEGER, .val = "2", .soft = true, .out = "x = {a=1, b = 2}\n",
	  .alt = { "x = {a=1,b=2}\n", "x = {a=1, b=2}\n" } },
	{ .name = "insert/implicit-table",
	  .in = "[a.b]\nc = 1\n", .op = INSERT, .path = "a", .key = "d",
	  .type = TOML_INTEGER, .val = "2", .soft = true,
	  .out = "[a]\nd = 2\n[a.b]\nc = 1\n",
	  .alt = { "a.d = 2\n[a.b]\nc = 1\n", "[a.b]\nc = 1\n[a]\nd = 2\n" },
	  .why = "a has no header and no keys; any valid placement reads right" },
	{ .name = "insert/runner-0-before-subtable",
	  .in = RUNNERS2, .op = INSERT, .path = "runners/0", .key = "token",
	  .type = TOML_STRING, .val = "glrt-x",
	  .out = "concurrent = 4\n\n[[runners]]\n  name = \"a\"\n  url = \"https://gitlab.example.com\"\n"
		 "  token = \"glrt-x\"\n  [runners.docker]\n    image = \"alpine\"\n\n[[runners]]\n  name = \"b\"\n"
		 "  [runners.docker]\n    image = \"debian\"\n" },
	{ .name = "insert/runner-1-subtable",
	  .in = RUNNERS2, .op = INSERT, .path = "runners/1/docker", .key = "privileged",
	  .type = TOML_BOOL, .val = "false",
	  .out = "concurrent = 4\n\n[[runners]]\n  name = \"a\"\n  url = \"https://gitlab.example.com\"\n"
		 "  [runners.docker]\n    image = \"alpine\"\n\n[[runners]]\n  name = \"b\"\n"
		 "  [runners.docker]\n    image = \"debian\"\n    privileged = false\n" },
	{ .name = "insert/key-needs-quotes",
	  .in = "a = 1\n", .op = INSERT, .path = "", .key = "my key.x",
	  .type = TOML_INTEGER, .val = "2", .out = "a = 1\n\"my key.x\" = 2\n" },
	{ .name = "insert/key-hostile",
	  .in = "a = 1\n", .op = INSERT, .path = "", .key = "k\" = 1\n[x]\n\"",
	  .type = TOML_INTEGER, .val = "2", .out = "a = 1\n\"k\\\" = 1\\n[x]\\n\\\"\" = 2\n" },
	{ .name = "insert/key-unicode-quoted",
	  .in = "a = 1\n", .op = INSERT, .path = "", .key = "cl\xc3\xa9",
	  .type = TOML_INTEGER, .val = "2", .out = "a = 1\n\"cl\xc3\xa9\" = 2\n" },
	{ .name = "insert/key-empty",
	  .in = "a = 1\n", .op = INSERT, .path = "", .key = "", .klen = 0,
	  .type = TOML_INTEGER, .val = "2", .out = "a = 1\n\"\" = 2\n" },
	{ .name = "insert/key-bare-dash",
	  .in = "a = 1\n", .op = INSERT, .path = "", .key = "pre-clone_script-2",
	  .type = TOML_STRING, .val = "x", .out = "a = 1\npre-clone_script-2 = \"x\"\n" },
	{ .name = "insert/value-hostile",
	  .in = "[[runners]]\nname = \"a\"\n", .op = INSERT, .path = "runners/0",
	  .key = "url", .type = TOML_STRING, .val = "x\"\n[[runners]]\nname = \"evil",
	  .out = "[[runners]]\nname = \"a\"\nurl = \"x\\\"\\n[[runners]]\\nname = \\\"evil\"\n" },
	{ .name = "insert/exists",
	  .in = "a = 1\n", .op = INSERT, .path = "", .key = "a",
	  .type = TOML_INTEGER, .val = "2", .err = EEXIST },
	{ .name = "insert/exists-as-table",
	  .in = "a.b = 1\n[c]\n", .op = INSERT, .path = "", .key = "c",
	  .type = TOML_INTEGER, .val = "2", .err = EEXIST },
	{ .name = "insert/exists-as-dotted",
	  .in = "a.b = 1\n", .op = INSERT, .path = "", .key = "a",
	  .type = TOML_INTEGER, .val = "2", .err = EEXIST },
	{ .name = "insert/into-array",
	  .in = "a = [1]\n", .op = INSERT, .path = "a", .key = "x",
	  .type = TOML_INTEGER, .val = "2", .err = ENOTDIR },
	{ .name = "insert/into-scalar",
	  .in = "a = 1\n", .op = INSERT, .path = "a", .key = "x",
	  .type = TOML_INTEGER, .val = "2", .err = ENOTDIR },
	{ .name = "insert_array/strings",
	  .in = "[runners.docker]\nimage = \"x\"\n", .op = INSERT_ARRAY,
	  .path = "runners/docker", .key = "volumes", .type = TOML_STRING,
	  .vals = { "/cache", "/var/run/docker.sock:/var/run/docker.sock" },
	  .out = "[runners.docker]\nimage = \"x\"\nvolumes = [\"/cache\", \"/var/run/docker.sock:/var/run/docker.sock\"]\n" },
	{ .name = "insert_array/empty",
	  .in = "[t]\n", .op = INSERT_ARRAY, .path = "t", .key = "v",
	  .type = TOML_INTEGER, .vals = { NULL }, .out = "[t]\nv = []\n" },
	{ .name = "insert_raw/inline-table",
	  .in = "[t]\na = 1\n", .op = INSERT_RAW, .path = "t", .key = "env",
	  .val = "{ A = \"1\" }", .out = "[t]\na = 1\nenv = { A = \"1\" }\n" },
	{ .name = "insert_raw/injection-rejected",
	  .in = "[t]\na = 1\n", .op = INSERT_RAW, .path = "t", .key = "b",
	  .val = "1\n[u]\nc = 2", .err = EINVAL },

	/* ================= remove ================= */
	{ .name = "remove/key-with-comment",
	  .in = "a = 1 # c\nb = 2\n", .op = REMOVE, .path = "a", .out = "b = 2\n" },
	{ .name = "remove/key-keeps-comment-above",
	  .in = "# about a\na = 1\nb = 2\n", .op = REMOVE, .path = "a",
	  .out = "# about a\nb = 2\n" },
	{ .name = "remove/last-key-no-final-newline",
	  .in = "a = 1\nb = 2", .op = REMOVE, .path = "b", .out = "a = 1\n",
	  .alt = { "a = 1" },
	  .why = "the line of b goes; a's newline stays" },
	{ .name = "remove/indented",
	  .in = "[t]\n  a = 1\n  b = 2\n", .op = REMOVE, .path = "t/a",
	  .out = "[t]\n  b = 2\n" },
	{ .name = "remove/crlf",
	  .in = "a = 1\r\nb = 2\r\n", .op = REMOVE, .path = "a", .out = "b = 2\r\n" },
	{ .name = "remove/multiline-array",
	  .in = "a = [\n  1, # one\n  2,\n] # end\nb = 1\n", .op = REMOVE, .path = "a",
	  .out = "b = 1\n" },
	{ .name = "remove/multiline-string",
	  .in = "a = '''\nx\n'''\nb = 1\n", .op = REMOVE, .path = "a",
	  .out = "b = 1\n" },
	{ .name = "remove/last-key-of-table",
	  .in = "[t]\na = 1\n[u]\nb = 2\n", .op = REMOVE, .path = "t/a",
	  .out = "[t]\n[u]\nb = 2\n" },
	{ .name = "remove/dotted-key",
	  .in = "docker.image = \"x\"\ndocker.tls = true\n", .op = REMOVE,
	  .path = "docker/image", .out = "docker.tls = true\n" },
	{ .name = "remove/dotted-table-interleaved",
	  .in = "docker.a = 1\nname = \"x\"\ndocker.b = 2\n", .op = REMOVE,
	  .path = "docker", .out = "name = \"x\"\n" },
	{ .name = "remove/inline-first",
	  .in = "x = { a = 1, b = 2 }\n", .op = REMOVE, .path = "x/a",
	  .out = "x = { b = 2 }\n" },
	{ .name = "remove/inline-last",
	  .in = "x = { a = 1, b = 2 }\n", .op = REMOVE, .path = "x/b",
	  .out = "x = { a = 1 }\n" },
	{ .name = "remove/inline-only",
	  .in = "x = { a = 1 }\n", .op = REMOVE, .path = "x/a",
	  .out = "x = {}\n", .alt = { "x = { }\n" } },
	{ .name = "remove/table-with-comment-above",
	  .in = "a = 1\n\n# about t\n[t]\nb = 2\n\n[u]\nc = 3\n", .op = REMOVE,
	  .path = "t", .out = "a = 1\n\n[u]\nc = 3\n" },
	{ .name = "remove/table-keeps-next-tables-comment",
	  .in = "[t]\nb = 2\n# about u\n[u]\n", .op = REMOVE, .path = "t",
	  .out = "# about u\n[u]\n",
	  .why = "a comment directly above [u] belongs to [u]" },
	{ .name = "remove/table-with-subtables",
	  .in = "[t]\na = 1\n[t.sub]\nb = 2\n[t.sub.deeper]\n[u]\n", .op = REMOVE,
	  .path = "t", .out = "[u]\n" },
	{ .name = "remove/table-with-distant-subtable",
	  .in = "[t]\na = 1\n[u]\nx = 1\n[t.sub]\nb = 2\n", .op = REMOVE,
	  .path = "t", .out = "[u]\nx = 1\n" },
	{ .name = "remove/implicit-table",
	  .in = "x = 1\n[a.b]\nc = 1\n[a.d]\n", .op = REMOVE, .path = "a",
	  .out = "x = 1\n" },
	{ .name = "remove/entry-middle",
	  .in = RUNNERS3, .op = REMOVE, .path = "runners/1",
	  .out = "# runner a\n[[runners]]\nname = \"a\"\n[runners.docker]\nimage = \"x\"\n\n"
		 "# runner c\n[[runners]]\nname = \"c\"\n" },
	{ .name = "remove/entry-first-file-comment-stays",
	  .in = RUNNERS3, .op = REMOVE, .path = "runners/0",
	  .why = "a comment at the top of the file is the file's, not the first header's",
	  .out = "# runner a\n\n# runner b\n[[runners]]\nname = \"b\"\n[runners.docker]\nimage = \"y\"\n"
		 "[[runners.docker.services]]\nname = \"s1\"\n\n# runner c\n[[runners]]\nname = \"c\"\n" },
	{ .name = "remove/entry-last",
	  .in = RUNNERS3, .op = REMOVE, .path = "runners/2",
	  .out = "# runner a\n[[runners]]\nname = \"a\"\n[runners.docker]\nimage = \"x\"\n\n"
		 "# runner b\n[[runners]]\nname = \"b\"\n[runners.docker]\nimage = \"y\"\n"
		 "[[runners.docker.services]]\nname = \"s1\"\n\n",
	  .alt = { "# runner a\n[[runners]]\nname = \"a\"\n[runners.docker]\nimage = \"x\"\n\n"
		 "# runner b\n[[runners]]\nname = \"b\"\n[runners.docker]\nimage = \"y\"\n"
		 "[[runners.docker.services]]\nname = \"s1\"\n" } },
	{ .name = "remove/nested-entry",
	  .in = RUNNERS3, .op = REMOVE, .path = "runners/1/docker/services/0",
	  .out = "# runner a\n[[runners]]\nname = \"a\"\n[runners.docker]\nimage = \"x\"\n\n"
		 "# runner b\n[[runners]]\nname = \"b\"\n[runners.docker]\nimage = \"y\"\n"
		 "\n# runner c\n[[runners]]\nname = \"c\"\n" },
	{ .name = "remove/subtable-of-entry",
	  .in = RUNNERS2, .op = REMOVE, .path = "runners/0/docker",
	  .out = "concurrent = 4\n\n[[runners]]\n  name = \"a\"\n  url = \"https://gitlab.example.com\"\n"
		 "\n[[runners]]\n  name = \"b\"\n  [runners.docker]\n    image = \"debian\"\n" },
	{ .name = "remove/whole-aot",
	  .in = "concurrent = 1\n\n[[runners]]\nname = \"a\"\n[[runners]]\nname = \"b\"\n",
	  .op = REMOVE, .path = "runners", .out = "concurrent = 1\n",
	  .alt = { "concurrent = 1\n\n" },
	  .why = "at the end of the file the blank line that set the section apart goes too" },
	{ .name = "remove/entry-first-after-root-keys",
	  .in = "concurrent = 1\n# runner a\n[[runners]]\nname = \"a\"\n# runner b\n[[runners]]\nname = \"b\"\n",
	  .op = REMOVE, .path = "runners/0",
	  .out = "concurrent = 1\n# runner b\n[[runners]]\nname = \"b\"\n" },
	{ .name = "remove/array-element-middle",
	  .in = "a = [1, 2, 3]\n", .op = REMOVE, .path = "a/1", .out = "a = [1, 3]\n" },
	{ .name = "remove/array-element-first",
	  .in = "a = [1, 2, 3]\n", .op = REMOVE, .path = "a/0", .out = "a = [2, 3]\n" },
	{ .name = "remove/array-element-last",
	  .in = "a = [1, 2, 3]\n", .op = REMOVE, .path = "a/2", .out = "a = [1, 2]\n" },
	{ .name = "remove/array-element-only",
	  .in = "a = [ 1 ]\n", .op = REMOVE, .path = "a/0", .out = "a = []\n",
	  .alt = { "a = [ ]\n" } },
	{ .name = "remove/array-element-trailing-comma",
	  .in = "a = [1, 2,]\n", .op = REMOVE, .path = "a/1", .out = "a = [1,]\n",
	  .alt = { "a = [1]\n" }, .soft = true },
	{ .name = "remove/array-element-multiline",
	  .in = "a = [\n  \"x\",\n  \"y\",\n  \"z\",\n]\n", .op = REMOVE, .path = "a/1",
	  .out = "a = [\n  \"x\",\n  \"z\",\n]\n",
	  .why = "the element's line goes whole, not leaving an indented blank line" },
	{ .name = "remove/array-element-multiline-comment",
	  .in = "a = [\n  \"x\", # ex\n  \"y\", # why\n]\n", .op = REMOVE, .path = "a/0",
	  .soft = true, .out = "a = [\n  \"y\", # why\n]\n",
	  .why = "the comment on the element's line describes the element" },
	{ .name = "remove/array-element-multiline-last-no-comma",
	  .in = "a = [\n  \"x\",\n  \"y\"\n]\n", .op = REMOVE, .path = "a/1",
	  .soft = true, .out = "a = [\n  \"x\"\n]\n",
	  .alt = { "a = [\n  \"x\",\n]\n" } },
	{ .name = "remove/root",
	  .in = "a = 1\n", .op = REMOVE, .path = "", .err = ANY_ERROR },

	/* ================= add_table / append_entry ================= */
	{ .name = "add_table/root",
	  .in = "a = 1\n", .op = ADD_TABLE, .path = "", .key = "t",
	  .out = "a = 1\n[t]\n", .alt = { "a = 1\n\n[t]\n" } },
	{ .name = "add_table/root-no-final-newline",
	  .in = "a = 1", .op = ADD_TABLE, .path = "", .key = "t",
	  .out = "a = 1\n[t]", .alt = { "a = 1\n[t]\n", "a = 1\n\n[t]\n", "a = 1\n\n[t]" } },
	{ .name = "add_table/into-first-runner",
	  .in = "[[runners]]\nname = \"a\"\n\n[[runners]]\nname = \"b\"\n",
	  .op = ADD_TABLE, .path = "runners/0", .key = "docker", .soft = true,
	  .out = "[[runners]]\nname = \"a\"\n[runners.docker]\n\n[[runners]]\nname = \"b\"\n",
	  .alt = { "[[runners]]\nname = \"a\"\n\n[runners.docker]\n\n[[runners]]\nname = \"b\"\n" },
	  .why = "after the entry's last line, before the blank line that separates entries" },
	{ .name = "add_table/into-first-runner-after-subtables",
	  .in = RUNNERS2, .op = ADD_TABLE, .path = "runners/0", .key = "cache",
	  .soft = true,
	  .out = "concurrent = 4\n\n[[runners]]\n  name = \"a\"\n  url = \"https://gitlab.example.com\"\n"
		 "  [runners.docker]\n    image = \"alpine\"\n  [runners.cache]\n\n[[runners]]\n  name = \"b\"\n"
		 "  [runners.docker]\n    image = \"debian\"\n",
	  .alt = { "concurrent = 4\n\n[[runners]]\n  name = \"a\"\n  url = \"https://gitlab.example.com\"\n"
		 "  [runners.docker]\n    image = \"alpine\"\n[runners.cache]\n\n[[runners]]\n  name = \"b\"\n"
		 "  [runners.docker]\n    image = \"debian\"\n" },
	  .why = "gitlab-runner indents sub-table headers; indenting like the sibling header is nicest" },
	{ .name = "add_table/into-last-runner",
	  .in = "[[runners]]\nname = \"a\"\n[[runners]]\nname = \"b\"\n",
	  .op = ADD_TABLE, .path = "runners/1", .key = "docker",
	  .out = "[[runners]]\nname = \"a\"\n[[runners]]\nname = \"b\"\n[runners.docker]\n" },
	{ .name = "add_table/quoted-key",
	  .in = "[t]\n", .op = ADD_TABLE, .path = "t", .key = "a.b",
	  .out = "[t]\n[t.\"a.b\"]\n" },
	{ .name = "add_table/exists",
	  .in = "[t]\n[t.x]\n", .op = ADD_TABLE, .path = "t", .key = "x", .err = EEXIST },
	{ .name = "add_table/inline",
	  .in = "x = { a = 1 }\n", .op = ADD_TABLE, .path = "x", .key = "t",
	  .out = "x = { a = 1, t = {} }\n" },
	{ .name = "add_table/under-dotted",
	  .in = "docker.image = \"x\"\n[other]\n", .op = ADD_TABLE, .path = "docker",
	  .key = "sub", .soft = true, .out = "docker.image = \"x\"\n[docker.sub]\n[other]\n",
	  .alt = { "docker.image = \"x\"\ndocker.sub = {}\n[other]\n",
		   "docker.image = \"x\"\n[other]\n[docker.sub]\n" } },
	{ .name = "add_table/crlf",
	  .in = "[t]\r\na = 1\r\n", .op = ADD_TABLE, .path = "t", .key = "s",
	  .out = "[t]\r\na = 1\r\n[t.s]\r\n" },
	{ .name = "append/after-last-entry-block",
	  .in = RUNNERS3, .op = APPEND, .path = "", .key = "runners",
	  .out = RUNNERS3 "[[runners]]\n", .alt = { RUNNERS3 "\n[[runners]]\n" } },
	{ .name = "append/last-entry-has-subtables",
	  .in = "[[runners]]\nname = \"a\"\n[runners.docker]\nimage = \"x\"\n[x]\ny = 1\n",
	  .op = APPEND, .path = "", .key = "runners",
	  .out = "[[runners]]\nname = \"a\"\n[runners.docker]\nimage = \"x\"\n[[runners]]\n[x]\ny = 1\n" },
	{ .name = "append/new-aot",
	  .in = "concurrent = 1\n", .op = APPEND, .path = "", .key = "runners",
	  .out = "concurrent = 1\n[[runners]]\n", .alt = { "concurrent = 1\n\n[[runners]]\n" } },
	{ .name = "append/nested-services",
	  .in = RUNNERS3, .op = APPEND, .path = "runners/1/docker", .key = "services",
	  .out = "# runner a\n[[runners]]\nname = \"a\"\n[runners.docker]\nimage = \"x\"\n\n"
		 "# runner b\n[[runners]]\nname = \"b\"\n[runners.docker]\nimage = \"y\"\n"
		 "[[runners.docker.services]]\nname = \"s1\"\n[[runners.docker.services]]\n\n"
		 "# runner c\n[[runners]]\nname = \"c\"\n" },
	{ .name = "append/crlf",
	  .in = "[[r]]\r\na = 1\r\n", .op = APPEND, .path = "", .key = "r",
	  .out = "[[r]]\r\na = 1\r\n[[r]]\r\n", .alt = { "[[r]]\r\na = 1\r\n\r\n[[r]]\r\n" } },
	{ .name = "append/onto-table-rejected",
	  .in = "[t]\n", .op = APPEND, .path = "", .key = "t", .err = ANY_ERROR },
	{ .name = "append/onto-scalar-rejected",
	  .in = "t = 1\n", .op = APPEND, .path = "", .key = "t", .err = ANY_ERROR },
	{ .name = "append/inline-array",
	  .in = "x = [{ a = 1 }]\n", .op = APPEND, .path = "", .key = "x",
	  .out = "x = [{ a = 1 }, {}]\n" },

	/* ================= more nasty ones ================= */
	{ .name = "insert/after-dotted-subtable-line",
	  .in = "[t]\na = 1\nsub.x = 2\n[u]\n", .op = INSERT, .path = "t", .key = "b",
	  .type = TOML_INTEGER, .val = "3", .out = "[t]\na = 1\nsub.x = 2\nb = 3\n[u]\n" },
	{ .name = "insert/crlf-comment-no-final-newline",
	  .in = "[t]\r\n  a = 1 # one", .op = INSERT, .path = "t", .key = "b",
	  .type = TOML_INTEGER, .val = "2", .out = "[t]\r\n  a = 1 # one\r\n  b = 2",
	  .alt = { "[t]\r\n  a = 1 # one\r\n  b = 2\r\n" } },
	{ .name = "insert/root-only-dotted",
	  .in = "a.b = 1\n[t]\n", .op = INSERT, .path = "", .key = "c",
	  .type = TOML_INTEGER, .val = "2", .out = "a.b = 1\nc = 2\n[t]\n" },
	{ .name = "insert/inline-in-array",
	  .in = "x = [{ a = 1 }, { a = 2 }]\n", .op = INSERT, .path = "x/1", .key = "b",
	  .type = TOML_INTEGER, .val = "3", .out = "x = [{ a = 1 }, { a = 2, b = 3 }]\n" },
	{ .name = "insert/key-with-nul",
	  .in = "a = 1\n", .op = INSERT, .path = "", .key = "k\0z", .klen = 3,
	  .type = TOML_INTEGER, .val = "2", .out = "a = 1\n\"k\\u0000z\" = 2\n" },
	{ .name = "insert/key-invalid-utf8",
	  .in = "a = 1\n", .op = INSERT, .path = "", .key = "\xc3(",
	  .type = TOML_INTEGER, .val = "2", .err = EINVAL },
	{ .name = "insert/float-value",
	  .in = "[t]\n", .op = INSERT, .path = "t", .key = "f",
	  .type = TOML_FLOAT, .val = "1e3", .out = "[t]\nf = 1000.0\n",
	  .alt = { "[t]\nf = 1e3\n" },
	  .why = "1e+03 is not how a person writes a thousand" },
	{ .name = "insert/time-local",
	  .in = "[t]\n", .op = INSERT, .path = "t", .key = "at",
	  .type = TOML_TIME_LOCAL, .val = "07:32:00.5", .out = "[t]\nat = 07:32:00.5\n" },
	{ .name = "remove/only-key-of-document",
	  .in = "a = 1\n", .op = REMOVE, .path = "a", .out = "" },
	{ .name = "remove/key-between-blank-lines",
	  .in = "a = 1\n\nb = 2\n\n[t]\n", .op = REMOVE, .path = "b",
	  .out = "a = 1\n\n\n[t]\n", .soft = true,
	  .alt = { "a = 1\n\n[t]\n" },
	  .why = "the brief says the key's line and nothing else" },
	{ .name = "remove/key-tab-indented-crlf",
	  .in = "[t]\r\n\ta = 1\t# c\r\n\tb = 2\r\n", .op = REMOVE, .path = "t/b",
	  .out = "[t]\r\n\ta = 1\t# c\r\n" },
	{ .name = "remove/inline-table-value",
	  .in = "x = { a = { b = 1 }, c = 2 }\n", .op = REMOVE, .path = "x/a",
	  .out = "x = { c = 2 }\n" },
	{ .name = "remove/inline-array-element-table",
	  .in = "x = [{ a = 1 }, { a = 2 }]\n", .op = REMOVE, .path = "x/0",
	  .out = "x = [{ a = 2 }]\n" },
	{ .name = "remove/nested-array-element",
	  .in = "x = [[1, 2], [3]]\n", .op = REMOVE, .path = "x/0/1",
	  .out = "x = [[1], [3]]\n" },
	{ .name = "set/nested-array-element",
	  .in = "x = [[1, 2], [3]]\n", .op = SET, .path = "x/1/0", .type = TOML_STRING,
	  .val = "three", .out = "x = [[1, 2], [\"three\"]]\n" },
	{ .name = "set_array/aot-rejected",
	  .in = "[[r]]\na = 1\n", .op = SET_ARRAY, .path = "r", .type = TOML_INTEGER,
	  .vals = { "1" }, .err = ANY_ERROR },
	{ .name = "add_table/root-after-aot",
	  .in = "[[r]]\na = 1\n", .op = ADD_TABLE, .path = "", .key = "t", .soft = true,
	  .out = "[[r]]\na = 1\n\n[t]\n", .alt = { "[t]\n[[r]]\na = 1\n", "[[r]]\na = 1\n[t]\n" } },
	{ .name = "add_table/into-implicit",
	  .in = "[a.b]\nx = 1\n", .op = ADD_TABLE, .path = "a", .key = "c",
	  .out = "[a.b]\nx = 1\n[a.c]\n", .alt = { "[a.b]\nx = 1\n\n[a.c]\n" } },
	{ .name = "append/into-entry-subtable-crlf-indented",
	  .in = "[[runners]]\r\n  name = \"a\"\r\n  [runners.docker]\r\n    image = \"x\"\r\n",
	  .op = APPEND, .path = "runners/0/docker", .key = "services", .soft = true,
	  .out = "[[runners]]\r\n  name = \"a\"\r\n  [runners.docker]\r\n    image = \"x\"\r\n"
		 "    [[runners.docker.services]]\r\n",
	  .alt = { "[[runners]]\r\n  name = \"a\"\r\n  [runners.docker]\r\n    image = \"x\"\r\n"
		   "  [[runners.docker.services]]\r\n",
		   "[[runners]]\r\n  name = \"a\"\r\n  [runners.docker]\r\n    image = \"x\"\r\n"
		   "[[runners.docker.services]]\r\n" } },
	{ .name = "rename/quoted-segment-in-header",
	  .in = "[t.\"my key\"]\nx = 1\n", .op = RENAME, .path = "t/my key", .key = "k2",
	  .out = "[t.k2]\nx = 1\n", .alt = { "[t.\"k2\"]\nx = 1\n" } },
	{ .name = "rename/nested-aot-in-one-entry",
	  .in = "[[runners]]\n[runners.docker]\n[[runners.docker.services]]\nname = \"s\"\n"
		"[[runners]]\n[runners.docker]\n[[runners.docker.services]]\nname = \"t\"\n",
	  .op = RENAME, .path = "runners/0/docker", .key = "d2",
	  .out = "[[runners]]\n[runners.d2]\n[[runners.d2.services]]\nname = \"s\"\n"
		 "[[runners]]\n[runners.docker]\n[[runners.docker.services]]\nname = \"t\"\n" },
	{ .name = "rename/dotted-segment-in-dotted-key",
	  .in = "[t]\na.b.c = 1\na.b.d = 2\n", .op = RENAME, .path = "t/a/b", .key = "B",
	  .out = "[t]\na.B.c = 1\na.B.d = 2\n" },
	{ .name = "rename/key-invalid-utf8",
	  .in = "a = 1\n", .op = RENAME, .path = "a", .key = "\xff", .err = EINVAL },
	{ .name = "rename/to-same",
	  .in = "a = 1\n", .op = RENAME, .path = "a", .key = "a", .soft = true,
	  .out = "a = 1\n", .why = "a no-op, or EEXIST: either is fine" },

	/* ================= rename ================= */
	{ .name = "rename/key",
	  .in = "a = 1 # c\n", .op = RENAME, .path = "a", .key = "b",
	  .out = "b = 1 # c\n" },
	{ .name = "rename/needs-quotes",
	  .in = "a = 1\n", .op = RENAME, .path = "a", .key = "b c",
	  .out = "\"b c\" = 1\n" },
	{ .name = "rename/quoted-to-bare",
	  .in = "\"a\" = 1\n", .op = RENAME, .path = "a", .key = "b",
	  .out = "b = 1\n", .alt = { "\"b\" = 1\n" } },
	{ .name = "rename/table-with-subtables",
	  .in = "[t]\na = 1\n[t.sub]\nb = 2\n[t.sub.deeper]\n[u]\n", .op = RENAME,
	  .path = "t", .key = "v",
	  .out = "[v]\na = 1\n[v.sub]\nb = 2\n[v.sub.deeper]\n[u]\n" },
	{ .name = "rename/dotted",
	  .in = "docker.image = \"x\"\nname = 1\ndocker.tls = true\n", .op = RENAME,
	  .path = "docker", .key = "d2",
	  .out = "d2.image = \"x\"\nname = 1\nd2.tls = true\n" },
	{ .name = "rename/aot",
	  .in = RUNNERS2, .op = RENAME, .path = "runners", .key = "r",
	  .out = "concurrent = 4\n\n[[r]]\n  name = \"a\"\n  url = \"https://gitlab.example.com\"\n"
		 "  [r.docker]\n    image = \"alpine\"\n\n[[r]]\n  name = \"b\"\n"
		 "  [r.docker]\n    image = \"debian\"\n" },
	{ .name = "rename/only-that-entry",
	  .in = RUNNERS2, .op = RENAME, .path = "runners/1/docker", .key = "kubernetes",
	  .out = "concurrent = 4\n\n[[runners]]\n  name = \"a\"\n  url = \"https://gitlab.example.com\"\n"
		 "  [runners.docker]\n    image = \"alpine\"\n\n[[runners]]\n  name = \"b\"\n"
		 "  [runners.kubernetes]\n    image = \"debian\"\n" },
	{ .name = "rename/header-spacing-kept",
	  .in = "[ t . sub ]\n", .op = RENAME, .path = "t/sub", .key = "x",
	  .out = "[ t . x ]\n" },
	{ .name = "rename/implicit",
	  .in = "[a.b]\n[a.c]\n", .op = RENAME, .path = "a", .key = "z",
	  .out = "[z.b]\n[z.c]\n" },
	{ .name = "rename/inline",
	  .in = "x = { a = 1 }\n", .op = RENAME, .path = "x/a", .key = "b",
	  .out = "x = { b = 1 }\n" },
	{ .name = "rename/clash",
	  .in = "a = 1\nb = 2\n", .op = RENAME, .path = "a", .key = "b", .err = EEXIST },
	{ .name = "rename/array-element",
	  .in = "a = [1]\n", .op = RENAME, .path = "a/0", .key = "b", .err = ANY_ERROR },
	{ .name = "rename/hostile",
	  .in = "[t]\na = 1\n", .op = RENAME, .path = "t", .key = "x]\n[y",
	  .out = "[\"x]\\n[y\"]\na = 1\n" },
};

/* ---- generated: every string style x hostile values ---- */

static const char *const styles[] = {
	"s = \"v\" # c\nafter = 1\n",
	"s = 'v' # c\nafter = 1\n",
	"s = \"\"\"\nv\"\"\" # c\nafter = 1\n",
	"s = '''\nv''' # c\nafter = 1\n",
	"[[runners]]\r\ns = \"v\"\r\n[[runners]]\r\n",
	"x = { s = 'v' }\nafter = 1\n",
};

static const struct {
	const char *v;
	size_t len;
} hostile[] = {
#define H(s) { s, sizeof(s) - 1 }
	H(""), H("\""), H("'"), H("\\"), H("\"\"\""), H("'''"), H("''''''"),
	H("\"\"\"\"\"\""), H("\"]\n[[runners]]"), H("'\n[[runners]]\nx = '"),
	H("\"\"\"\n[x]\n\"\"\""), H("a\0b"), H("\x01\x02\x1f\x7f"), H("\r"),
	H("\r\n"), H("\n\n"), H("\n"), H("trailing\\"), H("end\""), H("end'"),
	H("end\"\""), H("\\u0041"), H("# not a comment"), H("} , y = {"),
	H("\t\ttab"), H("\xe2\x80\xa8\xef\xbb\xbf\xf0\x9f\x92\xa9"),
	H("a\"\"\"b'''c"), H("x\r\n\"\"\"\r\n[y]"),
#undef H
};

static int run_generated(void)
{
	char name[128];
	for (size_t s = 0; s < sizeof(styles) / sizeof(styles[0]); s++) {
		for (size_t h = 0; h < sizeof(hostile) / sizeof(hostile[0]); h++) {
			struct tcase c = {
				.name = name, .in = styles[s], .op = SET,
				.path = s == 4 ? "runners/0/s" : s == 5 ? "x/s" : "s",
				.type = TOML_STRING, .val = hostile[h].v,
				.vlen = hostile[h].len ? hostile[h].len : 0,
			};
			if (hostile[h].len == 0)
				c.val = "";
			snprintf(name, sizeof(name), "hostile/style%zu/value%zu", s, h);
			run_case(&c);

			/* the same value inserted next to it */
			struct tcase ci = c;
			ci.op = INSERT;
			ci.path = s == 4 ? "runners/0" : s == 5 ? "x" : "";
			ci.key = "new";
			snprintf(name, sizeof(name), "hostile/insert%zu/value%zu", s, h);
			run_case(&ci);
		}
	}
	return 0;
}

/* ---- failed edits keep node ids ---- */

static void check_ids_survive_failure(void)
{
	struct tcase c = { .name = "ids-survive-failed-edit" };
	const char *in = "a = 1\n[t]\nb = \"x\"\n";
	toml_doc *doc;
	toml_error err;
	t_case("%s", c.name);
	checks++;
	cur_failed = false;
	if (toml_parse(in, strlen(in), &doc, &err)) {
		fail_case(&c, "parse");
		failures++;
		t_fail("%s: does not parse", c.name);
		return;
	}
	uint32_t t = toml_get(doc, TOML_ROOT, "t", 1);
	uint32_t b = toml_get(doc, t, "b", 1);
	toml_value v = { .type = TOML_INTEGER, .i = 2 };
	if (toml_insert(doc, t, "b", 1, &v, &err) != -EEXIST)
		fail_case(&c, "insert of an existing key did not fail with EEXIST");
	if (toml_rename(doc, TOML_ROOT, "x", 1, &err) == 0)
		fail_case(&c, "renaming the root succeeded");
	char *s = NULL;
	size_t len;
	if (toml_get_string(doc, b, &s, &len) || len != 1 || s[0] != 'x')
		fail_case(&c, "old node id no longer reads the same value");
	free(s);
	toml_free(doc);
	if (cur_failed) {
		failures++;
		t_fail("%s (details above)", c.name);
	}
}

/* ---- several edits on one document ---- */

static void check_chain(void)
{
	struct tcase c = { .name = "chain/runners" };
	const char *in = RUNNERS2;
	const char *want =
		"concurrent = 8\n"
		"\n"
		"[[runners]]\n"
		"  name = \"renamed\"\n"
		"  url = \"https://gitlab.example.com\"\n"
		"  [runners.docker]\n"
		"    image = \"alpine\"\n"
		"    volumes = [\"/cache\"]\n"
		"\n"
		"[[runners]]\n"
		"  name = \"b\"\n"
		"  token = \"t\"\n";
	toml_doc *doc;
	toml_error err;
	int rc = 0;
	t_case("%s", c.name);
	checks++;
	cur_failed = false;
	if (toml_parse(in, strlen(in), &doc, &err)) {
		fail_case(&c, "parse");
		failures++;
		t_fail("%s: does not parse", c.name);
		return;
	}
	toml_value v = { .type = TOML_INTEGER, .i = 8 };
	rc |= toml_set(doc, toml_get(doc, TOML_ROOT, "concurrent", 10), &v, &err);
	uint32_t r0 = toml_at(doc, toml_get(doc, TOML_ROOT, "runners", 7), 0);
	v = (toml_value){ .type = TOML_STRING, .str = "renamed", .len = 7 };
	rc |= toml_set(doc, toml_get(doc, r0, "name", 4), &v, &err);
	/* ids are invalid now: look everything up again */
	r0 = toml_at(doc, toml_get(doc, TOML_ROOT, "runners", 7), 0);
	toml_value vol = { .type = TOML_STRING, .str = "/cache", .len = 6 };
	rc |= toml_insert_array(doc, toml_get(doc, r0, "docker", 6), "volumes", 7, &vol, 1, &err);
	uint32_t r1 = toml_at(doc, toml_get(doc, TOML_ROOT, "runners", 7), 1);
	rc |= toml_remove(doc, toml_get(doc, r1, "docker", 6), &err);
	r1 = toml_at(doc, toml_get(doc, TOML_ROOT, "runners", 7), 1);
	v = (toml_value){ .type = TOML_STRING, .str = "t", .len = 1 };
	rc |= toml_insert(doc, r1, "token", 5, &v, &err);
	size_t len;
	const char *out = toml_text(doc, &len);
	if (rc)
		fail_case(&c, "an edit failed: %s", err.msg);
	else if (len != strlen(want) || memcmp(out, want, len) != 0) {
		fail_case(&c, "output differs");
		show_diff(want, strlen(want), out, len);
	}
	/* a clone has the same bytes and answers the same */
	toml_doc *cl = NULL;
	if (toml_clone(doc, &cl) == 0) {
		size_t l2;
		const char *o2 = toml_text(cl, &l2);
		if (l2 != len || memcmp(o2, out, len) != 0)
			fail_case(&c, "clone has other bytes");
		toml_free(cl);
	} else {
		fail_case(&c, "toml_clone failed");
	}
	toml_free(doc);
	if (cur_failed) {
		failures++;
		t_fail("%s (details above)", c.name);
	}
}

/* ---- bad node ids are errors, not crashes ---- */

static void check_bad_ids(void)
{
	struct tcase c = { .name = "bad-node-ids" };
	const char *in = "a = 1\n";
	toml_doc *doc;
	toml_error err;
	t_case("%s", c.name);
	checks++;
	cur_failed = false;
	if (toml_parse(in, strlen(in), &doc, &err)) {
		fail_case(&c, "parse");
		failures++;
		t_fail("%s: does not parse", c.name);
		return;
	}
	toml_value v = { .type = TOML_INTEGER, .i = 2 };
	uint32_t bad[] = { 12345, TOML_NONE };
	for (size_t i = 0; i < 2; i++) {
		if (toml_set(doc, bad[i], &v, &err) == 0 ||
		    toml_remove(doc, bad[i], &err) == 0 ||
		    toml_insert(doc, bad[i], "x", 1, &v, &err) == 0 ||
		    toml_rename(doc, bad[i], "x", 1, &err) == 0)
			fail_case(&c, "an edit of node %u succeeded", bad[i]);
	}
	size_t len;
	const char *out = toml_text(doc, &len);
	if (len != strlen(in) || memcmp(out, in, len) != 0)
		fail_case(&c, "bytes changed");
	toml_free(doc);
	if (cur_failed) {
		failures++;
		t_fail("%s (details above)", c.name);
	}
}

/* toml_add_table_before: a table or array of tables goes just before a
 * sibling's header (and the comments above it); anything else appends. */
static void check_before(void)
{
	static const struct {
		const char *name, *in, *before, *key, *out;
		bool aot;
	} v[] = {
		{"before/table", "[[runners]]\n  name = \"a\"\n  [runners.cache]\n    Type = \"s3\"\n", "cache",
		 "docker", "[[runners]]\n  name = \"a\"\n  [runners.docker]\n  [runners.cache]\n    Type = \"s3\"\n", false},
		{"before/comment-stays-with-its-table",
		 "[[runners]]\n  name = \"a\"\n  # the cache\n  [runners.cache]\n", "cache", "docker",
		 "[[runners]]\n  name = \"a\"\n  [runners.docker]\n  # the cache\n  [runners.cache]\n", false},
		{"before/aot", "[[runners]]\n  name = \"a\"\n  [runners.cache]\n", "cache", "x",
		 "[[runners]]\n  name = \"a\"\n  [[runners.x]]\n  [runners.cache]\n", true},
		{"before/inline-appends", "[[runners]]\n  name = \"a\"\n  cache = {}\n", "cache", "docker",
		 "[[runners]]\n  name = \"a\"\n  cache = {}\n  [runners.docker]\n", false},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		checks++;
		t_case("%s", v[i].name);
		toml_doc *doc;
		toml_error err;
		if (toml_parse(v[i].in, strlen(v[i].in), &doc, &err) < 0) {
			t_fail("%s: input does not parse", v[i].name);
			failures++;
			continue;
		}
		uint32_t r0 = toml_at(doc, toml_get(doc, TOML_ROOT, "runners", 7), 0);
		uint32_t b = toml_get(doc, r0, v[i].before, strlen(v[i].before));
		int rc = toml_add_table_before(doc, r0, v[i].key, strlen(v[i].key), v[i].aot, b, &err);
		size_t len;
		const char *t = toml_text(doc, &len);
		if (rc < 0 || len != strlen(v[i].out) || memcmp(t, v[i].out, len)) {
			t_fail("%s (%d): output differs", v[i].name, rc);
			show_diff(v[i].out, strlen(v[i].out), t, len);
			failures++;
		}
		toml_free(doc);
	}
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	size_t table = sizeof(cases) / sizeof(cases[0]);
	run_generated();
	check_ids_survive_failure();
	check_chain();
	check_bad_ids();
	check_before();
	t_note("test_edit: %d cases (%zu table-driven), %d notes", checks, table, notes);
	return t_done();
}
