/* SPDX-License-Identifier: MIT */
/*
 * The tree of docs/filesystem.md ("The tree"): which path names which part of the
 * document, how a value reads as a file, and how what a person writes
 * becomes an edit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/registry.h"
#include "runnerfs/tree.h"

const char *const tree_ctl_names[CTL_COUNT] = {"status", "errors", "reload"};

#define CONFIG_NAME "config.toml"
#define CTL_NAME ".runnerfs"
#define HIST_NAME "history"

/* ---- names ---- */

int tree_encode_name(const char *key, size_t klen, struct buf *out)
{
	if (klen == 0)
		return buf_addc(out, '%');
	if ((klen == 1 && key[0] == '.') || (klen == 2 && key[0] == '.' && key[1] == '.'))
		return buf_adds(out, klen == 1 ? "%2E" : "%2E%2E");
	int r = 0;
	for (size_t i = 0; i < klen && r >= 0; i++) {
		switch (key[i]) {
		case '/': r = buf_adds(out, "%2F"); break;
		case '%': r = buf_adds(out, "%25"); break;
		case '#': r = buf_adds(out, "%23"); break;
		case '\0': r = buf_adds(out, "%00"); break;
		default: r = buf_addc(out, key[i]);
		}
	}
	return r;
}

int tree_decode_name(const char *name, char *key, size_t cap, size_t *klen)
{
	size_t n = 0;
	if (!strcmp(name, "%")) {
		key[0] = '\0';
		*klen = 0;
		return 0;
	}
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (c == '%') {
			if (!strncmp(p, "%2F", 3))
				c = '/';
			else if (!strncmp(p, "%25", 3))
				c = '%';
			else if (!strncmp(p, "%23", 3))
				c = '#';
			else if (!strncmp(p, "%00", 3))
				c = '\0';
			else if (!strncmp(p, "%2E", 3))
				c = '.';
			else
				return -EINVAL;
			p += 2;
		} else if (c == '#') {
			return -EINVAL;
		}
		if (n + 1 >= cap)
			return -ENAMETOOLONG;
		key[n++] = c;
	}
	key[n] = '\0';
	*klen = n;
	/* only the canonical spelling names a key: %2E stands for . only in
	 * the names "." and ".." */
	struct buf b = BUF_INIT;
	int r = tree_encode_name(key, n, &b);
	if (r >= 0 && strcmp(b.p, name))
		r = -EINVAL;
	buf_free(&b);
	return r;
}

int tree_runner_names(struct rfs *fs, char ***names, size_t *n)
{
	const struct name_list *l;
	struct name_list *tmp;
	if (fs->names.in_txn)
		return -EBUSY; /* the list may not match the document */
	uint32_t a = toml_get(fs->doc, TOML_ROOT, "runners", 7);
	if (a != TOML_NONE && toml_type_of(fs->doc, a) != TOML_ARRAY)
		a = TOML_NONE;
	int rc = names_of(fs, fs->doc, "runners", 7, a, true, &l, &tmp);
	if (rc == -EAGAIN)
		return tree_runner_names(fs, names, n); /* a commit was in flight */
	if (rc < 0)
		return rc;
	names_list_free(tmp); /* NULL outside a transaction */
	*names = l->names;
	*n = l->n;
	return 0;
}

/* ---- resolving ---- */

static int resolve_in(struct rfs *fs, toml_doc *d, const char *path, struct tree_ref *r);

static const struct schema_table *sub_schema(const struct schema_key *sk)
{
	return sk && (sk->kind == SK_TABLE || sk->kind == SK_ENTRIES) ? sk->table : NULL;
}

/* Schema of child `key` of a table whose own key is `tk` (maps hold free
 * keys of one type) and whose schema is st. */
static const struct schema_key *child_schema(const struct schema_table *st,
					     const struct schema_key *tk, const char *key,
					     size_t klen)
{
	if (tk && tk->kind == SK_MAP)
		return tk;
	return st ? schema_key(st, key, klen) : NULL;
}

static bool is_tables_array(const toml_doc *d, uint32_t n)
{
	if (toml_type_of(d, n) != TOML_ARRAY)
		return false;
	if (toml_form_of(d, n) == TOML_FORM_AOT)
		return true;
	if (toml_count(d, n) == 0)
		return false;
	for (uint32_t c = toml_first(d, n); c != TOML_NONE; c = toml_next(d, c))
		if (toml_type_of(d, c) != TOML_TABLE)
			return false;
	return true;
}

static bool parse_index(const char *s, size_t *out)
{
	if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 9)
		return false;
	size_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (size_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* Is `path` (a directory path) recorded as an empty directory? */
static const struct rfs_map_entry *is_emptydir(struct rfs *fs, const char *path, size_t len)
{
	for (size_t i = 0; i < fs->chg.emptydirs.n; i++) {
		const char *k = fs->chg.emptydirs.v[i].key;
		if (strlen(k) == len && !strncmp(k, path, len))
			return &fs->chg.emptydirs.v[i];
	}
	return NULL;
}

int tree_resolve(struct rfs *fs, const char *path, struct tree_ref *r)
{
	return tree_resolve_in(fs, fs->doc, path, r);
}

int tree_resolve_in(struct rfs *fs, toml_doc *d, const char *path, struct tree_ref *r)
{
	bool ours = d == fs->doc;
	int rc;
	/* -EAGAIN: names_of waited for a commit in flight (names.h); the
	 * document is ours again, maybe another one */
	while ((rc = resolve_in(fs, d, path, r)) == -EAGAIN && ours)
		d = fs->doc;
	return rc;
}

const char *tree_half_password(struct rfs *fs, const char *reg)
{
	char key[4200];
	if (snprintf(key, sizeof(key), "%s/password", reg) >= (int)sizeof(key))
		return NULL;
	struct rfs_map_entry *e = rfs_map_get(&fs->chg.halfreg, key);
	return e ? e->val : NULL;
}

/* Append "/comp" (or "comp" at the root) to r->canon. */
static int canon_add(struct tree_ref *r, const char *comp)
{
	size_t n = strlen(r->canon), c = strlen(comp);
	if (n + c + 2 > sizeof(r->canon))
		return -ENAMETOOLONG;
	if (n)
		r->canon[n++] = '/';
	memcpy(r->canon + n, comp, c + 1);
	return 0;
}

static int resolve_in(struct rfs *fs, toml_doc *d, const char *path, struct tree_ref *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = TK_ROOT;
	r->node = TOML_ROOT;
	r->parent = TOML_NONE;
	r->st = schema_root();
	const struct schema_key *tk = NULL; /* the schema key of the current table */

	const char *p = path;
	int depth = 0;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t clen = e ? (size_t)(e - p) : strlen(p);
		char comp[256];
		if (clen == 0 || clen >= sizeof(comp))
			return clen ? -ENAMETOOLONG : -ENOENT;
		memcpy(comp, p, clen);
		comp[clen] = '\0';
		bool last = !e;
		size_t plen = (size_t)(p - path) + clen; /* path up to this component */
		bool canon_done = false;

		if (depth == 0 && !strcmp(comp, CONFIG_NAME)) {
			if (!last)
				return -ENOTDIR;
			r->kind = TK_CONFIG;
			r->node = TOML_NONE;
			return 0;
		}
		if (depth == 0 && !strcmp(comp, CTL_NAME)) {
			r->kind = TK_CTLDIR;
			r->node = TOML_NONE;
		} else if (r->kind == TK_CTLDIR) {
			r->kind = TK_MISSING;
			for (int i = 0; i < CTL_COUNT; i++)
				if (!strcmp(comp, tree_ctl_names[i])) {
					r->kind = TK_CTLFILE;
					r->index = i;
				}
			if (!strcmp(comp, HIST_NAME))
				r->kind = TK_HISTDIR;
			if (r->kind == TK_MISSING)
				return -ENOENT;
		} else if (r->kind == TK_HISTDIR) {
			size_t n;
			if (!parse_index(comp, &n) || n < 1 || (int)n > fs->hist.n)
				return -ENOENT;
			r->kind = TK_HISTFILE;
			r->index = (int)n;
		} else if (r->kind == TK_ROOT || r->kind == TK_TABLE ||
			   (r->kind == TK_EMPTYDIR && !r->entries_dir)) {
			/* (an empty table that vanished with its last key holds
			 * only other such tables) */
			size_t klen;
			int rc = tree_decode_name(comp, r->key, sizeof(r->key), &klen);
			if (rc == -EINVAL && last) {
				/* not the spelling of any key (emacs's .#key, #key#):
				 * a name only a scratch file can have */
				r->kind = TK_MISSING;
				snprintf(r->key, sizeof(r->key), "%s", comp);
				r->klen = strlen(r->key);
				r->parent = r->node;
				r->pst = r->st;
				r->sk = NULL;
				r->node = TOML_NONE;
				r->entry = r->runner_entry = false;
				r->noncanonical = true;
				return 0;
			}
			if (rc < 0)
				return rc;
			r->klen = klen;
			uint32_t t = r->node;
			const struct schema_table *st = r->st;
			const struct schema_key *sk = child_schema(st, tk, r->key, klen);
			uint32_t c = toml_get(d, t, r->key, klen);
			bool runner_entry = r->runner_entry;
			r->parent = t;
			r->pst = st;
			r->sk = sk;
			r->entry = false;
			r->runner_entry = false;
			if (c == TOML_NONE && klen == 10 && !memcmp(r->key, "registries", 10) &&
			    (depth == 0 || runner_entry)) {
				r->kind = TK_REGDIR;
				r->runner = depth == 0 ? TOML_NONE : t;
				r->node = TOML_NONE;
			} else if (c == TOML_NONE) {
				bool runners = depth == 0 && klen == 7 && !memcmp(r->key, "runners", 7);
				const struct rfs_map_entry *ed = runners ? NULL : is_emptydir(fs, path, plen);
				if (runners || ed) {
					r->kind = TK_EMPTYDIR;
					r->node = TOML_NONE;
					r->runners = runners;
					/* (an array of tables the schema does not know
					 * says so itself) */
					r->entries_dir = runners || (sk && sk->kind == SK_ENTRIES) ||
							 (ed->val && !strcmp(ed->val, "entries"));
					r->st = sub_schema(sk);
					tk = sk;
				} else if (last) {
					r->kind = TK_MISSING;
					r->node = TOML_NONE;
				} else {
					return -ENOENT;
				}
			} else if (toml_type_of(d, c) == TOML_TABLE) {
				r->kind = TK_TABLE;
				r->node = c;
				r->st = sub_schema(sk);
				tk = sk;
			} else if (is_tables_array(d, c)) {
				r->kind = TK_ENTRIES;
				r->node = c;
				r->runners = depth == 0 && klen == 7 && !memcmp(r->key, "runners", 7);
				r->st = sub_schema(sk);
				tk = sk;
			} else {
				if (!last)
					return -ENOTDIR;
				r->kind = TK_VALUE;
				r->node = c;
			}
		} else if (r->kind == TK_ENTRIES || r->kind == TK_EMPTYDIR) {
			/* an entry: by the names the array's entries have (names.h) */
			uint32_t a = r->node, found = TOML_NONE;
			size_t idx = 0;
			const struct name_list *l;
			struct name_list *tmp;
			int rc = names_of(fs, d, r->canon, strlen(r->canon), a, r->runners, &l, &tmp);
			if (rc < 0)
				return rc;
			long at = names_find(l, comp);
			if (at < 0 && r->runners) {
				/* a runner whose `name` was written keeps answering
				 * to its old name for a while (a shell's cwd) */
				char akey[300];
				snprintf(akey, sizeof(akey), "runners/%s", comp);
				struct rfs_map_entry *al = rfs_map_get(&fs->chg.aliases, akey);
				struct timespec now;
				clock_gettime(CLOCK_MONOTONIC, &now);
				if (al && al->val && now.tv_sec - al->ts.tv_sec < RFS_ALIAS_SECONDS)
					at = names_find(l, al->val);
			}
			if (at >= 0 && a != TOML_NONE) {
				idx = (size_t)at;
				found = toml_at(d, a, idx);
				rc = canon_add(r, l->names[idx]);
			} else {
				rc = canon_add(r, comp);
			}
			unsigned long next = r->runners ? 0 : names_next(l);
			names_list_free(tmp);
			if (rc < 0)
				return rc;
			canon_done = true;
			/* remember the array's key and the table holding it:
			 * mkdir of a new entry needs them */
			memcpy(r->akey, r->key, r->klen);
			r->aklen = r->klen;
			r->holder = a == TOML_NONE ? r->parent : toml_parent(d, a);
			r->parent = a == TOML_NONE ? r->parent : a;
			if (found == TOML_NONE) {
				if (!last)
					return -ENOENT;
				/* keep parent (the table holding the array) and
				 * the array's key for mkdir; the name goes to
				 * index/key */
				r->kind = TK_MISSING;
				r->entry = true;
				r->index = (int)next;
				size_t klen;
				if (r->runners) {
					rc = tree_decode_name(comp, r->key, sizeof(r->key), &klen);
					if (rc < 0)
						return rc;
					r->klen = klen;
				} else {
					snprintf(r->key, sizeof(r->key), "%s", comp);
					r->klen = strlen(r->key);
				}
				return 0;
			}
			r->kind = TK_TABLE;
			r->node = found;
			r->entry = true;
			r->runner_entry = r->runners;
			r->index = (int)idx;
			/* st stays: the entries' schema */
		} else if (r->kind == TK_REGDIR) {
			size_t hlen;
			int rc = tree_decode_name(comp, r->host, sizeof(r->host), &hlen);
			if (rc < 0)
				return rc;
			r->reg = true;
			if (memchr(r->host, '\0', hlen))
				return -EINVAL;
			if (registry_has(d, r->runner, r->host)) {
				r->kind = TK_REG;
			} else if (last) {
				r->kind = TK_MISSING;
				r->key[0] = '\0';
				r->klen = 0;
			} else {
				return -ENOENT;
			}
		} else if (r->kind == TK_REG) {
			struct buf f = BUF_INIT;
			bool shown = false;
			if (registry_fields(d, r->runner, r->host, &f) == 0)
				for (const char *x = f.p; x && x < f.p + f.len; x += strlen(x) + 1)
					shown |= !strcmp(x, comp);
			buf_free(&f);
			shown = shown || (!strcmp(comp, "password") && tree_half_password(fs, r->canon));
			snprintf(r->key, sizeof(r->key), "%s", comp);
			r->klen = strlen(r->key);
			if (shown)
				r->kind = TK_REGFILE;
			else if (last)
				r->kind = TK_MISSING;
			else
				return -ENOENT;
		} else {
			return -ENOTDIR;
		}
		if (!canon_done) {
			int rc = canon_add(r, comp);
			if (rc < 0)
				return rc;
		}
		depth++;
		if (last)
			break;
		p = e + 1;
	}
	return 0;
}

/* For TK_MISSING entries the array and its holder: parent is the array
 * when it exists; the holder is its parent. */

bool tree_is_dir(const struct tree_ref *r)
{
	switch (r->kind) {
	case TK_ROOT:
	case TK_TABLE:
	case TK_ENTRIES:
	case TK_CTLDIR:
	case TK_HISTDIR:
	case TK_EMPTYDIR:
	case TK_REGDIR:
	case TK_REG:
		return true;
	default:
		return false;
	}
}

static bool secret_name(const char *k)
{
	static const char *const words[] = {"token", "password", "secret", "privatekey",
					    "accesskey", "accountkey", "sentry_dsn", NULL};
	char low[256];
	size_t n = 0;
	for (; k[n] && n + 1 < sizeof(low); n++)
		low[n] = (char)(k[n] >= 'A' && k[n] <= 'Z' ? k[n] - 'A' + 'a' : k[n]);
	low[n] = '\0';
	for (int i = 0; words[i]; i++)
		if (strstr(low, words[i]))
			return true;
	return false;
}

bool tree_is_secret(const struct tree_ref *r)
{
	if (r->kind == TK_CONFIG || r->kind == TK_HISTFILE || r->kind == TK_REGFILE || r->reg)
		return true;
	if (r->kind != TK_VALUE && r->kind != TK_MISSING)
		return false;
	if (r->sk && r->sk->kind != SK_MAP)
		return r->sk->flags & SF_SECRET;
	return secret_name(r->key) || !strcmp(r->key, "environment");
}

/* ---- values as files ---- */

static enum tree_format format_of_schema(const struct schema_key *sk, toml_type *elem)
{
	enum schema_type t = sk ? sk->type : SV_ANY;
	*elem = TOML_STRING;
	switch (t) {
	case SV_STRING:
	case SV_DURATION:
		return VF_STRING;
	case SV_INT: *elem = TOML_INTEGER; return VF_SCALAR;
	case SV_FLOAT: *elem = TOML_FLOAT; return VF_SCALAR;
	case SV_BOOL: *elem = TOML_BOOL; return VF_SCALAR;
	case SV_DATETIME: *elem = TOML_DATETIME; return VF_SCALAR;
	case SV_STRINGS:
	case SV_STRING_OR_STRINGS:
		return VF_LINES;
	case SV_INTS: *elem = TOML_INTEGER; return VF_LINES;
	default:
		return VF_RAW;
	}
}

enum tree_format tree_format_of(const toml_doc *d, const struct tree_ref *r, toml_type *elem)
{
	if (r->kind != TK_VALUE)
		return format_of_schema(r->sk, elem);
	uint32_t n = r->node;
	toml_type t = toml_type_of(d, n);
	*elem = t;
	if (t == TOML_STRING) {
		/* a string where a list is expected (pull_policy = "always")
		 * reads as a one-line list */
		return r->sk && r->sk->type == SV_STRING_OR_STRINGS ? VF_LINES : VF_STRING;
	}
	if (t != TOML_ARRAY && t != TOML_TABLE)
		return VF_SCALAR;
	if (t == TOML_TABLE)
		return VF_RAW;
	if (toml_count(d, n) == 0)
		return format_of_schema(r->sk, elem) == VF_LINES ? VF_LINES : (*elem = TOML_STRING, VF_LINES);
	toml_type first = toml_type_of(d, toml_first(d, n));
	if (first == TOML_ARRAY || first == TOML_TABLE)
		return VF_RAW;
	for (uint32_t c = toml_first(d, n); c != TOML_NONE; c = toml_next(d, c)) {
		if (toml_type_of(d, c) != first)
			return VF_RAW;
		if (first == TOML_STRING) {
			/* an element that would need two lines: show TOML */
			char *v = NULL;
			size_t len = 0;
			bool multi = toml_get_string(d, c, &v, &len) < 0 || memchr(v, '\n', len);
			free(v);
			if (multi)
				return VF_RAW;
		}
	}
	*elem = first;
	return VF_LINES;
}

static int render_scalar(const toml_doc *d, uint32_t n, struct buf *out)
{
	if (toml_type_of(d, n) == TOML_STRING) {
		char *s;
		size_t len;
		int r = toml_get_string(d, n, &s, &len);
		if (r < 0)
			return r;
		r = buf_add(out, s, len);
		free(s);
		return r;
	}
	size_t len;
	const char *raw = toml_raw(d, n, &len);
	return raw ? buf_add(out, raw, len) : -EINVAL;
}

int tree_render(const toml_doc *d, const struct tree_ref *r, struct buf *out)
{
	if (r->kind == TK_CONFIG) {
		size_t len;
		const char *t = toml_text(d, &len);
		return buf_add(out, t, len);
	}
	if (r->kind == TK_REGFILE) {
		int rc = registry_get(d, r->runner, r->host, r->key, out);
		return rc < 0 ? rc : buf_addc(out, '\n');
	}
	if (r->kind != TK_VALUE)
		return -EISDIR;
	toml_type elem;
	int rc = 0;
	switch (tree_format_of(d, r, &elem)) {
	case VF_STRING:
	case VF_SCALAR:
		if ((rc = render_scalar(d, r->node, out)) >= 0)
			rc = buf_addc(out, '\n');
		return rc;
	case VF_LINES:
		if (toml_type_of(d, r->node) != TOML_ARRAY) {
			if ((rc = render_scalar(d, r->node, out)) >= 0)
				rc = buf_addc(out, '\n');
			return rc;
		}
		for (uint32_t c = toml_first(d, r->node); c != TOML_NONE && rc >= 0; c = toml_next(d, c))
			if ((rc = render_scalar(d, c, out)) >= 0)
				rc = buf_addc(out, '\n');
		return rc;
	case VF_RAW: {
		size_t len;
		const char *raw = toml_raw(d, r->node, &len);
		if (!raw)
			return -EINVAL;
		if ((rc = buf_add(out, raw, len)) >= 0)
			rc = buf_addc(out, '\n');
		return rc;
	}
	}
	return -EINVAL;
}

/* ---- values from files ---- */

/* The text without one trailing line break ("\n", or a Windows editor's
 * "\r\n": a carriage return is never meant as the end of a value). */
static size_t chomp(const char *text, size_t len)
{
	if (len && text[len - 1] == '\n')
		len--;
	if (len && text[len - 1] == '\r')
		len--;
	return len;
}

size_t tree_chomp(const char *text, size_t len)
{
	return chomp(text, len);
}

/* A list's text without its final line breaks: a blank line an editor
 * left at the end is not one more (empty) element. */
static size_t chomp_lines(const char *text, size_t len)
{
	size_t n;
	while ((n = chomp(text, len)) != len)
		len = n;
	return len;
}

/* The end of the line text[at, e): a "\r\n" line ends before the "\r". */
static size_t line_end(const char *text, size_t at, size_t e)
{
	return e > at && text[e - 1] == '\r' ? e - 1 : e;
}

static bool all_digits(const char *s, size_t n)
{
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		n--;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (n && (*s == '-' || *s == '+')) {
		s++;
		n--;
	}
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* A bare number for a duration key: GitLab Runner decodes it as
 * nanoseconds (docs/filesystem.md, "Durations"), which is never what a
 * person writing 900 means, so it is refused with the spelling to use.
 * 0 means the same either way and is kept as a number. */
static int bare_duration(const struct tree_ref *r, const char *text, size_t len, char *why,
			 size_t whylen)
{
	if (!r->sk || r->sk->type != SV_DURATION || !all_digits(text, len))
		return 0;
	char *end;
	long long n = strtoll(text, &end, 10);
	if (n == 0)
		return 0;
	if (n > 0 && n % 60 == 0)
		snprintf(why, whylen, "GitLab Runner reads a bare number as nanoseconds: write %llds or %lldm",
			 n, n / 60);
	else
		snprintf(why, whylen, "GitLab Runner reads a bare number as nanoseconds: write %llds", n);
	return -EINVAL;
}

static int check(const struct tree_ref *r, const toml_value *v, char *why, size_t whylen)
{
	if (!r->sk)
		return 0;
	int rc = schema_check_value(r->sk, v, why, whylen);
	if (rc < 0 && tree_is_secret(r))
		snprintf(why, whylen, "the value is not a valid %s", schema_type_name(r->sk->type));
	return rc;
}

static int parse_scalar(const struct tree_ref *r, toml_type type, const char *s, size_t n,
			toml_value *v, char *why, size_t whylen)
{
	toml_error err;
	int rc = toml_value_parse(type, s, n, v, &err);
	if (rc < 0) {
		if (tree_is_secret(r))
			snprintf(why, whylen, "the value is not %s %s", type == TOML_INTEGER ? "an" : "a",
				 toml_type_name(type));
		else
			snprintf(why, whylen, "%s", err.msg);
		return rc;
	}
	return check(r, v, why, whylen);
}

/* Split into lines (a final line break does not start another line). */
static int split_lines(const struct tree_ref *r, toml_type elem, const char *text, size_t len,
		       toml_value **out, size_t *count, char *why, size_t whylen)
{
	size_t cap = 8, n = 0;
	toml_value *v = malloc(sizeof(*v) * cap);
	if (!v)
		return -ENOMEM;
	len = chomp_lines(text, len);
	size_t at = 0;
	int rc = 0;
	while (len && at <= len && rc >= 0) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t e = line_end(text, at, nl ? (size_t)(nl - text) : len);
		if (n == cap) {
			toml_value *nv = realloc(v, sizeof(*v) * (cap *= 2));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		if (elem == TOML_STRING) {
			v[n] = (toml_value){.type = TOML_STRING, .str = text + at, .len = e - at};
			rc = check(r, &v[n], why, whylen);
			n++;
		} else if (e > at) {
			rc = parse_scalar(r, elem, text + at, e - at, &v[n], why, whylen);
			n++;
		}
		if (!nl)
			break;
		at = (size_t)(nl - text) + 1;
	}
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*count = n;
	return 0;
}

static int edit_error(int rc, const toml_error *err, char *why, size_t whylen)
{
	if (why[0] == '\0')
		snprintf(why, whylen, "%s", err->msg[0] ? err->msg : strerror(-rc));
	return rc;
}

int tree_store(toml_doc *d, const struct tree_ref *r, const char *text, size_t len, char *why,
	       size_t whylen)
{
	why[0] = '\0';
	if (r->kind == TK_REGFILE || (r->kind == TK_MISSING && r->reg && r->klen))
		return registry_set(d, r->runner, r->host, r->key, text, chomp(text, len), why, whylen);
	if (r->kind != TK_VALUE && r->kind != TK_MISSING)
		return -EISDIR;
	bool exists = r->kind == TK_VALUE;
	toml_type elem;
	enum tree_format f = tree_format_of(d, r, &elem);
	toml_error err = {0};
	toml_value v;
	int rc;

	if (r->sk && r->sk->kind == SK_MAP && r->sk->key_rule && !exists &&
	    (rc = r->sk->key_rule(r->key, r->klen, why, whylen)) < 0)
		return rc;

	if ((rc = bare_duration(r, text, len, why, whylen)) < 0)
		return rc;
	if (r->sk && r->sk->type == SV_DURATION && all_digits(text, len)) {
		f = VF_SCALAR;
		elem = TOML_INTEGER;
	} else if (r->sk && r->sk->type == SV_DURATION) {
		f = VF_STRING;
	}

	switch (f) {
	case VF_STRING:
		v = (toml_value){.type = TOML_STRING, .str = text, .len = chomp(text, len)};
		if ((rc = check(r, &v, why, whylen)) < 0)
			return rc;
		rc = exists ? toml_set(d, r->node, &v, &err) : toml_insert(d, r->parent, r->key, r->klen, &v, &err);
		return rc < 0 ? edit_error(rc, &err, why, whylen) : 0;
	case VF_SCALAR:
		if ((rc = parse_scalar(r, elem, text, len, &v, why, whylen)) < 0)
			return rc;
		rc = exists ? toml_set(d, r->node, &v, &err) : toml_insert(d, r->parent, r->key, r->klen, &v, &err);
		return rc < 0 ? edit_error(rc, &err, why, whylen) : 0;
	case VF_LINES: {
		toml_value *vals;
		size_t n;
		if ((rc = split_lines(r, elem, text, len, &vals, &n, why, whylen)) < 0)
			return rc;
		bool one_string = r->sk && r->sk->type == SV_STRING_OR_STRINGS && n == 1 &&
				  (!exists || toml_type_of(d, r->node) == TOML_STRING);
		if (one_string)
			rc = exists ? toml_set(d, r->node, &vals[0], &err)
				    : toml_insert(d, r->parent, r->key, r->klen, &vals[0], &err);
		else
			rc = exists ? toml_set_array(d, r->node, vals, n, &err)
				    : toml_insert_array(d, r->parent, r->key, r->klen, vals, n, &err);
		free(vals);
		return rc < 0 ? edit_error(rc, &err, why, whylen) : 0;
	}
	case VF_RAW:
		rc = exists ? toml_set_raw(d, r->node, text, len, &err)
			    : toml_insert_raw(d, r->parent, r->key, r->klen, text, len, &err);
		return rc < 0 ? edit_error(rc, &err, why, whylen) : 0;
	}
	return -EINVAL;
}

/* A key with allowed values (executor, pull_policy, ...): each whole line
 * written must be one of them, so that echo and printf exit 1. */
static int check_allowed(const toml_doc *d, const struct tree_ref *r, const char *text, size_t len,
			 char *why, size_t whylen)
{
	toml_type elem;
	enum tree_format f = tree_format_of(d, r, &elem);
	size_t n = f == VF_LINES ? chomp_lines(text, len) : chomp(text, len);
	if (!n && f == VF_LINES)
		return 0; /* no lines: an empty array */
	for (size_t at = 0; at <= n;) {
		const char *nl = f == VF_LINES ? memchr(text + at, '\n', n - at) : NULL;
		size_t e = line_end(text, at, nl ? (size_t)(nl - text) : n);
		toml_value v = {.type = TOML_STRING, .str = text + at, .len = e - at};
		int rc = check(r, &v, why, whylen);
		if (rc < 0)
			return rc;
		if (!nl)
			break;
		at = (size_t)(nl - text) + 1;
	}
	return 0;
}

int tree_precheck_lines(const toml_doc *d, const struct tree_ref *r, const char *text, size_t len,
			char *why, size_t whylen)
{
	toml_type elem;
	why[0] = '\0';
	if (r->kind != TK_VALUE && r->kind != TK_MISSING)
		return 0;
	if (r->reg || !r->sk || !r->sk->allowed || !len || text[len - 1] != '\n' ||
	    tree_format_of(d, r, &elem) != VF_LINES)
		return 0;
	return check_allowed(d, r, text, len, why, whylen);
}

int tree_precheck(const toml_doc *d, const struct tree_ref *r, const char *text, size_t len,
		  char *why, size_t whylen)
{
	toml_type elem;
	why[0] = '\0';
	/* registry values: a whole line (what echo writes) can be judged at
	 * write(); a piece of one cannot */
	bool whole = len && text[len - 1] == '\n';
	if ((r->kind == TK_REGFILE || (r->kind == TK_MISSING && r->reg)) && whole &&
	    !strcmp(r->key, "auth")) {
		/* auth must decode to user:password: say so at write() */
		struct buf dec = BUF_INIT;
		size_t n = chomp(text, len);
		int rc = base64_decode(text, n, &dec);
		const char *colon = rc == 0 && dec.p ? memchr(dec.p, ':', dec.len) : NULL;
		bool ok = colon && colon != dec.p;
		buf_free(&dec);
		if (!ok) {
			snprintf(why, whylen, "auth must be the base64 of user:password with a user name");
			return -EINVAL;
		}
		return 0;
	}
	if ((r->kind == TK_REGFILE || (r->kind == TK_MISSING && r->reg)) && whole &&
	    !strcmp(r->key, "username")) {
		size_t n = chomp(text, len);
		if (!n || memchr(text, ':', n)) {
			snprintf(why, whylen, n ? "a registry user name cannot contain ':'"
						: "a registry user name cannot be empty");
			return -EINVAL;
		}
		return 0;
	}
	if ((r->kind != TK_VALUE && r->kind != TK_MISSING) || r->reg)
		return 0;
	if (r->sk && r->sk->type == SV_DURATION) {
		if (!whole)
			return 0;
		int rc = bare_duration(r, text, len, why, whylen);
		if (rc < 0 || all_digits(text, len))
			return rc;
		toml_value v = {.type = TOML_STRING, .str = text, .len = chomp(text, len)};
		return check(r, &v, why, whylen);
	}
	enum tree_format f = tree_format_of(d, r, &elem);
	if (whole && r->sk && r->sk->allowed && (f == VF_STRING || f == VF_LINES))
		return check_allowed(d, r, text, len, why, whylen);
	if (!whole && len && r->sk && r->sk->allowed && f == VF_STRING) {
		/* printf %s bogus: no allowed value starts so, whatever may
		 * follow, so it fails at this write already */
		for (const char *const *a = r->sk->allowed; *a; a++)
			if (strlen(*a) >= len && !memcmp(*a, text, len))
				return 0;
		return check_allowed(d, r, text, len, why, whylen);
	}
	if (f != VF_SCALAR)
		return 0;
	toml_value v;
	return parse_scalar(r, elem, text, len, &v, why, whylen);
}

/* ---- listing ---- */

static int fill_ref(tree_fill_fn fill, void *arg, const char *name, enum tree_kind kind)
{
	struct tree_ref r = {.kind = kind, .node = TOML_NONE, .parent = TOML_NONE};
	return fill(arg, name, &r);
}

int tree_list(struct rfs *fs, const char *path, const struct tree_ref *dir, tree_fill_fn fill,
	      void *arg)
{
	toml_doc *d = fs->doc;
	int rc = 0;
	char name[32];
	switch (dir->kind) {
	case TK_CTLDIR:
		for (int i = 0; i < CTL_COUNT && rc == 0; i++) {
			struct tree_ref r = {.kind = TK_CTLFILE, .index = i, .node = TOML_NONE};
			rc = fill(arg, tree_ctl_names[i], &r);
		}
		return rc ? rc : fill_ref(fill, arg, HIST_NAME, TK_HISTDIR);
	case TK_HISTDIR:
		for (int i = 1; i <= fs->hist.n && rc == 0; i++) {
			struct tree_ref r = {.kind = TK_HISTFILE, .index = i, .node = TOML_NONE};
			snprintf(name, sizeof(name), "%d", i);
			rc = fill(arg, name, &r);
		}
		return rc;
	case TK_EMPTYDIR:
		goto emptydirs;
	case TK_REGDIR: {
		struct buf hosts = BUF_INIT, enc = BUF_INIT;
		size_t n;
		rc = registry_hosts(d, dir->runner, &hosts, &n);
		if (rc == -EINVAL) {
			/* not valid JSON: nothing to show, nothing is rewritten */
			if (fs->reg_warned_gen != fs->generation) {
				fs->reg_warned_gen = fs->generation;
				rfs_error(fs, -EINVAL, path,
					  "DOCKER_AUTH_CONFIG in environment is not valid JSON; registries are "
					  "read-only until it is fixed");
			}
			rc = 0;
			n = 0;
		}
		const char *h = hosts.p;
		for (size_t i = 0; i < n && rc == 0; i++, h += strlen(h) + 1) {
			struct tree_ref r = {.kind = TK_REG, .node = TOML_NONE, .reg = true};
			buf_reset(&enc);
			if ((rc = tree_encode_name(h, strlen(h), &enc)) == 0 && enc.len <= 255)
				rc = fill(arg, enc.p, &r);
		}
		buf_free(&hosts);
		buf_free(&enc);
		return rc;
	}
	case TK_REG: {
		struct buf f = BUF_INIT;
		rc = registry_fields(d, dir->runner, dir->host, &f);
		bool pw = false;
		for (const char *x = f.p; rc == 0 && x && x < f.p + f.len; x += strlen(x) + 1) {
			struct tree_ref r = {.kind = TK_REGFILE, .node = TOML_NONE, .reg = true};
			pw |= !strcmp(x, "password");
			rc = fill(arg, x, &r);
		}
		if (rc == 0 && !pw && tree_half_password(fs, dir->canon)) {
			struct tree_ref r = {.kind = TK_REGFILE, .node = TOML_NONE, .reg = true};
			rc = fill(arg, "password", &r);
		}
		buf_free(&f);
		return rc;
	}
	case TK_ENTRIES: {
		const struct name_list *l;
		struct name_list *tmp;
		if ((rc = names_of(fs, d, dir->canon, strlen(dir->canon), dir->node, dir->runners, &l, &tmp)) < 0)
			return rc;
		size_t i = 0;
		for (uint32_t c = toml_first(d, dir->node); c != TOML_NONE && rc == 0 && i < l->n;
		     c = toml_next(d, c), i++) {
			struct tree_ref r = {.kind = TK_TABLE, .node = c, .entry = true, .index = (int)i};
			if (strlen(l->names[i]) > 255)
				continue; /* no file name can hold it */
			rc = fill(arg, l->names[i], &r);
		}
		names_list_free(tmp);
		return rc;
	}
	case TK_ROOT:
	case TK_TABLE:
		break;
	default:
		return -ENOTDIR;
	}
	if (dir->kind == TK_ROOT) {
		if ((rc = fill_ref(fill, arg, CONFIG_NAME, TK_CONFIG)) ||
		    (rc = fill_ref(fill, arg, CTL_NAME, TK_CTLDIR)))
			return rc;
		if (toml_get(d, TOML_ROOT, "runners", 7) == TOML_NONE &&
		    (rc = fill_ref(fill, arg, "runners", TK_EMPTYDIR)))
			return rc;
	}
	if ((dir->kind == TK_ROOT || dir->runner_entry) &&
	    toml_get(d, dir->node, "registries", 10) == TOML_NONE &&
	    (rc = fill_ref(fill, arg, "registries", TK_REGDIR)))
		return rc;
	struct buf b = BUF_INIT;
	for (uint32_t c = toml_first(d, dir->node); c != TOML_NONE && rc == 0; c = toml_next(d, c)) {
		size_t klen;
		const char *k = toml_key(d, c, &klen);
		buf_reset(&b);
		if ((rc = tree_encode_name(k, klen, &b)) < 0)
			break;
		if (b.len > 255)
			continue; /* no file name can hold it */
		struct tree_ref r = {.node = c, .parent = dir->node};
		r.kind = toml_type_of(d, c) == TOML_TABLE ? TK_TABLE
			 : is_tables_array(d, c)          ? TK_ENTRIES
							  : TK_VALUE;
		rc = fill(arg, b.p, &r);
	}
	buf_free(&b);
emptydirs:;
	/* empty directories made by mkdir */
	size_t plen = strlen(path);
	for (size_t i = 0; i < fs->chg.emptydirs.n && rc == 0; i++) {
		const char *k = fs->chg.emptydirs.v[i].key;
		const char *slash = strrchr(k, '/');
		size_t dlen = slash ? (size_t)(slash - k) : 0;
		const char *base = slash ? slash + 1 : k;
		if (dlen != plen || strncmp(k, path, plen))
			continue;
		char key[256];
		size_t klen;
		if (tree_decode_name(base, key, sizeof(key), &klen) < 0 ||
		    toml_get(d, dir->node, key, klen) != TOML_NONE)
			continue;
		rc = fill_ref(fill, arg, base, TK_EMPTYDIR);
	}
	return rc;
}
