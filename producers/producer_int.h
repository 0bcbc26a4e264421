/* producer_int.h: helpers shared by the producer library and the emit/generate commands. */
#ifndef SHOP_PRODUCER_INT_H
#define SHOP_PRODUCER_INT_H

#include <jansson.h>
#include <stddef.h>

/* json_loadb(text, len, 0, err), faster for the usual event line (an object without escapes):
 * a strict parser builds it directly; anything else (escapes, other top-level values, errors,
 * overflowing numbers) goes to jansson, so results and error messages are jansson's.
 * `text` is borrowed; returns a new reference or NULL with err filled. */
json_t *shop_producer_json_parse(const char *text, size_t len, json_error_t *err);

/* Rewrites an "occurred_at" of the exact form "2026-11-01T00:00:00Z" or "...00.005Z" (a real
 * date) as epoch millis, the value the codec would compute with shop_parse_time_ms() but without
 * its sscanf. Leaves anything else, valid or not, for the codec. */
void shop_producer_json_fast_time(json_t *obj);

#endif
