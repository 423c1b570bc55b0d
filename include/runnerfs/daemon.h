/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_DAEMON_H
#define RUNNERFS_DAEMON_H

/*
 * daemon: `runnerfs [OPTIONS] CONFIG MOUNTPOINT` — parse the options, check
 * what can be checked before mounting, mount, serve until unmounted.
 * Returns the process exit status.
 */

#include <stdio.h>

int daemon_main(int argc, char **argv);
void daemon_usage(FILE *out);

#endif
