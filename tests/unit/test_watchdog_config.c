/* The watchdog's configuration (lib/watchdog/config.c): validation, and
 * the deprecated text setters, on the fake source of watchdog_fake.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <reclaim/reclaim.h>
#include <reclaim/watchdog.h>

/* rcl_watchdog_config_set and the parsers are deprecated (watchdog.h), and
 * tested here on purpose while the ABI keeps them. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#include "unit.h"
#include "watchdog_fake.h"

/* Sizes parse with suffixes; percentages and garbage do not. */
static void test_parse_size(void **state)
{
	char err[256];
	uint64_t b;

	assert_int_equal(rcl_watchdog_parse_size("512M", &b, err, sizeof err),
			 0);
	assert_int_equal(b, 512 * MiB);
	assert_int_equal(rcl_watchdog_parse_size("2g", &b, err, sizeof err), 0);
	assert_int_equal(b, 2048 * MiB);
	assert_int_equal(rcl_watchdog_parse_size("7B", &b, err, sizeof err), 0);
	assert_int_equal(b, 7);
	assert_int_equal(rcl_watchdog_parse_size("64KiB", &b, err, sizeof err),
			 0);
	assert_int_equal(b, 65536);
	assert_int_equal(rcl_watchdog_parse_size("4096", &b, err, sizeof err),
			 0);
	assert_int_equal(b, 4096);
	assert_int_equal(rcl_watchdog_parse_size("auto", &b, err, sizeof err),
			 0);
	assert_int_equal(b, 0);
	assert_int_equal(rcl_watchdog_parse_size("80%", &b, err, sizeof err),
			 -1);
	assert_non_null(strstr(err, "percentage"));
	assert_int_equal(rcl_watchdog_parse_size("12Q", &b, err, sizeof err),
			 -1);
	assert_int_equal(rcl_watchdog_parse_size("", &b, err, sizeof err), -1);
	assert_int_equal(rcl_watchdog_parse_size("-5M", &b, err, sizeof err),
			 -1);
}

/* One strict grammar: what strtod and a lax suffix took before
 * (a fraction, hex, an exponent, a sign, space, decimal-looking units) is
 * an error, and so is a size past 64 bits. */
static void test_parse_size_strict(void **state)
{
	static const char *const bad[] = {"8MB",
					  "0x10",
					  "1e3",
					  "8 MiB",
					  "1.5G",
					  " 8",
					  "8 ",
					  "+8",
					  "8KiBs",
					  "8iB",
					  "inf",
					  "nan",
					  "18446744073709551616",
					  "16777216T"};
	char err[256];
	uint64_t b;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b = 42;
		err[0] = '\0';
		if (rcl_watchdog_parse_size(bad[i], &b, err, sizeof err) == 0)
			fail_msg("\"%s\" parsed as %llu", bad[i],
				 (unsigned long long)b);
		assert_int_equal(b, 42);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(rcl_watchdog_parse_size("18446744073709551615", &b,
						 err, sizeof err),
			 0);
	assert_true(b == UINT64_MAX);
	assert_int_equal(
	    rcl_watchdog_parse_size("16777215T", &b, err, sizeof err), 0);
	assert_true(b == 16777215ULL << 40);
}

/* Percentages and fractions parse; over 100% does not. */
static void test_parse_fraction(void **state)
{
	char err[256];
	double v;

	assert_int_equal(
	    rcl_watchdog_parse_fraction("80%", &v, err, sizeof err), 0);
	assert_true(v > 0.799 && v < 0.801);
	assert_int_equal(
	    rcl_watchdog_parse_fraction("0.95", &v, err, sizeof err), 0);
	assert_true(v > 0.949 && v < 0.951);
	assert_int_equal(
	    rcl_watchdog_parse_fraction("101%", &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "100%"));
	assert_int_equal(
	    rcl_watchdog_parse_fraction("512M", &v, err, sizeof err), -1);
	assert_int_equal(
	    rcl_watchdog_parse_fraction("-1%", &v, err, sizeof err), -1);
}

/* The daemon's keys: each bad value a sentence naming the key. */
static void test_config_keys(void **state)
{
	rcl_watchdog_config c;
	char err[256];

	rcl_watchdog_config_init(&c);
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), 0);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "limit", "512M", err, sizeof err), 0);
	assert_int_equal(c.limit_bytes, 512 * MiB);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "limit", "0", err, sizeof err), -1);
	assert_non_null(strstr(err, "watchdog.limit"));
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "limit", "auto", err, sizeof err), 0);
	assert_int_equal(c.limit_bytes, 0);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "limit", "80%", err, sizeof err), -1);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "enabled", "off", err, sizeof err), 0);
	assert_false(c.enabled);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "enabled", "maybe", err, sizeof err),
	    -1);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "soft", "150%", err, sizeof err), -1);
	assert_non_null(strstr(err, "watchdog.soft"));
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "bogus", "1", err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown key"));
}

/* A whole configuration: soft above hard, zero levels, bad tuning. */
static void test_config_validate(void **state)
{
	rcl_watchdog_config c;
	rcl_watchdog_source src = {fake_sample, fake_now, NULL};
	char err[256];

	rcl_watchdog_config_init(&c);
	c.soft = 0.96;
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), -1);
	assert_non_null(strstr(err, "above watchdog.hard"));
	assert_null(rcl_watchdog_create(NULL, &c, NULL, &src, err, sizeof err));
	rcl_watchdog_config_init(&c);
	c.hard = 0;
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), -1);
	rcl_watchdog_config_init(&c);
	c.poll_min_ms = 0;
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), -1);
	rcl_watchdog_config_init(&c);
	c.psi_window_us = 20000000;
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), -1);
	rcl_watchdog_config_init(&c);
	c.hysteresis = 0.9;
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), -1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_parse_size_strict),
	    cmocka_unit_test(test_parse_fraction),
	    cmocka_unit_test(test_config_keys),
	    cmocka_unit_test(test_config_validate),
	};

	return unit_run(argc, argv, tests);
}
