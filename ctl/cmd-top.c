/*
 * A live view, refreshed every second: RSS against the limit as a bar, the
 * level, collections and pause time per second, and a sparkline of RSS over
 * the last minute, read from the daemon's history ring (Stats with history),
 * so even the first frame shows the last minute. The alternate screen keeps
 * the terminal clean on exit; --once prints one frame without escape
 * sequences, for scripts.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "human.h"
#include "reclaimctl.h"
#include "stats.h"

#define TOP_HISTORY 60
#define TOP_BAR 40

struct top {
	uint64_t rss[TOP_HISTORY];
	size_t n;
	struct stats_snapshot prev;
	bool have_prev;
};

static volatile sig_atomic_t top_quit;

/* SIGINT, SIGTERM: leave the loop and restore the terminal. */
static void top_signal(int sig)
{
	top_quit = 1;
}

/* RSS against the limit as a bar. */
static void top_bar(const struct stats_snapshot *s)
{
	double frac = s->process.limit_bytes
			  ? (double)s->process.process_rss_bytes /
				(double)s->process.limit_bytes
			  : 0;
	char a[HUMAN_LEN], b[HUMAN_LEN], bar[TOP_BAR + 1];
	int fill = (int)(frac * TOP_BAR + 0.5), i;

	for (i = 0; i < TOP_BAR; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[TOP_BAR] = '\0';
	printf("rss   [%s] %5.1f%%  %s of %s\n", bar, frac * 100,
	       human_bytes(s->process.process_rss_bytes, a),
	       human_bytes(s->process.limit_bytes, b));
}

/* RSS over the last minute, one block a sample. */
static void top_sparkline(const struct top *t)
{
	static const char *const blocks[] = {"▁", "▂", "▃", "▄",
					     "▅", "▆", "▇", "█"};
	uint64_t lo = UINT64_MAX, hi = 0;
	size_t i;

	for (i = 0; i < t->n; i++) {
		lo = t->rss[i] < lo ? t->rss[i] : lo;
		hi = t->rss[i] > hi ? t->rss[i] : hi;
	}
	fputs("rss over the last minute  ", stdout);
	for (i = 0; i < t->n; i++)
		fputs(blocks[hi > lo ? (t->rss[i] - lo) * 7 / (hi - lo) : 0],
		      stdout);
	putchar('\n');
}

/* Collections and pause time per second since the last frame. */
static void top_rates(const struct top *t, const struct stats_snapshot *s)
{
	char p[HUMAN_LEN];

	if (!t->have_prev) {
		puts("collections/s  -     gc time/s  -     requests/s  -");
		return;
	}
	printf("collections/s  %llu     gc time/s  %s     requests/s  %llu\n",
	       (unsigned long long)(s->total.heap_collections_total -
				    t->prev.total.heap_collections_total),
	       human_ns(s->total.heap_pause_total_ns -
			    t->prev.total.heap_pause_total_ns,
			p),
	       (unsigned long long)(s->total.http_requests_total -
				    t->prev.total.http_requests_total));
}

/* One frame. */
static void top_frame(struct top *t, const struct stats_snapshot *s)
{
	char b[HUMAN_LEN];

	printf(
	    "reclaimd  up %llu s  %llu workers  level %s  forced "
	    "collections %llu\n",
	    (unsigned long long)s->process.process_uptime_seconds,
	    (unsigned long long)s->process.process_workers,
	    s->process.watchdog_level,
	    (unsigned long long)s->process.watchdog_forced_collections_total);
	top_bar(s);
	top_rates(t, s);
	printf("heap  %llu objects, %s; %llu collections, %llu collected\n",
	       (unsigned long long)s->total.heap_objects,
	       human_bytes(s->total.heap_bytes, b),
	       (unsigned long long)s->total.heap_collections_total,
	       (unsigned long long)s->total.heap_collected_total);
	top_sparkline(t);
}

/* The RSS column of the daemon's history: the last minute. */
static void top_history(struct top *t, const struct json *reply)
{
	const struct json *col = json_path(reply, "history.rss_bytes");
	size_t n = json_size(col), i;

	t->n = n < TOP_HISTORY ? n : TOP_HISTORY;
	for (i = 0; i < t->n; i++)
		t->rss[i] = json_u64(json_at(col, n - t->n + i));
}

/* The Stats call's parameters: the last minute of history. */
static struct json *top_params(void)
{
	struct json *p = json_object();

	json_add_u64(p, "history", TOP_HISTORY);
	return p;
}

/* Fetch a sample and the last minute of RSS. */
static int top_sample(struct ctl *ctl, struct top *t, struct stats_snapshot *s)
{
	struct json *reply, *params = top_params();
	int rc;

	rc = ctl_call(ctl, "io.reclaim.Stats", params, &reply);
	json_destroy(params);
	if (rc != CTL_OK)
		return rc;
	rc = stats_from_json(reply, s);
	if (rc == 0)
		top_history(t, reply);
	json_destroy(reply);
	if (rc != 0) {
		fputs("reclaimctl: top: unexpected reply\n", stderr);
		return CTL_DAEMON_ERROR;
	}
	return CTL_OK;
}

/* Refresh every second until interrupted. */
static int top_loop(struct ctl *ctl, struct top *t)
{
	struct timespec second = {1, 0};
	struct sigaction sa = {.sa_handler = top_signal};
	struct stats_snapshot s;
	int rc = CTL_OK;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fputs("\033[?1049h\033[?25l", stdout);
	while (!top_quit) {
		rc = top_sample(ctl, t, &s);
		if (rc != CTL_OK)
			break;
		fputs("\033[H\033[J", stdout);
		top_frame(t, &s);
		fflush(stdout);
		stats_finish(&t->prev);
		t->prev = s;
		t->have_prev = true;
		nanosleep(&second, NULL);
	}
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	return rc;
}

/* top [--once] */
static int cmd_top_exec(struct ctl *ctl, int argc, char **argv)
{
	struct top t = {0};
	struct stats_snapshot s;
	struct json *params;
	int rc;

	if (argc == 1 && strcmp(argv[0], "--once") != 0)
		return ctl_usage(ctl, "top: unknown option \"%s\"", argv[0]);
	if (ctl->json) {
		params = top_params();
		rc = ctl_simple(ctl, "io.reclaim.Stats", params, NULL);
		json_destroy(params);
		return rc;
	}
	if (argc == 0) {
		rc = top_loop(ctl, &t);
		stats_finish(&t.prev);
		return rc;
	}
	rc = top_sample(ctl, &t, &s);
	if (rc == CTL_OK)
		top_frame(&t, &s);
	stats_finish(&s);
	return rc;
}

const struct cmd_entry cmd_top_entry = {
    .name = "top",
    .usage = "[--once]",
    .help = "a live view; --once prints one frame",
    .min_args = 0,
    .max_args = 1,
    .exec = cmd_top_exec,
};
