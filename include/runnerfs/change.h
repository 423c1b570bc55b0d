/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_CHANGE_H
#define RUNNERFS_CHANGE_H

/*
 * change: every change the tree allows — store a value, remove a key,
 * rmdir, mkdir, rename, the registries — each as one transaction (txn.h),
 * with the bookkeeping around it, so that the FUSE layer (ops.c) only
 * turns a request into one of these calls and returns its errno:
 *
 *   - tombs: a key removed a moment ago (an editor's rename-and-rewrite
 *     save, install's unlink-then-create) comes back in its old place
 *     (fs->chg.tombs, RFS_REVIVE_SECONDS);
 *   - runner names: `name` and mv agree (EEXIST for a name another runner
 *     has); a runner whose `name` was written takes it as its directory,
 *     the old name answering for RFS_ALIAS_SECONDS (fs->chg.aliases); entry names stay
 *     put as names.h says;
 *   - copies (fresh.h): a runner or registry being copied into;
 *   - empty directories: a table that vanished with its last key stays
 *     listable and removable (fs->chg.emptydirs);
 *   - scratch names: editors' and tools' files that are not keys
 *     (scratch.h).
 *
 * State: fs->chg (struct rfs_change, rfs.h). Paths are mount paths
 * without the leading slash. Every function is
 * called with fs->lock held and fs->caller set to the requesting process,
 * and returns 0 or -errno; a refusal also leaves a sentence in
 * .runnerfs/errors (rfs_error).
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "runnerfs/rfs.h"
#include "runnerfs/scratch.h"
#include "runnerfs/tree.h"

/* What a person wrote becomes the value at p (kind TK_CONFIG: the whole
 * document). */
int change_store(struct rfs *fs, const char *p, enum tree_kind kind, const char *text, size_t len);
/* The part of change_store that one write() of a whole line can already
 * show: a runner name another runner has (-EEXIST). */
int change_name_precheck(struct rfs *fs, const char *p, const char *data, size_t size);
int change_remove_key(struct rfs *fs, const char *p);
/* A new value for p was refused (at write() or at close): if the tool
 * removed the key first (install, mv from elsewhere), it comes back as it
 * was (docs/filesystem.md, "Revival"). */
void change_refused(struct rfs *fs, const char *p);
/* A registry: op 'a'dd, 'r'emove, 'u'nset a field, 'm'ove to `to`. */
int change_registry(struct rfs *fs, const char *p, int op, const char *to);
int change_unlink(struct rfs *fs, const char *p);
/* p went with another change a moment ago (RFS_GONE_SECONDS): unlinking
 * it answers 0, once (a tool that listed it goes on) */
bool change_went_lately(struct rfs *fs, const char *p);
int change_rmdir(struct rfs *fs, const char *p);
int change_mkdir(struct rfs *fs, const char *p, mode_t mode);
int change_rename(struct rfs *fs, const char *from, const char *to, unsigned int flags);

/* New files: may a key be made at r (0, or -errno with a sentence)? Is r
 * a name a key of its table can have (or one a copy is bringing)? */
int change_creatable(struct rfs *fs, const char *p, const struct tree_ref *r);
bool change_key_name(const struct tree_ref *r);
bool change_copied_key(struct rfs *fs, const struct tree_ref *r);
/* The scratch directory p is in, if any. */
struct scratch *change_scratch_parent(struct rfs *fs, const char *p);
/* A scratch file was made at p: a name close to a key is likely a typo. */
void change_note_scratch(struct rfs *fs, const char *p, const struct tree_ref *r, bool in_dir);
/* May the missing name r become a scratch file: a tool's own name
 * (scratch_tool_name), a key's name with a suffix (value.bak, puppet's
 * valueYYYYMMDD-PID-rand), or a name no key can have? Any other name
 * that is not a key is refused, so a typo (limt) is not kept in memory
 * while the person believes it was written. */
bool change_scratch_name(struct rfs *fs, const struct tree_ref *r);
/* Report (once, in .runnerfs/errors) each tool's temp file that was
 * closed RFS_REVIVE_SECONDS ago and never renamed into place. Called at
 * each close and each read of .runnerfs/. */
void change_stale_scratch(struct rfs *fs);

#endif
