/* kafka_raw.c: test helper for raw Kafka messages, below the codec: produce files as message
 * values byte for byte, or dump a topic's messages with their headers.
 *   kafka_raw produce BROKERS TOPIC KEY FILE...    one message per file, waits for delivery
 *   kafka_raw dump BROKERS TOPIC DIR               writes DIR/<partition>-<offset>.bin and prints
 *                                                  "<partition> <offset> <len> <header>=<value>..."
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *brokers) {
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof(err));
    if (type == RD_KAFKA_CONSUMER) {
        rd_kafka_conf_set(c, "group.id", "shopstream-test-raw", err, sizeof(err));
        rd_kafka_conf_set(c, "enable.partition.eof", "true", err, sizeof(err));
    }
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));
    if (!rk)
        fprintf(stderr, "kafka_raw: %s\n", err);
    return rk;
}

static int produce(const char *brokers, const char *topic, const char *key, int n, char **files) {
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, brokers);
    if (!rk)
        return 1;
    for (int i = 0; i < n; i++) {
        size_t len;
        char *buf = slurp(files[i], &len);
        if (!buf) {
            fprintf(stderr, "kafka_raw: cannot read %s\n", files[i]);
            return 1;
        }
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                          RD_KAFKA_V_END);
    }
    int left = rd_kafka_flush(rk, 30000) ? rd_kafka_outq_len(rk) : 0;
    rd_kafka_destroy(rk);
    return left ? 1 : 0;
}

static int dump(const char *brokers, const char *topic, const char *dir) {
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, brokers);
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topics[0].err) {
        fprintf(stderr, "kafka_raw: no topic %s\n", topic);
        return 1;
    }
    int parts = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_assign(rk, l);
    int eofs = 0;
    while (eofs < parts) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10000);
        if (!m)
            break;
        if (m->err) {
            eofs += m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
            rd_kafka_message_destroy(m);
            continue;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%d-%lld.bin", dir, (int)m->partition,
                 (long long)m->offset);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(m->payload, 1, m->len, f);
            fclose(f);
        }
        printf("%d %lld %zu", (int)m->partition, (long long)m->offset, m->len);
        rd_kafka_headers_t *h = NULL;
        if (!rd_kafka_message_headers(m, &h)) {
            const char *name;
            const void *val;
            size_t size;
            for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &size); i++)
                printf("\t%s=%.*s", name, (int)size, (const char *)val);
        }
        printf("\n");
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 6 && !strcmp(argv[1], "produce"))
        return produce(argv[2], argv[3], argv[4], argc - 5, argv + 5);
    if (argc == 5 && !strcmp(argv[1], "dump"))
        return dump(argv[2], argv[3], argv[4]);
    fprintf(stderr,
            "usage: kafka_raw produce BROKERS TOPIC KEY FILE... | dump BROKERS TOPIC DIR\n");
    return 2;
}
