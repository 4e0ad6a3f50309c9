/* The grammar of operator values (common/value.c): what each parser takes,
 * and every refusal, with its sentence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"
#include "value.h"

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)

/* err says why, and *out is untouched. */
#define REFUSED(call, out, sentinel, want)                                     \
	do {                                                                   \
		err[0] = '\0';                                                 \
		assert_int_equal((call), -1);                                  \
		assert_true((out) == (sentinel));                              \
		assert_non_null(strstr(err, (want)));                          \
	} while (0)

/* Every unit, any case, powers of 1024; the edges of 64 bits. */
static void test_size_accepted(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {{"0", 0},
		  {"4096", 4096},
		  {"7B", 7},
		  {"7b", 7},
		  {"8K", 8 * KiB},
		  {"8k", 8 * KiB},
		  {"8KiB", 8 * KiB},
		  {"8kib", 8 * KiB},
		  {"512M", 512 * MiB},
		  {"512MiB", 512 * MiB},
		  {"2g", 2048 * MiB},
		  {"2GiB", 2048 * MiB},
		  {"3T", 3ULL << 40},
		  {"3TiB", 3ULL << 40},
		  {"18446744073709551615", UINT64_MAX},
		  {"16777215T", 16777215ULL << 40}};
	char err[VALUE_ERR_LEN];
	uint64_t b;
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		b = 42;
		if (value_size(ok[i].s, &b, err, sizeof err) != 0)
			fail_msg("\"%s\": %s", ok[i].s, err);
		assert_true(b == ok[i].v);
	}
}

/* Everything else is refused, and says what a size is. */
static void test_size_refused(void **state)
{
	static const char *const bad[] = {
	    "",	    "8MB", "1.5G", "0x10",  "1e3", "8 MiB", " 8",
	    "8 ",   "+8K", "-8K",  "8KiBs", "8iB", "inf",   "nan",
	    "auto", "12Q", "8KB",  "K",	    "8Ki"};
	char err[VALUE_ERR_LEN];
	uint64_t b = 42;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		REFUSED(value_size(bad[i], &b, err, sizeof err), b, 42,
			"not a size: a whole number of bytes");
	REFUSED(value_size(NULL, &b, err, sizeof err), b, 42, "not a size");
	REFUSED(value_size("80%", &b, err, sizeof err), b, 42,
		"a percentage; a size is");
	REFUSED(value_size("18446744073709551616", &b, err, sizeof err), b, 42,
		"too large");
	REFUSED(value_size("16777216T", &b, err, sizeof err), b, 42,
		"too large");
	/* no room for the sentence: still refused */
	assert_int_equal(value_size("8MB", &b, NULL, 0), -1);
}

/* Percentages and fractions from 0 to 1. */
static void test_fraction(void **state)
{
	static const char *const bad[] = {"",	"x",   "80%%", "80% x",
					  "0x", "inf", "nan",  "80 %"};
	char err[VALUE_ERR_LEN];
	double v = 42;

	assert_int_equal(value_fraction("80%", &v, err, sizeof err), 0);
	assert_true(v > 0.799 && v < 0.801);
	assert_int_equal(value_fraction("80.5%", &v, err, sizeof err), 0);
	assert_true(v > 0.8049 && v < 0.8051);
	assert_int_equal(value_fraction("0.95", &v, err, sizeof err), 0);
	assert_true(v > 0.949 && v < 0.951);
	assert_int_equal(value_fraction("0", &v, err, sizeof err), 0);
	assert_true(v == 0);
	assert_int_equal(value_fraction("100%", &v, err, sizeof err), 0);
	assert_true(v == 1);
	v = 42;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		REFUSED(value_fraction(bad[i], &v, err, sizeof err), v, 42,
			"not a percentage");
	REFUSED(value_fraction(NULL, &v, err, sizeof err), v, 42,
		"not a percentage");
	REFUSED(value_fraction("512M", &v, err, sizeof err), v, 42,
		"not a percentage");
	REFUSED(value_fraction("101%", &v, err, sizeof err), v, 42,
		"from 0% to 100%");
	REFUSED(value_fraction("1.5", &v, err, sizeof err), v, 42,
		"out of range");
	REFUSED(value_fraction("-1%", &v, err, sizeof err), v, 42,
		"out of range");
}

/* us, ms, s, m, h; a bare number is seconds. */
static void test_duration(void **state)
{
	static const struct {
		const char *s;
		uint64_t us;
	} ok[] = {{"0", 0},
		  {"250us", 250},
		  {"500ms", 500000},
		  {"60s", 60000000},
		  {"60", 60000000},
		  {"2m", 120000000},
		  {"1h", 3600000000ULL},
		  {"999999999us", 999999999}};
	static const char *const bad[] = {
	    "",	    "soon", "5S", "5 s", " 5s",	       "+5s", "-5s",
	    "1.5s", "5sec", "5d", "0x5", "1000000000", "5Ms", "5min"};
	char err[VALUE_ERR_LEN];
	uint64_t us;
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		us = 42;
		if (value_duration(ok[i].s, &us, err, sizeof err) != 0)
			fail_msg("\"%s\": %s", ok[i].s, err);
		assert_true(us == ok[i].us);
	}
	us = 42;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		REFUSED(value_duration(bad[i], &us, err, sizeof err), us, 42,
			"not a duration: a whole number");
	REFUSED(value_duration(NULL, &us, err, sizeof err), us, 42,
		"not a duration");
}

/* The spellings INI files use, any case. */
static void test_bool(void **state)
{
	static const char *const yes[] = {"true", "TRUE", "yes", "Yes",
					  "on",	  "ON",	  "1"};
	static const char *const no[] = {"false", "False", "no", "NO",
					 "off",	  "Off",   "0"};
	static const char *const bad[] = {
	    "", "maybe", "2", "y", "n", "t", " true", "true ", "01", "enabled"};
	char err[VALUE_ERR_LEN];
	bool b;
	size_t i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		b = false;
		assert_int_equal(value_bool(yes[i], &b, err, sizeof err), 0);
		assert_true(b);
		assert_int_equal(value_bool(no[i], &b, err, sizeof err), 0);
		assert_false(b);
	}
	b = true;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		REFUSED(value_bool(bad[i], &b, err, sizeof err), b, true,
			"not a boolean: true or false");
	REFUSED(value_bool(NULL, &b, err, sizeof err), b, true,
		"not a boolean");
}

/* A list of counts: exactly n, each within max. */
static void test_counts(void **state)
{
	static const char *const bad[] = {"",
					  "700,10",
					  "700,10,10,1",
					  "700,,10",
					  "700, 10,10",
					  " 700,10,10",
					  "700,10,10,",
					  "-1,10,10",
					  "+1,10,10",
					  "a,b,c",
					  "700;10;10",
					  "4294967296,1,1",
					  "1,1,99999999999999999999"};
	char err[VALUE_ERR_LEN];
	uint64_t v[3] = {42, 42, 42};
	size_t i;

	assert_int_equal(
	    value_counts("700,10,10", v, 3, UINT32_MAX, err, sizeof err), 0);
	assert_true(v[0] == 700 && v[1] == 10 && v[2] == 10);
	assert_int_equal(
	    value_counts("4294967295,0,1", v, 3, UINT32_MAX, err, sizeof err),
	    0);
	assert_true(v[0] == UINT32_MAX && v[1] == 0 && v[2] == 1);
	v[0] = 42;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		REFUSED(value_counts(bad[i], v, 3, UINT32_MAX, err, sizeof err),
			v[0], 42, "not 3 whole numbers separated by commas");
	assert_int_equal(value_counts("256", v, 1, 256, err, sizeof err), 0);
	assert_true(v[0] == 256);
	REFUSED(value_counts("257", v, 1, 256, err, sizeof err), v[0], 256,
		"each at most 256");
	REFUSED(value_counts(NULL, v, 1, 256, err, sizeof err), v[0], 256,
		"not 1 whole numbers");
	/* more than the parser holds */
	REFUSED(value_counts("1,2,3,4,5,6,7,8,9", v, 9, 10, err, sizeof err),
		v[0], 256, "not 9");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_size_accepted),
	    cmocka_unit_test(test_size_refused),
	    cmocka_unit_test(test_fraction),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_bool),
	    cmocka_unit_test(test_counts),
	};

	return unit_run(argc, argv, tests);
}
