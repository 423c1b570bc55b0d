/* SPDX-License-Identifier: MIT */
/*
 * runnerfs: the command line: mount (daemon.c), `--check` (the validator
 * Ansible's `validate:` calls), `--schema`, `--help`, `--version`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runnerfs/buf.h"
#include "runnerfs/daemon.h"
#include "runnerfs/schema.h"
#include "runnerfs/toml.h"


static int read_all(const char *path, struct buf *b)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0)
		return -errno;
	int r = 0;
	for (;;) {
		if ((r = buf_reserve(b, 65536)) < 0)
			break;
		ssize_t n = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return r;
}

/* ---- schema checks (--check) and the key reference (--schema) ---- */

static void report_problem(void *arg, int severity, int line, const char *path,
			   const char *msg)
{
	const char *file = arg;
	const char *what = severity >= 2 ? "error" : "warning";
	if (line > 0)
		fprintf(stderr, "%s:%d: %s: %s%s%s\n", file, line, what, path, *path ? ": " : "",
			msg);
	else
		fprintf(stderr, "%s: %s: %s%s%s\n", file, what, path, *path ? ": " : "", msg);
}

/* 1 when doc breaks the schema (an error), 0 otherwise. */
static int check_schema(const char *file, const toml_doc *doc)
{
	return schema_check_doc(doc, report_problem, (void *)file) > 0 ? 1 : 0;
}

static void md_cell(const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", stdout);
		else if (*s == '\n')
			fputc(' ', stdout);
		else
			fputc(*s, stdout);
	}
}

static void md_table(const struct schema_table *t, bool entries)
{
	if (!*t->path)
		printf("\n## Global keys\n\n");
	else
		printf(entries ? "\n## [[%s]]\n\n" : "\n## [%s]\n\n", t->path);
	printf("| key | type | default | secret | description |\n"
	       "| --- | --- | --- | --- | --- |\n");
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct schema_key *k = &t->keys[i];
		printf("| `%s` | ", k->name);
		switch (k->kind) {
		case SK_TABLE:
			printf("table [%s]", k->table->path);
			break;
		case SK_ENTRIES:
			printf("array of tables [[%s]]", k->table->path);
			break;
		case SK_MAP:
			printf("map (values: %s)", schema_type_name(k->type));
			break;
		case SK_VALUE:
			printf("%s", schema_type_name(k->type));
			break;
		}
		printf(" | ");
		if (k->def) {
			fputc('`', stdout);
			md_cell(k->def);
			fputc('`', stdout);
		}
		printf(" | %s | ", k->flags & SF_SECRET ? "yes" : "");
		md_cell(k->doc);
		if (k->allowed) {
			printf(". One of:");
			bool empty = false;
			for (const char *const *a = k->allowed; *a; a++) {
				if (!**a) {
					empty = true;
					continue;
				}
				printf("%s `%s`", a == k->allowed ? "" : ",", *a);
			}
			if (empty)
				printf(" (or empty)");
		}
		if (k->rule || k->key_rule)
			printf(". Checked by a rule of the runner");
		if (k->flags & SF_RESTART)
			printf(". Read only when the runner starts");
		printf(" |\n");
	}
	for (size_t i = 0; i < t->nkeys; i++) {
		const struct schema_key *k = &t->keys[i];
		if ((k->kind == SK_TABLE || k->kind == SK_ENTRIES) && k->table)
			md_table(k->table, k->kind == SK_ENTRIES);
	}
}

static int print_schema(void)
{
	printf("# config.toml keys\n\n"
	       "Every key runnerfs knows, by table, as GitLab Runner spells it. Generated\n"
	       "from the schema (`fs/schema.c`) by `runnerfs --schema`; do not edit by\n"
	       "hand (`ninja -C build update-keys-md` rewrites this file). Secrets are\n"
	       "files of mode 0600. Keys not listed here are shown with the type they\n"
	       "have in the file; `runnerfs --check` warns about them.\n");
	md_table(schema_root(), false);
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 2;
}

static int check(const char *path)
{
	struct buf b = BUF_INIT;
	int r = read_all(path, &b);
	if (r < 0) {
		fprintf(stderr, "runnerfs: cannot read %s: %s\n", path, strerror(-r));
		buf_free(&b);
		return 2;
	}
	toml_doc *doc;
	toml_error err;
	r = toml_parse(b.p ? b.p : "", b.len, &doc, &err);
	buf_free(&b);
	if (r < 0) {
		if (err.line)
			fprintf(stderr, "%s:%d:%d: %s\n", path, err.line, err.col, err.msg);
		else
			fprintf(stderr, "%s: %s\n", path, r == -ENOMEM ? "out of memory" : err.msg);
		return 1;
	}
	int bad = check_schema(path, doc);
	toml_free(doc);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--check"))
		return check(argv[2]);
	if (argc == 2 && !strcmp(argv[1], "--schema"))
		return print_schema();
	/* everything else is a mount (and its --help, --version) */
	return daemon_main(argc, argv);
}
