/* SPDX-License-Identifier: MIT */
/*
 * runnerfs: the command line. Today it checks files (`--check`, the
 * validator Ansible's `validate:` calls); mounting arrives with the
 * filesystem.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runnerfs/buf.h"
#include "runnerfs/toml.h"

static void usage(FILE *out)
{
	fputs("usage: runnerfs --check FILE    check that FILE is a valid config.toml\n"
	      "       runnerfs --version\n"
	      "       runnerfs --help\n"
	      "\n"
	      "--check prints nothing and exits 0 when FILE is valid, and prints\n"
	      "FILE:LINE:COLUMN: what is wrong, and exits 1, when it is not.\n",
	      out);
}

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
	toml_free(doc);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--check"))
		return check(argv[2]);
	if (argc == 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
		printf("runnerfs %s\n", RUNNERFS_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
