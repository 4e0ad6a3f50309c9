/*
 * What every unit test's main shares: an optional test name (or cmocka
 * pattern, with * and ?) as the one argument runs that test alone, as in
 * `build/tests/unit/test-value test_bool`; README, "Developing".
 * Include after <cmocka.h>.
 */
#ifndef RECLAIM_TESTS_UNIT_H
#define RECLAIM_TESTS_UNIT_H

#include <stdio.h>

/* Run the n tests, or those argv[1] names; 2 on a usage error. */
static inline int unit_run_n(int argc, char **argv, const char *group,
			     const struct CMUnitTest *tests, size_t n)
{
	if (argc > 2) {
		fprintf(stderr, "usage: %s [TEST-NAME]\n", argv[0]);
		return 2;
	}
	if (argc == 2)
		cmocka_set_test_filter(argv[1]);
	return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

/* cmocka_run_group_tests(tests), taking a test name from the command line. */
#define unit_run(argc, argv, tests)                                            \
	unit_run_n((argc), (argv), #tests, (tests),                            \
		   sizeof(tests) / sizeof((tests)[0]))

#endif
