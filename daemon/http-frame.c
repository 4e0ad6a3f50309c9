/*
 * Request framing, checked before evhttp parses it. evhttp 2.1 reads a
 * request's length from shapes that RFC 9112 calls ambiguous, and so can be
 * made to read a different request than a proxy in front of it did
 * (request smuggling): of two Content-Length fields the first wins,
 * "Content-Length: +5" is 5, a chunk size "0x5" is 5, an unknown
 * Transfer-Encoding means no body, "Content-Length : 5" is not a length at
 * all (so the body is read as the next request); and a legal chunk
 * extension ("5;foo=bar") fails the request with 413.
 *
 * So each HTTP connection's bytes are framed here before evhttp reads them:
 * a callback on the connection's input buffer (http-conn.c) takes the bytes
 * each read adds out, and puts back what is framed. (A libevent filter
 * bufferevent cannot do it: evhttp would take a reply handed to the filter
 * for one written, and shut the socket down before it is.) A request is
 * passed on only once its line and header fields are whole and its length
 * is certain, and then only in these shapes:
 *
 *   - no body, or a body of exactly one Content-Length (1*DIGIT; repeated
 *     fields must agree), passed on as it arrives;
 *   - a chunked body (Transfer-Encoding: chunked, alone), decoded here and
 *     held whole (at most http.max_body_bytes), then passed on with a
 *     Content-Length in place of the Transfer-Encoding; chunk extensions
 *     and trailer fields are dropped, as RFC 9112 allows.
 *
 * Anything else is refused with 400 (RFC 9112 sections 5.1, 6.1, 6.3, 7.1):
 * a field name with whitespace or another non-token byte (also a space
 * before the colon), a folded line, a NUL, Content-Length not 1*DIGIT or
 * two that differ, a Transfer-Encoding other than "chunked" or along with
 * Content-Length or in an HTTP/1.0 request, a body on HEAD or TRACE (evhttp
 * reads none there), a chunk size that is not hexadecimal digits, data not
 * followed by CRLF. Refusing passes evhttp a malformed request line in the
 * request's place, which evhttp answers 400 with "Connection: close"; every
 * later byte is dropped. Nothing refused reaches a task. A chunked body over
 * http.max_body_bytes is passed on as a head whose Content-Length says so,
 * which evhttp answers 413. A head longer than evhttp's own backstop
 * (http.c) is refused here as evhttp would.
 */
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-frame.h"
#include "reclaimd.h"

/* The longest chunk-size line held, extensions included. */
#define FRAME_CHUNK_LINE_MAX 4096
/* At most this many hex digits in a chunk size: below 2^60, no overflow. */
#define FRAME_CHUNK_DIGITS 15
/* Decimal digits in a Content-Length: below 10^18, no overflow. */
#define FRAME_LENGTH_DIGITS 18

enum frame_state {
	FS_HEAD,       /* reading a request line and header fields */
	FS_BODY,       /* passing a Content-Length body on */
	FS_CHUNK_SIZE, /* chunked: a chunk-size line */
	FS_CHUNK_DATA, /* chunked: a chunk's data, held */
	FS_CHUNK_END,  /* chunked: the CRLF after the data */
	FS_TRAILER,    /* chunked: trailer fields, to an empty line */
	FS_REFUSED,    /* refused: every later byte is dropped */
};

struct http_frame {
	int worker; /* for the log */
	struct evbuffer *raw;	/* bytes read, not yet framed */
	struct evbuffer *tmp;
	size_t pending;		/* framed bytes evhttp has not read */
	size_t scanned;		/* of raw, searched for no line end */
	bool busy;		/* moving bytes: our own changes */
	size_t max_head;
	uint64_t max_body;
	enum frame_state state;
	struct evbuffer *dst;  /* what evhttp reads */
	struct evbuffer *head; /* the request line and fields, held */
	struct evbuffer *body; /* a chunked body, decoded, held */
	size_t nlines;	       /* of the head so far */
	size_t trailer;	       /* bytes of trailer fields */
	uint64_t left;	       /* FS_BODY, FS_CHUNK_DATA: bytes to go */
	uint64_t length;       /* the Content-Length, if has_length */
	bool has_length;
	bool chunked;
	bool no_body; /* HEAD or TRACE */
	bool http10;
};

/* Forget the request's fields: the next one starts. */
static void frame_reset(struct http_frame *f)
{
	evbuffer_drain(f->head, evbuffer_get_length(f->head));
	evbuffer_drain(f->body, evbuffer_get_length(f->body));
	f->nlines = 0;
	f->trailer = 0;
	f->has_length = f->chunked = f->no_body = f->http10 = false;
	f->scanned = 0;
}

/* Refuse the request: evhttp reads a request line it answers 400. */
static int frame_refuse(struct http_frame *f, const char *why)
{
	static const char bad[] = "refused\r\n\r\n";

	log_worker(LOG_DEBUG, f->worker,
		   "worker %d: HTTP request refused (400): %s", f->worker, why);
	frame_reset(f);
	evbuffer_add(f->dst, bad, sizeof bad - 1);
	f->state = FS_REFUSED;
	return -1;
}

/* The next line of src without its end (CRLF, or LF as evhttp reads
 * lines) in *line (to free); 0 if none is whole yet, -1 if refused
 * (longer than max, a NUL, out of memory). A line that arrives a byte at a
 * time is searched once, not once a byte: src only grows at its end until
 * the line is read. */
static int frame_line(struct http_frame *f, struct evbuffer *src, size_t max,
		      char **line, size_t *len)
{
	struct evbuffer_ptr from, eol;
	size_t have = evbuffer_get_length(src), eol_len = 0;
	const unsigned char *p;

	if (evbuffer_ptr_set(src, &from, f->scanned, EVBUFFER_PTR_SET) != 0)
		evbuffer_ptr_set(src, &from, f->scanned = 0, EVBUFFER_PTR_SET);
	eol = evbuffer_search_eol(src, &from, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos < 0) {
		f->scanned = have > 0 ? have - 1 : 0; /* a CR, perhaps */
		return have > max ? frame_refuse(f, "a line too long") : 0;
	}
	f->scanned = 0;
	if ((size_t)eol.pos > max)
		return frame_refuse(f, "a line too long");
	/* a lone LF ends a line for evhttp, not for every proxy before us */
	if (eol_len != 2)
		return frame_refuse(f, "a line ended by LF alone");
	*line = evbuffer_readln(src, len, EVBUFFER_EOL_CRLF);
	if (*line == NULL)
		return frame_refuse(f, "out of memory");
	/* a CR or another control byte (HTAB aside) inside a line: a bare CR
	 * ends a line for some readers (RFC 9112 2.2) */
	for (p = (const unsigned char *)*line; p < (unsigned char *)*line + *len;
	     p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
			free(*line);
			return frame_refuse(f, "a control byte in a line");
		}
	}
	return 1;
}

/* Whether c may be in a field name (RFC 9110 tchar). */
static bool frame_tchar(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* The request line: method SP target SP version, one space each, the
 * version HTTP/1.1 or HTTP/1.0 exactly, so that evhttp (which strips
 * trailing spaces and reads "HTTP/%d.%d") reads the version we judged by;
 * is it HEAD or TRACE (no body), HTTP/1.0? evhttp checks the rest. */
static int frame_request_line(struct http_frame *f, const char *line)
{
	const char *sp1 = strchr(line, ' '), *sp2 = strrchr(line, ' ');

	if (sp1 == NULL || sp1 == line || sp2 == sp1 + 1 ||
	    strchr(sp1 + 1, ' ') != sp2)
		return frame_refuse(f, "a request line not of three parts");
	if (strcmp(sp2 + 1, "HTTP/1.1") != 0 && strcmp(sp2 + 1, "HTTP/1.0") != 0)
		return frame_refuse(f, "a version other than HTTP/1.1 or 1.0");
	f->no_body = strncmp(line, "HEAD ", 5) == 0 ||
		     strncmp(line, "TRACE ", 6) == 0;
	f->http10 = strcmp(sp2 + 1, "HTTP/1.0") == 0;
	return 0;
}

/* Content-Length: 1*DIGIT, the same in every such field. */
static int frame_length(struct http_frame *f, const char *v)
{
	size_t n = strspn(v, "0123456789");
	uint64_t length;

	if (n == 0 || v[n] != '\0' || n > FRAME_LENGTH_DIGITS)
		return frame_refuse(f, "a Content-Length not made of digits");
	length = strtoull(v, NULL, 10);
	if (f->has_length && f->length != length)
		return frame_refuse(f, "two different Content-Length values");
	f->has_length = true;
	f->length = length;
	return 0;
}

/* Transfer-Encoding: chunked alone; 1: the field is dropped (the body is
 * passed on with a Content-Length instead). */
static int frame_coding(struct http_frame *f, const char *v)
{
	if (f->chunked || strcasecmp(v, "chunked") != 0)
		return frame_refuse(f, "a Transfer-Encoding other than chunked");
	f->chunked = true;
	return 1;
}

/* A field line: 0 to keep it, 1 to drop it, -1 refused. The name is a
 * token, right before the colon; trailers (in_head false) are only
 * checked. */
static int frame_field(struct http_frame *f, char *line, bool in_head)
{
	char *colon = strchr(line, ':'), *v, *end;
	const char *p;

	if (*line == ' ' || *line == '\t')
		return frame_refuse(f, "a folded field line");
	if (colon == NULL || colon == line)
		return frame_refuse(f, "a field line without a name");
	for (p = line; p < colon; p++) {
		if (!frame_tchar((unsigned char)*p))
			return frame_refuse(f, "a field name with whitespace "
					       "or a separator");
	}
	if (!in_head)
		return 0;
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t');)
		end--;
	*end = '\0'; /* the line is ours: trailing whitespace goes */
	if (colon - line == 14 && strncasecmp(line, "Content-Length", 14) == 0)
		return frame_length(f, v);
	if (colon - line == 17 &&
	    strncasecmp(line, "Transfer-Encoding", 17) == 0)
		return frame_coding(f, v);
	return 0;
}

/* The head is whole: pass it on with a body of certain length, or start
 * decoding a chunked body. */
static int frame_head_end(struct http_frame *f)
{
	if (f->chunked && f->has_length)
		return frame_refuse(f, "both Transfer-Encoding and "
				       "Content-Length");
	if (f->chunked && f->http10)
		return frame_refuse(f, "Transfer-Encoding in HTTP/1.0");
	if (f->no_body && (f->chunked || (f->has_length && f->length > 0)))
		return frame_refuse(f, "a body on a HEAD or TRACE request");
	if (f->chunked) {
		f->state = FS_CHUNK_SIZE;
		return 1;
	}
	f->left = f->has_length ? f->length : 0;
	if (evbuffer_add(f->head, "\r\n", 2) != 0 ||
	    evbuffer_add_buffer(f->dst, f->head) != 0)
		return frame_refuse(f, "out of memory");
	frame_reset(f);
	f->state = f->left > 0 ? FS_BODY : FS_HEAD;
	return 1;
}

/* One line of the head. Its fields are checked as they come, and kept
 * (with CRLF) in f->head, but for those dropped. */
static int frame_head_line(struct http_frame *f, struct evbuffer *src)
{
	char *line;
	size_t len;
	int rc;

	if ((rc = frame_line(f, src, f->max_head, &line, &len)) <= 0)
		return rc;
	if (len == 0 && f->nlines == 0) {
		free(line); /* an empty line before a request: ignored */
		return 1;
	}
	if (len == 0) {
		free(line);
		return frame_head_end(f);
	}
	if (evbuffer_get_length(f->head) + len + 2 > f->max_head) {
		free(line);
		return frame_refuse(f, "a head too large");
	}
	if (f->nlines++ == 0) {
		rc = frame_request_line(f, line);
	} else {
		rc = frame_field(f, line, true);
		len = strlen(line); /* the value's end may be trimmed */
	}
	if (rc == 0 && (evbuffer_add(f->head, line, len) != 0 ||
			evbuffer_add(f->head, "\r\n", 2) != 0))
		rc = frame_refuse(f, "out of memory");
	free(line);
	return rc < 0 ? -1 : 1;
}

/* A chunked body over http.max_body_bytes: evhttp answers 413 to a head
 * that announces it. */
static int frame_too_large(struct http_frame *f)
{
	log_worker(LOG_DEBUG, f->worker,
		   "worker %d: HTTP chunked body over http.max_body_bytes",
		   f->worker);
	evbuffer_add_printf(f->head, "Content-Length: %" PRIu64 "\r\n\r\n",
			    f->max_body + 1);
	evbuffer_add_buffer(f->dst, f->head);
	frame_reset(f);
	f->state = FS_REFUSED;
	return -1;
}

/* A chunk-size line: 1*HEXDIG, then perhaps extensions (dropped). */
static int frame_chunk_size(struct http_frame *f, struct evbuffer *src)
{
	size_t len, n, i;
	uint64_t size;
	char *line;
	int rc;

	if ((rc = frame_line(f, src, FRAME_CHUNK_LINE_MAX, &line, &len)) <= 0)
		return rc;
	n = strspn(line, "0123456789abcdefABCDEF");
	for (i = n; line[i] == ' ' || line[i] == '\t'; i++)
		;
	rc = n > 0 && n <= FRAME_CHUNK_DIGITS &&
	     (line[i] == ';' || (line[i] == '\0' && i == n));
	for (i = line[i] == ';' ? i + 1 : len; rc && i < len; i++)
		rc = line[i] == '\t' || ((unsigned char)line[i] >= 0x20 &&
					 line[i] != 0x7f);
	size = rc ? strtoull(line, NULL, 16) : 0;
	free(line);
	if (!rc)
		return frame_refuse(f, "a chunk size not made of hex digits");
	if (size == 0) {
		f->state = FS_TRAILER;
		return 1;
	}
	if (size > f->max_body - evbuffer_get_length(f->body))
		return frame_too_large(f);
	f->left = size;
	f->state = FS_CHUNK_DATA;
	return 1;
}

/* Chunked, all read: pass the head on with its length, and the body. */
static int frame_chunked_done(struct http_frame *f)
{
	if (evbuffer_add_printf(f->head, "Content-Length: %zu\r\n\r\n",
				evbuffer_get_length(f->body)) < 0 ||
	    evbuffer_add_buffer(f->dst, f->head) != 0 ||
	    evbuffer_add_buffer(f->dst, f->body) != 0)
		return frame_refuse(f, "out of memory");
	frame_reset(f);
	f->state = FS_HEAD;
	return 1;
}

/* A trailer line (checked, dropped), or the empty line that ends them. */
static int frame_trailer(struct http_frame *f, struct evbuffer *src)
{
	char *line;
	size_t len;
	int rc;

	if ((rc = frame_line(f, src, f->max_head, &line, &len)) <= 0)
		return rc;
	f->trailer += len + 2;
	if (len == 0)
		rc = frame_chunked_done(f);
	else if (f->trailer > f->max_head)
		rc = frame_refuse(f, "trailer fields too large");
	else
		rc = frame_field(f, line, false) < 0 ? -1 : 1;
	free(line);
	return rc;
}

/* Move up to f->left bytes of src to to; at 0, go on to next. */
static int frame_pass(struct http_frame *f, struct evbuffer *src,
		      struct evbuffer *to, enum frame_state next)
{
	size_t n = evbuffer_get_length(src);

	if (n > f->left)
		n = (size_t)f->left;
	if (n > 0 && evbuffer_remove_buffer(src, to, n) != (int)n)
		return frame_refuse(f, "out of memory");
	f->left -= n;
	if (f->left == 0)
		f->state = next;
	return n > 0 || f->left == 0;
}

/* The CRLF after a chunk's data. */
static int frame_chunk_end(struct http_frame *f, struct evbuffer *src)
{
	char crlf[2];

	if (evbuffer_copyout(src, crlf, 2) != 2)
		return 0;
	if (crlf[0] != '\r' || crlf[1] != '\n')
		return frame_refuse(f, "no CRLF after a chunk's data");
	evbuffer_drain(src, 2);
	f->state = FS_CHUNK_SIZE;
	return 1;
}

/* One step: 1 if it moved on, 0 if it needs more bytes, -1 refused. */
static int frame_step(struct http_frame *f, struct evbuffer *src)
{
	switch (f->state) {
	case FS_HEAD:
		return frame_head_line(f, src);
	case FS_BODY:
		return frame_pass(f, src, f->dst, FS_HEAD);
	case FS_CHUNK_SIZE:
		return frame_chunk_size(f, src);
	case FS_CHUNK_DATA:
		return frame_pass(f, src, f->body, FS_CHUNK_END);
	case FS_CHUNK_END:
		return frame_chunk_end(f, src);
	case FS_TRAILER:
		return frame_trailer(f, src);
	case FS_REFUSED:
		break;
	}
	evbuffer_drain(src, evbuffer_get_length(src));
	return 0;
}

/* Frame as much of src as can be, onto dst. */
static void frame_run(struct http_frame *f, struct evbuffer *src,
		      struct evbuffer *dst)
{
	f->dst = dst;
	while (evbuffer_get_length(src) > 0 && frame_step(f, src) > 0)
		;
	if (f->state == FS_REFUSED)
		frame_step(f, src); /* drops the rest */
}

/*
 * The connection's input buffer changed (its callback). Bytes evhttp read
 * leave the framed ones. Bytes the socket added sit after those: all are
 * taken out, the framed ones put back, the new ones framed after them. The
 * moves are of whole chains, without copies, and change the buffer, which
 * calls this again: busy ignores that.
 */
void http_frame_input(struct http_frame *f, struct evbuffer *buf,
		      const struct evbuffer_cb_info *info)
{
	size_t len = evbuffer_get_length(buf);

	if (f == NULL || f->busy)
		return;
	f->pending -= info->n_deleted < f->pending ? info->n_deleted
						   : f->pending;
	if (info->n_added == 0 || len <= f->pending)
		return;
	f->busy = true;
	if (evbuffer_add_buffer(f->tmp, buf) != 0 ||
	    evbuffer_remove_buffer(f->tmp, buf, f->pending) != (int)f->pending ||
	    evbuffer_add_buffer(f->raw, f->tmp) != 0) {
		evbuffer_drain(f->tmp, evbuffer_get_length(f->tmp));
		f->dst = buf;
		frame_refuse(f, "out of memory");
	} else {
		frame_run(f, f->raw, buf);
	}
	f->pending = evbuffer_get_length(buf);
	f->busy = false;
}

/* A connection's framing state; NULL if out of memory. Heads up to
 * max_head bytes, chunked bodies up to max_body. */
struct http_frame *http_frame_new(int worker, size_t max_head,
				  uint64_t max_body)
{
	struct http_frame *f = calloc(1, sizeof *f);

	if (f == NULL)
		return NULL;
	f->worker = worker;
	f->max_head = max_head;
	f->max_body = max_body;
	f->head = evbuffer_new();
	f->body = evbuffer_new();
	f->raw = evbuffer_new();
	f->tmp = evbuffer_new();
	if (f->head == NULL || f->body == NULL || f->raw == NULL ||
	    f->tmp == NULL) {
		http_frame_free(f);
		return NULL;
	}
	return f;
}

/* Free it; NULL is a no-op. */
void http_frame_free(struct http_frame *f)
{
	if (f == NULL)
		return;
	if (f->head != NULL)
		evbuffer_free(f->head);
	if (f->body != NULL)
		evbuffer_free(f->body);
	if (f->raw != NULL)
		evbuffer_free(f->raw);
	if (f->tmp != NULL)
		evbuffer_free(f->tmp);
	free(f);
}
