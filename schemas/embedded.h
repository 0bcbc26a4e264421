/* embedded.h: the schema files compiled into the binary: every .avsc of schemas/avro and every
 * .sql of schemas/sql, turned into C at build time by schemas/embed.cmake. */
#ifndef SHOP_EMBEDDED_H
#define SHOP_EMBEDDED_H

/* One file: its base name ("order_events.avsc", "0001_init.sql") and its whole text. */
typedef struct {
    const char *name;
    const char *text;
} shop_embedded_file_t;

/* Sorted by name, terminated by an entry whose name is NULL. Static storage. */
extern const shop_embedded_file_t shop_embedded_avsc[];
extern const shop_embedded_file_t shop_embedded_sql[];

#endif
