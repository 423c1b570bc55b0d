/* SPDX-License-Identifier: MIT */
#ifndef RUNNERFS_BUF_H
#define RUNNERFS_BUF_H

/*
 * buf: a growable byte buffer, always NUL-terminated after `len` bytes so
 * that text can be handed to C string functions. Zero-initialise
 * (`struct buf b = BUF_INIT;`), append, take `p`, buf_free(). The add
 * functions return 0 or -ENOMEM; after -ENOMEM the buffer keeps what it
 * had.
 */

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

int buf_reserve(struct buf *b, size_t extra);
int buf_add(struct buf *b, const void *data, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hand over the bytes (never NULL on success); the buffer is left empty. */
char *buf_steal(struct buf *b, size_t *len);

#endif
