/*
 * Fan-out: a control call that needs every worker sends each a command and
 * is answered when the last one comes back; the main loop never waits.
 */
#include <stdlib.h>

#include "reclaimd.h"

/*
 * One command of type for each worker; done runs when all have replied.
 * NULL when out of memory, nothing sent: a method answers call_oom, the
 * watchdog and reload carry on without this round. Once created, posting
 * cannot fail (the commands are linked in place), so no answer is lost.
 */
struct fanout *fanout_create(struct server *srv, struct call *call,
			     enum wcmd_type type, fanout_done done)
{
	struct fanout *fan;
	size_t i;

	fan = calloc(1, sizeof *fan + srv->nworkers * sizeof fan->cmds[0]);
	if (fan == NULL) {
		log_warn("out of memory: cannot reach the workers");
		return NULL;
	}
	fan->srv = srv;
	fan->call = call;
	fan->done = done;
	fan->n = srv->nworkers;
	for (i = 0; i < fan->n; i++) {
		fan->cmds[i].type = type;
		fan->cmds[i].worker = srv->workers[i];
		fan->cmds[i].fan = fan;
	}
	return fan;
}

/* Post every command (fill their inputs first). */
void fanout_send(struct fanout *fan)
{
	size_t i;

	fan->pending = fan->n;
	if (fan->n == 0) {
		fan->done(fan);
		return;
	}
	for (i = 0; i < fan->n; i++)
		worker_post(fan->cmds[i].worker, &fan->cmds[i]);
}

/* A worker answered; the last answer completes the fan-out. */
void fanout_reply(struct wcmd *cmd)
{
	struct fanout *fan = cmd->fan;

	if (fan == NULL || --fan->pending > 0)
		return;
	fan->done(fan);
}

/* Free a fan-out and what its workers returned. */
void fanout_destroy(struct fanout *fan)
{
	size_t i;

	if (fan == NULL)
		return;
	for (i = 0; i < fan->n; i++) {
		census_finish(&fan->cmds[i].out.census);
		garbage_report_finish(&fan->cmds[i].out.garbage);
	}
	free(fan);
}
