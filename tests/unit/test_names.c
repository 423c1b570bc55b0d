/* SPDX-License-Identifier: MIT */
/*
 * test_names: entry names stay put (fs/names.c). Fresh names for
 * duplicates and nameless runners; a removal, an append and a rename keep
 * every other name; an outside change keeps the names that still fit and
 * renames the rest; a transaction's working view never disturbs the kept
 * list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/names.h"
#include "runnerfs/rfs.h"

#include "test.h"

static void check(bool ok, const char *what)
{
	t_case("%s", what);
	CHECK(ok, "%s", what);
}

static void set_text(struct rfs *fs, const char *t)
{
	toml_doc *d;
	if (toml_parse(t, strlen(t), &d, NULL) < 0) {
		fprintf(stderr, "does not parse: %s\n", t);
		exit(2);
	}
	toml_free(fs->doc);
	fs->doc = d;
}

/* The names of runners as one string "a|b#2|#3". */
static void runners(struct rfs *fs, char *out, size_t n)
{
	const struct name_list *l;
	struct name_list *tmp;
	uint32_t a = toml_get(fs->doc, TOML_ROOT, "runners", 7);
	out[0] = '\0';
	if (names_of(fs, fs->doc, "runners", 7, a, true, &l, &tmp) < 0) {
		snprintf(out, n, "(error)");
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "|" : "", l->names[i]);
	names_list_free(tmp);
}

static void expect(struct rfs *fs, const char *want, const char *what)
{
	char got[512];
	runners(fs, got, sizeof(got));
	t_case("%s", what);
	CHECK(!strcmp(got, want), "got %s, want %s", got, want);
}

static const char *R(const char *a, const char *b, const char *c)
{
	static char t[512];
	t[0] = '\0';
	const char *v[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		if (!v[i])
			continue;
		strcat(t, "[[runners]]\n");
		if (*v[i]) {
			strcat(t, "name = \"");
			strcat(t, v[i]);
			strcat(t, "\"\n");
		}
		strcat(t, "url = \"u\"\n");
	}
	return t;
}

int main(void)
{
	struct rfs fs = {0};
	set_text(&fs, R("ci", "ci", ""));
	expect(&fs, "ci|ci#2|#3", "fresh names: duplicates and nameless");

	/* a runner's name lost outside: its directory would show another
	 * runner than the one it names (ci, while ci#2 is named ci) */
	set_text(&fs, R("", "ci", ""));
	names_replaced(&fs);
	expect(&fs, "#1|ci|#3", "a name lost outside gives fresh names");
	set_text(&fs, R("ci", "ci", ""));
	names_replaced(&fs);
	expect(&fs, "ci|ci#2|#3", "fresh names back");

	/* rm -r runners/ci: its name key goes first, then the entry */
	set_text(&fs, R("", "ci", ""));
	names_unnamed(&fs, "runners", 0);
	expect(&fs, "ci|ci#2|#3", "a removed name key keeps its directory");
	names_replaced(&fs);
	expect(&fs, "ci|ci#2|#3", "... also across an outside change (a nameless runner fits)");
	/* a count that changed untracked: names given afresh */
	set_text(&fs, R("", "ci", NULL));
	expect(&fs, "#1|ci", "an untracked change of the count renames");
	set_text(&fs, R("", "ci", ""));
	names_free(&fs);
	set_text(&fs, R("ci", "ci", ""));
	expect(&fs, "ci|ci#2|#3", "fresh again");
	set_text(&fs, R("", "ci", ""));
	/* the entry removed */
	set_text(&fs, R("ci", "", NULL));
	names_removed(&fs, "runners", 0);
	expect(&fs, "ci#2|#3", "a removal keeps the others' names");
	/* an outside change that renames nothing keeps them */
	names_replaced(&fs);
	expect(&fs, "ci#2|#3", "an outside change keeps names that fit");
	/* mkdir runners/x */
	set_text(&fs, R("ci", "", "x"));
	names_appended(&fs, "runners", "x");
	expect(&fs, "ci#2|#3|x", "an append");
	/* mv runners/x runners/y */
	set_text(&fs, R("ci", "", "y"));
	names_renamed(&fs, "runners", 2, "y");
	expect(&fs, "ci#2|#3|y", "a rename");
	/* an outside change that renamed a runner: that name is given again */
	set_text(&fs, R("ci", "", "z"));
	names_replaced(&fs);
	expect(&fs, "ci|#2|z", "an outside rename gives fresh names");
	/* inside a transaction a count that does not match is a view only */
	set_text(&fs, R("ci", NULL, NULL));
	fs.names.in_txn = 1;
	expect(&fs, "ci", "a transaction's view");
	fs.names.in_txn = 0;
	set_text(&fs, R("ci", "", "z"));
	expect(&fs, "ci|#2|z", "the kept list is untouched by the view");

	/* positional entries and lists under a runner */
	set_text(&fs, "[[runners]]\nname = \"a\"\n[[runners.s]]\nx = 1\n[[runners.s]]\nx = 2\n[[runners.s]]\nx = 3\n");
	names_free(&fs);
	const struct name_list *l;
	struct name_list *tmp;
	uint32_t r0 = toml_at(fs.doc, toml_get(fs.doc, TOML_ROOT, "runners", 7), 0);
	uint32_t s = toml_get(fs.doc, r0, "s", 1);
	check(names_of(&fs, fs.doc, "runners/a/s", 11, s, false, &l, &tmp) == 0 && !tmp && l->n == 3 &&
		      !strcmp(l->names[2], "2") && names_next(l) == 3,
	      "positional names");
	names_removed(&fs, "runners/a/s", 0);
	set_text(&fs, "[[runners]]\nname = \"a\"\n[[runners.s]]\nx = 2\n[[runners.s]]\nx = 3\n");
	r0 = toml_at(fs.doc, toml_get(fs.doc, TOML_ROOT, "runners", 7), 0);
	s = toml_get(fs.doc, r0, "s", 1);
	check(names_of(&fs, fs.doc, "runners/a/s", 11, s, false, &l, &tmp) == 0 && l->n == 2 &&
		      !strcmp(l->names[0], "1") && !strcmp(l->names[1], "2") && names_find(l, "2") == 1 &&
		      names_find(l, "0") == -1 && names_next(l) == 3,
	      "entries keep their numbers after rm -r s/0");
	names_list_free(tmp);
	/* the runner renamed: its lists move with it */
	names_of(&fs, fs.doc, "runners", 7, toml_get(fs.doc, TOML_ROOT, "runners", 7), true, &l, &tmp);
	names_renamed(&fs, "runners", 0, "b");
	check(names_of(&fs, fs.doc, "runners/b/s", 11, s, false, &l, &tmp) == 0 && l->n == 2 &&
		      !strcmp(l->names[0], "1"),
	      "lists move with a renamed runner");
	names_list_free(tmp);
	/* the runner removed: its lists go */
	names_removed(&fs, "runners", 0);
	bool gone = true;
	for (size_t i = 0; i < fs.names.n; i++)
		gone &= strncmp(fs.names.v[i]->dir, "runners/b/", 10) != 0;
	check(gone, "lists go with a removed runner");

	names_free(&fs);
	toml_free(fs.doc);
	return t_done();
}
