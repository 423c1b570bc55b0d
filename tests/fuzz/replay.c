/* SPDX-License-Identifier: MIT */
/*
 * replay FILE...: run a libFuzzer target's LLVMFuzzerTestOneInput once on
 * each file, without libFuzzer (a plain build: gcc, no -Dfuzz). With
 * fuzz-edit and FUZZ_DUMP_DIR=DIR it writes the text after every
 * successful edit of the corpus to DIR, for the second judge
 * (tests/compliance/judge-burntsushi.py --replay). Exit 0, or the
 * target's abort on a violated invariant; 2 when a file cannot be read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			return 2;
		}
		size_t cap = 1 << 16, n = 0, got;
		uint8_t *buf = malloc(cap);
		while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
			n += got;
			if (n == cap) {
				uint8_t *nb = realloc(buf, cap *= 2);
				if (!nb)
					free(buf);
				buf = nb;
			}
		}
		if (!buf || ferror(f)) {
			fprintf(stderr, "%s: cannot read\n", argv[i]);
			return 2;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		free(buf);
	}
	return 0;
}
