/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_RFS_H
#define RUNNERFS_RFS_H

/*
 * rfs: the one context of a mounted runnerfs. Everything the daemon knows
 * lives here; the only other state is log.c's (where log lines go, and
 * a per-thread count of error sentences: rfs_errors_said). `lock` serialises every
 * filesystem operation on the model (FUSE may call from several threads):
 * take it at the start of an operation, release it at the end. Nothing
 * waits for another process or for the disk while holding it (txn.h:
 * waits and commits release it); docs/architecture.md, "Locks and
 * waiting". Each module's header says what of this struct is its state.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "runnerfs/commit.h"
#include "runnerfs/fresh.h"
#include "runnerfs/history.h"
#include "runnerfs/kcache.h"
#include "runnerfs/map.h"
#include "runnerfs/names.h"
#include "runnerfs/reload.h"
#include "runnerfs/scratch.h"
#include "runnerfs/toml.h"
#include "runnerfs/txn.h"
#include "runnerfs/watch.h"

#define RFS_ERRORS_KEPT 100
#define RFS_TOMBS 16
#define RFS_REVIVE_SECONDS 30
#define RFS_GONE_SECONDS 5 /* rfs_change.gone: a walk's listing is this old at most */
#define RFS_BURST_MS 2000 /* default burst= */
#define RFS_FRESH_MS 3000 /* a new directory looks empty this long (fresh.h) */
#define RFS_WRITE_MAX (64 << 20) /* the most one open file of a key or config.toml takes */
#define RFS_MAX_THREADS "64" /* FUSE worker threads at most (daemon.c) */
#define RFS_ALIAS_SECONDS 5 /* a runner renamed by its `name` answers to the old one */

struct rfs_opts {
	char *config;      /* CONFIG as given */
	char *mountpoint;  /* MOUNTPOINT as given (fuse_main takes it too) */
	char *reload;      /* reload=none|docker:C|pid:F|signal:P */
	char *docker_host;
	int reload_delay;  /* ms */
	int backups;
	int burst;         /* ms: closer changes are one history version */
	bool ro;
	bool foreground;
	bool debug;
	bool allow_other;
	bool default_permissions;
	/* command-line parsing */
	int positional;
	bool help, version;
};


/* A key removed by the last change: if the same key is made again before
 * anything else changes (an editor's rename-and-rewrite save, install's
 * unlink-then-create), its line goes back where it was, comments and all. */
struct rfs_tomb {
	char *path;
	size_t at;   /* where its bytes were */
	char *text;  /* its lines */
	size_t len;
	uint64_t gen; /* the generation its removal made */
	struct timespec when;
};

/* change.c's bookkeeping around changes (change.h), guarded by fs->lock. */
struct rfs_change {
	struct rfs_tomb tombs[RFS_TOMBS]; /* keys removed a moment ago */
	int ntombs;
	struct rfs_map aliases;   /* "runners/OLD" -> "runners/NEW" */
	struct rfs_map emptydirs; /* directories that exist with nothing in them */
	/* "…/registries/HOST/password" -> a password written before its
	 * registry has a user name: kept here, not in DOCKER_AUTH_CONFIG,
	 * until the user name comes (change.h) */
	struct rfs_map halfreg;
	/* files a change took away with it (the environment the last registry
	 * made, the auth of a registry whose user name went): a tool that
	 * listed them a moment before and unlinks them now is told 0, so
	 * rm -r goes on (change.h) */
	struct rfs_map gone;
	char *unset_path;         /* a registry field unlinked that stayed */
	pid_t unset_pid;
};

struct handle;

struct rfs {
	pthread_mutex_t lock;
	struct rfs_opts opt;
	struct commit disk;
	toml_doc *doc;
	uint64_t generation;
	struct timespec loaded_mtime; /* CONFIG's mtime when it was read */
	struct timespec last_write;
	uid_t uid;
	gid_t gid;
	dev_t dev;         /* the mount's device, set by ll.c once mounted (procfd.h); 0: not known */
	/* the state of CONFIG on disk: 0 parses, else why not */
	int disk_state;
	bool config_existed; /* a later absence is a deletion, not "empty" */
	char disk_error[256];
	char outside_loss[256]; /* the last outside change that emptied it (txn.c) */

	struct rfs_history hist;  /* .runnerfs/history (history.h) */

	char *errors[RFS_ERRORS_KEPT]; /* ring, oldest first from errors_head */
	int errors_head, nerrors;

	struct rfs_change chg;    /* change.h */
	struct rfs_map mtimes;  /* mount path -> when its value last changed */
	struct rfs_map pending;   /* keys being created by an open file (count) */
	struct rfs_map origins;   /* renamed path -> the path it had before */
	struct scratch_set scratch;
	struct handle *handles; /* open files (ops.c's) */
	pthread_cond_t reader_gone; /* a page-cache reader closed (ops.c) */
	struct reload reload;

	struct rfs_watch watch;   /* outside writers (watch.h) */

	uint64_t reg_warned_gen; /* invalid DOCKER_AUTH_CONFIG reported for */
	struct rfs_names names;   /* entry names that stay put (names.h) */
	struct rfs_fresh fresh;   /* directories mkdir just made (fresh.h) */
	pid_t caller;             /* the process whose request is being served (fresh.h) */
	struct rfs_txn txn;       /* a commit in flight (txn.h) */
	struct rfs_kcache kc;     /* what the kernel keeps (kcache.h) */
};

/* log.c */
enum { RFS_LOG_ERR = 3, RFS_LOG_WARN = 4, RFS_LOG_INFO = 6, RFS_LOG_DEBUG = 7 };
void rfs_log_init(bool foreground, bool debug);
void rfs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A rejected change: a line in .runnerfs/errors and the log. Returns err
 * (a negative errno) so callers can `return rfs_error(...)`. The message
 * must not contain secret values. */
int rfs_error(struct rfs *fs, int err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* How many rfs_error sentences the calling thread has written so far. */
unsigned long rfs_errors_said(void);

#endif
