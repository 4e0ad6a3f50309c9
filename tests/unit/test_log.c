/* The log's rate limit (daemon/log.c): the burst, then silence, then one
 * line saying how many were suppressed; stderr read back through a pipe. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "reclaimd.h"

/* What the code under test wrote to stderr, as a string. */
static char *capture(void (*fn)(void))
{
	static char buf[8192];
	int p[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = read(p[0], buf, sizeof buf - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Lines of s holding word. */
static int count(const char *s, const char *word)
{
	int n = 0;

	for (; (s = strstr(s, word)) != NULL; s++)
		n++;
	return n;
}

static struct log_limit lim = {1000, 3, 0, 0, 0}; /* 3 lines a ms */

/* Five lines in a burst of three. */
static void five(void)
{
	int i;

	for (i = 0; i < 5; i++)
		log_limited(&lim, LOG_NOTICE, "refused %d", i);
}

/* After the interval: one line, preceded by the count held back. */
static void one_later(void)
{
	struct timespec ts = {0, 2000000}; /* 2 ms, past the 1 ms interval */

	nanosleep(&ts, NULL);
	log_limited(&lim, LOG_NOTICE, "refused %d", 5);
}

/* The burst passes, the rest is counted, then said once. */
static void test_burst(void **state)
{
	char *out;

	(void)state;
	out = capture(five);
	assert_int_equal(count(out, "refused "), 3);
	assert_non_null(strstr(out, "<5>refused 0\n<5>refused 1\n"));
	out = capture(one_later);
	assert_non_null(strstr(out, "<5>log: suppressed 2 lines like "
				    "\"refused %d\""));
	assert_non_null(strstr(out, "\n<5>refused 5\n"));
}

/* Below the level: neither written nor counted. */
static void test_level(void **state)
{
	struct log_limit quiet = LOG_LIMIT_INIT;

	(void)state;
	log_set_level(LOG_WARNING);
	log_limited(&quiet, LOG_INFO, "hidden");
	assert_int_equal(quiet.lines, 0);
	log_set_level(LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst),
	    cmocka_unit_test(test_level),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
