/* SPDX-License-Identifier: MIT */
/*
 * The kernel's node ids (inodes.h): a slot array indexed by id, one hash
 * of (parent, name), names inline, links as slots. Small on purpose: at
 * 1000 runners the kernel holds 37,000 nodes after a walk
 * (docs/performance.md).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runnerfs/inodes.h"

#define NONE INODES_NONE

uint64_t inodes_id(const struct inode *n)
{
	/* slot + 1 in the low half: the root is slot 0 (id 1), 0 no node */
	return (uint64_t)n->gen << 32 | ((uint64_t)n->slot + 1);
}

static struct inode *at(const struct inodes *t, uint32_t slot)
{
	return slot == NONE ? NULL : t->slots[slot];
}

static size_t hash_name(const struct inodes *t, uint32_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ ((uint64_t)parent * 0x9E3779B97F4A7C15ull);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)(h ^ h >> 29) & (t->size - 1);
}

/* The name table, at most as full as it is long. */
static int grow(struct inodes *t)
{
	size_t size = t->size ? t->size * 2 : 1024;
	uint32_t *nt = malloc(size * sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	memset(nt, 0xff, size * sizeof(*nt)); /* NONE */
	uint32_t *old = t->names;
	size_t n = t->size;
	t->names = nt;
	t->size = size;
	for (size_t i = 0; i < n; i++) {
		uint32_t s = old[i];
		while (s != NONE) {
			struct inode *x = t->slots[s];
			uint32_t next = x->by_name;
			size_t h = hash_name(t, x->parent, x->name);
			x->by_name = nt[h];
			nt[h] = s;
			s = next;
		}
	}
	free(old);
	return 0;
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

static struct inode *new_node(size_t len)
{
	struct inode *n = calloc(1, offsetof(struct inode, name) + len + 1);
	if (n) {
		n->parent = n->by_name = n->first = n->next = NONE;
		n->cap = (uint16_t)len;
	}
	return n;
}

int inodes_init(struct inodes *t)
{
	memset(t, 0, sizeof(*t));
	uint32_t slot;
	struct inode *root = new_node(0);
	if (!root || take_slot(t, &slot) < 0 || grow(t) < 0) {
		free(root);
		inodes_free(t);
		return -ENOMEM;
	}
	root->type = S_IFDIR;
	root->cut = 1;
	root->slot = slot; /* 0 */
	root->gen = t->gens[slot]++;
	t->slots[slot] = root;
	return 0;
}

void inodes_free(struct inodes *t)
{
	for (uint32_t i = 0; i < t->nslots; i++)
		free(t->slots[i]);
	free(t->slots);
	free(t->gens);
	free(t->free_slots);
	free(t->names);
	memset(t, 0, sizeof(*t));
}

struct inode *inodes_root(struct inodes *t)
{
	return t->slots[0];
}

struct inode *inodes_get(struct inodes *t, uint64_t id)
{
	uint32_t low = (uint32_t)id;
	if (low < 1 || low - 1 >= t->nslots)
		return NULL;
	struct inode *n = t->slots[low - 1];
	return n && n->gen == (uint32_t)(id >> 32) ? n : NULL;
}

const char *inodes_name(const struct inode *n)
{
	return n->cut ? NULL : n->name;
}

struct inode *inodes_parent(const struct inodes *t, const struct inode *n)
{
	return at(t, n->parent);
}

struct inode *inodes_first(const struct inodes *t, const struct inode *dir)
{
	return at(t, dir->first);
}

struct inode *inodes_next(const struct inodes *t, const struct inode *n)
{
	return at(t, n->next);
}

struct inode *inodes_child(struct inodes *t, const struct inode *dir, const char *name)
{
	for (uint32_t s = t->names[hash_name(t, dir->slot, name)]; s != NONE;) {
		struct inode *n = t->slots[s];
		if (n->parent == dir->slot && !n->cut && !strcmp(n->name, name))
			return n;
		s = n->by_name;
	}
	return NULL;
}

struct inode *inodes_walk(struct inodes *t, const char *path)
{
	char part[NAME_MAX + 1];
	struct inode *n = inodes_root(t);
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
	if (n->cut)
		return;
	uint32_t *pp = &t->names[hash_name(t, n->parent, n->name)];
	while (*pp != NONE && *pp != n->slot)
		pp = &t->slots[*pp]->by_name;
	if (*pp != NONE)
		*pp = n->by_name;
	n->by_name = NONE;
	/* singly linked: a directory of 1000 runners is walked once per
	 * name that goes from it, cheaper than a link more per node */
	for (pp = &t->slots[n->parent]->first; *pp != NONE; pp = &t->slots[*pp]->next)
		if (*pp == n->slot) {
			*pp = n->next;
			break;
		}
	n->next = NONE;
	n->cut = 1;
}

static void hash_in(struct inodes *t, struct inode *n)
{
	size_t h = hash_name(t, n->parent, n->name);
	n->by_name = t->names[h];
	t->names[h] = n->slot;
	struct inode *dir = t->slots[n->parent];
	n->next = dir->first;
	dir->first = n->slot;
	n->cut = 0;
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
		if (!(n = new_node(len))) {
			t->free_slots[t->nfree++] = slot;
			return NULL;
		}
		memcpy(n->name, name, len + 1);
		n->len = (uint16_t)len;
		n->parent = dir->slot;
		dir->kids++;
		n->type = (uint16_t)(mode & S_IFMT);
		n->slot = slot;
		n->gen = t->gens[slot]++;
		t->slots[slot] = n;
		hash_in(t, n);
		t->count++;
	}
	if (n->nlookup < UINT32_MAX)
		n->nlookup++;
	return n;
}

/* Free n, and its parents, while nothing holds them. */
static void maybe_free(struct inodes *t, struct inode *n)
{
	while (n->slot != 0 && n->nlookup == 0 && n->kids == 0) {
		unhash(t, n);
		t->slots[n->slot] = NULL;
		t->free_slots[t->nfree++] = n->slot;
		struct inode *parent = t->slots[n->parent];
		free(n);
		t->count--;
		parent->kids--;
		n = parent;
	}
}

void inodes_forget(struct inodes *t, struct inode *n, uint64_t count)
{
	if (n->slot == 0 || n->nlookup == UINT32_MAX)
		return; /* the root; a count at its top is kept for good */
	n->nlookup = count < n->nlookup ? n->nlookup - (uint32_t)count : 0;
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
}

bool inodes_move(struct inodes *t, struct inode *n, struct inode *dir, const char *name)
{
	size_t len = strlen(name);
	unhash(t, n);
	if (len > n->cap) {
		/* a longer name: the node moves (its slot, and so every link
		 * to it, stays) */
		struct inode *m = len <= UINT16_MAX ? realloc(n, offsetof(struct inode, name) + len + 1) : NULL;
		if (!m)
			return false;
		n = m;
		n->cap = (uint16_t)len;
		t->slots[n->slot] = n;
	}
	memcpy(n->name, name, len + 1);
	n->len = (uint16_t)len;
	struct inode *from = t->slots[n->parent];
	n->parent = dir->slot;
	dir->kids++;
	hash_in(t, n);
	/* the directory it left may hold nothing now */
	from->kids--;
	maybe_free(t, from);
	return true;
}

int inodes_path(const struct inodes *t, const struct inode *n, const char *name, char *out, size_t size)
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
	for (; n->slot != 0; n = t->slots[n->parent]) {
		if (n->cut)
			return -ENOENT;
		size_t k = n->len;
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
