/* emit_int.h: the state of one `shopstream emit` run, shared by emit.c and emit_pipeline.c. */
#ifndef SHOP_EMIT_INT_H
#define SHOP_EMIT_INT_H

#include <stdint.h>
#include <stdio.h>

#include "shop_producer.h"

/* Failures (deliveries, an unreachable registry) beyond this many are counted, not printed: a dead
 * broker fails every line. Rejected lines are always printed. */
#define SHOP_EMIT_SHOWN_FAILURES 20

typedef struct {
    const char *path;
    int dry_run;
    int threads; /* parse-and-encode workers */
    uint64_t lines, valid, rejected, failed, shown_failures;
} shop_emit_run_t;

/* Prints one failure line unless SHOP_EMIT_SHOWN_FAILURES were printed already. */
void shop_emit_show_failure(shop_emit_run_t *run, uint64_t line, const char *what, const char *err);

/* Reads `in` to its end. Lines are parsed, validated and encoded by run->threads workers in
 * batches; the calling thread prints each batch's errors and produces its events strictly in file
 * order (so events of one key keep their order). `p` NULL is a dry run. Counts go into run.
 * Returns 0, SHOP_ERR_IO (reading failed) or SHOP_ERR_FATAL (the producer stopped). */
int shop_emit_pipeline(shop_emit_run_t *run, FILE *in, shop_codec_t *codec, shop_framing_t framing,
                       shop_producer_t *p);

#endif
