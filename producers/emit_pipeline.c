/* emit_pipeline.c: emit's batch pipeline: the reader fills batches of lines, workers parse,
 * validate and encode them in parallel, and the reader produces finished batches in file order. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "emit_int.h"
#include "producer_int.h"

#define BATCH_LINES 1024
#define BATCH_BYTES (256u * 1024)

enum { B_FREE, B_FILLED, B_DONE };

typedef struct {
    size_t off, len; /* bytes in out */
    size_t key_off;  /* NUL-terminated key in out */
    const char *topic;
    int64_t occurred_at; /* the Kafka message timestamp */
    uint64_t line;
} emit_msg_t;

typedef struct {
    shop_buf_t text; /* the lines, each NUL-terminated */
    size_t *line_off;
    uint64_t *line_no;
    size_t nlines;
    shop_buf_t out; /* encoded events and their keys */
    emit_msg_t *msgs;
    size_t nmsgs;
    shop_buf_t errors; /* "line N: ...\n" per rejected line, in line order */
    shop_buf_t fails;  /* line number, then the message with its NUL, per failed line */
    uint64_t rejected, failed;
    int state;
} emit_batch_t;

typedef struct {
    shop_emit_run_t *run;
    shop_codec_t *codec;
    shop_framing_t framing;
    emit_batch_t *b;
    size_t nb;
    uint64_t filled, taken; /* batch sequence numbers */
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
} emit_pipe_t;

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

/* ---- workers ---- */

static void encode_line(emit_pipe_t *ep, emit_batch_t *b, size_t i, shop_encoded_t *enc) {
    const char *line = b->text.buf + b->line_off[i];
    size_t len = (i + 1 < b->nlines ? b->line_off[i + 1] : b->text.len) - b->line_off[i] - 1;
    char err[1024] = "encoding failed"; /* in case a failure leaves no message */
    json_error_t jerr;
    json_t *obj = shop_producer_json_parse(line, len, &jerr);
    if (!obj) {
        shop_buf_printf(&b->errors, "line %" PRIu64 ": invalid JSON: %s\n", b->line_no[i],
                        jerr.text);
        b->rejected++;
        return;
    }
    shop_producer_json_fast_time(obj);
    int r = shop_codec_encode_json(ep->codec, obj, ep->framing, enc, err, sizeof(err));
    json_decref(obj);
    if (r == SHOP_ERR_INVALID) { /* rejected for good */
        shop_buf_printf(&b->errors, "line %" PRIu64 ": %s\n", b->line_no[i], err);
        b->rejected++;
        return;
    }
    if (r) { /* the registry is down, say: failed, worth another try later */
        shop_buf_append(&b->fails, &b->line_no[i], sizeof(uint64_t));
        shop_buf_append(&b->fails, err, strlen(err) + 1);
        b->failed++;
        return;
    }
    if (b->nmsgs % BATCH_LINES == 0)
        b->msgs = shop_xrealloc(b->msgs, (b->nmsgs + BATCH_LINES) * sizeof(emit_msg_t));
    emit_msg_t *m = &b->msgs[b->nmsgs++];
    m->off = b->out.len, m->len = enc->bytes.len, m->topic = enc->topic, m->line = b->line_no[i];
    m->occurred_at = enc->occurred_at;
    shop_buf_append(&b->out, enc->bytes.buf, enc->bytes.len);
    m->key_off = b->out.len;
    shop_buf_append(&b->out, enc->key, strlen(enc->key) + 1);
}

static void encode_batch(emit_pipe_t *ep, emit_batch_t *b, shop_encoded_t *enc) {
    shop_buf_reset(&b->out);
    shop_buf_reset(&b->errors);
    shop_buf_reset(&b->fails);
    b->nmsgs = 0, b->rejected = 0, b->failed = 0;
    for (size_t i = 0; i < b->nlines; i++)
        encode_line(ep, b, i, enc);
}

static void *worker(void *arg) {
    emit_pipe_t *ep = arg;
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    pthread_mutex_lock(&ep->mu);
    for (;;) {
        while (!ep->stop && ep->taken == ep->filled)
            pthread_cond_wait(&ep->work, &ep->mu);
        if (ep->taken == ep->filled)
            break; /* stopping, nothing left */
        emit_batch_t *b = &ep->b[ep->taken++ % ep->nb];
        pthread_mutex_unlock(&ep->mu);
        encode_batch(ep, b, &enc);
        pthread_mutex_lock(&ep->mu);
        b->state = B_DONE;
        pthread_cond_broadcast(&ep->done);
    }
    pthread_mutex_unlock(&ep->mu);
    shop_encoded_release(&enc);
    return NULL;
}

/* ---- the reader ---- */

/* Reads up to a batch of non-blank lines into b; returns how many. */
static size_t fill(emit_pipe_t *ep, emit_batch_t *b, FILE *in, char **line, size_t *cap) {
    ssize_t n;
    shop_buf_reset(&b->text);
    b->nlines = 0;
    while (b->nlines < BATCH_LINES && b->text.len < BATCH_BYTES &&
           (n = getline(line, cap, in)) >= 0) {
        ep->run->lines++;
        if (is_blank(*line, (size_t)n))
            continue;
        if (!b->line_off) {
            b->line_off = shop_xmalloc(BATCH_LINES * sizeof(size_t));
            b->line_no = shop_xmalloc(BATCH_LINES * sizeof(uint64_t));
        }
        b->line_off[b->nlines] = b->text.len;
        b->line_no[b->nlines++] = ep->run->lines;
        shop_buf_append(&b->text, *line, (size_t)n + 1); /* with getline's NUL */
    }
    return b->nlines;
}

/* Prints a finished batch's errors and produces its events; returns SHOP_ERR_FATAL once the
 * producer is gone, after which (`dead`) batches are still reported and counted, as failed. */
static int deliver(emit_pipe_t *ep, emit_batch_t *b, shop_producer_t *p, int dead) {
    shop_emit_run_t *run = ep->run;
    if (b->errors.len)
        fwrite(b->errors.buf, 1, b->errors.len, stderr);
    for (size_t off = 0; off < b->fails.len;) {
        uint64_t line;
        memcpy(&line, b->fails.buf + off, sizeof(line));
        const char *msg = b->fails.buf + off + sizeof(line);
        shop_emit_show_failure(run, line, "", msg);
        off += sizeof(line) + strlen(msg) + 1;
    }
    run->rejected += b->rejected;
    run->failed += b->failed;
    if (!p) {
        run->valid += b->nmsgs;
        return SHOP_OK;
    }
    if (dead) {
        run->failed += b->nmsgs;
        return SHOP_ERR_FATAL;
    }
    for (size_t i = 0; i < b->nmsgs; i++) {
        emit_msg_t *m = &b->msgs[i];
        shop_encoded_t view = {.topic = m->topic,
                               .key = b->out.buf + m->key_off,
                               .occurred_at = m->occurred_at,
                               .bytes = {b->out.buf + m->off, m->len, m->len}};
        char err[512];
        int r = shop_producer_emit_encoded(p, &view, (void *)(uintptr_t)m->line, err, sizeof(err));
        if (!r)
            continue;
        shop_emit_show_failure(run, m->line, "", err);
        run->failed++;
        if (r == SHOP_ERR_FATAL) {
            run->failed += b->nmsgs - i - 1;
            return r;
        }
    }
    return SHOP_OK;
}

static void batch_release(emit_batch_t *b) {
    shop_buf_release(&b->text);
    shop_buf_release(&b->out);
    shop_buf_release(&b->errors);
    shop_buf_release(&b->fails);
    free(b->line_off);
    free(b->line_no);
    free(b->msgs);
}

int shop_emit_pipeline(shop_emit_run_t *run, FILE *in, shop_codec_t *codec, shop_framing_t framing,
                       shop_producer_t *p) {
    int nthreads = run->threads > 0 ? run->threads : 1;
    emit_pipe_t ep = {
        .run = run, .codec = codec, .framing = framing, .nb = (size_t)nthreads * 2 + 2};
    ep.b = shop_xcalloc(ep.nb, sizeof(emit_batch_t));
    pthread_mutex_init(&ep.mu, NULL);
    pthread_cond_init(&ep.work, NULL);
    pthread_cond_init(&ep.done, NULL);
    pthread_t *tids = shop_xcalloc((size_t)nthreads, sizeof(pthread_t));
    int started = 0, perr = 0;
    while (started < nthreads && !(perr = pthread_create(&tids[started], NULL, worker, &ep)))
        started++;
    if (!started) {
        fprintf(stderr, "emit: cannot start an encoding thread: %s\n", strerror(perr));
        free(tids);
        free(ep.b);
        return SHOP_ERR_FATAL;
    }
    nthreads = started;
    char *line = NULL;
    size_t cap = 0;
    uint64_t consumed = 0;
    int eof = 0, r = SHOP_OK;
    for (;;) {
        /* keep every slot busy: fill free ones (no lock needed, no worker looks at them yet) */
        while (!eof && ep.filled - consumed < ep.nb) {
            emit_batch_t *b = &ep.b[ep.filled % ep.nb];
            if (!fill(&ep, b, in, &line, &cap)) {
                eof = 1;
                break;
            }
            pthread_mutex_lock(&ep.mu);
            b->state = B_FILLED;
            ep.filled++;
            pthread_cond_signal(&ep.work);
            pthread_mutex_unlock(&ep.mu);
        }
        if (consumed == ep.filled)
            break;
        emit_batch_t *b = &ep.b[consumed % ep.nb];
        pthread_mutex_lock(&ep.mu);
        while (b->state != B_DONE)
            pthread_cond_wait(&ep.done, &ep.mu);
        pthread_mutex_unlock(&ep.mu);
        /* After a fatal producer error the rest of the input is still read, reported and
         * counted (as failed), so that sent + rejected + failed adds up to the lines. */
        if (deliver(&ep, b, p, r == SHOP_ERR_FATAL) == SHOP_ERR_FATAL)
            r = SHOP_ERR_FATAL;
        b->state = B_FREE;
        consumed++;
    }
    pthread_mutex_lock(&ep.mu);
    ep.stop = 1;
    pthread_cond_broadcast(&ep.work);
    pthread_mutex_unlock(&ep.mu);
    for (int i = 0; i < nthreads; i++)
        pthread_join(tids[i], NULL);
    if (r == SHOP_OK && ferror(in)) {
        fprintf(stderr, "emit: %s: %s\n", run->path ? run->path : "stdin", strerror(errno));
        r = SHOP_ERR_IO;
    }
    for (size_t i = 0; i < ep.nb; i++)
        batch_release(&ep.b[i]);
    free(ep.b);
    free(tids);
    free(line);
    pthread_cond_destroy(&ep.work);
    pthread_cond_destroy(&ep.done);
    pthread_mutex_destroy(&ep.mu);
    return r;
}
