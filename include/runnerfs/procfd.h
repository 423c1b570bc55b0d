/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_PROCFD_H
#define RUNNERFS_PROCFD_H

/*
 * procfd: whether a process still has a file of the mount open, from its
 * /proc/PID/fdinfo and mountinfo. FLUSH comes at every close(), also of
 * one of two descriptors of one open (bash's `> key` dups its fd to 1 and
 * closes the first before the command writes); this tells the last close
 * from such a first one when nothing was written.
 *
 *   procfd_mount_dev(mountpoint, &dev)
 *                            the device of the filesystem last mounted at
 *                            mountpoint (an absolute, resolved path), from
 *                            /proc/self/mountinfo: no request to the mount
 *   procfd_holds(pid, dev)   1: pid has a descriptor on a file of the
 *                            filesystem dev, through any mount of it (the
 *                            one being closed is already out of its table
 *                            at FLUSH); 0: none; -errno: cannot tell (pid
 *                            0: a process in a pid namespace the daemon
 *                            cannot see, or gone)
 *
 * Any file of the mount counts, not only the one being closed: callers
 * treat 1 as "not known to be the last". Reading /proc makes no request
 * to the mount. No state.
 */

#include <sys/types.h>

int procfd_mount_dev(const char *mountpoint, dev_t *dev);
int procfd_holds(pid_t pid, dev_t dev);

#endif
