// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfusectl's JSON writer (cli/json.c): commas and nesting kept by the
 * writer, numbers as formatted, and every byte value of a string escaped
 * or passed as json.h says, so that no path can make -j output invalid.
 * test/ctl_json.sh checks the same end to end, on a real mount.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static char *buf;
static size_t len;
static FILE *f;
static struct jw w;

static void setup(void)
{
	f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	jw_init(&w, f);
}

static void teardown(void)
{
	fclose(f);
	free(buf);
}

/* What was written so far. */
static const char *out(void)
{
	cr_assert_eq(fflush(f), 0);
	return buf;
}

/* s as a JSON string: a writer of its own, so that calls do not add up. */
static const char *str(const char *s)
{
	static char *one;
	size_t n;
	struct jw sw;
	FILE *sf;

	free(one);
	sf = open_memstream(&one, &n);
	cr_assert_not_null(sf);
	jw_init(&sw, sf);
	jw_string(&sw, s);
	cr_assert_eq(fclose(sf), 0);
	return one;
}

TestSuite(json, .init = setup, .fini = teardown);

Test(json, nesting_and_commas)
{
	jw_object_start(&w);
	jw_uint_field(&w, "a", 1);
	jw_key(&w, "b");
	jw_array_start(&w);
	jw_uint(&w, 2);
	jw_bool(&w, true);
	jw_null(&w);
	jw_object_start(&w);
	jw_object_end(&w);
	jw_string(&w, "x");
	jw_array_end(&w);
	jw_string_field(&w, "c", NULL);
	jw_key(&w, "d");
	jw_array_start(&w);
	jw_array_end(&w);
	jw_bool_field(&w, "e", false);
	jw_number_field(&w, "f", "%.1f", 0.5);
	jw_object_end(&w);
	cr_assert_str_eq(out(), "{\"a\":1,\"b\":[2,true,null,{},\"x\"],\"c\":null,\"d\":[],"
				"\"e\":false,\"f\":0.5}");
}

Test(json, numbers_as_formatted_and_null_when_not_finite)
{
	jw_array_start(&w);
	jw_number(&w, "%.3f", 1.5);
	jw_number(&w, "%g", 86400.0);
	jw_number(&w, "%g", 1e20);
	jw_number(&w, "%.2f", -0.5);
	jw_number(&w, "%.2f", INFINITY);
	jw_number(&w, "%g", -INFINITY);
	jw_number(&w, "%g", NAN);
	jw_uint(&w, UINT64_MAX);
	jw_array_end(&w);
	cr_assert_str_eq(out(), "[1.500,86400,1e+20,-0.50,null,null,null,18446744073709551615]");
}

Test(json, keys_are_escaped_too)
{
	jw_object_start(&w);
	jw_uint_field(&w, "a\"b\n", 1);
	jw_object_end(&w);
	cr_assert_str_eq(out(), "{\"a\\\"b\\n\":1}");
}

Test(json, quote_backslash_and_controls_escaped)
{
	cr_assert_str_eq(str("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
	cr_assert_str_eq(str("\n\t\r"), "\"\\n\\t\\r\"");
	cr_assert_str_eq(str("\x01\b\f\x1f\x7f"), "\"\\u0001\\u0008\\u000c\\u001f\\u007f\"");
}

/*
 * Every byte value alone: printable ASCII as it is (but '"' and '\'), the
 * rest escaped, since no byte >= 0x80 is UTF-8 on its own. So the output
 * is ASCII and never holds a raw control character or quote.
 */
Test(json, every_byte)
{
	static const char shorts[] = "\n\t\r", names[] = "ntr";
	char s[2] = { 0 }, want[16];
	int c;

	for (c = 1; c < 256; c++) {
		s[0] = (char)c;
		if (c == '"' || c == '\\')
			snprintf(want, sizeof(want), "\"\\%c\"", c);
		else if (strchr(shorts, c))
			snprintf(want, sizeof(want), "\"\\%c\"", names[strchr(shorts, c) - shorts]);
		else if (c >= 0x20 && c < 0x7f)
			snprintf(want, sizeof(want), "\"%c\"", c);
		else
			snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		cr_assert_str_eq(str(s), want, "byte 0x%02x", c);
	}
}

Test(json, utf8_as_it_is)
{
	/* U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF, and some names */
	static const char *const ok[] = {
		"\xc2\x80",	"\xdf\xbf",	    "\xe0\xa0\x80",
		"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
		"caf\xc3\xa9",	"\xe2\x82\xac 5",   "\xf0\x9d\x84\x9e",
	};
	char want[32];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(want, sizeof(want), "\"%s\"", ok[i]);
		cr_assert_str_eq(str(ok[i]), want);
	}
}

/* Not UTF-8: each byte of the bad sequence as \u00XX (json.h: lossy, documented). */
Test(json, not_utf8_as_latin1)
{
	static const char *const bad[][2] = {
		{ "\xff", "\"\\u00ff\"" },
		{ "a\x80z", "\"a\\u0080z\"" },
		/* overlong '/' and U+007F: a decoder could be fooled into a '/' */
		{ "\xc0\xaf", "\"\\u00c0\\u00af\"" },
		{ "\xc1\xbf", "\"\\u00c1\\u00bf\"" },
		{ "\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"" },
		{ "\xf0\x80\x80\xaf", "\"\\u00f0\\u0080\\u0080\\u00af\"" },
		/* a UTF-16 surrogate, and past U+10FFFF */
		{ "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"" },
		{ "\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"" },
		{ "\xf5\x80\x80\x80", "\"\\u00f5\\u0080\\u0080\\u0080\"" },
		/* cut short, at the end and before ASCII */
		{ "\xe2\x82", "\"\\u00e2\\u0082\"" },
		{ "\xe2\x82\"", "\"\\u00e2\\u0082\\\"\"" },
		{ "\xf0\x9d\x84", "\"\\u00f0\\u009d\\u0084\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_str_eq(str(bad[i][0]), bad[i][1], "case %zu", i);
}
