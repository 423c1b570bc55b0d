/* SPDX-License-Identifier: MIT */
/*
 * Values in and out: turning a value a person wrote ("10", "true", a
 * string of any bytes) into a toml_value, and a toml_value into TOML text
 * that reads back as exactly that value, whatever its bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool valid_utf8(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(s, n, i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static int add_escape(struct buf *out, unsigned char c)
{
	switch (c) {
	case '"': return buf_add(out, "\\\"", 2);
	case '\\': return buf_add(out, "\\\\", 2);
	case '\n': return buf_add(out, "\\n", 2);
	case '\r': return buf_add(out, "\\r", 2);
	case '\t': return buf_add(out, "\\t", 2);
	case '\b': return buf_add(out, "\\b", 2);
	case '\f': return buf_add(out, "\\f", 2);
	default: return buf_addf(out, "\\u%04X", c);
	}
}

static int write_basic(struct buf *out, const char *s, size_t n)
{
	int r = buf_addc(out, '"');
	size_t run = 0; /* plain bytes waiting to be copied */
	for (size_t i = 0; r >= 0 && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\' || is_ctl(c)) {
			if ((r = buf_add(out, s + i - run, run)) < 0)
				break;
			run = 0;
			r = add_escape(out, c);
		} else {
			run++;
		}
	}
	if (r >= 0)
		r = buf_add(out, s + n - run, run);
	return r < 0 ? r : buf_addc(out, '"');
}

static bool starts_with_newline(const char *s, size_t n)
{
	return (n && s[0] == '\n') || (n > 1 && s[0] == '\r' && s[1] == '\n');
}

static int write_ml_basic(struct buf *out, const char *s, size_t n, bool nl_open, const char *eol)
{
	int r = buf_add(out, "\"\"\"", 3);
	if (r >= 0 && (nl_open || starts_with_newline(s, n)))
		r = buf_adds(out, eol);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"') {
			/* A run of three or more quotes would close the string:
			 * escape the whole run. */
			size_t run = 0;
			while (i + run < n && s[i + run] == '"')
				run++;
			for (size_t k = 0; r >= 0 && k < run; k++)
				r = run >= 3 ? buf_add(out, "\\\"", 2) : buf_addc(out, '"');
			i += run - 1;
		} else if (c == '\n') {
			r = buf_adds(out, eol); /* the file's own line breaks */
		} else if (c == '\\' || (is_ctl(c) && c != '\t')) {
			r = add_escape(out, c);
		} else {
			r = buf_addc(out, (char)c);
		}
	}
	return r < 0 ? r : buf_add(out, "\"\"\"", 3);
}

static bool fits_literal(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\'' || (is_ctl(c) && c != '\t'))
			return false;
	}
	return true;
}

static bool fits_ml_literal(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		/* a CR could only be written as a line break, which reads back
		 * as \n alone */
		if (is_ctl(c) && c != '\t' && c != '\n')
			return false;
		if (c == '\'' && i + 2 < n && s[i + 1] == '\'' && s[i + 2] == '\'')
			return false;
	}
	return true;
}

static int write_string(struct buf *out, const char *s, size_t n, toml_form hint,
			bool nl_open, const char *eol)
{
	switch (hint) {
	case TOML_FORM_LITERAL:
		if (fits_literal(s, n)) {
			int r = buf_addc(out, '\'');
			if (r >= 0)
				r = buf_add(out, s, n);
			return r < 0 ? r : buf_addc(out, '\'');
		}
		return write_basic(out, s, n);
	case TOML_FORM_ML_LITERAL:
		if (fits_ml_literal(s, n)) {
			int r = buf_add(out, "'''", 3);
			if (r >= 0 && (nl_open || starts_with_newline(s, n)))
				r = buf_adds(out, eol);
			for (size_t i = 0; r >= 0 && i < n; i++)
				r = s[i] == '\n' ? buf_adds(out, eol) : buf_addc(out, s[i]);
			return r < 0 ? r : buf_add(out, "'''", 3);
		}
		return write_ml_basic(out, s, n, nl_open, eol);
	case TOML_FORM_ML_BASIC:
		return write_ml_basic(out, s, n, nl_open, eol);
	case TOML_FORM_BASIC:
		return write_basic(out, s, n);
	default:
		/* A new string is a basic string: escaped line breaks keep
		 * every value on its key's line, which is what line-based tools
		 * (grep, roles that split on "[[runners]]") expect. */
		return write_basic(out, s, n);
	}
}

int encode_key(struct buf *out, const char *key, size_t klen)
{
	bool bare = klen > 0;
	for (size_t i = 0; bare && i < klen; i++)
		bare = is_bare_key_char((unsigned char)key[i]);
	if (bare)
		return buf_add(out, key, klen);
	if (!valid_utf8(key, klen))
		return -EINVAL;
	return write_basic(out, key, klen);
}

static int write_float(struct buf *out, double f)
{
	if (isnan(f))
		return buf_adds(out, "nan");
	if (isinf(f))
		return buf_adds(out, f < 0 ? "-inf" : "inf");
	/* The fewest digits that read back as the same double, written as a
	 * person would (Python's repr): plainly for exponents -4 to 15,
	 * with an exponent otherwise. */
	char tmp[64];
	int prec = 1, exp = 0;
	for (; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	const char *e = strchr(tmp, 'e');
	exp = e ? atoi(e + 1) : 0;
	if (exp >= -4 && exp < 16) {
		int decimals = prec - 1 - exp;
		snprintf(tmp, sizeof(tmp), "%.*f", decimals > 0 ? decimals : 0, f);
	}
	/* TOML wants a point or an exponent in a float */
	if (!strpbrk(tmp, ".eE"))
		strcat(tmp, ".0");
	return buf_adds(out, tmp);
}

static int write_int(struct buf *out, int64_t v, toml_form hint)
{
	if (v >= 0 && hint == TOML_FORM_HEX)
		return buf_addf(out, "0x%" PRIX64, (uint64_t)v);
	if (v >= 0 && hint == TOML_FORM_OCT)
		return buf_addf(out, "0o%" PRIo64, (uint64_t)v);
	if (v >= 0 && hint == TOML_FORM_BIN) {
		char tmp[70];
		size_t i = sizeof(tmp);
		tmp[--i] = '\0';
		uint64_t u = (uint64_t)v;
		do {
			tmp[--i] = (char)('0' + (u & 1));
			u >>= 1;
		} while (u);
		return buf_addf(out, "0b%s", tmp + i);
	}
	return buf_addf(out, "%" PRId64, v);
}

/* The text of a date/time value must scan as exactly that type. */
static int check_datetime(const toml_value *v, toml_error *err)
{
	size_t end;
	toml_type t;
	toml_form f;
	struct scan_err e;
	if (!v->str || !v->len ||
	    scan_bare_scalar(v->str, v->len, 0, &end, &t, &f, &e) < 0 || end != v->len || t != v->type) {
		set_error(err, NULL, 0, 0, "\"%.*s\" is not a %s", (int)(v->len > 40 ? 40 : v->len),
			  v->str ? v->str : "", toml_type_name(v->type));
		return -EINVAL;
	}
	return 0;
}

int encode_value(struct buf *out, const toml_value *v, toml_form hint,
		 bool nl_open, const char *eol, toml_error *err)
{
	switch (v->type) {
	case TOML_STRING:
		if (v->len && !v->str)
			return -EINVAL;
		if (!valid_utf8(v->str, v->len)) {
			set_error(err, NULL, 0, 0, "the value is not valid UTF-8 text");
			return -EINVAL;
		}
		return write_string(out, v->str ? v->str : "", v->len, hint, nl_open, eol);
	case TOML_INTEGER:
		return write_int(out, v->i, hint);
	case TOML_FLOAT:
		return write_float(out, v->f);
	case TOML_BOOL:
		return buf_adds(out, v->b ? "true" : "false");
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL: {
		int r = check_datetime(v, err);
		return r < 0 ? r : buf_add(out, v->str, v->len);
	}
	default:
		set_error(err, NULL, 0, 0, "an %s is not a single value", toml_type_name(v->type));
		return -EINVAL;
	}
}

static const char *type_hint(toml_type type)
{
	switch (type) {
	case TOML_INTEGER: return " (write a whole number such as 10, -3 or 1_000)";
	case TOML_FLOAT: return " (write a number such as 1.5, 2, 1e-3, inf or nan)";
	case TOML_BOOL: return " (write true or false)";
	case TOML_DATETIME: return " (write it like 2024-05-01T10:00:00Z)";
	case TOML_DATETIME_LOCAL: return " (write it like 2024-05-01T10:00:00)";
	case TOML_DATE_LOCAL: return " (write it like 2024-05-01)";
	case TOML_TIME_LOCAL: return " (write it like 10:00:00)";
	default: return "";
	}
}

int toml_value_parse(toml_type type, const char *text, size_t len,
		     toml_value *out, toml_error *err)
{
	memset(out, 0, sizeof(*out));
	out->type = type;
	if (type == TOML_STRING) {
		out->str = text;
		out->len = len;
		return 0;
	}
	if (type == TOML_ARRAY || type == TOML_TABLE) {
		set_error(err, NULL, 0, 0, "an %s is not a single value", toml_type_name(type));
		return -EINVAL;
	}
	const char *s = text;
	size_t n = len;
	while (n && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;

	size_t end;
	toml_type got;
	toml_form form;
	struct scan_err e = {NULL, 0};
	int r = n ? scan_bare_scalar(s, n, 0, &end, &got, &form, &e) : -EINVAL;
	bool ok = r == 0 && end == n &&
		  (got == type || (type == TOML_FLOAT && got == TOML_INTEGER));
	if (ok && got == TOML_INTEGER) {
		int64_t i;
		ok = decode_int(s, n, form, &i) == 0;
		out->i = i;
		out->f = (double)i;
	} else if (ok && got == TOML_FLOAT) {
		ok = decode_float(s, n, &out->f) == 0;
	} else if (ok && got == TOML_BOOL) {
		out->b = s[0] == 't';
	}
	if (!ok) {
		/* a message is text: control characters and bytes that are
		 * not UTF-8 show as '?' */
		char shown[48];
		size_t k = 0;
		for (size_t i = 0; i < n && k < 40;) {
			size_t u = utf8_len(s, n, i);
			if (u > 1 && k + u <= 40) {
				memcpy(shown + k, s + i, u);
				k += u;
				i += u;
				continue;
			}
			shown[k++] = (u == 1 && (unsigned char)s[i] >= 0x20 && s[i] != 0x7f) ? s[i] : '?';
			i += u ? u : 1;
		}
		shown[k] = '\0';
		/* when it looks like the right type, say what is wrong with it */
		bool same_kind = r < 0 && e.why && (type == TOML_INTEGER || type == TOML_FLOAT) && n &&
				 (s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9'));
		set_error(err, NULL, 0, 0, "%s%s%s is not %s %s%s%s", n ? "\"" : "", n ? shown : "an empty value",
			  n > 40 ? "...\"" : n ? "\"" : "",
			  type == TOML_INTEGER || type == TOML_DATETIME ? "an" : "a", toml_type_name(type),
			  same_kind ? ": " : "", same_kind ? e.why : type_hint(type));
		return -EINVAL;
	}
	out->str = s;
	out->len = n;
	return 0;
}
