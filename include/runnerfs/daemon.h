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

/* Called from the FUSE init callback with the session: SIGTERM, SIGINT
 * and SIGHUP end it, and the daemon exits with status 0 (libfuse 3.14's
 * own handler makes that 8, "an error in the loop"). */
struct fuse_session;
void daemon_session_started(struct fuse_session *se);

#endif
