/* Deprecated: the task API is <reclaimd/task.h>, reclaimd's and not
 * libreclaim's; this name is kept so that plugins written for it build. */
#include <reclaimd/task.h>
