/* SPDX-License-Identifier: MIT */
/*
 * test_procfd: procfd_holds (fs/procfd.c) sees a descriptor this process
 * holds on a filesystem, a second one (dup) after the first is closed,
 * and none once all are closed; a pid that is not there cannot tell; and
 * procfd_mount_dev finds the device of a mount point.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runnerfs/procfd.h"

#include "test.h"

int main(void)
{
	/* tmpfs, where this test's own output is not */
	char path[] = "/dev/shm/test_procfd.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	struct stat st;
	fstat(fd, &st);
	dev_t dev;
	CHECK(procfd_mount_dev("/dev/shm", &dev) == 0 && dev == st.st_dev, "the device of /dev/shm");
	CHECK(procfd_mount_dev("/no/such/mount", &dev) == -ENOENT, "not a mount point");
	CHECK(procfd_holds(getpid(), st.st_dev) == 1, "an open descriptor is seen");
	int two = dup(fd);
	close(fd);
	CHECK(procfd_holds(getpid(), st.st_dev) == 1, "the dup is seen after the first is closed");
	close(two);
	CHECK(procfd_holds(getpid(), st.st_dev) == 0, "none once every descriptor is closed");
	unlink(path);
	CHECK(procfd_holds(0, st.st_dev) < 0, "pid 0 (not visible): cannot tell");
	CHECK(procfd_holds(-1, st.st_dev) < 0, "no pid: cannot tell");
	return t_done();
}
