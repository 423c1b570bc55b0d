/* SPDX-License-Identifier: MIT */
#include "runnerfs/procfd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The "ino:" line of one fdinfo file (Linux 5.14 and later). */
static int fd_ino(int dir, const char *name, unsigned long long *ino)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	int saved = errno;
	close(fd);
	if (n < 0)
		return -saved;
	buf[n] = '\0';
	const char *at = strstr(buf, "\nino:");
	if (!at)
		return -ENOSYS;
	*ino = strtoull(at + 5, NULL, 10);
	return 0;
}

int procfd_holds(pid_t pid, ino_t ino)
{
	if (pid <= 0)
		return -ESRCH;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int e = -errno;
		close(dfd);
		return e;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		unsigned long long got = 0;
		int r = fd_ino(dirfd(d), de->d_name, &got);
		if (r == -ENOSYS)
			rc = r; /* a kernel without it: cannot tell */
		else if (r == 0 && got == (unsigned long long)ino)
			rc = 1;
		/* other errors: that fd was closed meanwhile */
	}
	closedir(d);
	return rc;
}
