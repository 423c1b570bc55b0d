/* SPDX-License-Identifier: MIT */
/*
 * test_inodes: the kernel's node ids (fs/inodes.c). Lookups count, FORGET
 * frees a node and then its parents once nothing holds them; a cut node
 * keeps its id but no path; a rename moves a node and what is below it;
 * an id is never given twice; a name that comes back as another type is
 * a new node; and a randomized run against a model of what the kernel
 * holds leaves no node behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runnerfs/inodes.h"

#include "test.h"

static const char *path_in(const struct inodes *t, const struct inode *n, const char *name)
{
	static char buf[4096];
	int rc = inodes_path(t, n, name, buf, sizeof(buf));
	if (rc < 0)
		snprintf(buf, sizeof(buf), "(%s)", strerror(-rc));
	return buf;
}

/* each test's table is its local t */
#define path(n, name) path_in(&t, n, name)

static void basics(void)
{
	struct inodes t;
	t_case("lookups, paths, forget frees parents last");
	CHECK(inodes_init(&t) == 0, "init");
	struct inode *runners = inodes_lookup(&t, inodes_root(&t), "runners", S_IFDIR);
	struct inode *a = inodes_lookup(&t, runners, "a", S_IFDIR);
	struct inode *url = inodes_lookup(&t, a, "url", S_IFREG);
	CHECK(runners && a && url, "made");
	CHECK(!strcmp(path(url, NULL), "/runners/a/url"), "path %s", path(url, NULL));
	CHECK(!strcmp(path(inodes_root(&t), NULL), "/"), "root path %s", path(inodes_root(&t), NULL));
	CHECK(!strcmp(path(inodes_root(&t), "x"), "/x"), "root child %s", path(inodes_root(&t), "x"));
	CHECK(inodes_lookup(&t, a, "url", S_IFREG) == url && url->nlookup == 2, "a second lookup counts");
	CHECK(inodes_get(&t, inodes_id(url)) == url, "by id");
	CHECK(inodes_walk(&t, "/runners/a/url") == url, "walk");
	CHECK(inodes_walk(&t, "/runners/b") == NULL, "walk to a name not looked up");
	CHECK(inodes_get(&t, INODES_ROOT) == inodes_root(&t), "the root");
	uint64_t id_a = inodes_id(a), id_url = inodes_id(url);
	inodes_forget(&t, a, 1);
	CHECK(inodes_get(&t, id_a) == a, "a parent stays while a child is held");
	inodes_forget(&t, url, 1);
	CHECK(inodes_get(&t, id_url) == url, "one count left");
	inodes_forget(&t, url, 1);
	CHECK(inodes_get(&t, id_url) == NULL && inodes_get(&t, id_a) == NULL, "child, then parent freed");
	CHECK(t.count == 1, "runners left (%zu nodes)", t.count);
	inodes_forget(&t, runners, 5); /* more than it had: freed, not wrapped */
	CHECK(t.count == 0, "all gone (%zu)", t.count);
	inodes_free(&t);
}

static void cut_and_ids(void)
{
	struct inodes t;
	t_case("a cut node keeps its id, not its path; ids are never given twice");
	inodes_init(&t);
	struct inode *d = inodes_lookup(&t, inodes_root(&t), "d", S_IFDIR);
	struct inode *f = inodes_lookup(&t, d, "f", S_IFREG);
	uint64_t id_f = inodes_id(f);
	inodes_cut(&t, d);
	CHECK(!strcmp(path(f, NULL), "(No such file or directory)"), "below a cut node: %s", path(f, NULL));
	CHECK(inodes_get(&t, id_f) == f, "still answerable by id");
	struct inode *d2 = inodes_lookup(&t, inodes_root(&t), "d", S_IFDIR);
	CHECK(d2 != d && inodes_child(&t, inodes_root(&t), "d") == d2, "the name again: a new node");
	inodes_forget(&t, f, 1);
	inodes_forget(&t, d, 1);
	struct inode *g = inodes_lookup(&t, d2, "g", S_IFREG);
	CHECK(inodes_id(g) != id_f && inodes_get(&t, id_f) == NULL, "a reused slot has a new id");
	struct inode *x = inodes_lookup(&t, d2, "g", S_IFDIR);
	CHECK(x != g && x->type == S_IFDIR && !strcmp(path(g, NULL), "(No such file or directory)"),
	      "another type under the same name: a new node, the old one cut");
	inodes_free(&t);
}

static void renames(void)
{
	struct inodes t;
	t_case("a rename moves a node and what is below it");
	inodes_init(&t);
	struct inode *r = inodes_lookup(&t, inodes_root(&t), "runners", S_IFDIR);
	struct inode *a = inodes_lookup(&t, r, "a", S_IFDIR);
	struct inode *url = inodes_lookup(&t, a, "url", S_IFREG);
	struct inode *b = inodes_lookup(&t, r, "b", S_IFDIR);
	uint64_t id_a = inodes_id(a), id_url = inodes_id(url), id_r = inodes_id(r);
	/* a longer name moves the node: pointers are taken again by id */
	CHECK(inodes_move(&t, a, r, "a-much-longer-name-than-before"), "move");
	a = inodes_get(&t, id_a);
	CHECK(a && !strcmp(path(url, NULL), "/runners/a-much-longer-name-than-before/url"), "%s",
	      path(url, NULL));
	CHECK(inodes_child(&t, r, "a") == NULL, "old name gone");
	inodes_cut(&t, b); /* mv over b: b's name is taken */
	CHECK(inodes_move(&t, a, r, "b") && inodes_child(&t, r, "b") == inodes_get(&t, id_a), "onto a cut name");
	CHECK(!strcmp(path(url, NULL), "/runners/b/url"), "%s", path(url, NULL));
	struct inode *other = inodes_lookup(&t, inodes_root(&t), "other", S_IFDIR);
	CHECK(inodes_move(&t, url, other, "u") && !strcmp(path(inodes_get(&t, id_url), NULL), "/other/u"),
	      "across directories");
	a = inodes_get(&t, id_a);
	CHECK(a->kids == 0 && other->kids == 1, "kids follow (%u, %u)", a->kids, other->kids);
	CHECK(inodes_get(&t, id_r) == r, "a node that did not move stays where it was");
	unsigned listed = 0;
	for (struct inode *c = inodes_first(&t, r); c; c = inodes_next(&t, c))
		listed++;
	CHECK(listed == 1, "runners lists its named children only (%u)", listed);
	inodes_free(&t);
}

/* A model: what the kernel holds (counts per path) and what it may do
 * next; every node the table has is one the model holds or a parent of
 * one. */
#define NAMES 6
static void randomized(unsigned seed)
{
	struct inodes t;
	t_case("random lookups, forgets, cuts and renames (seed %u)", seed);
	inodes_init(&t);
	srand(seed);
	uint64_t held[512]; /* ids: a move may move a node */
	uint64_t counts[512];
	size_t n = 0;
	for (int step = 0; step < 20000; step++) {
		int op = rand() % 10;
		if (op < 5 && n < 512) {
			struct inode *dir = n && rand() % 3 ? inodes_get(&t, held[rand() % n]) : inodes_root(&t);
			if (dir->type != S_IFDIR || (dir != inodes_root(&t) && !inodes_name(dir)))
				continue;
			char name[8];
			snprintf(name, sizeof(name), "n%d", rand() % NAMES);
			struct inode *c = inodes_lookup(&t, dir, name, rand() % 4 ? S_IFDIR : S_IFREG);
			if (!c)
				continue;
			size_t i;
			for (i = 0; i < n && held[i] != inodes_id(c); i++)
				;
			if (i == n) {
				held[n] = inodes_id(c);
				counts[n++] = 0;
			}
			counts[i]++;
		} else if (op < 8 && n) {
			size_t i = (size_t)rand() % n;
			uint64_t k = 1 + (uint64_t)rand() % counts[i];
			inodes_forget(&t, inodes_get(&t, held[i]), k);
			if ((counts[i] -= k) == 0)
				held[i] = held[--n], counts[i] = counts[n];
		} else if (op == 8 && n) {
			inodes_cut(&t, inodes_get(&t, held[rand() % n]));
		} else if (n) {
			struct inode *x = inodes_get(&t, held[rand() % n]), *to = inodes_get(&t, held[rand() % n]);
			char name[16];
			/* a longer name now and then: the node moves */
			snprintf(name, sizeof(name), rand() % 4 ? "n%d" : "n%d-longer-name", rand() % NAMES);
			bool loop = false;
			for (struct inode *p = to; p; p = inodes_parent(&t, p))
				loop |= p == x;
			if (!inodes_name(x) || to->type != S_IFDIR || !inodes_name(to) || loop)
				continue;
			struct inode *over = inodes_child(&t, to, name);
			if (over && over != x)
				inodes_cut(&t, over);
			inodes_move(&t, x, to, name);
		}
	}
	bool ids_ok = true;
	for (size_t i = 0; i < n; i++)
		ids_ok &= inodes_get(&t, held[i]) && inodes_id(inodes_get(&t, held[i])) == held[i];
	CHECK(ids_ok, "every held node answers by id");
	while (n) {
		n--;
		inodes_forget(&t, inodes_get(&t, held[n]), counts[n]);
	}
	CHECK(t.count == 0 && inodes_root(&t)->kids == 0, "nothing left once all is forgotten (%zu nodes, %u kids)",
	      t.count, inodes_root(&t)->kids);
	inodes_free(&t);
}

int main(void)
{
	basics();
	cut_and_ids();
	renames();
	for (unsigned seed = 1; seed <= 5; seed++)
		randomized(seed);
	return t_done();
}
