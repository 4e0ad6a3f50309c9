/* http-frame.c: each HTTP connection's request framing, checked before
 * evhttp parses it. */
#ifndef RECLAIMD_HTTP_FRAME_H
#define RECLAIMD_HTTP_FRAME_H

#include <event2/buffer.h>
#include <stddef.h>
#include <stdint.h>

struct http_frame;
struct http_frame *http_frame_new(int worker, size_t max_head,
				  uint64_t max_body);
void http_frame_free(struct http_frame *f);
void http_frame_input(struct http_frame *f, struct evbuffer *buf,
		      const struct evbuffer_cb_info *info);

#endif
