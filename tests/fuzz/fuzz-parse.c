/* SPDX-License-Identifier: MIT */
/*
 * fuzz-parse: parse → serialize must give back the input byte for byte.
 *
 *  - toml_parse either succeeds, or fails with -EINVAL/-ENOMEM/-EFBIG and
 *    an error message that names a place inside the input;
 *  - on success toml_text() is the input, and so is the text of
 *    toml_clone(), which has the same nodes;
 *  - every node reachable from the root is walked and every getter is
 *    called on it (fuzz_check_doc: types and forms agree, parents, keys,
 *    toml_get/toml_at, spans, lines, typed getters, value_parse of raw);
 *  - the input, as a value text, is given to toml_value_parse for every
 *    scalar type.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void value_parse_all(const char *text, size_t len)
{
	static const toml_type types[] = {
		TOML_STRING, TOML_INTEGER, TOML_FLOAT, TOML_BOOL,
		TOML_DATETIME, TOML_DATETIME_LOCAL, TOML_DATE_LOCAL,
		TOML_TIME_LOCAL,
	};

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		toml_value v;
		toml_error err;
		int r;

		memset(&v, 0, sizeof v);
		memset(&err, 0, sizeof err);
		r = toml_value_parse(types[i], text, len, &v, &err);
		if (r == 0) {
			FUZZ_CHECK(v.type == types[i],
				   "toml_value_parse(%s) gave type %d",
				   toml_type_name(types[i]), v.type);
			if (types[i] == TOML_STRING)
				FUZZ_CHECK(v.str == text && v.len == len,
					   "toml_value_parse(string) changed "
					   "the bytes");
			else if (v.str)
				FUZZ_CHECK(v.str >= text &&
					   v.str + v.len <= text + len,
					   "toml_value_parse(%s): str outside "
					   "the text", toml_type_name(types[i]));
		} else {
			FUZZ_CHECK(r == -EINVAL || r == -ERANGE,
				   "toml_value_parse(%s) returned %d",
				   toml_type_name(types[i]), r);
			fuzz_check_error(&err, NULL, 0, "toml_value_parse",
					 "value-msg");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	toml_doc *doc = NULL, *clone = NULL;
	toml_error err;
	const char *text;
	size_t len = 0;
	int r;

	memset(&err, 0, sizeof err);
	r = toml_parse(in, size, &doc, &err);
	if (r != 0) {
		FUZZ_CHECK(r == -EINVAL || r == -ENOMEM || r == -EFBIG,
			   "toml_parse returned %d", r);
		fuzz_check_error(&err, in, size, "toml_parse", "msg");
		if (size <= 64)
			value_parse_all(in, size);
		return 0;
	}
	FUZZ_CHECK(doc, "toml_parse succeeded without a document");

	text = toml_text(doc, &len);
	FUZZ_CHECK(len == size && (size == 0 || memcmp(text, in, size) == 0),
		   "toml_text differs from the input (%zu vs %zu bytes)", len,
		   size);
	fuzz_check_doc(doc, NULL);

	r = toml_clone(doc, &clone);
	FUZZ_CHECK(r == 0 || r == -ENOMEM, "toml_clone returned %d", r);
	if (r == 0) {
		size_t clen = 0;
		const char *ctext = toml_text(clone, &clen);
		struct fbuf a = {0}, b = {0};

		FUZZ_CHECK(clen == size &&
			   (size == 0 || memcmp(ctext, in, size) == 0),
			   "the clone's text differs from the input");
		FUZZ_CHECK(toml_node_count_all(clone) ==
			   toml_node_count_all(doc),
			   "the clone has %zu nodes, the original %zu",
			   toml_node_count_all(clone), toml_node_count_all(doc));
		fuzz_dump(doc, TOML_ROOT, TOML_NONE, &a);
		fuzz_dump(clone, TOML_ROOT, TOML_NONE, &b);
		FUZZ_CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0,
			   "the clone holds other data than the original");
		fbuf_free(&a);
		fbuf_free(&b);
		toml_free(clone);
	}
	toml_free(doc);

	if (size <= 64)
		value_parse_all(in, size);
	return 0;
}
