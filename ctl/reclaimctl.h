/* reclaimctl: the operator's client; one file and one table row a command. */
#ifndef RECLAIMCTL_H
#define RECLAIMCTL_H

#include <stdbool.h>
#include <stdio.h>

#include "json.h"

/* Exit statuses (reclaimctl(1), EXIT STATUS). */
enum {
	CTL_OK = 0,
	CTL_DAEMON_ERROR = 1,
	CTL_USAGE = 2,
	CTL_UNREACHABLE = 3,
	CTL_GARBAGE_FOUND = 1, /* garbage --check: the collector found some */
};

struct client;
/* A reply that continues (a call made with "more"), as it comes. */
typedef void (*client_each)(const struct json *reply, void *arg);

struct ctl {
	const char *socket;
	bool json;
	struct client *client;
	const struct cmd_entry *cmd;
	int timeout_ms;	    /* for a reply; 0: the client's default, -1: none */
	bool progress_line; /* a progress line is drawn on stderr (run) */
};

struct cmd_entry {
	const char *name;
	const char *usage; /* the arguments, for help and errors */
	const char *help;  /* one line */
	int min_args;
	int max_args;
	int (*exec)(struct ctl *ctl, int argc, char **argv);
};

/* cmd.c */
extern const struct cmd_entry *const cmd_table[];
extern const size_t cmd_count;
const struct cmd_entry *cmd_find(const char *name);
int ctl_call(struct ctl *ctl, const char *method, const struct json *params,
	     struct json **reply);
void ctl_erase_progress(struct ctl *ctl);
int ctl_call_more(struct ctl *ctl, const char *method,
		  const struct json *params, client_each each, void *arg,
		  struct json **reply);
int ctl_usage(struct ctl *ctl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int ctl_print_json(const struct json *j);
int ctl_simple(struct ctl *ctl, const char *method, const struct json *params,
	       int (*human)(const struct json *reply));

/* client.c: a blocking varlink client. */
struct client *client_connect(const char *path, char **cause);
void client_destroy(struct client *c);
void client_set_timeout(struct client *c, int ms);
int client_call(struct client *c, const char *method, const struct json *params,
		struct json **reply, char **error, char **cause);
int client_call_more(struct client *c, const char *method,
		     const struct json *params, client_each each, void *arg,
		     struct json **reply, char **error, char **cause);

/* table.c: aligned columns. */
struct table;
struct table *table_create(size_t ncols, const char *const *headers);
void table_right(struct table *t, size_t col);
void table_add(struct table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void table_print(struct table *t, FILE *fp);
void table_destroy(struct table *t);
void kv_print(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
