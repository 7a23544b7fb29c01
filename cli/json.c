// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfusectl's JSON writer (json.h): compact (no spaces, no newlines),
 * every string escaped. Write errors are left in the FILE for the
 * caller's final fflush() and ferror().
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void jw_init(struct jw *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
}

/* Before a key, or a value that has no key: the comma, if one is due. */
static void jw_sep(struct jw *w)
{
	if (w->keyed) {
		w->keyed = false;
		return;
	}
	if (!w->depth)
		return;
	if (!w->empty[w->depth - 1])
		fputc(',', w->f);
	w->empty[w->depth - 1] = false;
}

/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629, Unicode's
 * table 3-7), or 0. Overlong forms, UTF-16 surrogates and code points past
 * U+10FFFF are not UTF-8: strict decoders (Python's among them) reject
 * them, so they must not be passed through. s is NUL-terminated, and NUL
 * is no continuation byte: the checks stop there.
 */
static size_t jw_utf8_len(const unsigned char *s)
{
	unsigned int c, len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (c >= 0xd800 && c <= 0xdfff) ||
	    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return len;
}

static void jw_put_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len;

	fputc('"', f);
	while (*s) {
		switch (*s) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			/* DEL is valid JSON, but not something to send to a terminal */
			if (*s < 0x20 || *s == 0x7f) {
				fprintf(f, "\\u%04x", *s);
				break;
			}
			len = jw_utf8_len(s);
			if (!len) {
				/* not UTF-8: its Latin-1 reading (lossy, see json.h) */
				fprintf(f, "\\u%04x", *s);
				break;
			}
			fwrite(s, 1, len, f);
			s += len;
			continue;
		}
		s++;
	}
	fputc('"', f);
}

/* Nesting deeper than JW_DEPTH_MAX is a bug in bpfusectl, not bad input. */
static void jw_push(struct jw *w, char c)
{
	if (w->depth == JW_DEPTH_MAX)
		abort();
	jw_sep(w);
	fputc(c, w->f);
	w->empty[w->depth++] = true;
}

static void jw_pop(struct jw *w, char c)
{
	if (!w->depth)
		abort();
	w->depth--;
	fputc(c, w->f);
}

void jw_object_start(struct jw *w)
{
	jw_push(w, '{');
}

void jw_object_end(struct jw *w)
{
	jw_pop(w, '}');
}

void jw_array_start(struct jw *w)
{
	jw_push(w, '[');
}

void jw_array_end(struct jw *w)
{
	jw_pop(w, ']');
}

void jw_key(struct jw *w, const char *key)
{
	jw_sep(w);
	jw_put_string(w->f, key);
	fputc(':', w->f);
	w->keyed = true;
}

void jw_string(struct jw *w, const char *s)
{
	jw_sep(w);
	if (s)
		jw_put_string(w->f, s);
	else
		fputs("null", w->f);
}

void jw_uint(struct jw *w, uint64_t v)
{
	jw_sep(w);
	fprintf(w->f, "%llu", (unsigned long long)v);
}

void jw_bool(struct jw *w, bool v)
{
	jw_sep(w);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w)
{
	jw_sep(w);
	fputs("null", w->f);
}

static void jw_vnumber(struct jw *w, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* %f of the largest double takes 309 digits before the point */
static void jw_vnumber(struct jw *w, const char *fmt, va_list ap)
{
	char buf[512];
	int n;

	jw_sep(w);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	/* inf and nan have no JSON spelling; no finite number holds an i or an n */
	if (n < 0 || (size_t)n >= sizeof(buf) || strpbrk(buf, "iInN"))
		fputs("null", w->f);
	else
		fputs(buf, w->f);
}

void jw_number(struct jw *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	jw_vnumber(w, fmt, ap);
	va_end(ap);
}

void jw_string_field(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_string(w, s);
}

void jw_uint_field(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	jw_uint(w, v);
}

void jw_bool_field(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	jw_bool(w, v);
}

void jw_number_field(struct jw *w, const char *key, const char *fmt, ...)
{
	va_list ap;

	jw_key(w, key);
	va_start(ap, fmt);
	jw_vnumber(w, fmt, ap);
	va_end(ap);
}
