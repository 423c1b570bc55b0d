/* SPDX-License-Identifier: MIT */
/*
 * test_roundtrip: parse -> serialize must give back the input bytes.
 *
 *   test_roundtrip [--suite DIR]... [PATH]...
 *
 * PATH is a .toml file or a directory whose *.toml files (not recursive)
 * must all be valid. --suite DIR is a toml-test folder (the one holding
 * run.py, or its tests/ folder): every case listed in files-toml-1.0.0 is
 * run, valid cases like PATHs, invalid ones must be rejected.
 *
 * For a valid document: toml_parse succeeds; toml_text and the text of a
 * toml_clone are byte-identical to the input; toml_eol matches the first
 * line break; and the whole tree is walked, checking on every node the
 * type/form pair, parent/child/key/index links, toml_get/toml_at lookups,
 * toml_count, that toml_raw/toml_span lie inside the text and agree with
 * each other and with toml_line_of, and every typed getter (the right one
 * succeeds and agrees with the source text where that is easy to check,
 * the others give -EINVAL).
 *
 * For an invalid document: toml_parse fails with -EINVAL, a line >= 1, a
 * column >= 1 and a non-empty message (and does not crash).
 *
 * --suite also takes a case list from tests/compliance/toml-test-list.py; a
 * missing suite is a skipped case. Output: TAP, one case per document
 * (tests/unit/test.h).
 * One line per failure, then a summary; exit 1 on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <runnerfs/toml.h>

#include "test.h"

static unsigned n_valid, n_invalid, n_nodes, n_fail, n_skipped, n_docs_failed;
static unsigned n_prefixes, n_prefixes_valid;
static const char *cur; /* name of the case being checked */
static unsigned cur_fails;

#define MAX_REPORTS_PER_CASE 10

__attribute__((format(printf, 1, 2))) static void failf(const char *fmt, ...)
{
	va_list ap;

	n_fail++;
	if (cur_fails == 0)
		n_docs_failed++;
	if (++cur_fails > MAX_REPORTS_PER_CASE)
		return;
	char msg[2048];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t_fail("%s: %s", cur, msg);
}

/* The file's bytes in a buffer of exactly that size, so that a read past
 * the end shows under ASan. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		if (n == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				free(buf);
				buf = NULL;
			}
			break;
		}
	}
	fclose(f);
	if (!buf)
		return NULL;
	char *exact = malloc(n ? n : 1);
	if (exact)
		memcpy(exact, buf, n);
	free(buf);
	*len = n;
	return exact;
}

/* ---- walking a document ---- */

struct walk {
	const toml_doc *doc;
	const char *text;
	size_t len;
	size_t *line_starts; /* offsets where each line starts */
	size_t nlines;
	unsigned char *seen; /* one byte per node id */
	size_t nall;
	unsigned nodes;
};

static void index_lines(struct walk *w)
{
	size_t n = 1;
	for (size_t i = 0; i < w->len; i++)
		n += w->text[i] == '\n';
	w->line_starts = malloc(n * sizeof *w->line_starts);
	if (!w->line_starts) {
		fputs("out of memory\n", stderr);
		exit(2);
	}
	w->line_starts[0] = 0;
	w->nlines = 1;
	for (size_t i = 0; i < w->len; i++)
		if (w->text[i] == '\n')
			w->line_starts[w->nlines++] = i + 1;
}

static int line_at(const struct walk *w, size_t off)
{
	size_t lo = 0, hi = w->nlines; /* last start <= off */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->line_starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return (int)lo + 1;
}

static bool form_fits(toml_type t, toml_form f)
{
	switch (t) {
	case TOML_TABLE:
		return f == TOML_FORM_ROOT || f == TOML_FORM_HEADER ||
		       f == TOML_FORM_ENTRY || f == TOML_FORM_IMPLICIT ||
		       f == TOML_FORM_DOTTED || f == TOML_FORM_INLINE;
	case TOML_ARRAY:
		return f == TOML_FORM_ARRAY || f == TOML_FORM_AOT;
	case TOML_STRING:
		return f == TOML_FORM_BASIC || f == TOML_FORM_LITERAL ||
		       f == TOML_FORM_ML_BASIC || f == TOML_FORM_ML_LITERAL;
	case TOML_INTEGER:
		return f == TOML_FORM_DEC || f == TOML_FORM_HEX ||
		       f == TOML_FORM_OCT || f == TOML_FORM_BIN;
	case TOML_FLOAT:
	case TOML_BOOL:
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL:
		return f == TOML_FORM_PLAIN;
	}
	return false;
}

static bool has_prefix(const char *s, size_t len, const char *p)
{
	size_t pl = strlen(p);
	return len >= pl && memcmp(s, p, pl) == 0;
}

static bool has_suffix(const char *s, size_t len, const char *p)
{
	size_t pl = strlen(p);
	return len >= pl && memcmp(s + len - pl, p, pl) == 0;
}

/* What the source text of an integer says, or false if it is not one. */
static bool int_of_raw(const char *raw, size_t len, int64_t *out)
{
	char digits[128];
	size_t n = 0, i = 0;
	bool neg = false;
	int base = 10;

	if (i < len && (raw[i] == '+' || raw[i] == '-'))
		neg = raw[i++] == '-';
	if (len - i > 2 && raw[i] == '0' && strchr("xob", raw[i + 1])) {
		base = raw[i + 1] == 'x' ? 16 : raw[i + 1] == 'o' ? 8 : 2;
		i += 2;
	}
	if (neg)
		digits[n++] = '-';
	for (; i < len; i++) {
		if (raw[i] == '_')
			continue;
		if (n + 1 >= sizeof digits)
			return false;
		digits[n++] = raw[i];
	}
	digits[n] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(digits, &end, base);
	if (errno || *end || end == digits)
		return false;
	*out = v;
	return true;
}

static bool float_of_raw(const char *raw, size_t len, double *out)
{
	char digits[512];
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '_')
			continue;
		if (n + 1 >= sizeof digits)
			return false;
		digits[n++] = raw[i];
	}
	digits[n] = '\0';
	char *end;
	*out = strtod(digits, &end);
	return *end == '\0' && end != digits;
}

/* Equal once every CRLF is read as LF on both sides (TOML lets a parser
 * normalise the line breaks inside multi-line strings). */
static bool eq_nl(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;
	while (i < alen && j < blen) {
		if (a[i] == '\r' && i + 1 < alen && a[i + 1] == '\n')
			i++;
		if (b[j] == '\r' && j + 1 < blen && b[j + 1] == '\n')
			j++;
		if (a[i++] != b[j++])
			return false;
	}
	return i == alen && j == blen;
}

static const char *tname(toml_type t)
{
	const char *s = toml_type_name(t);
	return s ? s : "?";
}

static void check_getters(struct walk *w, uint32_t n, toml_type t, toml_form f,
			  const char *raw, size_t rlen)
{
	char *s = NULL;
	size_t slen = 0;
	int64_t i = 0;
	double d = 0;
	bool b = false;
	int rc;

	rc = toml_get_string(w->doc, n, &s, &slen);
	if (t == TOML_STRING) {
		if (rc) {
			failf("node %" PRIu32 ": toml_get_string failed (%d)", n, rc);
		} else if (!s) {
			failf("node %" PRIu32 ": toml_get_string gave NULL", n);
		} else {
			if (s[slen] != '\0')
				failf("node %" PRIu32 ": string not NUL-terminated", n);
			/* Literal strings and escape-free basic ones are
			 * their own text. */
			const char *body = NULL;
			size_t blen = 0;
			if (raw && (f == TOML_FORM_LITERAL ||
				    (f == TOML_FORM_BASIC && !memchr(raw, '\\', rlen)))) {
				body = raw + 1;
				blen = rlen - 2;
			} else if (raw && f == TOML_FORM_ML_LITERAL && rlen >= 6) {
				body = raw + 3;
				blen = rlen - 6;
				if (blen && body[0] == '\n') {
					body++;
					blen--;
				} else if (blen >= 2 && body[0] == '\r' && body[1] == '\n') {
					body += 2;
					blen -= 2;
				}
			}
			if (body && !eq_nl(body, blen, s, slen))
				failf("node %" PRIu32 ": string value %.*s does not match its text %.*s",
				      n, (int)(slen > 60 ? 60 : slen), s,
				      (int)(rlen > 60 ? 60 : rlen), raw);
		}
		free(s);
	} else if (rc != -EINVAL) {
		failf("node %" PRIu32 " (%s): toml_get_string gave %d, not -EINVAL", n, tname(t), rc);
		if (rc == 0)
			free(s);
	}

	rc = toml_get_int(w->doc, n, &i);
	if (t == TOML_INTEGER) {
		int64_t want;
		if (rc)
			failf("node %" PRIu32 ": toml_get_int failed (%d)", n, rc);
		else if (raw && int_of_raw(raw, rlen, &want) && want != i)
			failf("node %" PRIu32 ": integer %.*s read as %" PRId64, n,
			      (int)rlen, raw, i);
		if (raw) {
			bool hex = has_prefix(raw, rlen, "0x"), oct = has_prefix(raw, rlen, "0o"),
			     bin = has_prefix(raw, rlen, "0b");
			toml_form want_f = hex ? TOML_FORM_HEX : oct ? TOML_FORM_OCT :
					   bin ? TOML_FORM_BIN : TOML_FORM_DEC;
			if (f != want_f)
				failf("node %" PRIu32 ": integer %.*s has form %d", n,
				      (int)rlen, raw, f);
		}
	} else if (rc != -EINVAL) {
		failf("node %" PRIu32 " (%s): toml_get_int gave %d, not -EINVAL", n, tname(t), rc);
	}

	rc = toml_get_float(w->doc, n, &d);
	if (t == TOML_FLOAT) {
		double want;
		if (rc)
			failf("node %" PRIu32 ": toml_get_float failed (%d)", n, rc);
		else if (raw && float_of_raw(raw, rlen, &want) &&
			 !(isnan(want) ? isnan(d) : (memcmp(&want, &d, sizeof d) == 0)))
			failf("node %" PRIu32 ": float %.*s read as %.17g", n, (int)rlen, raw, d);
	} else if (rc != -EINVAL) {
		failf("node %" PRIu32 " (%s): toml_get_float gave %d, not -EINVAL", n, tname(t), rc);
	}

	rc = toml_get_bool(w->doc, n, &b);
	if (t == TOML_BOOL) {
		if (rc)
			failf("node %" PRIu32 ": toml_get_bool failed (%d)", n, rc);
		else if (raw && !(rlen == (b ? 4u : 5u) && memcmp(raw, b ? "true" : "false", rlen) == 0))
			failf("node %" PRIu32 ": bool %.*s read as %d", n, (int)rlen, raw, b);
	} else if (rc != -EINVAL) {
		failf("node %" PRIu32 " (%s): toml_get_bool gave %d, not -EINVAL", n, tname(t), rc);
	}
}

static void check_raw(struct walk *w, uint32_t n, toml_type t, toml_form f,
		      const char **rawp, size_t *rlenp)
{
	size_t rlen = 0, st = 0, en = 0;
	const char *raw = toml_raw(w->doc, n, &rlen);
	int rc = toml_span(w->doc, n, &st, &en);

	*rawp = NULL;
	*rlenp = 0;
	if (raw) {
		if (raw < w->text || raw > w->text + w->len ||
		    rlen > (size_t)(w->text + w->len - raw)) {
			failf("node %" PRIu32 ": toml_raw outside the text", n);
			return;
		}
		if (rlen == 0)
			failf("node %" PRIu32 ": toml_raw is empty", n);
		*rawp = raw;
		*rlenp = rlen;
		if (rc < 0)
			failf("node %" PRIu32 ": toml_raw but toml_span failed (%d)", n, rc);
		else if (st != (size_t)(raw - w->text) || en != st + rlen)
			failf("node %" PRIu32 ": toml_span [%zu,%zu) != toml_raw [%zu,%zu)", n,
			      st, en, (size_t)(raw - w->text), (size_t)(raw - w->text) + rlen);
	} else {
		bool may_lack = t == TOML_TABLE ? f != TOML_FORM_INLINE :
				t == TOML_ARRAY ? f == TOML_FORM_AOT : false;
		if (!may_lack)
			failf("node %" PRIu32 " (%s, form %d): no toml_raw", n, tname(t), f);
	}
	if (rc >= 0) {
		if (st > en || en > w->len)
			failf("node %" PRIu32 ": toml_span [%zu,%zu) outside the text (%zu)", n,
			      st, en, w->len);
		else {
			int line = toml_line_of(w->doc, st), want = line_at(w, st);
			if (line != want)
				failf("node %" PRIu32 ": toml_line_of(%zu) = %d, want %d", n,
				      st, line, want);
		}
	}

	/* The text must look like the form claims. */
	if (!raw)
		return;
	bool ok = true;
	switch (f) {
	case TOML_FORM_INLINE:
		ok = raw[0] == '{' && raw[rlen - 1] == '}';
		break;
	case TOML_FORM_ARRAY:
		ok = raw[0] == '[' && raw[rlen - 1] == ']';
		break;
	case TOML_FORM_BASIC:
		ok = rlen >= 2 && raw[0] == '"' && raw[rlen - 1] == '"';
		break;
	case TOML_FORM_LITERAL:
		ok = rlen >= 2 && raw[0] == '\'' && raw[rlen - 1] == '\'';
		break;
	case TOML_FORM_ML_BASIC:
		ok = rlen >= 6 && has_prefix(raw, rlen, "\"\"\"") && has_suffix(raw, rlen, "\"\"\"");
		break;
	case TOML_FORM_ML_LITERAL:
		ok = rlen >= 6 && has_prefix(raw, rlen, "'''") && has_suffix(raw, rlen, "'''");
		break;
	default:
		if (t != TOML_TABLE && t != TOML_ARRAY)
			ok = !strchr(" \t\r\n#,]}=", raw[0]) && !strchr(" \t\r\n#,]}=", raw[rlen - 1]);
		break;
	}
	if (!ok)
		failf("node %" PRIu32 " (%s, form %d): text %.*s does not fit", n, tname(t), f,
		      (int)(rlen > 60 ? 60 : rlen), raw);
}

static void walk(struct walk *w, uint32_t n, unsigned depth)
{
	if (n >= w->nall) {
		failf("node id %" PRIu32 " >= toml_node_count_all %zu", n, w->nall);
		return;
	}
	if (w->seen[n]) {
		failf("node %" PRIu32 " reached twice", n);
		return;
	}
	w->seen[n] = 1;
	w->nodes++;
	if (depth > 100000) {
		failf("tree deeper than 100000");
		return;
	}

	toml_type t = toml_type_of(w->doc, n);
	toml_form f = toml_form_of(w->doc, n);
	if (!form_fits(t, f))
		failf("node %" PRIu32 ": type %d with form %d", n, t, f);
	if (!toml_type_name(t))
		failf("node %" PRIu32 ": toml_type_name(%d) is NULL", n, t);

	const char *raw;
	size_t rlen;
	check_raw(w, n, t, f, &raw, &rlen);
	check_getters(w, n, t, f, raw, rlen);

	if (t != TOML_TABLE && t != TOML_ARRAY) {
		if (toml_first(w->doc, n) != TOML_NONE)
			failf("node %" PRIu32 ": scalar with children", n);
		return;
	}

	size_t i = 0;
	for (uint32_t c = toml_first(w->doc, n); c != TOML_NONE;
	     c = toml_next(w->doc, c), i++) {
		if (c >= w->nall) {
			failf("node %" PRIu32 ": child id %" PRIu32 " out of range", n, c);
			break;
		}
		if (w->seen[c]) {
			failf("node %" PRIu32 ": child %" PRIu32 " reached twice (loop?)", n, c);
			break;
		}
		if (toml_parent(w->doc, c) != n)
			failf("node %" PRIu32 ": parent is %" PRIu32 ", want %" PRIu32, c,
			      toml_parent(w->doc, c), n);
		size_t klen = 0;
		const char *k = toml_key(w->doc, c, &klen);
		if (t == TOML_TABLE) {
			if (!k) {
				failf("node %" PRIu32 ": table member without a key", c);
			} else {
				uint32_t g = toml_get(w->doc, n, k, klen);
				if (g != c)
					failf("node %" PRIu32 ": toml_get(\"%.*s\") = %" PRIu32
					      ", want %" PRIu32, n, (int)klen, k, g, c);
			}
		} else {
			if (k)
				failf("node %" PRIu32 ": array element with a key", c);
			uint32_t a = toml_at(w->doc, n, i);
			if (a != c)
				failf("node %" PRIu32 ": toml_at(%zu) = %" PRIu32 ", want %" PRIu32,
				      n, i, a, c);
		}
		walk(w, c, depth + 1);
	}
	if (toml_count(w->doc, n) != i)
		failf("node %" PRIu32 ": toml_count %zu, but %zu children", n,
		      toml_count(w->doc, n), i);
	if (t == TOML_ARRAY && toml_at(w->doc, n, i) != TOML_NONE)
		failf("node %" PRIu32 ": toml_at past the end is not TOML_NONE", n);
	if (t == TOML_TABLE && toml_get(w->doc, n, "\x01no such key\x02", 14) != TOML_NONE)
		failf("node %" PRIu32 ": toml_get of a missing key found something", n);
}

static void check_tree(const toml_doc *doc, const char *text, size_t len)
{
	struct walk w = { .doc = doc, .text = text, .len = len };

	w.nall = toml_node_count_all(doc);
	w.seen = calloc(w.nall ? w.nall : 1, 1);
	if (!w.seen) {
		fputs("out of memory\n", stderr);
		exit(2);
	}
	index_lines(&w);

	if (toml_type_of(doc, TOML_ROOT) != TOML_TABLE ||
	    toml_form_of(doc, TOML_ROOT) != TOML_FORM_ROOT)
		failf("root is not a table of form ROOT");
	size_t klen;
	if (toml_key(doc, TOML_ROOT, &klen))
		failf("root has a key");
	walk(&w, TOML_ROOT, 0);
	n_nodes += w.nodes;

	free(w.seen);
	free(w.line_starts);
}

/* ---- one document ---- */

static void check_valid(const char *name, const char *text, size_t len)
{
	toml_doc *doc = NULL, *clone = NULL;
	toml_error err;
	size_t tlen;
	const char *t;

	cur = name;
	cur_fails = 0;
	n_valid++;
	memset(&err, 0, sizeof err);
	int rc = toml_parse(text, len, &doc, &err);
	if (rc) {
		failf("parse failed (%d): %d:%d: %s", rc, err.line, err.col, err.msg);
		return;
	}
	if (!doc) {
		failf("parse succeeded without a document");
		return;
	}

	t = toml_text(doc, &tlen);
	if (!t || tlen != len || memcmp(t, text, len)) {
		size_t i = 0;
		while (t && i < len && i < tlen && t[i] == text[i])
			i++;
		failf("toml_text differs: %zu bytes for %zu, first difference at %zu",
		      tlen, len, i);
	}

	/* The first line break decides the end of line. */
	const char *nl = memchr(text, '\n', len);
	const char *want_eol = nl && nl > text && nl[-1] == '\r' ? "\r\n" : "\n";
	const char *eol = toml_eol(doc);
	if (!eol || strcmp(eol, want_eol))
		failf("toml_eol is %s", eol ? (eol[0] == '\r' ? "CRLF" : "LF") : "NULL");

	check_tree(doc, t ? t : text, t ? tlen : len);

	rc = toml_clone(doc, &clone);
	if (rc) {
		failf("toml_clone failed (%d)", rc);
	} else {
		const char *ct = toml_text(clone, &tlen);
		if (!ct || tlen != len || memcmp(ct, text, len))
			failf("toml_clone text differs");
		else if (ct == t)
			failf("toml_clone shares its text with the original");
		if (toml_node_count_all(clone) != toml_node_count_all(doc))
			failf("toml_clone has %zu nodes, the original %zu",
			      toml_node_count_all(clone), toml_node_count_all(doc));
		toml_free(doc); /* the clone must not depend on it */
		doc = NULL;
		if (ct)
			check_tree(clone, ct, tlen);
		toml_free(clone);
	}
	toml_free(doc);

	/* err may be NULL. */
	doc = NULL;
	rc = toml_parse(text, len, &doc, NULL);
	if (rc)
		failf("parse with err == NULL failed (%d)", rc);
	toml_free(doc);
}

static void check_invalid(const char *name, const char *text, size_t len)
{
	toml_doc *doc = NULL;
	toml_error err;

	cur = name;
	cur_fails = 0;
	n_invalid++;
	memset(&err, 0x55, sizeof err); /* garbage the parser must overwrite */
	int rc = toml_parse(text, len, &doc, &err);
	if (rc == 0) {
		failf("invalid document accepted");
		toml_free(doc);
		return;
	}
	if (rc != -EINVAL)
		failf("rejected with %d, not -EINVAL", rc);
	if (!memchr(err.msg, '\0', sizeof err.msg))
		failf("error message not NUL-terminated");
	else if (!err.msg[0])
		failf("empty error message");
	size_t lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	if (err.line < 1 || (size_t)err.line > lines)
		failf("error line %d (document has %zu lines)", err.line, lines);
	if (err.col < 1) {
		failf("error column %d", err.col);
	} else if (err.line >= 1 && (size_t)err.line <= lines) {
		/* The column is a byte of that line, or just past its end. */
		size_t start = 0, l = 1;
		while (l < (size_t)err.line)
			l += text[start++] == '\n';
		const char *nl = memchr(text + start, '\n', len - start);
		size_t linelen = nl ? (size_t)(nl - text) - start : len - start;
		if ((size_t)err.col > linelen + 1)
			failf("error column %d past the end of line %d (%zu bytes)", err.col,
			      err.line, linelen);
	}

	doc = NULL;
	rc = toml_parse(text, len, &doc, NULL);
	if (rc == 0) {
		failf("accepted when err == NULL");
		toml_free(doc);
	}
}

/* Every prefix of a (small) valid document: each must either parse and
 * round-trip like a valid document, or fail like an invalid one. Nothing
 * may crash. Counted apart from whole documents. */
static void check_prefixes(const char *name, const char *text, size_t len)
{
	char pname[4200];
	unsigned saved_valid = n_valid, saved_invalid = n_invalid;
	unsigned saved_docs_failed = n_docs_failed;

	for (size_t l = 0; l < len; l++) {
		char *p = malloc(l ? l : 1);
		if (!p)
			exit(2);
		memcpy(p, text, l);
		toml_doc *doc = NULL;
		toml_error err;
		bool ok = toml_parse(p, l, &doc, &err) == 0;
		toml_free(doc);
		snprintf(pname, sizeof pname, "%s (first %zu bytes)", name, l);
		if (ok) {
			check_valid(pname, p, l);
			n_prefixes_valid++;
		} else {
			check_invalid(pname, p, l);
		}
		free(p);
		n_prefixes++;
		if (n_docs_failed - saved_docs_failed >= 5) {
			cur = name;
			cur_fails = 0;
			failf("too many failing prefixes, stopped at %zu bytes", l);
			break;
		}
	}
	n_valid = saved_valid;
	n_invalid = saved_invalid;
}

static void check_file(const char *path, const char *name, bool valid)
{
	size_t len;
	char *text = slurp(path, &len);

	t_case("%s %s", valid ? "valid" : "invalid", name);
	if (!text) {
		cur = name;
		cur_fails = 0;
		failf("cannot read %s: %s", path, strerror(errno));
		return;
	}
	if (valid)
		check_valid(name, text, len);
	else
		check_invalid(name, text, len);
	free(text);
}

/* ---- inputs ---- */

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_file_prefixes(const char *path)
{
	size_t len;
	char *text = slurp(path, &len);

	if (text && len <= 65536) {
		t_case("every prefix of %s", path);
		check_prefixes(path, text, len);
	}
	free(text);
}

static void check_dir(const char *dir)
{
	DIR *d = opendir(dir);
	t_case("directory %s", dir);
	if (!d) {
		cur = dir;
		cur_fails = 0;
		failf("cannot open: %s", strerror(errno));
		return;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".toml"))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nn = realloc(names, cap * sizeof *names);
			if (!nn)
				exit(2);
			names = nn;
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (n == 0) {
		cur = dir;
		cur_fails = 0;
		failf("no *.toml files");
	}
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		check_file(path, path, true);
		check_file_prefixes(path);
		free(names[i]);
	}
	free(names);
}

static void check_suite(const char *arg)
{
	char tests[4096];
	FILE *f = t_suite_open(arg, tests, sizeof tests);
	if (!f) {
		n_skipped++;
		return;
	}
	char line[1024];
	unsigned cases = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\r\n")] = '\0';
		size_t l = strlen(line);
		if (l < 6 || strcmp(line + l - 5, ".toml"))
			continue;
		bool valid = strncmp(line, "valid/", 6) == 0;
		if (!valid && strncmp(line, "invalid/", 8) != 0)
			continue;
		char path[5300];
		snprintf(path, sizeof path, "%s/%s", tests, line);
		check_file(path, line, valid);
		cases++;
	}
	fclose(f);
	if (cases == 0) {
		t_case("toml-test cases");
		cur = arg;
		cur_fails = 0;
		failf("no cases listed");
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: %s [--suite DIR]... [FILE|DIR]...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--suite") == 0 && i + 1 < argc)
			check_suite(argv[++i]);
		else if (is_dir(argv[i]))
			check_dir(argv[i]);
		else {
			check_file(argv[i], argv[i], true);
			check_file_prefixes(argv[i]);
		}
	}
	t_note("roundtrip: %u valid documents, %u invalid documents, %u skipped; "
	       "%u prefixes of the small ones (%u valid); %u nodes walked; %u failures",
	       n_valid, n_invalid, n_skipped, n_prefixes, n_prefixes_valid, n_nodes, n_fail);
	return t_done();
}
