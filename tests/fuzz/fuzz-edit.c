/* SPDX-License-Identifier: MIT */
/*
 * fuzz-edit: parse → random edits → reparse.
 *
 * Input layout: byte 0 is the length N of the edit script, bytes 1..N are
 * the script, the rest is the document. (`gen-edit-corpus.py` writes seeds
 * in this layout.) If the document parses, the script is read as a stream
 * of choices (0 once it runs out) that picks up to MAX_EDITS edits: which
 * operation, which node, which key, which value. Values are typed, and
 * strings come from a table of hostile strings, from the script itself,
 * or from any slice of the whole input.
 *
 * After every successful edit:
 *  - the new text parses, and gives the same data and node count as the
 *    edited document; the edited document passes fuzz_check_doc;
 *  - the edited value reads back as written (type and value; a string's
 *    bytes; each element of a new array; a renamed key's name and data);
 *  - the rest of the data is unchanged (canonical dumps, leaving out the
 *    edited item, are equal);
 *  - the bytes changed only where the edit may change them: inside the
 *    value's span for set/set_array/set_raw, one contiguous insertion for
 *    insert/add_table/append_entry, one contiguous deletion when removing
 *    a value (a subsequence for a table) [checks "locality",
 *    "array-layout"];
 *  - a string keeps its quoting style when the new value can be written
 *    in it ["style"]; a date/time reads back with its text ["datetime"].
 * The checks in brackets can be turned off with FUZZ_SKIP (fuzz-common.h).
 * After every failed edit the text, node count and data are unchanged,
 * and the return code is one of the documented -errno values. Edits that
 * cannot be right (a key that exists, a non-table as table, the root as a
 * value) must fail.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EDITS 8
#define MAX_VALS 5

/* ---- the script ---- */

struct rd {
	const uint8_t *p;
	size_t n, i;
	const char *all; /* whole input, for slices */
	size_t alllen;
};

static unsigned u8(struct rd *r)
{
	return r->i < r->n ? r->p[r->i++] : 0;
}

static unsigned u16(struct rd *r)
{
	unsigned a = u8(r);
	return (a << 8) | u8(r);
}

static uint64_t u64(struct rd *r)
{
	uint64_t v = 0;
	for (int k = 0; k < 8; k++)
		v = (v << 8) | u8(r);
	return v;
}

/* Bytes owned for the duration of one edit. */
struct pool {
	char *p[2 * MAX_VALS + 4];
	size_t n;
};

static char *pool_add(struct pool *pl, const char *s, size_t len)
{
	char *c = malloc(len + 1);
	if (!c || pl->n >= sizeof pl->p / sizeof pl->p[0])
		abort();
	if (len)
		memcpy(c, s, len);
	c[len] = '\0';
	pl->p[pl->n++] = c;
	return c;
}

static void pool_free(struct pool *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->p[i]);
	pl->n = 0;
}

#define S(x) { x, sizeof(x) - 1 }
struct sl {
	const char *s;
	size_t len;
};

static const struct sl hostile[] = {
	S(""), S("plain"), S("\""), S("'"), S("\\"), S("\"\"\""), S("'''"),
	S("''"), S("\"\""), S("\n"), S("\r\n"), S("\r"), S("\t"), S("\0"),
	S("a\0b"), S("\x01"), S("\x1f"), S("\x7f"), S("\"]\n[[runners]]"),
	S("\"]\r\n[[runners]]\r\nname = \"x"), S("'\n[x]\nb = 1\n'"),
	S("\"\"\"\n[[runners]]\n\"\"\""), S("'''\n[[runners]]\n'''"),
	S("a\\nb"), S("\\u0000"), S("\\"), S("#comment"), S("key = \"v\""),
	S("\xc3\xbc"), S("\xe6\x97\xa5\xe6\x9c\xac"), S("\xf0\x9f\x98\x80"),
	S("\xe2\x80\xa8"), S("\xef\xbb\xbf"), S("\xff"), S("\xc0\x80"),
	S("\xed\xa0\x80"), S("\xf4\x90\x80\x80"), S("ends'"), S("ends\""),
	S("ends''"), S("ends\"\""), S("''''"), S("\"\"\"\""), S("\n\nlead"),
	S("\nlead"), S("trail\\"), S("trail\n"), S("${RUNNER_TOKEN}"),
	S("glrt-abc_DEF-123"), S("line1\nline2\n"), S("a'''b\"\"\"c"),
	S("tab\there"), S(" "), S("x\r\ny"), S("\r\r\n"), S("\\\n"),
	S("[runners.docker]"), S("}"), S("]"), S(","), S("= 1"),
};

static const struct sl keys[] = {
	S("a"), S("runners"), S("name"), S("url"), S("token"), S("docker"),
	S("with space"), S("a.b"), S("\"q\""), S("'"), S("\\"), S(""),
	S("\xc3\xbcn\xc3\xaf"), S("key\n"), S("k\0z"), S("-_"), S("1"),
	S("true"), S("inf"), S("]"), S("[[runners]]"), S("#"), S("="),
	S("'''"), S("\x7f"), S("\xff"), S("1.2"), S("x\r\ny"), S("\t"),
};

static const struct sl raws[] = {
	S("1"), S("[1, 2]"), S("[[1, 2], \"a\"]"), S("{x = 1}"),
	S("{ a = { b = [] } }"), S("\"s\""), S("'''x'''"), S("1979-05-27"),
	S("[\n1,\n]"), S("{}"), S("[]"), S("1 2"), S("[1,"), S("\""),
	S("{x=1}\n[t]"), S("1\nb = 2"), S("x"), S(""), S("# c"),
	S("1 # comment"), S("[ # c\n 1 ]"), S("{a.b = 1, a.c = 2}"),
	S("{a = 1, a = 2}"), S("0x_1"), S("\"\"\"\nml\n\"\"\""), S("[{}, {a=[{}]}]"),
	S("inf"), S("-nan"), S("07:32:00"), S("1979-05-27T00:32:00.999999-07:00"),
	S("[\n  \"a\", # one\n  \"b\",\n]"), S("{x = [\n1]}"), S("  2  "),
	S("\t3\n"), S("\"a\" \"b\""), S("[1]]"), S("{x = 1}}"),
};

static const struct sl dates[4][6] = {
	{ S("1979-05-27T07:32:00Z"), S("1979-05-27 07:32:00-07:00"),
	  S("0001-01-01T00:00:00Z"), S("2024-02-29t10:00:00.5+01:00"),
	  S("1979-05-27T07:32:00"), S("2024-13-01T00:00:00Z") },
	{ S("1979-05-27T07:32:00"), S("1979-05-27 00:32:00.999"),
	  S("1979-05-27T07:32:00Z"), S("1979-05-27T25:32:00"),
	  S(" 1979-05-27T07:32:00 "), S("1979-05-27") },
	{ S("1979-05-27"), S("2000-02-29"), S("2001-02-29"), S("1979-5-27"),
	  S("07:32:00"), S("\n2024-01-01\n") },
	{ S("07:32:00"), S("00:32:00.999999"), S("23:59:60"), S("24:00:00"),
	  S("7:32:00"), S("1979-05-27") },
};

static void pick_bytes(struct rd *r, struct pool *pl, const struct sl *tab,
		       size_t ntab, const char **s, size_t *len)
{
	switch (u8(r) % 5) {
	case 0:
	case 1: {
		const struct sl *e = &tab[u8(r) % ntab];
		*s = pool_add(pl, e->s, e->len);
		*len = e->len;
		return;
	}
	case 2: { /* a slice of the whole input */
		size_t off = r->alllen ? u16(r) % r->alllen : 0;
		size_t l = u8(r) % 48;
		if (off + l > r->alllen)
			l = r->alllen - off;
		*s = pool_add(pl, r->all + off, l);
		*len = l;
		return;
	}
	case 3: { /* bytes of the script */
		size_t l = u8(r) % 16;
		char tmp[16];
		for (size_t k = 0; k < l; k++)
			tmp[k] = (char)u8(r);
		*s = pool_add(pl, tmp, l);
		*len = l;
		return;
	}
	default: { /* two table entries glued */
		const struct sl *a = &tab[u8(r) % ntab];
		const struct sl *b = &tab[u8(r) % ntab];
		char tmp[256];
		size_t l = a->len + b->len;
		if (l > sizeof tmp)
			l = 0;
		else {
			memcpy(tmp, a->s, a->len);
			memcpy(tmp + a->len, b->s, b->len);
		}
		*s = pool_add(pl, tmp, l);
		*len = l;
		return;
	}
	}
}

static void gen_value(struct rd *r, struct pool *pl, toml_value *v)
{
	static const int64_t ints[] = {
		0, 1, -1, INT64_MAX, INT64_MIN, 1000, -INT64_MAX, 0x7f, 10,
	};
	static const double flts[] = {
		0.0, -0.0, 1.5, 0.1, 1e300, 5e-324, DBL_MAX, DBL_MIN, 1e16,
		123456789012345678.0, 1e-7, -2.5e-300, 3.0,
	};

	memset(v, 0, sizeof *v);
	switch (u8(r) % 9) {
	case 0:
	case 1:
	case 2:
		v->type = TOML_STRING;
		pick_bytes(r, pl, hostile, sizeof hostile / sizeof hostile[0],
			   &v->str, &v->len);
		return;
	case 3:
		v->type = TOML_INTEGER;
		switch (u8(r) % 3) {
		case 0:
			v->i = ints[u8(r) % (sizeof ints / sizeof ints[0])];
			break;
		case 1:
			v->i = (int64_t)u64(r);
			break;
		default:
			v->i = (int)u8(r) - 128;
		}
		return;
	case 4:
		v->type = TOML_FLOAT;
		switch (u8(r) % 4) {
		case 0:
			v->f = flts[u8(r) % (sizeof flts / sizeof flts[0])];
			break;
		case 1: {
			uint64_t bits = u64(r);
			memcpy(&v->f, &bits, sizeof v->f);
			break;
		}
		case 2: {
			static const double special[] = { INFINITY, -INFINITY };
			unsigned c = u8(r) % 3;
			v->f = c < 2 ? special[c] : NAN;
			break;
		}
		default:
			v->f = ((int)u8(r) - 128) / 8.0;
		}
		return;
	case 5:
		v->type = TOML_BOOL;
		v->b = u8(r) & 1;
		return;
	default: {
		unsigned t = u8(r) % 4;
		v->type = (toml_type)(TOML_DATETIME + t);
		if (u8(r) % 4 == 0) {
			pick_bytes(r, pl, hostile, 1, &v->str, &v->len);
		} else {
			const struct sl *e = &dates[t][u8(r) % 6];
			v->str = pool_add(pl, e->s, e->len);
			v->len = e->len;
		}
		return;
	}
	}
}

/* ---- checks ---- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Can a string value be written in a given quoting style? */
static bool writable(toml_form f, const char *s, size_t len)
{
	switch (f) {
	case TOML_FORM_BASIC:
	case TOML_FORM_ML_BASIC:
		return true;
	case TOML_FORM_LITERAL:
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\'' || c == 0x7f || (c < 0x20 && c != '\t'))
				return false;
		}
		return true;
	case TOML_FORM_ML_LITERAL:
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == 0x7f || (c < 0x20 && c != '\t' && c != '\n'))
				return false;
			if (i + 2 < len && !memcmp(s + i, "'''", 3))
				return false;
		}
		return true;
	default:
		return false;
	}
}

static void check_value(const toml_doc *doc, uint32_t n, const toml_value *v,
			const char *what)
{
	FUZZ_CHECK(n != TOML_NONE, "%s: the edited value is not there", what);
	FUZZ_CHECK(toml_type_of(doc, n) == v->type,
		   "%s: wrote a %s, reads back as a %s", what,
		   toml_type_name(v->type), toml_type_name(toml_type_of(doc, n)));
	switch (v->type) {
	case TOML_STRING: {
		char *s = NULL;
		size_t l = 0;
		FUZZ_CHECK(toml_get_string(doc, n, &s, &l) == 0,
			   "%s: string unreadable", what);
		FUZZ_CHECK(l == v->len && memcmp(s, v->str, l) == 0,
			   "%s: wrote a string of %zu bytes, reads back %zu "
			   "bytes", what, v->len, l);
		free(s);
		break;
	}
	case TOML_INTEGER: {
		int64_t i = 0;
		FUZZ_CHECK(toml_get_int(doc, n, &i) == 0 && i == v->i,
			   "%s: wrote %lld, reads back %lld", what,
			   (long long)v->i, (long long)i);
		break;
	}
	case TOML_FLOAT: {
		double f = 0;
		FUZZ_CHECK(toml_get_float(doc, n, &f) == 0, "%s: float", what);
		FUZZ_CHECK((isnan(f) && isnan(v->f)) ||
			   (f == v->f && signbit(f) == signbit(v->f)),
			   "%s: wrote %a (%.17g), reads back %a", what, v->f,
			   v->f, f);
		break;
	}
	case TOML_BOOL: {
		bool b = !v->b;
		FUZZ_CHECK(toml_get_bool(doc, n, &b) == 0 && b == v->b,
			   "%s: bool", what);
		break;
	}
	default: {
		size_t rl = 0, a = 0, e = v->len;
		const char *raw = toml_raw(doc, n, &rl);
		while (a < e && is_ws(v->str[a]))
			a++;
		while (e > a && is_ws(v->str[e - 1]))
			e--;
		FUZZ_CHECK(raw, "%s: date/time without raw", what);
		FUZZ_CHECK(!fuzz_check_on("datetime") ||
			   (rl == e - a && !memcmp(raw, v->str + a, rl)),
			   "%s: wrote date/time \"%.*s\", reads back \"%.*s\"",
			   what, (int)(e - a), v->str + a, (int)rl, raw);
	}
	}
}

static void common_affixes(const char *a, size_t al, const char *b, size_t bl,
			   size_t *pre, size_t *suf)
{
	size_t m = al < bl ? al : bl, p = 0, s = 0;

	while (p < m && a[p] == b[p])
		p++;
	while (s < m && a[al - 1 - s] == b[bl - 1 - s])
		s++;
	*pre = p;
	*suf = s;
}

/* b is a with one run of bytes inserted (which may replace a run of
 * spaces and tabs: `{   }` -> `{ k = 1 }`). */
static bool contiguous_insert(const char *a, size_t al, const char *b,
			      size_t bl)
{
	size_t p, s;

	common_affixes(a, al, b, bl, &p, &s);
	if (p + s >= al)
		return bl > al;
	for (size_t i = p; i < al - s; i++)
		if (a[i] != ' ' && a[i] != '\t')
			return false;
	return true;
}

static bool is_subsequence(const char *a, size_t al, const char *b, size_t bl)
{
	size_t j = 0;

	for (size_t i = 0; i < bl && j < al; i++)
		if (b[i] == a[j])
			j++;
	return j == al;
}

struct state {
	toml_doc *doc;
	char *text; /* copy of the text before the edit */
	size_t len;
	size_t count;
	struct fbuf dump;
	uint32_t *ids;
	size_t nids;
};

static void snapshot(struct state *st)
{
	size_t l = 0;
	const char *t = toml_text(st->doc, &l);

	free(st->text);
	st->text = malloc(l + 1);
	if (!st->text)
		abort();
	memcpy(st->text, t, l);
	st->len = l;
	st->count = toml_node_count_all(st->doc);
	st->dump.len = 0;
	fuzz_dump(st->doc, TOML_ROOT, TOML_NONE, &st->dump);
	free(st->ids);
	st->ids = NULL;
	st->nids = fuzz_check_doc(st->doc, &st->ids);
}

static void check_unchanged(struct state *st, int r, const char *what)
{
	size_t l = 0;
	const char *t = toml_text(st->doc, &l);
	struct fbuf d = {0};

	FUZZ_CHECK(r < 0, "%s returned %d", what, r);
	FUZZ_CHECK(r == -EINVAL || r == -EEXIST || r == -ENOENT ||
		   r == -ENOTDIR || r == -EISDIR || r == -EFBIG ||
		   r == -ENOMEM,
		   "%s failed with undocumented %d", what, r);
	FUZZ_CHECK(l == st->len && memcmp(t, st->text, l) == 0,
		   "%s failed (%d) but changed the text", what, r);
	FUZZ_CHECK(toml_node_count_all(st->doc) == st->count,
		   "%s failed but changed the node count", what);
	fuzz_dump(st->doc, TOML_ROOT, TOML_NONE, &d);
	FUZZ_CHECK(d.len == st->dump.len && !memcmp(d.p, st->dump.p, d.len),
		   "%s failed but changed the data", what);
	fbuf_free(&d);
}

/* FUZZ_DUMP_DIR=DIR: write the text after every successful edit to
 * DIR/edit-NNNNNN.toml, for judges outside the engine (tests/fuzz/replay.c,
 * tests/compliance/judge-burntsushi.py --replay). */
static void dump_text(const char *t, size_t l)
{
	static const char *dir;
	static bool looked;
	static unsigned long n;
	char path[4096];

	if (!looked) {
		dir = getenv("FUZZ_DUMP_DIR");
		looked = true;
	}
	if (!dir || !*dir)
		return;
	snprintf(path, sizeof path, "%s/edit-%06lu.toml", dir, n++);
	FILE *f = fopen(path, "wb");
	FUZZ_CHECK(f && fwrite(t, 1, l, f) == l && fclose(f) == 0, "FUZZ_DUMP_DIR: cannot write %s",
		   path);
}

/* The new text reparses to the same data; the document is consistent. */
static void check_reparse(struct state *st, const char *what)
{
	size_t l = 0;
	const char *t = toml_text(st->doc, &l);
	dump_text(t, l);
	toml_doc *fresh = NULL;
	toml_error err;
	struct fbuf a = {0}, b = {0};
	int r;

	memset(&err, 0, sizeof err);
	r = toml_parse(t, l, &fresh, &err);
	if (r == -ENOMEM)
		return;
	FUZZ_CHECK(r == 0, "after %s the text does not parse: %d:%d: %s\n"
		   "--- text ---\n%.*s\n---", what, err.line, err.col, err.msg,
		   (int)l, t);
	fuzz_check_doc(st->doc, NULL);
	FUZZ_CHECK(toml_node_count_all(fresh) == toml_node_count_all(st->doc),
		   "after %s: %zu nodes, a fresh parse has %zu", what,
		   toml_node_count_all(st->doc), toml_node_count_all(fresh));
	fuzz_dump(st->doc, TOML_ROOT, TOML_NONE, &a);
	fuzz_dump(fresh, TOML_ROOT, TOML_NONE, &b);
	FUZZ_CHECK(a.len == b.len && !memcmp(a.p, b.p, a.len),
		   "after %s the document and a fresh parse differ", what);
	fbuf_free(&a);
	fbuf_free(&b);
	toml_free(fresh);
}

/* The data outside the edited item is unchanged. */
static void check_rest(struct state *st, toml_doc *old, uint32_t skip_old,
		       uint32_t skip_new, const char *what)
{
	struct fbuf a = {0}, b = {0};

	fuzz_dump(old, TOML_ROOT, skip_old, &a);
	fuzz_dump(st->doc, TOML_ROOT, skip_new, &b);
	FUZZ_CHECK(a.len == b.len && !memcmp(a.p, b.p, a.len),
		   "%s changed data outside the edited item:\n  before: "
		   "%.*s\n  after:  %.*s", what, (int)a.len, a.p, (int)b.len,
		   b.p);
	fbuf_free(&a);
	fbuf_free(&b);
}

/* FUZZ_STATS=1: print how many edits of each kind succeeded, at exit. */
static const char *const op_names[12] = {
	"set", "set", "set_array", "set_raw", "insert", "insert_array",
	"insert_raw", "add_table", "append_entry", "remove", "remove",
	"rename",
};
static unsigned long op_tried[12], op_done[12];
static bool verbose; /* FUZZ_VERBOSE=1: print every edit */

static void print_stats(void)
{
	for (int i = 0; i < 12; i++)
		if (i != 1 && i != 10)
			fprintf(stderr, "fuzz-edit: %-13s %8lu of %8lu succeeded\n",
				op_names[i],
				op_done[i] + (i == 0 || i == 9 ? op_done[i + 1] : 0),
				op_tried[i] + (i == 0 || i == 9 ? op_tried[i + 1] : 0));
}

static uint32_t pick_node(struct rd *r, struct state *st)
{
	return st->ids[u16(r) % st->nids];
}

/* The item a remove may take with it: climb while the parent exists only
 * through its children (implicit or dotted tables, arrays of tables), or
 * is an array that loses an element. */
static uint32_t removal_scope(const toml_doc *doc, uint32_t n)
{
	for (;;) {
		uint32_t p = toml_parent(doc, n);
		toml_form f;

		if (p == TOML_NONE || p == TOML_ROOT)
			return n;
		f = toml_form_of(doc, p);
		if (f == TOML_FORM_ARRAY)
			return p;
		if (f != TOML_FORM_IMPLICIT && f != TOML_FORM_DOTTED &&
		    f != TOML_FORM_AOT)
			return n;
		n = p;
	}
}

static void one_edit(struct rd *r, struct state *st)
{
	struct pool pl = { .n = 0 };
	toml_value vals[MAX_VALS];
	toml_error err;
	const char *key = NULL, *raw = NULL;
	size_t klen = 0, rawlen = 0, nvals = 0;
	unsigned op = u8(r) % 12;
	uint32_t n = pick_node(r, st);
	toml_type nt = toml_type_of(st->doc, n);
	toml_form nf = toml_form_of(st->doc, n);
	uint32_t existing = TOML_NONE;
	struct fpath path, ppath;
	size_t span_s = 0, span_e = 0;
	bool has_span = toml_span(st->doc, n, &span_s, &span_e) == 0 &&
			toml_raw(st->doc, n, &(size_t){0}) != NULL;
	toml_doc *old = NULL;
	const char *what;
	int rc;

	memset(&err, 0, sizeof err);
	if (!fpath_of(st->doc, n, &path))
		fuzz_fail("node %u has no path", n);
	ppath.steps = path.steps;
	ppath.n = path.n ? path.n - 1 : 0;

	switch (op) {
	case 0:
	case 1:
		what = "toml_set";
		gen_value(r, &pl, &vals[0]);
		break;
	case 2:
		what = "toml_set_array";
		nvals = u8(r) % (MAX_VALS + 1);
		for (size_t k = 0; k < nvals; k++)
			gen_value(r, &pl, &vals[k]);
		break;
	case 3:
		what = "toml_set_raw";
		pick_bytes(r, &pl, raws, sizeof raws / sizeof raws[0], &raw,
			   &rawlen);
		break;
	case 4:
	case 5:
	case 6:
	case 7:
	case 8:
		what = op == 4 ? "toml_insert" : op == 5 ? "toml_insert_array" :
		       op == 6 ? "toml_insert_raw" : op == 7 ? "toml_add_table" :
		       "toml_append_entry";
		pick_bytes(r, &pl, keys, sizeof keys / sizeof keys[0], &key,
			   &klen);
		if (nt == TOML_TABLE)
			existing = toml_get(st->doc, n, key, klen);
		if (op == 4) {
			gen_value(r, &pl, &vals[0]);
		} else if (op == 5) {
			nvals = u8(r) % (MAX_VALS + 1);
			for (size_t k = 0; k < nvals; k++)
				gen_value(r, &pl, &vals[k]);
		} else if (op == 6) {
			pick_bytes(r, &pl, raws, sizeof raws / sizeof raws[0],
				   &raw, &rawlen);
		}
		break;
	case 9:
	case 10:
		what = "toml_remove";
		break;
	default:
		what = "toml_rename";
		pick_bytes(r, &pl, keys, sizeof keys / sizeof keys[0], &key,
			   &klen);
		break;
	}

	/* Keep the old document for the comparisons. */
	if (toml_clone(st->doc, &old) != 0)
		abort();

	switch (op) {
	case 0:
	case 1:
		rc = toml_set(st->doc, n, &vals[0], &err);
		break;
	case 2:
		rc = toml_set_array(st->doc, n, vals, nvals, &err);
		break;
	case 3:
		rc = toml_set_raw(st->doc, n, raw, rawlen, &err);
		break;
	case 4:
		rc = toml_insert(st->doc, n, key, klen, &vals[0], &err);
		break;
	case 5:
		rc = toml_insert_array(st->doc, n, key, klen, vals, nvals, &err);
		break;
	case 6:
		rc = toml_insert_raw(st->doc, n, key, klen, raw, rawlen, &err);
		break;
	case 7:
		rc = toml_add_table(st->doc, n, key, klen, &err);
		break;
	case 8:
		rc = toml_append_entry(st->doc, n, key, klen, &err);
		break;
	case 9:
	case 10:
		rc = toml_remove(st->doc, n, &err);
		break;
	default:
		rc = toml_rename(st->doc, n, key, klen, &err);
		break;
	}

	op_tried[op]++;
	if (verbose) {
		size_t vl = 0;
		const char *vt = toml_text(st->doc, &vl);
		fprintf(stderr, "fuzz-edit: %s(node %u) key=\"%.*s\" raw=\"%.*s\""
			" vals=%zu/%d -> %d %s\n--- before ---\n%.*s\n--- after "
			"---\n%.*s\n---\n", what, n, (int)klen, key ? key : "",
			(int)rawlen, raw ? raw : "", nvals,
			op <= 1 || op == 4 ? (int)vals[0].type : -1, rc, err.msg,
			(int)st->len, st->text, (int)vl, vt);
	}
	if (rc != 0) {
		check_unchanged(st, rc, what);
		goto out;
	}
	op_done[op]++;

	/* ---- success: what must have been refused ---- */
	FUZZ_CHECK(!(op <= 3 || op >= 9) || n != TOML_ROOT,
		   "%s succeeded on the root", what);
	if (op >= 4 && op <= 8) {
		FUZZ_CHECK(nt == TOML_TABLE, "%s succeeded on a %s", what,
			   toml_type_name(nt));
		FUZZ_CHECK(fuzz_utf8_valid(key, klen),
			   "%s succeeded with a key that is not UTF-8", what);
		FUZZ_CHECK(existing == TOML_NONE || op == 8,
			   "%s succeeded but the key \"%.*s\" was there", what,
			   (int)klen, key);
		FUZZ_CHECK(op != 8 || existing == TOML_NONE ||
			   toml_type_of(old, existing) == TOML_ARRAY,
			   "%s succeeded on a key that is a %s", what,
			   toml_type_name(toml_type_of(old, existing)));
	}
	if (op == 11) {
		size_t kl = 0;
		const char *ok = toml_key(old, n, &kl);
		uint32_t par = toml_parent(old, n);
		uint32_t clash = toml_get(old, par, key, klen);
		FUZZ_CHECK(ok, "%s succeeded on a node without key", what);
		FUZZ_CHECK(clash == TOML_NONE || clash == n,
			   "%s onto an existing key succeeded", what);
	}

	check_reparse(st, what);

	/* ---- success: read back, rest unchanged, locality ---- */
	size_t nl = 0;
	const char *ntext = toml_text(st->doc, &nl);

	switch (op) {
	case 0:
	case 1:
	case 2:
	case 3: {
		uint32_t m = fpath_resolve(st->doc, &path, SIZE_MAX);
		FUZZ_CHECK(m != TOML_NONE, "%s: the node is gone", what);
		if (op <= 1) {
			check_value(st->doc, m, &vals[0], what);
			if (vals[0].type == TOML_STRING && nt == TOML_STRING &&
			    fuzz_check_on("style") &&
			    writable(nf, vals[0].str, vals[0].len))
				FUZZ_CHECK(toml_form_of(st->doc, m) == nf,
					   "%s: a string of form %d became form"
					   " %d, though the value fits", what,
					   nf, toml_form_of(st->doc, m));
		} else if (op == 2) {
			size_t k = 0;
			FUZZ_CHECK(toml_type_of(st->doc, m) == TOML_ARRAY &&
				   toml_count(st->doc, m) == nvals,
				   "%s: wrote %zu elements, reads %zu", what,
				   nvals, toml_count(st->doc, m));
			for (uint32_t c = toml_first(st->doc, m);
			     c != TOML_NONE; c = toml_next(st->doc, c), k++)
				check_value(st->doc, c, &vals[k], what);
		} else {
			/* The value must mean what `x = TEXT` means (white
			 * space around TEXT, newlines too, does not count). */
			struct fbuf doctext = {0}, a = {0}, b = {0};
			toml_doc *alone = NULL;
			size_t ra = 0, re = rawlen;
			while (ra < re && is_ws(raw[ra]))
				ra++;
			while (re > ra && is_ws(raw[re - 1]))
				re--;
			fbuf_adds(&doctext, "x = ");
			fbuf_add(&doctext, raw + ra, re - ra);
			fbuf_adds(&doctext, "\n");
			FUZZ_CHECK(toml_parse(doctext.p, doctext.len, &alone,
					      NULL) == 0 &&
				   toml_count(alone, TOML_ROOT) == 1,
				   "%s accepted \"%.*s\", which is not one value",
				   what, (int)rawlen, raw);
			fuzz_dump(alone, toml_get(alone, TOML_ROOT, "x", 1),
				  TOML_NONE, &a);
			fuzz_dump(st->doc, m, TOML_NONE, &b);
			FUZZ_CHECK(a.len == b.len && !memcmp(a.p, b.p, a.len),
				   "%s \"%.*s\" reads back as %.*s", what,
				   (int)rawlen, raw, (int)b.len, b.p);
			fbuf_free(&doctext);
			fbuf_free(&a);
			fbuf_free(&b);
			toml_free(alone);
		}
		check_rest(st, old, n, m, what);
		if (has_span && fuzz_check_on("locality")) {
			size_t tail = st->len - span_e;
			FUZZ_CHECK(nl >= span_s + tail &&
				   !memcmp(ntext, st->text, span_s) &&
				   !memcmp(ntext + nl - tail, st->text + span_e,
					   tail),
				   "%s changed bytes outside %zu..%zu", what,
				   span_s, span_e);
		}
		break;
	}
	case 4:
	case 5:
	case 6:
	case 7:
	case 8: {
		uint32_t t = fpath_resolve(st->doc, &path, SIZE_MAX);
		uint32_t m = t == TOML_NONE ? TOML_NONE :
			     toml_get(st->doc, t, key, klen);
		size_t kl = 0;
		const char *k2;
		FUZZ_CHECK(m != TOML_NONE, "%s: key \"%.*s\" not there after",
			   what, (int)klen, key);
		k2 = toml_key(st->doc, m, &kl);
		FUZZ_CHECK(k2 && kl == klen && !memcmp(k2, key, kl),
			   "%s: the key reads back as \"%.*s\"", what, (int)kl,
			   k2 ? k2 : "");
		if (op == 4) {
			check_value(st->doc, m, &vals[0], what);
		} else if (op == 5) {
			size_t j = 0;
			FUZZ_CHECK(toml_type_of(st->doc, m) == TOML_ARRAY &&
				   toml_count(st->doc, m) == nvals,
				   "%s: element count", what);
			for (uint32_t c = toml_first(st->doc, m);
			     c != TOML_NONE; c = toml_next(st->doc, c), j++)
				check_value(st->doc, c, &vals[j], what);
		} else if (op == 7) {
			FUZZ_CHECK(toml_type_of(st->doc, m) == TOML_TABLE &&
				   toml_count(st->doc, m) == 0,
				   "%s: not an empty table", what);
		} else if (op == 8) {
			size_t before = existing == TOML_NONE ? 0 :
					toml_count(old, existing);
			uint32_t last = TOML_NONE;
			FUZZ_CHECK(toml_type_of(st->doc, m) == TOML_ARRAY &&
				   toml_count(st->doc, m) == before + 1,
				   "%s: %zu entries before, %zu after", what,
				   before, toml_count(st->doc, m));
			for (uint32_t c = toml_first(st->doc, m);
			     c != TOML_NONE; c = toml_next(st->doc, c))
				last = c;
			FUZZ_CHECK(toml_type_of(st->doc, last) == TOML_TABLE &&
				   toml_count(st->doc, last) == 0,
				   "%s: the new entry is not an empty table",
				   what);
		}
		check_rest(st, old, existing, m, what);
		FUZZ_CHECK(!fuzz_check_on("locality") ||
			   (existing != TOML_NONE &&
			    toml_form_of(old, existing) == TOML_FORM_ARRAY &&
			    !fuzz_check_on("array-layout")) ||
			   contiguous_insert(st->text, st->len, ntext, nl),
			   "%s did more than insert one run of bytes", what);
		break;
	}
	case 9:
	case 10: {
		uint32_t scope = removal_scope(old, n);
		struct fpath sp;
		uint32_t m;
		if (!fpath_of(old, scope, &sp))
			fuzz_fail("no path");
		m = fpath_resolve(st->doc, &sp, SIZE_MAX);
		check_rest(st, old, scope, m, what);
		if (path.n && !path.steps[path.n - 1].is_index) {
			uint32_t t = fpath_resolve(st->doc, &ppath, SIZE_MAX);
			FUZZ_CHECK(t == TOML_NONE ||
				   toml_type_of(st->doc, t) != TOML_TABLE ||
				   toml_get(st->doc, t,
					    path.steps[path.n - 1].key,
					    path.steps[path.n - 1].klen) ==
				   TOML_NONE,
				   "%s: the key is still there", what);
		} else if (path.n) {
			uint32_t a = fpath_resolve(st->doc, &ppath, SIZE_MAX);
			uint32_t oa = toml_parent(old, n);
			FUZZ_CHECK(a == TOML_NONE ||
				   toml_count(st->doc, a) ==
				   toml_count(old, oa) - 1,
				   "%s: the array did not lose one element",
				   what);
		}
		if (fuzz_check_on("locality")) {
			size_t p, s;
			common_affixes(st->text, st->len, ntext, nl, &p, &s);
			FUZZ_CHECK(nl < st->len, "%s removed nothing", what);
			bool elem = path.n && path.steps[path.n - 1].is_index &&
				    nf != TOML_FORM_ENTRY;
			if (elem && !fuzz_check_on("array-layout"))
				; /* known: the array is written anew */
			else if (has_span)
				FUZZ_CHECK(p + s >= nl, "%s of a value did more"
					   " than delete one run of bytes",
					   what);
			else
				FUZZ_CHECK(is_subsequence(ntext, nl, st->text,
							  st->len),
					   "%s of a table added bytes", what);
		}
		fpath_free(&sp);
		break;
	}
	default: {
		uint32_t t = fpath_resolve(st->doc, &ppath, SIZE_MAX);
		uint32_t m = t == TOML_NONE ? TOML_NONE :
			     toml_get(st->doc, t, key, klen);
		struct fbuf a = {0}, b = {0};
		const struct fpath_step *last = &path.steps[path.n - 1];
		FUZZ_CHECK(m != TOML_NONE, "%s: new key not there", what);
		FUZZ_CHECK((last->klen == klen &&
			    !memcmp(last->key, key, klen)) ||
			   toml_get(st->doc, t, last->key, last->klen) ==
			   TOML_NONE, "%s: old key still there", what);
		fuzz_dump(old, n, TOML_NONE, &a);
		fuzz_dump(st->doc, m, TOML_NONE, &b);
		FUZZ_CHECK(a.len == b.len && !memcmp(a.p, b.p, a.len),
			   "%s changed the data under the key", what);
		fbuf_free(&a);
		fbuf_free(&b);
		check_rest(st, old, n, m, what);
		break;
	}
	}
	snapshot(st);
out:
	toml_free(old);
	fpath_free(&path);
	pool_free(&pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state st;
	struct rd r;
	size_t slen;
	int rc;

	static bool stats;
	if (!stats) {
		const char *e = getenv("FUZZ_STATS");
		stats = true;
		if (e && *e && strcmp(e, "0"))
			atexit(print_stats);
		e = getenv("FUZZ_VERBOSE");
		verbose = e && *e && strcmp(e, "0");
	}
	if (size < 1)
		return 0;
	slen = data[0];
	if (slen > size - 1)
		slen = size - 1;
	r.p = data + 1;
	r.n = slen;
	r.i = 0;
	r.all = (const char *)data;
	r.alllen = size;

	memset(&st, 0, sizeof st);
	rc = toml_parse((const char *)data + 1 + slen, size - 1 - slen,
			&st.doc, NULL);
	if (rc != 0)
		return 0;
	snapshot(&st);
	for (int e = 0; e < MAX_EDITS && r.i < r.n; e++)
		one_edit(&r, &st);
	toml_free(st.doc);
	free(st.text);
	free(st.ids);
	fbuf_free(&st.dump);
	return 0;
}
