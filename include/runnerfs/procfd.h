/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_PROCFD_H
#define RUNNERFS_PROCFD_H

/*
 * procfd: whether a process still has a file open, from its
 * /proc/PID/fdinfo. FLUSH comes at every close(), also of one of two
 * descriptors of one open (bash's `> key` dups its fd to 1 and closes the
 * first before the command writes); this tells the last close from such
 * a first one when nothing was written.
 *
 *   procfd_holds(pid, ino)   1: pid has a descriptor on a file with inode
 *                            number ino (the one being closed is already
 *                            out of its table at FLUSH); 0: none; -errno:
 *                            cannot tell (pid 0: a process in a pid
 *                            namespace the daemon cannot see, or gone)
 *
 * Only inode numbers are compared, so a file of another filesystem with
 * the same number answers 1: callers treat 1 as "not known to be the
 * last". Reading /proc makes no request to the mount. No state.
 */

#include <sys/types.h>

int procfd_holds(pid_t pid, ino_t ino);

#endif
