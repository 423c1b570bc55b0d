/* SPDX-License-Identifier: MIT */
#include "fuzz-common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("\n=== runnerfs fuzz: invariant violated: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" ===\n", stderr);
	fflush(stderr);
	abort();
}

bool fuzz_check_on(const char *name)
{
	static const char *skip;
	static bool loaded;
	size_t nl = strlen(name);

	if (!loaded) {
		skip = getenv("FUZZ_SKIP");
		loaded = true;
	}
	if (!skip || !*skip)
		return true;
	if (!strcmp(skip, "all"))
		return false;
	for (const char *p = skip; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == nl && !memcmp(p, name, l))
			return false;
		p += l + (e ? 1 : 0);
	}
	return true;
}

void fbuf_add(struct fbuf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void fbuf_adds(struct fbuf *b, const char *s)
{
	fbuf_add(b, s, strlen(s));
}

void fbuf_free(struct fbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

bool fuzz_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

void fuzz_check_error(const toml_error *err, const char *text, size_t len,
		      const char *what, const char *check)
{
	const char *nul = memchr(err->msg, '\0', sizeof err->msg);

	FUZZ_CHECK(nul, "%s: error message not NUL-terminated", what);
	FUZZ_CHECK(err->msg[0], "%s: failed with an empty error message", what);
	FUZZ_CHECK(err->line >= 0 && err->col >= 0,
		   "%s: negative line/col %d:%d", what, err->line, err->col);
	if (!fuzz_check_on(check))
		return;
	for (const char *p = err->msg; *p; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f,
			   "%s: control byte 0x%02x in error message \"%s\"",
			   what, (unsigned char)*p, err->msg);
	FUZZ_CHECK(fuzz_utf8_valid(err->msg, (size_t)(nul - err->msg)),
		   "%s: error message is not UTF-8: \"%s\"", what, err->msg);
	if (err->line == 0 || !text)
		return;
	/* The line must exist and the column must lie within it (or just
	 * past its end, for "unexpected end of line/file"). */
	size_t off = 0;
	for (int l = 1; l < err->line; l++) {
		const char *nl = memchr(text + off, '\n', len - off);
		FUZZ_CHECK(nl, "%s: error line %d past the end of the input "
			   "(\"%s\")", what, err->line, err->msg);
		off = (size_t)(nl - text) + 1;
	}
	const char *nl = memchr(text + off, '\n', len - off);
	size_t linelen = (nl ? (size_t)(nl - text) : len) - off;
	FUZZ_CHECK(err->col >= 1 && (size_t)err->col <= linelen + 2,
		   "%s: error column %d outside line %d of %zu bytes (\"%s\")",
		   what, err->col, err->line, linelen, err->msg);
}

/* ---- consistency walk ---- */

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
	default:
		return f == TOML_FORM_PLAIN;
	}
}

static bool is_scalar(toml_type t)
{
	return t != TOML_ARRAY && t != TOML_TABLE;
}

static void check_scalar(const toml_doc *doc, uint32_t n, toml_type t,
			 const char *raw, size_t rlen)
{
	char *s = NULL;
	size_t slen = 0;
	int64_t i = 0;
	double f = 0;
	bool b = false;
	int r;

	r = toml_get_string(doc, n, &s, &slen);
	FUZZ_CHECK((r == 0) == (t == TOML_STRING),
		   "node %u (%s): toml_get_string returned %d", n,
		   toml_type_name(t), r);
	if (r == 0) {
		FUZZ_CHECK(s && s[slen] == '\0',
			   "node %u: string not NUL-terminated", n);
		FUZZ_CHECK(fuzz_utf8_valid(s, slen),
			   "node %u: decoded string is not UTF-8", n);
		free(s);
	}
	r = toml_get_int(doc, n, &i);
	FUZZ_CHECK((r == 0) == (t == TOML_INTEGER),
		   "node %u (%s): toml_get_int returned %d", n,
		   toml_type_name(t), r);
	r = toml_get_float(doc, n, &f);
	FUZZ_CHECK((r == 0) == (t == TOML_FLOAT),
		   "node %u (%s): toml_get_float returned %d", n,
		   toml_type_name(t), r);
	r = toml_get_bool(doc, n, &b);
	FUZZ_CHECK((r == 0) == (t == TOML_BOOL),
		   "node %u (%s): toml_get_bool returned %d", n,
		   toml_type_name(t), r);

	/* The value's own text, read again as a value of its type, must give
	 * the same value. */
	toml_value v;
	toml_error err;
	memset(&v, 0, sizeof v);
	memset(&err, 0, sizeof err);
	switch (t) {
	case TOML_INTEGER:
		r = toml_value_parse(t, raw, rlen, &v, &err);
		FUZZ_CHECK(r == 0 && v.type == t && v.i == i,
			   "node %u: toml_value_parse(integer, \"%.*s\") = %d, "
			   "%lld, but the getter says %lld", n, (int)rlen, raw,
			   r, (long long)v.i, (long long)i);
		break;
	case TOML_FLOAT:
		r = toml_value_parse(t, raw, rlen, &v, &err);
		FUZZ_CHECK(r == 0 && v.type == t &&
			   ((isnan(v.f) && isnan(f)) ||
			    (v.f == f && signbit(v.f) == signbit(f))),
			   "node %u: toml_value_parse(float, \"%.*s\") = %d, %a,"
			   " but the getter says %a", n, (int)rlen, raw, r,
			   v.f, f);
		break;
	case TOML_BOOL:
		FUZZ_CHECK((b && rlen == 4 && !memcmp(raw, "true", 4)) ||
			   (!b && rlen == 5 && !memcmp(raw, "false", 5)),
			   "node %u: bool %d spelled \"%.*s\"", n, b,
			   (int)rlen, raw);
		r = toml_value_parse(t, raw, rlen, &v, &err);
		FUZZ_CHECK(r == 0 && v.b == b, "node %u: value_parse(bool)",
			   n);
		break;
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL:
		r = toml_value_parse(t, raw, rlen, &v, &err);
		FUZZ_CHECK(r == 0 && v.type == t,
			   "node %u: toml_value_parse(%s, \"%.*s\") = %d (%s)",
			   n, toml_type_name(t), (int)rlen, raw, r, err.msg);
		break;
	default:
		break;
	}
}

size_t fuzz_check_doc(const toml_doc *doc, uint32_t **ids_out)
{
	size_t total = toml_node_count_all(doc);
	size_t tlen = 0;
	const char *text = toml_text(doc, &tlen);
	unsigned char *seen;
	uint32_t *stack, *ids;
	size_t sp = 0, nids = 0;

	FUZZ_CHECK(text, "toml_text returned NULL");
	FUZZ_CHECK(total >= 1, "node count %zu", total);
	seen = calloc(total, 1);
	stack = malloc(total * sizeof *stack);
	ids = malloc(total * sizeof *ids);
	if (!seen || !stack || !ids)
		abort();

	FUZZ_CHECK(toml_type_of(doc, TOML_ROOT) == TOML_TABLE &&
		   toml_form_of(doc, TOML_ROOT) == TOML_FORM_ROOT,
		   "root is not a root table");
	{
		size_t kl = 0;
		FUZZ_CHECK(toml_key(doc, TOML_ROOT, &kl) == NULL,
			   "root has a key");
	}
	{
		const char *eol = toml_eol(doc);
		const char *nl = memchr(text, '\n', tlen);
		bool crlf = nl && nl > text && nl[-1] == '\r';
		FUZZ_CHECK(eol && (!strcmp(eol, "\n") || !strcmp(eol, "\r\n")),
			   "toml_eol");
		FUZZ_CHECK(!fuzz_check_on("eol") || !strcmp(eol, crlf ? "\r\n" : "\n"),
			   "toml_eol is \"%s\" but the first line break is %s",
			   !strcmp(eol, "\n") ? "\\n" : "\\r\\n",
			   crlf ? "CRLF" : "LF");
	}

	seen[TOML_ROOT] = 1;
	stack[sp++] = TOML_ROOT;
	while (sp) {
		uint32_t n = stack[--sp];
		toml_type t = toml_type_of(doc, n);
		toml_form f = toml_form_of(doc, n);
		const char *tn = toml_type_name(t);
		size_t rlen = 0, start = 0, end = 0;
		const char *raw;
		size_t count, k;

		ids[nids++] = n;
		FUZZ_CHECK((unsigned)t <= TOML_TABLE, "node %u: type %d", n, t);
		FUZZ_CHECK(tn && *tn, "toml_type_name(%d)", t);
		FUZZ_CHECK(form_fits(t, f), "node %u: type %s with form %d",
			   n, tn, f);

		raw = toml_raw(doc, n, &rlen);
		if (raw) {
			FUZZ_CHECK(raw >= text && raw + rlen <= text + tlen,
				   "node %u: toml_raw outside the text", n);
			FUZZ_CHECK(toml_span(doc, n, &start, &end) == 0,
				   "node %u: toml_raw but no toml_span", n);
			FUZZ_CHECK(start == (size_t)(raw - text) &&
				   end - start == rlen,
				   "node %u: span %zu..%zu but raw at %zu+%zu", n,
				   start, end, (size_t)(raw - text), rlen);
		} else {
			FUZZ_CHECK(!is_scalar(t), "node %u: scalar without raw",
				   n);
			FUZZ_CHECK(f != TOML_FORM_ARRAY && f != TOML_FORM_INLINE,
				   "node %u: inline array/table without raw", n);
			if (toml_span(doc, n, &start, &end) == 0)
				FUZZ_CHECK(start <= end && end <= tlen,
					   "node %u: span %zu..%zu of %zu", n,
					   start, end, tlen);
		}
		if (raw) {
			int line = toml_line_of(doc, start);
			int want = 1;
			for (size_t o = 0; o < start; o++)
				want += text[o] == '\n';
			FUZZ_CHECK(line == want,
				   "node %u: toml_line_of(%zu) = %d, want %d", n,
				   start, line, want);
			if (f == TOML_FORM_ARRAY)
				FUZZ_CHECK(rlen >= 2 && raw[0] == '[' &&
					   raw[rlen - 1] == ']',
					   "node %u: array raw \"%.*s\"", n,
					   (int)rlen, raw);
			if (f == TOML_FORM_INLINE)
				FUZZ_CHECK(rlen >= 2 && raw[0] == '{' &&
					   raw[rlen - 1] == '}',
					   "node %u: inline table raw \"%.*s\"", n,
					   (int)rlen, raw);
		}

		if (is_scalar(t)) {
			FUZZ_CHECK(toml_first(doc, n) == TOML_NONE,
				   "node %u: scalar with children", n);
			check_scalar(doc, n, t, raw, rlen);
			continue;
		}

		count = toml_count(doc, n);
		k = 0;
		for (uint32_t c = toml_first(doc, n); c != TOML_NONE;
		     c = toml_next(doc, c), k++) {
			size_t kl = 0;
			const char *key = toml_key(doc, c, &kl);

			FUZZ_CHECK(c < total, "node %u: child %u >= count %zu",
				   n, c, total);
			FUZZ_CHECK(!seen[c], "node %u reached twice", c);
			FUZZ_CHECK(k < count, "node %u: more children than "
				   "toml_count %zu", n, count);
			seen[c] = 1;
			FUZZ_CHECK(toml_parent(doc, c) == n,
				   "node %u: parent %u, reached from %u", c,
				   toml_parent(doc, c), n);
			if (t == TOML_TABLE) {
				FUZZ_CHECK(key, "table member %u without key",
					   c);
				FUZZ_CHECK(fuzz_utf8_valid(key, kl),
					   "node %u: key not UTF-8", c);
				FUZZ_CHECK(toml_get(doc, n, key, kl) == c,
					   "toml_get(%u, \"%.*s\") = %u, want %u",
					   n, (int)kl, key,
					   toml_get(doc, n, key, kl), c);
			} else {
				FUZZ_CHECK(!key, "array element %u with key", c);
				if (k < 64)
					FUZZ_CHECK(toml_at(doc, n, k) == c,
						   "toml_at(%u, %zu) = %u, want %u",
						   n, k, toml_at(doc, n, k), c);
			}
			if (f == TOML_FORM_AOT)
				FUZZ_CHECK(toml_type_of(doc, c) == TOML_TABLE &&
					   toml_form_of(doc, c) == TOML_FORM_ENTRY,
					   "array of tables %u holds node %u of "
					   "form %d", n, c, toml_form_of(doc, c));
			stack[sp++] = c;
		}
		FUZZ_CHECK(k == count, "node %u: toml_count %zu, %zu children",
			   n, count, k);
		if (t == TOML_ARRAY)
			FUZZ_CHECK(toml_at(doc, n, count) == TOML_NONE,
				   "toml_at past the end");
	}
	free(seen);
	free(stack);
	if (ids_out)
		*ids_out = ids;
	else
		free(ids);
	return nids;
}

/* ---- canonical dump ---- */

struct kid {
	uint32_t id;
	const char *key;
	size_t klen;
};

static int kid_cmp(const void *a, const void *b)
{
	const struct kid *x = a, *y = b;
	size_t m = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, m);

	if (c)
		return c;
	return (x->klen > y->klen) - (x->klen < y->klen);
}

static void dump_num(struct fbuf *out, char tag, size_t v)
{
	char tmp[32];
	int l = snprintf(tmp, sizeof tmp, "%c%zu:", tag, v);
	fbuf_add(out, tmp, (size_t)l);
}

void fuzz_dump(const toml_doc *doc, uint32_t n, uint32_t skip,
	       struct fbuf *out)
{
	toml_type t = toml_type_of(doc, n);
	char tmp[64];
	int l;

	switch (t) {
	case TOML_TABLE: {
		size_t cnt = toml_count(doc, n), k = 0;
		struct kid *kids = malloc((cnt + 1) * sizeof *kids);
		if (!kids)
			abort();
		for (uint32_t c = toml_first(doc, n); c != TOML_NONE && k < cnt;
		     c = toml_next(doc, c)) {
			if (c == skip)
				continue;
			kids[k].id = c;
			kids[k].key = toml_key(doc, c, &kids[k].klen);
			k++;
		}
		qsort(kids, k, sizeof *kids, kid_cmp);
		fbuf_add(out, "{", 1);
		for (size_t j = 0; j < k; j++) {
			dump_num(out, 'k', kids[j].klen);
			fbuf_add(out, kids[j].key, kids[j].klen);
			fbuf_add(out, "=", 1);
			fuzz_dump(doc, kids[j].id, skip, out);
			fbuf_add(out, ",", 1);
		}
		fbuf_add(out, "}", 1);
		free(kids);
		return;
	}
	case TOML_ARRAY:
		fbuf_add(out, "[", 1);
		for (uint32_t c = toml_first(doc, n); c != TOML_NONE;
		     c = toml_next(doc, c)) {
			if (c == skip)
				continue;
			fuzz_dump(doc, c, skip, out);
			fbuf_add(out, ",", 1);
		}
		fbuf_add(out, "]", 1);
		return;
	case TOML_STRING: {
		char *s = NULL;
		size_t sl = 0;
		if (toml_get_string(doc, n, &s, &sl) != 0)
			fuzz_fail("dump: string %u unreadable", n);
		dump_num(out, 's', sl);
		fbuf_add(out, s, sl);
		free(s);
		return;
	}
	case TOML_INTEGER: {
		int64_t i = 0;
		if (toml_get_int(doc, n, &i) != 0)
			fuzz_fail("dump: integer %u unreadable", n);
		l = snprintf(tmp, sizeof tmp, "i%lld", (long long)i);
		fbuf_add(out, tmp, (size_t)l);
		return;
	}
	case TOML_FLOAT: {
		double f = 0;
		if (toml_get_float(doc, n, &f) != 0)
			fuzz_fail("dump: float %u unreadable", n);
		if (isnan(f))
			l = snprintf(tmp, sizeof tmp, "fnan");
		else
			l = snprintf(tmp, sizeof tmp, "f%a", f);
		fbuf_add(out, tmp, (size_t)l);
		return;
	}
	case TOML_BOOL: {
		bool b = false;
		if (toml_get_bool(doc, n, &b) != 0)
			fuzz_fail("dump: bool %u unreadable", n);
		fbuf_adds(out, b ? "T" : "F");
		return;
	}
	default: {
		size_t rl = 0;
		const char *raw = toml_raw(doc, n, &rl);
		if (!raw)
			fuzz_fail("dump: datetime %u without raw", n);
		dump_num(out, (char)('0' + (int)t), rl);
		fbuf_add(out, raw, rl);
		return;
	}
	}
}

/* ---- paths ---- */

void fpath_free(struct fpath *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->steps[i].key);
	free(p->steps);
	p->steps = NULL;
	p->n = 0;
}

bool fpath_of(const toml_doc *doc, uint32_t n, struct fpath *out)
{
	size_t cap = 8;

	out->n = 0;
	out->steps = malloc(cap * sizeof *out->steps);
	if (!out->steps)
		abort();
	while (n != TOML_ROOT) {
		uint32_t p = toml_parent(doc, n);
		struct fpath_step st;

		memset(&st, 0, sizeof st);
		if (p == TOML_NONE)
			goto fail;
		if (toml_type_of(doc, p) == TOML_ARRAY) {
			size_t i = 0;
			uint32_t c;
			for (c = toml_first(doc, p); c != TOML_NONE && c != n;
			     c = toml_next(doc, c))
				i++;
			if (c == TOML_NONE)
				goto fail;
			st.is_index = true;
			st.index = i;
		} else {
			size_t kl = 0;
			const char *k = toml_key(doc, n, &kl);
			if (!k)
				goto fail;
			st.key = malloc(kl + 1);
			if (!st.key)
				abort();
			memcpy(st.key, k, kl);
			st.klen = kl;
		}
		if (out->n == cap) {
			cap *= 2;
			out->steps = realloc(out->steps, cap * sizeof *out->steps);
			if (!out->steps)
				abort();
		}
		out->steps[out->n++] = st;
		n = p;
	}
	/* Collected leaf first: reverse. */
	for (size_t i = 0; i < out->n / 2; i++) {
		struct fpath_step tmp = out->steps[i];
		out->steps[i] = out->steps[out->n - 1 - i];
		out->steps[out->n - 1 - i] = tmp;
	}
	return true;
fail:
	fpath_free(out);
	return false;
}

uint32_t fpath_resolve(const toml_doc *doc, const struct fpath *p, size_t depth)
{
	uint32_t n = TOML_ROOT;

	for (size_t i = 0; i < p->n && i < depth; i++) {
		const struct fpath_step *st = &p->steps[i];
		toml_type t = toml_type_of(doc, n);
		if (st->is_index) {
			if (t != TOML_ARRAY)
				return TOML_NONE;
			n = toml_at(doc, n, st->index);
		} else {
			if (t != TOML_TABLE)
				return TOML_NONE;
			n = toml_get(doc, n, st->key, st->klen);
		}
		if (n == TOML_NONE)
			return TOML_NONE;
	}
	return n;
}
