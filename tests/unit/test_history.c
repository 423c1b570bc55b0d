/* SPDX-License-Identifier: MIT */
/*
 * test_history: .runnerfs/history kept as reverse diffs (fs/history.c)
 * gives back exactly the versions our writes replaced, in order, across
 * outside changes (history_outside: what they replaced is a version), with the oldest dropped beyond
 * backups=N. A fixed scenario, then random edits against a model that
 * keeps whole copies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runnerfs/history.h"
#include "runnerfs/rfs.h"
#include "runnerfs/toml.h"

#include "test.h"

static void set_text(struct rfs *fs, const char *t)
{
	toml_doc *d;
	if (toml_parse(t, strlen(t), &d, NULL) < 0) {
		fprintf(stderr, "test text does not parse: %s\n", t);
		exit(2);
	}
	toml_free(fs->doc);
	fs->doc = d;
}

/* ours: 1 a write of its own (a new version), 2 a write within the
 * burst of the one before, 0 an outside change */
static void change(struct rfs *fs, const char *t, int ours)
{
	size_t oldlen;
	const char *cur = toml_text(fs->doc, &oldlen);
	char *old = strdup(cur);
	set_text(fs, t);
	if (ours == 1)
		fs->hist.open = false; /* the burst before it is over */
	if (ours) {
		/* as a document's journal gives it: one range of the new
		 * text, maybe wider than where the bytes differ */
		size_t newlen = strlen(t), p = 0, s = 0;
		while (p < oldlen && p < newlen && old[p] == t[p])
			p++;
		while (s < oldlen - p && s < newlen - p && old[oldlen - 1 - s] == t[newlen - 1 - s])
			s++;
		p -= (size_t)rand() % (p + 1);
		s -= (size_t)rand() % (s + 1);
		struct history_change c = {t, newlen, p, s, old + p, oldlen - p - s};
		history_push(fs, &c);
	} else
		history_outside(fs, old, oldlen, t, strlen(t));
	free(old);
}

static void expect(struct rfs *fs, int n, const char *want, const char *what)
{
	struct buf b = BUF_INIT;
	int r = history_text(fs, n, &b);
	bool ok = want ? r == 0 && b.len == strlen(want) && !memcmp(b.p ? b.p : "", want, b.len)
		       : r == -ENOENT;
	if (!ok && t_failures() < 20)
		t_fail("%s: version %d is \"%.*s\" (%d), want \"%s\"", what, n, (int)b.len,
		       b.p ? b.p : "", r, want ? want : "(none)");
	else if (!ok)
		t_fail("%s: version %d differs", what, n);
	else
		CHECK(ok, "version %d", n);
	buf_free(&b);
}

static void scenario(void)
{
	struct rfs fs = {0};
	fs.opt.backups = 3;
	fs.opt.burst = 60000;
	set_text(&fs, "a = \"one\"\n");
	change(&fs, "a = \"two\"\n", 1);
	change(&fs, "a = \"two\"\nb = 3\n", 1);
	expect(&fs, 1, "a = \"two\"\n", "after two writes");
	expect(&fs, 2, "a = \"one\"\n", "after two writes");
	expect(&fs, 3, NULL, "after two writes");
	change(&fs, "# the runner rewrote it\nb = 4\n", 0);
	expect(&fs, 1, "a = \"two\"\nb = 3\n", "after an outside change: what it replaced");
	expect(&fs, 2, "a = \"two\"\n", "after an outside change");
	expect(&fs, 3, "a = \"one\"\n", "after an outside change");
	change(&fs, "b = 5\n", 1);
	expect(&fs, 1, "# the runner rewrote it\nb = 4\n", "a write after an outside change");
	expect(&fs, 2, "a = \"two\"\nb = 3\n", "a write after an outside change");
	expect(&fs, 3, "a = \"two\"\n", "a write after an outside change");
	change(&fs, "", 0); /* truncated by someone: the last good config stays */
	expect(&fs, 1, "b = 5\n", "emptied outside; backups=3");
	expect(&fs, 3, "a = \"two\"\nb = 3\n", "emptied outside; backups=3");
	expect(&fs, 4, NULL, "emptied outside; backups=3");
	history_free(&fs);
	toml_free(fs.doc);
}

/* A burst (rm -r: one write per file) is one version; an outside change
 * ends it. */
static void bursts(void)
{
	struct rfs fs = {0};
	fs.opt.backups = 5;
	fs.opt.burst = 60000;
	set_text(&fs, "a = 1\nb = 2\nc = 3\n");
	change(&fs, "a = 1\nb = 2\nc = 4\n", 1);
	change(&fs, "b = 2\nc = 4\n", 1);
	change(&fs, "c = 4\n", 2);
	change(&fs, "", 2);
	expect(&fs, 1, "a = 1\nb = 2\nc = 4\n", "a burst of three removals");
	expect(&fs, 2, "a = 1\nb = 2\nc = 3\n", "before the burst");
	expect(&fs, 3, NULL, "before the burst");
	change(&fs, "x = 1\n", 0);
	change(&fs, "x = 2\n", 2); /* close in time, but after an outside change */
	expect(&fs, 1, "x = 1\n", "a burst ends at an outside change");
	expect(&fs, 2, "", "what the outside change replaced");
	expect(&fs, 3, "a = 1\nb = 2\nc = 4\n", "a burst ends at an outside change");
	change(&fs, "x = 3\n", 2);
	expect(&fs, 1, "x = 1\n", "a second burst");
	expect(&fs, 2, "", "a second burst");
	history_free(&fs);
	toml_free(fs.doc);
}

/* a = "..." with random letters, edited at random places */
static void random_edits(unsigned seed)
{
	enum { KEEP = 5, ROUNDS = 400 };
	struct rfs fs = {0};
	fs.opt.backups = KEEP;
	fs.opt.burst = 60000;
	char *model[KEEP + 1] = {0}; /* [0] current, [i] version i */
	bool open = false;
	char cur[4096] = "a = \"start\"\n";
	set_text(&fs, cur);
	srand(seed);
	for (int round = 0; round < ROUNDS; round++) {
		char body[4000];
		size_t n = strlen(cur) - 6; /* between a = " and "\n */
		memcpy(body, cur + 5, n - 1);
		body[n - 1] = '\0';
		size_t len = strlen(body), at = len ? (size_t)rand() % (len + 1) : 0;
		int kind = rand() % 4;
		if (kind == 0 && len < 3000) { /* insert */
			size_t k = 1 + (size_t)rand() % 20;
			memmove(body + at + k, body + at, len - at + 1);
			for (size_t i = 0; i < k; i++)
				body[at + i] = (char)('a' + rand() % 3);
		} else if (kind == 1 && at < len) { /* cut */
			size_t k = 1 + (size_t)rand() % (len - at);
			memmove(body + at, body + at + k, len - at - k + 1);
		} else if (kind == 2 && at < len) { /* replace one */
			body[at] = (char)('a' + rand() % 3);
		} /* else: the same text again */
		char next[4096];
		snprintf(next, sizeof(next), "a = \"%s\"\n", body);
		/* 0 outside, 1 a write, 2 a write in the burst of the last */
		int ours = rand() % 5 == 0 ? 0 : rand() % 3 == 0 ? 2 : 1;
		if (ours != 2 || !open) {
			free(model[KEEP]);
			memmove(&model[2], &model[1], sizeof(model[0]) * (KEEP - 1));
			model[1] = strdup(cur);
		}
		change(&fs, next, ours);
		open = ours != 0;
		strcpy(cur, next);
		for (int v = 1; v <= KEEP; v++)
			expect(&fs, v, model[v], "random edits");
	}
	for (int v = 1; v <= KEEP; v++)
		free(model[v]);
	history_free(&fs);
	toml_free(fs.doc);
}

int main(void)
{
	t_case("scenario");
	scenario();
	t_case("bursts");
	bursts();
	for (unsigned seed = 1; seed <= 20; seed++) {
		t_case("400 random edits, seed %u", seed);
		random_edits(seed);
	}
	return t_done();
}
