/* fuzz_avro_seeds.c: writes fuzz_avro_decode seeds from flat JSON event lines on stdin: each line
 * as single-object (so-N.bin) and as Confluent framing (cf-N.bin) with the schema id that the
 * fuzz target's mock registry gives (1 + the schema's index in shop_codec_schemas()). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shop_codec.h"

static void write_file(const char *dir, const char *kind, int n, const void *a, size_t alen,
                       const void *b, size_t blen) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s-%03d.bin", dir, kind, n);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(a, 1, alen, fp) != alen || fwrite(b, 1, blen, fp) != blen || fclose(fp)) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_avro_seeds OUTDIR < events.jsonl\n");
        return 2;
    }
    char err[512], *line = NULL;
    size_t cap = 0;
    shop_codec_t *codec = shop_codec_new(NULL, err, sizeof(err));
    if (!codec) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const shop_schema_info_t *schemas[64];
    size_t ns = shop_codec_schemas(codec, schemas, 64);
    shop_encoded_t enc;
    shop_encoded_init(&enc);
    int n = 0;
    while (getline(&line, &cap, stdin) > 0) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j ||
            shop_codec_encode_json(codec, j, SHOP_FRAMING_SINGLE_OBJECT, &enc, err, sizeof(err))) {
            fprintf(stderr, "skipped: %s", line);
            json_decref(j);
            continue;
        }
        json_decref(j);
        const unsigned char *p = (const unsigned char *)enc.bytes.buf;
        uint64_t fp = 0;
        for (int i = 0; i < 8; i++)
            fp |= (uint64_t)p[2 + i] << (8 * i);
        write_file(argv[1], "so", n, p, enc.bytes.len, "", 0);
        for (size_t i = 0; i < ns; i++)
            if ((uint64_t)schemas[i]->fingerprint == fp) {
                unsigned char hdr[5] = {0, 0, 0, 0, (unsigned char)(i + 1)};
                write_file(argv[1], "cf", n, hdr, 5, p + 10, enc.bytes.len - 10);
            }
        n++;
    }
    free(line);
    shop_encoded_release(&enc);
    shop_codec_destroy(codec);
    return 0;
}
