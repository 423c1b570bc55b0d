/* SPDX-License-Identifier: MIT */
/*
 * test_inplace: a scalar edit that skips the reparse (edit.c's
 * splice_scalar) must leave exactly the document a full parse of the new
 * text builds: same bytes, same nodes field by field, same key spellings,
 * same key hash, same header list.
 *
 *   test_inplace [--suite DIR]... [FILE|DIR]...
 *
 * For every valid document (fixture files, *.toml of a directory, the
 * valid TOML 1.0.0 cases of a toml-test folder), every node that has a
 * value span — scalars, arrays, inline tables; every STRIDE-th one in big
 * documents — is set to each of a list of scalar values of every type. The edited document is compared with toml_parse of its own
 * text. The test also counts how often the fast path was taken (the node
 * array is the same allocation after the edit) and fails if it never was,
 * so that it cannot pass by testing only the reparse.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../fs/toml/internal.h"
#include "test.h"

static unsigned n_docs, n_edits, n_fast, n_fail;
static const char *cur;

__attribute__((format(printf, 1, 2))) static void failf(const char *fmt, ...)
{
	va_list ap;
	if (++n_fail > 50)
		return;
	char msg[2048];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t_fail("%s: %s", cur, msg);
}

/* text and its length, counted by the compiler */
#define STR(s) .str = s, .len = sizeof(s) - 1

static const toml_value values[] = {
	{.type = TOML_INTEGER, .i = 7},
	{.type = TOML_INTEGER, .i = -1234567890123},
	{.type = TOML_FLOAT, .f = 1.5},
	{.type = TOML_BOOL, .b = true},
	{.type = TOML_STRING, STR("x")},
	{.type = TOML_STRING, STR("")},
	{.type = TOML_STRING, STR("it's \"quoted\" \\ and \xc3\xa9")},
	{.type = TOML_STRING, STR("a much longer value than any of the others, to move offsets")},
	{.type = TOML_STRING, STR("two\nlines")},
	{.type = TOML_DATETIME, STR("1979-05-27T07:32:00Z")},
	{.type = TOML_DATE_LOCAL, STR("1979-05-27")},
	{.type = TOML_TIME_LOCAL, STR("07:32:00")},
};

#define SAME(field) (a->field == b->field)

static void compare(const toml_doc *a, const toml_doc *b, uint32_t edited, size_t vi)
{
	if (!SAME(len) || memcmp(a->text, b->text, a->len) || !SAME(bom) || !SAME(crlf)) {
		failf("node %u value %zu: text or its flags differ", edited, vi);
		return;
	}
	if (!SAME(nnodes) || !SAME(keys_len) || !SAME(nsegs) || !SAME(nheaders)) {
		failf("node %u value %zu: array sizes differ", edited, vi);
		return;
	}
	for (uint32_t i = 0; i < a->nnodes; i++) {
		const struct tnode *x = &a->nodes[i], *y = &b->nodes[i];
#define F(f) (x->f == y->f)
		if (!(F(parent) && F(first) && F(last) && F(next) && F(count) && F(key_off) && F(key_len) &&
		      F(vstart) && F(vend) && F(lstart) && F(lend) && F(sect_end) && F(content_end) &&
		      F(last_kv) && F(home) && F(block_end) && F(dot_sect) && F(type) && F(form) && F(flags))) {
			failf("node %u value %zu: node %u differs from a fresh parse", edited, vi, i);
			return;
		}
#undef F
	}
	if (memcmp(a->keys, b->keys, a->keys_len))
		failf("node %u value %zu: keys differ", edited, vi);
	for (uint32_t i = 0; i < a->nsegs; i++)
		if (a->segs[i].node != b->segs[i].node || a->segs[i].start != b->segs[i].start ||
		    a->segs[i].end != b->segs[i].end)
			failf("node %u value %zu: key spelling %u differs", edited, vi, i);
	if (!SAME(hash_mask)) {
		/* The hash's size is a capacity, not part of the document: a
		 * parse sizes it by the text's length, an in-place edit keeps
		 * it (found with Debian's toml-test valid/string/escapes.toml,
		 * 64 slots against 128). The same keyed nodes under the same
		 * hashes, each found by a lookup in the edited document. */
		uint32_t na = 0, nb = 0;
		for (uint32_t i = 0; a->hash && i <= a->hash_mask; i++)
			na += a->hash[i].id != NONE;
		for (uint32_t i = 0; b->hash && i <= b->hash_mask; i++) {
			if (b->hash[i].id == NONE)
				continue;
			nb++;
			const struct tnode *y = &b->nodes[b->hash[i].id];
			if (doc_lookup(a, y->parent, b->keys + y->key_off, y->key_len) != b->hash[i].id)
				failf("node %u value %zu: key of node %u not found as a fresh parse finds it",
				      edited, vi, b->hash[i].id);
		}
		if (na != nb)
			failf("node %u value %zu: %u keyed nodes hashed, %u after a fresh parse", edited, vi, na, nb);
	} else {
		for (uint32_t i = 0; a->hash && i <= a->hash_mask; i++)
			if (a->hash[i].id != b->hash[i].id || a->hash[i].h != b->hash[i].h)
				failf("node %u value %zu: hash slot %u differs", edited, vi, i);
	}
	if (a->nheaders && memcmp(a->headers, b->headers, sizeof(*a->headers) * a->nheaders))
		failf("node %u value %zu: header list differs", edited, vi);
}

static void check_doc(const char *text, size_t len)
{
	toml_doc *d;
	if (toml_parse(text, len, &d, NULL) < 0)
		return;
	n_docs++;
	uint32_t stride = d->nnodes > 2000 ? 37 : 1;
	for (uint32_t n = 0; n < d->nnodes; n += stride) {
		/* arrays and inline tables too: the edit must not take the
		 * in-place path over nodes that have children */
		if (toml_raw(d, n, &(size_t){0}) == NULL)
			continue;
		for (size_t vi = 0; vi < sizeof(values) / sizeof(values[0]); vi++) {
			toml_doc *e;
			if (toml_clone(d, &e) < 0) {
				failf("out of memory");
				break;
			}
			const struct tnode *before = e->nodes;
			uint64_t version = toml_version(e);
			toml_journal_start(e);
			if (toml_set(e, n, &values[vi], NULL) == 0 && toml_version(e) != version) {
				n_edits++;
				/* the journal gives back the text before */
				struct toml_delta dl = {0, 0, NULL, 0};
				if (toml_journal_delta(e, &dl) < 0 || dl.at + dl.oldn + dl.tail != len ||
				    memcmp(text, e->text, dl.at) || memcmp(text + dl.at, dl.old, dl.oldn) ||
				    memcmp(text + len - dl.tail, e->text + e->len - dl.tail, dl.tail))
					failf("node %u value %zu: the journal does not give the text back", n, vi);
				free(dl.old);
				n_fast += e->nodes == before;
				toml_doc *f;
				if (toml_parse(e->text, e->len, &f, NULL) < 0)
					failf("node %u value %zu: the edited text does not parse", n, vi);
				else {
					compare(e, f, n, vi);
					toml_free(f);
				}
			}
			toml_free(e);
		}
	}
	toml_free(d);
}

static void check_file(const char *path)
{
	t_case("%s", path);
	FILE *f = fopen(path, "rb");
	if (!f) {
		cur = path;
		failf("cannot open");
		return;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0, got;
	char chunk[65536];
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + got > cap) {
			cap = (len + got) * 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		memcpy(buf + len, chunk, got);
		len += got;
	}
	fclose(f);
	cur = path;
	check_doc(buf ? buf : "", len);
	free(buf);
}

static void check_dir(const char *dir)
{
	DIR *dp = opendir(dir);
	if (!dp) {
		cur = dir;
		failf("cannot open the folder");
		return;
	}
	struct dirent *de;
	while ((de = readdir(dp))) {
		size_t l = strlen(de->d_name);
		if (l > 5 && !strcmp(de->d_name + l - 5, ".toml")) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			check_file(path);
		}
	}
	closedir(dp);
}

static void check_suite(const char *arg)
{
	char dir[4096], line[1024];
	FILE *f = t_suite_open(arg, dir, sizeof dir);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		size_t l = strlen(line);
		if (strncmp(line, "valid/", 6) || l < 6 || strcmp(line + l - 5, ".toml"))
			continue;
		char path[5300];
		snprintf(path, sizeof(path), "%s/%s", dir, line);
		check_file(path);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (!strcmp(argv[i], "--suite") && i + 1 < argc)
			check_suite(argv[++i]);
		else if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			check_dir(argv[i]);
		else
			check_file(argv[i]);
	}
	t_case("the in-place path is taken");
	cur = "summary";
	if (n_fast == 0)
		failf("the in-place path was never taken");
	t_note("%u documents, %u edits compared with a fresh parse (%u in place)", n_docs, n_edits,
	       n_fast);
	return t_done();
}
