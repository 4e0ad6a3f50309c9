/*
 * Configuration: built-in defaults, then the INI file (through inih), then
 * each -s section.key=value. Every key is one row of config_keys, whose
 * default is parsed by the same function as the file's value, so a default
 * cannot disagree with the validation. Errors name the file, line and key.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config.h"
#include "reclaimd.h"
#include "sockpath.h"
#include "value.h"

struct config_key;
typedef int (*config_parse_fn)(struct config *cfg, void *field,
			       const char *value, char **cause);

struct config_key {
	const char *section;
	const char *name;
	const char *def;
	config_parse_fn parse;
	size_t offset;
};

/* The largest configuration file read: past it, a file is surely not one
 * (reclaimd.conf(5) says so). */
#define CONFIG_MAX_BYTES (1 << 20)
#define CONFIG_MAX_TEXT "1 MiB"

/* Keys the table may hold: config_load's per-key arrays. */
#define CONFIG_KEYS_MAX 48

/* The state of one load: where we are, and the first error. */
struct config_load {
	struct config *cfg;
	const char *file;
	int line;
	unsigned set_line[CONFIG_KEYS_MAX]; /* where each key was last set */
	const char *set_file[CONFIG_KEYS_MAX];
	enum { SET_DEFAULT, SET_FILE, SET_OVERRIDE } set_how[CONFIG_KEYS_MAX];
	bool defaults; /* setting the defaults (file and line are not) */
	unsigned set_order[CONFIG_KEYS_MAX]; /* later sets: larger numbers */
	unsigned order;
	char *error;
	bool oom; /* out of memory: config_load fails with no cause */
	char *text; /* the file, read whole */
	size_t len, pos;
	char section[64]; /* the file's current [section], for errors */
	char prev_key[96]; /* the key of its last key line in it */
};

static int parse_string(struct config *, void *, const char *, char **);
static int parse_mode(struct config *, void *, const char *, char **);
static int parse_group(struct config *, void *, const char *, char **);
static int parse_count(struct config *, void *, const char *, char **);
static int parse_duration(struct config *, void *, const char *, char **);
static int parse_listen(struct config *, void *, const char *, char **);
static int parse_workers(struct config *, void *, const char *, char **);
static int parse_thresholds(struct config *, void *, const char *, char **);
static int parse_size(struct config *, void *, const char *, char **);
static int parse_fraction(struct config *, void *, const char *, char **);
static int parse_watchdog_limit(struct config *, void *, const char *,
				char **);
static int parse_cgroup(struct config *, void *, const char *, char **);
static int parse_log_level(struct config *, void *, const char *, char **);
static int parse_limit(struct config *, void *, const char *, char **);
static int parse_bool(struct config *, void *, const char *, char **);
static int parse_modules(struct config *, void *, const char *, char **);
static int parse_share(struct config *, void *, const char *, char **);

#define KEY(sec, key, def, fn, field)                                          \
	{                                                                      \
		sec, key, def, fn, offsetof(struct config, field)              \
	}

/* Every key, with its default; conf/reclaimd.conf documents each. */
static const struct config_key config_keys[] = {
    KEY("control", "socket", "", parse_string, control_socket),
    KEY("control", "mode", "0660", parse_mode, control_mode),
    KEY("control", "group", "", parse_group, control_group),
    KEY("control", "max_connections", "64", parse_count,
	control_max_connections),
    KEY("control", "idle_timeout", "60s", parse_duration,
	control_idle_timeout_us),
    KEY("http", "listen", "127.0.0.1:8888", parse_listen, http_listen),
    KEY("http", "workers", "auto", parse_workers, http_workers),
    KEY("http", "drain_timeout", "5s", parse_duration, http_drain_timeout_us),
    KEY("http", "max_request_line", "8KiB", parse_limit, http_max_request_line),
    KEY("http", "max_header_bytes", "16KiB", parse_limit,
	http_max_header_bytes),
    KEY("http", "max_body_bytes", "1MiB", parse_limit, http_max_body_bytes),
    KEY("http", "idle_timeout", "30s", parse_duration, http_idle_timeout_us),
    KEY("http", "request_timeout", "30s", parse_duration,
	http_request_timeout_us),
    KEY("http", "keepalive", "true", parse_bool, http_keepalive),
    KEY("http", "retry_after", "1s", parse_duration, http_retry_after_us),
    KEY("http", "max_connections", "4096", parse_count, http_max_connections),
    KEY("tasks", "modules", "", parse_modules, tasks_modules),
    KEY("tasks", "max_running", "16", parse_count, tasks_max_running),
    KEY("tasks", "max_bytes", "25%", parse_share, tasks_max_bytes),
    KEY("metrics", "listen", "127.0.0.1:9187", parse_listen, metrics_listen),
    KEY("heap", "thresholds", "700,10,10", parse_thresholds, heap_thresholds),
    KEY("heap", "young_bytes", "8MiB", parse_size, heap_young_bytes),
    KEY("heap", "incremental", "true", parse_bool, heap_incremental),
    KEY("heap", "increment_objects", "10000", parse_count,
	heap_increment_objects),
    KEY("watchdog", "enabled", "true", parse_bool, watchdog.enabled),
    KEY("watchdog", "limit", "auto", parse_watchdog_limit,
	watchdog.limit_bytes),
    KEY("watchdog", "soft", "80%", parse_fraction, watchdog.soft),
    KEY("watchdog", "hard", "95%", parse_fraction, watchdog.hard),
    KEY("watchdog", "hysteresis", "5%", parse_fraction, watchdog.hysteresis),
    KEY("watchdog", "cgroup", "auto", parse_cgroup, watchdog.cgroup),
    KEY("forensics", "report_dir", "", parse_string, forensics_report_dir),
    KEY("forensics", "report_interval", "10m", parse_duration,
	forensics_report_interval_us),
    KEY("log", "level", "info", parse_log_level, log_level),
};
#define CONFIG_NKEYS (sizeof config_keys / sizeof config_keys[0])
_Static_assert(CONFIG_NKEYS <= CONFIG_KEYS_MAX, "grow CONFIG_KEYS_MAX");

/* The file read when no -c is given, if it exists. */
const char *config_default_path(void)
{
	return RECLAIM_SYSCONFDIR "/reclaim/reclaimd.conf";
}

/*
 * Parsers: 0, or -1 with *cause saying why; -1 with *cause NULL means out of
 * memory, as in varlink.c. A load that runs out of memory fails whatever the
 * file says (config_load: NULL with *cause NULL), so a reload keeps the old
 * configuration and start-up stops with "out of memory". Every value of a
 * kind is read by common/value.c's parser of that kind (sizes, fractions,
 * durations, booleans, counts), so the file, -s and reclaimctl agree
 * (reclaimd.conf(5), VALUES).
 */

/* Free a string field and store a copy of value. */
static int parse_string(struct config *cfg, void *field, const char *value,
			char **cause)
{
	char **s = field;

	free(*s);
	*s = strdup(value);
	return *s != NULL ? 0 : -1; /* no cause: out of memory */
}

/* An octal file mode such as 0660. */
static int parse_mode(struct config *cfg, void *field, const char *value,
		      char **cause)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 8);
	if (*value == '\0' || *end != '\0' || errno != 0 || v > 0777) {
		*cause = strdup("expected an octal mode such as 0660");
		return -1;
	}
	*(unsigned *)field = (unsigned)v;
	return 0;
}

/* A group name or number that must exist; "" for none. A number is a gid
 * only when no group has it as its name, and it must exist too. */
static int parse_group(struct config *cfg, void *field, const char *value,
		       char **cause)
{
	struct group *gr = NULL;
	char *end;
	unsigned long v;

	cfg->control_gid = (gid_t)-1;
	if (*value != '\0') {
		gr = getgrnam(value);
		errno = 0;
		v = strtoul(value, &end, 10);
		if (gr == NULL && *value >= '0' && *value <= '9' &&
		    *end == '\0' && errno == 0 && v < UINT_MAX)
			gr = getgrgid((gid_t)v);
		if (gr == NULL) {
			*cause = strdup("no such group");
			return -1;
		}
		cfg->control_gid = gr->gr_gid;
	}
	return parse_string(cfg, field, value, cause);
}

/* A count from 1 up. */
static int parse_count(struct config *cfg, void *field, const char *value,
		       char **cause)
{
	uint64_t v;

	if (value_counts(value, &v, 1, 1000000, NULL, 0) != 0 || v == 0) {
		*cause = strdup("expected a number from 1 to 1000000");
		return -1;
	}
	*(uint64_t *)field = v;
	return 0;
}

/* A value.h parser's sentence as the cause; -1. */
static int value_cause(char **cause, const char *why)
{
	*cause = strdup(why);
	return -1;
}

/* A duration: 500ms, 60s, 2m, 1h, 250us; a bare number is seconds. */
static int parse_duration(struct config *cfg, void *field, const char *value,
			  char **cause)
{
	char why[VALUE_ERR_LEN];

	if (value_duration(value, field, why, sizeof why) != 0)
		return value_cause(cause, why);
	return 0;
}

/* host:port, [v6]:port, or "off" (stored as ""). */
static int parse_listen(struct config *cfg, void *field, const char *value,
			char **cause)
{
	const char *colon = strrchr(value, ':');
	uint64_t port;

	if (strcmp(value, "off") == 0 || *value == '\0')
		return parse_string(cfg, field, "", cause);
	if (colon == NULL || colon == value ||
	    value_counts(colon + 1, &port, 1, 65535, NULL, 0) != 0 ||
	    (value[0] == '[' && colon[-1] != ']')) {
		*cause = strdup("expected host:port such as 127.0.0.1:8888, "
				"[::1]:8888 or off");
		return -1;
	}
	return parse_string(cfg, field, value, cause);
}

/* "auto" (one per online CPU) or 1 to 256. */
static int parse_workers(struct config *cfg, void *field, const char *value,
			 char **cause)
{
	uint64_t v;

	if (strcmp(value, "auto") == 0) {
		*(uint64_t *)field = 0;
		return 0;
	}
	if (value_counts(value, &v, 1, 256, NULL, 0) != 0 || v == 0) {
		*cause = strdup("expected auto or a number from 1 to 256");
		return -1;
	}
	*(uint64_t *)field = v;
	return 0;
}

/* Three counts such as 700,10,10. */
static int parse_thresholds(struct config *cfg, void *field, const char *value,
			    char **cause)
{
	if (value_counts(value, field, RCL_GENERATIONS, UINT32_MAX, NULL, 0) !=
	    0) {
		*cause = strdup("expected three counts such as 700,10,10");
		return -1;
	}
	return 0;
}

/* A size in bytes such as 8MiB; 0 is allowed. */
static int parse_size(struct config *cfg, void *field, const char *value,
		      char **cause)
{
	char why[VALUE_ERR_LEN];

	if (value_size(value, field, why, sizeof why) != 0)
		return value_cause(cause, why);
	return 0;
}

/* A fraction of the limit: 80% or 0.8. */
static int parse_fraction(struct config *cfg, void *field, const char *value,
			  char **cause)
{
	char why[VALUE_ERR_LEN];

	if (value_fraction(value, field, why, sizeof why) != 0)
		return value_cause(cause, why);
	return 0;
}

/* A share of memory: a size such as 64MiB, a percentage of the limit in
 * force such as 25%, or 0 for none. */
static int parse_share(struct config *cfg, void *field, const char *value,
		       char **cause)
{
	struct config_share *sh = field;
	size_t n = strlen(value);
	double f;

	if (n > 1 && value[n - 1] == '%') {
		if (value_fraction(value, &f, NULL, 0) != 0 || f <= 0) {
			*cause = strdup("expected a percentage of the limit "
					"above 0% and at most 100%, such as "
					"25%");
			return -1;
		}
		sh->bytes = 0;
		sh->fraction = f;
		return 0;
	}
	if (value_size(value, &sh->bytes, NULL, 0) != 0) {
		*cause = strdup("expected a percentage of the limit such as "
				"25%, or " VALUE_SIZE_GRAMMAR ", such as 64MiB, "
				"or 0 for none");
		return -1;
	}
	sh->fraction = 0;
	return 0;
}

/* A size limit from 64 bytes to 1 GiB. */
static int parse_limit(struct config *cfg, void *field, const char *value,
		       char **cause)
{
	char why[VALUE_ERR_LEN];
	uint64_t v;

	if (value_size(value, &v, why, sizeof why) != 0)
		return value_cause(cause, why);
	if (v < 64 || v > ((uint64_t)1 << 30)) {
		*cause = strdup("out of range: expected a size from 64 bytes "
				"to 1GiB, such as 8KiB");
		return -1;
	}
	*(uint64_t *)field = v;
	return 0;
}

/* true or false (also yes/no, on/off, 1/0). */
static int parse_bool(struct config *cfg, void *field, const char *value,
		      char **cause)
{
	char why[VALUE_ERR_LEN];

	if (value_bool(value, field, why, sizeof why) != 0)
		return value_cause(cause, why);
	return 0;
}

/* watchdog.limit: "auto" (0: the cgroup's, found at start) or a size
 * above 0. */
static int parse_watchdog_limit(struct config *cfg, void *field,
				const char *value, char **cause)
{
	char why[VALUE_ERR_LEN];
	uint64_t v;

	if (strcasecmp(value, "auto") == 0) {
		*(uint64_t *)field = 0;
		return 0;
	}
	if (value_size(value, &v, why, sizeof why) != 0)
		return value_cause(cause, why);
	if (v == 0) {
		*cause = strdup("a limit of 0 bytes is not a limit (use "
				"'auto' for the cgroup's)");
		return -1;
	}
	*(uint64_t *)field = v;
	return 0;
}

/* watchdog.cgroup: "auto" (stored as "": the process's own) or an absolute
 * directory that fits rcl_watchdog_config's cgroup. */
static int parse_cgroup(struct config *cfg, void *field, const char *value,
			char **cause)
{
	char *dir = field;

	if (strcasecmp(value, "auto") == 0 || value[0] == '\0') {
		dir[0] = '\0';
		return 0;
	}
	if (value[0] != '/')
		return value_cause(cause, "not an absolute directory");
	if (strlen(value) >= RCL_WATCHDOG_PATH_MAX) {
		if (asprintf(cause, "the directory is longer than %d bytes",
			     RCL_WATCHDOG_PATH_MAX - 1) < 0)
			*cause = NULL;
		return -1;
	}
	strcpy(dir, value);
	return 0;
}

/* Plugins to load: each is opened and checked now (plugin.c), so a bad one
 * is an error naming this file and line. */
static int parse_modules(struct config *cfg, void *field, const char *value,
			 char **cause)
{
	if (plugin_check(value, cause) != 0)
		return -1;
	return parse_string(cfg, field, value, cause);
}

/* A syslog level name: err, warning, notice, info, debug. */
static int parse_log_level(struct config *cfg, void *field, const char *value,
			   char **cause)
{
	int level = log_level_parse(value);

	if (level < 0) {
		*cause = strdup("expected err, warning, notice, info or debug");
		return -1;
	}
	*(int *)field = level;
	return 0;
}

/* The row for section.name, or NULL. */
static const struct config_key *find_key(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++) {
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

/* Record the first error (see load_error), prefixed with where it was
 * found; NULL why: out of memory. */
static void fail(struct config_load *ld, const char *section, const char *name,
		 const char *why)
{
	int n;

	if (ld->error != NULL || ld->oom)
		return;
	if (why == NULL)
		n = -1;
	else if (ld->file == NULL)
		n = asprintf(&ld->error, "-s %s.%s: %s", section, name, why);
	else if (ld->line > 0)
		n = asprintf(&ld->error, "%s:%d: %s.%s: %s", ld->file, ld->line,
			     section, name, why);
	else
		n = asprintf(&ld->error, "%s: %s.%s: %s", ld->file, section,
			     name, why);
	if (n < 0) {
		ld->error = NULL;
		ld->oom = true;
	}
}

/* Record the first error, a whole message from fmt. */
static void load_error(struct config_load *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void load_error(struct config_load *ld, const char *fmt, ...)
{
	va_list ap;

	if (ld->error != NULL || ld->oom)
		return;
	va_start(ap, fmt);
	if (vasprintf(&ld->error, fmt, ap) < 0) {
		ld->error = NULL;
		ld->oom = true;
	}
	va_end(ap);
}

/* Set one key from its text; false (with the error recorded) if bad. */
static bool set_key(struct config_load *ld, const char *section,
		    const char *name, const char *value)
{
	const struct config_key *k = find_key(section, name);
	char *cause = NULL, *why = NULL;
	size_t i;

	if (k == NULL) {
		fail(ld, section, name, "unknown key");
		return false;
	}
	if (k->parse(ld->cfg, (char *)ld->cfg + k->offset, value, &cause) !=
	    0) {
		if (cause == NULL ||
		    asprintf(&why, "bad value \"%s\": %s", value, cause) < 0)
			why = NULL;
		fail(ld, section, name, why);
		free(why);
		free(cause);
		return false;
	}
	i = (size_t)(k - config_keys);
	ld->set_line[i] = (unsigned)ld->line;
	ld->set_file[i] = ld->file;
	ld->set_how[i] = ld->defaults ? SET_DEFAULT
			 : ld->file != NULL ? SET_FILE
					    : SET_OVERRIDE;
	ld->set_order[i] = ++ld->order;
	return true;
}

/* inih's callback for each name = value. */
static int config_ini_handler(void *user, const char *section, const char *name,
			      const char *value)
{
	return set_key(user, section, name, value) ? 1 : 0;
}

/* "section.name" for an error about a line: the line's first word (before
 * any = or :) in the section above it (the name alone before any section);
 * a [section] line as written; "[section]" if it has no word. */
static void line_key(const struct config_load *ld, const char *line,
		     char *buf, size_t len)
{
	size_t n;

	line += strspn(line, " \t\r\v\f");
	n = strcspn(line, *line == '[' ? "\r\n" : " \t=:;#[\r\n");
	if (n > 64)
		n = 64;
	if (*line == '[' || (n > 0 && ld->section[0] == '\0'))
		snprintf(buf, len, "%.*s", (int)n, line);
	else if (n > 0)
		snprintf(buf, len, "%s.%.*s", ld->section, (int)n, line);
	else
		snprintf(buf, len, "[%s]", ld->section);
}

/*
 * What inih would take but this format does not, on one physical line of
 * len bytes (its newline included) that inih reads into num bytes: a
 * longer line (inih keeps its start and drops the rest unread), a NUL byte
 * (the value would end there), an indented line (inih joins it to the
 * value above as a continuation, which sets that key again), ':' as the
 * separator; and what inih refuses too (no '=', no ']'), so that the error
 * names the key. NULL, or why not.
 */
static const char line_indented[] =
    "an indented line, which INI parsers read as the continuation of the "
    "value above (start each key and [section] at the beginning of its "
    "line)";
static const char *line_error(const char *line, size_t len, int num)
{
	/* what inih's lskip() skips: isspace() but the line's end */
	const char *start = line + strspn(line, " \t\r\v\f");

	if (memchr(line, '\0', len) != NULL)
		return "a NUL byte in the line";
	if (len >= (size_t)num)
		return "the line is too long for the INI parser";
	if (*start == '\n' || *start == '\0' || *start == '#' || *start == ';')
		return NULL; /* blank, or a comment */
	if (start != line)
		return line_indented;
	if (*start == '[')
		return memchr(start, ']', len - (size_t)(start - line)) != NULL
			   ? NULL
			   : "expected [section]";
	switch (start[strcspn(start, "=:\n")]) {
	case '=':
		return NULL;
	case ':':
		return "expected key = value (':' is not a separator)";
	default:
		return "expected key = value";
	}
}

/* Remember the section a [section] line opens and the key a key line
 * sets, for line_key and the indented line's error. */
static void line_section(struct config_load *ld, const char *line)
{
	if (*line == '[') {
		snprintf(ld->section, sizeof ld->section, "%.*s",
			 (int)strcspn(line + 1, "]\r\n"), line + 1);
		ld->prev_key[0] = '\0';
	} else if (*line != '\n' && *line != '\r' && *line != '#' &&
		   *line != ';') {
		line_key(ld, line, ld->prev_key, sizeof ld->prev_key);
	}
}

/* inih reads through this, one physical line a call, from the text
 * read_file read; a line line_error refuses ends the parse there. */
static char *config_ini_reader(char *str, int num, void *stream)
{
	struct config_load *ld = stream;
	const char *line = ld->text + ld->pos, *nl, *why;
	size_t len, skip = 0;
	char key[96];

	if (ld->pos >= ld->len || ld->error != NULL || ld->oom)
		return NULL;
	nl = memchr(line, '\n', ld->len - ld->pos);
	len = nl != NULL ? (size_t)(nl - line) + 1 : ld->len - ld->pos;
	ld->pos += len;
	ld->line++;
	if (ld->line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
		skip = 3; /* a UTF-8 byte order mark, which inih skips */
	why = line_error(line + skip, len - skip, num - (int)skip);
	if (why != NULL) {
		line_key(ld, line + skip, key, sizeof key);
		if (why == line_indented && ld->prev_key[0] != '\0')
			snprintf(key, sizeof key, "%s", ld->prev_key);
		load_error(ld, "%s:%d: %s: %s", ld->file, ld->line, key, why);
		return NULL;
	}
	line_section(ld, line + skip);
	memcpy(str, line, len);
	str[len] = '\0';
	return str;
}

/* Read fd, whose size fstat gave, into ld->text (NUL-terminated, in case a
 * line check runs off a line): NULL, or why not. A file that grows past
 * CONFIG_MAX_BYTES as it is read is refused too. */
static const char *read_all(struct config_load *ld, int fd, size_t size)
{
	size_t cap = size + 2; /* the last read then sees the end */
	ssize_t n;
	char *p;

	ld->text = malloc(cap);
	for (;;) {
		if (ld->text == NULL) {
			ld->oom = true;
			return "out of memory";
		}
		n = read(fd, ld->text + ld->len, cap - 1 - ld->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		ld->len += (size_t)n;
		if (ld->len > CONFIG_MAX_BYTES)
			return "larger than " CONFIG_MAX_TEXT;
		if (ld->len == cap - 1) {
			cap = cap * 2 < CONFIG_MAX_BYTES + 2 ? cap * 2
							      : CONFIG_MAX_BYTES + 2;
			p = realloc(ld->text, cap);
			if (p == NULL)
				free(ld->text);
			ld->text = p;
		}
	}
	if (n < 0)
		return strerror(errno);
	ld->text[ld->len] = '\0';
	return NULL;
}

/*
 * Read the file at path whole into ld->text. Only a regular file, or the
 * null device (-c /dev/null: the defaults alone): a FIFO, another device
 * such as /dev/zero, or a directory is refused, as decided by fstat on the
 * descriptor opened (so the path cannot change in between), opened
 * O_NONBLOCK so that a FIFO cannot block the open. -1 with the error
 * recorded.
 */
static int read_file(struct config_load *ld, const char *path)
{
	const char *why = NULL;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		load_error(ld, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0)
		why = strerror(errno);
	else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
		why = read_all(ld, fd, 0); /* /dev/null: empty, as ssh -F */
	else if (S_ISDIR(st.st_mode))
		why = "a directory, not a file";
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_size > CONFIG_MAX_BYTES)
		why = "larger than " CONFIG_MAX_TEXT;
	else
		why = read_all(ld, fd, (size_t)st.st_size);
	close(fd);
	if (why != NULL)
		load_error(ld, "%s: cannot read: %s", path, why);
	return why != NULL ? -1 : 0;
}

/* Read the file into ld->cfg; -1 with ld->error set on any error. */
static int load_file(struct config_load *ld, const char *path)
{
	int rc;

	ld->file = path;
	ld->line = 0;
	if (read_file(ld, path) == 0) {
		rc = ini_parse_stream(config_ini_reader, ld, config_ini_handler,
				      ld);
		if (rc > 0)
			load_error(ld,
				   "%s:%d: syntax error (expected [section] or "
				   "key = value)",
				   path, rc);
	}
	free(ld->text);
	ld->text = NULL;
	return ld->error != NULL || ld->oom ? -1 : 0;
}

/* Apply one -s section.key=value. */
static int load_override(struct config_load *ld, const char *arg)
{
	const char *eq = strchr(arg, '='), *dot = strchr(arg, '.');
	char section[64], name[64];

	ld->file = NULL;
	ld->line = 0;
	if (eq == NULL || dot == NULL || dot > eq ||
	    (size_t)(dot - arg) >= sizeof section ||
	    (size_t)(eq - dot - 1) >= sizeof name) {
		load_error(ld, "-s %s: expected section.key=value", arg);
		return -1;
	}
	snprintf(section, sizeof section, "%.*s", (int)(dot - arg), arg);
	snprintf(name, sizeof name, "%.*s", (int)(eq - dot - 1), dot + 1);
	return set_key(ld, section, name, eq + 1) ? 0 : -1;
}

/* Fill every key from its default; -1 if out of memory. */
static int load_defaults(struct config_load *ld)
{
	size_t i;
	bool ok = true;

	ld->cfg->control_gid = (gid_t)-1;
	rcl_watchdog_config_init(&ld->cfg->watchdog);
	ld->defaults = true;
	for (i = 0; i < CONFIG_NKEYS; i++) {
		ok = set_key(ld, config_keys[i].section, config_keys[i].name,
			     config_keys[i].def) &&
		     ok;
	}
	ld->defaults = false;
	if (!ok && !ld->oom) {
		fprintf(stderr, "reclaimd: built-in default is bad: %s\n",
			ld->error);
		abort();
	}
	return ok ? 0 : -1;
}

/* Whether the sentence err names key k ("watchdog.soft", not as the start
 * of a longer name). */
static bool names_key(const char *err, const struct config_key *k)
{
	size_t ns = strlen(k->section), nn = strlen(k->name);
	const char *p;

	for (p = strstr(err, k->section); p != NULL;
	     p = strstr(p + 1, k->section)) {
		if (p[ns] == '.' && strncmp(p + ns + 1, k->name, nn) == 0 &&
		    p[ns + 1 + nn] != '_' &&
		    !(p[ns + 1 + nn] >= 'a' && p[ns + 1 + nn] <= 'z'))
			return true;
	}
	return false;
}

/* Where key i's value came from, for an error: "set at FILE:LINE", "set
 * by -s" or "the default". */
static void set_where(const struct config_load *ld, size_t i, char *buf,
		      size_t len)
{
	if (ld->set_how[i] == SET_FILE)
		snprintf(buf, len, "is set at %s:%u", ld->set_file[i],
			 ld->set_line[i]);
	else
		snprintf(buf, len, "%s", ld->set_how[i] == SET_OVERRIDE
					     ? "is set by -s"
					     : "is the default");
}

/*
 * A check across the keys of section failed with the sentence err: report
 * it where the last set of the keys err names was made, under that key,
 * and say where each other key it names came from. If err names none, the
 * section's last key set takes the blame.
 */
static void cross_key_error(struct config_load *ld, const char *section,
			    const char *err)
{
	char others[512] = "", where[320], msg[800];
	size_t i, last = CONFIG_NKEYS, off = 0;
	bool named = false;

	for (i = 0; i < CONFIG_NKEYS; i++)
		named |= names_key(err, &config_keys[i]);
	for (i = 0; i < CONFIG_NKEYS; i++) {
		if ((named ? names_key(err, &config_keys[i])
			   : strcmp(config_keys[i].section, section) == 0) &&
		    (last == CONFIG_NKEYS ||
		     ld->set_order[i] > ld->set_order[last]))
			last = i;
	}
	for (i = 0; named && i < CONFIG_NKEYS && off < sizeof others; i++) {
		if (i == last || !names_key(err, &config_keys[i]))
			continue;
		set_where(ld, i, where, sizeof where);
		off += (size_t)snprintf(others + off, sizeof others - off,
					"%s%s.%s %s", off ? "; " : " (",
					config_keys[i].section,
					config_keys[i].name, where);
	}
	if (off > 0 && off < sizeof others - 1)
		strcat(others, ")");
	ld->file = ld->set_how[last] == SET_FILE ? ld->set_file[last]
		   : ld->set_how[last] == SET_DEFAULT ? "built-in default"
						      : NULL;
	ld->line = (int)ld->set_line[last];
	snprintf(msg, sizeof msg, "%s%s", err, others);
	fail(ld, config_keys[last].section, config_keys[last].name, msg);
}

/* Checks across keys (the watchdog's); see cross_key_error. */
static int validate(struct config_load *ld)
{
	struct config *cfg = ld->cfg;
	char err[256];

	if (rcl_watchdog_config_validate(&cfg->watchdog, err, sizeof err) !=
	    0) {
		cross_key_error(ld, "watchdog", err);
		return -1;
	}
	if (*cfg->control_socket == '\0') {
		free(cfg->control_socket);
		cfg->control_socket = sockpath_find(false);
		if (cfg->control_socket == NULL) {
			ld->oom = true;
			return -1;
		}
	}
	return 0;
}

/* Load the configuration: defaults, file, overrides; NULL and cause if bad,
 * NULL and a NULL cause if out of memory. */
struct config *config_load(const struct config_source *src, char **cause)
{
	struct config_load ld = {0};
	const char *path = src->path;
	size_t i;

	*cause = NULL;
	ld.cfg = calloc(1, sizeof *ld.cfg);
	if (ld.cfg == NULL)
		return NULL;
	if (load_defaults(&ld) != 0)
		goto bad;
	if (path == NULL && access(config_default_path(), F_OK) == 0)
		path = config_default_path();
	if (path != NULL && load_file(&ld, path) != 0)
		goto bad;
	for (i = 0; i < src->noverrides; i++) {
		if (load_override(&ld, src->overrides[i]) != 0)
			goto bad;
	}
	if (validate(&ld) != 0)
		goto bad;
	return ld.cfg;
bad:
	if (ld.oom) {
		free(ld.error); /* a file error found before memory ran out */
		ld.error = NULL;
	}
	*cause = ld.error;
	config_destroy(ld.cfg);
	return NULL;
}

/* Free a configuration; NULL is a no-op. */
void config_destroy(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->control_socket);
	free(cfg->control_group);
	free(cfg->http_listen);
	free(cfg->metrics_listen);
	free(cfg->tasks_modules);
	free(cfg->forensics_report_dir);
	free(cfg);
}

/* Worker threads to run: the configured number, or one per online CPU. */
size_t config_workers(const struct config *cfg)
{
	long n;

	if (cfg->http_workers != 0)
		return (size_t)cfg->http_workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}
