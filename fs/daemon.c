/* SPDX-License-Identifier: MIT */
/*
 * Mounting: options (the fuse_opt table, so that `mount -t fuse.runnerfs`
 * and /etc/fstab work through mount.fuse3), start-up checks with messages
 * that say what to do, then the FUSE front end (ll.h) until unmounted.
 */
/* 3.12: fuse_parse_cmdline and the loop's configuration with max_threads
 * (Debian 12 has 3.14); the operations table is the same as ops.c's 31 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runnerfs/daemon.h"
#include "runnerfs/fresh.h"
#include "runnerfs/history.h"
#include "runnerfs/kcache.h"
#include "runnerfs/ll.h"
#include "runnerfs/ops.h"
#include "runnerfs/rfs.h"
#include "runnerfs/tree.h"
#include "runnerfs/txn.h"
#include "runnerfs/watch.h"

enum { KEY_HELP, KEY_VERSION, KEY_FG, KEY_DEBUG, KEY_RO, KEY_ALLOW_OTHER, KEY_DEFPERM };

#define RFS_OPT(t, p, v) { t, offsetof(struct rfs_opts, p), v }

static const struct fuse_opt rfs_opts_spec[] = {
	RFS_OPT("reload=%s", reload, 0),
	RFS_OPT("docker_host=%s", docker_host, 0),
	RFS_OPT("reload_delay=%d", reload_delay, 0),
	RFS_OPT("backups=%d", backups, 0),
	RFS_OPT("burst=%d", burst, 0),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FG),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("default_permissions", KEY_DEFPERM),
	FUSE_OPT_END,
};

void daemon_usage(FILE *out)
{
	fputs("usage: runnerfs [OPTIONS] CONFIG MOUNTPOINT\n"
	      "       runnerfs --check FILE\n"
	      "       runnerfs --schema\n"
	      "\n"
	      "Mounts GitLab Runner's config.toml (CONFIG) as directories and files at\n"
	      "MOUNTPOINT. Every change is checked and written back atomically.\n"
	      "\n"
	      "options:\n"
	      "  -o reload=none|docker:CONTAINER|pid:PIDFILE|signal:PID\n"
	      "                         how the runner is told to reload (default none:\n"
	      "                         the runner notices a new mtime within 3 s)\n"
	      "  -o docker_host=URL     Docker Engine API (default $DOCKER_HOST, else\n"
	      "                         unix:///var/run/docker.sock)\n"
	      "  -o reload_delay=MS     quiet time that makes a burst one reload (300)\n"
	      "  -o backups=N           previous versions kept in .runnerfs/history (5)\n"
	      "  -o burst=MS            changes closer than this are one version in\n"
	      "                         .runnerfs/history (2000; 0: one per change)\n"
	      "  -o ro                  read-only view\n"
	      "  -o allow_other         let other users in (turns on default_permissions)\n"
	      "  -f                     stay in the foreground, log to stderr\n"
	      "  -d                     debug: foreground, log every request\n"
	      "  -s                     single-threaded\n"
	      "  -o max_threads=N       FUSE worker threads at most (default " RFS_MAX_THREADS ")\n"
	      "  -h, --help             this text\n"
	      "  -V, --version          the version\n"
	      "  --check FILE           check FILE as a config.toml and exit (0: valid)\n"
	      "  --schema               print every key runnerfs knows, as Markdown\n"
	      "\n"
	      "See runnerfs(8) and docs/ for the tree, the errors and examples.\n",
	      out);
}

/* fuse_opt hands us the options struct: the RFS_OPT offsets are into it */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct rfs_opts *o = data;
	(void)outargs;
	switch (key) {
	case KEY_HELP:
		o->help = true;
		return 0;
	case KEY_VERSION:
		o->version = true;
		return 0;
	case KEY_FG:
		o->foreground = true;
		return 1;
	case KEY_DEBUG:
		o->foreground = o->debug = true;
		return 1;
	case KEY_RO:
		o->ro = true;
		return 1;
	case KEY_ALLOW_OTHER:
		o->allow_other = true;
		return 1;
	case KEY_DEFPERM:
		o->default_permissions = true;
		return 1;
	case FUSE_OPT_KEY_NONOPT:
		/* CONFIG first (ours), MOUNTPOINT second (FUSE's) */
		if (o->positional++ == 0) {
			o->config = strdup(arg);
			return 0;
		}
		if (o->positional == 2)
			o->mountpoint = strdup(arg);
		return 1;
	default:
		return 1;
	}
}

/* Is `inner` the directory `outer` or inside it? (both real paths) */
static bool within(const char *inner, const char *outer)
{
	size_t n = strlen(outer);
	if (n == 1 && outer[0] == '/')
		return true;
	return !strncmp(inner, outer, n) && (inner[n] == '\0' || inner[n] == '/');
}

/* The mount point must be outside CONFIG's directory and CONFIG outside
 * the mount: mounted over its own directory, every look at CONFIG (the
 * watch, the commit's rename) would go through the mount itself, and the
 * first listing after a write hangs for good. 0, or -EINVAL with the
 * reason printed. */
static int check_mountpoint(const char *config_dir, const char *mountpoint)
{
	char mp[PATH_MAX];
	if (!mountpoint || !realpath(mountpoint, mp))
		return 0; /* libfuse says what is wrong with it (ll_run) */
	const char *why = !strcmp(mp, config_dir)  ? "is the directory of CONFIG"
			  : within(config_dir, mp) ? "holds CONFIG"
			  : within(mp, config_dir) ? "is inside the directory of CONFIG"
						   : NULL;
	if (!why)
		return 0;
	fprintf(stderr,
		"runnerfs: the mount point %s %s (%s): runnerfs would read and write CONFIG through its own "
		"mount and hang; mount it somewhere else, e.g. /mnt/runner\n",
		mountpoint, why, config_dir);
	return -EINVAL;
}

/* An absolute path for CONFIG whose directory exists; the file itself may
 * not exist yet. */
static char *absolute_config(const char *path)
{
	char *a = strdup(path), *b = strdup(path);
	char *res = NULL, dir[PATH_MAX];
	if (a && b && realpath(dirname(a), dir)) {
		const char *base = basename(b);
		if (asprintf(&res, "%s/%s", strcmp(dir, "/") ? dir : "", base) < 0)
			res = NULL;
	}
	free(a);
	free(b);
	return res;
}

/* Testing hooks, not for production. Tests of liveness need a disk whose
 * fsync is slow (the commit runs without the lock readers take: txn.h);
 * RUNNERFS_TEST_FSYNC_DELAY_MS gives every fsync of a commit that delay. */
static void test_delay(const char *var)
{
	const char *d = getenv(var);
	long ms = d ? strtol(d, NULL, 10) : 0;
	if (ms > 0 && ms < 60000) {
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
}

static int slow_fsync(int fd)
{
	test_delay("RUNNERFS_TEST_FSYNC_DELAY_MS");
	return fsync(fd);
}

/* And RUNNERFS_TEST_RENAME_DELAY_MS widens the moment between the last
 * check of CONFIG and the rename (commit.h: COMMIT_RACED). */
static int slow_renameat(int olddirfd, const char *oldname, int newdirfd, const char *newname)
{
	test_delay("RUNNERFS_TEST_RENAME_DELAY_MS");
	return renameat(olddirfd, oldname, newdirfd, newname);
}

/* ---- a stop by signal is a clean exit ----
 *
 * libfuse 3.14's handler for SIGTERM, SIGINT and SIGHUP ends the loop and
 * stores the signal as the session's error, and fuse_main then returns 8
 * ("error in the loop") for `docker stop`, Ctrl-C and `systemctl stop`
 * (systemd sends SIGTERM after ExecStop= when the daemon is still winding
 * down). That is how a daemon is asked to stop. Our handler is set before
 * ll_run, whose fuse_set_signal_handlers then leaves it alone (it replaces default handlers
 * only): it ends the loop the same way, fuse_session_exit() from the main
 * thread (libfuse's threads, and ours started from them, block these
 * signals), and stores nothing, so the loop returns 0. A signal that
 * comes before the session is known is sent again from the init
 * callback. A signal the caller ignores (nohup) stays ignored. */
static const int stop_signals[] = {SIGHUP, SIGINT, SIGTERM};
/* both read and written with __atomic_* only (lock-free: safe in a
 * signal handler, and seen by the init callback's thread) */
static struct fuse_session *stop_session;
static int stop_signal;

static void on_stop_signal(int sig)
{
	__atomic_store_n(&stop_signal, sig, __ATOMIC_SEQ_CST);
	struct fuse_session *se = __atomic_load_n(&stop_session, __ATOMIC_SEQ_CST);
	if (se)
		fuse_session_exit(se);
}

static void catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(*stop_signals); i++) {
		struct sigaction old;
		if (sigaction(stop_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			sigaction(stop_signals[i], &sa, NULL);
	}
}

void daemon_session_started(struct fuse_session *se)
{
	__atomic_store_n(&stop_session, se, __ATOMIC_SEQ_CST);
	int sig = __atomic_load_n(&stop_signal, __ATOMIC_SEQ_CST);
	if (sig)
		kill(getpid(), sig);
}

static void commit_warn(void *arg, const char *msg)
{
	(void)arg;
	rfs_log(RFS_LOG_WARN, "%s", msg);
}

static void free_fs(struct rfs *fs)
{
	toml_free(fs->doc);
	commit_fini(&fs->disk);
	history_free(fs);
	for (int i = 0; i < fs->nerrors; i++)
		free(fs->errors[(fs->errors_head + i) % RFS_ERRORS_KEPT]);
	rfs_map_free(&fs->mtimes);
	rfs_map_free(&fs->chg.aliases);
	rfs_map_free(&fs->chg.emptydirs);
	rfs_map_free(&fs->chg.halfreg);
	rfs_map_free(&fs->chg.gone);
	rfs_map_free(&fs->pending);
	rfs_map_free(&fs->origins);
	scratch_free(&fs->scratch);
	for (int i = 0; i < fs->chg.ntombs; i++) {
		free(fs->chg.tombs[i].path);
		free(fs->chg.tombs[i].text);
	}
	names_free(fs);
	free(fs->chg.unset_path);
	fresh_free(fs);
	kcache_free(fs);
	free(fs->opt.config);
	free(fs->opt.mountpoint);
	free(fs->opt.reload);
	free(fs->opt.docker_host);
	reload_fini(&fs->reload);
	pthread_cond_destroy(&fs->txn.committed);
	pthread_cond_destroy(&fs->reader_gone);
	pthread_mutex_destroy(&fs->lock);
}

int daemon_main(int argc, char **argv)
{
	struct rfs fs;
	memset(&fs, 0, sizeof(fs));
	pthread_mutex_init(&fs.lock, NULL);
	pthread_cond_init(&fs.txn.committed, NULL);
	kcache_init(&fs);
	pthread_cond_init(&fs.reader_gone, NULL);
	fs.watch.fd = -1;
	{
		char ignore[8];
		reload_init(&fs.reload, "none", NULL, 0, ignore, sizeof(ignore));
	}
	fs.watch.file_wd = -1;
	fs.opt.backups = 5;
	fs.opt.reload_delay = 300;
	fs.opt.burst = RFS_BURST_MS;
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	int ret = 1;

	if (fuse_opt_parse(&args, &fs.opt, rfs_opts_spec, opt_proc) < 0)
		goto out;
	if (fs.opt.help) {
		daemon_usage(stdout);
		ret = 0;
		goto out;
	}
	if (fs.opt.version) {
		printf("runnerfs %s (libfuse %d)\n", RUNNERFS_VERSION, fuse_version());
		ret = 0;
		goto out;
	}
	if (fs.opt.positional < 2) {
		fprintf(stderr, "runnerfs: %s\n", fs.opt.positional ? "missing MOUNTPOINT" : "missing CONFIG and MOUNTPOINT");
		daemon_usage(stderr);
		ret = 2;
		goto out;
	}
	if (fs.opt.backups < 0 || fs.opt.backups > RFS_BACKUPS_MAX) {
		fprintf(stderr, "runnerfs: backups=%d: choose 0 to %d\n", fs.opt.backups, RFS_BACKUPS_MAX);
		ret = 2;
		goto out;
	}
	if (access("/dev/fuse", R_OK | W_OK) < 0) {
		fprintf(stderr, "runnerfs: cannot use /dev/fuse (%s): load the fuse module "
				"(modprobe fuse) or, in a container, pass --device /dev/fuse --cap-add SYS_ADMIN\n",
			strerror(errno));
		goto out;
	}
	char *abs = absolute_config(fs.opt.config);
	if (!abs) {
		fprintf(stderr, "runnerfs: %s: its directory does not exist (%s)\n", fs.opt.config, strerror(errno));
		goto out;
	}
	free(fs.opt.config);
	fs.opt.config = abs;
	if (fs.opt.allow_other && !fs.opt.default_permissions)
		fuse_opt_add_arg(&args, "-odefault_permissions");
	fuse_opt_add_arg(&args, "-osubtype=runnerfs");
	/* A change waiting for an outside writer or a commit holds a FUSE
	 * worker thread (txn.h); with libfuse's 10, sixteen writers would
	 * leave reads queued behind them. Threads are made on demand. */
	bool threads_given = false;
	for (int i = 1; i < args.argc; i++)
		threads_given |= strstr(args.argv[i], "max_threads=") != NULL;
	if (!threads_given)
		fuse_opt_add_arg(&args, "-omax_threads=" RFS_MAX_THREADS);
	if (!strpbrk(fs.opt.config, ", \t\n\\")) {
		char *o;
		if (asprintf(&o, "-ofsname=%s", fs.opt.config) >= 0) {
			fuse_opt_add_arg(&args, o);
			free(o);
		}
	}

	char why[300];
	reload_fini(&fs.reload); /* the placeholder set up at the start */
	if (reload_init(&fs.reload, fs.opt.reload, fs.opt.docker_host, fs.opt.reload_delay, why,
			sizeof(why)) < 0) {
		fprintf(stderr, "runnerfs: %s\n", why);
		ret = 2;
		goto out;
	}
	rfs_log_init(fs.opt.foreground, fs.opt.debug);
	/* commit.c takes read leases on CONFIG to see whether someone is
	 * writing it; a lease break is signalled with SIGIO, whose default
	 * would end the daemon */
	signal(SIGIO, SIG_IGN);
	/* every FUSE worker thread would keep its own heap of freed
	 * document-sized blocks; one arena keeps the daemon small */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	struct commit_ops slow_disk = commit_sys_ops;
	slow_disk.fsync = slow_fsync;
	slow_disk.renameat = slow_renameat;
	bool slow = getenv("RUNNERFS_TEST_FSYNC_DELAY_MS") || getenv("RUNNERFS_TEST_RENAME_DELAY_MS");
	int r = commit_init(&fs.disk, fs.opt.config, slow ? &slow_disk : NULL);
	if (r < 0) {
		fprintf(stderr, "runnerfs: %s: %s\n", fs.opt.config, strerror(-r));
		goto out;
	}
	if (check_mountpoint(fs.disk.dir, fs.opt.mountpoint) < 0)
		goto out;
	fs.disk.warn = commit_warn;
	if (!fs.opt.ro)
		commit_cleanup_stale(&fs.disk);
	r = txn_load(&fs);
	if (r < 0 && !(fs.opt.ro && r == -EINVAL)) {
		fprintf(stderr, "runnerfs: %s\n", fs.disk_error);
		if (r == -EINVAL)
			fprintf(stderr, "runnerfs: fix the file (runnerfs --check %s shows every problem), "
					"or mount it read-only with -o ro\n", fs.opt.config);
		goto out;
	}
	if (r < 0) {
		/* -o ro on a file that does not parse: show an empty tree and
		 * say why in .runnerfs/status */
		toml_parse("", 0, &fs.doc, NULL);
	}
	if (!fs.opt.ro && access(fs.disk.dir, W_OK) < 0)
		rfs_log(RFS_LOG_WARN, "%s is not writable (%s): changes will fail until it is",
			fs.disk.dir, strerror(errno));
	struct stat st;
	if (stat(fs.opt.config, &st) == 0) {
		fs.uid = st.st_uid;
		fs.gid = st.st_gid;
	} else if (stat(fs.disk.dir, &st) == 0) {
		fs.uid = st.st_uid;
		fs.gid = st.st_gid;
	}
	if (!fs.loaded_mtime.tv_sec)
		clock_gettime(CLOCK_REALTIME, &fs.loaded_mtime);

	/* the watch and reload threads start in the FUSE init callback
	 * (ll.c): ll_run forks into the background first, and threads
	 * do not survive a fork */
	catch_stop_signals();
	ret = ll_run(&args, &fs);
	__atomic_store_n(&stop_session, NULL, __ATOMIC_SEQ_CST); /* gone with ll_run */
	watch_stop(&fs);
	reload_stop(&fs.reload);
out:
	fuse_opt_free_args(&args);
	free_fs(&fs);
	return ret;
}
