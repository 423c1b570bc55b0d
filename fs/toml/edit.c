/* SPDX-License-Identifier: MIT */
/*
 * Edits. Every edit is a few splices of new bytes over the edited item's
 * span, followed by a full reparse: the new text either parses (and becomes
 * the document) or the edit fails and the document is untouched. The
 * reparse is the safety net that makes "no value can change the structure"
 * checkable rather than hoped for; the encoders in value.c are what make it
 * hold.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct splice {
	size_t start, end;
	const char *text;
	size_t len;
};

static int cmp_splice(const void *a, const void *b)
{
	const struct splice *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int apply(toml_doc *d, struct splice *sp, size_t n, toml_error *err)
{
	if (n > 1)
		qsort(sp, n, sizeof(*sp), cmp_splice);
	size_t newlen = d->len;
	for (size_t i = 0; i < n; i++) {
		if (sp[i].end < sp[i].start || sp[i].end > d->len || (i && sp[i].start < sp[i - 1].end))
			return -EINVAL;
		newlen = newlen - (sp[i].end - sp[i].start) + sp[i].len;
	}
	char *t = malloc(newlen + 1);
	if (!t)
		return -ENOMEM;
	size_t o = 0, at = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(t + o, d->text + at, sp[i].start - at);
		o += sp[i].start - at;
		if (sp[i].len)
			memcpy(t + o, sp[i].text, sp[i].len);
		o += sp[i].len;
		at = sp[i].end;
	}
	memcpy(t + o, d->text + at, d->len - at);
	toml_doc *nd;
	toml_error perr;
	int r = toml_parse(t, newlen, &nd, &perr);
	free(t);
	if (r < 0) {
		if (r != -ENOMEM)
			set_error(err, NULL, 0, 0, "the edit would leave invalid TOML (line %d: %s)", perr.line,
				  perr.msg);
		return r == -ENOMEM ? r : -EINVAL;
	}
	/* the journal: each splice where it lands once those before it
	 * are made */
	int64_t moved = 0;
	size_t len = d->len;
	uint32_t had = d->j.n;
	for (size_t i = 0; i < n && d->j.on; i++) {
		size_t start = (size_t)((int64_t)sp[i].start + moved), rem = sp[i].end - sp[i].start;
		len = len - rem + sp[i].len;
		/* the removed bytes are read from the old text at its own
		 * offset: record with the unmoved start, then move it */
		if ((r = doc_journal(d, sp[i].start, rem, sp[i].len, len)) < 0) {
			while (d->j.n > had)
				free(d->j.v[--d->j.n].removed); /* the edit is not made */
			toml_free(nd);
			return r;
		}
		d->j.v[d->j.n - 1].start = (uint32_t)start;
		moved += (int64_t)sp[i].len - (int64_t)rem;
	}
	uint64_t version = d->version, shape = d->shape;
	struct journal j = d->j;
	doc_clear(d);
	free(d->text);
	*d = *nd;
	d->j = j;
	d->version = version + 1;
	d->shape = shape + 1;
	free(nd);
	return 0;
}

static bool has_line_break(const char *s, size_t len)
{
	return memchr(s, '\n', len) || memchr(s, '\r', len);
}

static void shift(uint32_t *off, uint32_t from, int64_t delta)
{
	if (*off != NONE && *off >= from)
		*off = (uint32_t)((int64_t)*off + delta);
}

/*
 * The common edit — one scalar replaced by another on the same line —
 * without a reparse: splice the bytes and move every offset after them.
 * A reparse of the result would build exactly these nodes: a scalar's
 * node depends only on its own token (scanned here with the parser's own
 * scanners, so what is accepted is what the parser accepts), a token ends
 * where the old one did (what follows a value in valid TOML, white space,
 * '#', ',', ']', '}' or a line break, cannot continue any token), and no
 * line break moves, so the document's line-ending style stays. Returns 1
 * when the edit is not of that kind; the caller then reparses.
 * tests/unit/test_edit.c checks the result against a full parse.
 */
static int splice_scalar(toml_doc *d, uint32_t n, const char *s, size_t len)
{
	struct tnode *nd = &d->nodes[n];
	size_t start = nd->vstart, end = nd->vend, tok;
	toml_type type;
	toml_form form;
	struct scan_err e;
	int r;
	/* an array or inline table has nodes inside its span */
	if (nd->type == TOML_ARRAY || nd->type == TOML_TABLE)
		return 1;
	if (!len || has_line_break(s, len) || has_line_break(d->text + start, end - start))
		return 1;
	if (s[0] == '"' || s[0] == '\'') {
		type = TOML_STRING;
		r = scan_string(s, len, 0, &tok, &form, NULL, &e);
	} else {
		r = scan_bare_scalar(s, len, 0, &tok, &type, &form, &e);
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0 || tok != len)
		return 1;
	size_t newlen = d->len - (end - start) + len;
	if (newlen >= UINT32_MAX - 1)
		return 1;
	if (newlen > d->len) {
		char *t = realloc(d->text, newlen + 1);
		if (!t)
			return -ENOMEM;
		d->text = t;
	}
	if ((r = doc_journal(d, start, end - start, len, newlen)) < 0)
		return r;
	memmove(d->text + start + len, d->text + end, d->len - end + 1);
	memcpy(d->text + start, s, len);
	int64_t delta = (int64_t)len - (int64_t)(end - start);
	if (delta) {
		uint32_t from = (uint32_t)end;
		for (uint32_t i = 0; i < d->nnodes; i++) {
			struct tnode *x = &d->nodes[i];
			shift(&x->vstart, from, delta);
			shift(&x->vend, from, delta);
			shift(&x->lstart, from, delta);
			shift(&x->lend, from, delta);
			shift(&x->sect_end, from, delta);
			shift(&x->content_end, from, delta);
			shift(&x->block_end, from, delta);
		}
		for (uint32_t i = 0; i < d->nsegs; i++) {
			shift(&d->segs[i].start, from, delta);
			shift(&d->segs[i].end, from, delta);
		}
	}
	d->len = (uint32_t)newlen;
	nd->type = (uint8_t)type;
	nd->form = (uint8_t)form;
	nd->flags &= (uint8_t)~F_BLANK_AFTER_OPEN;
	d->version++;
	return 0;
}

static int apply1(toml_doc *d, size_t start, size_t end, const struct buf *b, toml_error *err)
{
	struct splice s = {start, end, b->p, b->len};
	return apply(d, &s, 1, err);
}

static bool valid_node(const toml_doc *d, uint32_t n)
{
	return n < d->nnodes;
}

/* The blanks that start the line holding `off`. */
static void line_indent(const toml_doc *d, size_t off, const char **s, size_t *n)
{
	size_t ls = off;
	while (ls > 0 && d->text[ls - 1] != '\n')
		ls--;
	size_t e = ls;
	while (e < d->len && (d->text[e] == ' ' || d->text[e] == '\t'))
		e++;
	*s = d->text + ls;
	*n = e - ls;
}

static int add_key(struct buf *b, const toml_doc *d, uint32_t n)
{
	return encode_key(b, d->keys + d->nodes[n].key_off, d->nodes[n].key_len);
}

/* Keys from `home` (exclusive) down to t, each followed by a dot. */
static int rel_path(struct buf *b, const toml_doc *d, uint32_t home, uint32_t t)
{
	uint32_t chain[TOML_MAX_KEYS + 1];
	size_t n = 0;
	for (uint32_t x = t; x != home; x = d->nodes[x].parent) {
		if (x == NONE || n == TOML_MAX_KEYS)
			return -EINVAL;
		chain[n++] = x;
	}
	while (n--) {
		int r = add_key(b, d, chain[n]);
		if (r < 0 || (r = buf_addc(b, '.')) < 0)
			return r;
	}
	return 0;
}

/* The full dotted name of table t as a header spells it (entries of an
 * array of tables are named by their array). Empty for the root. */
static int header_path(struct buf *b, const toml_doc *d, uint32_t t)
{
	uint32_t chain[2 * TOML_MAX_KEYS + 2];
	size_t n = 0;
	for (uint32_t x = t; x != TOML_ROOT; x = d->nodes[x].parent) {
		if (x == NONE || n == sizeof(chain) / sizeof(chain[0]))
			return -EINVAL;
		const struct tnode *xn = &d->nodes[x];
		if (xn->form == TOML_FORM_ENTRY)
			continue;
		if (xn->form == TOML_FORM_INLINE || xn->form == TOML_FORM_ARRAY)
			return -EINVAL;
		chain[n++] = x;
	}
	for (size_t i = n; i--;) {
		int r = add_key(b, d, chain[i]);
		if (r < 0 || (i && (r = buf_addc(b, '.')) < 0))
			return r;
	}
	return 0;
}

/* The inline table whose braces hold t's keys, or NONE. */
static uint32_t inline_home(const toml_doc *d, uint32_t t)
{
	const struct tnode *n = &d->nodes[t];
	if (n->form == TOML_FORM_INLINE)
		return t;
	if (n->form == TOML_FORM_DOTTED && n->home != NONE &&
	    d->nodes[n->home].form == TOML_FORM_INLINE)
		return n->home;
	return NONE;
}

/* A byte per node: 1 if it is n or below n. Parents come before their
 * children in the array, so one forward pass is enough. */
static unsigned char *subtree_marks(const toml_doc *d, uint32_t n)
{
	unsigned char *m = calloc(d->nnodes, 1);
	if (!m)
		return NULL;
	m[n] = 1;
	for (uint32_t i = n + 1; i < d->nnodes; i++)
		m[i] = m[d->nodes[i].parent];
	return m;
}

static bool prev_line_blank(const toml_doc *d, size_t pos)
{
	/* pos is at a line start; is the line before it empty? */
	if (pos < 1 || d->text[pos - 1] != '\n')
		return false;
	size_t i = pos - 1;
	if (i > 0 && d->text[i - 1] == '\r')
		i--;
	while (i > 0 && (d->text[i - 1] == ' ' || d->text[i - 1] == '\t'))
		i--;
	return i == 0 || d->text[i - 1] == '\n';
}

static int check_new_key(const toml_doc *d, uint32_t t, const char *key, size_t klen,
			 toml_error *err)
{
	if (!valid_node(d, t))
		return -ENOENT;
	if (d->nodes[t].type != TOML_TABLE) {
		set_error(err, NULL, 0, 0, "not a table");
		return -ENOTDIR;
	}
	if (doc_lookup(d, t, key, klen) != NONE) {
		set_error(err, NULL, 0, 0, "the key already exists");
		return -EEXIST;
	}
	return 0;
}

/* A table of the same name elsewhere (the same [runners.docker] in
 * another runner) that has keys: new keys are indented like its. */
static uint32_t peer_with_keys(const toml_doc *d, uint32_t t)
{
	struct buf mine = BUF_INIT, other = BUF_INIT;
	uint32_t found = NONE;
	if (header_path(&mine, d, t) < 0)
		goto out;
	for (uint32_t i = d->nheaders; i-- > 0 && found == NONE;) {
		uint32_t h = d->headers[i];
		if (h == t || d->nodes[h].last_kv == NONE || d->nodes[h].form != d->nodes[t].form)
			continue;
		buf_reset(&other);
		if (header_path(&other, d, h) == 0 && other.len == mine.len &&
		    (!mine.len || !memcmp(other.p, mine.p, mine.len)))
			found = h;
	}
out:
	buf_free(&mine);
	buf_free(&other);
	return found;
}

/* Add `key = <val>` to table t; val is TOML text already checked. */
static int insert_text(toml_doc *d, uint32_t t, const char *key, size_t klen,
		       const char *val, size_t vlen, toml_error *err)
{
	int r = check_new_key(d, t, key, klen, err);
	if (r < 0)
		return r;
	const struct tnode *tn = &d->nodes[t];
	const char *eol = toml_eol(d);
	struct buf b = BUF_INIT, entry = BUF_INIT;
	size_t pos, end;
	uint32_t c = inline_home(d, t);

	if (c != NONE) {
		const struct tnode *cn = &d->nodes[c];
		if ((r = rel_path(&entry, d, c, t)) < 0 || (r = encode_key(&entry, key, klen)) < 0 ||
		    (r = buf_adds(&entry, " = ")) < 0 || (r = buf_add(&entry, val, vlen)) < 0)
			goto out;
		if (cn->content_end == NONE) {
			/* empty braces: fill them */
			pos = cn->vstart + 1;
			end = cn->vend - 1;
			r = buf_addc(&b, ' ');
			if (r >= 0)
				r = buf_add(&b, entry.p, entry.len);
			if (r >= 0)
				r = buf_addc(&b, ' ');
		} else {
			pos = end = cn->content_end;
			r = buf_adds(&b, ", ");
			if (r >= 0)
				r = buf_add(&b, entry.p, entry.len);
		}
		if (r >= 0)
			r = apply1(d, pos, end, &b, err);
		goto out;
	}

	bool blank_after = false;
	const char *ind = "";
	size_t nind = 0;
	if (tn->form == TOML_FORM_IMPLICIT) {
		/* No header of its own yet: give it one, just above the first
		 * header below it (which keeps it inside the right [[entry]]). */
		uint32_t first = NONE;
		for (uint32_t i = 0; i < d->nheaders && first == NONE; i++)
			for (uint32_t x = d->headers[i]; x != NONE && x >= t; x = d->nodes[x].parent)
				if (x == t) {
					first = d->headers[i];
					break;
				}
		if (first == NONE) {
			r = -EINVAL;
			goto out;
		}
		pos = d->nodes[first].lstart;
		if ((r = buf_addc(&b, '[')) < 0 || (r = header_path(&b, d, t)) < 0 ||
		    (r = buf_addc(&b, ']')) < 0 || (r = buf_adds(&b, eol)) < 0)
			goto out;
		blank_after = true;
	} else if (tn->form == TOML_FORM_ROOT || tn->form == TOML_FORM_HEADER ||
		   tn->form == TOML_FORM_ENTRY || tn->form == TOML_FORM_DOTTED) {
		uint32_t home = tn->form == TOML_FORM_DOTTED ? tn->home : t;
		if (tn->last_kv != NONE) {
			pos = d->nodes[tn->last_kv].lend;
			line_indent(d, d->nodes[tn->last_kv].lstart, &ind, &nind);
		} else if (tn->form == TOML_FORM_ROOT) {
			pos = tn->sect_end;
			blank_after = pos < d->len;
		} else {
			pos = tn->lend;
			uint32_t peer = peer_with_keys(d, t);
			if (peer != NONE)
				line_indent(d, d->nodes[d->nodes[peer].last_kv].lstart, &ind, &nind);
			else
				line_indent(d, tn->vstart, &ind, &nind);
		}
		if (pos > 0 && d->text[pos - 1] != '\n' && (r = buf_adds(&b, eol)) < 0)
			goto out;
		if ((r = buf_add(&b, ind, nind)) < 0 || (r = rel_path(&b, d, home, t)) < 0)
			goto out;
	} else {
		r = -ENOTDIR;
		goto out;
	}
	/* a file without a final line break stays without one */
	bool last_line = pos == d->len && d->len > 0 && d->text[d->len - 1] != '\n';
	if ((r = encode_key(&b, key, klen)) < 0 || (r = buf_adds(&b, " = ")) < 0 ||
	    (r = buf_add(&b, val, vlen)) < 0 || (!last_line && (r = buf_adds(&b, eol)) < 0) ||
	    (blank_after && (r = buf_adds(&b, eol)) < 0))
		goto out;
	r = apply1(d, pos, pos, &b, err);
out:
	if (r == -EINVAL && err && !err->msg[0])
		set_error(err, NULL, 0, 0, "the key cannot be written there");
	buf_free(&b);
	buf_free(&entry);
	return r;
}

/* ---- arrays ---- */

struct item {
	uint32_t old; /* element to keep, or NONE */
	const char *text;
	size_t len;
};

static size_t skip_blank(const toml_doc *d, size_t i)
{
	while (i < d->len && (d->text[i] == ' ' || d->text[i] == '\t'))
		i++;
	return i;
}

/* After element value end `ve`: blanks, an optional comma, blanks, an
 * optional comment and the line break, if the line ends there. Sets
 * *comma. Returns the end of that tail. */
static size_t elem_tail(const toml_doc *d, size_t ve, bool *comma, bool *newline)
{
	size_t i = skip_blank(d, ve);
	*comma = false;
	*newline = false;
	if (i < d->len && d->text[i] == ',') {
		*comma = true;
		i = skip_blank(d, i + 1);
	}
	size_t j = i;
	if (j < d->len && d->text[j] == '#')
		while (j < d->len && d->text[j] != '\n')
			j++;
	if (j < d->len && d->text[j] == '\n') {
		*newline = true;
		return j + 1;
	}
	if (j + 1 < d->len && d->text[j] == '\r' && d->text[j + 1] == '\n') {
		*newline = true;
		return j + 2;
	}
	return *comma ? i : ve;
}

static bool has_newline(const toml_doc *d, size_t a, size_t b)
{
	return b > a && memchr(d->text + a, '\n', b - a);
}

/* Are items the old elements in order, some of them left out? */
static bool removal_only(const struct item *items, size_t count)
{
	for (size_t j = 0; j < count; j++)
		if (items[j].old == NONE || (j && items[j].old <= items[j - 1].old))
			return false;
	return true;
}

/* Remove the elements not in items: each run of removed elements goes
 * with the separator after it, or before it when it is last. */
static int remove_runs(toml_doc *d, const struct tnode *an, const uint32_t *el, uint32_t m,
		       const struct item *items, size_t count, toml_error *err)
{
	bool *keep = calloc(m, sizeof(*keep));
	struct splice *sp = malloc(sizeof(*sp) * m);
	int r = -ENOMEM;
	if (!keep || !sp)
		goto out;
	for (size_t j = 0; j < count; j++)
		keep[items[j].old] = true;
	size_t n = 0;
	for (uint32_t i = 0; i < m;) {
		if (keep[i]) {
			i++;
			continue;
		}
		uint32_t a = i;
		while (i < m && !keep[i])
			i++;
		uint32_t b = i - 1;
		if (i < m)
			sp[n++] = (struct splice){d->nodes[el[a]].vstart, d->nodes[el[i]].vstart, "", 0};
		else if (a > 0)
			sp[n++] = (struct splice){d->nodes[el[a - 1]].vend, d->nodes[el[b]].vend, "", 0};
		else
			sp[n++] = (struct splice){an->vstart + 1, an->vend - 1, "", 0};
	}
	r = apply(d, sp, n, err);
out:
	free(keep);
	free(sp);
	return r;
}

/* Rewrite the elements of array a as `items`, keeping the text (and, in
 * arrays with one element per line, the comments) of the kept ones. */
static int array_rewrite(toml_doc *d, uint32_t a, const struct item *items, size_t count,
			 toml_error *err)
{
	const struct tnode *an = &d->nodes[a];
	const char *eol = toml_eol(d);
	uint32_t m = an->count;
	struct buf b = BUF_INIT;
	int r = 0;
	size_t start, end;

	uint32_t *el = malloc(sizeof(*el) * (m ? m : 1));
	if (!el)
		return -ENOMEM;
	size_t k = 0;
	for (uint32_t c = an->first; c != NONE; c = d->nodes[c].next)
		el[k++] = c;

	bool own_lines = m > 0;
	for (uint32_t i = 0; i < m && own_lines; i++) {
		size_t from = i ? d->nodes[el[i - 1]].vend : an->vstart;
		own_lines = has_newline(d, from, d->nodes[el[i]].vstart);
	}
	for (size_t j = 1; j < count && own_lines; j++)
		if (items[j].old != NONE && items[j - 1].old != NONE && items[j].old <= items[j - 1].old)
			own_lines = false;

	if (own_lines) {
		/* one element per line: work in whole lines */
		const char *ind;
		size_t nind;
		line_indent(d, d->nodes[el[0]].vstart, &ind, &nind);
		size_t ls0 = d->nodes[el[0]].vstart - nind;
		bool comma, nl, trailing;
		elem_tail(d, d->nodes[el[m - 1]].vend, &trailing, &nl);
		start = ls0;
		end = 0;
		size_t *ls = malloc(sizeof(*ls) * (m + 1));
		if (!ls) {
			free(el);
			return -ENOMEM;
		}
		ls[0] = ls0;
		for (uint32_t i = 0; i < m; i++)
			ls[i + 1] = elem_tail(d, d->nodes[el[i]].vend, &comma, &nl);
		end = ls[m];
		for (size_t j = 0; j < count && r >= 0; j++) {
			bool last = j + 1 == count;
			if (items[j].old != NONE) {
				uint32_t i = items[j].old;
				const struct tnode *e = &d->nodes[el[i]];
				size_t te = elem_tail(d, e->vend, &comma, &nl);
				r = buf_add(&b, d->text + ls[i], e->vend - ls[i]);
				if (r >= 0 && !comma && !last)
					r = buf_addc(&b, ',');
				if (r >= 0)
					r = buf_add(&b, d->text + e->vend, te - e->vend);
				if (r >= 0 && !nl && !last)
					r = buf_adds(&b, eol);
			} else {
				if ((r = buf_add(&b, ind, nind)) >= 0 &&
				    (r = buf_add(&b, items[j].text, items[j].len)) >= 0 &&
				    (!last || trailing))
					r = buf_addc(&b, ',');
				if (r >= 0)
					r = buf_adds(&b, eol);
			}
		}
		free(ls);
	} else if (m > 0 && count < m && removal_only(items, count)) {
		/* elements share lines: take out each removed run with one
		 * separator, so comments and spacing elsewhere stay */
		r = remove_runs(d, an, el, m, items, count, err);
		free(el);
		buf_free(&b);
		return r;
	} else if (m == 0 && memchr(d->text + an->vstart, '#', an->vend - an->vstart) && count) {
		/* only comments inside: new elements go on lines before ']' */
		size_t close = an->vend - 1, ls = close;
		while (ls > an->vstart && (d->text[ls - 1] == ' ' || d->text[ls - 1] == '\t'))
			ls--;
		const char *ind;
		size_t nind;
		line_indent(d, an->vstart, &ind, &nind);
		start = end = ls;
		if (ls == an->vstart || d->text[ls - 1] != '\n')
			r = buf_adds(&b, eol);
		for (size_t j = 0; j < count && r >= 0; j++) {
			if ((r = buf_add(&b, ind, nind)) >= 0 && (r = buf_adds(&b, "  ")) >= 0 &&
			    (r = buf_add(&b, items[j].text, items[j].len)) >= 0 && (r = buf_addc(&b, ',')) >= 0)
				r = buf_adds(&b, eol);
		}
	} else if (m == 0) {
		start = an->vstart + 1;
		end = an->vend - 1;
		bool multi = has_newline(d, start, end);
		const char *ind;
		size_t nind;
		line_indent(d, an->vstart, &ind, &nind);
		if (multi && count)
			r = buf_adds(&b, eol);
		for (size_t j = 0; j < count && r >= 0; j++) {
			if (multi) {
				if ((r = buf_add(&b, ind, nind)) >= 0 && (r = buf_adds(&b, "  ")) >= 0 &&
				    (r = buf_add(&b, items[j].text, items[j].len)) >= 0 &&
				    (r = buf_addc(&b, ',')) >= 0)
					r = buf_adds(&b, eol);
			} else {
				if (j)
					r = buf_adds(&b, ", ");
				if (r >= 0)
					r = buf_add(&b, items[j].text, items[j].len);
			}
		}
		if (r >= 0 && !count)
			start = end; /* nothing to write: keep what is inside */
	} else {
		/* elements share lines: keep the separator style, rewrite the run */
		const char *sep = ", ";
		size_t nsep = 2;
		if (m >= 2) {
			size_t a0 = d->nodes[el[0]].vend, a1 = d->nodes[el[1]].vstart;
			if (!has_newline(d, a0, a1) && !memchr(d->text + a0, '#', a1 - a0)) {
				sep = d->text + a0;
				nsep = a1 - a0;
			}
		}
		start = d->nodes[el[0]].vstart;
		end = d->nodes[el[m - 1]].vend;
		if (!count && !has_newline(d, an->vstart, an->vend)) {
			start = an->vstart + 1; /* [] */
			end = an->vend - 1;
		} else if (!count) {
			bool comma, nl;
			size_t i = skip_blank(d, end);
			elem_tail(d, end, &comma, &nl);
			if (comma)
				end = i + 1;
		}
		for (size_t j = 0; j < count && r >= 0; j++) {
			if (j)
				r = buf_add(&b, sep, nsep);
			if (r >= 0 && items[j].old != NONE) {
				const struct tnode *e = &d->nodes[el[items[j].old]];
				r = buf_add(&b, d->text + e->vstart, e->vend - e->vstart);
			} else if (r >= 0) {
				r = buf_add(&b, items[j].text, items[j].len);
			}
		}
	}
	if (r >= 0)
		r = apply1(d, start, end, &b, err);
	buf_free(&b);
	free(el);
	return r;
}

static bool same_value(const toml_doc *d, uint32_t n, const toml_value *v)
{
	const struct tnode *e = &d->nodes[n];
	if (e->type != v->type)
		return false;
	switch (v->type) {
	case TOML_STRING: {
		char *s;
		size_t len;
		if (toml_get_string(d, n, &s, &len) < 0)
			return false;
		bool eq = len == v->len && (!len || !memcmp(s, v->str, len));
		free(s);
		return eq;
	}
	case TOML_INTEGER: {
		int64_t i;
		return toml_get_int(d, n, &i) == 0 && i == v->i;
	}
	case TOML_FLOAT: {
		double f;
		if (toml_get_float(d, n, &f) < 0)
			return false;
		return (isnan(f) && isnan(v->f)) || (f == v->f && signbit(f) == signbit(v->f));
	}
	case TOML_BOOL: {
		bool b;
		return toml_get_bool(d, n, &b) == 0 && b == v->b;
	}
	default:
		return e->vend - e->vstart == v->len && !memcmp(d->text + e->vstart, v->str, v->len);
	}
}

/* Encode vals into one buffer; offs[i] .. offs[i+1] is element i. */
static int encode_all(const toml_doc *d, const toml_value *vals, size_t count, toml_form hint,
		      struct buf *b, size_t *offs, toml_error *err)
{
	for (size_t i = 0; i < count; i++) {
		offs[i] = b->len;
		if (vals[i].type == TOML_ARRAY || vals[i].type == TOML_TABLE) {
			set_error(err, NULL, 0, 0, "an array element here must be a single value");
			return -EINVAL;
		}
		int r = encode_value(b, &vals[i], vals[i].type == TOML_STRING ? hint : TOML_FORM_PLAIN,
				     false, toml_eol(d), err);
		if (r < 0)
			return r;
	}
	offs[count] = b->len;
	return 0;
}

static toml_form string_style(const toml_doc *d, uint32_t a)
{
	for (uint32_t c = d->nodes[a].first; c != NONE; c = d->nodes[c].next)
		if (d->nodes[c].type == TOML_STRING &&
		    (d->nodes[c].form == TOML_FORM_BASIC || d->nodes[c].form == TOML_FORM_LITERAL))
			return (toml_form)d->nodes[c].form;
	return TOML_FORM_BASIC;
}

static int join_array(const struct buf *enc, const size_t *offs, size_t count, struct buf *out)
{
	int r = buf_addc(out, '[');
	for (size_t i = 0; i < count && r >= 0; i++) {
		if (i)
			r = buf_adds(out, ", ");
		if (r >= 0)
			r = buf_add(out, enc->p + offs[i], offs[i + 1] - offs[i]);
	}
	return r < 0 ? r : buf_addc(out, ']');
}

static bool has_value_span(const toml_doc *d, uint32_t n)
{
	const struct tnode *nd = &d->nodes[n];
	return n != TOML_ROOT && nd->vstart != NONE && nd->form != TOML_FORM_HEADER &&
	       nd->form != TOML_FORM_ENTRY;
}

int toml_set_array(toml_doc *d, uint32_t n, const toml_value *vals, size_t count,
		   toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	if (!valid_node(d, n))
		return -ENOENT;
	if (!has_value_span(d, n))
		return -EISDIR;
	const struct tnode *nd = &d->nodes[n];
	bool is_array = nd->type == TOML_ARRAY && nd->form == TOML_FORM_ARRAY;
	toml_form hint = is_array ? string_style(d, n) : TOML_FORM_BASIC;
	struct buf enc = BUF_INIT, out = BUF_INIT;
	size_t *offs = malloc(sizeof(*offs) * (count + 1));
	struct item *items = malloc(sizeof(*items) * (count ? count : 1));
	int r = -ENOMEM;
	if (!offs || !items)
		goto out;
	if ((r = encode_all(d, vals, count, hint, &enc, offs, err)) < 0)
		goto out;
	if (!is_array) {
		if ((r = join_array(&enc, offs, count, &out)) >= 0)
			r = apply1(d, nd->vstart, nd->vend, &out, err);
		goto out;
	}
	uint32_t m = nd->count;
	uint32_t *el = malloc(sizeof(*el) * (m ? m : 1));
	if (!el) {
		r = -ENOMEM;
		goto out;
	}
	size_t k = 0;
	for (uint32_t c = nd->first; c != NONE; c = d->nodes[c].next)
		el[k++] = c;
	size_t p = 0, s = 0;
	while (p < m && p < count && same_value(d, el[p], &vals[p]))
		p++;
	while (s < m - p && s < count - p && same_value(d, el[m - 1 - s], &vals[count - 1 - s]))
		s++;
	free(el);
	if (p == m && p == count) {
		r = 0; /* nothing changes */
		goto out;
	}
	for (size_t j = 0; j < count; j++) {
		items[j].text = enc.p + offs[j];
		items[j].len = offs[j + 1] - offs[j];
		items[j].old = j < p ? (uint32_t)j
			       : j >= count - s ? (uint32_t)(m - (count - j)) : NONE;
	}
	r = array_rewrite(d, n, items, count, err);
out:
	buf_free(&enc);
	buf_free(&out);
	free(offs);
	free(items);
	return r;
}

/* ---- scalars and raw values ---- */

int toml_set(toml_doc *d, uint32_t n, const toml_value *v, toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	if (!valid_node(d, n))
		return -ENOENT;
	if (!has_value_span(d, n))
		return -EISDIR;
	const struct tnode *nd = &d->nodes[n];
	/* the same value, however it is spelled in the file, is no change:
	 * writing back what was read leaves the bytes alone */
	if (nd->type != TOML_ARRAY && nd->type != TOML_TABLE && same_value(d, n, v))
		return 0;
	toml_form hint = TOML_FORM_PLAIN;
	if ((nd->type == TOML_STRING && v->type == TOML_STRING) ||
	    (nd->type == TOML_INTEGER && v->type == TOML_INTEGER))
		hint = (toml_form)nd->form;
	else if (v->type == TOML_STRING)
		hint = TOML_FORM_BASIC;
	struct buf b = BUF_INIT;
	int r = encode_value(&b, v, hint, nd->flags & F_BLANK_AFTER_OPEN, toml_eol(d), err);
	if (r >= 0 && hint == TOML_FORM_HEX && b.len > 2) {
		/* keep the case of the digits the file used */
		bool upper = false;
		for (uint32_t i = nd->vstart + 2; i < nd->vend; i++)
			upper |= d->text[i] >= 'A' && d->text[i] <= 'F';
		for (size_t i = 2; !upper && i < b.len; i++)
			if (b.p[i] >= 'A' && b.p[i] <= 'F')
				b.p[i] = (char)(b.p[i] - 'A' + 'a');
	}
	if (r >= 0 && (r = splice_scalar(d, n, b.p, b.len)) > 0)
		r = apply1(d, nd->vstart, nd->vend, &b, err);
	buf_free(&b);
	return r;
}

/* `text` must be exactly one TOML value. */
static int check_raw(const char *text, size_t len, size_t *s, size_t *e, toml_error *err)
{
	size_t a = 0, z = len;
	while (a < z && (text[a] == ' ' || text[a] == '\t' || text[a] == '\n' || text[a] == '\r'))
		a++;
	while (z > a && (text[z - 1] == ' ' || text[z - 1] == '\t' || text[z - 1] == '\n' ||
			 text[z - 1] == '\r'))
		z--;
	struct buf b = BUF_INIT;
	int r = buf_add(&b, "x = ", 4);
	if (r >= 0)
		r = buf_add(&b, text + a, z - a);
	if (r >= 0)
		r = buf_addc(&b, '\n');
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	toml_doc *d;
	toml_error perr;
	r = toml_parse(b.p, b.len, &d, &perr);
	if (r == 0) {
		uint32_t x = doc_lookup(d, TOML_ROOT, "x", 1);
		bool one = d->nodes[TOML_ROOT].count == 1 && x != NONE && d->nodes[x].vstart == 4 &&
			   d->nodes[x].vend == 4 + (z - a);
		toml_free(d);
		if (!one) {
			set_error(err, NULL, 0, 0, "the text is more than one TOML value");
			r = -EINVAL;
		}
	} else if (r != -ENOMEM) {
		set_error(err, NULL, 0, 0, "not a TOML value: %s", perr.msg);
		r = -EINVAL;
	}
	buf_free(&b);
	*s = a;
	*e = z;
	return r;
}

/* Raw TOML text in the document's line endings: a bare LF becomes CRLF in
 * a CRLF file (a line break inside a multi-line string reads the same
 * either way). */
static int raw_in_doc_eol(const toml_doc *d, const char *text, size_t len, struct buf *out)
{
	int r = 0;
	for (size_t i = 0; i < len && r >= 0; i++) {
		if (d->crlf && text[i] == '\n' && (i == 0 || text[i - 1] != '\r'))
			r = buf_addc(out, '\r');
		if (r >= 0)
			r = buf_addc(out, text[i]);
	}
	return r;
}

int toml_set_raw(toml_doc *d, uint32_t n, const char *text, size_t len, toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	if (!valid_node(d, n))
		return -ENOENT;
	if (!has_value_span(d, n))
		return -EISDIR;
	size_t a, z;
	int r = check_raw(text, len, &a, &z, err);
	if (r < 0)
		return r;
	struct buf b = BUF_INIT;
	if ((r = raw_in_doc_eol(d, text + a, z - a, &b)) == 0) {
		struct splice sp = {d->nodes[n].vstart, d->nodes[n].vend, b.p ? b.p : "", b.len};
		r = apply(d, &sp, 1, err);
	}
	buf_free(&b);
	return r;
}

int toml_insert(toml_doc *d, uint32_t t, const char *key, size_t klen, const toml_value *v,
		toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	struct buf b = BUF_INIT;
	int r = encode_value(&b, v, TOML_FORM_PLAIN, false, d->crlf ? "\r\n" : "\n", err);
	if (r >= 0)
		r = insert_text(d, t, key, klen, b.p, b.len, err);
	buf_free(&b);
	return r;
}

int toml_insert_array(toml_doc *d, uint32_t t, const char *key, size_t klen,
		      const toml_value *vals, size_t count, toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	struct buf enc = BUF_INIT, out = BUF_INIT;
	size_t *offs = malloc(sizeof(*offs) * (count + 1));
	int r = -ENOMEM;
	if (offs && (r = encode_all(d, vals, count, TOML_FORM_BASIC, &enc, offs, err)) >= 0 &&
	    (r = join_array(&enc, offs, count, &out)) >= 0)
		r = insert_text(d, t, key, klen, out.p, out.len, err);
	free(offs);
	buf_free(&enc);
	buf_free(&out);
	return r;
}

int toml_insert_raw(toml_doc *d, uint32_t t, const char *key, size_t klen, const char *text,
		    size_t len, toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	size_t a, z;
	int r = check_raw(text, len, &a, &z, err);
	if (r < 0)
		return r;
	struct buf b = BUF_INIT;
	if ((r = raw_in_doc_eol(d, text + a, z - a, &b)) == 0)
		r = insert_text(d, t, key, klen, b.p ? b.p : "", b.len, err);
	buf_free(&b);
	return r;
}

/* ---- tables ---- */

/* How many keys a header names: [a] 1, [a.b] 2 (entries count as their
 * array). */
static int header_depth(const toml_doc *d, uint32_t t)
{
	int depth = 0;
	for (uint32_t x = t; x != TOML_ROOT && x != NONE; x = d->nodes[x].parent)
		depth += d->nodes[x].form != TOML_FORM_ENTRY;
	return depth;
}

/* Does this file set headers like the new one apart with a blank line?
 * Files differ (the runner itself writes a blank line before top-level
 * tables only), so copy the nearest header of the same depth; with no
 * such header, set only top-level tables apart. */
static bool headers_spaced(const toml_doc *d, size_t pos, int depth, uint32_t *like)
{
	uint32_t before = NONE, after = NONE;
	for (uint32_t i = 0; i < d->nheaders; i++) {
		uint32_t h = d->headers[i];
		if (d->nodes[h].lstart == d->bom || header_depth(d, h) != depth)
			continue;
		if (d->nodes[h].lstart < pos)
			before = h;
		else if (after == NONE)
			after = h;
	}
	uint32_t h = before != NONE ? before : after;
	*like = h;
	return h == NONE ? depth == 1 : prev_line_blank(d, d->nodes[h].lstart);
}

/* A new [header] (or [[header]]) for key under t, at pos. */
static int header_insert(toml_doc *d, uint32_t t, const char *key, size_t klen, bool aot,
			 size_t pos, toml_error *err)
{
	const char *eol = toml_eol(d);
	uint32_t like;
	bool spaced = headers_spaced(d, pos, header_depth(d, t) + 1, &like);
	struct buf b = BUF_INIT;
	int r = 0;
	if (pos > 0 && d->text[pos - 1] != '\n')
		r = buf_adds(&b, eol);
	if (r >= 0 && spaced && pos > d->bom && !prev_line_blank(d, pos))
		r = buf_adds(&b, eol);
	if (r >= 0 && like != NONE) { /* indented like its peers */
		const char *ind;
		size_t nind;
		line_indent(d, d->nodes[like].vstart, &ind, &nind);
		r = buf_add(&b, ind, nind);
	} else if (r >= 0 && t != TOML_ROOT && d->nodes[t].last_kv != NONE) {
		/* no peer: a level deeper, like the parent's keys (the runner
		 * indents each level two spaces) */
		const char *ind;
		size_t nind;
		line_indent(d, d->nodes[d->nodes[t].last_kv].lstart, &ind, &nind);
		r = buf_add(&b, ind, nind);
	}
	if (r >= 0)
		r = buf_adds(&b, aot ? "[[" : "[");
	if (r >= 0 && t != TOML_ROOT && (r = header_path(&b, d, t)) >= 0)
		r = buf_addc(&b, '.');
	if (r >= 0)
		r = encode_key(&b, key, klen);
	if (r >= 0)
		r = buf_adds(&b, aot ? "]]" : "]");
	if (r >= 0)
		r = buf_adds(&b, eol);
	/* keep the block that follows apart, as the file does */
	if (r >= 0 && spaced && pos < d->len && d->text[pos] != '\n' && d->text[pos] != '\r')
		r = buf_adds(&b, eol);
	if (r >= 0)
		r = apply1(d, pos, pos, &b, err);
	buf_free(&b);
	return r;
}

static size_t block_end(const toml_doc *d, uint32_t t)
{
	return t == TOML_ROOT ? d->len : d->nodes[t].block_end;
}

int toml_add_table(toml_doc *d, uint32_t t, const char *key, size_t klen, toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	int r = check_new_key(d, t, key, klen, err);
	if (r < 0)
		return r;
	if (inline_home(d, t) != NONE)
		return insert_text(d, t, key, klen, "{}", 2, err);
	return header_insert(d, t, key, klen, false, block_end(d, t), err);
}

int toml_append_entry(toml_doc *d, uint32_t t, const char *key, size_t klen, toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	if (!valid_node(d, t))
		return -ENOENT;
	if (d->nodes[t].type != TOML_TABLE)
		return -ENOTDIR;
	uint32_t a = doc_lookup(d, t, key, klen);
	if (a == NONE) {
		if (inline_home(d, t) != NONE)
			return insert_text(d, t, key, klen, "[{}]", 4, err);
		return header_insert(d, t, key, klen, true, block_end(d, t), err);
	}
	const struct tnode *an = &d->nodes[a];
	if (an->form == TOML_FORM_AOT)
		return header_insert(d, t, key, klen, true, an->block_end, err);
	if (an->form == TOML_FORM_ARRAY) {
		uint32_t m = an->count;
		struct item *items = malloc(sizeof(*items) * (m + 1));
		if (!items)
			return -ENOMEM;
		for (uint32_t i = 0; i < m; i++)
			items[i] = (struct item){i, NULL, 0};
		items[m] = (struct item){NONE, "{}", 2};
		int r = array_rewrite(d, a, items, m + 1, err);
		free(items);
		return r;
	}
	set_error(err, NULL, 0, 0, "the key already holds a value that is not an array of tables");
	return -EEXIST;
}

int toml_add_table_before(toml_doc *d, uint32_t t, const char *key, size_t klen, bool aot,
			  uint32_t before, toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	uint32_t at = before;
	if (valid_node(d, before) && d->nodes[before].form == TOML_FORM_AOT)
		at = d->nodes[before].first; /* its first [[entry]] */
	bool header = valid_node(d, at) && d->nodes[before].parent == t &&
		      (d->nodes[at].form == TOML_FORM_HEADER || d->nodes[at].form == TOML_FORM_ENTRY);
	if (!header || inline_home(d, t) != NONE || (aot && doc_lookup(d, t, key, klen) != NONE))
		return aot ? toml_append_entry(d, t, key, klen, err) : toml_add_table(d, t, key, klen, err);
	if (!aot) {
		int r = check_new_key(d, t, key, klen, err);
		if (r < 0)
			return r;
	}
	return header_insert(d, t, key, klen, aot, d->nodes[at].lstart, err);
}

struct span {
	size_t s, e;
	bool gone;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s;
}

static int push_span(struct span **v, size_t *k, size_t *cap, struct span s)
{
	if (*k == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct span *nv = realloc(*v, sizeof(**v) * nc);
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*k)++] = s;
	return 0;
}

/* Is the line starting at pos blank? */
static bool line_blank_at(const toml_doc *d, size_t pos)
{
	size_t i = pos;
	while (i < d->len && (d->text[i] == ' ' || d->text[i] == '\t' || d->text[i] == '\r'))
		i++;
	return i < d->len && d->text[i] == '\n';
}

static size_t next_line(const toml_doc *d, size_t pos)
{
	const char *nl = memchr(d->text + pos, '\n', d->len - pos);
	return nl ? (size_t)(nl - d->text) + 1 : d->len;
}

static size_t line_before(const toml_doc *d, size_t pos)
{
	size_t i = pos - 1; /* pos is a line start and text[pos - 1] is '\n' */
	while (i > 0 && d->text[i - 1] != '\n')
		i--;
	return i;
}

/* Removing whole sections [s, e) (a header, its comments above, its
 * body, up to the next header's comments): the blank lines that set them
 * apart from what follows stay, unless there were blank lines above too
 * (no blank line doubles); at the end of the file the blank lines above
 * go instead. */
static struct span section_span(const toml_doc *d, size_t s, size_t e)
{
	bool blank_above = s == d->bom || prev_line_blank(d, s);
	if (!blank_above) {
		while (e > s && prev_line_blank(d, e))
			e = line_before(d, e);
	} else if (e == d->len) {
		while (s > d->bom && prev_line_blank(d, s))
			s = line_before(d, s);
	} else {
		/* blank lines above and below: one of them goes */
		while (e < d->len && line_blank_at(d, e))
			e = next_line(d, e);
	}
	return (struct span){s, e, true};
}

/* Where removing the section of header x ends: the next header's
 * comments, or — for the last section of the file — the end of its
 * content, so that comments closing the file stay (a table added at the
 * end and removed again leaves the file as it was). */
static size_t section_end(const toml_doc *d, const struct tnode *x)
{
	if (x->sect_end != d->len)
		return x->sect_end;
	for (size_t i = x->content_end; i < d->len; i++) {
		char c = d->text[i];
		if (c == '#')
			return x->content_end;
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			break;
	}
	return x->sect_end;
}

/* Remove the entries of inline table c that are marked. An entry takes the
 * separator after it, or the one before it when it is the last. */
static int remove_inline(toml_doc *d, uint32_t c, const unsigned char *mark, toml_error *err)
{
	struct span *en = NULL;
	struct splice *sp = NULL;
	size_t k = 0, cap = 0, nsp = 0;
	int r = 0;
	for (uint32_t i = c + 1; i < d->nnodes && r >= 0; i++) {
		const struct tnode *x = &d->nodes[i];
		if ((x->flags & F_INLINE_ENTRY) && x->home == c)
			r = push_span(&en, &k, &cap, (struct span){x->lstart, x->lend, mark[i]});
	}
	if (r < 0 || !(sp = malloc(sizeof(*sp) * (k ? k : 1)))) {
		free(en);
		return -ENOMEM;
	}
	if (k)
		qsort(en, k, sizeof(*en), cmp_span);
	for (size_t i = 0; i < k;) {
		if (!en[i].gone) {
			i++;
			continue;
		}
		size_t a = i;
		while (i < k && en[i].gone)
			i++;
		size_t b = i - 1;
		if (i < k)
			sp[nsp++] = (struct splice){en[a].s, en[i].s, "", 0};
		else if (a > 0)
			sp[nsp++] = (struct splice){en[a - 1].e, en[b].e, "", 0};
		else /* all of them: empty braces */
			sp[nsp++] = (struct splice){d->nodes[c].vstart + 1, d->nodes[c].vend - 1, "", 0};
	}
	r = apply(d, sp, nsp, err);
	free(en);
	free(sp);
	return r;
}

int toml_remove(toml_doc *d, uint32_t n, toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	if (!valid_node(d, n) || n == TOML_ROOT)
		return n == TOML_ROOT ? -EINVAL : -ENOENT;
	const struct tnode *nd = &d->nodes[n];
	const struct tnode *pn = &d->nodes[nd->parent];

	if (pn->type == TOML_ARRAY && pn->form == TOML_FORM_ARRAY) {
		uint32_t m = pn->count, idx = 0;
		for (uint32_t c = pn->first; c != n; c = d->nodes[c].next)
			idx++;
		struct item *items = malloc(sizeof(*items) * (m ? m : 1));
		if (!items)
			return -ENOMEM;
		size_t k = 0;
		for (uint32_t i = 0; i < m; i++)
			if (i != idx)
				items[k++] = (struct item){i, NULL, 0};
		int r = array_rewrite(d, nd->parent, items, k, err);
		free(items);
		return r;
	}

	unsigned char *mark = subtree_marks(d, n);
	if (!mark)
		return -ENOMEM;
	int r;
	uint32_t c = (nd->flags & F_INLINE_ENTRY) ? nd->home : inline_home(d, n);
	if (c != NONE && c != n) {
		r = remove_inline(d, c, mark, err);
		free(mark);
		return r;
	}
	/* Lines and sections: every header below n takes its whole section,
	 * every key/value below n its lines. */
	size_t cap = 0, k = 0;
	struct span *sp = NULL;
	r = 0;
	for (uint32_t i = n; i < d->nnodes && r >= 0; i++) {
		if (!mark[i])
			continue;
		const struct tnode *x = &d->nodes[i];
		if (x->type == TOML_TABLE && (x->form == TOML_FORM_HEADER || x->form == TOML_FORM_ENTRY))
			r = push_span(&sp, &k, &cap, (struct span){x->lstart, section_end(d, x), true});
		else if (x->flags & F_LINE)
			r = push_span(&sp, &k, &cap, (struct span){x->lstart, x->lend, false});
	}
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (k)
		qsort(sp, k, sizeof(*sp), cmp_span);
	size_t j = 0;
	for (size_t i = 0; i < k; i++) {
		if (j && sp[i].s <= sp[j - 1].e) {
			if (sp[i].e > sp[j - 1].e)
				sp[j - 1].e = sp[i].e;
			sp[j - 1].gone |= sp[i].gone;
		} else {
			sp[j++] = sp[i];
		}
	}
	struct splice *spl = malloc(sizeof(*spl) * (j ? j : 1));
	if (!spl)
		goto out;
	for (size_t i = 0; i < j; i++) {
		if (sp[i].gone) /* holds a whole section */
			sp[i] = section_span(d, sp[i].s, sp[i].e);
		spl[i] = (struct splice){sp[i].s, sp[i].e, "", 0};
	}
	r = apply(d, spl, j, err);
	free(spl);
out:
	free(sp);
	free(mark);
	return r;
}

int toml_rename(toml_doc *d, uint32_t n, const char *key, size_t klen, toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	if (!valid_node(d, n))
		return -ENOENT;
	const struct tnode *nd = &d->nodes[n];
	if (nd->key_off == NONE) {
		set_error(err, NULL, 0, 0, "only a key can be renamed");
		return -EINVAL;
	}
	uint32_t other = doc_lookup(d, nd->parent, key, klen);
	if (other == n)
		return 0;
	if (other != NONE) {
		set_error(err, NULL, 0, 0, "the key already exists");
		return -EEXIST;
	}
	struct buf b = BUF_INIT;
	int r = encode_key(&b, key, klen);
	if (r < 0) {
		buf_free(&b);
		set_error(err, NULL, 0, 0, "the key is not valid UTF-8 text");
		return r;
	}
	size_t k = 0;
	for (uint32_t i = 0; i < d->nsegs; i++)
		k += d->segs[i].node == n;
	struct splice *sp = malloc(sizeof(*sp) * (k ? k : 1));
	if (!sp) {
		buf_free(&b);
		return -ENOMEM;
	}
	k = 0;
	for (uint32_t i = 0; i < d->nsegs; i++)
		if (d->segs[i].node == n)
			sp[k++] = (struct splice){d->segs[i].start, d->segs[i].end, b.p, b.len};
	r = apply(d, sp, k, err);
	free(sp);
	buf_free(&b);
	return r;
}

int toml_line_span(const toml_doc *d, uint32_t n, size_t *start, size_t *end)
{
	if (!valid_node(d, n) || !(d->nodes[n].flags & F_LINE))
		return -EINVAL;
	*start = d->nodes[n].lstart;
	*end = d->nodes[n].lend;
	return 0;
}

int toml_splice(toml_doc *d, size_t start, size_t end, const char *text, size_t len,
		toml_error *err)
{
	if (err)
		err->msg[0] = '\0';
	if (start > end || end > d->len)
		return -EINVAL;
	struct splice sp = {start, end, text, len};
	return apply(d, &sp, 1, err);
}
