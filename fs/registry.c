/* SPDX-License-Identifier: MIT */
/*
 * DOCKER_AUTH_CONFIG as directories: read and edited with cJSON, written
 * back as one element of the runner's `environment`. See registry.h.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/registry.h"

#define PREFIX "DOCKER_AUTH_CONFIG="
#define PLEN (sizeof(PREFIX) - 1)

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(const unsigned char *in, size_t len, struct buf *out)
{
	int r = 0;
	for (size_t i = 0; i < len && r >= 0; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < len ? in[i + 2] : 0);
		char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < len ? b64[v >> 6 & 63] : '=',
			     i + 2 < len ? b64[v & 63] : '='};
		r = buf_add(out, q, 4);
	}
	return r < 0 ? r : buf_add(out, "", 0);
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

int base64_decode(const char *in, size_t len, struct buf *out)
{
	unsigned v = 0;
	int bits = 0, r = 0;
	size_t pad = 0;
	for (size_t i = 0; i < len && r >= 0; i++) {
		if (in[i] == '=') {
			pad++;
			continue;
		}
		int d = b64val(in[i]);
		if (d < 0 || pad)
			return -EINVAL;
		v = v << 6 | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			r = buf_addc(out, (char)(v >> bits & 0xff));
		}
	}
	if (pad > 2 || (len && (len - pad) % 4 == 1))
		return -EINVAL;
	return r < 0 ? r : buf_add(out, "", 0);
}

/* ---- finding the JSON ---- */

static uint32_t runners_array(const toml_doc *d)
{
	uint32_t a = toml_get(d, TOML_ROOT, "runners", 7);
	return a != TOML_NONE && toml_type_of(d, a) == TOML_ARRAY ? a : TOML_NONE;
}

/* The `environment` element that holds DOCKER_AUTH_CONFIG (the last one:
 * the runner takes the last definition), or NONE. */
static uint32_t auth_element(const toml_doc *d, uint32_t runner, uint32_t *env)
{
	*env = toml_get(d, runner, "environment", 11);
	if (*env == TOML_NONE || toml_type_of(d, *env) != TOML_ARRAY)
		return TOML_NONE;
	uint32_t found = TOML_NONE;
	for (uint32_t c = toml_first(d, *env); c != TOML_NONE; c = toml_next(d, c)) {
		char *s;
		size_t len;
		if (toml_type_of(d, c) != TOML_STRING || toml_get_string(d, c, &s, &len) < 0)
			continue;
		if (len >= PLEN && !memcmp(s, PREFIX, PLEN))
			found = c;
		free(s);
	}
	return found;
}

/* ---- strict JSON ----
 *
 * cJSON takes more than the runner's Go (encoding/json, RFC 8259): NUL
 * and any other byte below 0x21 as white space, a UTF-8 BOM, control
 * characters inside strings, numbers such as 01, -01, 1., -.5 or 1.e5,
 * text after the value, and "\u00zz" (read as a NUL). JSON the runner
 * refuses must be invalid here too, or runnerfs would show registries
 * the runner does not have and an edit would rewrite the JSON into
 * something else. So the text is checked first. Invalid UTF-8 is not
 * refused (Go reads it as U+FFFD; TOML strings are UTF-8 anyway), nor a
 * lone surrogate such as \ud800 (Go reads it as U+FFFD too; cJSON
 * refuses it, so such JSON is still invalid here). */

/* as deep as cJSON goes: deeper JSON is invalid for it anyway, and the
 * scanner's stack of open brackets stays a fixed size */
#define JSON_DEPTH CJSON_NESTING_LIMIT

static const char *json_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* One or more digits at p: the end of them, or NULL. */
static const char *json_digits(const char *p, const char *e)
{
	const char *s = p;
	while (p < e && *p >= '0' && *p <= '9')
		p++;
	return p > s ? p : NULL;
}

/* A string from its opening quote: the end after the closing quote, or
 * NULL. \u0000 is refused although Go takes it: cJSON would end the
 * string there, and the name or value would change. */
static const char *json_string(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c != '\\')
			continue;
		if (++p >= e)
			return NULL;
		if (*p != 'u') {
			if (!*p || !strchr("\"\\/bfnrt", *p))
				return NULL;
			continue;
		}
		if (e - p < 5 || !memcmp(p + 1, "0000", 4))
			return NULL;
		for (int k = 1; k <= 4; k++)
			if (!p[k] || !strchr("0123456789abcdefABCDEF", p[k]))
				return NULL;
		p += 4;
	}
	return NULL;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? : the end, or
 * NULL. After a leading 0 the number ends: "01" is 0 then a stray 1,
 * which the caller refuses. */
static const char *json_number(const char *p, const char *e)
{
	if (p < e && *p == '-')
		p++;
	if (p < e && *p == '0')
		p++;
	else if (!(p = json_digits(p, e)))
		return NULL;
	if (p < e && *p == '.' && !(p = json_digits(p + 1, e)))
		return NULL;
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		p = json_digits(p, e);
	}
	return p;
}

static const char *json_word(const char *p, const char *e, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(e - p) >= n && !memcmp(p, w, n) ? p + n : NULL;
}

/* Is the text one JSON object, nothing but white space around it, that
 * Go's encoding/json would read? No recursion, no allocation: a bit per
 * open bracket says whether it is an object. */
static bool json_strict(const char *s, size_t n)
{
	const char *p = json_ws(s, s + n), *e = s + n;
	unsigned char obj[JSON_DEPTH / 8 + 1] = {0};
	int depth = 0;
	enum { VALUE, KEY, AFTER } want = VALUE;
	if (p >= e || *p != '{') /* the runner wants an object */
		return false;
	for (;;) {
		p = json_ws(p, e);
		if (want == AFTER) {
			if (depth == 0)
				return p == e;
			bool in_obj = obj[(depth - 1) / 8] >> (depth - 1) % 8 & 1;
			if (p < e && *p == ',') {
				p++;
				want = in_obj ? KEY : VALUE;
			} else if (p < e && *p == (in_obj ? '}' : ']')) {
				p++;
				depth--;
			} else {
				return false;
			}
			continue;
		}
		if (p >= e)
			return false;
		if (want == KEY) {
			if (*p != '"' || !(p = json_string(p, e)))
				return false;
			p = json_ws(p, e);
			if (p >= e || *p++ != ':')
				return false;
			want = VALUE;
			continue;
		}
		if (*p == '{' || *p == '[') {
			bool is_obj = *p == '{';
			if (depth >= JSON_DEPTH)
				return false;
			if (is_obj)
				obj[depth / 8] |= (unsigned char)(1u << depth % 8);
			else
				obj[depth / 8] &= (unsigned char)~(1u << depth % 8);
			depth++;
			p = json_ws(p + 1, e);
			if (p < e && *p == (is_obj ? '}' : ']')) {
				p++;
				depth--;
				want = AFTER;
			} else {
				want = is_obj ? KEY : VALUE;
			}
			continue;
		}
		if (*p == '"')
			p = json_string(p, e);
		else if (*p == '-' || (*p >= '0' && *p <= '9'))
			p = json_number(p, e);
		else if (*p == 't')
			p = json_word(p, e, "true");
		else if (*p == 'f')
			p = json_word(p, e, "false");
		else
			p = json_word(p, e, "null");
		if (!p)
			return false;
		want = AFTER;
	}
}

/* Does an object hold the same key twice? (cJSON keeps the first, the
 * runner's Go the last: what it means is open to doubt.) */
static bool dup_keys(const cJSON *o)
{
	for (const cJSON *a = o ? o->child : NULL; a; a = a->next) {
		for (const cJSON *b = a->next; b; b = b->next)
			if (a->string && b->string && !strcmp(a->string, b->string))
				return true;
		if (cJSON_IsObject(a) && dup_keys(a))
			return true;
	}
	return false;
}

/* The runner's JSON (NULL when it has none). -EINVAL when not valid. */
static int load(const toml_doc *d, uint32_t runner, cJSON **json, uint32_t *elem, uint32_t *env)
{
	*json = NULL;
	*elem = auth_element(d, runner, env);
	if (*elem == TOML_NONE)
		return 0;
	char *s;
	size_t len;
	int r = toml_get_string(d, *elem, &s, &len);
	if (r < 0)
		return r;
	/* the whole value must be one JSON object the runner would read
	 * (see json_strict) */
	const char *end = NULL;
	if (!json_strict(s + PLEN, len - PLEN)) {
		free(s);
		return -EINVAL;
	}
	*json = cJSON_ParseWithLengthOpts(s + PLEN, len - PLEN, &end, 0);
	bool whole = *json && end;
	for (const char *p = end; whole && p < s + len; p++)
		whole = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
	free(s);
	if (*json && cJSON_IsObject(*json) && whole && !dup_keys(*json))
		return 0;
	cJSON_Delete(*json);
	*json = NULL;
	return -EINVAL;
}

static cJSON *entry_of(cJSON *json, const char *host)
{
	cJSON *auths = json ? cJSON_GetObjectItemCaseSensitive(json, "auths") : NULL;
	cJSON *e = cJSON_IsObject(auths) ? cJSON_GetObjectItemCaseSensitive(auths, host) : NULL;
	return cJSON_IsObject(e) ? e : NULL;
}

static const char *str_field(cJSON *e, const char *name)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(e, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* user and password of an entry, from auth or its own fields */
static int credentials(cJSON *e, struct buf *user, struct buf *pass)
{
	const char *auth = str_field(e, "auth");
	if (auth) {
		struct buf dec = BUF_INIT;
		int r = base64_decode(auth, strlen(auth), &dec);
		const char *colon = r == 0 && dec.p ? memchr(dec.p, ':', dec.len) : NULL;
		if (colon) {
			buf_add(user, dec.p, (size_t)(colon - dec.p));
			buf_add(pass, colon + 1, dec.len - (size_t)(colon - dec.p) - 1);
		}
		buf_free(&dec);
		return colon ? 0 : -EINVAL;
	}
	const char *u = str_field(e, "username"), *p = str_field(e, "password");
	buf_adds(user, u ? u : "");
	buf_adds(pass, p ? p : "");
	return 0;
}

bool registry_field_name(const char *f)
{
	return !strcmp(f, "username") || !strcmp(f, "password") || !strcmp(f, "auth") ||
	       !strcmp(f, "identitytoken") || !strcmp(f, "registrytoken") || !strcmp(f, "email");
}

/* ---- reading ---- */

static size_t count_runners(const toml_doc *d)
{
	uint32_t a = runners_array(d);
	return a == TOML_NONE ? 0 : toml_count(d, a);
}

static uint32_t runner_at(const toml_doc *d, size_t i)
{
	return toml_at(d, runners_array(d), i);
}

/* Does every runner have `host` with the same user and password? */
static bool common_host(const toml_doc *d, const char *host)
{
	size_t n = count_runners(d);
	struct buf u0 = BUF_INIT, p0 = BUF_INIT;
	bool same = n > 0;
	for (size_t i = 0; i < n && same; i++) {
		cJSON *json;
		uint32_t elem, env;
		struct buf u = BUF_INIT, p = BUF_INIT;
		if (load(d, runner_at(d, i), &json, &elem, &env) < 0 || !entry_of(json, host) ||
		    credentials(entry_of(json, host), &u, &p) < 0)
			same = false;
		else if (i == 0) {
			buf_add(&u0, u.p ? u.p : "", u.len);
			buf_add(&p0, p.p ? p.p : "", p.len);
		} else {
			same = u.len == u0.len && p.len == p0.len && (!u.len || !memcmp(u.p, u0.p, u.len)) &&
			       (!p.len || !memcmp(p.p, p0.p, p.len));
		}
		cJSON_Delete(json);
		buf_free(&u);
		buf_free(&p);
	}
	buf_free(&u0);
	buf_free(&p0);
	return same;
}

int registry_hosts(const toml_doc *d, uint32_t runner, struct buf *out, size_t *count)
{
	cJSON *json;
	uint32_t elem, env;
	*count = 0;
	int r = load(d, runner == TOML_NONE ? runner_at(d, 0) : runner, &json, &elem, &env);
	if (runner == TOML_NONE && count_runners(d) == 0)
		return 0;
	if (r < 0)
		return r;
	cJSON *auths = json ? cJSON_GetObjectItemCaseSensitive(json, "auths") : NULL;
	cJSON *e;
	if (!cJSON_IsObject(auths))
		auths = NULL;
	cJSON_ArrayForEach(e, auths)
	{
		if (!e->string || !cJSON_IsObject(e) || (runner == TOML_NONE && !common_host(d, e->string)))
			continue;
		if ((r = buf_add(out, e->string, strlen(e->string) + 1)) < 0)
			break;
		(*count)++;
	}
	cJSON_Delete(json);
	return r < 0 ? r : 0;
}

bool registry_has(const toml_doc *d, uint32_t runner, const char *host)
{
	if (runner == TOML_NONE)
		return common_host(d, host);
	cJSON *json;
	uint32_t elem, env;
	bool has = load(d, runner, &json, &elem, &env) == 0 && entry_of(json, host);
	cJSON_Delete(json);
	return has;
}

/* The runner's JSON and its entry for host (for NONE: the first
 * runner's, which every runner shares). On success the caller frees json. */
static int load_entry(const toml_doc *d, uint32_t runner, const char *host, cJSON **json,
		      cJSON **e)
{
	uint32_t elem, env;
	int r = load(d, runner == TOML_NONE ? runner_at(d, 0) : runner, json, &elem, &env);
	*e = r == 0 ? entry_of(*json, host) : NULL;
	if (!*e) {
		cJSON_Delete(*json);
		*json = NULL;
		return r < 0 ? r : -ENOENT;
	}
	return 0;
}

int registry_fields(const toml_doc *d, uint32_t runner, const char *host, struct buf *out)
{
	cJSON *json, *e;
	int r = load_entry(d, runner, host, &json, &e);
	if (r < 0)
		return r;
	/* username and password come from auth only when it decodes */
	struct buf u = BUF_INIT, pw = BUF_INIT;
	bool has_auth = str_field(e, "auth") != NULL && credentials(e, &u, &pw) == 0;
	buf_free(&u);
	buf_free(&pw);
	static const char *const order[] = {"username", "password", "auth", "identitytoken",
					    "registrytoken", "email", NULL};
	for (int i = 0; order[i] && r >= 0; i++) {
		bool shown = str_field(e, order[i]) != NULL ||
			     (has_auth && (!strcmp(order[i], "username") || !strcmp(order[i], "password")));
		if (shown)
			r = buf_add(out, order[i], strlen(order[i]) + 1);
	}
	cJSON_Delete(json);
	return r;
}

int registry_get(const toml_doc *d, uint32_t runner, const char *host, const char *field,
		 struct buf *out)
{
	cJSON *json, *e;
	int r = load_entry(d, runner, host, &json, &e);
	if (r < 0)
		return r;
	const char *v = str_field(e, field);
	if (!strcmp(field, "username") || !strcmp(field, "password")) {
		struct buf u = BUF_INIT, p = BUF_INIT;
		r = credentials(e, &u, &p);
		if (r == 0) {
			struct buf *src = field[0] == 'u' ? &u : &p;
			r = buf_add(out, src->p ? src->p : "", src->len);
		}
		buf_free(&u);
		buf_free(&p);
	} else if (v) {
		r = buf_adds(out, v);
	} else {
		r = -ENOENT;
	}
	cJSON_Delete(json);
	return r;
}

/* ---- writing ---- */

/* Put the JSON back as the runner's DOCKER_AUTH_CONFIG element: in place
 * of the old one, or at the end of `environment` (made if needed). With
 * json NULL the element goes. */
static int store(toml_doc *d, uint32_t runner, uint32_t elem, uint32_t env, cJSON *json,
		 char *why, size_t whylen)
{
	toml_error err = {0};
	int r;
	if (!json) {
		/* an environment that held nothing else goes with it: adding
		 * the first registry to a runner without one made it, and
		 * `environment = []` left behind would be a line nobody wrote */
		bool only = elem != TOML_NONE && env != TOML_NONE && toml_count(d, env) == 1;
		r = elem == TOML_NONE ? 0 : toml_remove(d, only ? env : elem, &err);
	} else {
		char *text = cJSON_PrintUnformatted(json);
		if (!text)
			return -ENOMEM;
		struct buf s = BUF_INIT;
		buf_adds(&s, PREFIX);
		buf_adds(&s, text);
		free(text);
		toml_value v = {.type = TOML_STRING, .str = s.p, .len = s.len};
		if (elem != TOML_NONE) {
			r = toml_set(d, elem, &v, &err);
		} else if (env != TOML_NONE) {
			size_t n = toml_count(d, env), k = 0;
			toml_value *vals = calloc(n + 1, sizeof(*vals));
			char **keep = calloc(n + 1, sizeof(*keep));
			r = vals && keep ? 0 : -ENOMEM;
			for (uint32_t c = toml_first(d, env); c != TOML_NONE && r == 0; c = toml_next(d, c), k++) {
				if (toml_type_of(d, c) != TOML_STRING) {
					snprintf(why, whylen, "environment holds something that is not a string");
					r = -EINVAL;
					break;
				}
				size_t len;
				r = toml_get_string(d, c, &keep[k], &len);
				vals[k] = (toml_value){.type = TOML_STRING, .str = keep[k], .len = len};
			}
			vals[k] = v;
			if (r == 0)
				r = toml_set_array(d, env, vals, k + 1, &err);
			for (size_t i = 0; keep && i < k; i++)
				free(keep[i]);
			free(keep);
			free(vals);
		} else {
			r = toml_insert_array(d, runner, "environment", 11, &v, 1, &err);
		}
		buf_free(&s);
	}
	if (r < 0 && !why[0])
		snprintf(why, whylen, "%s", err.msg[0] ? err.msg : strerror(-r));
	return r;
}

/* Is the JSON nothing but an empty "auths"? Then its element can go. */
static bool empty_json(cJSON *json)
{
	cJSON *c;
	cJSON_ArrayForEach(c, json)
	{
		if (!c->string || strcmp(c->string, "auths") || cJSON_GetArraySize(c) > 0)
			return false;
	}
	return true;
}

typedef int (*reg_edit_fn)(cJSON **json, const void *arg, char *why, size_t whylen);

/* Load, edit, store one runner; NONE: every runner, in one document. */
static int edit(toml_doc *d, uint32_t runner, reg_edit_fn fn, const void *arg, char *why,
		size_t whylen)
{
	size_t n = runner == TOML_NONE ? count_runners(d) : 1;
	if (runner == TOML_NONE && n == 0) {
		snprintf(why, whylen, "there are no runners");
		return -ENOENT;
	}
	for (size_t i = 0; i < n; i++) {
		/* node ids change with each edit: find the runner again */
		uint32_t rn = runner == TOML_NONE ? runner_at(d, i) : runner;
		cJSON *json;
		uint32_t elem, env;
		int r = load(d, rn, &json, &elem, &env);
		if (r == -EINVAL) {
			size_t pos = i;
			for (size_t k = 0; runner != TOML_NONE && k < count_runners(d); k++)
				if (runner_at(d, k) == rn)
					pos = k;
			snprintf(why, whylen,
				 "DOCKER_AUTH_CONFIG of runner %zu (in file order) is not valid JSON; fix it in its environment first",
				 pos + 1);
			return -EINVAL;
		}
		if (r == 0)
			r = fn(&json, arg, why, whylen);
		if (r == 0)
			r = store(d, rn, elem, env, json && empty_json(json) ? NULL : json, why, whylen);
		cJSON_Delete(json);
		if (r < 0)
			return r;
	}
	return 0;
}

struct set_arg {
	const char *host, *field, *value;
	size_t len;
};

static int set_fn(cJSON **json, const void *arg, char *why, size_t whylen)
{
	const struct set_arg *a = arg;
	cJSON *e = entry_of(*json, a->host);
	if (!e) {
		snprintf(why, whylen, "no such registry");
		return -ENOENT;
	}
	char *value = strndup(a->value, a->len);
	if (!value)
		return -ENOMEM;
	int r = 0;
	if (memchr(a->value, '\0', a->len)) {
		snprintf(why, whylen, "a credential cannot contain a NUL byte");
		r = -EINVAL;
	} else if (!strcmp(a->field, "username") || !strcmp(a->field, "password")) {
		bool by_fields = !str_field(e, "auth") && (str_field(e, "username") || str_field(e, "password"));
		if (by_fields) {
			/* the field keeps its place among the others */
			cJSON *old = cJSON_GetObjectItemCaseSensitive(e, a->field);
			if (cJSON_IsString(old))
				r = cJSON_SetValuestring(old, value) ? 0 : -ENOMEM;
			else
				r = cJSON_AddStringToObject(e, a->field, value) ? 0 : -ENOMEM;
		} else {
			/* docker login's form: auth = base64(user:password) */
			struct buf u = BUF_INIT, p = BUF_INIT, pair = BUF_INIT, enc = BUF_INIT;
			credentials(e, &u, &p);
			struct buf *mine = a->field[0] == 'u' ? &u : &p;
			buf_reset(mine);
			buf_add(mine, value, a->len);
			if (a->field[0] == 'u' && (!a->len || memchr(value, ':', a->len))) {
				snprintf(why, whylen, a->len ? "a registry user name cannot contain ':'"
							     : "a registry user name cannot be empty");
				r = -EINVAL;
			} else {
				buf_add(&pair, u.p ? u.p : "", u.len);
				buf_addc(&pair, ':');
				buf_add(&pair, p.p ? p.p : "", p.len);
				r = base64_encode((const unsigned char *)pair.p, pair.len, &enc);
				if (r == 0) {
					cJSON *old = cJSON_GetObjectItemCaseSensitive(e, "auth");
					if (old)
						r = cJSON_SetValuestring(old, enc.p) ? 0 : -ENOMEM;
					else
						r = cJSON_AddStringToObject(e, "auth", enc.p) ? 0 : -ENOMEM;
				}
			}
			buf_free(&u);
			buf_free(&p);
			buf_free(&pair);
			buf_free(&enc);
		}
	} else if (!strcmp(a->field, "auth")) {
		struct buf dec = BUF_INIT;
		r = base64_decode(value, a->len, &dec);
		const char *colon = r == 0 && dec.p ? memchr(dec.p, ':', dec.len) : NULL;
		if (r < 0 || !colon || colon == dec.p) {
			snprintf(why, whylen, "auth must be the base64 of user:password with a user name");
			r = -EINVAL;
		} else {
			cJSON *old = cJSON_GetObjectItemCaseSensitive(e, "auth");
			r = old ? (cJSON_SetValuestring(old, value) ? 0 : -ENOMEM)
				: (cJSON_AddStringToObject(e, "auth", value) ? 0 : -ENOMEM);
		}
		buf_free(&dec);
	} else {
		cJSON *old = cJSON_GetObjectItemCaseSensitive(e, a->field);
		r = old && cJSON_IsString(old) ? (cJSON_SetValuestring(old, value) ? 0 : -ENOMEM)
					       : (cJSON_AddStringToObject(e, a->field, value) ? 0 : -ENOMEM);
	}
	free(value);
	return r;
}

int registry_set(toml_doc *d, uint32_t runner, const char *host, const char *field,
		 const char *value, size_t len, char *why, size_t whylen)
{
	if (!registry_field_name(field)) {
		snprintf(why, whylen, "a registry has username, password and auth");
		return -EINVAL;
	}
	struct set_arg a = {host, field, value, len};
	return edit(d, runner, set_fn, &a, why, whylen);
}

static int unset_fn(cJSON **json, const void *arg, char *why, size_t whylen)
{
	const struct set_arg *a = arg;
	cJSON *e = entry_of(*json, a->host);
	if (!e) {
		snprintf(why, whylen, "no such registry");
		return -ENOENT;
	}
	cJSON *auth = cJSON_GetObjectItemCaseSensitive(e, "auth");
	if (cJSON_IsString(auth) && (!strcmp(a->field, "username") || !strcmp(a->field, "password"))) {
		/* username and password live in auth: removing one empties
		 * its half, so the others stay until they are removed too
		 * (rm -r removes username, password, auth in that order) */
		struct buf u = BUF_INIT, p = BUF_INIT, pair = BUF_INIT, enc = BUF_INIT;
		credentials(e, &u, &p);
		buf_reset(a->field[0] == 'u' ? &u : &p);
		buf_add(&pair, u.p ? u.p : "", u.len);
		buf_addc(&pair, ':');
		buf_add(&pair, p.p ? p.p : "", p.len);
		int r = base64_encode((const unsigned char *)pair.p, pair.len, &enc);
		if (r == 0)
			r = cJSON_SetValuestring(auth, enc.p) ? 0 : -ENOMEM;
		buf_free(&u);
		buf_free(&p);
		buf_free(&pair);
		buf_free(&enc);
		return r;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(e, a->field);
	return 0;
}

int registry_unset(toml_doc *d, uint32_t runner, const char *host, const char *field,
		   char *why, size_t whylen)
{
	struct set_arg a = {host, field, NULL, 0};
	return edit(d, runner, unset_fn, &a, why, whylen);
}

static int add_fn(cJSON **json, const void *arg, char *why, size_t whylen)
{
	const char *host = arg;
	if (!*json && !(*json = cJSON_CreateObject()))
		return -ENOMEM;
	cJSON *auths = cJSON_GetObjectItemCaseSensitive(*json, "auths");
	if (!auths && !(auths = cJSON_AddObjectToObject(*json, "auths")))
		return -ENOMEM;
	if (!cJSON_IsObject(auths)) {
		snprintf(why, whylen, "\"auths\" in DOCKER_AUTH_CONFIG is not an object");
		return -EINVAL;
	}
	if (cJSON_GetObjectItemCaseSensitive(auths, host)) {
		snprintf(why, whylen, "the registry already exists");
		return -EEXIST;
	}
	return cJSON_AddObjectToObject(auths, host) ? 0 : -ENOMEM;
}

/* The runners (by name, else by place) that already have `host`, for
 * the sentence of a refused root mkdir. */
static size_t holders(const toml_doc *d, const char *host, char *out, size_t outlen)
{
	size_t n = count_runners(d), found = 0, used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		uint32_t rn = runner_at(d, i);
		cJSON *json, *e;
		if (load_entry(d, rn, host, &json, &e) < 0)
			continue;
		cJSON_Delete(json);
		char *name = NULL;
		size_t len = 0;
		uint32_t nn = toml_get(d, rn, "name", 4);
		if (nn != TOML_NONE && toml_type_of(d, nn) == TOML_STRING && toml_get_string(d, nn, &name, &len) == 0 &&
		    len && !memchr(name, '\0', len)) {
			if (used < outlen)
				used += (size_t)snprintf(out + used, outlen - used, "%s%s", found ? ", " : "", name);
		} else if (used < outlen) {
			used += (size_t)snprintf(out + used, outlen - used, "%srunner %zu in file order", found ? ", " : "", i + 1);
		}
		free(name);
		found++;
	}
	return found;
}

int registry_add(toml_doc *d, uint32_t runner, const char *host, char *why, size_t whylen)
{
	if (!*host) {
		snprintf(why, whylen, "a registry needs a name");
		return -EINVAL;
	}
	char who[200];
	if (runner == TOML_NONE && holders(d, host, who, sizeof(who))) {
		snprintf(why, whylen,
			 "%s already %s it with %s own credentials, so it is not common to every runner; "
			 "add it under each other runner's registries/, or remove it there first",
			 who, strchr(who, ',') ? "have" : "has", strchr(who, ',') ? "their" : "its");
		return -EEXIST;
	}
	return edit(d, runner, add_fn, host, why, whylen);
}

static int remove_fn(cJSON **json, const void *arg, char *why, size_t whylen)
{
	cJSON *auths = *json ? cJSON_GetObjectItemCaseSensitive(*json, "auths") : NULL;
	if (!auths || !cJSON_GetObjectItemCaseSensitive(auths, arg)) {
		snprintf(why, whylen, "no such registry");
		return -ENOENT;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(auths, arg);
	return 0;
}

int registry_remove(toml_doc *d, uint32_t runner, const char *host, char *why, size_t whylen)
{
	return edit(d, runner, remove_fn, host, why, whylen);
}

struct rename_arg {
	const char *from, *to;
};

static int rename_fn(cJSON **json, const void *arg, char *why, size_t whylen)
{
	const struct rename_arg *a = arg;
	cJSON *auths = *json ? cJSON_GetObjectItemCaseSensitive(*json, "auths") : NULL;
	cJSON *e = auths ? cJSON_GetObjectItemCaseSensitive(auths, a->from) : NULL;
	if (!e) {
		snprintf(why, whylen, "no such registry");
		return -ENOENT;
	}
	if (cJSON_GetObjectItemCaseSensitive(auths, a->to)) {
		snprintf(why, whylen, "a registry of that name already exists");
		return -EEXIST;
	}
	/* the key changes; its place among the others stays */
	char *name = strdup(a->to);
	if (!name)
		return -ENOMEM;
	if (!(e->type & cJSON_StringIsConst))
		free(e->string);
	e->string = name;
	e->type &= ~cJSON_StringIsConst;
	return 0;
}

int registry_rename(toml_doc *d, uint32_t runner, const char *from, const char *to, char *why,
		    size_t whylen)
{
	struct rename_arg a = {from, to};
	return edit(d, runner, rename_fn, &a, why, whylen);
}

struct move_arg {
	const char *host;
	cJSON *entry; /* the entry, moved in whole (credentials, unknown fields) */
};

static int put_fn(cJSON **json, const void *arg, char *why, size_t whylen)
{
	const struct move_arg *a = arg;
	int r = add_fn(json, a->host, why, whylen);
	if (r == -EEXIST)
		snprintf(why, whylen, "that runner already has a registry of that name");
	if (r < 0)
		return r;
	cJSON *auths = cJSON_GetObjectItemCaseSensitive(*json, "auths");
	cJSON *copy = cJSON_Duplicate(a->entry, 1);
	return copy && cJSON_ReplaceItemInObjectCaseSensitive(auths, a->host, copy) ? 0 : -ENOMEM;
}

static size_t runner_index(const toml_doc *d, uint32_t runner)
{
	size_t n = count_runners(d);
	for (size_t i = 0; i < n; i++)
		if (runner_at(d, i) == runner)
			return i;
	return n;
}

int registry_move(toml_doc *d, uint32_t from, uint32_t to, const char *host, const char *to_host,
		  char *why, size_t whylen)
{
	cJSON *json, *e;
	size_t fi = runner_index(d, from), n = count_runners(d);
	if (from == TOML_NONE || to == TOML_NONE || fi == n || runner_index(d, to) == n) {
		snprintf(why, whylen, "registries move between runners' registries/ only");
		return -EPERM;
	}
	int r = load_entry(d, from, host, &json, &e);
	if (r < 0) {
		snprintf(why, whylen, "no such registry");
		return r;
	}
	struct move_arg a = {to_host, e};
	r = edit(d, to, put_fn, &a, why, whylen);
	/* node ids change with each edit: find the source runner again */
	if (r == 0)
		r = registry_remove(d, runner_at(d, fi), host, why, whylen);
	cJSON_Delete(json);
	return r;
}

struct inherit_arg {
	cJSON *entries; /* host -> entry, from a runner of the old document */
};

static int inherit_fn(cJSON **json, const void *arg, char *why, size_t whylen)
{
	const struct inherit_arg *a = arg;
	cJSON *e;
	(void)why;
	(void)whylen;
	cJSON_ArrayForEach(e, a->entries)
	{
		int r = add_fn(json, e->string, why, whylen);
		if (r == -EEXIST)
			continue;
		if (r < 0)
			return r;
		cJSON *auths = cJSON_GetObjectItemCaseSensitive(*json, "auths");
		cJSON_ReplaceItemInObjectCaseSensitive(auths, e->string, cJSON_Duplicate(e, 1));
	}
	return 0;
}

int registry_inherit(toml_doc *d, uint32_t runner, const toml_doc *common, char *why,
		     size_t whylen)
{
	struct buf hosts = BUF_INIT;
	size_t n;
	if (registry_hosts(common, TOML_NONE, &hosts, &n) < 0 || n == 0) {
		buf_free(&hosts);
		return 0;
	}
	cJSON *json;
	uint32_t elem, env;
	int r = load(common, runner_at(common, 0), &json, &elem, &env);
	struct inherit_arg a = {cJSON_CreateObject()};
	const char *h = hosts.p;
	for (size_t i = 0; r == 0 && i < n; i++, h += strlen(h) + 1) {
		cJSON *e = entry_of(json, h);
		if (e)
			cJSON_AddItemToObject(a.entries, h, cJSON_Duplicate(e, 1));
	}
	if (r == 0)
		r = edit(d, runner, inherit_fn, &a, why, whylen);
	cJSON_Delete(a.entries);
	cJSON_Delete(json);
	buf_free(&hosts);
	return r;
}
