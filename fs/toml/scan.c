/* SPDX-License-Identifier: MIT */
/*
 * The lexical pieces of TOML 1.0.0: strings, numbers, dates, booleans and
 * UTF-8. They validate exactly what the specification allows, so that the
 * parser can trust a span once it has been scanned and decode it later on
 * demand.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define FAIL(E, AT, WHY) ((E)->why = (WHY), (E)->at = (AT), -EINVAL)

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* A-Z a-z 0-9 _ - (bytes 128-255 are zero) */
const unsigned char bare_key_chars[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
};

size_t utf8_len(const char *str, size_t len, size_t pos)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[pos];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (pos + n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[pos + i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[pos + i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static int put_utf8(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_add(out, b, n);
}

static int hexval(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One backslash escape of a basic string, s[i] == '\\'. */
static int scan_escape(const char *s, size_t len, size_t i, size_t *next,
		       struct buf *out, struct scan_err *e)
{
	if (i + 1 >= len)
		return FAIL(e, i, "the string ends inside an escape sequence");
	char c = s[i + 1], r;
	switch (c) {
	case 'b': r = '\b'; break;
	case 't': r = '\t'; break;
	case 'n': r = '\n'; break;
	case 'f': r = '\f'; break;
	case 'r': r = '\r'; break;
	case '"': r = '"'; break;
	case '\\': r = '\\'; break;
	case 'u':
	case 'U': {
		size_t nd = c == 'u' ? 4 : 8;
		uint32_t cp = 0;
		if (i + 2 + nd > len)
			return FAIL(e, i, "a \\u escape needs 4 hex digits, \\U needs 8");
		for (size_t k = 0; k < nd; k++) {
			int h = hexval((unsigned char)s[i + 2 + k]);
			if (h < 0)
				return FAIL(e, i, "a \\u escape needs 4 hex digits, \\U needs 8");
			cp = (cp << 4) | (uint32_t)h;
		}
		if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return FAIL(e, i, "the escape is not a Unicode scalar value");
		*next = i + 2 + nd;
		return out ? put_utf8(out, cp) : 0;
	}
	default:
		return FAIL(e, i, "unknown escape sequence (valid: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX)");
	}
	*next = i + 2;
	return out ? buf_addc(out, r) : 0;
}

/* A character that may appear as is inside a string: tab, or anything
 * but a control character. Returns its byte length, 0 if not allowed,
 * and sets *why. */
static size_t plain_char(const char *s, size_t len, size_t i, const char **why)
{
	unsigned char c = (unsigned char)s[i];
	if (c == '\t')
		return 1;
	if (c < 0x20 || c == 0x7f) {
		*why = "a control character must be written as an escape (\\u00XX)";
		return 0;
	}
	size_t n = utf8_len(s, len, i);
	if (!n)
		*why = "the text is not valid UTF-8";
	return n;
}

int scan_string(const char *s, size_t len, size_t pos, size_t *end,
		toml_form *form, struct buf *out, struct scan_err *e)
{
	char q = s[pos];
	bool basic = q == '"';
	bool ml = pos + 2 < len && s[pos + 1] == q && s[pos + 2] == q;
	size_t i = pos + (ml ? 3 : 1);
	const char *why;
	int r;

	*form = basic ? (ml ? TOML_FORM_ML_BASIC : TOML_FORM_BASIC)
		      : (ml ? TOML_FORM_ML_LITERAL : TOML_FORM_LITERAL);
	if (ml) {
		/* A line break right after the opening quotes is not content. */
		if (i < len && s[i] == '\n')
			i++;
		else if (i + 1 < len && s[i] == '\r' && s[i + 1] == '\n')
			i += 2;
	}
	for (;;) {
		/* most of a string is plain printable ASCII: take it in one go */
		size_t plain = i;
		while (plain < len && (unsigned char)s[plain] >= 0x20 && (unsigned char)s[plain] < 0x7f &&
		       s[plain] != q && s[plain] != '\\')
			plain++;
		if (plain > i) {
			if (out && (r = buf_add(out, s + i, plain - i)) < 0)
				return r;
			i = plain;
		}
		if (i >= len)
			return FAIL(e, pos, ml ? "the multi-line string is never closed"
					       : "the string is never closed");
		unsigned char c = (unsigned char)s[i];
		if (c == (unsigned char)q) {
			if (!ml) {
				*end = i + 1;
				return 0;
			}
			size_t run = 0;
			while (i + run < len && s[i + run] == q)
				run++;
			if (run >= 3) {
				if (run > 5)
					return FAIL(e, i, "too many quotes at the end of a multi-line string");
				if (out && (r = buf_add(out, s + i, run - 3)) < 0)
					return r;
				*end = i + run;
				return 0;
			}
			if (out && (r = buf_add(out, s + i, run)) < 0)
				return r;
			i += run;
			continue;
		}
		if (c == '\\' && basic) {
			if (ml) {
				/* line-ending backslash: trim up to the next
				 * non-blank character */
				size_t j = i + 1;
				while (j < len && (s[j] == ' ' || s[j] == '\t'))
					j++;
				if (j < len && (s[j] == '\n' || (s[j] == '\r' && j + 1 < len && s[j + 1] == '\n'))) {
					while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' ||
							   (s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')))
						j += s[j] == '\r' ? 2 : 1;
					i = j;
					continue;
				}
			}
			if ((r = scan_escape(s, len, i, &i, out, e)) < 0)
				return r;
			continue;
		}
		if (c == '\n' || c == '\r') {
			if (!ml)
				return FAIL(e, i, "the string is not closed on its line (use \"\"\" or ''' for text with line breaks)");
			if (c == '\r') {
				if (i + 1 >= len || s[i + 1] != '\n')
					return FAIL(e, i, "a carriage return must be followed by a line feed");
				/* a line break is a line break, whichever
				 * way the file spells it (as tomllib reads it) */
				if (out && (r = buf_addc(out, '\n')) < 0)
					return r;
				i += 2;
				continue;
			}
			if (out && (r = buf_addc(out, '\n')) < 0)
				return r;
			i++;
			continue;
		}
		size_t n = plain_char(s, len, i, &why);
		if (!n)
			return FAIL(e, i, why);
		if (out && (r = buf_add(out, s + i, n)) < 0)
			return r;
		i += n;
	}
}

int decode_string(const char *s, size_t len, toml_form form, struct buf *out)
{
	size_t end;
	struct scan_err e;
	(void)form;
	return scan_string(s, len, 0, &end, &form, out, &e);
}

static bool is_delim(const char *s, size_t len, size_t i)
{
	if (i >= len)
		return true;
	switch (s[i]) {
	case ' ': case '\t': case '\r': case '\n': case '#': case ',': case ']': case '}':
		return true;
	default:
		return false;
	}
}

/* n digits at s[i]; their value in *v. */
static bool digits(const char *s, size_t len, size_t i, size_t n, int *v)
{
	int x = 0;
	if (i + n > len)
		return false;
	for (size_t k = 0; k < n; k++) {
		if (!is_digit((unsigned char)s[i + k]))
			return false;
		x = x * 10 + (s[i + k] - '0');
	}
	*v = x;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

/* HH:MM:SS[.frac] at s[i]. */
static int scan_time(const char *s, size_t len, size_t i, size_t *end, struct scan_err *e)
{
	int hh, mm, ss;
	if (!digits(s, len, i, 2, &hh) || i + 2 >= len || s[i + 2] != ':' ||
	    !digits(s, len, i + 3, 2, &mm))
		return FAIL(e, i, "a time is written HH:MM:SS");
	if (i + 5 >= len || s[i + 5] != ':' || !digits(s, len, i + 6, 2, &ss))
		return FAIL(e, i, "a time needs seconds in TOML 1.0 (HH:MM:SS)");
	if (hh > 23 || mm > 59 || ss > 59)
		return FAIL(e, i, "the time is out of range (hours 00-23, minutes and seconds 00-59)");
	i += 8;
	if (i < len && s[i] == '.') {
		size_t j = i + 1;
		while (j < len && is_digit((unsigned char)s[j]))
			j++;
		if (j == i + 1)
			return FAIL(e, i, "a fraction of a second needs at least one digit");
		i = j;
	}
	*end = i;
	return 0;
}

static int scan_datetime(const char *s, size_t len, size_t pos, size_t *end,
			 toml_type *type, struct scan_err *e)
{
	size_t i = pos;
	int y, mo, d, r;

	if (i + 2 < len && s[i + 2] == ':') {
		if ((r = scan_time(s, len, i, end, e)) < 0)
			return r;
		*type = TOML_TIME_LOCAL;
		return 0;
	}
	if (!digits(s, len, i, 4, &y) || i + 4 >= len || s[i + 4] != '-' ||
	    !digits(s, len, i + 5, 2, &mo) || i + 7 >= len || s[i + 7] != '-' ||
	    !digits(s, len, i + 8, 2, &d))
		return FAIL(e, pos, "a date is written YYYY-MM-DD");
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return FAIL(e, pos, "the date does not exist");
	i += 10;
	*type = TOML_DATE_LOCAL;
	if (i < len && (s[i] == 'T' || s[i] == 't' ||
			(s[i] == ' ' && i + 1 < len && is_digit((unsigned char)s[i + 1])))) {
		if ((r = scan_time(s, len, i + 1, &i, e)) < 0)
			return r;
		*type = TOML_DATETIME_LOCAL;
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
			*type = TOML_DATETIME;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			int oh, om;
			if (!digits(s, len, i + 1, 2, &oh) || i + 3 >= len || s[i + 3] != ':' ||
			    !digits(s, len, i + 4, 2, &om))
				return FAIL(e, i, "a time offset is written +HH:MM or -HH:MM");
			if (oh > 23 || om > 59)
				return FAIL(e, i, "the time offset is out of range");
			i += 6;
			*type = TOML_DATETIME;
		}
	}
	*end = i;
	return 0;
}

/* [0-9](_?[0-9])* in the given base, from s[i] up to `lim`. */
static bool digit_run(const char *s, size_t lim, size_t *i, int base, bool allow_lead)
{
	size_t j = *i;
	bool prev_digit = false;
	(void)allow_lead;
	while (j < lim) {
		unsigned char c = (unsigned char)s[j];
		int v = hexval(c);
		if (v >= 0 && v < base && !(base == 10 && !is_digit(c))) {
			prev_digit = true;
		} else if (c == '_') {
			if (!prev_digit || j + 1 >= lim)
				return false;
			int nv = hexval((unsigned char)s[j + 1]);
			if (nv < 0 || nv >= base)
				return false;
			prev_digit = false;
		} else {
			break;
		}
		j++;
	}
	if (j == *i || !prev_digit)
		return false;
	*i = j;
	return true;
}

static int scan_number(const char *s, size_t len, size_t pos, size_t *end,
		       toml_type *type, toml_form *form, struct scan_err *e)
{
	size_t lim = pos, i = pos;
	while (lim < len && (is_bare_key_char((unsigned char)s[lim]) || s[lim] == '.' ||
			     s[lim] == '+'))
		lim++;
	/* an exponent sign like 1e-5 is inside the token, a '-' is a bare key char */
	bool sign = s[i] == '+' || s[i] == '-';
	if (sign)
		i++;
	if (!sign && i + 1 < lim && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
		int base = s[i + 1] == 'x' ? 16 : s[i + 1] == 'o' ? 8 : 2;
		*form = base == 16 ? TOML_FORM_HEX : base == 8 ? TOML_FORM_OCT : TOML_FORM_BIN;
		i += 2;
		if (!digit_run(s, lim, &i, base, true) || i != lim)
			return FAIL(e, pos, base == 16 ? "not a hexadecimal integer (0x then digits 0-9a-f, _ only between digits)"
				    : base == 8 ? "not an octal integer (0o then digits 0-7, _ only between digits)"
						: "not a binary integer (0b then digits 0-1, _ only between digits)");
		int64_t v;
		if (decode_int(s + pos, lim - pos, *form, &v) < 0)
			return FAIL(e, pos, "the integer does not fit in 64 bits");
		*type = TOML_INTEGER;
		*end = lim;
		return 0;
	}
	*form = TOML_FORM_DEC;
	if (i + 3 <= lim && (!strncmp(s + i, "inf", 3) || !strncmp(s + i, "nan", 3)) && i + 3 == lim) {
		*type = TOML_FLOAT;
		*form = TOML_FORM_PLAIN;
		*end = lim;
		return 0;
	}
	if (i >= lim || !is_digit((unsigned char)s[i]))
		return FAIL(e, pos, "not a number");
	size_t int_start = i;
	if (!digit_run(s, lim, &i, 10, false))
		return FAIL(e, pos, "an underscore in a number must sit between two digits");
	if (s[int_start] == '0' && i - int_start > 1)
		return FAIL(e, pos, "a number may not start with a leading zero");
	bool is_float = false;
	if (i < lim && s[i] == '.') {
		i++;
		if (!digit_run(s, lim, &i, 10, true))
			return FAIL(e, pos, "a decimal point must have digits on both sides");
		is_float = true;
	}
	if (i < lim && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < lim && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!digit_run(s, lim, &i, 10, true))
			return FAIL(e, pos, "an exponent needs digits");
		is_float = true;
	}
	if (i != lim)
		return FAIL(e, pos, "not a valid number");
	if (is_float) {
		*type = TOML_FLOAT;
		*form = TOML_FORM_PLAIN;
	} else {
		int64_t v;
		if (decode_int(s + pos, lim - pos, TOML_FORM_DEC, &v) < 0)
			return FAIL(e, pos, "the integer does not fit in 64 bits (-9223372036854775808 to 9223372036854775807)");
		*type = TOML_INTEGER;
	}
	*end = lim;
	return 0;
}

int scan_bare_scalar(const char *s, size_t len, size_t pos, size_t *end,
		     toml_type *type, toml_form *form, struct scan_err *e)
{
	int r;
	*form = TOML_FORM_PLAIN;
	if (!strncmp(s + pos, "true", len - pos < 4 ? len - pos : 4) && len - pos >= 4) {
		*type = TOML_BOOL;
		*end = pos + 4;
	} else if (len - pos >= 5 && !strncmp(s + pos, "false", 5)) {
		*type = TOML_BOOL;
		*end = pos + 5;
	} else if (len - pos >= 3 && is_digit((unsigned char)s[pos]) &&
		   ((len - pos >= 5 && is_digit((unsigned char)s[pos + 1]) &&
		     is_digit((unsigned char)s[pos + 2]) && is_digit((unsigned char)s[pos + 3]) &&
		     s[pos + 4] == '-') ||
		    (is_digit((unsigned char)s[pos + 1]) && s[pos + 2] == ':'))) {
		if ((r = scan_datetime(s, len, pos, end, type, e)) < 0)
			return r;
	} else if (is_digit((unsigned char)s[pos]) || s[pos] == '+' || s[pos] == '-' ||
		   s[pos] == 'i' || s[pos] == 'n') {
		if ((r = scan_number(s, len, pos, end, type, form, e)) < 0)
			return r;
	} else {
		return FAIL(e, pos, "expected a value (a string, number, true/false, date, [array] or {table})");
	}
	if (!is_delim(s, len, *end))
		return FAIL(e, *end, "unexpected text after the value");
	return 0;
}

int decode_int(const char *s, size_t len, toml_form form, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	int base = 10;
	uint64_t v = 0, lim;

	if (form == TOML_FORM_HEX || form == TOML_FORM_OCT || form == TOML_FORM_BIN) {
		base = form == TOML_FORM_HEX ? 16 : form == TOML_FORM_OCT ? 8 : 2;
		i = 2;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		neg = s[i] == '-';
		i++;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		if (s[i] == '_')
			continue;
		int d = hexval((unsigned char)s[i]);
		if (d < 0 || d >= base)
			return -EINVAL;
		if (v > (lim - (uint64_t)d) / (uint64_t)base)
			return -ERANGE;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

int decode_float(const char *s, size_t len, double *out)
{
	size_t i = 0;
	bool neg = false;
	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (len - i == 3 && !strncmp(s + i, "inf", 3)) {
		*out = neg ? -INFINITY : INFINITY;
		return 0;
	}
	if (len - i == 3 && !strncmp(s + i, "nan", 3)) {
		*out = neg ? -NAN : NAN;
		return 0;
	}
	char small[128];
	char *tmp = len < sizeof(small) ? small : malloc(len + 1);
	if (!tmp)
		return -ENOMEM;
	size_t n = 0;
	for (size_t k = 0; k < len; k++)
		if (s[k] != '_')
			tmp[n++] = s[k];
	tmp[n] = '\0';
	char *endp;
	*out = strtod(tmp, &endp);
	int r = (size_t)(endp - tmp) == n ? 0 : -EINVAL;
	if (tmp != small)
		free(tmp);
	return r;
}
