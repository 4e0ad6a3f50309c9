/* Kernel and systemd notifications (lib/watchdog/notify.c): a pressure
 * notice, systemd's $MEMORY_PRESSURE_WATCH. */
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

#include "unit.h"
#include "watchdog_fake.h"

/* A pressure notice at normal: a young collection, once per interval. */
static void test_pressure(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	wd = make(&f, NULL);
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_PSI);
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_SYSTEMD);
	assert_int_equal(f.collects[0], 1);
	assert_int_equal(f.trims, 1);
	f.t += 1100 * MS;
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_PRESSURE);
	assert_int_equal(f.collects[0], 2);
	/* memory.events changed: the kernel reclaimed at our limit */
	f.t += 1100 * MS;
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_EVENTS);
	assert_int_equal(f.collects[0], 3);
	/* a poll or a threshold at normal usage is no pressure */
	f.t += 1100 * MS;
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_POLL);
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_THRESHOLD);
	assert_int_equal(f.collects[0], 3);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(
	    st.forced[RCL_WATCHDOG_REASON_PRESSURE][RCL_WATCHDOG_NORMAL], 3);
	rcl_watchdog_destroy(wd);
}

/* systemd's memory pressure protocol through a FIFO (PRESSURE.md allows
 * one): a write to it wakes the watchdog on its event base, which answers
 * at the normal level with a young collection and a trim. */
static void test_systemd_pressure_fifo(void **state)
{
	char dirpath[] = "/tmp/rcl-psi-XXXXXX", fifo[64];
	struct event_base *base = event_base_new();
	struct timeval tv = {0, 200000};
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_watchdog_heaps hs = {.heaps = &h, .n = 1};
	rcl_watchdog_hooks hooks;
	rcl_watchdog_config c;
	rcl_watchdog_stats st;
	rcl_stats hst;
	rcl_watchdog *wd;
	char err[256];
	int wfd;

	assert_non_null(mkdtemp(dirpath));
	snprintf(fifo, sizeof fifo, "%s/pressure", dirpath);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	setenv("MEMORY_PRESSURE_WATCH", fifo, 1);
	unsetenv("MEMORY_PRESSURE_WRITE");
	rcl_watchdog_hooks_heaps(&hooks, &hs);
	rcl_watchdog_config_init(&c);
	wd = rcl_watchdog_create(base, &c, &hooks, NULL, err, sizeof err);
	assert_non_null(wd);
	wfd = open(fifo, O_WRONLY | O_NONBLOCK);
	assert_true(wfd >= 0);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.wakeups[RCL_WATCHDOG_WAKE_SYSTEMD], 0);
	assert_int_equal(write(wfd, "pressure\n", 9), 9);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	rcl_watchdog_stats_get(wd, &st);
	assert_true(st.wakeups[RCL_WATCHDOG_WAKE_SYSTEMD] >= 1);
	assert_true(st.wakeups[RCL_WATCHDOG_WAKE_SYSTEMD] <= 3);
	rcl_heap_stats(h, &hst);
	assert_true(hst.gen[0].collections >= 1);
	/* the writer going away is no storm of wake-ups */
	close(wfd);
	uint64_t seen = st.wakeups[RCL_WATCHDOG_WAKE_SYSTEMD];
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	rcl_watchdog_stats_get(wd, &st);
	assert_true(st.wakeups[RCL_WATCHDOG_WAKE_SYSTEMD] <= seen + 2);
	rcl_watchdog_destroy(wd);
	unsetenv("MEMORY_PRESSURE_WATCH");
	rcl_heap_destroy(h);
	event_base_free(base);
	unlink(fifo);
	rmdir(dirpath);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pressure),
	    cmocka_unit_test(test_systemd_pressure_fifo),
	};

	return unit_run(argc, argv, tests);
}
