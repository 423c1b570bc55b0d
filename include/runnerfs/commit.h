/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_COMMIT_H
#define RUNNERFS_COMMIT_H

/*
 * commit: config.toml on disk, written atomically.
 *
 * Life cycle:
 *
 *   commit_init(&c, path, ops)   remember the file (a symlink in its last
 *                                component is followed once) and its
 *                                directory (an O_RDONLY|O_DIRECTORY fd is
 *                                kept: fsync needs one); ops NULL = the
 *                                real system calls. It zeroes c: set
 *                                c->warn after it.
 *   commit_load(&c, &bytes, &len)
 *                                read the file (a missing file reads as
 *                                empty, -ENOENT is not an error) and record
 *                                its identity: dev, ino, size, mtime and a
 *                                hash of the bytes
 *   commit_changed(&c)           1 if the file on disk is no longer the one
 *                                last loaded or written (identity differs;
 *                                when only the mtime differs the content
 *                                hash decides), 0 if it is, -errno
 *   commit_write(&c, bytes, len) replace the file with bytes:
 *                                  temp file in the same directory, created
 *                                  O_CREAT|O_EXCL with mode 0600 from the
 *                                  start, full write, fchown/fchmod to the
 *                                  file's owner and mode, its mtime set
 *                                  strictly after the previous one (the
 *                                  runner reloads only on a newer mtime),
 *                                  fsync, rename over the file, fsync of
 *                                  the directory.
 *                                If rename fails with EBUSY or EXDEV (the
 *                                file is itself a bind mount), the bytes are
 *                                written in place instead: a backup copy
 *                                first, O_TRUNC write, fsync, read back and
 *                                compare; a warning is logged once.
 *                                Returns 0 when the new file is in place
 *                                and durable. COMMIT_NOT_DURABLE (> 0)
 *                                when the rename was done but the fsync of
 *                                the directory after it failed: the new
 *                                file is in place and is what c->id
 *                                records, but a crash may bring the old
 *                                one back. On any other failure: -errno,
 *                                the temp file is removed, the file is
 *                                unchanged (all of them come before the
 *                                rename).
 *                                COMMIT_RACED (> 0): the new file is in
 *                                place, but someone opened the file it
 *                                replaced for writing in the moment
 *                                between the last check and the rename
 *                                (the runner saving its token in place):
 *                                their bytes went to the replaced file.
 *                                It is kept open for commit_raced().
 *                                From just before the last check to just
 *                                after the rename a read lease is held on
 *                                the file replaced, so such an open waits,
 *                                and one seen waiting before the rename
 *                                makes commit_write give up (-EBUSY) and
 *                                let it write; COMMIT_RACED is left for an
 *                                open in the instant between that look and
 *                                the rename, or where leases do not work.
 *   commit_raced(&c, &bytes, &len, force)
 *                                after COMMIT_RACED: -EBUSY while they
 *                                still have it open for writing (unless
 *                                force), else what they wrote (the whole
 *                                replaced file) and it is let go. The
 *                                caller makes its change again on top of
 *                                those bytes and writes again.
 *   commit_cleanup_stale(&c)     remove temp files a crashed run left
 *   commit_fini(&c)
 *
 * Temp files are named `.<name>.runnerfs-XXXXXX` next to the file, so a
 * crash leaves something recognisable for commit_cleanup_stale().
 *
 * Every file operation goes through struct commit_ops so that tests can
 * inject errors (EIO, ENOSPC, EBUSY, EXDEV, EACCES) at each step and
 * simulate a crash after each step.
 *
 * Read leases are taken on CONFIG (to see writers): the process must
 * ignore SIGIO, whose default would end it when a lease is broken.
 *
 * Not thread-safe: the caller serialises. txn.c runs commit_write with
 * fs->lock released and fs->txn.committing set; while it is set nothing
 * else touches the struct commit (refreshes wait, txn.h).
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct commit_ops {
	int (*openat)(int dirfd, const char *name, int flags, mode_t mode);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	ssize_t (*read)(int fd, void *buf, size_t len);
	int (*fsync)(int fd);
	int (*fchown)(int fd, uid_t uid, gid_t gid);
	int (*fchmod)(int fd, mode_t mode);
	int (*futimens)(int fd, const struct timespec ts[2]);
	int (*renameat)(int olddirfd, const char *oldname, int newdirfd, const char *newname);
	int (*unlinkat)(int dirfd, const char *name, int flags);
	int (*fstatat)(int dirfd, const char *name, struct stat *st, int flags);
	int (*close)(int fd);
};

extern const struct commit_ops commit_sys_ops;

#define COMMIT_NOT_DURABLE 1 /* commit_write: in place, directory fsync failed */
#define COMMIT_RACED 2       /* commit_write: in place, someone wrote the old file */

struct commit_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime; /* any write or chmod changes it */
	uint64_t hash;
	int exists;
};

struct commit {
	char *path;      /* as given */
	char *dir;       /* its directory */
	char *name;      /* its base name */
	int dirfd;
	const struct commit_ops *ops;
	struct commit_id id; /* what we last loaded or wrote */
	int in_place;    /* the bind-mount fallback has been needed */
	int raced_fd;    /* the replaced file, after COMMIT_RACED (else -1) */
	int retired_fd;  /* the replaced file after a clean write, still open
			  * (its last close frees its blocks): commit_retired */
	int raced_waiting; /* ... whose writer's open was waiting for our lease */
	struct commit_id raced_was; /* ... and what it was then */
	void (*warn)(void *arg, const char *msg); /* log hook, may be NULL */
	void *warn_arg;
};

int commit_init(struct commit *c, const char *path, const struct commit_ops *ops);
int commit_load(struct commit *c, char **bytes, size_t *len);
int commit_changed(struct commit *c);
int commit_write(struct commit *c, const char *bytes, size_t len);
int commit_raced(struct commit *c, char **bytes, size_t *len, int force);
/* 1 if someone has the file open for writing now (a read lease cannot be
 * had), 0 if not or where leases do not work, -errno. */
int commit_busy(struct commit *c);
/* The file the last commit_write replaced, still open (-1 if none): the
 * caller closes it once the change is answered; otherwise the next
 * commit_write or commit_fini does. */
int commit_retired(struct commit *c);
int commit_cleanup_stale(struct commit *c);
void commit_fini(struct commit *c);

#endif
