/* Prometheus text (common/prom.c) from a made-up snapshot: names, HELP and
 * TYPE, seconds, cumulative buckets, labels escaped, and promtool's view of
 * it when promtool is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"
#include "unit.h"

/* A snapshot of two workers with a few figures and a suspect. */
static void make_snapshot(struct stats_snapshot *s)
{
	static const uint64_t bounds[3] = {1000, 1000000, UINT64_MAX};
	static const uint64_t c0[3] = {1, 2, 3}, c1[3] = {4, 0, 1};

	stats_init(s, 2);
	s->workers[0].heap_objects = 10;
	s->workers[1].heap_objects = 5;
	s->workers[0].heap_pause_total_ns = 1500000000;
	stats_hist_set(&s->workers[0].heap_pause_hist, bounds, c0, 3);
	stats_hist_set(&s->workers[1].heap_pause_hist, bounds, c1, 3);
	s->workers[0].heap_pause_hist.has_sum = true;
	s->workers[0].heap_pause_hist.sum_ns = 2000000;
	s->workers[1].heap_pause_hist.has_sum = true;
	s->workers[1].heap_pause_hist.sum_ns = 1000000;
	stats_sum(s);
	s->process.suspects.n = 1;
	snprintf(s->process.suspects.types[0].type,
		 sizeof s->process.suspects.types[0].type, "%s", "a\"b\\c");
	s->process.suspects.types[0].last = 7;
	snprintf(s->process.watchdog_level, sizeof s->process.watchdog_level,
		 "elevated");
	s->process.process_cpu_total_ns = 2000000007;
	s->process.process_rss_bytes = 4096;
	s->process.process_start_time_ms = 1700000000005;
	snprintf(s->process.version, sizeof s->process.version, "1.0\"x");
}

/* Whether text has line as one of its lines. */
static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return true;
		p += len;
	}
	return false;
}

/* The families and series a scraper relies on. */
static void test_render(void **state)
{
	struct stats_snapshot s;
	char *text;

	(void)state;
	make_snapshot(&s);
	text = prom_render(&s);
	assert_non_null(text);
	assert_true(has_line(text, "# TYPE reclaim_heap_objects gauge"));
	assert_true(has_line(text, "reclaim_heap_objects 15"));
	assert_true(
	    has_line(text, "reclaim_worker_heap_objects{worker=\"1\"} 5"));
	assert_true(has_line(text, "# TYPE reclaim_heap_pause_seconds_total "
				   "counter"));
	assert_true(has_line(text, "reclaim_heap_pause_seconds_total 1.5"));
	/* Buckets summed over workers and cumulative; +Inf is the count. */
	assert_true(has_line(text, "reclaim_heap_pause_seconds_bucket{le="
				   "\"1e-06\"} 5"));
	assert_true(has_line(text, "reclaim_heap_pause_seconds_bucket{le="
				   "\"0.001\"} 7"));
	assert_true(has_line(text, "reclaim_heap_pause_seconds_bucket{le="
				   "\"+Inf\"} 11"));
	assert_true(has_line(text, "reclaim_heap_pause_seconds_count 11"));
	assert_true(has_line(text, "reclaim_heap_pause_seconds_sum 0.003"));
	assert_true(has_line(text, "reclaim_worker_heap_pause_seconds_bucket{"
				   "worker=\"1\",le=\"+Inf\"} 5"));
	assert_true(has_line(text, "reclaim_worker_heap_pause_seconds_sum{"
				   "worker=\"1\"} 0.001"));
	assert_true(has_line(text, "reclaim_watchdog_level{level=\"elevated\"} "
				   "1"));
	assert_true(
	    has_line(text, "reclaim_watchdog_level{level=\"normal\"} 0"));
	assert_true(has_line(text, "reclaim_watchdog_leak_suspect_objects{"
				   "type=\"a\\\"b\\\\c\"} 7"));
	assert_null(strstr(text, "_ns"));
	free(text);
	stats_finish(&s);
}

/* The process families every client library exports keep their standard
 * names, help and types, with exact decimals (a start time in seconds since
 * the epoch needs 13 digits: %g would round it); build_info's version is a
 * label, escaped. */
static void test_standard(void **state)
{
	struct stats_snapshot s;
	char *text;

	(void)state;
	make_snapshot(&s);
	text = prom_render(&s);
	assert_non_null(text);
	assert_true(has_line(text, "# HELP process_cpu_seconds_total Total "
				   "user and system CPU time spent in "
				   "seconds."));
	assert_true(has_line(text, "# TYPE process_cpu_seconds_total counter"));
	assert_true(has_line(text, "process_cpu_seconds_total 2.000000007"));
	assert_true(has_line(text, "process_resident_memory_bytes 4096"));
	assert_true(has_line(text, "reclaim_process_rss_bytes 4096"));
	assert_true(has_line(text, "# TYPE process_start_time_seconds gauge"));
	assert_true(
	    has_line(text, "process_start_time_seconds 1700000000.005"));
	assert_true(has_line(text, "# TYPE process_open_fds gauge"));
	assert_true(has_line(text, "# TYPE process_max_fds gauge"));
	assert_true(
	    has_line(text, "# TYPE process_virtual_memory_bytes gauge"));
	assert_true(has_line(text, "# TYPE reclaim_build_info gauge"));
	assert_true(
	    has_line(text, "reclaim_build_info{version=\"1.0\\\"x\"} 1"));
	free(text);
	stats_finish(&s);
}

/* promtool accepts it, escaped labels and all. */
static void test_promtool(void **state)
{
	struct stats_snapshot s;
	char *text;
	FILE *p;

	(void)state;
	if (system("command -v promtool >/dev/null 2>&1") != 0)
		skip();
	make_snapshot(&s);
	text = prom_render(&s);
	p = popen("promtool check metrics", "w");
	assert_non_null(p);
	fputs(text, p);
	assert_int_equal(pclose(p), 0);
	free(text);
	stats_finish(&s);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_standard),
	    cmocka_unit_test(test_promtool),
	};

	return unit_run(argc, argv, tests);
}
