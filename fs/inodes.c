/* SPDX-License-Identifier: MIT */
/*
 * The kernel's node ids (inodes.h): a slot array indexed by id, one hash
 * of (parent, name), names inline. Small on purpose: at 1000 runners the
 * kernel holds 37,000 nodes after a walk (docs/performance.md).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runnerfs/inodes.h"

uint64_t inodes_id(const struct inode *n)
{
	/* slot + 2 in the low half: 1 is the root, 0 no node */
	return n->parent ? ((uint64_t)n->gen << 32 | ((uint64_t)n->slot + 2)) : INODES_ROOT;
}

static size_t hash_name(const struct inodes *t, const struct inode *parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ ((uintptr_t)parent * 0x9E3779B97F4A7C15ull);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h ^ h >> 29) & (t->size - 1);
}

/* The name table, at most as full as it is long. */
static int grow(struct inodes *t)
{
	size_t size = t->size ? t->size * 2 : 1024;
	struct inode **nt = calloc(size, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	struct inode **old = t->names;
	size_t n = t->size;
	t->names = nt;
	t->size = size;
	for (size_t i = 0; i < n; i++) {
		struct inode *x = old[i];
		while (x) {
			struct inode *next = x->by_name;
			size_t h = hash_name(t, x->parent, x->name);
			x->by_name = nt[h];
			nt[h] = x;
			x = next;
		}
	}
	free(old);
	return 0;
}

int inodes_init(struct inodes *t)
{
	memset(t, 0, sizeof(*t));
	t->root = calloc(1, sizeof(*t->root));
	if (!t->root)
		return -ENOMEM;
	t->root->type = S_IFDIR;
	int r = grow(t);
	if (r < 0) {
		free(t->root);
		t->root = NULL;
	}
	return r;
}

static void drop_name(struct inode *n)
{
	if (n->own_name)
		free(n->name);
	n->own_name = 0;
	n->name = NULL;
}

void inodes_free(struct inodes *t)
{
	for (uint32_t i = 0; i < t->nslots; i++)
		if (t->slots[i]) {
			drop_name(t->slots[i]);
			free(t->slots[i]);
		}
	free(t->slots);
	free(t->gens);
	free(t->free_slots);
	free(t->names);
	free(t->root);
	memset(t, 0, sizeof(*t));
}

struct inode *inodes_get(struct inodes *t, uint64_t id)
{
	if (id == INODES_ROOT)
		return t->root;
	uint32_t low = (uint32_t)id;
	if (low < 2 || low - 2 >= t->nslots)
		return NULL;
	struct inode *n = t->slots[low - 2];
	return n && n->gen == (uint32_t)(id >> 32) ? n : NULL;
}

struct inode *inodes_child(struct inodes *t, const struct inode *dir, const char *name)
{
	for (struct inode *n = t->names[hash_name(t, dir, name)]; n; n = n->by_name)
		if (n->parent == dir && n->name && !strcmp(n->name, name))
			return n;
	return NULL;
}

struct inode *inodes_walk(struct inodes *t, const char *path)
{
	char part[NAME_MAX + 1];
	struct inode *n = t->root;
	for (const char *p = path; n && *p;) {
		while (*p == '/')
			p++;
		size_t k = strcspn(p, "/");
		if (!k)
			break;
		if (k > NAME_MAX)
			return NULL;
		memcpy(part, p, k);
		part[k] = '\0';
		n = inodes_child(t, n, part);
		p += k;
	}
	return n;
}

static void unhash(struct inodes *t, struct inode *n)
{
	if (!n->name)
		return;
	struct inode **pp = &t->names[hash_name(t, n->parent, n->name)];
	while (*pp && *pp != n)
		pp = &(*pp)->by_name;
	if (*pp)
		*pp = n->by_name;
	n->by_name = NULL;
	/* singly linked: a directory of 1000 runners is walked once per
	 * name that goes from it, cheaper than a pointer more per node */
	for (pp = &n->parent->first; *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	n->next = NULL;
}

static void hash_in(struct inodes *t, struct inode *n)
{
	size_t h = hash_name(t, n->parent, n->name);
	n->by_name = t->names[h];
	t->names[h] = n;
	n->next = n->parent->first;
	n->parent->first = n;
}

/* A slot for a new node: a free one, or one more. */
static int take_slot(struct inodes *t, uint32_t *slot)
{
	if (t->nfree) {
		*slot = t->free_slots[--t->nfree];
		return 0;
	}
	if (t->nslots == t->slot_cap) {
		uint32_t cap = t->slot_cap ? t->slot_cap * 2 : 1024;
		struct inode **sl = realloc(t->slots, cap * sizeof(*sl));
		if (sl)
			t->slots = sl;
		uint32_t *g = sl ? realloc(t->gens, cap * sizeof(*g)) : NULL;
		if (g)
			t->gens = g;
		uint32_t *f = g ? realloc(t->free_slots, cap * sizeof(*f)) : NULL;
		if (!f)
			return -ENOMEM;
		t->free_slots = f;
		t->slot_cap = cap;
	}
	t->gens[t->nslots] = 0;
	*slot = t->nslots++;
	return 0;
}

struct inode *inodes_lookup(struct inodes *t, struct inode *dir, const char *name, mode_t mode)
{
	struct inode *n = inodes_child(t, dir, name);
	if (n && n->type != (mode & S_IFMT)) {
		inodes_cut(t, n); /* the kernel's node keeps its type */
		n = NULL;
	}
	if (!n) {
		size_t len = strlen(name);
		uint32_t slot;
		if (len > UINT16_MAX || (t->count + 1 > t->size && grow(t) < 0) || take_slot(t, &slot) < 0)
			return NULL;
		n = calloc(1, sizeof(*n) + len + 1);
		if (!n) {
			t->free_slots[t->nfree++] = slot;
			return NULL;
		}
		memcpy(n->inl, name, len + 1);
		n->name = n->inl;
		n->cap = (uint16_t)len;
		n->parent = dir;
		dir->kids++;
		n->type = (uint16_t)(mode & S_IFMT);
		n->slot = slot;
		n->gen = t->gens[slot]++;
		t->slots[slot] = n;
		hash_in(t, n);
		t->count++;
	}
	n->nlookup++;
	return n;
}

/* Free n, and its parents, while nothing holds them. */
static void maybe_free(struct inodes *t, struct inode *n)
{
	while (n != t->root && n->nlookup == 0 && n->kids == 0) {
		unhash(t, n);
		drop_name(n);
		t->slots[n->slot] = NULL;
		t->free_slots[t->nfree++] = n->slot;
		struct inode *parent = n->parent;
		free(n);
		t->count--;
		parent->kids--;
		n = parent;
	}
}

void inodes_forget(struct inodes *t, struct inode *n, uint64_t count)
{
	if (n == t->root)
		return;
	n->nlookup = count < n->nlookup ? n->nlookup - count : 0;
	maybe_free(t, n);
}

void inodes_hold(struct inode *n)
{
	n->kids++;
}

void inodes_unhold(struct inodes *t, struct inode *n)
{
	n->kids--;
	maybe_free(t, n);
}

void inodes_cut(struct inodes *t, struct inode *n)
{
	unhash(t, n);
	drop_name(n);
}

bool inodes_move(struct inodes *t, struct inode *n, struct inode *dir, const char *name)
{
	size_t len = strlen(name);
	char *own = len > n->cap ? strdup(name) : NULL;
	unhash(t, n);
	drop_name(n);
	if (len > n->cap && !own)
		return false;
	if (own) {
		n->name = own;
		n->own_name = 1;
	} else {
		memcpy(n->inl, name, len + 1);
		n->name = n->inl;
	}
	struct inode *from = n->parent;
	n->parent = dir;
	dir->kids++;
	hash_in(t, n);
	/* the directory it left may hold nothing now */
	from->kids--;
	maybe_free(t, from);
	return true;
}

int inodes_path(const struct inode *n, const char *name, char *out, size_t size)
{
	size_t len = size - 1;
	out[len] = '\0';
	if (name) {
		size_t k = strlen(name);
		if (k + 1 > len)
			return -ENAMETOOLONG;
		len -= k;
		memcpy(out + len, name, k);
		out[--len] = '/';
	}
	for (; n->parent; n = n->parent) {
		if (!n->name)
			return -ENOENT;
		size_t k = strlen(n->name);
		if (k + 1 > len)
			return -ENAMETOOLONG;
		len -= k;
		memcpy(out + len, n->name, k);
		out[--len] = '/';
	}
	if (len == size - 1)
		out[--len] = '/'; /* the root */
	memmove(out, out + len, size - len);
	return 0;
}
