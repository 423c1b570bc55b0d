/* SPDX-License-Identifier: MIT */
/*
 * toml-edit: apply edits to a TOML file from the command line, for tests.
 *
 *   toml-edit FILE OP ARGS... [OP ARGS...]...
 *
 * Reads FILE, applies the operations in order and writes the resulting
 * document to stdout. On an error it prints `error: <ERRNO>: <message>` to
 * stderr, prints nothing on stdout and exits 1. Usage errors exit 2.
 *
 * PATH is a JSON array naming a node from the root: a string is a table
 * key (any bytes through JSON escapes, \u0000 included), an integer an
 * index into an array or array of tables (negative counts from the end).
 * `[]` is the root table.
 *
 * KEY, VALUE and TOMLTEXT are JSON strings ("..."), so that they can hold
 * any bytes; an argument that is not a valid JSON string is taken as it is.
 * VALUE is the text of a value of TYPE, parsed with toml_value_parse(),
 * except for TYPE string, whose bytes are the value itself.
 * JSONLIST is a JSON array of such texts (numbers and booleans are also
 * accepted as elements and taken as their JSON text).
 *
 *   set PATH TYPE VALUE              toml_set
 *   set-array PATH TYPE JSONLIST     toml_set_array
 *   set-raw PATH TOMLTEXT            toml_set_raw
 *   insert PATH KEY TYPE VALUE       toml_insert into the table at PATH
 *   insert-array PATH KEY TYPE JSONLIST
 *   insert-raw PATH KEY TOMLTEXT
 *   add-table PATH KEY               toml_add_table
 *   append-entry PATH KEY            toml_append_entry
 *   remove PATH                      toml_remove
 *   rename PATH NEWKEY               toml_rename
 *   get PATH                         print the node as toml-test tagged JSON
 *                                    (one line)
 *   nodes                            print every node, one JSON object a
 *                                    line: {"path":[...],"type":...,
 *                                    "form":...,"span":[start,end]|null,
 *                                    "line":N}
 *
 * When any `get` or `nodes` is given, stdout holds their output instead of
 * the document.
 *
 * Option -k (before FILE): keep going. A failed operation prints its
 * `error: ...` line on stderr and is skipped; the document is still
 * written, and the exit status is 1 if any operation failed. This is how
 * tests see that a failed edit left the document byte-identical.
 *
 * TYPE: string integer float bool datetime datetime-local date-local
 * time-local.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/buf.h"
#include "runnerfs/toml.h"

/* cJSON keeps strings NUL-terminated, so a \u0000 escape would cut a
 * string short. Before parsing, \u0000 escapes are rewritten to a
 * stand-in code point (U+10FFFF, a noncharacter) that is turned back into
 * NUL after decoding. Callers must not use U+10FFFF itself. */
static const char NUL_STANDIN_ESC[] = "\\uDBFF\\uDFFF";
static const char NUL_STANDIN_UTF8[] = "\xF4\x8F\xBF\xBF";

struct bytes {
	char *p;
	size_t len;
};

static struct buf out = BUF_INIT;   /* get results */
static int ngets;
static bool keep_going;             /* -k */
static bool in_op;                  /* fail() may return to the op loop */
static jmp_buf op_failed;

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("toml-edit: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\nusage: toml-edit FILE OP ARGS... (see the source for OPs)\n", stderr);
	va_end(ap);
	exit(2);
}

static void oom(void)
{
	fputs("error: ENOMEM: out of memory\n", stderr);
	exit(1);
}

/* Everything one operation allocates is kept here and freed when the
 * operation ends, whether it succeeded or failed (with -k a failure jumps
 * back to the op loop). */
static void *scratch[256];
static size_t nscratch;

static void *keep(void *p)
{
	if (!p || nscratch == sizeof(scratch) / sizeof(scratch[0]))
		oom();
	scratch[nscratch++] = p;
	return p;
}

static void scratch_free(void)
{
	while (nscratch)
		free(scratch[--nscratch]);
}

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "EUNKNOWN";
}

static void fail(int rc, const toml_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static void fail(int rc, const toml_error *err, const char *fmt, ...)
{
	va_list ap;
	int e = rc < 0 ? -rc : rc;

	fprintf(stderr, "error: %s: ", errname(e));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err && err->msg[0]) {
		if (err->line > 0)
			fprintf(stderr, ": line %d, column %d: %s", err->line,
				err->col, err->msg);
		else
			fprintf(stderr, ": %s", err->msg);
	}
	fputc('\n', stderr);
	if (keep_going && in_op)
		longjmp(op_failed, 1);
	exit(1);
}

/* ---- JSON in ---- */

/* Rewrite \u0000 escapes (outside of an escaped backslash) to the
 * stand-in. */
static char *json_prep(const char *s)
{
	struct buf b = BUF_INIT;
	bool in_str = false;

	for (size_t i = 0; s[i]; i++) {
		if (in_str && s[i] == '\\') {
			if (strncmp(s + i, "\\u0000", 6) == 0) {
				if (buf_adds(&b, NUL_STANDIN_ESC))
					oom();
				i += 5;
				continue;
			}
			if (buf_add(&b, s + i, s[i + 1] ? 2 : 1))
				oom();
			if (s[i + 1])
				i++;
			continue;
		}
		if (s[i] == '"')
			in_str = !in_str;
		if (buf_addc(&b, s[i]))
			oom();
	}
	if (buf_addc(&b, 0))
		oom();
	return b.p;
}

static cJSON *json_parse(const char *s)
{
	char *p = json_prep(s);
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithOpts(p, &end, true);
	free(p);
	return j;
}

/* The parsed JSON of the running operation; deleted when it ends. */
static cJSON *op_json[8];
static size_t nop_json;

static cJSON *json_keep(cJSON *j)
{
	if (j && nop_json < sizeof(op_json) / sizeof(op_json[0]))
		op_json[nop_json++] = j;
	else if (j)
		oom();
	return j;
}

static void json_free_all(void)
{
	while (nop_json)
		cJSON_Delete(op_json[--nop_json]);
}

/* The bytes of a cJSON string with the stand-in turned back into NUL. */
static struct bytes json_str(const cJSON *j)
{
	const char *s = j->valuestring;
	size_t n = strlen(s);
	struct bytes r = { keep(malloc(n + 1)), 0 };

	for (size_t i = 0; i < n;) {
		if (n - i >= 4 && memcmp(s + i, NUL_STANDIN_UTF8, 4) == 0) {
			r.p[r.len++] = 0;
			i += 4;
		} else {
			r.p[r.len++] = s[i++];
		}
	}
	r.p[r.len] = 0;
	return r;
}

/* An argument that is a JSON string is decoded; anything else is taken
 * as it is. */
static struct bytes arg_bytes(const char *a)
{
	struct bytes r;

	if (a[0] == '"') {
		cJSON *j = json_keep(json_parse(a));
		if (j && cJSON_IsString(j))
			return json_str(j);
	}
	r.len = strlen(a);
	r.p = keep(strdup(a));
	return r;
}

/* ---- paths ---- */

static uint32_t resolve(toml_doc *doc, const char *path)
{
	cJSON *j = json_keep(json_parse(path)), *seg;
	uint32_t n = TOML_ROOT;

	if (!j || !cJSON_IsArray(j))
		die_usage("PATH must be a JSON array: %s", path);
	cJSON_ArrayForEach(seg, j) {
		toml_type t = toml_type_of(doc, n);
		if (cJSON_IsString(seg)) {
			struct bytes k = json_str(seg);
			if (t != TOML_TABLE)
				fail(-ENOTDIR, NULL, "%s: key \"%s\": the node is of type %s, not a table",
				     path, k.p, toml_type_name(t));
			n = toml_get(doc, n, k.p, k.len);
			if (n == TOML_NONE)
				fail(-ENOENT, NULL, "%s: no key \"%s\"", path, k.p);
		} else if (cJSON_IsNumber(seg)) {
			double d = seg->valuedouble;
			long long i = (long long)d;
			if (t != TOML_ARRAY)
				fail(-ENOTDIR, NULL, "%s: index %lld: the node is of type %s, not an array",
				     path, i, toml_type_name(t));
			if (i < 0)
				i += (long long)toml_count(doc, n);
			if (i < 0 || (double)(long long)d != d)
				fail(-ENOENT, NULL, "%s: bad index", path);
			n = toml_at(doc, n, (size_t)i);
			if (n == TOML_NONE)
				fail(-ENOENT, NULL, "%s: no element %lld", path, i);
		} else {
			die_usage("PATH elements must be strings or integers: %s", path);
		}
	}
	return n;
}

/* ---- values ---- */

static toml_type parse_type(const char *s)
{
	static const struct {
		const char *name;
		toml_type t;
	} types[] = {
		{ "string", TOML_STRING },
		{ "integer", TOML_INTEGER },
		{ "float", TOML_FLOAT },
		{ "bool", TOML_BOOL },
		{ "boolean", TOML_BOOL },
		{ "datetime", TOML_DATETIME },
		{ "datetime-local", TOML_DATETIME_LOCAL },
		{ "date-local", TOML_DATE_LOCAL },
		{ "time-local", TOML_TIME_LOCAL },
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(s, types[i].name) == 0)
			return types[i].t;
	die_usage("unknown TYPE %s", s);
}

/* The value's bytes stay referenced by the toml_value: keep `b`. */
static void make_value(toml_type t, struct bytes b, toml_value *v)
{
	toml_error err = { 0 };
	int rc;

	memset(v, 0, sizeof(*v));
	rc = toml_value_parse(t, b.p, b.len, v, &err);
	if (rc)
		fail(rc, &err, "not a valid %s: \"%.*s\"", toml_type_name(t),
		     (int)b.len, b.p);
	if (t == TOML_STRING && (v->str != b.p || v->len != b.len)) {
		/* A string is its bytes; insist on that. */
		v->type = TOML_STRING;
		v->str = b.p;
		v->len = b.len;
	}
}

static size_t make_values(toml_type t, const char *list, toml_value **vals)
{
	cJSON *j = json_keep(json_parse(list)), *e;
	size_t n, i = 0;

	if (!j || !cJSON_IsArray(j))
		die_usage("JSONLIST must be a JSON array: %s", list);
	n = (size_t)cJSON_GetArraySize(j);
	*vals = keep(calloc(n ? n : 1, sizeof(**vals)));
	cJSON_ArrayForEach(e, j) {
		struct bytes b;
		if (cJSON_IsString(e)) {
			b = json_str(e);
		} else if (cJSON_IsNumber(e) || cJSON_IsBool(e)) {
			b.p = keep(cJSON_PrintUnformatted(e));
			b.len = strlen(b.p);
		} else {
			die_usage("JSONLIST elements must be strings: %s", list);
		}
		make_value(t, b, &(*vals)[i]);
		i++;
	}
	return n;
}

/* ---- JSON out (get) ---- */

static void put(const char *s)
{
	if (buf_adds(&out, s))
		oom();
}

static void put_json_str(const char *s, size_t len)
{
	put("\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int rc;
		switch (c) {
		case '"': rc = buf_adds(&out, "\\\""); break;
		case '\\': rc = buf_adds(&out, "\\\\"); break;
		case '\n': rc = buf_adds(&out, "\\n"); break;
		case '\r': rc = buf_adds(&out, "\\r"); break;
		case '\t': rc = buf_adds(&out, "\\t"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				rc = buf_addf(&out, "\\u%04x", c);
			else
				rc = buf_addc(&out, (char)c);
		}
		if (rc)
			oom();
	}
	put("\"");
}

static void put_tagged(const char *type, const char *s, size_t len)
{
	put("{\"type\":\"");
	put(type);
	put("\",\"value\":");
	put_json_str(s, len);
	put("}");
}

static void put_node(toml_doc *doc, uint32_t n)
{
	toml_type t = toml_type_of(doc, n);
	char tmp[64];
	int rc = 0;

	switch (t) {
	case TOML_TABLE: {
		bool first = true;
		put("{");
		for (uint32_t c = toml_first(doc, n); c != TOML_NONE;
		     c = toml_next(doc, c)) {
			size_t kl;
			const char *k = toml_key(doc, c, &kl);
			if (!first)
				put(",");
			first = false;
			put_json_str(k ? k : "", k ? kl : 0);
			put(":");
			put_node(doc, c);
		}
		put("}");
		return;
	}
	case TOML_ARRAY: {
		bool first = true;
		put("[");
		for (uint32_t c = toml_first(doc, n); c != TOML_NONE;
		     c = toml_next(doc, c)) {
			if (!first)
				put(",");
			first = false;
			put_node(doc, c);
		}
		put("]");
		return;
	}
	case TOML_STRING: {
		char *s;
		size_t len;
		rc = toml_get_string(doc, n, &s, &len);
		if (rc)
			break;
		keep(s);
		put_tagged("string", s, len);
		return;
	}
	case TOML_INTEGER: {
		int64_t i;
		rc = toml_get_int(doc, n, &i);
		if (rc)
			break;
		snprintf(tmp, sizeof(tmp), "%" PRId64, i);
		put_tagged("integer", tmp, strlen(tmp));
		return;
	}
	case TOML_FLOAT: {
		double f;
		rc = toml_get_float(doc, n, &f);
		if (rc)
			break;
		if (isnan(f))
			snprintf(tmp, sizeof(tmp), "nan");
		else if (isinf(f))
			snprintf(tmp, sizeof(tmp), f < 0 ? "-inf" : "inf");
		else
			snprintf(tmp, sizeof(tmp), "%.17g", f);
		put_tagged("float", tmp, strlen(tmp));
		return;
	}
	case TOML_BOOL: {
		bool b;
		rc = toml_get_bool(doc, n, &b);
		if (rc)
			break;
		put_tagged("bool", b ? "true" : "false", b ? 4 : 5);
		return;
	}
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL: {
		size_t len;
		const char *raw = toml_raw(doc, n, &len);
		const char *name = t == TOML_DATETIME ? "datetime"
			: t == TOML_DATETIME_LOCAL ? "datetime-local"
			: t == TOML_DATE_LOCAL ? "date-local" : "time-local";
		if (!raw) {
			rc = -EINVAL;
			break;
		}
		put_tagged(name, raw, len);
		return;
	}
	}
	fail(rc ? rc : -EINVAL, NULL, "cannot read node %" PRIu32 " (%s)", n,
	     toml_type_name(t));
}

static const char *form_name(toml_form f)
{
	switch (f) {
	case TOML_FORM_ROOT: return "root";
	case TOML_FORM_HEADER: return "header";
	case TOML_FORM_ENTRY: return "entry";
	case TOML_FORM_IMPLICIT: return "implicit";
	case TOML_FORM_DOTTED: return "dotted";
	case TOML_FORM_INLINE: return "inline";
	case TOML_FORM_ARRAY: return "array";
	case TOML_FORM_AOT: return "aot";
	case TOML_FORM_BASIC: return "basic";
	case TOML_FORM_LITERAL: return "literal";
	case TOML_FORM_ML_BASIC: return "ml-basic";
	case TOML_FORM_ML_LITERAL: return "ml-literal";
	case TOML_FORM_DEC: return "dec";
	case TOML_FORM_HEX: return "hex";
	case TOML_FORM_OCT: return "oct";
	case TOML_FORM_BIN: return "bin";
	case TOML_FORM_PLAIN: return "plain";
	}
	return "?";
}

/* `path` holds the JSON text of the path so far, without the closing ]. */
static void put_nodes(toml_doc *doc, uint32_t n, struct buf *path)
{
	toml_type t = toml_type_of(doc, n);
	size_t s, e;
	size_t mark = path->len;
	size_t i = 0;

	put("{\"path\":");
	if (buf_add(&out, path->p, path->len))
		oom();
	put("],\"type\":\"");
	put(toml_type_name(t));
	put("\",\"form\":\"");
	put(form_name(toml_form_of(doc, n)));
	put("\",\"span\":");
	if (toml_span(doc, n, &s, &e) == 0) {
		if (buf_addf(&out, "[%zu,%zu],\"line\":%d}\n", s, e,
			     toml_line_of(doc, s)))
			oom();
	} else {
		put("null}\n");
	}
	if (t != TOML_TABLE && t != TOML_ARRAY)
		return;
	for (uint32_t c = toml_first(doc, n); c != TOML_NONE; c = toml_next(doc, c), i++) {
		struct buf saved = out;
		int rc;
		if (path->len > 1 && buf_addc(path, ','))
			oom();
		if (t == TOML_TABLE) {
			size_t kl;
			const char *k = toml_key(doc, c, &kl);
			/* put_json_str writes to `out`: borrow it */
			out = *path;
			put_json_str(k ? k : "", k ? kl : 0);
			*path = out;
			out = saved;
			rc = 0;
		} else {
			rc = buf_addf(path, "%zu", i);
		}
		if (rc)
			oom();
		put_nodes(doc, c, path);
		path->len = mark;
		path->p[mark] = 0;
	}
}

/* ---- main ---- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;

	if (!f)
		fail(-errno, NULL, "%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(&b, chunk, n))
			oom();
	if (ferror(f))
		fail(-EIO, NULL, "%s: read error", path);
	if (f != stdin)
		fclose(f);
	if (!b.p && buf_reserve(&b, 1))
		oom();
	*len = b.len;
	return b.p;
}

/* The operations and how many arguments each takes. */
static const struct {
	const char *name;
	int argc;
} ops[] = {
	{ "set", 3 }, { "set-array", 3 }, { "set-raw", 2 },
	{ "insert", 4 }, { "insert-array", 4 }, { "insert-raw", 3 },
	{ "add-table", 2 }, { "append-entry", 2 }, { "remove", 1 },
	{ "rename", 2 }, { "get", 1 }, { "nodes", 0 },
};

/* Run one operation; its arguments are a[0..]. */
static void run_op(toml_doc *doc, const char *op, char **a)
{
	toml_error err = { 0 };
	uint32_t n;
	int rc = 0;

	if (strcmp(op, "set") == 0) {
		toml_type t = parse_type(a[1]);
		struct bytes b = arg_bytes(a[2]);
		toml_value v;
		n = resolve(doc, a[0]);
		make_value(t, b, &v);
		rc = toml_set(doc, n, &v, &err);
	} else if (strcmp(op, "set-array") == 0) {
		toml_value *vals;
		size_t cnt = make_values(parse_type(a[1]), a[2], &vals);
		n = resolve(doc, a[0]);
		rc = toml_set_array(doc, n, vals, cnt, &err);
	} else if (strcmp(op, "insert-array") == 0) {
		struct bytes key = arg_bytes(a[1]);
		toml_value *vals;
		size_t cnt = make_values(parse_type(a[2]), a[3], &vals);
		n = resolve(doc, a[0]);
		rc = toml_insert_array(doc, n, key.p, key.len, vals, cnt, &err);
	} else if (strcmp(op, "set-raw") == 0) {
		struct bytes b = arg_bytes(a[1]);
		n = resolve(doc, a[0]);
		rc = toml_set_raw(doc, n, b.p, b.len, &err);
	} else if (strcmp(op, "insert") == 0) {
		struct bytes key = arg_bytes(a[1]);
		toml_type t = parse_type(a[2]);
		struct bytes b = arg_bytes(a[3]);
		toml_value v;
		n = resolve(doc, a[0]);
		make_value(t, b, &v);
		rc = toml_insert(doc, n, key.p, key.len, &v, &err);
	} else if (strcmp(op, "insert-raw") == 0) {
		struct bytes key = arg_bytes(a[1]);
		struct bytes b = arg_bytes(a[2]);
		n = resolve(doc, a[0]);
		rc = toml_insert_raw(doc, n, key.p, key.len, b.p, b.len, &err);
	} else if (strcmp(op, "add-table") == 0) {
		struct bytes key = arg_bytes(a[1]);
		n = resolve(doc, a[0]);
		rc = toml_add_table(doc, n, key.p, key.len, &err);
	} else if (strcmp(op, "append-entry") == 0) {
		struct bytes key = arg_bytes(a[1]);
		n = resolve(doc, a[0]);
		rc = toml_append_entry(doc, n, key.p, key.len, &err);
	} else if (strcmp(op, "rename") == 0) {
		struct bytes key = arg_bytes(a[1]);
		n = resolve(doc, a[0]);
		rc = toml_rename(doc, n, key.p, key.len, &err);
	} else if (strcmp(op, "remove") == 0) {
		n = resolve(doc, a[0]);
		rc = toml_remove(doc, n, &err);
	} else if (strcmp(op, "get") == 0) {
		n = resolve(doc, a[0]);
		put_node(doc, n);
		put("\n");
		ngets++;
	} else if (strcmp(op, "nodes") == 0) {
		struct buf path = BUF_INIT;
		if (buf_addc(&path, '['))
			oom();
		put_nodes(doc, TOML_ROOT, &path);
		buf_free(&path);
		ngets++;
	}
	if (rc)
		fail(rc, &err, "%s %s", op, a[0]);
}

int main(int argc, char **argv)
{
	toml_doc *doc = NULL;
	toml_error err = { 0 };
	size_t len;
	char *text;
	int rc, first = 1;
	volatile int i, nfailed = 0;

	if (argc > 1 && strcmp(argv[1], "-k") == 0) {
		keep_going = true;
		first = 2;
	}
	if (argc < first + 2)
		die_usage("need a FILE and an OP");

	/* check the whole command line before touching anything */
	for (i = first + 1; i < argc;) {
		size_t k;
		for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
			if (strcmp(argv[i], ops[k].name) == 0)
				break;
		if (k == sizeof(ops) / sizeof(ops[0]))
			die_usage("unknown OP %s", argv[i]);
		if (ops[k].argc > argc - i - 1)
			die_usage("%s: needs %d arguments", argv[i], ops[k].argc);
		i += 1 + ops[k].argc;
	}

	text = read_file(argv[first], &len);
	rc = toml_parse(text, len, &doc, &err);
	free(text);
	if (rc)
		fail(rc, &err, "%s", argv[first]);

	for (i = first + 1; i < argc;) {
		const char *op = argv[i];
		volatile size_t k;
		for (k = 0; strcmp(op, ops[k].name) != 0; k++)
			;
		in_op = true;
		if (setjmp(op_failed) == 0)
			run_op(doc, op, argv + i + 1);
		else
			nfailed++;
		in_op = false;
		json_free_all();
		scratch_free();
		i += 1 + ops[k].argc;
	}

	if (nfailed == 0 || keep_going) {
		const char *t = ngets ? out.p : toml_text(doc, &len);
		if (ngets)
			len = out.len;
		if (len)
			fwrite(t, 1, len, stdout);
	}
	buf_free(&out);
	toml_free(doc);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("toml-edit: stdout");
		return 1;
	}
	return nfailed ? 1 : 0;
}
