/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_INODES_H
#define RUNNERFS_INODES_H

/*
 * inodes: the node ids the kernel knows (ll.h). Each is a name in a parent
 * directory, handed out by a LOOKUP (or a CREATE, MKDIR, a READDIRPLUS
 * entry) and counted; it stays until the kernel has given every count
 * back (FORGET) and no node below it is left, also after its name is gone
 * (unlink: cut, the node means no path any more). An id is never given
 * twice: a slot's generation is in its high 32 bits. A node keeps one
 * type: a name that comes back as another type is a new node.
 *
 *   inodes_init(t) / inodes_free(t)
 *   inodes_id(n)                 its node id (INODES_ROOT for the root)
 *   inodes_get(t, id)            the node, or NULL (forgotten, or stale)
 *   inodes_child(t, dir, name)   the node named so in dir, if any
 *   inodes_walk(t, "/a/b")       the same, component by component
 *   inodes_lookup(t, dir, name, mode)
 *                                the node (made if need be), one more
 *                                lookup counted; NULL: no memory
 *   inodes_forget(t, n, count)   the kernel gave count back; n may be
 *                                freed (and its parents)
 *   inodes_hold / inodes_unhold  keep n (and so its parents) while the
 *                                caller adds entries below it
 *   inodes_cut(t, n)             its name is gone (unlink, rmdir, a
 *                                rename over it)
 *   inodes_move(t, n, dir, name) a rename; false: no memory (n is cut)
 *   inodes_path(t, n, name, buf, size)
 *                                "/a/b" (and "/name" below it): -ENOENT
 *                                for a node cut from its name (or a
 *                                parent's), -ENAMETOOLONG
 *   inodes_name(n), inodes_parent(t, n)
 *                                its name (NULL: cut, or the root); its
 *                                directory (NULL for the root)
 *   inodes_first(t, n), inodes_next(t, n)
 *                                the named nodes in a directory
 *
 * A node pointer is good until the next call that may free or move a
 * node (forget, unhold, move; a longer name moves the node): keep the id
 * across an unlock. State: struct inodes; not thread-safe: ll.c holds its
 * mutex around every call.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define INODES_ROOT 1

/* Links are slots (the low half of an id, less one): a node is 40 bytes
 * and its name (docs/performance.md). */
struct inode {
	uint32_t parent;        /* INODES_NONE for the root */
	uint32_t by_name;       /* hash chain */
	uint32_t first, next;   /* named children; siblings */
	uint32_t slot, gen;
	uint32_t kids;          /* nodes whose parent this is, and holds */
	uint32_t nlookup;       /* the kernel's count (stays at its top:
				 * 4 billion lookups of one name) */
	uint16_t type;          /* S_IFDIR, S_IFREG, S_IFLNK */
	uint8_t queued;         /* ll.c's checker */
	uint8_t cut;            /* no name: cut (or the root) */
	uint16_t len, cap;      /* of the name; room for one */
	char name[];
};

#define INODES_NONE UINT32_MAX

struct inodes {
	struct inode **slots;   /* slot 0: the root */
	uint32_t *gens;         /* per slot: the next generation */
	uint32_t nslots, slot_cap;
	uint32_t *free_slots;
	uint32_t nfree;
	uint32_t *names;        /* (parent, name) -> slot chains */
	size_t size;            /* of names: a power of two */
	size_t count;           /* nodes besides the root */
};

int inodes_init(struct inodes *t);
void inodes_free(struct inodes *t);
uint64_t inodes_id(const struct inode *n);
struct inode *inodes_get(struct inodes *t, uint64_t id);
struct inode *inodes_root(struct inodes *t);
struct inode *inodes_child(struct inodes *t, const struct inode *dir, const char *name);
struct inode *inodes_walk(struct inodes *t, const char *path);
struct inode *inodes_lookup(struct inodes *t, struct inode *dir, const char *name, mode_t mode);
void inodes_forget(struct inodes *t, struct inode *n, uint64_t count);
void inodes_hold(struct inode *n);
void inodes_unhold(struct inodes *t, struct inode *n);
void inodes_cut(struct inodes *t, struct inode *n);
bool inodes_move(struct inodes *t, struct inode *n, struct inode *dir, const char *name);
int inodes_path(const struct inodes *t, const struct inode *n, const char *name, char *out, size_t size);
const char *inodes_name(const struct inode *n);
struct inode *inodes_parent(const struct inodes *t, const struct inode *n);
struct inode *inodes_first(const struct inodes *t, const struct inode *dir);
struct inode *inodes_next(const struct inodes *t, const struct inode *n);

#endif
