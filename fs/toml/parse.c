/* SPDX-License-Identifier: MIT */
/*
 * The structural parser: lines, keys, headers, arrays and inline tables.
 * It builds the node index over the text and records what the edits need
 * later: the span of every value, the lines each key/value owns, where each
 * section starts and ends, and every spelling of every key.
 *
 * The rules for redefining tables follow TOML 1.0.0 as the toml-test suite
 * reads it: a [header] names a table once; dotted keys may extend a table
 * only inside the section that made it; inline tables and arrays are closed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct kseg {
	uint32_t off, len;   /* decoded key in p->kb */
	uint32_t start, end; /* spelling in the text */
	uint32_t parent, h;  /* the table it was last looked up in, and the hash */
};

struct parser {
	toml_doc *d;
	const char *s;
	size_t len, pos;
	toml_error *err;
	uint32_t sect;    /* current section: root or a header table/entry */
	uint32_t sect_id; /* ownership stamp for dotted tables */
	uint32_t next_id;
	uint32_t run_start; /* first line of the current run of comment lines */
	int depth;
	struct buf kb;
	struct kseg keys[TOML_MAX_KEYS];
	size_t nkeys;
};

static int fail(struct parser *p, size_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
	char msg[sizeof(p->err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_error(p->err, p->s, p->len, at, "%s", msg);
	return -EINVAL;
}

/* A key, quoted and shortened for an error message. */
static const char *show_key(char out[72], const char *k, size_t n)
{
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; i < n && o < 66; i++)
		out[o++] = ((unsigned char)k[i] < 0x20 || k[i] == 0x7f) ? '?' : k[i];
	if (n > 64) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static const char *seg_name(struct parser *p, size_t i, char out[72])
{
	return show_key(out, p->kb.p + p->keys[i].off, p->keys[i].len);
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'))
		p->pos++;
}

static bool at_newline(struct parser *p)
{
	return p->pos < p->len && (p->s[p->pos] == '\n' ||
				   (p->s[p->pos] == '\r' && p->pos + 1 < p->len && p->s[p->pos + 1] == '\n'));
}

static void eat_newline(struct parser *p)
{
	p->pos += p->s[p->pos] == '\r' ? 2 : 1;
}

/* '#' to the end of the line (the line break is not eaten). */
static int comment(struct parser *p)
{
	size_t i = p->pos + 1;
	const char *s = p->s;
	while (i < p->len) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			break;
		if (c == '\r') {
			if (i + 1 < p->len && s[i + 1] == '\n')
				break;
			return fail(p, i, "a carriage return must be followed by a line feed");
		}
		if (c >= 0x20 && c < 0x7f) {
			i++;
			continue;
		}
		if (c == '\t') {
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			return fail(p, i, "control characters are not allowed in comments");
		size_t n = utf8_len(s, p->len, i);
		if (!n)
			return fail(p, i, "the comment is not valid UTF-8");
		i += n;
	}
	p->pos = i;
	return 0;
}

/* Blanks, an optional comment, then a line break or the end. */
static int end_of_line(struct parser *p, const char *after)
{
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '#') {
		int r = comment(p);
		if (r < 0)
			return r;
	}
	if (p->pos >= p->len)
		return 0;
	if (at_newline(p)) {
		eat_newline(p);
		return 0;
	}
	unsigned char c = (unsigned char)p->s[p->pos];
	if (c < 0x20 || c == 0x7f)
		return fail(p, p->pos, "control character U+%04X is not allowed here", c);
	return fail(p, p->pos, "expected the end of the line after %s", after);
}

/* Blanks, line breaks and comments, as allowed inside arrays. */
static int skip_array_space(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		if (p->pos >= p->len)
			return 0;
		if (p->s[p->pos] == '#') {
			int r = comment(p);
			if (r < 0)
				return r;
		} else if (at_newline(p)) {
			eat_newline(p);
		} else {
			return 0;
		}
	}
}

static int parse_key(struct parser *p)
{
	p->nkeys = 0;
	buf_reset(&p->kb);
	for (;;) {
		skip_ws(p);
		size_t start = p->pos;
		uint32_t off = (uint32_t)p->kb.len;
		if (p->nkeys == TOML_MAX_KEYS)
			return fail(p, start, "a key may have at most %d dotted parts", TOML_MAX_KEYS);
		if (start < p->len && is_bare_key_char((unsigned char)p->s[start])) {
			size_t i = start;
			while (i < p->len && is_bare_key_char((unsigned char)p->s[i]))
				i++;
			if (buf_add(&p->kb, p->s + start, i - start) < 0)
				return -ENOMEM;
			p->pos = i;
		} else if (start < p->len && (p->s[start] == '"' || p->s[start] == '\'')) {
			struct scan_err e;
			toml_form form;
			size_t end;
			int r = scan_string(p->s, p->len, start, &end, &form, &p->kb, &e);
			if (r == -ENOMEM)
				return r;
			if (r < 0)
				return fail(p, e.at, "%s", e.why);
			if (form == TOML_FORM_ML_BASIC || form == TOML_FORM_ML_LITERAL)
				return fail(p, start, "a key cannot be a multi-line string");
			p->pos = end;
		} else {
			if (start >= p->len || at_newline(p))
				return fail(p, start, "expected a key");
			return fail(p, start, "expected a key (bare keys use A-Z a-z 0-9 _ -; quote anything else)");
		}
		p->keys[p->nkeys++] = (struct kseg){off, (uint32_t)(p->kb.len - off),
						    (uint32_t)start, (uint32_t)p->pos, NONE, 0};
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == '.') {
			p->pos++;
			continue;
		}
		return 0;
	}
}

static int add_seg(struct parser *p, uint32_t node, size_t i)
{
	toml_doc *d = p->d;
	if (d->nsegs == d->segs_cap) {
		uint32_t cap = d->segs_cap ? d->segs_cap * 2 : 64;
		struct seg *s = realloc(d->segs, sizeof(*s) * cap);
		if (!s)
			return -ENOMEM;
		d->segs = s;
		d->segs_cap = cap;
	}
	d->segs[d->nsegs++] = (struct seg){node, p->keys[i].start, p->keys[i].end};
	return 0;
}

static uint32_t seg_hash(struct parser *p, uint32_t t, size_t i)
{
	struct kseg *k = &p->keys[i];
	if (k->parent != t) {
		k->parent = t;
		k->h = doc_key_hash(t, p->kb.p + k->off, k->len);
	}
	return k->h;
}

static int new_keyed(struct parser *p, uint32_t parent, size_t i, toml_type type,
		     toml_form form, uint32_t *out)
{
	int r = doc_new_node(p->d, parent, type, form, out);
	if (r < 0)
		return r;
	r = doc_set_key_h(p->d, *out, p->kb.p + p->keys[i].off, p->keys[i].len,
			  seg_hash(p, parent, i));
	if (r < 0)
		return r;
	return add_seg(p, *out, i);
}

static uint32_t lookup_seg(struct parser *p, uint32_t t, size_t i)
{
	return doc_lookup_h(p->d, t, p->kb.p + p->keys[i].off, p->keys[i].len, seg_hash(p, t, i));
}

static int parse_value(struct parser *p, uint32_t parent, size_t key, uint32_t *out);

/*
 * Walk the dotted part of a key (all but the last segment) from table t,
 * making dotted tables as needed. `owner` stamps tables made here, so
 * that a later section cannot extend them; `home` is where their keys are
 * spelled.
 */
static int walk_dotted(struct parser *p, uint32_t *t, uint32_t owner, uint32_t home,
		       uint32_t *path, size_t *npath)
{
	char name[72];
	int r;
	*npath = 0;
	for (size_t i = 0; i + 1 < p->nkeys; i++) {
		uint32_t c = lookup_seg(p, *t, i);
		if (c == NONE) {
			if ((r = new_keyed(p, *t, i, TOML_TABLE, TOML_FORM_DOTTED, &c)) < 0)
				return r;
			p->d->nodes[c].dot_sect = owner;
			p->d->nodes[c].home = home;
		} else {
			struct tnode *n = &p->d->nodes[c];
			if (n->type != TOML_TABLE)
				return fail(p, p->keys[i].start,
					    "%s already holds a value, so it cannot hold keys", seg_name(p, i, name));
			if (n->flags & F_FROZEN)
				return fail(p, p->keys[i].start,
					    "%s is an inline table; its keys must be written inside its braces",
					    seg_name(p, i, name));
			if ((n->flags & F_EXPLICIT) ||
			    (n->form == TOML_FORM_DOTTED && n->dot_sect != owner))
				return fail(p, p->keys[i].start,
					    "table %s is defined elsewhere; dotted keys cannot add to it here",
					    seg_name(p, i, name));
			if (n->form == TOML_FORM_IMPLICIT) {
				n->form = TOML_FORM_DOTTED;
				n->dot_sect = owner;
				n->home = home;
			}
			if ((r = add_seg(p, c, i)) < 0)
				return r;
		}
		path[(*npath)++] = c;
		*t = c;
	}
	return 0;
}

static int inline_table(struct parser *p, uint32_t n)
{
	uint32_t owner = ++p->next_id;
	uint32_t path[TOML_MAX_KEYS];
	size_t npath;
	char name[72];
	int r;

	p->pos++; /* { */
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		goto done;
	}
	for (;;) {
		skip_ws(p);
		size_t kstart = p->pos;
		if ((r = parse_key(p)) < 0)
			return r;
		if (p->pos >= p->len || p->s[p->pos] != '=')
			return fail(p, p->pos, "expected '=' after the key");
		p->pos++;
		skip_ws(p);
		uint32_t t = n;
		if ((r = walk_dotted(p, &t, owner, n, path, &npath)) < 0)
			return r;
		size_t last = p->nkeys - 1;
		if (lookup_seg(p, t, last) != NONE)
			return fail(p, p->keys[last].start, "duplicate key %s", seg_name(p, last, name));
		uint32_t v;
		if ((r = parse_value(p, t, last, &v)) < 0)
			return r;
		struct tnode *vn = &p->d->nodes[v];
		vn->flags |= F_INLINE_ENTRY;
		vn->lstart = (uint32_t)kstart;
		vn->lend = vn->vend;
		vn->home = n;
		p->d->nodes[n].content_end = vn->vend;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			skip_ws(p);
			if (p->pos < p->len && p->s[p->pos] == '}')
				return fail(p, p->pos, "a trailing comma is not allowed in an inline table");
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}') {
			p->pos++;
			break;
		}
		if (p->pos >= p->len || at_newline(p) || p->s[p->pos] == '\r')
			return fail(p, p->pos, "an inline table must be closed with '}' on the same line");
		return fail(p, p->pos, "expected ',' or '}' in the inline table");
	}
done:
	p->d->nodes[n].flags |= F_FROZEN;
	return 0;
}

static int array(struct parser *p, uint32_t n)
{
	int r;
	p->pos++; /* [ */
	for (;;) {
		if ((r = skip_array_space(p)) < 0)
			return r;
		if (p->pos >= p->len)
			return fail(p, p->pos, "the array is never closed with ']'");
		if (p->s[p->pos] == ']') {
			p->pos++;
			break;
		}
		uint32_t v;
		if ((r = parse_value(p, n, SIZE_MAX, &v)) < 0)
			return r;
		struct tnode *vn = &p->d->nodes[v];
		vn->lstart = vn->vstart;
		vn->lend = vn->vend;
		if ((r = skip_array_space(p)) < 0)
			return r;
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ']') {
			p->pos++;
			break;
		}
		return fail(p, p->pos, p->pos >= p->len ? "the array is never closed with ']'"
							: "expected ',' or ']' in the array");
	}
	p->d->nodes[n].flags |= F_FROZEN;
	return 0;
}

/* A value at p->pos, as a new node under parent (keyed by segment `key`,
 * or an array element when key is SIZE_MAX). */
static int parse_value(struct parser *p, uint32_t parent, size_t key, uint32_t *out)
{
	size_t start = p->pos;
	toml_type type;
	toml_form form;
	size_t end;
	int r;
	uint32_t n;

	if (start >= p->len || at_newline(p))
		return fail(p, start, "expected a value");
	char c = p->s[start];
	if (c == '[' || c == '{') {
		if (p->depth >= TOML_MAX_DEPTH)
			return fail(p, start, "arrays and inline tables are nested too deeply (more than %d levels)",
				    TOML_MAX_DEPTH);
		type = c == '[' ? TOML_ARRAY : TOML_TABLE;
		form = c == '[' ? TOML_FORM_ARRAY : TOML_FORM_INLINE;
		r = key == SIZE_MAX ? doc_new_node(p->d, parent, type, form, &n)
				    : new_keyed(p, parent, key, type, form, &n);
		if (r < 0)
			return r;
		p->depth++;
		r = c == '[' ? array(p, n) : inline_table(p, n);
		p->depth--;
		if (r < 0)
			return r;
		end = p->pos;
		*out = n;
		p->d->nodes[n].vstart = (uint32_t)start;
		p->d->nodes[n].vend = (uint32_t)end;
		return 0;
	}
	struct scan_err e;
	if (c == '"' || c == '\'') {
		type = TOML_STRING;
		r = scan_string(p->s, p->len, start, &end, &form, NULL, &e);
	} else {
		r = scan_bare_scalar(p->s, p->len, start, &end, &type, &form, &e);
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return fail(p, e.at, "%s", e.why);
	r = key == SIZE_MAX ? doc_new_node(p->d, parent, type, form, &n)
			    : new_keyed(p, parent, key, type, form, &n);
	if (r < 0)
		return r;
	struct tnode *nd = &p->d->nodes[n];
	nd->vstart = (uint32_t)start;
	nd->vend = (uint32_t)end;
	if ((form == TOML_FORM_ML_BASIC || form == TOML_FORM_ML_LITERAL) &&
	    (p->s[start + 3] == '\n' || p->s[start + 3] == '\r'))
		nd->flags |= F_BLANK_AFTER_OPEN;
	p->pos = end;
	*out = n;
	return 0;
}

static int keyval(struct parser *p, size_t line_start)
{
	uint32_t path[TOML_MAX_KEYS];
	size_t npath;
	char name[72];
	int r;

	if ((r = parse_key(p)) < 0)
		return r;
	if (p->pos >= p->len || p->s[p->pos] != '=')
		return fail(p, p->pos, p->nkeys == 1 && p->keys[0].end == p->pos &&
						       p->pos < p->len && !at_newline(p)
					       ? "expected '=' after the key (a bare key uses only A-Z a-z 0-9 _ -)"
					       : "expected '=' after the key");
	p->pos++;
	skip_ws(p);
	uint32_t t = p->sect;
	if ((r = walk_dotted(p, &t, p->sect_id, p->sect, path, &npath)) < 0)
		return r;
	size_t last = p->nkeys - 1;
	if (lookup_seg(p, t, last) != NONE)
		return fail(p, p->keys[last].start, "duplicate key %s", seg_name(p, last, name));
	uint32_t v;
	if ((r = parse_value(p, t, last, &v)) < 0)
		return r;
	if ((r = end_of_line(p, "a value")) < 0)
		return r;
	struct tnode *nodes = p->d->nodes;
	nodes[v].flags |= F_LINE;
	nodes[v].lstart = (uint32_t)line_start;
	nodes[v].lend = (uint32_t)p->pos;
	nodes[v].home = p->sect;
	nodes[p->sect].last_kv = v;
	nodes[p->sect].content_end = (uint32_t)p->pos;
	for (size_t i = 0; i < npath; i++)
		nodes[path[i]].last_kv = v;
	return 0;
}

static int add_header(toml_doc *d, uint32_t n)
{
	if (d->nheaders == d->headers_cap) {
		uint32_t cap = d->headers_cap ? d->headers_cap * 2 : 32;
		uint32_t *h = realloc(d->headers, sizeof(*h) * cap);
		if (!h)
			return -ENOMEM;
		d->headers = h;
		d->headers_cap = cap;
	}
	d->headers[d->nheaders++] = n;
	return 0;
}

static int header(struct parser *p, size_t line_start)
{
	toml_doc *d = p->d;
	size_t hstart = p->pos;
	bool aot = hstart + 1 < p->len && p->s[hstart + 1] == '[';
	char name[72];
	int r;

	uint32_t region = (p->run_start != NONE && p->run_start != d->bom) ? p->run_start
									  : (uint32_t)line_start;
	d->nodes[p->sect].sect_end = region;

	p->pos += aot ? 2 : 1;
	if ((r = parse_key(p)) < 0)
		return r;
	if (p->pos >= p->len || p->s[p->pos] != ']' ||
	    (aot && (p->pos + 1 >= p->len || p->s[p->pos + 1] != ']')))
		return fail(p, p->pos, aot ? "expected ']]' to close the array-of-tables header"
					   : "expected ']' to close the table header");
	p->pos += aot ? 2 : 1;
	size_t hend = p->pos;

	uint32_t t = TOML_ROOT, n = NONE;
	for (size_t i = 0; i < p->nkeys; i++) {
		bool last = i + 1 == p->nkeys;
		uint32_t c = lookup_seg(p, t, i);
		struct tnode *cn = c == NONE ? NULL : &d->nodes[c];
		if (!last) {
			if (!cn) {
				if ((r = new_keyed(p, t, i, TOML_TABLE, TOML_FORM_IMPLICIT, &c)) < 0)
					return r;
				t = c;
				continue;
			}
			if (cn->type == TOML_TABLE && (cn->flags & F_FROZEN))
				return fail(p, p->keys[i].start, "%s is an inline table and cannot be extended by a header",
					    seg_name(p, i, name));
			if (cn->type == TOML_ARRAY && cn->form == TOML_FORM_AOT)
				t = cn->last;
			else if (cn->type == TOML_TABLE)
				t = c;
			else
				return fail(p, p->keys[i].start, "%s already holds a value, not a table",
					    seg_name(p, i, name));
			if ((r = add_seg(p, c, i)) < 0)
				return r;
			continue;
		}
		if (aot) {
			uint32_t a = c;
			if (!cn) {
				if ((r = new_keyed(p, t, i, TOML_ARRAY, TOML_FORM_AOT, &a)) < 0)
					return r;
				d->nodes[a].flags |= F_EXPLICIT;
			} else if (cn->type == TOML_ARRAY && cn->form == TOML_FORM_AOT) {
				if ((r = add_seg(p, a, i)) < 0)
					return r;
			} else {
				return fail(p, p->keys[i].start,
					    "%s is already defined as %s %s; it cannot also be an array of tables",
					    seg_name(p, i, name), cn->type == TOML_TABLE ? "a" : "an",
					    cn->type == TOML_TABLE ? "table" : toml_type_name((toml_type)cn->type));
			}
			if ((r = doc_new_node(d, a, TOML_TABLE, TOML_FORM_ENTRY, &n)) < 0)
				return r;
		} else if (!cn) {
			if ((r = new_keyed(p, t, i, TOML_TABLE, TOML_FORM_HEADER, &n)) < 0)
				return r;
		} else if (cn->type == TOML_TABLE && cn->form == TOML_FORM_IMPLICIT) {
			cn->form = TOML_FORM_HEADER;
			n = c;
			if ((r = add_seg(p, c, i)) < 0)
				return r;
		} else {
			return fail(p, p->keys[i].start, "%s is already defined%s", seg_name(p, i, name),
				    cn->type != TOML_TABLE ? " as a value"
				    : cn->form == TOML_FORM_DOTTED ? " by dotted keys" : "; a table can be defined only once");
		}
	}
	struct tnode *nd = &d->nodes[n];
	nd->flags |= F_EXPLICIT;
	nd->vstart = (uint32_t)hstart;
	nd->vend = (uint32_t)hend;
	nd->lstart = region;
	nd->home = n;
	nd->last_kv = NONE;
	if ((r = end_of_line(p, "the table header")) < 0)
		return r;
	nd = &d->nodes[n];
	nd->lend = (uint32_t)p->pos;
	nd->content_end = (uint32_t)p->pos;
	nd->sect_end = (uint32_t)p->len;
	p->sect = n;
	p->sect_id = ++p->next_id;
	return add_header(d, n);
}

static void finish(toml_doc *d)
{
	struct tnode *nodes = d->nodes;
	nodes[TOML_ROOT].lstart = 0;
	nodes[TOML_ROOT].lend = d->bom;
	if (nodes[TOML_ROOT].content_end == NONE)
		nodes[TOML_ROOT].content_end = d->bom;
	if (nodes[TOML_ROOT].sect_end == NONE)
		nodes[TOML_ROOT].sect_end = d->len;
	for (uint32_t i = 0; i < d->nnodes; i++) {
		struct tnode *n = &nodes[i];
		n->block_end = 0;
		if (n->type != TOML_TABLE)
			continue;
		if (n->form == TOML_FORM_ROOT || n->form == TOML_FORM_HEADER || n->form == TOML_FORM_ENTRY)
			n->block_end = n->content_end;
		else if (n->form == TOML_FORM_DOTTED && n->home != NONE &&
			 nodes[n->home].form != TOML_FORM_INLINE)
			n->block_end = nodes[n->home].content_end;
	}
	for (uint32_t i = d->nnodes; i-- > 1;) {
		struct tnode *n = &nodes[i];
		if (n->type == TOML_TABLE || n->form == TOML_FORM_AOT) {
			struct tnode *par = &nodes[n->parent];
			if (n->block_end > par->block_end)
				par->block_end = n->block_end;
		}
	}
}

/* Arrays grew by doubling; a document lives long, so give back the
 * unused half. */
static void shrink(toml_doc *d)
{
	struct tnode *n = realloc(d->nodes, sizeof(*n) * (d->nnodes ? d->nnodes : 1));
	if (n) {
		d->nodes = n;
		d->cap = d->nnodes ? d->nnodes : 1;
	}
	struct seg *s = realloc(d->segs, sizeof(*s) * (d->nsegs ? d->nsegs : 1));
	if (s) {
		d->segs = s;
		d->segs_cap = d->nsegs ? d->nsegs : 1;
	}
}

int parse_into(toml_doc *d, toml_error *err)
{
	struct parser p = {.d = d, .s = d->text, .len = d->len, .err = err, .run_start = NONE};
	uint32_t root;
	int r;

	if (err) {
		err->line = err->col = 0;
		err->msg[0] = '\0';
	}
	if (d->len >= 3 && !memcmp(d->text, "\xef\xbb\xbf", 3))
		d->bom = 3;
	const char *nl = memchr(d->text, '\n', d->len);
	d->crlf = nl && nl > d->text && nl[-1] == '\r';
	/* a key every ~24 bytes is typical of config files; sizing up front
	 * spares the rehashes */
	if ((r = doc_hash_reserve(d, d->len / 24)) < 0 ||
	    (r = doc_new_node(d, NONE, TOML_TABLE, TOML_FORM_ROOT, &root)) < 0)
		return r;
	d->nodes[root].home = root;
	/* never NULL, so that an empty key is a pointer plus zero */
	if ((r = buf_reserve(&p.kb, 64)) < 0)
		return r;
	p.pos = d->bom;
	p.sect = root;
	p.sect_id = p.next_id = 1;

	while (p.pos < p.len) {
		size_t line_start = p.pos;
		skip_ws(&p);
		if (p.pos >= p.len)
			break;
		char c = p.s[p.pos];
		if (c == '#') {
			if ((r = comment(&p)) < 0 || (r = end_of_line(&p, "a comment")) < 0)
				goto out;
			if (p.run_start == NONE)
				p.run_start = (uint32_t)line_start;
			continue;
		}
		if (at_newline(&p)) {
			eat_newline(&p);
			p.run_start = NONE;
			continue;
		}
		r = c == '[' ? header(&p, line_start) : keyval(&p, line_start);
		if (r < 0)
			goto out;
		p.run_start = NONE;
	}
	finish(d);
	shrink(d);
	r = 0;
out:
	buf_free(&p.kb);
	if (r == -ENOMEM)
		set_error(err, NULL, 0, 0, "out of memory");
	return r;
}
