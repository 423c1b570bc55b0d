/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_RELOAD_H
#define RUNNERFS_RELOAD_H

/*
 * reload: tell the runner about changes, once per burst (docs/filesystem.md "Reload").
 *
 *   reload_init(r, method, docker_host, delay_ms)
 *                       parse `reload=` (none | docker:CONTAINER |
 *                       pid:PIDFILE | signal:PID); -EINVAL with a message
 *                       for anything else
 *   reload_start(r)     the thread that sends reloads
 *   reload_changed(r)   a write-back succeeded: a reload goes out once no
 *                       change has come for delay_ms (but no later than
 *                       RELOAD_MAX_FACTOR × delay_ms after the first)
 *   reload_now(r)       send one as soon as possible (.runnerfs/reload)
 *   reload_status(r, buf)
 *                       the lines for .runnerfs/status
 *   reload_stop(r), reload_fini(r)
 *
 * The thread never holds the filesystem's lock and every request has a
 * timeout: a slow or hung Docker engine never delays a filesystem
 * operation. A failure never undoes a change; it is reported in the
 * status and the log. It has its own small lock; no secret ever passes
 * through it.
 */

#include <pthread.h>
#include <sys/types.h>
#include <stdbool.h>
#include <time.h>

#include "runnerfs/buf.h"

#define RELOAD_MAX_FACTOR 10
#define RELOAD_YOUNG_SECONDS 5 /* a container younger than this is left alone */
#define RELOAD_TIMEOUT_MS 3000

enum reload_method { RELOAD_NONE, RELOAD_DOCKER, RELOAD_PIDFILE, RELOAD_PID };

/* libcurl, loaded by reload_init only for reload=docker: with its TLS,
 * Kerberos and LDAP libraries it is 5 MB of resident pages that a mount
 * without Docker reloads does not need. */
struct reload_curl {
	void *lib;
	int (*global_init)(long flags);
	void (*global_cleanup)(void);
	void *(*easy_init)(void);
	int (*easy_setopt)(void *c, int option, ...);
	int (*easy_perform)(void *c);
	int (*easy_getinfo)(void *c, int info, ...);
	const char *(*easy_strerror)(int code);
	void (*easy_cleanup)(void *c);
};

struct reload {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t tid;
	bool running, stopping;
	enum reload_method method;
	char *target;      /* container, pidfile or pid */
	char *docker_url;  /* http://localhost or http://HOST:PORT */
	char *docker_sock; /* unix socket path, or NULL */
	int delay_ms;
	struct reload_curl curl;

	/* pending burst */
	int pending;                 /* changes not yet covered */
	bool now;                    /* reload_now */
	struct timespec first, last; /* monotonic */

	/* last attempt */
	struct timespec done;        /* realtime */
	int covered;
	char result[300];
	int sent;                    /* reloads sent since mount */
};

int reload_init(struct reload *r, const char *method, const char *docker_host, int delay_ms,
		char *err, size_t errlen);
int reload_start(struct reload *r);
void reload_changed(struct reload *r);
void reload_now(struct reload *r);
int reload_status(struct reload *r, struct buf *out);
void reload_stop(struct reload *r);
void reload_fini(struct reload *r);
/* A process id as a pid file or signal: holds it (decimal, optional
 * white space around, no overflow, 2..pid_max): 0 with *out, or -EINVAL. */
int reload_parse_pid(const char *s, pid_t *out);

#endif
