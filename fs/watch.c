/* SPDX-License-Identifier: MIT */
/*
 * Outside writers: inotify on CONFIG's directory. All events are read by
 * drain() under fs->lock, from the thread or from an operation, so there
 * is one view of "someone is writing" and "the file changed".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "runnerfs/kcache.h"
#include "runnerfs/rfs.h"
#include "runnerfs/txn.h"
#include "runnerfs/watch.h"

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Watch CONFIG itself as well as its directory: when CONFIG is a
 * single-file bind mount, a change to it is reported to the directory of
 * its source, not to ours. */
static void arm_file(struct rfs *fs)
{
	fs->watch.file_wd = inotify_add_watch(fs->watch.fd, fs->disk.path,
					      IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF);
}

/* Read what inotify has; wait up to `wait_ms` for the first event. */
static void drain(struct rfs *fs, int wait_ms)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd = {fs->watch.fd, POLLIN, 0};
	if (fs->watch.fd < 0 || poll(&pfd, 1, wait_ms) <= 0)
		return;
	for (;;) {
		ssize_t n = read(fs->watch.fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->wd == fs->watch.file_wd && (ev->mask & IN_IGNORED)) {
				/* the inode we watched was replaced (our own
				 * rename, or someone's): watch the new one */
				arm_file(fs);
				continue;
			}
			if (ev->wd != fs->watch.file_wd && (!ev->len || strcmp(ev->name, fs->disk.name)))
				continue;
			clock_gettime(CLOCK_MONOTONIC, &fs->watch.last);
			if (ev->mask & IN_MODIFY)
				fs->watch.writing = true;
			if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
					IN_ATTRIB))
				fs->watch.dirty = true;
			if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM))
				fs->watch.writing = false;
			if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && fs->watch.file_wd < 0)
				arm_file(fs);
		}
	}
}

/* Reread CONFIG if it changed; a bad parse is retried before it counts. */
static void reread(struct rfs *fs)
{
	uint64_t gen = fs->generation;
	int r = txn_refresh(fs);
	if (r == -EBUSY)
		return; /* still being written: stays dirty, looked at again */
	if (r < 0 && fs->disk_state < 0) {
		if (!fs->watch.broken_since.tv_sec)
			clock_gettime(CLOCK_MONOTONIC, &fs->watch.broken_since);
		fs->watch.dirty = true; /* try again */
		return;
	}
	fs->watch.broken_since = (struct timespec){0, 0};
	fs->watch.dirty = false;
	if (fs->generation != gen)
		rfs_log(RFS_LOG_INFO, "%s changed outside; the tree shows the new version", fs->disk.path);
}

bool watch_settling(const struct rfs *fs)
{
	return fs->disk_state < 0 && fs->watch.broken_since.tv_sec && ms_since(&fs->watch.broken_since) < RFS_BROKEN_GRACE_MS;
}

void watch_sync(struct rfs *fs)
{
	if (fs->watch.fd < 0)
		return;
	drain(fs, 0);
	/* a writer still at work: answer from the last version read; the
	 * change that needs CONFIG waits for it (txn.h), no read does */
	if (fs->watch.dirty && !fs->watch.writing)
		reread(fs);
}

static void *watch_thread(void *arg)
{
	struct rfs *fs = arg;
	for (;;) {
		struct pollfd p[2] = {{fs->watch.fd, POLLIN, 0}, {fs->watch.stop[0], POLLIN, 0}};
		pthread_mutex_lock(&fs->lock);
		int timeout = fs->watch.dirty ? RFS_QUIET_MS : fs->disk_state < 0 ? 1000 : -1;
		pthread_mutex_unlock(&fs->lock);
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		pthread_mutex_lock(&fs->lock);
		/* our own commit writes its temp file and renames it in: each
		 * step is an event. Take them in once, when it is done, rather
		 * than contend for fs->lock at every step (the change's own
		 * reply waits for that lock) */
		while (fs->txn.committing)
			pthread_cond_wait(&fs->txn.committed, &fs->lock);
		/* the file that commit replaced: closed here, with the lock
		 * released, not on the change's way to its reply
		 * (commit_retired) */
		int retired = commit_retired(&fs->disk);
		if (retired >= 0) {
			pthread_mutex_unlock(&fs->lock);
			close(retired);
			pthread_mutex_lock(&fs->lock);
			while (fs->txn.committing)
				pthread_cond_wait(&fs->txn.committed, &fs->lock);
		}
		drain(fs, 0);
		/* reread once the writer is done and things are quiet; a file
		 * that stays broken is looked at again every second */
		if ((fs->watch.dirty && !fs->watch.writing && ms_since(&fs->watch.last) >= RFS_QUIET_MS) ||
		    (fs->watch.writing && ms_since(&fs->watch.last) >= RFS_WRITER_WAIT_MS) ||
		    (fs->disk_state < 0 && timeout == 1000))
			reread(fs);
		kcache_expand(fs);
		pthread_mutex_unlock(&fs->lock);
		kcache_sync(fs); /* what the kernel kept of the old version */
	}
	return NULL;
}

int watch_start(struct rfs *fs)
{
	fs->watch.fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fs->watch.fd < 0)
		return -errno;
	if (inotify_add_watch(fs->watch.fd, fs->disk.dir,
			      IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
				      IN_DELETE | IN_ATTRIB) < 0 ||
	    pipe2(fs->watch.stop, O_CLOEXEC) < 0) {
		int e = -errno;
		close(fs->watch.fd);
		fs->watch.fd = -1;
		return e;
	}
	arm_file(fs); /* may fail: CONFIG need not exist yet */
	/* CONFIG was read before the watch was set (the FUSE init callback
	 * runs once the mount is already visible): look again at the first
	 * request, whatever happened meanwhile */
	fs->watch.dirty = true;
	int r = pthread_create(&fs->watch.tid, NULL, watch_thread, fs);
	if (r) {
		close(fs->watch.fd);
		close(fs->watch.stop[0]);
		close(fs->watch.stop[1]);
		fs->watch.fd = -1;
		return -r;
	}
	fs->watch.running = true;
	return 0;
}

void watch_stop(struct rfs *fs)
{
	if (!fs->watch.running)
		return;
	if (write(fs->watch.stop[1], "x", 1) < 0)
		rfs_log(RFS_LOG_WARN, "cannot stop the watch thread: %s", strerror(errno));
	pthread_join(fs->watch.tid, NULL);
	close(fs->watch.fd);
	close(fs->watch.stop[0]);
	close(fs->watch.stop[1]);
	fs->watch.fd = -1;
	fs->watch.running = false;
}
