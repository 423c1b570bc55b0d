/* SPDX-License-Identifier: MIT */
#include "runnerfs/procfd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* One mountinfo line: its mount id, device and mount point. */
static bool parse_line(char *line, unsigned long *id, dev_t *dev, char **point)
{
	unsigned long parent;
	unsigned int ma, mi;
	int off = 0;
	if (sscanf(line, "%lu %lu %u:%u %*s %n", id, &parent, &ma, &mi, &off) < 4 || !off)
		return false;
	char *p = line + off;
	char *end = strchr(p, ' ');
	if (!end)
		return false;
	*end = '\0';
	unescape(p);
	*dev = makedev(ma, mi);
	*point = p;
	return true;
}

int procfd_mount_dev(const char *mountpoint, dev_t *dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;
	while (getline(&line, &cap, f) > 0) {
		unsigned long id;
		dev_t d;
		char *point;
		if (parse_line(line, &id, &d, &point) && !strcmp(point, mountpoint)) {
			*dev = d; /* the last one: mounted over the others */
			rc = 0;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

/* The ids of pid's mounts of dev (a bind mount is one more). */
static int mount_ids(pid_t pid, dev_t dev, unsigned long **ids, size_t *n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0, have = 0;
	int rc = 0;
	*ids = NULL;
	*n = 0;
	while (rc == 0 && getline(&line, &cap, f) > 0) {
		unsigned long id;
		dev_t d;
		char *point;
		if (!parse_line(line, &id, &d, &point) || d != dev)
			continue;
		if (*n == have) {
			unsigned long *v = realloc(*ids, (have = have ? have * 2 : 4) * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			*ids = v;
		}
		(*ids)[(*n)++] = id;
	}
	free(line);
	fclose(f);
	return rc;
}

/* The "mnt_id:" of one fdinfo file. */
static int fd_mount(int dir, const char *name, unsigned long *id)
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
	const char *at = strstr(buf, "mnt_id:");
	if (!at)
		return -ENOSYS;
	*id = strtoul(at + 7, NULL, 10);
	return 0;
}

int procfd_holds(pid_t pid, dev_t dev)
{
	if (pid <= 0)
		return -ESRCH;
	unsigned long *ids = NULL;
	size_t nids = 0;
	int rc = mount_ids(pid, dev, &ids, &nids);
	if (rc < 0)
		return rc;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	int dfd = nids ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (nids && !d) {
		rc = -errno;
		if (dfd >= 0)
			close(dfd);
		free(ids);
		return rc;
	}
	struct dirent *de;
	while (d && rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		unsigned long id = 0;
		int r = fd_mount(dirfd(d), de->d_name, &id);
		if (r == -ENOSYS)
			rc = r;
		for (size_t i = 0; r == 0 && i < nids; i++)
			if (ids[i] == id)
				rc = 1;
		/* other errors: that fd was closed meanwhile */
	}
	if (d)
		closedir(d);
	free(ids);
	return rc;
}
