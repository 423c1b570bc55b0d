/* SPDX-License-Identifier: MIT */
/*
 * Every change the tree allows, as one transaction, with what the mount
 * keeps around it (change.h). The FUSE layer (ops.c) only turns requests
 * into these calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "runnerfs/change.h"
#include "runnerfs/kcache.h"
#include "runnerfs/fresh.h"
#include "runnerfs/names.h"
#include "runnerfs/node.h"
#include "runnerfs/registry.h"
#include "runnerfs/tree.h"
#include "runnerfs/txn.h"

/* A name that is not the canonical spelling of a key names nothing. */
static int resolve(struct rfs *fs, const char *path, struct tree_ref *r)
{
	int rc = tree_resolve(fs, path, r);
	return rc == -EINVAL ? -ENOENT : rc;
}

/* The directory of p, if it is a scratch directory. */
struct scratch *change_scratch_parent(struct rfs *fs, const char *p)
{
	char dir[PATH_MAX];
	const char *s = strrchr(p, '/');
	if (!s)
		return NULL;
	size_t n = (size_t)(s - p);
	if (n >= sizeof(dir))
		return NULL;
	memcpy(dir, p, n);
	dir[n] = '\0';
	struct scratch *sc = scratch_get(&fs->scratch, dir);
	return sc && sc->type == SC_DIR ? sc : NULL;
}

/* Forget the passwords waiting under registry directory `reg` (it got its
 * user name, or went away). */
static void drop_half_passwords(struct rfs *fs, const char *reg)
{
	rfs_map_del_prefix(&fs->chg.halfreg, reg);
	kcache_note_change(fs, reg); /* what the kernel keeps of its files */
}

/* p went with another change a moment ago (rfs_change.gone) */
static void note_gone(struct rfs *fs, const char *p)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	rfs_map_set(&fs->chg.gone, p, &now, NULL);
}

/* Did p go with another change in the last few seconds? Then removing it
 * is done already. Each such path answers once. */
static bool went_with_another(struct rfs *fs, const char *p)
{
	struct rfs_map_entry *e = rfs_map_get(&fs->chg.gone, p);
	if (!e)
		return false;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	bool recent = now.tv_sec - e->ts.tv_sec <= RFS_GONE_SECONDS;
	rfs_map_del(&fs->chg.gone, p);
	return recent;
}

bool change_went_lately(struct rfs *fs, const char *p)
{
	struct rfs_map_entry *e = rfs_map_get(&fs->chg.gone, p);
	if (!e)
		return false;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - e->ts.tv_sec <= RFS_GONE_SECONDS;
}

/* A runner was renamed from `from` to `to`: its registries' waiting
 * passwords follow it. */
static void move_half_passwords(struct rfs *fs, const char *from, const char *to)
{
	size_t n = strlen(from);
	for (size_t i = 0; i < fs->chg.halfreg.n;) {
		struct rfs_map_entry *e = &fs->chg.halfreg.v[i];
		char key[PATH_MAX];
		if (strncmp(e->key, from, n) || e->key[n] != '/' ||
		    snprintf(key, sizeof(key), "%s%s", to, e->key + n) >= (int)sizeof(key)) {
			i++;
			continue;
		}
		char *v = e->val ? strdup(e->val) : NULL;
		rfs_map_del(&fs->chg.halfreg, e->key);
		if (v)
			rfs_map_set(&fs->chg.halfreg, key, NULL, v);
		free(v);
		/* the entry moved to the end or went: go over the list again
		 * (`to` is another runner's directory, so no moved key matches
		 * `from`/ again) */
		i = 0;
	}
}

static void drop_tomb(struct rfs *fs, int i)
{
	free(fs->chg.tombs[i].path);
	free(fs->chg.tombs[i].text);
	memmove(&fs->chg.tombs[i], &fs->chg.tombs[i + 1], sizeof(fs->chg.tombs[0]) * (size_t)(fs->chg.ntombs - i - 1));
	fs->chg.ntombs--;
}

static void push_tomb(struct rfs *fs, const char *p, size_t at, char *text, size_t len)
{
	if (fs->chg.ntombs == RFS_TOMBS)
		drop_tomb(fs, 0);
	char *path = strdup(p);
	if (!path) {
		free(text);
		return;
	}
	struct rfs_tomb *t = &fs->chg.tombs[fs->chg.ntombs++];
	*t = (struct rfs_tomb){path, at, text, len, fs->generation, {0, 0}};
	clock_gettime(CLOCK_REALTIME, &t->when);
}

/* The removed line of key p, if it can go back: nothing else has changed
 * since its removal and it was removed a moment ago. */
static struct rfs_tomb *find_tomb(struct rfs *fs, const char *p)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = fs->chg.ntombs; i-- > 0;) {
		struct rfs_tomb *t = &fs->chg.tombs[i];
		if (t->gen != fs->generation || now.tv_sec - t->when.tv_sec > RFS_REVIVE_SECONDS)
			continue;
		if (!strcmp(t->path, p))
			return t;
	}
	return NULL;
}

struct store_arg {
	const char *path;
	const char *text;
	size_t len;
};

/* A key written in a copy (fresh.h) with what the source's file reads
 * takes the source's TOML text: 0 or -errno when it did, 1 when it is
 * not such a write. */
static int copy_source_text(struct rfs *fs, toml_doc *d, const struct tree_ref *r, const char *text,
			    size_t len, char *why, size_t n)
{
	const char *rest;
	const char *src = (r->kind == TK_MISSING || r->kind == TK_VALUE) && !r->reg && !r->entry
				  ? fresh_source(fs, r->canon, &rest, fs->caller)
				  : NULL;
	if (!src || !strcmp(rest, "/name"))
		return 1;
	char sp[PATH_MAX];
	struct tree_ref sr;
	struct buf b = BUF_INIT;
	if (snprintf(sp, sizeof(sp), "%s%s", src, rest) >= (int)sizeof(sp) ||
	    tree_resolve_in(fs, d, sp, &sr) < 0 || sr.kind != TK_VALUE || tree_render(d, &sr, &b) < 0 ||
	    b.len != len || (len && memcmp(b.p, text, len))) {
		buf_free(&b);
		return 1;
	}
	buf_free(&b);
	size_t rl;
	const char *raw = toml_raw(d, sr.node, &rl);
	char *copy = raw ? strndup(raw, rl) : NULL; /* the edit moves the text */
	if (!copy)
		return 1;
	toml_error err = {0};
	int rc = r->kind == TK_MISSING ? toml_insert_raw(d, r->parent, r->key, r->klen, copy, rl, &err)
				       : toml_set_raw(d, r->node, copy, rl, &err);
	free(copy);
	if (rc < 0)
		snprintf(why, n, "%s", err.msg[0] ? err.msg : strerror(-rc));
	return rc;
}

static int store_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct store_arg *a = arg;
	struct tree_ref r;
	int rc = resolve(fs, a->path, &r);
	if (rc < 0) {
		snprintf(why, n, "it no longer exists");
		return rc;
	}
	if ((rc = copy_source_text(fs, *work, &r, a->text, a->len, why, n)) != 1)
		return rc;
	struct rfs_tomb *t = r.kind == TK_MISSING ? find_tomb(fs, a->path) : NULL;
	if (t) {
		/* a save that removed the key and made it again: put its line
		 * back where it was, then change only its value */
		toml_error err;
		struct tree_ref back;
		if (toml_splice(*work, t->at, t->at, t->text, t->len, &err) == 0) {
			if (tree_resolve_in(fs, *work, a->path, &back) == 0 && back.kind == TK_VALUE)
				return tree_store(*work, &back, a->text, a->len, why, n);
			/* it does not fit back: take it out again (the same
			 * bytes, so the same node ids as r's) */
			if ((rc = toml_splice(*work, t->at, t->at + t->len, "", 0, &err)) < 0)
				return rc;
		}
	}
	rc = tree_store(*work, &r, a->text, a->len, why, n);
	if (rc == 0 && r.reg && !strcmp(r.key, "username")) {
		/* the user name completes a registry whose password waited */
		char dir[PATH_MAX], pw[PATH_MAX];
		node_parent(r.canon, dir, sizeof(dir));
		const char *half = tree_half_password(fs, dir);
		struct tree_ref pr;
		if (half && snprintf(pw, sizeof(pw), "%s/password", dir) < (int)sizeof(pw) &&
		    tree_resolve_in(fs, *work, pw, &pr) == 0)
			rc = tree_store(*work, &pr, half, strlen(half), why, n);
	}
	return rc;
}

/* A password written to a registry that has no user name yet: GitLab
 * Runner refuses auth with an empty user, so it waits in memory (shown in
 * the password file and in .runnerfs/status) until username is written.
 * 1: kept; 0: not such a write; -errno. */
static int keep_half_password(struct rfs *fs, const struct tree_ref *r, const char *text, size_t len)
{
	if (!r->reg || strcmp(r->key, "password") || (r->kind != TK_REGFILE && r->kind != TK_MISSING))
		return 0;
	char dir[PATH_MAX];
	node_parent(r->canon, dir, sizeof(dir));
	struct buf user = BUF_INIT;
	int rc = registry_get(fs->doc, r->runner, r->host, "username", &user);
	bool no_user = (rc == 0 || rc == -ENOENT) && user.len == 0;
	buf_free(&user);
	if (!no_user)
		return 0;
	len = tree_chomp(text, len);
	if (memchr(text, '\0', len))
		return rfs_error(fs, -EINVAL, r->canon, "a credential cannot contain a NUL byte");
	char *v = strndup(text, len);
	if (!v)
		return -ENOMEM;
	rc = rfs_map_set(&fs->chg.halfreg, r->canon, NULL, v);
	free(v);
	if (rc < 0)
		return rc;
	rfs_log(RFS_LOG_INFO, "%s: kept until %s/username is written (GitLab Runner refuses a registry without a user name)",
		r->canon, dir);
	node_touch(fs, r->canon);
	node_touch(fs, dir);
	kcache_note_change(fs, r->canon);
	return 1;
}

struct first_error {
	char msg[300];
	int errors;
};

static void first_error(void *arg, int severity, int line, const char *path, const char *msg)
{
	struct first_error *fe = arg;
	if (severity < 2)
		return;
	if (!fe->errors++)
		snprintf(fe->msg, sizeof(fe->msg), "line %d: %s: %s", line, path, msg);
}

static int replace_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct store_arg *a = arg;
	toml_doc *d;
	toml_error err;
	(void)fs;
	int rc = toml_parse(a->text, a->len, &d, &err);
	if (rc < 0) {
		snprintf(why, n, "the new text is not valid TOML: line %d, column %d: %s", err.line, err.col,
			 err.msg);
		return rc;
	}
	struct first_error fe = {"", 0};
	schema_check_doc(d, first_error, &fe);
	if (fe.errors > 0) {
		toml_free(d);
		snprintf(why, n, "the new text breaks %d rule%s of GitLab Runner's config; the first: %s",
			 fe.errors, fe.errors == 1 ? "" : "s", fe.msg);
		return -EINVAL;
	}
	*work = d; /* ours is txn_run's to free (txn.h) */
	return 0;
}

/* The runner a path is under ("runners/NAME/..."): its position, its
 * directory's path and the encoded `name` it has now ("" for none). */
struct runner_at {
	long idx;
	char dir[PATH_MAX];
	char name[PATH_MAX];
};

static void runner_at(struct rfs *fs, const char *p, struct runner_at *ra)
{
	ra->idx = -1;
	ra->dir[0] = ra->name[0] = '\0';
	if (strncmp(p, "runners/", 8))
		return;
	const char *s = strchr(p + 8, '/');
	size_t len = s ? (size_t)(s - p) : strlen(p);
	char top[PATH_MAX];
	struct tree_ref r;
	if (len >= sizeof(top))
		return;
	memcpy(top, p, len);
	top[len] = '\0';
	if (tree_resolve(fs, top, &r) < 0 || r.kind != TK_TABLE || !r.runner_entry)
		return;
	ra->idx = r.index;
	snprintf(ra->dir, sizeof(ra->dir), "%s", r.canon);
	uint32_t nm = toml_get(fs->doc, r.node, "name", 4);
	char *v;
	size_t vlen;
	struct buf b = BUF_INIT;
	if (nm != TOML_NONE && toml_type_of(fs->doc, nm) == TOML_STRING &&
	    toml_get_string(fs->doc, nm, &v, &vlen) == 0) {
		if (tree_encode_name(v, vlen, &b) == 0 && b.p)
			snprintf(ra->name, sizeof(ra->name), "%s", b.p);
		free(v);
	}
	buf_free(&b);
}

/* Before `name` of a runner becomes text: no other runner may have the
 * directory name it gives (mv refuses the same, docs/filesystem.md "Changing things") — except in
 * a runner mkdir just made, where it is cp -r copying the other runner
 * (fresh.h): 1, with that runner's path in copy_of. */
/* The runner (other than `except`) that has the directory name `enc` or
 * the `name` v, or -1. */
static long runner_taken(struct rfs *fs, const char *enc, const char *v, size_t vlen, long except)
{
	char **names;
	size_t n;
	if (tree_runner_names(fs, &names, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if ((long)i != except && !strcmp(names[i], enc))
				return (long)i;
	uint32_t a = toml_get(fs->doc, TOML_ROOT, "runners", 7);
	long i = 0;
	for (uint32_t e = a == TOML_NONE ? TOML_NONE : toml_first(fs->doc, a); e != TOML_NONE;
	     e = toml_next(fs->doc, e), i++) {
		uint32_t nm = i == except || toml_type_of(fs->doc, e) != TOML_TABLE ? TOML_NONE
										    : toml_get(fs->doc, e, "name", 4);
		char *s;
		size_t len;
		if (nm == TOML_NONE || toml_type_of(fs->doc, nm) != TOML_STRING ||
		    toml_get_string(fs->doc, nm, &s, &len) < 0)
			continue;
		bool same = len == vlen && !memcmp(s, v, len);
		free(s);
		if (same)
			return i;
	}
	return -1;
}

/* Before `name` of a runner becomes text: no other runner may have it,
 * as a directory name or as its `name` (mv refuses the same) — except in
 * a runner mkdir made a moment ago, where it is a copy or a restore (cp
 * -r, rsync, tar x of another runner's files; fresh.h): 1, with that
 * runner's path in copy_of. */
static int runner_name_free(struct rfs *fs, const char *p, const struct runner_at *ra,
			    const char *text, size_t len, char *copy_of, size_t cn)
{
	const char *slash = strncmp(p, "runners/", 8) ? NULL : strchr(p + 8, '/');
	if (ra->idx < 0 || !slash || strcmp(slash, "/name"))
		return 0;
	len = tree_chomp(text, len);
	struct buf b = BUF_INIT;
	int rc = 0;
	if (memchr(text, '\0', len) || tree_encode_name(text, len, &b) < 0 || !b.p || !strcmp(b.p, ra->name))
		goto out;
	if (b.len > 255) {
		/* its directory could not be named so: it would vanish */
		rc = rfs_error(fs, -ENAMETOOLONG, p,
			       "a runner's name is its directory's name, at most 255 bytes (this one is %zu)", b.len);
		goto out;
	}
	long other = runner_taken(fs, b.p, text, len, ra->idx);
	if (other < 0 && fresh_made_by(fs, ra->dir, fs->caller)) {
		/* the process that made the directory writes its name file: a
		 * copy or restore from elsewhere (cp -a backup runners/NEW) */
		snprintf(copy_of, cn, "%.*s", (int)len, text);
		rc = 1;
	} else if (other >= 0 && fresh_made_lately(fs, ra->dir)) {
		char **names;
		size_t n;
		if (tree_runner_names(fs, &names, &n) == 0 && (size_t)other < n)
			snprintf(copy_of, cn, "runners/%s", names[other]);
		rc = 1;
	} else if (other >= 0) {
		rc = rfs_error(fs, -EEXIST, p,
			       "another runner is named \"%s\"; runner names are directory names and must differ", b.p);
	}
out:
	buf_free(&b);
	return rc;
}

/* After a change under a runner: if its `name` now gives another
 * directory name, the directory takes it; the old name keeps answering
 * for what is still open there (a shell's cwd). A removed `name` changes
 * nothing (names.h). */
static void follow_runner(struct rfs *fs, const struct runner_at *before)
{
	struct runner_at now;
	if (before->idx < 0)
		return;
	runner_at(fs, before->dir, &now);
	if (now.idx == before->idx && before->name[0] && !now.name[0])
		names_unnamed(fs, "runners", (size_t)now.idx);
	if (now.idx != before->idx || !now.name[0] || !strcmp(now.name, before->name) ||
	    !strcmp(now.name, before->dir + 8))
		return;
	char to[PATH_MAX + 16];
	snprintf(to, sizeof(to), "runners/%s", now.name);
	names_renamed(fs, "runners", (size_t)now.idx, now.name);
	node_keep_identity(fs, before->dir, to);
	move_half_passwords(fs, before->dir, to);
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	rfs_map_set(&fs->chg.aliases, before->dir, &t, now.name);
	node_touch(fs, "runners");
}

/* Old names of the runner at dir (renamed by its `name`) lead nowhere. */
static void forget_aliases(struct rfs *fs, const char *dir)
{
	const char *name = dir + 8;
	for (size_t i = fs->chg.aliases.n; i-- > 0;)
		if (fs->chg.aliases.v[i].val && !strcmp(fs->chg.aliases.v[i].val, name))
			rfs_map_del(&fs->chg.aliases, fs->chg.aliases.v[i].key);
	rfs_map_del_prefix(&fs->chg.aliases, dir);
}

/* An entry was removed: the names of the others stay (names.h); names
 * that led to it lead nowhere now. */
static void forget_entry(struct rfs *fs, const struct tree_ref *r)
{
	char dir[PATH_MAX];
	node_parent(r->canon, dir, sizeof(dir));
	if (r->runner_entry)
		forget_aliases(fs, r->canon);
	names_removed(fs, dir, (size_t)r->index);
	fresh_forget(fs, r->canon);
}

/* A table that vanished with its last key (a dotted table) stays as an
 * empty directory, so that rm -r can still remove it — and so do the
 * dotted tables above it that vanished with it (a.b.c = 1). */
static void keep_dir(struct rfs *fs, const char *dir)
{
	char d[PATH_MAX];
	struct tree_ref r;
	snprintf(d, sizeof(d), "%s", dir);
	while (d[0]) {
		int rc = tree_resolve(fs, d, &r);
		if (rc == 0 && r.kind != TK_MISSING)
			break;
		rfs_map_set(&fs->chg.emptydirs, d, NULL, NULL);
		char up[PATH_MAX];
		node_parent(d, up, sizeof(up));
		memcpy(d, up, strlen(up) + 1);
	}
}

static int restore_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct rfs_tomb *t = arg;
	toml_error err;
	(void)fs;
	int rc = toml_splice(*work, t->at, t->at, t->text, t->len, &err);
	if (rc < 0)
		snprintf(why, n, "could not put the old value back: %s", err.msg);
	return rc;
}

void change_refused(struct rfs *fs, const char *p)
{
	/* a save that removed the key and then failed (install of a bad
	 * value): the key comes back as it was, nothing is lost */
	struct rfs_tomb *t = find_tomb(fs, p);
	if (t && txn_run(fs, p, restore_fn, t) == 0) {
		drop_tomb(fs, (int)(t - fs->chg.tombs));
		node_touch(fs, p);
	}
}

int change_store(struct rfs *fs, const char *p, enum tree_kind kind, const char *text,
		       size_t len)
{
	struct store_arg a = {p, text, len};
	struct runner_at ra;
	char copy_of[PATH_MAX], own[PATH_MAX];
	runner_at(fs, p, &ra);
	int rn = kind == TK_CONFIG ? 0 : runner_name_free(fs, p, &ra, text, len, copy_of, sizeof(copy_of));
	if (rn < 0)
		return rn;
	size_t olen;
	if (rn == 1 && tree_decode_name(ra.dir + 8, own, sizeof(own) - 1, &olen) == 0) {
		/* cp -r A NEW: NEW stays NEW, a copy of A */
		own[olen++] = '\n';
		a.text = own;
		a.len = olen;
		rfs_log(RFS_LOG_INFO, "%s: a copy of %s keeps its directory's name", ra.dir, copy_of);
	}
	bool was_missing = false;
	struct tree_ref r;
	if (kind != TK_CONFIG && resolve(fs, p, &r) == 0) {
		was_missing = r.kind == TK_MISSING;
		int half = fs->opt.ro ? 0 : keep_half_password(fs, &r, text, len);
		if (half != 0)
			return half < 0 ? half : 0;
	}
	/* a new value of a key that exists changes its own file alone (and
	 * config.toml, .runnerfs/); environment is also registries/, and a
	 * runner's name its directory (kcache.h) */
	const char *base = strrchr(p, '/');
	base = base ? base + 1 : p;
	kcache_value_only(kind == TK_VALUE && !was_missing && strcmp(base, "environment") && strcmp(base, "name"));
	int rc = txn_run(fs, p, kind == TK_CONFIG ? replace_fn : store_fn, &a);
	kcache_value_only(false);
	if (rc < 0) {
		if (kind != TK_CONFIG)
			change_refused(fs, p);
		return rc;
	}
	if (kind != TK_CONFIG && r.reg && !strcmp(r.key, "username")) {
		char dir[PATH_MAX];
		node_parent(r.canon, dir, sizeof(dir));
		drop_half_passwords(fs, dir);
	}
	/* a revived key has been written: its removal is over */
	for (int i = fs->chg.ntombs; i-- > 0;)
		if (!strcmp(fs->chg.tombs[i].path, p))
			drop_tomb(fs, i);
	node_touch(fs, p);
	if (was_missing) {
		char dir[PATH_MAX];
		node_parent(p, dir, sizeof(dir));
		node_touch(fs, dir);
	}
	follow_runner(fs, &ra);
	return 0;
}

/* Is r a name that a key of its table may have (one the schema knows,
 * or any name in an open map such as feature_flags)? */
bool change_key_name(const struct tree_ref *r)
{
	if (r->kind == TK_MISSING && r->reg)
		return r->klen && registry_field_name(r->key);
	if (r->kind == TK_MISSING && r->sk && r->sk->kind == SK_MAP && r->klen &&
	    (r->key[0] == '.' || r->key[r->klen - 1] == '~'))
		return false; /* a tool's file in feature_flags/ (.ansible_tmp…), not a flag */
	return r->kind == TK_MISSING && !r->entry && r->parent != TOML_NONE && r->sk &&
	       (r->sk->kind == SK_VALUE || r->sk->kind == SK_MAP);
}

/* A scratch file was made; a name close to a key is most likely a typo,
 * and the person should hear that it will not reach config.toml. */
void change_note_scratch(struct rfs *fs, const char *p, const struct tree_ref *r, bool in_dir)
{
	(void)fs;
	const char *hint = !in_dir && r->pst ? schema_suggest(r->pst, r->key, r->klen) : NULL;
	if (hint && r->key[0] != '.' && !strchr(r->key, '~'))
		rfs_log(RFS_LOG_INFO, "%s: not a key here (did you mean \"%s\"?); kept in memory only", p, hint);
	else
		rfs_log(RFS_LOG_DEBUG, "%s: scratch file, kept in memory only", p);
}

bool change_scratch_name(struct rfs *fs, const struct tree_ref *r)
{
	if (r->noncanonical || scratch_tool_name(r->key, r->klen))
		return true;
	for (size_t i = 1; i < r->klen; i++) {
		char c = r->key[i];
		if (c != '.' && c != '-' && (c < '0' || c > '9'))
			continue;
		if ((r->pst && schema_key(r->pst, r->key, i)) ||
		    (r->parent != TOML_NONE && toml_get(fs->doc, r->parent, r->key, i) != TOML_NONE) ||
		    (r->parent == TOML_ROOT && i == 11 && !memcmp(r->key, "config.toml", 11)))
			return true;
	}
	return false;
}

void change_stale_scratch(struct rfs *fs)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (size_t i = 0; i < fs->scratch.n; i++) {
		struct scratch *sc = &fs->scratch.v[i];
		struct scratch_data *d = sc->data;
		if (sc->type != SC_FILE || d->reported || (!d->closed.tv_sec && !d->closed.tv_nsec) ||
		    now.tv_sec - d->closed.tv_sec < RFS_REVIVE_SECONDS)
			continue;
		const char *name = strrchr(sc->path, '/');
		name = name ? name + 1 : sc->path;
		if (!scratch_temp_name(name, strlen(name)))
			continue;
		d->reported = true;
		rfs_error(fs, -ENOENT, sc->path,
			  "a tool's temporary file was written and closed but never renamed onto a key: "
			  "its %zu bytes are in memory only and go at unmount (did the tool fail?)",
			  d->content.len);
	}
}

/* How a person names the table r->parent is: [[runners]], [runners.docker],
 * the top level. */
static void table_name(const struct tree_ref *r, char *out, size_t n)
{
	const char *path = r->pst ? r->pst->path : NULL;
	if (!path) {
		snprintf(out, n, "a table runnerfs does not know");
		return;
	}
	if (!*path) {
		snprintf(out, n, "the top level");
		return;
	}
	/* an array of tables is [[a.b]]: find the last key's kind */
	const struct schema_table *t = schema_root();
	const struct schema_key *k = NULL;
	for (const char *s = path; t && *s;) {
		size_t len = strcspn(s, ".");
		k = schema_key(t, s, len);
		t = k ? k->table : NULL;
		s += len + (s[len] == '.');
	}
	bool aot = k && k->kind == SK_ENTRIES;
	snprintf(out, n, "%s%s%s", aot ? "[[" : "[", path, aot ? "]]" : "]");
}

/* May a new file named by r be made? Only a key the schema knows for its
 * table (or any key of an open map such as feature_flags). */
/* What a missing r is in the source of the copy it is in (fresh.h):
 * true with its ref in *sr. */
static bool in_copy_source(struct rfs *fs, const struct tree_ref *r, struct tree_ref *sr)
{
	const char *rest;
	const char *src = r->kind == TK_MISSING && !r->reg && !r->entry ? fresh_source(fs, r->canon, &rest, fs->caller)
									: NULL;
	char sp[PATH_MAX];
	return src && snprintf(sp, sizeof(sp), "%s%s", src, rest) < (int)sizeof(sp) &&
	       tree_resolve(fs, sp, sr) == 0 && sr->kind != TK_MISSING;
}

bool change_copied_key(struct rfs *fs, const struct tree_ref *r)
{
	struct tree_ref sr;
	return in_copy_source(fs, r, &sr) && sr.kind == TK_VALUE;
}

int change_creatable(struct rfs *fs, const char *p, const struct tree_ref *r)
{
	struct tree_ref sr;
	if (in_copy_source(fs, r, &sr) && sr.kind == TK_VALUE)
		return 0; /* a key the copied runner has, known or not */
	if (r->kind == TK_MISSING && r->reg && r->klen)
		return registry_field_name(r->key)
			       ? 0
			       : rfs_error(fs, -EINVAL, p, "a registry holds username, password and auth");
	if (r->kind != TK_MISSING || r->entry || r->parent == TOML_NONE)
		return -EACCES;
	if (r->sk && (r->sk->kind == SK_VALUE || r->sk->kind == SK_MAP))
		return 0;
	if (r->sk)
		return rfs_error(fs, -EISDIR, p, "%s is a table; make it with mkdir", r->key);
	const char *hint = r->pst ? schema_suggest(r->pst, r->key, r->klen) : NULL;
	char t[300];
	table_name(r, t, sizeof(t));
	if (hint)
		return rfs_error(fs, -EINVAL, p, "%s is not a key of %s; did you mean %s?", r->key, t, hint);
	return rfs_error(fs, -EINVAL, p, "%s is not a key of %s (runnerfs --schema lists the keys)", r->key, t);
}

struct reg_arg {
	const char *path;
	int op; /* 'a'dd, 'r'emove, 'u'nset, 'm'ove (rename), 'M'ove to another runner */
	const char *to;
};

static int reg_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct reg_arg *a = arg;
	struct tree_ref r, t;
	int rc = resolve(fs, a->path, &r);
	if (rc < 0)
		return rc;
	switch (a->op) {
	case 'a':
		return registry_add(*work, r.runner, r.host, why, n);
	case 'r':
		return registry_remove(*work, r.runner, r.host, why, n);
	case 'u':
		return registry_unset(*work, r.runner, r.host, r.key, why, n);
	default:
		if ((rc = tree_resolve(fs, a->to, &t)) < 0)
			return rc;
		if (a->op == 'M')
			return registry_move(*work, r.runner, t.runner, r.host, t.host, why, n);
		return registry_rename(*work, r.runner, r.host, t.host, why, n);
	}
}

int change_registry(struct rfs *fs, const char *p, int op, const char *to)
{
	struct reg_arg a = {p, op, to};
	struct tree_ref before, env;
	bool known = resolve(fs, p, &before) == 0;
	/* runners/X/registries/HOST: X's environment, which may go with it */
	char envp[PATH_MAX] = "";
	const char *rd = known && before.runner != TOML_NONE ? strstr(before.canon, "/registries/") : NULL;
	if (rd && snprintf(envp, sizeof(envp), "%.*s/environment", (int)(rd - before.canon), before.canon) >= (int)sizeof(envp))
		envp[0] = '\0';
	bool had_env = envp[0] && resolve(fs, envp, &env) == 0 && env.kind == TK_VALUE;
	int rc = fs->opt.ro ? -EROFS : txn_run(fs, p, reg_fn, &a);
	if (rc == 0 && known && op != 'a' && op != 'u') {
		/* the registry went or moved: its waiting password goes with it,
		 * or moves with it */
		const char *half = tree_half_password(fs, before.canon);
		struct tree_ref t;
		char hp[PATH_MAX];
		if (half && op != 'r' && to && tree_resolve(fs, to, &t) == 0 &&
		    snprintf(hp, sizeof(hp), "%s/password", t.canon) < (int)sizeof(hp)) {
			char *v = strdup(half);
			drop_half_passwords(fs, before.canon);
			if (v)
				rfs_map_set(&fs->chg.halfreg, hp, NULL, v);
			free(v);
		} else {
			drop_half_passwords(fs, before.canon);
		}
	}
	if (rc == 0 && had_env && (resolve(fs, envp, &env) != 0 || env.kind != TK_VALUE))
		note_gone(fs, envp);
	if (rc == 0) {
		char dir[PATH_MAX];
		node_parent(p, dir, sizeof(dir));
		node_touch(fs, dir);
		node_touch(fs, p);
		if (to) {
			node_parent(to, dir, sizeof(dir));
			node_touch(fs, dir);
		}
	}
	return rc;
}

struct remove_arg {
	const char *path;
	bool dir;   /* rmdir: a table or an entry; else a value */
	size_t at, len;
	char *text; /* the lines a key took, for revival */
};

static int remove_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct remove_arg *a = arg;
	struct tree_ref r;
	toml_error err = {0};
	size_t start, end;
	int rc = resolve(fs, a->path, &r);
	if (rc < 0)
		return rc;
	/* resolved again in the transaction, maybe after an outside change
	 * was read: only the kind of item the caller found goes (a missing
	 * entry's ref names its array: that must never be removed) */
	bool table = r.kind == TK_TABLE || r.kind == TK_ENTRIES;
	if (r.node == TOML_NONE || r.node == TOML_ROOT || (r.kind != TK_VALUE && !table))
		return -ENOENT;
	if (table != a->dir)
		return a->dir ? -ENOTDIR : -EISDIR;
	if (r.kind == TK_VALUE && toml_line_span(*work, r.node, &start, &end) == 0) {
		free(a->text);
		a->text = malloc(end - start + 1);
		if (a->text) {
			memcpy(a->text, toml_text(*work, NULL) + start, end - start);
			a->at = start;
			a->len = end - start;
		}
	}
	rc = toml_remove(*work, r.node, &err);
	if (rc == 0 && r.entry) {
		/* the last entry of an inline array: `services = []` is no
		 * array of tables any more, and nothing the tool removing it
		 * expects to find; it goes too (an empty directory stays) */
		char arr[PATH_MAX];
		struct tree_ref ar;
		node_parent(a->path, arr, sizeof(arr));
		if (tree_resolve_in(fs, *work, arr, &ar) == 0 && ar.kind == TK_VALUE &&
		    toml_type_of(*work, ar.node) == TOML_ARRAY && toml_count(*work, ar.node) == 0)
			rc = toml_remove(*work, ar.node, &err);
	}
	if (rc < 0)
		snprintf(why, n, "%s", err.msg[0] ? err.msg : strerror(-rc));
	return rc;
}

/* Remove the key at p, keeping what it took for a revival. */
int change_remove_key(struct rfs *fs, const char *p)
{
	struct remove_arg a = {.path = p};
	/* a runner's `name` (rm -r starts there): the runner keeps its
	 * directory until it is gone (names.h) */
	const char *base = strrchr(p, '/');
	bool runner_name = !strncmp(p, "runners/", 8) && base && !strcmp(base, "/name") &&
			   strchr(p + 8, '/') == base;
	struct runner_at ra = {.idx = -1};
	if (runner_name)
		runner_at(fs, p, &ra);
	int rc = txn_run(fs, p, remove_fn, &a);
	if (rc == 0) {
		follow_runner(fs, &ra);
		char dir[PATH_MAX];
		node_parent(p, dir, sizeof(dir));
		node_touch(fs, dir);
		rfs_map_del(&fs->mtimes, p);
		keep_dir(fs, dir);
		if (a.text) {
			push_tomb(fs, p, a.at, a.text, a.len);
			a.text = NULL;
		}
	}
	free(a.text);
	return rc;
}

/* rm username of a registry with a password: an auth of ":password"
 * would be one GitLab Runner refuses, so auth goes and the password waits
 * in memory for a new user name, as if written first (keep_half_password).
 * rm -r goes on to password and auth: they answer as removed.
 * 1: done; 0: not such a registry; -errno. */
static int keep_password_alone(struct rfs *fs, const struct tree_ref *r, const char *dir)
{
	struct buf pw = BUF_INIT, auth = BUF_INIT;
	int rc = registry_get(fs->doc, r->runner, r->host, "auth", &auth) == 0 &&
			 registry_get(fs->doc, r->runner, r->host, "password", &pw) == 0 && pw.len
		 ? 1 : 0;
	char ap[PATH_MAX], pp[PATH_MAX];
	if (rc == 1 && (snprintf(ap, sizeof(ap), "%s/auth", dir) >= (int)sizeof(ap) ||
			snprintf(pp, sizeof(pp), "%s/password", dir) >= (int)sizeof(pp)))
		rc = 0;
	if (rc == 1 && buf_addc(&pw, '\0') == 0 && (rc = change_registry(fs, ap, 'u', NULL)) == 0) {
		rfs_map_set(&fs->chg.halfreg, pp, NULL, pw.p);
		kcache_note_change(fs, pp);
		note_gone(fs, ap);
		rfs_log(RFS_LOG_INFO, "%s: its user name went, so auth went too; the password waits in memory for a new one",
			dir);
		rc = 1;
	}
	buf_free(&pw);
	buf_free(&auth);
	return rc;
}

int change_unlink(struct rfs *fs, const char *p)
{
	struct tree_ref r;
	struct scratch *sc = scratch_get(&fs->scratch, p);
	if (sc) {
		int rs = sc->type == SC_DIR ? -EISDIR : scratch_remove(&fs->scratch, p);
		return rs;
	}
	int rc = resolve(fs, p, &r);
	if (rc == -ENOENT && went_with_another(fs, p))
		return 0;
	if (rc == 0) {
		switch (r.kind) {
		case TK_VALUE:
			rc = fs->opt.ro ? -EROFS : change_remove_key(fs, p);
			break;
		case TK_REGFILE: {
			char dir[PATH_MAX];
			node_parent(r.canon, dir, sizeof(dir));
			if (!strcmp(r.key, "password") && tree_half_password(fs, dir)) {
				drop_half_passwords(fs, dir); /* it never reached config.toml */
				node_touch(fs, dir);
				break;
			}
			if (!strcmp(r.key, "username") && !fs->opt.ro) {
				int kept = keep_password_alone(fs, &r, dir);
				if (kept != 0) {
					rc = kept < 0 ? kept : 0;
					break;
				}
			}
			rc = change_registry(fs, p, 'u', NULL);
			/* username and password read from auth stay while it
			 * does (rm -r goes on to auth). The same process
			 * unlinking it again is told (tar x unlinks and
			 * creates again, and would do that for ever). */
			struct tree_ref after;
			if (rc == 0 && resolve(fs, p, &after) == 0 && after.kind == TK_REGFILE) {
				if (fs->chg.unset_pid == fs->caller && fs->chg.unset_path && !strcmp(fs->chg.unset_path, p))
					rc = rfs_error(fs, -EPERM, p, "%s comes from auth; write it, or remove auth", r.key);
				free(fs->chg.unset_path);
				fs->chg.unset_path = rc == 0 ? strdup(p) : NULL;
				fs->chg.unset_pid = fs->caller;
			}
			break;
		}
		case TK_MISSING:
			rc = went_with_another(fs, r.canon) ? 0 : -ENOENT;
			break;
		case TK_CONFIG:
			rc = rfs_error(fs, -EPERM, p, "config.toml cannot be removed through the mount; "
						      "to empty it, write an empty file to it");
			break;
		case TK_CTLFILE:
		case TK_HISTFILE:
			rc = rfs_error(fs, -EPERM, p, "the files of .runnerfs/ cannot be removed");
			break;
		default:
			rc = -EISDIR;
		}
	}
	return rc;
}

/* Is all that is left in the table at r what mkdir wrote there a moment
 * ago and nobody has seen (fresh.h)? Then rm -r of it may remove it. */
static bool only_hidden_left(struct rfs *fs, const struct tree_ref *r)
{
	if (!fresh_is(fs, r->canon, fs->caller))
		return false;
	struct buf b = BUF_INIT;
	bool all = true;
	for (uint32_t c = toml_first(fs->doc, r->node); c != TOML_NONE && all; c = toml_next(fs->doc, c)) {
		size_t klen;
		const char *k = toml_key(fs->doc, c, &klen);
		buf_reset(&b);
		all = buf_adds(&b, r->canon) == 0 && buf_addc(&b, '/') == 0 &&
		      tree_encode_name(k, klen, &b) == 0 && fresh_hidden(fs, b.p, fs->caller);
	}
	buf_free(&b);
	return all;
}

int change_rmdir(struct rfs *fs, const char *p)
{
	struct tree_ref r;
	struct scratch *sc = scratch_get(&fs->scratch, p);
	if (sc) {
		int rs = sc->type != SC_DIR ? -ENOTDIR
			 : scratch_has_children(&fs->scratch, p) ? -ENOTEMPTY
								 : scratch_remove(&fs->scratch, p);
		return rs;
	}
	int rc = resolve(fs, p, &r);
	if (rc == 0 && fs->opt.ro)
		rc = -EROFS;
	else if (rc == 0 && (r.kind == TK_TABLE || r.kind == TK_ENTRIES) &&
		 scratch_has_children(&fs->scratch, p))
		rc = -ENOTEMPTY; /* an editor's file is still in there */
	else if (rc == 0) {
		switch (r.kind) {
		case TK_EMPTYDIR:
			if (rfs_map_get(&fs->chg.emptydirs, p))
				rfs_map_del(&fs->chg.emptydirs, p);
			else
				rc = -EBUSY; /* runners/ is always there */
			break;
		case TK_TABLE:
		case TK_ENTRIES:
			if (toml_count(fs->doc, r.node) > 0 && !only_hidden_left(fs, &r)) {
				rc = -ENOTEMPTY;
				break;
			}
			struct remove_arg ra = {.path = p, .dir = true};
			rc = txn_run(fs, p, remove_fn, &ra);
			free(ra.text);
			if (rc == 0) {
				char dir[PATH_MAX];
				node_parent(p, dir, sizeof(dir));
				node_touch(fs, dir);
				rfs_map_del_prefix(&fs->mtimes, p);
				scratch_remove_under(&fs->scratch, p);
				if (r.entry)
					forget_entry(fs, &r);
				keep_dir(fs, dir);
			}
			break;
		case TK_REG: {
			struct buf f = BUF_INIT;
			rc = registry_fields(fs->doc, r.runner, r.host, &f);
			rc = rc < 0 ? rc : f.len && !fresh_is(fs, r.canon, fs->caller) ? -ENOTEMPTY : change_registry(fs, p, 'r', NULL);
			buf_free(&f);
			break;
		}
		case TK_REGDIR: {
			/* always there, like runners/; rm -r of a runner removes
			 * it after its registries, so an empty one just goes */
			struct buf hosts = BUF_INIT;
			size_t n = 0;
			registry_hosts(fs->doc, r.runner, &hosts, &n);
			buf_free(&hosts);
			rc = n ? -ENOTEMPTY : 0;
			break;
		}
		case TK_ROOT:
		case TK_CTLDIR:
		case TK_HISTDIR:
			rc = -EBUSY;
			break;
		case TK_MISSING:
			rc = -ENOENT;
			break;
		default:
			rc = -ENOTDIR;
		}
	}
	return rc;
}

struct mkdir_arg {
	struct tree_ref r;
	const char *path;
	struct tree_ref src; /* in a copy: the source's table (fresh.h) */
	bool copied;         /* its inline text was copied whole */
};

/* In a copy (fresh.h), a table or array of tables made at `dir` (the
 * copy's path) under `parent`: the copy's own table that follows it in
 * the source, so that it goes before that one and the copy keeps the
 * source's order whatever order cp makes them in (inode order). */
static uint32_t copy_next(struct rfs *fs, toml_doc *d, const char *dir, uint32_t parent)
{
	const char *rest;
	const char *src = fresh_source(fs, dir, &rest, fs->caller);
	char sp[PATH_MAX];
	struct tree_ref sr;
	if (!src || snprintf(sp, sizeof(sp), "%s%s", src, rest) >= (int)sizeof(sp) ||
	    tree_resolve_in(fs, d, sp, &sr) < 0 || sr.node == TOML_NONE ||
	    (sr.kind != TK_TABLE && sr.kind != TK_ENTRIES))
		return TOML_NONE;
	for (uint32_t c = toml_next(d, sr.node); c != TOML_NONE; c = toml_next(d, c)) {
		size_t klen;
		const char *k = toml_key(d, c, &klen);
		uint32_t mine = k ? toml_get(d, parent, k, klen) : TOML_NONE;
		if (mine != TOML_NONE)
			return mine;
	}
	return TOML_NONE;
}

static int mkdir_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct mkdir_arg *a = arg;
	struct tree_ref *r = &a->r;
	toml_error err = {0};
	int rc;
	if (r->entry) {
		/* the registries a new runner inherits are those of the runners
		 * before it: *work is about to change, so look at a copy (only
		 * when there are some: a copy of 1000 runners is 8 MB) */
		toml_doc *before = NULL;
		struct buf hosts = BUF_INIT;
		size_t common = 0;
		if (r->runners && registry_hosts(*work, TOML_NONE, &hosts, &common) == 0 && common > 0)
			rc = toml_clone(*work, &before);
		else
			rc = 0;
		buf_free(&hosts);
		if (rc < 0)
			return rc;
		char dir[PATH_MAX];
		node_parent(r->canon, dir, sizeof(dir));
		uint32_t next = r->runners ? TOML_NONE : copy_next(fs, *work, dir, r->holder);
		rc = toml_add_table_before(*work, r->holder, r->akey, r->aklen, true, next, &err);
		if (rc == 0 && r->runners) {
			/* a new runner is named by its directory */
			uint32_t arr = toml_get(*work, r->holder, r->akey, r->aklen);
			uint32_t e = toml_at(*work, arr, toml_count(*work, arr) - 1);
			toml_value v = {.type = TOML_STRING, .str = r->key, .len = r->klen};
			rc = toml_insert(*work, e, "name", 4, &v, &err);
			/* it starts with the registries every runner has */
			if (rc == 0 && before) {
				arr = toml_get(*work, r->holder, r->akey, r->aklen);
				e = toml_at(*work, arr, toml_count(*work, arr) - 1);
				rc = registry_inherit(*work, e, before, why, n);
				if (rc < 0) {
					toml_free(before);
					return rc;
				}
			}
		}
		toml_free(before);
	} else {
		size_t rl;
		const char *raw = a->src.kind == TK_TABLE && a->src.node != TOML_NONE
					  ? toml_raw(*work, a->src.node, &rl)
					  : NULL;
		char *copy = raw ? strndup(raw, rl) : NULL;
		if (copy) {
			rc = toml_insert_raw(*work, r->parent, r->key, r->klen, copy, rl, &err);
			a->copied = rc == 0;
			free(copy);
		} else {
			uint32_t next = copy_next(fs, *work, r->canon, r->parent);
			rc = toml_add_table_before(*work, r->parent, r->key, r->klen, false, next, &err);
		}
	}
	if (rc < 0)
		snprintf(why, n, "%s", err.msg[0] ? err.msg : strerror(-rc));
	return rc;
}

/* mkdir runners/B/A, A no table of a runner but the name of another
 * runner: cp -r runners/A runners/B with B there already, which would
 * copy A into B (into memory, as an unknown directory). */
static bool into_other_runner(struct rfs *fs, const char *p)
{
	if (strncmp(p, "runners/", 8))
		return false;
	const char *s = strchr(p + 8, '/');
	char other[PATH_MAX];
	struct tree_ref o;
	return s && !strchr(s + 1, '/') && snprintf(other, sizeof(other), "runners/%s", s + 1) < (int)sizeof(other) &&
	       tree_resolve(fs, other, &o) == 0 && o.runner_entry;
}

/* Is the registry at reg ("runners/X/registries/HOST") in a fresh runner? */
static bool in_fresh_runner(struct rfs *fs, const char *reg)
{
	char d[PATH_MAX], runner[PATH_MAX];
	node_parent(reg, d, sizeof(d));
	node_parent(d, runner, sizeof(runner));
	return !strncmp(runner, "runners/", 8) && fresh_is(fs, runner, fs->caller);
}

/* The last name of path p as spelled (a runner named "." is "%2E") */
static const char *last_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

int change_mkdir(struct rfs *fs, const char *p, mode_t mode)
{
	struct mkdir_arg a = {.path = p};
	struct tree_ref *r = &a.r;
	int rc = tree_resolve(fs, p, r);
	if (rc == 0 && r->runner_entry && strcmp(r->canon, p)) {
		/* the old name of a renamed runner: a new runner may take it */
		rfs_map_del(&fs->chg.aliases, p);
		rc = tree_resolve(fs, p, r);
	}
	char dir[PATH_MAX];
	node_parent(p, dir, sizeof(dir));
	if (scratch_get(&fs->scratch, p)) {
		rc = -EEXIST;
	} else if (rc == 0 && !fs->opt.ro && in_copy_source(fs, r, &a.src) && a.src.kind == TK_ENTRIES) {
		/* an array of tables of the runner being copied, known or not:
		 * it waits in memory for its first entry */
		rc = rfs_map_set(&fs->chg.emptydirs, p, NULL, "entries");
	} else if (rc == 0 && !fs->opt.ro && in_copy_source(fs, r, &a.src) &&
		   (a.src.kind == TK_TABLE || a.src.kind == TK_EMPTYDIR)) {
		/* a table of the runner being copied, known or not; an inline
		 * one is copied whole (entries keep the source's names) and
		 * looks empty until cp fills it */
		rc = txn_run(fs, p, mkdir_fn, &a);
		if (rc == 0 && a.copied) {
			names_copy(fs, a.src.canon, r->canon);
			fresh_made(fs, r->canon, fs->caller, "(copy)");
		}
	} else if (rc == 0 && r->kind == TK_MISSING && into_other_runner(fs, p)) {
		rc = rfs_error(fs, -EPERM, p, "a runner does not go into another runner; copy it to a free name under runners/");
	} else if (rc == 0 && r->kind == TK_MISSING && !r->entry && !r->reg && !r->sk && r->parent != TOML_NONE &&
		   !fs->opt.ro && !change_scratch_name(fs, r) && r->pst && schema_suggest(r->pst, r->key, r->klen)) {
		/* a name close to a table's is a typo, not a tool's directory */
		rc = change_creatable(fs, p, r);
	} else if ((rc == -ENOENT && change_scratch_parent(fs, p)) ||
		   (rc == 0 && r->kind == TK_MISSING && !r->entry && !r->reg && !r->sk &&
		    r->parent != TOML_NONE) ||
		   /* runners/.git, registries/.lock: a tool's, not a runner or a host */
		   (rc == 0 && r->kind == TK_MISSING && last_name(p)[0] == '.' && !strchr(last_name(p), '%') &&
		    ((r->entry && r->runners) || (r->reg && !r->klen)))) {
		/* a tool's own directory (puppet's lock, git's .git): kept in memory */
		bool in_dir = rc == -ENOENT;
		rc = fs->opt.ro ? -EROFS : scratch_add(&fs->scratch, p, SC_DIR, mode, NULL);
		if (rc == 0)
			change_note_scratch(fs, p, r, in_dir);
		return rc;
	} else if (rc == -EINVAL)
		rc = rfs_error(fs, -EINVAL, p, "not a valid name: write / as %%2F, %% as %%25, # as %%23");
	else if (rc == 0 && fs->opt.ro)
		rc = -EROFS;
	else if (rc == 0 && r->kind != TK_MISSING && fresh_hidden(fs, r->canon, fs->caller)) {
		/* made again by the tool filling a new directory (fresh.h) */
		fresh_show(fs, r->canon, fs->caller);
		if (tree_is_dir(r))
			fresh_made(fs, r->canon, fs->caller, "(copy)"); /* and what is in it, in turn */
		rc = tree_is_dir(r) ? 0 : -EEXIST;
	} else if (rc == 0 && r->kind == TK_REG && in_fresh_runner(fs, r->canon)) {
		fresh_made(fs, r->canon, fs->caller, "(copy)"); /* it came with the copied environment */
	} else if (rc == 0 && r->kind != TK_MISSING)
		rc = rfs_error(fs, -EEXIST, p, "it already exists");
	else if (rc == 0 && r->reg && !r->klen) {
		rc = change_registry(fs, p, 'a', NULL);
		if (rc == 0)
			fresh_made(fs, r->canon, fs->caller, NULL);
	}
	else if (rc == 0 && r->reg)
		rc = rfs_error(fs, -ENOTDIR, p, "a registry holds username, password and auth");
	else if (rc == 0 && r->entry) {
		if (r->runners) {
			char **names;
			size_t n;
			if (r->klen == 0)
				rc = rfs_error(fs, -EINVAL, p, "a runner needs a name");
			else if ((rc = tree_runner_names(fs, &names, &n)) == 0)
				rc = txn_run(fs, p, mkdir_fn, &a);
		} else {
			/* a new entry goes at the end, named by the number one
			 * past the largest there; a copy keeps the source's
			 * numbers (services/1, 2 after services/0 went) */
			char *end;
			unsigned long want = strtoul(r->key, &end, 10);
			char canon[32], runner[PATH_MAX];
			snprintf(canon, sizeof(canon), "%lu", want);
			const char *s = strncmp(p, "runners/", 8) ? NULL : strchr(p + 8, '/');
			snprintf(runner, sizeof(runner), "%.*s", s ? (int)(s - p) : 0, p);
			bool copy = s && fresh_copying(fs, runner);
			rc = *end || strcmp(canon, r->key) || want < (unsigned long)r->index ||
					     (want > (unsigned long)r->index && !copy)
				     ? rfs_error(fs, -EINVAL, p, "entries are named by number: the next one is %d",
						 r->index)
				     : txn_run(fs, p, mkdir_fn, &a);
		}
		if (rc == 0) {
			rfs_map_del(&fs->chg.emptydirs, dir);
			char cdir[PATH_MAX];
			node_parent(r->canon, cdir, sizeof(cdir));
			names_appended(fs, cdir, r->canon + strlen(cdir) + (cdir[0] ? 1 : 0));
			fresh_show(fs, r->canon, fs->caller);
			if (r->runners)
				fresh_made(fs, r->canon, fs->caller, NULL);
		}
	} else if (rc == 0) {
		const struct schema_key *sk = r->sk;
		if (sk && sk->kind == SK_ENTRIES) {
			/* an array of tables cannot be empty in TOML: the
			 * directory waits in memory for its first entry */
			rc = rfs_map_set(&fs->chg.emptydirs, p, NULL, NULL);
		} else if (sk && (sk->kind == SK_TABLE || sk->kind == SK_MAP)) {
			rc = txn_run(fs, p, mkdir_fn, &a);
		} else if (sk) {
			rc = rfs_error(fs, -ENOTDIR, p, "%s holds a value, not a table", r->key);
		} else {
			const char *hint = r->pst ? schema_suggest(r->pst, r->key, r->klen) : NULL;
			rc = hint ? rfs_error(fs, -EINVAL, p, "no table \"%s\" here; did you mean \"%s\"?", r->key, hint)
				  : rfs_error(fs, -EINVAL, p, "no table \"%s\" is known here", r->key);
		}
	}
	if (rc == 0) {
		node_touch(fs, dir);
		fresh_show(fs, r->canon, fs->caller);
	}
	return rc;
}

struct rename_arg {
	const char *from, *to;
	struct tree_ref rf, rt;
};

static int rename_runner_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct rename_arg *a = arg;
	toml_error err = {0};
	toml_value v = {.type = TOML_STRING, .str = a->rt.key, .len = a->rt.klen};
	(void)fs;
	uint32_t nm = toml_get(*work, a->rf.node, "name", 4);
	int rc = nm != TOML_NONE ? toml_set(*work, nm, &v, &err)
				 : toml_insert(*work, a->rf.node, "name", 4, &v, &err);
	if (rc < 0)
		snprintf(why, n, "%s", err.msg[0] ? err.msg : strerror(-rc));
	return rc;
}

/* mv key other: the value moves, read and written as text so the target
 * checks it as its own type. */
static int move_value_fn(struct rfs *fs, toml_doc **work, void *arg, char *why, size_t n)
{
	struct rename_arg *a = arg;
	struct buf text = BUF_INIT;
	toml_error err = {0};
	/* the target keeps its place when it exists (key order stays);
	 * the source's line goes */
	int rc = tree_render(*work, &a->rf, &text);
	/* node ids change with every edit: find both again by path */
	struct tree_ref rf, rt;
	if (rc == 0)
		rc = tree_resolve_in(fs, *work, a->from, &rf);
	if (rc == 0)
		rc = toml_remove(*work, rf.node, &err);
	if (rc == 0)
		rc = tree_resolve_in(fs, *work, a->to, &rt);
	if (rc == 0) {
		rc = tree_store(*work, &rt, text.p ? text.p : "", text.len, why, n);
		/* the message describes the value: a secret's must not show */
		if (rc < 0 && tree_is_secret(&a->rf))
			snprintf(why, n, "the value of %s does not fit %s", a->rf.key, rt.key);
	}
	if (rc < 0 && !why[0])
		snprintf(why, n, "%s", err.msg[0] ? err.msg : strerror(-rc));
	buf_free(&text);
	return rc;
}

/* rename a key's file to a name that is not a key (emacs: key -> key~,
 * vim: key -> key~): its content becomes a scratch file there, and the key
 * goes, kept for revival when the editor writes the key again. */
static int key_to_scratch(struct rfs *fs, struct rename_arg *a)
{
	struct buf text = BUF_INIT;
	struct scratch *sc;
	int rc = tree_render(fs->doc, &a->rf, &text);
	if (rc == 0) {
		scratch_remove(&fs->scratch, a->to);
		rc = scratch_add(&fs->scratch, a->to, SC_FILE, tree_is_secret(&a->rf) ? 0600 : 0644, &sc);
	}
	if (rc == 0 && (rc = buf_add(&sc->data->content, text.p ? text.p : "", text.len)) == 0 &&
	    (rc = change_remove_key(fs, a->from)) < 0)
		scratch_remove(&fs->scratch, a->to);
	buf_free(&text);
	return rc;
}

/* rename a scratch file onto a key (sed -i, Ansible, rsync, perl -pi,
 * vim's and Python's atomic saves): its content is the key's new value,
 * one transaction; on failure the scratch file stays. */
static int scratch_to_key(struct rfs *fs, struct rename_arg *a, struct scratch *sc)
{
	if (sc->type == SC_LINK)
		return rfs_error(fs, -EPERM, a->to, "a symlink cannot become a key: write the value instead");
	if (sc->type != SC_FILE)
		return rfs_error(fs, -EISDIR, a->to, "a directory cannot become a key");
	struct scratch_data *d = scratch_data_ref(sc->data);
	int rc = change_store(fs, a->to, a->rt.kind == TK_CONFIG ? TK_CONFIG : TK_VALUE,
			     d->content.p ? d->content.p : "", d->content.len);
	if (rc == 0) {
		rfs_map_set(&fs->mtimes, a->to, &d->mtime, NULL);
		scratch_remove(&fs->scratch, a->from);
	}
	scratch_data_unref(d);
	return rc;
}

/* A directory cannot go where rename() asks: say why, with an errno that
 * makes mv report it and delete nothing (EXDEV would make mv copy and
 * delete; EINVAL reads as "a subdirectory of itself"). */
static int refuse_dir_move(struct rfs *fs, const struct rename_arg *a, const char *tdir)
{
	struct tree_ref d;
	if (a->rf.runner_entry && tree_resolve(fs, tdir, &d) == 0 && d.runner_entry)
		return rfs_error(fs, -EPERM, a->to,
				 "%s is a runner: a runner does not go into another; "
				 "remove it first or pick a free name", tdir);
	if (a->rf.entry && !a->rf.runner_entry)
		return rfs_error(fs, -EPERM, a->from, "entries are named by position and cannot be renamed");
	if (a->rf.kind == TK_TABLE || a->rf.kind == TK_ENTRIES)
		return rfs_error(fs, -EPERM, a->from,
				 "%s is a table and keeps its name: %s is not a table there (copy it with cp -r instead)",
				 a->rf.key, a->to);
	return rfs_error(fs, -EPERM, a->from, "%s cannot be moved to %s", a->from, a->to);
}

/* A scratch file or directory renamed to a name that is not a key: only
 * to another scratch name. A file under a typo would look written and
 * never reach config.toml (rsync, Ansible and Python save by renaming
 * their temp file); a directory under a table's name would look like the
 * table. EPERM: rename(2)'s EINVAL reads as "a subdirectory of itself". */
static int scratch_onto_free_name(struct rfs *fs, const struct rename_arg *a, const struct scratch *sf,
				  const struct scratch *st, int rt)
{
	if (st || rt != 0 || a->rt.kind != TK_MISSING)
		return 0; /* onto a scratch file, or into a scratch directory */
	if (sf->type == SC_DIR && a->rt.sk)
		return rfs_error(fs, -EPERM, a->to,
				 "%s is a table: a directory made under another name cannot become it; "
				 "mkdir %s and put its keys in it", a->rt.key, a->rt.key);
	if (change_scratch_name(fs, &a->rt))
		return 0;
	const char *hint = a->rt.pst ? schema_suggest(a->rt.pst, a->rt.key, a->rt.klen) : NULL;
	if (sf->type == SC_DIR && !hint)
		return 0; /* a tool's directory under a name of its own */
	int rc = change_creatable(fs, a->to, &a->rt); /* says why */
	return rc == -EINVAL ? -EPERM : rc < 0 ? rc : -EPERM;
}

int change_rename(struct rfs *fs, const char *from, const char *to, unsigned int flags)
{
	struct rename_arg a = {.from = from, .to = to};
	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	struct scratch *sf = scratch_get(&fs->scratch, a.from), *st = scratch_get(&fs->scratch, a.to);
	int rc = sf ? 0 : resolve(fs, a.from, &a.rf);
	int rt = tree_resolve(fs, a.to, &a.rt);
	bool to_scratch = st || (rt == -ENOENT && change_scratch_parent(fs, a.to)) ||
			  (rt == 0 && a.rt.kind == TK_MISSING && !change_key_name(&a.rt) && !a.rt.entry);
	if (rc == 0 && !to_scratch)
		rc = rt;
	/* rename(2)'s EINVAL makes mv say "a subdirectory of itself" */
	if (rc == -EINVAL)
		rc = rfs_error(fs, -EPERM, a.to, "not a valid name: write / as %%2F, %% as %%25, # as %%23");
	if (rc == 0 && fs->opt.ro)
		rc = -EROFS;
	bool to_exists = st || (rt == 0 && a.rt.kind != TK_MISSING);
	if (rc == 0 && (flags & RENAME_NOREPLACE) && to_exists)
		rc = -EEXIST;
	if (rc < 0)
		goto out;
	char fdir[PATH_MAX], tdir[PATH_MAX];
	node_parent(a.from, fdir, sizeof(fdir));
	node_parent(a.to, tdir, sizeof(tdir));

	if (!sf && a.rf.kind == TK_REG) {
		if (a.rt.kind == TK_REG && !strcmp(fdir, tdir))
			rc = rfs_error(fs, -EEXIST, a.to, "a registry of that name already exists");
		else if (a.rt.kind == TK_REG)
			rc = rfs_error(fs, -EEXIST, a.to, "that runner already has a registry of that name");
		else if (a.rt.kind != TK_MISSING || !a.rt.reg || a.rt.klen)
			rc = rfs_error(fs, -EPERM, a.to, "a registry goes into a registries/ directory");
		else if (strcmp(fdir, tdir) && (a.rf.runner == TOML_NONE || a.rt.runner == TOML_NONE))
			rc = rfs_error(fs, -EPERM, a.to,
				       "a registry of every runner (registries/ at the top) stays there; "
				       "copy it with cp -r into one runner's registries/ instead");
		else
			rc = change_registry(fs, a.from, strcmp(fdir, tdir) ? 'M' : 'm', a.to);
	} else if (sf && to_scratch) {
		rc = scratch_onto_free_name(fs, &a, sf, st, rt);
		if (rc == 0)
			rc = scratch_rename(&fs->scratch, a.from, a.to);
	} else if (sf) {
		if (a.rt.kind == TK_VALUE || a.rt.kind == TK_CONFIG || a.rt.kind == TK_REGFILE || change_key_name(&a.rt))
			rc = scratch_to_key(fs, &a, sf);
		else
			rc = rfs_error(fs, -EISDIR, a.to, "only a key's file can be replaced this way");
	} else if (to_scratch) {
		if (a.rf.kind == TK_VALUE && !st && rt == 0 && !change_scratch_name(fs, &a.rt))
			rc = rfs_error(fs, -EPERM, a.to, "%s is not a key here: %s would leave config.toml "
					"(rename a key only to a backup name such as %s.bak or %s~)",
				       a.rt.key, a.rf.key, a.rf.key, a.rf.key);
		else if (a.rf.kind == TK_VALUE)
			rc = key_to_scratch(fs, &a);
		else
			rc = refuse_dir_move(fs, &a, tdir);
	} else if (a.rf.kind == TK_TABLE && a.rf.entry && !strncmp(a.from, "runners/", 8) &&
		   !strcmp(fdir, "runners") && !strcmp(tdir, "runners")) {
		if (a.rt.kind != TK_MISSING)
			/* what rename(2) says of a directory onto a full one */
			rc = rfs_error(fs, (flags & RENAME_NOREPLACE) ? -EEXIST : -ENOTEMPTY, a.to,
				       "a runner of that name already exists");
		else if (a.rt.klen == 0)
			rc = rfs_error(fs, -EPERM, a.to, "a runner needs a name");
		else if (runner_taken(fs, a.to + 8, a.rt.key, a.rt.klen, a.rf.index) >= 0)
			rc = rfs_error(fs, -EEXIST, a.to, "another runner is named \"%s\"", a.to + 8);
		else
			rc = txn_run(fs, a.to, rename_runner_fn, &a);
		if (rc == 0) {
			node_touch(fs, "runners");
			node_keep_identity(fs, a.from, a.to);
			move_half_passwords(fs, a.rf.canon, a.to);
			forget_aliases(fs, a.rf.canon);
			names_renamed(fs, "runners", (size_t)a.rf.index, a.to + 8);
		}
	} else if (a.rf.kind == TK_VALUE && (a.rt.kind == TK_MISSING || a.rt.kind == TK_VALUE) && !a.rt.entry) {
		rc = txn_run(fs, a.to, move_value_fn, &a);
		if (rc == 0) {
			node_keep_identity(fs, a.from, a.to);
			node_touch(fs, fdir);
			node_touch(fs, tdir);
			node_touch(fs, a.to);
		}
	} else if (tree_is_dir(&a.rf)) {
		rc = refuse_dir_move(fs, &a, tdir);
	} else {
		rc = rfs_error(fs, -EPERM, a.from, "%s cannot be moved to %s", a.from, a.to);
	}
out:
	return rc;
}

int change_name_precheck(struct rfs *fs, const char *p, const char *data, size_t size)
{
	struct runner_at ra;
	char copy_of[PATH_MAX];
	runner_at(fs, p, &ra);
	int rc = runner_name_free(fs, p, &ra, data, size, copy_of, sizeof(copy_of));
	return rc < 0 ? rc : 0;
}
