/* SPDX-License-Identifier: MIT */
/*
 * fuzz-registry: DOCKER_AUTH_CONFIG handling (fs/registry.c, contract 5).
 *
 * Input: byte 0 is the length N of a script, bytes 1..N the script, the
 * rest a JSON text. The JSON goes into a small document as the
 * `DOCKER_AUTH_CONFIG=<json>` element of the first runner's environment
 * (between two other elements); the script says whether the second runner
 * gets the same element, another one or no environment, then picks up to
 * 8 edits: registry_set / unset / add / remove / rename / inherit on the
 * first runner, the second, or every runner (the root registries/), with
 * hosts taken from the JSON or the script, every field name, and values
 * from the script or a list of awkward ones.
 *
 * Checked:
 *   - reading: every host registry_hosts lists is there (registry_has),
 *     every field registry_fields lists reads (registry_get); a runner's
 *     registries are listed only if its DOCKER_AUTH_CONFIG is one JSON
 *     object and nothing after it (quality check `json-strict`: the
 *     runner's json.Unmarshal refuses trailing data);
 *   - after a successful edit: the document's text reparses; in every
 *     runner the DOCKER_AUTH_CONFIG element, if any, is a JSON object and
 *     the other environment elements are the same, in the same order; the
 *     value reads back (set), the registry is there or gone (add, remove,
 *     rename); the rest of the JSON is the same (cJSON_Compare of the
 *     JSON without the edited registry);
 *   - after a failed edit: a documented -errno and a message; a single
 *     runner's document is byte-identical; no message quotes the value;
 *   - base64_decode(base64_encode(x)) == x.
 * JSON whose meaning is open to interpretation (duplicate keys: cJSON
 * takes the first, the runner's Go the last; numbers out of double's
 * range; NUL bytes) gets only the memory-safety and document checks.
 *
 * FUZZ_SKIP=json-strict turns the strict-JSON check off (see
 * regressions/registry/); FUZZ_STATS=1 prints at exit how many edits of
 * each kind were tried and succeeded.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "runnerfs/buf.h"
#include "runnerfs/registry.h"
#include "runnerfs/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PREFIX "DOCKER_AUTH_CONFIG="
#define PLEN (sizeof(PREFIX) - 1)

static const char SKELETON[] =
	"concurrent = 1\n"
	"[[runners]]\n"
	"  name = \"r1\"\n"
	"  environment = [\"A=1\", \"X\", \"B=2\"]  # kept\n"
	"  [runners.docker]\n"
	"    image = \"alpine\"\n"
	"[[runners]]\n"
	"  name = \"r2\"\n"
	"  environment = [\"X\"]\n";

static const char *const FIELDS[] = {"username", "password", "auth", "identitytoken",
				     "registrytoken", "email", "bogus"};
static const char *const VALUES[] = {"", "u", ":", "a:b:c", "dXNlcjpwYXNzd29yZA==", "OnA=",
				     "dTo=", "not base64!", "\"}]\n[[runners]]", "\\u0000",
				     "\xff\xfe", "\xc3", "Zm9vOmJhcg", "===="};
#define NVALUES (sizeof(VALUES) / sizeof(VALUES[0]))

struct rd {
	const uint8_t *p;
	size_t n, i;
};

static uint8_t byte(struct rd *r)
{
	return r->i < r->n ? r->p[r->i++] : 0;
}

/* ---- the document ---- */

static uint32_t runner_at(const toml_doc *d, size_t i)
{
	uint32_t a = toml_get(d, TOML_ROOT, "runners", 7);
	return a == TOML_NONE ? TOML_NONE : toml_at(d, a, i);
}

static uint32_t env_elem(const toml_doc *d, size_t runner, const char *want)
{
	uint32_t env = toml_get(d, runner_at(d, runner), "environment", 11);
	if (env == TOML_NONE)
		return TOML_NONE;
	for (uint32_t c = toml_first(d, env); c != TOML_NONE; c = toml_next(d, c)) {
		size_t len;
		const char *raw = toml_raw(d, c, &len);
		if (raw && len == strlen(want) + 2 && !memcmp(raw + 1, want, len - 2))
			return c;
	}
	return TOML_NONE;
}

static bool set_string(toml_doc *d, uint32_t n, const char *s, size_t len)
{
	toml_value v = {.type = TOML_STRING, .str = s, .len = len};
	toml_error err;
	return n != TOML_NONE && toml_set(d, n, &v, &err) == 0;
}

/* The environment of a runner: the DOCKER_AUTH_CONFIG element's JSON text
 * (the last such element, as the runner reads it; malloc'd, NULL if none)
 * and the other elements, each followed by a NUL. */
static char *split_env(const toml_doc *d, size_t runner, struct fbuf *others)
{
	uint32_t env = toml_get(d, runner_at(d, runner), "environment", 11);
	char *json = NULL;
	if (env == TOML_NONE || toml_type_of(d, env) != TOML_ARRAY)
		return NULL;
	for (uint32_t c = toml_first(d, env); c != TOML_NONE; c = toml_next(d, c)) {
		char *s;
		size_t len;
		if (toml_type_of(d, c) != TOML_STRING || toml_get_string(d, c, &s, &len) < 0) {
			fbuf_adds(others, "<not a string>");
			fbuf_add(others, "", 1);
			continue;
		}
		if (len >= PLEN && !memcmp(s, PREFIX, PLEN)) {
			free(json);
			json = strndup(s + PLEN, len - PLEN);
		} else {
			fbuf_add(others, s, len);
			fbuf_add(others, "", 1);
		}
		free(s);
	}
	return json;
}

/* ---- JSON ---- */

/* Duplicate keys, or a number out of double's range (1e309: cJSON reads
 * inf and writes null; the runner's Go refuses it): JSON whose meaning is
 * open to interpretation. */
static bool has_dup_keys(const cJSON *j)
{
	if (!j)
		return false;
	if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
		return true;
	for (const cJSON *a = j->child; a; a = a->next) {
		if (cJSON_IsObject(j) && a->string)
			for (const cJSON *b = a->next; b; b = b->next)
				if (b->string && !strcmp(a->string, b->string))
					return true;
		if (has_dup_keys(a))
			return true;
	}
	return false;
}

/* The JSON, NULL as {"auths":{}}, without auths[host] (host NULL: as is). */
static cJSON *without(const char *json, const char *host)
{
	cJSON *j = json ? cJSON_Parse(json) : cJSON_Parse("{\"auths\":{}}");
	if (!j)
		return NULL;
	cJSON *auths = cJSON_GetObjectItemCaseSensitive(j, "auths");
	if (!auths && cJSON_IsObject(j))
		auths = cJSON_AddObjectToObject(j, "auths"); /* add makes it */
	if (host && cJSON_IsObject(auths))
		cJSON_DeleteItemFromObjectCaseSensitive(auths, host);
	/* an element with nothing but an empty "auths" goes away: the same */
	if (cJSON_IsObject(auths) && cJSON_GetArraySize(j) == 1 && cJSON_GetArraySize(auths) == 0) {
		cJSON_Delete(j);
		j = cJSON_Parse("{\"auths\":{}}");
	}
	return j;
}

/* ---- checks ---- */

static bool runner_clean(const toml_doc *d, size_t i);

struct snap {
	char *text;
	size_t len;
	char *json[2];
	bool clean[2];
	struct fbuf others[2];
};

static void take(const toml_doc *d, struct snap *s)
{
	size_t len;
	const char *t = toml_text(d, &len);
	s->text = malloc(len + 1);
	if (!s->text)
		abort();
	memcpy(s->text, t, len);
	s->text[len] = '\0';
	s->len = len;
	for (int i = 0; i < 2; i++) {
		memset(&s->others[i], 0, sizeof(s->others[i]));
		s->json[i] = split_env(d, (size_t)i, &s->others[i]);
		s->clean[i] = runner_clean(d, (size_t)i);
	}
}

static void drop(struct snap *s)
{
	free(s->text);
	for (int i = 0; i < 2; i++) {
		free(s->json[i]);
		fbuf_free(&s->others[i]);
	}
}

/* A strict JSON reader (RFC 8259: what GitLab Runner's json.Unmarshal
 * and Python's json accept): cJSON alone stops after the first value and
 * takes "\u00zz" for a NUL. Lone surrogates pass, as they do in Go. */
struct jr {
	const char *p, *e;
	int depth;
};

static void jws(struct jr *r)
{
	while (r->p < r->e && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static bool jlit(struct jr *r, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(r->e - r->p) < n || memcmp(r->p, w, n))
		return false;
	r->p += n;
	return true;
}

static bool jdigits(struct jr *r)
{
	const char *s = r->p;
	while (r->p < r->e && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > s;
}

static bool jstring(struct jr *r)
{
	if (r->p >= r->e || *r->p != '"')
		return false;
	for (r->p++; r->p < r->e; r->p++) {
		unsigned char c = (unsigned char)*r->p;
		if (c == '"') {
			r->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (++r->p >= r->e)
			return false;
		if (strchr("\"\\/bfnrt", *r->p) && *r->p)
			continue;
		if (*r->p != 'u' || r->e - r->p < 5)
			return false;
		for (int k = 1; k <= 4; k++)
			if (!strchr("0123456789abcdefABCDEF", r->p[k]) || !r->p[k])
				return false;
		r->p += 4;
	}
	return false;
}

static bool jvalue(struct jr *r)
{
	if (++r->depth > 200)
		return false;
	jws(r);
	bool ok = false;
	if (r->p >= r->e) {
		ok = false;
	} else if (*r->p == '{' || *r->p == '[') {
		char close = *r->p == '{' ? '}' : ']';
		bool obj = close == '}';
		r->p++;
		jws(r);
		if (r->p < r->e && *r->p == close) {
			r->p++;
			ok = true;
		} else {
			for (;;) {
				if (obj) {
					jws(r);
					if (!jstring(r))
						break;
					jws(r);
					if (r->p >= r->e || *r->p++ != ':')
						break;
				}
				if (!jvalue(r))
					break;
				jws(r);
				if (r->p < r->e && *r->p == ',') {
					r->p++;
					continue;
				}
				ok = r->p < r->e && *r->p++ == close;
				break;
			}
		}
	} else if (*r->p == '"') {
		ok = jstring(r);
	} else if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) {
		if (*r->p == '-')
			r->p++;
		if (r->p < r->e && *r->p == '0')
			r->p++;
		else if (!jdigits(r))
			goto out;
		if (r->p < r->e && *r->p == '.') {
			r->p++;
			if (!jdigits(r))
				goto out;
		}
		if (r->p < r->e && (*r->p == 'e' || *r->p == 'E')) {
			r->p++;
			if (r->p < r->e && (*r->p == '+' || *r->p == '-'))
				r->p++;
			if (!jdigits(r))
				goto out;
		}
		ok = true;
	} else {
		ok = jlit(r, "true") || jlit(r, "false") || jlit(r, "null");
	}
out:
	r->depth--;
	return ok;
}

/* Is the text one JSON object and nothing else? */
static bool strict_object(const char *json)
{
	size_t len = strlen(json);
	struct jr r = {json, json + len, 0};
	jws(&r);
	if (r.p >= r.e || *r.p != '{' || !jvalue(&r))
		return false;
	jws(&r);
	return r.p == r.e;
}

/* Runner i's DOCKER_AUTH_CONFIG is absent, or one JSON object without
 * duplicate keys. Otherwise what it means is open to interpretation
 * (cJSON takes the first of two equal keys, the runner's Go the last; a
 * NUL byte in a key cuts it short): only memory safety and the
 * document's integrity are checked then. */
static bool runner_clean(const toml_doc *d, size_t i)
{
	struct fbuf others = {0};
	size_t len;
	char *json = split_env(d, i, &others);
	bool ok = true;
	if (json) {
		len = strlen(json);
		const char *end = NULL;
		cJSON *j = cJSON_ParseWithOpts(json, &end, 1);
		ok = j && cJSON_IsObject(j) && !has_dup_keys(j) && end == json + len && strict_object(json);
		cJSON_Delete(j);
		/* a NUL inside the element: split_env cut it there */
		uint32_t env = toml_get(d, runner_at(d, i), "environment", 11);
		for (uint32_t c = env == TOML_NONE ? TOML_NONE : toml_first(d, env); c != TOML_NONE;
		     c = toml_next(d, c)) {
			char *s;
			size_t sl;
			if (toml_type_of(d, c) == TOML_STRING && toml_get_string(d, c, &s, &sl) == 0) {
				if (sl >= PLEN && !memcmp(s, PREFIX, PLEN) && memchr(s, '\0', sl))
					ok = false;
				free(s);
			}
		}
	}
	free(json);
	fbuf_free(&others);
	return ok;
}

static void check_reading(const toml_doc *d, uint32_t runner)
{
	struct buf hosts = BUF_INIT;
	size_t n = 0;
	int r = registry_hosts(d, runner, &hosts, &n);
	FUZZ_CHECK(r == 0 || r == -EINVAL, "registry_hosts: %d", r);
	/* registry.h: -EINVAL when the JSON is not valid (the directory is
	 * then empty and read-only) */
	if (r == 0 && runner != TOML_NONE && fuzz_check_on("json-strict")) {
		for (size_t i = 0; i < 2; i++) {
			if (runner_at(d, i) != runner)
				continue;
			struct fbuf others = {0};
			char *json = split_env(d, i, &others);
			FUZZ_CHECK(!json || strict_object(json), "runner %zu: DOCKER_AUTH_CONFIG is not one JSON "
				   "object, but its registries are shown (and an edit rewrites it): %s", i + 1, json);
			free(json);
			fbuf_free(&others);
		}
	}
	bool clean = true;
	for (size_t i = 0; i < 2; i++)
		if (runner == TOML_NONE || runner_at(d, i) == runner)
			clean = clean && runner_clean(d, i);
	const char *h = hosts.p;
	for (size_t i = 0; clean && r == 0 && i < n; i++, h += strlen(h) + 1) {
		FUZZ_CHECK(h < hosts.p + hosts.len, "registry_hosts: count past the buffer");
		FUZZ_CHECK(registry_has(d, runner, h), "host \"%s\" is listed but not there", h);
		struct buf fields = BUF_INIT;
		int rf = registry_fields(d, runner, h, &fields);
		FUZZ_CHECK(rf >= 0, "registry_fields(\"%s\"): %d", h, rf);
		for (const char *f = fields.p; f && f < fields.p + fields.len; f += strlen(f) + 1) {
			FUZZ_CHECK(registry_field_name(f), "field \"%s\" is not a field name", f);
			struct buf v = BUF_INIT;
			int rg = registry_get(d, runner, h, f, &v);
			FUZZ_CHECK(rg >= 0, "field %s of \"%s\" is listed but does not read: %d", f, h, rg);
			buf_free(&v);
		}
		buf_free(&fields);
	}
	buf_free(&hosts);
}

static void check_doc_after(const toml_doc *d, const struct snap *before)
{
	size_t len;
	const char *t = toml_text(d, &len);
	toml_doc *re = NULL;
	toml_error err;
	FUZZ_CHECK(toml_parse(t, len, &re, &err) == 0, "the text does not reparse: %s", err.msg);
	fuzz_check_doc(re, NULL);
	toml_free(re);
	for (int i = 0; i < 2; i++) {
		struct fbuf others = {0};
		char *json = split_env(d, (size_t)i, &others);
		FUZZ_CHECK(others.len == before->others[i].len &&
			   (!others.len || !memcmp(others.p, before->others[i].p, others.len)),
			   "runner %d: the other environment elements changed", i + 1);
		/* an element the edit wrote is a JSON object (one it did not
		 * touch may be anything: it came from the input) */
		bool same = json && before->json[i] && !strcmp(json, before->json[i]);
		if (json && !same) {
			cJSON *j = cJSON_Parse(json);
			FUZZ_CHECK(j && cJSON_IsObject(j), "runner %d: DOCKER_AUTH_CONFIG is not a JSON object: %s",
				   i + 1, json);
			cJSON_Delete(j);
		}
		free(json);
		fbuf_free(&others);
	}
}

/* The JSON of runner i without `a` before equals the JSON without `b`
 * after (the rest of the JSON was kept). */
static void check_rest_kept(const struct snap *before, const toml_doc *d, int i, const char *a,
			    const char *b, const char *what)
{
	struct fbuf others = {0};
	char *now = split_env(d, (size_t)i, &others);
	cJSON *x = without(before->json[i], a), *y = without(now, b);
	FUZZ_CHECK(x && y, "%s: runner %d: JSON does not parse", what, i + 1);
	FUZZ_CHECK(cJSON_Compare(x, y, true), "%s: runner %d: more of the JSON changed than the registry:\n"
		   "before %s\nafter  %s", what, i + 1, before->json[i] ? before->json[i] : "(none)",
		   now ? now : "(none)");
	cJSON_Delete(x);
	cJSON_Delete(y);
	free(now);
	fbuf_free(&others);
}

static bool valid_json_object(const char *json)
{
	cJSON *j = json ? cJSON_Parse(json) : NULL;
	bool ok = j && cJSON_IsObject(j) && !has_dup_keys(j);
	cJSON_Delete(j);
	return ok;
}

static void check_base64(const uint8_t *p, size_t n)
{
	struct buf e = BUF_INIT, d = BUF_INIT;
	FUZZ_CHECK(base64_encode(p, n, &e) == 0, "base64_encode failed");
	FUZZ_CHECK(e.len == (n + 2) / 3 * 4, "base64 of %zu bytes is %zu long", n, e.len);
	FUZZ_CHECK(base64_decode(e.p ? e.p : "", e.len, &d) == 0, "base64_decode of base64_encode failed");
	FUZZ_CHECK(d.len == n && (!n || !memcmp(d.p, p, n)), "base64 round trip changed the bytes");
	buf_free(&e);
	buf_free(&d);
	/* and arbitrary text: no crash, no over-read */
	struct buf any = BUF_INIT;
	base64_decode((const char *)p, n, &any);
	buf_free(&any);
}

/* FUZZ_STATS=1: how many edits of each kind were tried and succeeded */
static const char *const OPS[] = {"set", "unset", "add", "remove", "rename", "inherit"};
static unsigned long tried[6], succeeded[6];

static void print_stats(void)
{
	for (int i = 0; i < 6; i++)
		fprintf(stderr, "fuzz-registry: %-8s tried %lu, succeeded %lu\n", OPS[i], tried[i], succeeded[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool stats_on;
	if (!stats_on && getenv("FUZZ_STATS")) {
		stats_on = true;
		atexit(print_stats);
	}
	if (size < 1 || size > 8192)
		return 0;
	size_t n = data[0];
	if (n > size - 1)
		n = size - 1;
	struct rd sc = {data + 1, n, 0};
	const char *json = (const char *)data + 1 + n;
	size_t jlen = size - 1 - n;

	check_base64(data + 1, n);

	toml_doc *d = NULL;
	toml_error err;
	if (toml_parse(SKELETON, sizeof(SKELETON) - 1, &d, &err) != 0)
		fuzz_fail("the skeleton does not parse: %s", err.msg);
	char *elem = malloc(PLEN + jlen);
	if (!elem)
		abort();
	memcpy(elem, PREFIX, PLEN);
	memcpy(elem + PLEN, json, jlen);
	if (!set_string(d, env_elem(d, 0, "X"), elem, PLEN + jlen)) {
		/* not UTF-8, or a NUL where TOML cannot have one: not a config */
		free(elem);
		toml_free(d);
		return 0;
	}
	uint8_t how = byte(&sc);
	if (how & 1)
		set_string(d, env_elem(d, 1, "X"), elem, PLEN + jlen);
	else
		set_string(d, env_elem(d, 1, "X"), "Y=1", 3);
	if (how & 2)
		toml_remove(d, toml_get(d, runner_at(d, 1), "environment", 11), &err);
	free(elem);

	for (int step = 0; step < 8 && sc.i < sc.n; step++) {
		uint8_t op = byte(&sc) % 6, who = byte(&sc) % 3;
		uint32_t runner = who == 2 ? TOML_NONE : runner_at(d, who);
		check_reading(d, runner);

		/* a host: one the JSON has, or one from the script */
		char host[32];
		struct buf hosts = BUF_INIT;
		size_t nh = 0;
		registry_hosts(d, runner == TOML_NONE ? runner_at(d, 0) : runner, &hosts, &nh);
		uint8_t hb = byte(&sc);
		if (hb < 0xc0 && nh) {
			const char *h = hosts.p;
			for (size_t k = hb % nh; k; k--)
				h += strlen(h) + 1;
			snprintf(host, sizeof(host), "%s", h);
		} else {
			size_t hl = hb % 16, k = 0;
			for (; k < hl; k++)
				host[k] = (char)byte(&sc);
			host[k] = '\0';
		}
		char host2[32];
		size_t hl2 = byte(&sc) % 16, k2 = 0;
		for (; k2 < hl2; k2++)
			host2[k2] = (char)byte(&sc);
		host2[k2] = '\0';
		buf_free(&hosts);

		const char *field = FIELDS[byte(&sc) % 7];
		char value[256];
		size_t vlen;
		uint8_t vb = byte(&sc);
		if (vb < NVALUES) {
			vlen = strlen(VALUES[vb]);
			memcpy(value, VALUES[vb], vlen);
		} else {
			vlen = byte(&sc) % 64;
			for (size_t k = 0; k < vlen; k++)
				value[k] = (char)byte(&sc);
		}
		value[vlen] = '\0';

		struct snap before;
		take(d, &before);
		bool had[2];
		for (int i = 0; i < 2; i++)
			had[i] = registry_has(d, runner_at(d, (size_t)i), host);
		char why[256] = "";
		int r;
		const char *what;
		switch (op) {
		case 0:
			what = "set";
			r = registry_set(d, runner, host, field, value, vlen, why, sizeof(why));
			break;
		case 1:
			what = "unset";
			r = registry_unset(d, runner, host, field, why, sizeof(why));
			break;
		case 2:
			what = "add";
			r = registry_add(d, runner, host, why, sizeof(why));
			break;
		case 3:
			what = "remove";
			r = registry_remove(d, runner, host, why, sizeof(why));
			break;
		case 4:
			what = "rename";
			r = registry_rename(d, runner, host, host2, why, sizeof(why));
			break;
		default: {
			what = "inherit";
			toml_doc *common = NULL;
			if (toml_clone(d, &common) != 0)
				abort();
			r = registry_inherit(d, runner_at(d, 1), common, why, sizeof(why));
			toml_free(common);
			break;
		}
		}
		tried[op]++;
		if (r == 0)
			succeeded[op]++;
		if (r < 0) {
			/* no allocation fails here (inputs are small): -ENOMEM
			 * would be another error reported as "out of memory" */
			FUZZ_CHECK(r == -EINVAL || r == -ENOENT || r == -EEXIST,
				   "%s %s of \"%s\": unexpected %d (%s)", what, field, host, r, why);
			FUZZ_CHECK(why[0], "%s failed (%d) without a message", what, r);
			FUZZ_CHECK(fuzz_utf8_valid(why, strlen(why)), "%s: the message is not UTF-8", what);
			if (vlen >= 16)
				FUZZ_CHECK(!memmem(why, strlen(why), value, vlen), "%s: the message quotes the value: %s",
					   what, why);
			size_t len;
			const char *t = toml_text(d, &len);
			if (runner != TOML_NONE)
				FUZZ_CHECK(len == before.len && !memcmp(t, before.text, len),
					   "%s on one runner failed (%d: %s) but changed the document", what, r, why);
			/* every runner: the caller throws its working copy away */
			toml_free(d);
			if (toml_parse(before.text, before.len, &d, &err) != 0)
				fuzz_fail("the document before the edit does not reparse");
			drop(&before);
			continue;
		}
		check_doc_after(d, &before);
		/* what the edit says it did */
		int first = who == 1 ? 1 : 0, last = who == 0 ? 0 : 1;
		for (int i = first; i <= last && op != 5; i++) {
			uint32_t ri = runner_at(d, (size_t)i);
			bool plain = valid_json_object(before.json[i]) && before.clean[i];
			if (op == 0) {
				struct buf v = BUF_INIT;
				int rg = registry_get(d, ri, host, field, &v);
				FUZZ_CHECK(rg == 0, "set %s of \"%s\": reading it back gives %d", field, host, rg);
				FUZZ_CHECK(v.len == vlen && (!vlen || !memcmp(v.p, value, vlen)),
					   "set %s of \"%s\" to \"%s\": reads back \"%s\"", field, host, value,
					   v.p ? v.p : "");
				buf_free(&v);
				if (plain)
					check_rest_kept(&before, d, i, host, host, what);
			} else if (op == 1) {
				if (plain)
					check_rest_kept(&before, d, i, host, host, what);
			} else if (op == 2) {
				FUZZ_CHECK(registry_has(d, ri, host), "add \"%s\": not there", host);
				if (plain || !before.json[i])
					check_rest_kept(&before, d, i, NULL, host, what);
			} else if (op == 3) {
				/* registry_remove/rename find any member of "auths";
				 * only objects are registries (the mount never asks
				 * for another) */
				if (plain && had[i]) {
					FUZZ_CHECK(!registry_has(d, ri, host), "remove \"%s\": still there", host);
					check_rest_kept(&before, d, i, host, NULL, what);
				}
			} else if (op == 4 && had[i]) {
				FUZZ_CHECK(registry_has(d, ri, host2), "rename to \"%s\": not there", host2);
				if (plain) {
					FUZZ_CHECK(!strcmp(host, host2) || !registry_has(d, ri, host),
						   "rename \"%s\": still there", host);
				}
			}
		}
		drop(&before);
	}
	check_reading(d, runner_at(d, 0));
	check_reading(d, TOML_NONE);
	toml_free(d);
	return 0;
}
