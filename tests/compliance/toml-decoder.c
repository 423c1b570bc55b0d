/* SPDX-License-Identifier: MIT */
/*
 * toml-decoder: the decoder side of the toml-test protocol
 * (toml-lang/toml-test: tagged JSON; tests/tools/tomljudge.py reads it).
 *
 * TOML on stdin -> tagged JSON on stdout, exit 0; or, for a document that
 * is not TOML 1.0.0, "line:col: message" on stderr and exit 1 (nothing on
 * stdout). Any other trouble (out of memory, read error) exits 2.
 *
 * The JSON is built with cJSON, which takes C strings and so cannot hold a
 * NUL byte in a key or a string. Keys and strings are valid UTF-8 here, so
 * each NUL is written as a private-use code point that occurs nowhere in
 * the document's decoded keys and strings, and that code point is turned
 * into \u0000 in the printed JSON.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <runnerfs/toml.h>

#define PUA_FIRST 0xE000u
#define PUA_LAST 0xF8FFu
#define PUA_COUNT (PUA_LAST - PUA_FIRST + 1)

struct dec {
	const toml_doc *doc;
	unsigned char used[PUA_COUNT / 8 + 1]; /* PUA code points seen */
	char nul[4];                           /* UTF-8 of the stand-in */
	bool any_nul;
};

static void die_oom(void)
{
	fputs("toml-decoder: out of memory\n", stderr);
	exit(2);
}

/* Mark every private-use code point (3-byte UTF-8: EE 80 80 .. EF A3 BF)
 * occurring in s. */
static void mark_pua(struct dec *d, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i + 2 < len; i++) {
		if (p[i] != 0xEE && p[i] != 0xEF)
			continue;
		if ((p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80)
			continue;
		unsigned cp = ((p[i] & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) |
			      (p[i + 2] & 0x3Fu);
		if (cp >= PUA_FIRST && cp <= PUA_LAST)
			d->used[(cp - PUA_FIRST) / 8] |= 1u << ((cp - PUA_FIRST) % 8);
	}
	if (memchr(s, '\0', len))
		d->any_nul = true;
}

static void scan(struct dec *d, uint32_t n)
{
	for (uint32_t c = toml_first(d->doc, n); c != TOML_NONE;
	     c = toml_next(d->doc, c)) {
		size_t klen;
		const char *k = toml_key(d->doc, c, &klen);
		if (k)
			mark_pua(d, k, klen);
		toml_type t = toml_type_of(d->doc, c);
		if (t == TOML_STRING) {
			char *s;
			size_t len;
			if (toml_get_string(d->doc, c, &s, &len) == 0) {
				mark_pua(d, s, len);
				free(s);
			}
		} else if (t == TOML_ARRAY || t == TOML_TABLE) {
			scan(d, c);
		}
	}
}

/* A NUL-terminated copy of s with each NUL replaced by the stand-in. */
static char *cstr(const struct dec *d, const char *s, size_t len)
{
	size_t nuls = 0;
	for (size_t i = 0; i < len; i++)
		nuls += s[i] == '\0';
	char *out = malloc(len + nuls * 2 + 1), *o = out;
	if (!out)
		die_oom();
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0') {
			memcpy(o, d->nul, 3);
			o += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static cJSON *tagged(const char *type, const char *value)
{
	cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "type", type) ||
	    !cJSON_AddStringToObject(o, "value", value))
		die_oom();
	return o;
}

static int fail(uint32_t n, const char *what, int rc)
{
	fprintf(stderr, "toml-decoder: node %" PRIu32 ": %s failed (%d)\n", n, what, rc);
	exit(2);
}

static cJSON *convert(const struct dec *d, uint32_t n);

static cJSON *convert_children(const struct dec *d, uint32_t n, bool table)
{
	cJSON *j = table ? cJSON_CreateObject() : cJSON_CreateArray();
	if (!j)
		die_oom();
	for (uint32_t c = toml_first(d->doc, n); c != TOML_NONE;
	     c = toml_next(d->doc, c)) {
		cJSON *v = convert(d, c);
		if (table) {
			size_t klen;
			const char *k = toml_key(d->doc, c, &klen);
			if (!k)
				fail(c, "toml_key", -EINVAL);
			char *key = cstr(d, k, klen);
			if (!cJSON_AddItemToObject(j, key, v))
				die_oom();
			free(key);
		} else if (!cJSON_AddItemToArray(j, v)) {
			die_oom();
		}
	}
	return j;
}

static cJSON *convert(const struct dec *d, uint32_t n)
{
	char num[64];
	int rc;

	switch (toml_type_of(d->doc, n)) {
	case TOML_TABLE:
		return convert_children(d, n, true);
	case TOML_ARRAY:
		return convert_children(d, n, false);
	case TOML_STRING: {
		char *s, *c;
		size_t len;
		if ((rc = toml_get_string(d->doc, n, &s, &len)))
			fail(n, "toml_get_string", rc);
		c = cstr(d, s, len);
		cJSON *j = tagged("string", c);
		free(c);
		free(s);
		return j;
	}
	case TOML_INTEGER: {
		int64_t i;
		if ((rc = toml_get_int(d->doc, n, &i)))
			fail(n, "toml_get_int", rc);
		snprintf(num, sizeof num, "%" PRId64, i);
		return tagged("integer", num);
	}
	case TOML_FLOAT: {
		double f;
		if ((rc = toml_get_float(d->doc, n, &f)))
			fail(n, "toml_get_float", rc);
		if (isnan(f))
			strcpy(num, "nan");
		else if (isinf(f))
			strcpy(num, f < 0 ? "-inf" : "inf");
		else
			snprintf(num, sizeof num, "%.17g", f);
		return tagged("float", num);
	}
	case TOML_BOOL: {
		bool b;
		if ((rc = toml_get_bool(d->doc, n, &b)))
			fail(n, "toml_get_bool", rc);
		return tagged("bool", b ? "true" : "false");
	}
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL: {
		static const char *const names[] = {
			[TOML_DATETIME] = "datetime",
			[TOML_DATETIME_LOCAL] = "datetime-local",
			[TOML_DATE_LOCAL] = "date-local",
			[TOML_TIME_LOCAL] = "time-local",
		};
		size_t len;
		const char *raw = toml_raw(d->doc, n, &len);
		if (!raw)
			fail(n, "toml_raw", -EINVAL);
		char *s = malloc(len + 1);
		if (!s)
			die_oom();
		memcpy(s, raw, len);
		s[len] = '\0';
		/* RFC 3339 allows a space between date and time; the suite
		 * wants T. */
		if (len > 10 && s[10] == ' ')
			s[10] = 'T';
		cJSON *j = tagged(names[toml_type_of(d->doc, n)], s);
		free(s);
		return j;
	}
	}
	fail(n, "toml_type_of", -EINVAL);
	return NULL;
}

/* Every occurrence of the stand-in becomes \u0000 (6 bytes for 3). */
static char *restore_nul(const struct dec *d, char *json)
{
	size_t len = strlen(json), count = 0;
	for (const char *p = json; (p = strstr(p, d->nul)); p += 3)
		count++;
	if (!count)
		return json;
	char *out = malloc(len + count * 3 + 1), *o = out;
	if (!out)
		die_oom();
	const char *p = json, *q;
	while ((q = strstr(p, d->nul))) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, "\\u0000", 6);
		o += 6;
		p = q + 3;
	}
	strcpy(o, p);
	free(json);
	return out;
}

static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		die_oom();
	for (;;) {
		if (n == cap) {
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb)
				die_oom();
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				perror("toml-decoder: stdin");
				exit(2);
			}
			break;
		}
	}
	*len = n;
	return buf;
}

int main(void)
{
	size_t len;
	char *text = read_all(stdin, &len);
	toml_doc *doc = NULL;
	toml_error err = { 0 };

	int rc = toml_parse(text, len, &doc, &err);
	free(text);
	if (rc == -EINVAL) {
		fprintf(stderr, "%d:%d: %s\n", err.line, err.col, err.msg);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "toml-decoder: %s\n", strerror(-rc));
		return 2;
	}

	struct dec d = { .doc = doc };
	scan(&d, TOML_ROOT);
	if (d.any_nul) {
		unsigned cp = PUA_FIRST;
		while (cp <= PUA_LAST &&
		       (d.used[(cp - PUA_FIRST) / 8] & (1u << ((cp - PUA_FIRST) % 8))))
			cp++;
		if (cp > PUA_LAST) {
			fputs("toml-decoder: no stand-in left for NUL\n", stderr);
			return 2;
		}
		d.nul[0] = (char)(0xE0 | (cp >> 12));
		d.nul[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		d.nul[2] = (char)(0x80 | (cp & 0x3F));
	}

	cJSON *root = convert(&d, TOML_ROOT);
	char *json = cJSON_PrintUnformatted(root);
	if (!json)
		die_oom();
	cJSON_Delete(root);
	if (d.any_nul)
		json = restore_nul(&d, json);
	toml_free(doc);

	if (fputs(json, stdout) == EOF || fputc('\n', stdout) == EOF ||
	    fflush(stdout) == EOF) {
		perror("toml-decoder: stdout");
		return 2;
	}
	cJSON_free(json);
	return 0;
}
