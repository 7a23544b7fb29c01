/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bpfusectl's JSON writer, after bpftool's json_writer: the writer keeps
 * the commas and the nesting and escapes every string, so that no mount
 * path, file name or error message can make -j output invalid.
 *
 * Strings are bytes (mount paths are): well-formed UTF-8 is written as it
 * is; '"', '\\', control characters and DEL are escaped; a byte that is
 * not part of well-formed UTF-8 is written as \u00XX, its Latin-1 reading.
 * That keeps every output valid JSON for every parser, at the price of
 * being lossy for such bytes: "\u00ff" may have been the byte 0xff or the
 * UTF-8 of U+00FF.
 */
#ifndef BPFUSECTL_JSON_H
#define BPFUSECTL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JW_DEPTH_MAX 8

struct jw {
	FILE *f;
	int depth;
	bool keyed; /* a key was written: its value comes next, no comma */
	bool empty[JW_DEPTH_MAX]; /* nothing written yet in this object or array */
};

void jw_init(struct jw *w, FILE *f);
void jw_object_start(struct jw *w);
void jw_object_end(struct jw *w);
void jw_array_start(struct jw *w);
void jw_array_end(struct jw *w);
void jw_key(struct jw *w, const char *key);

/* Values. s == NULL writes null. */
void jw_string(struct jw *w, const char *s);
void jw_uint(struct jw *w, uint64_t v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* A number in fmt, a printf floating-point format; null if not finite. */
void jw_number(struct jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A key and its value. */
void jw_string_field(struct jw *w, const char *key, const char *s);
void jw_uint_field(struct jw *w, const char *key, uint64_t v);
void jw_bool_field(struct jw *w, const char *key, bool v);
void jw_number_field(struct jw *w, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
