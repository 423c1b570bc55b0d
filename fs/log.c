/* SPDX-License-Identifier: MIT */
/*
 * Logging: stderr in the foreground, syslog in the background. Rejected
 * changes also go to .runnerfs/errors. Callers never pass secret values.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "runnerfs/rfs.h"

/* Where log lines go is process-wide by nature (syslog is); this and
 * the per-thread count below are the only state outside struct rfs. */
static struct {
	bool foreground;
	bool debug;
} logcfg = {true, false};

void rfs_log_init(bool foreground, bool debug)
{
	logcfg.foreground = foreground;
	logcfg.debug = debug;
	if (!foreground)
		openlog("runnerfs", LOG_PID, LOG_DAEMON);
}

void rfs_log(int level, const char *fmt, ...)
{
	if (level == RFS_LOG_DEBUG && !logcfg.debug)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (logcfg.foreground) {
		static const char *const names[8] = {"", "", "", "error", "warning", "", "info", "debug"};
		fprintf(stderr, "runnerfs: %s: ", names[level & 7]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(level, fmt, ap);
	}
	va_end(ap);
}

/* Sentences this thread has added to .runnerfs/errors. Each FUSE request
 * runs on one thread, so ops.c can tell a refusal that said why from one
 * that did not (rfs_errors_said). Per thread, so shared by nothing. */
static __thread unsigned long said_here;

unsigned long rfs_errors_said(void)
{
	return said_here;
}

int rfs_error(struct rfs *fs, int err, const char *path, const char *fmt, ...)
{
	said_here++;
	char msg[512], line[700], when[32];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	gmtime_r(&now.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(line, sizeof(line), "%s %s: %s (%s)", when, path && *path ? path : "/", msg,
		 strerror(-err));
	rfs_log(RFS_LOG_WARN, "%s: %s (%s)", path && *path ? path : "/", msg, strerror(-err));
	char *copy = strdup(line);
	if (copy) {
		int slot = (fs->errors_head + fs->nerrors) % RFS_ERRORS_KEPT;
		if (fs->nerrors == RFS_ERRORS_KEPT) {
			free(fs->errors[fs->errors_head]);
			slot = fs->errors_head;
			fs->errors_head = (fs->errors_head + 1) % RFS_ERRORS_KEPT;
		} else {
			fs->nerrors++;
		}
		fs->errors[slot] = copy;
	}
	/* .runnerfs/errors grew, status counts it (kcache.h) */
	kcache_note(fs, ".runnerfs/errors");
	kcache_note(fs, ".runnerfs/status");
	return err;
}
