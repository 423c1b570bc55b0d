/* SPDX-License-Identifier: MIT */
/*
 * fuzz-names: tree_encode_name / tree_decode_name (contract 2.2).
 *
 * The input is used twice:
 *   - as a key (any bytes, NUL included): its encoding is a usable file
 *     name (not empty, not "." or "..", no '/', no NUL, no '#': '#' is
 *     kept for the #N suffixes), and decoding it gives the key back;
 *     decoding into a buffer one byte too small fails with -ENAMETOOLONG
 *     and writes nothing past the buffer;
 *   - as a file name (up to the first NUL): decoding either fails with
 *     -EINVAL (or -ENAMETOOLONG when the buffer is too small), or gives a
 *     key whose encoding is the name byte for byte (only the canonical
 *     spelling names a key: "%2e", "%41", "a%2Eb", "#1" name nothing).
 *
 * Any violation aborts (fuzz_fail), so libFuzzer keeps the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "runnerfs/buf.h"
#include "runnerfs/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_key(const char *key, size_t klen)
{
	struct buf enc = BUF_INIT;
	int r = tree_encode_name(key, klen, &enc);
	FUZZ_CHECK(r >= 0, "encode failed: %d", r);
	FUZZ_CHECK(enc.p && enc.len > 0, "the name of a %zu-byte key is empty", klen);
	FUZZ_CHECK(strlen(enc.p) == enc.len, "the name holds a NUL byte");
	FUZZ_CHECK(strcmp(enc.p, ".") && strcmp(enc.p, ".."), "a key is named \"%s\"", enc.p);
	FUZZ_CHECK(!memchr(enc.p, '/', enc.len), "a name holds '/': %s", enc.p);
	FUZZ_CHECK(!memchr(enc.p, '#', enc.len), "a name holds '#': %s", enc.p);
	FUZZ_CHECK(enc.len <= 3 * klen + 6, "a %zu-byte key has a %zu-byte name", klen, enc.len);

	/* exactly big enough: the key and its terminating NUL */
	size_t cap = klen + 1;
	char *out = malloc(cap);
	size_t olen = (size_t)-1;
	if (!out)
		abort();
	r = tree_decode_name(enc.p, out, cap, &olen);
	FUZZ_CHECK(r == 0, "decode(encode(key)) failed: %d (name %s)", r, enc.p);
	FUZZ_CHECK(olen == klen && !memcmp(out, key, klen), "decode(encode(key)) is not the key "
		   "(%zu bytes back for %zu; name %s)", olen, klen, enc.p);
	/* "%" (the empty key) is decoded without writing the terminating
	 * NUL; callers go by klen. Every other key is terminated. */
	FUZZ_CHECK(klen == 0 || out[klen] == '\0', "the decoded key is not NUL-terminated");
	free(out);

	/* one byte short: refused, and ASan watches the bound */
	if (klen > 0) {
		cap = klen;
		out = malloc(cap);
		if (!out)
			abort();
		r = tree_decode_name(enc.p, out, cap, &olen);
		FUZZ_CHECK(r == -ENAMETOOLONG, "decode into %zu bytes of a %zu-byte key gave %d", cap, klen, r);
		free(out);
	}
	buf_free(&enc);
}

static void check_name(const char *name)
{
	size_t nlen = strlen(name);
	size_t cap = nlen + 1; /* a key is never longer than its name */
	char *key = malloc(cap);
	size_t klen = (size_t)-1;
	if (!key)
		abort();
	int r = tree_decode_name(name, key, cap, &klen);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL, "decode(\"%s\") gave %d, not -EINVAL", name, r);
		free(key);
		return;
	}
	FUZZ_CHECK(r == 0, "decode returned %d", r);
	FUZZ_CHECK(klen <= nlen, "a %zu-byte name gave a %zu-byte key", nlen, klen);
	struct buf enc = BUF_INIT;
	r = tree_encode_name(key, klen, &enc);
	FUZZ_CHECK(r >= 0, "encode failed: %d", r);
	FUZZ_CHECK(enc.len == nlen && !memcmp(enc.p, name, nlen),
		   "\"%s\" decodes, but the key's name is \"%s\": not canonical", name, enc.p);
	buf_free(&enc);
	/* the same with a buffer one byte too small (the empty key needs
	 * none: see above) */
	if (klen > 0) {
		size_t k2;
		r = tree_decode_name(name, key, klen, &k2);
		FUZZ_CHECK(r == -ENAMETOOLONG, "decode of \"%s\" into a short buffer gave %d", name, r);
	}
	free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	check_key((const char *)data, size);
	char *name = malloc(size + 1);
	if (!name)
		abort();
	memcpy(name, data, size);
	name[size] = '\0';
	check_name(name);
	free(name);
	return 0;
}
