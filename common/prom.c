/*
 * Prometheus text from the stats snapshot, driven by the same X-macro tables
 * as the JSON, so a counter added there appears here too. Names are
 * reclaim_SECTION_NAME; nanosecond figures become seconds (the base unit),
 * counters end in _total. Totals carry no label; per-worker figures are
 * separate families, reclaim_worker_*{worker="N"}, so that summing a family
 * never counts a worker twice. The process figures every client library
 * exports keep their standard names (process_cpu_seconds_total...).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

#define PROM_NAME 128

/* The family name: reclaim_[worker_]sec_name, "_ns" turned into seconds. */
static void prom_name(char *buf, const char *prefix, const char *sec,
		      const char *name)
{
	size_t len = strlen(name);
	char base[64];

	snprintf(base, sizeof base, "%s", name);
	if (len > 3 && strcmp(name + len - 3, "_ns") == 0) {
		base[len - 3] = '\0';
		len -= 3;
		if (len > 6 && strcmp(base + len - 6, "_total") == 0)
			snprintf(base + len - 6, sizeof base - (len - 6),
				 "_seconds_total");
		else
			snprintf(base + len, sizeof base - len, "_seconds");
	}
	snprintf(buf, PROM_NAME, "reclaim_%s%s_%s", prefix, sec, base);
}

/* Whether the figure is in nanoseconds (rendered as seconds). */
static bool prom_is_ns(const char *name)
{
	size_t len = strlen(name);

	return len > 3 && strcmp(name + len - 3, "_ns") == 0;
}

/* One value, as an integer or in seconds. */
static void prom_value(FILE *fp, uint64_t v, bool ns)
{
	if (ns)
		fprintf(fp, "%.9g\n", (double)v / 1e9);
	else
		fprintf(fp, "%llu\n", (unsigned long long)v);
}

/* HELP and TYPE lines; help has no backslash or newline (our own text). */
static void prom_header(FILE *fp, const char *fam, const char *help,
			const char *unit, const char *type, const char *scope)
{
	fprintf(fp, "# HELP %s %s (%s%s)\n# TYPE %s %s\n", fam, help, unit,
		scope, fam, type);
}

/* A label value with \, " and newline escaped. */
static void prom_label(FILE *fp, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', fp);
		if (*v == '\n')
			fputs("\\n", fp);
		else
			fputc(*v, fp);
	}
}

/* A process-wide figure. */
static void prom_process(FILE *fp, const char *sec, const char *name, int kind,
			 const char *unit, const char *help, uint64_t v)
{
	char fam[PROM_NAME];

	prom_name(fam, "", sec, name);
	prom_header(fp, fam, help, prom_is_ns(name) ? "seconds" : unit,
		    kind == STATS_COUNTER ? "counter" : "gauge", "");
	fprintf(fp, "%s ", fam);
	prom_value(fp, v, prom_is_ns(name));
}

/* Offset of a per-worker field, so one function renders any of them. */
struct prom_field {
	const char *sec, *name, *unit, *help;
	int kind;
	size_t off;
};

static const struct prom_field prom_worker_fields[] = {
#define X(sec, name, kind, agg, unit, help)                                    \
	{#sec,	       #name,                                                  \
	 unit,	       help,                                                   \
	 STATS_##kind, offsetof(struct stats_worker, STATS_FIELD(sec, name))},
    STATS_WORKER_FIELDS(X)
#undef X
};

/* A field of w. */
static uint64_t prom_get(const struct stats_worker *w,
			 const struct prom_field *f)
{
	return *(const uint64_t *)((const char *)w + f->off);
}

/* A per-worker field: the total, then one series a worker. */
static void prom_worker(FILE *fp, const struct stats_snapshot *s,
			const struct prom_field *f)
{
	const char *type = f->kind == STATS_COUNTER ? "counter" : "gauge";
	const char *unit = prom_is_ns(f->name) ? "seconds" : f->unit;
	bool ns = prom_is_ns(f->name);
	char fam[PROM_NAME];
	size_t i;

	prom_name(fam, "", f->sec, f->name);
	prom_header(fp, fam, f->help, unit, type, ", all workers");
	fprintf(fp, "%s ", fam);
	prom_value(fp, prom_get(&s->total, f), ns);
	prom_name(fam, "worker_", f->sec, f->name);
	prom_header(fp, fam, f->help, unit, type, ", per worker");
	for (i = 0; i < s->nworkers; i++) {
		fprintf(fp, "%s{worker=\"%zu\"} ", fam, i);
		prom_value(fp, prom_get(&s->workers[i], f), ns);
	}
}

/* One histogram series; labels is "" or `worker="N"`. */
static void prom_hist_series(FILE *fp, const char *fam, const char *labels,
			     const struct stats_hist *h)
{
	const char *sep = *labels ? "," : "";
	char braced[48] = "";
	uint64_t cum = 0;
	uint32_t i;

	if (*labels)
		snprintf(braced, sizeof braced, "{%s}", labels);
	for (i = 0; i + 1 < h->n; i++) {
		cum += h->counts[i];
		fprintf(fp, "%s_bucket{%s%sle=\"%.9g\"} %llu\n", fam, labels,
			sep, (double)h->bounds_ns[i] / 1e9,
			(unsigned long long)cum);
	}
	if (h->n > 0)
		cum += h->counts[h->n - 1];
	fprintf(fp, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", fam, labels, sep,
		(unsigned long long)cum);
	if (h->has_sum)
		fprintf(fp, "%s_sum%s %.9g\n", fam, braced,
			(double)h->sum_ns / 1e9);
	fprintf(fp, "%s_count%s %llu\n", fam, braced, (unsigned long long)cum);
}

/* A histogram family with one series. */
static void prom_hist(FILE *fp, const char *fam, const char *help,
		      const char *scope, const struct stats_hist *h)
{
	prom_header(fp, fam, help, "seconds", "histogram", scope);
	prom_hist_series(fp, fam, "", h);
}

/* The per-worker histograms: totals, then a family with a worker label. */
static void prom_worker_hists(FILE *fp, const struct stats_snapshot *s)
{
	char fam[PROM_NAME], labels[32];
	size_t i;

#define X(sec, name, help)                                                     \
	snprintf(fam, sizeof fam, "reclaim_%s_%s_seconds", #sec, #name);       \
	prom_hist(fp, fam, help, ", all workers",                              \
		  &s->total.STATS_HIST(sec, name));                            \
	snprintf(fam, sizeof fam, "reclaim_worker_%s_%s_seconds", #sec,        \
		 #name);                                                       \
	prom_header(fp, fam, help, "seconds", "histogram", ", per worker");    \
	for (i = 0; i < s->nworkers; i++) {                                    \
		snprintf(labels, sizeof labels, "worker=\"%zu\"", i);          \
		prom_hist_series(fp, fam, labels,                              \
				 &s->workers[i].STATS_HIST(sec, name));        \
	}
	STATS_WORKER_HISTOGRAMS(X)
#undef X
}

/* The watchdog level as one 0/1 series a level name. */
static void prom_level(FILE *fp, const char *level)
{
	static const char *const levels[] = {"off", "normal", "elevated",
					     "critical", "shedding"};
	size_t i;

	prom_header(fp, "reclaim_watchdog_level",
		    "the watchdog's level: 1 for the level in force", "state",
		    "gauge", "");
	for (i = 0; i < sizeof levels / sizeof levels[0]; i++)
		fprintf(fp, "reclaim_watchdog_level{level=\"%s\"} %d\n",
			levels[i], strcmp(level, levels[i]) == 0);
}

/* The types the last leak-suspected event named. */
static void prom_suspects(FILE *fp, const struct stats_suspects *sp)
{
	size_t i;

	prom_header(fp, "reclaim_watchdog_leak_suspect_objects",
		    "survivors of each type named by the last leak-suspected "
		    "event",
		    "objects", "gauge", "");
	for (i = 0; i < sp->n; i++) {
		fputs("reclaim_watchdog_leak_suspect_objects{type=\"", fp);
		prom_label(fp, sp->types[i].type);
		fprintf(fp, "\"} %llu\n",
			(unsigned long long)sp->types[i].last);
	}
}

/* Garbage per task that made it (leak debugging): objects and bytes. */
static void prom_garbage(FILE *fp, const struct stats_garbage *g)
{
	size_t i;

	prom_header(fp, "reclaim_garbage_collected_objects_total",
		    "objects the cycle collector found unreachable, by the "
		    "task that made them, while leak debugging was on",
		    "objects", "counter", "");
	for (i = 0; i < g->n; i++) {
		fputs("reclaim_garbage_collected_objects_total{task=\"", fp);
		prom_label(fp, g->tasks[i].task);
		fprintf(fp, "\"} %llu\n",
			(unsigned long long)g->tasks[i].objects);
	}
	prom_header(fp, "reclaim_garbage_collected_bytes_total",
		    "bytes of those objects, owned payloads included", "bytes",
		    "counter", "");
	for (i = 0; i < g->n; i++) {
		fputs("reclaim_garbage_collected_bytes_total{task=\"", fp);
		prom_label(fp, g->tasks[i].task);
		fprintf(fp, "\"} %llu\n", (unsigned long long)g->tasks[i].bytes);
	}
}

/* Standard families: those every Prometheus client library exports for its
 * process, with their names and help texts (no reclaim_ prefix). */
static const struct prom_standard {
	const char *family, *type, *help;
	size_t off;   /* the field in struct stats_process */
	int decimals; /* of the field's unit to the base unit: 9 ns, 3 ms */
} prom_standards[] = {
#define OFF(f) offsetof(struct stats_process, f)
    {"process_cpu_seconds_total", "counter",
     "Total user and system CPU time spent in seconds.",
     OFF(process_cpu_total_ns), 9},
    {"process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
     OFF(process_rss_bytes), 0},
    {"process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
     OFF(process_virtual_bytes), 0},
    {"process_open_fds", "gauge", "Number of open file descriptors.",
     OFF(process_open_fds), 0},
    {"process_max_fds", "gauge", "Maximum number of open file descriptors.",
     OFF(process_max_fds), 0},
    {"process_start_time_seconds", "gauge",
     "Start time of the process since unix epoch in seconds.",
     OFF(process_start_time_ms), 3},
#undef OFF
};

/* v in units of 10^-decimals, exactly, as a decimal number. */
static void prom_fixed(FILE *fp, uint64_t v, int decimals)
{
	uint64_t div = 1;
	int i;

	for (i = 0; i < decimals; i++)
		div *= 10;
	if (decimals == 0)
		fprintf(fp, "%llu\n", (unsigned long long)v);
	else
		fprintf(fp, "%llu.%0*llu\n", (unsigned long long)(v / div),
			decimals, (unsigned long long)(v % div));
}

/* The standard process families, and reclaim_build_info. */
static void prom_standard(FILE *fp, const struct stats_process *p)
{
	const struct prom_standard *f;
	size_t i;

	for (i = 0; i < sizeof prom_standards / sizeof *prom_standards; i++) {
		f = &prom_standards[i];
		fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n%s ", f->family,
			f->help, f->family, f->type, f->family);
		prom_fixed(fp, *(const uint64_t *)((const char *)p + f->off),
			   f->decimals);
	}
	prom_header(fp, "reclaim_build_info",
		    "the version of reclaimd, as a label; always 1", "info",
		    "gauge", "");
	fputs("reclaim_build_info{version=\"", fp);
	prom_label(fp, p->version);
	fputs("\"} 1\n", fp);
}

/* The process-wide families: table fields, histograms, level, suspects. */
static void prom_process_all(FILE *fp, const struct stats_snapshot *s)
{
	char fam[PROM_NAME];

#define X(sec, name, kind, unit, help)                                         \
	prom_process(fp, #sec, #name, STATS_##kind, unit, help,                \
		     s->process.STATS_FIELD(sec, name));
	STATS_PROCESS_FIELDS(X)
#undef X
#define X(sec, name, help)                                                     \
	snprintf(fam, sizeof fam, "reclaim_%s_%s_seconds", #sec, #name);       \
	prom_hist(fp, fam, help, "", &s->process.STATS_HIST(sec, name));
	STATS_PROCESS_HISTOGRAMS(X)
#undef X
	prom_level(fp, s->process.watchdog_level);
	prom_suspects(fp, &s->process.suspects);
	prom_garbage(fp, &s->process.garbage);
	prom_standard(fp, &s->process);
}

/* The whole exposition; the caller frees it. */
char *prom_render(const struct stats_snapshot *s)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&text, &len);

	if (fp == NULL)
		return NULL;
	prom_process_all(fp, s);
	for (i = 0; i < sizeof prom_worker_fields / sizeof *prom_worker_fields;
	     i++)
		prom_worker(fp, s, &prom_worker_fields[i]);
	prom_worker_hists(fp, s);
	if (fclose(fp) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
