/*
 * What every unit test's main shares: an optional test name (or cmocka
 * pattern, with * and ?) as the one argument runs that test alone, as in
 * `build/tests/unit/test-value test_bool`; README, "Developing".
 * Include it after cmocka's own header, whose types it uses.
 */
#ifndef RECLAIM_TESTS_UNIT_H
#define RECLAIM_TESTS_UNIT_H

#include <fnmatch.h>
#include <stdio.h>

/* Take the test name argv[1] names, if any, as cmocka's filter; -1 (and
 * the usage said) on more arguments. */
static inline int unit_args(int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "usage: %s [TEST-NAME]\n", argv[0]);
		return -1;
	}
	if (argc == 2)
		cmocka_set_test_filter(argv[1]);
	return 0;
}

/* Run the n tests, or those argv[1] names; 2 on a usage error. */
static inline int unit_run_n(int argc, char **argv, const char *group,
			     const struct CMUnitTest *tests, size_t n)
{
	size_t i, found = 0;

	if (unit_args(argc, argv) != 0)
		return 2;
	for (i = 0; argc == 2 && i < n; i++)
		found += fnmatch(argv[1], tests[i].name, 0) == 0;
	if (argc == 2 && found == 0) {
		fprintf(stderr, "%s: no test named %s\n", argv[0], argv[1]);
		return 2;
	}
	return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

/* cmocka_run_group_tests(tests), taking a test name from the command line. */
#define unit_run(argc, argv, tests)                                            \
	unit_run_n((argc), (argv), #tests, (tests),                            \
		   sizeof(tests) / sizeof((tests)[0]))

#endif
