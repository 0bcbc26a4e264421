/* TrendingStreams.java: the Kafka Streams peer of the benchmark suite: the search worker's trending
 * job (trend:5m, trend:1h, trend:24h) written the way a Kafka Streams user would write it.
 *
 * Topology (DSL): search events (single-object Avro, decoded with Avro's BinaryMessageDecoder)
 * -> search.query with result_count > 0, query normalised (NFC, case folded, whitespace collapsed)
 * -> re-keyed by query and repartitioned (counting a query needs all its events in one task)
 * -> three windowed counts, 1-minute, 5-minute and 1-hour tumbling windows, in in-memory window
 *    stores (changelogged, so a restart restores them, like the search worker's Redis state)
 * A view thread, like the search worker's refresh (refresh.ms = 1000), reads the stores every
 * second through interactive queries and rewrites the same sorted sets as the worker
 * (<prefix>trend:5m|1h|24h, top 100, windows ending at the latest event time seen) in one
 * MULTI/EXEC. Window starts are aligned to the epoch, as the worker's buckets are.
 *
 * usage: TrendingStreams BROKERS TOPIC REDIS_HOST REDIS_PORT KEY_PREFIX EXPECTED_EVENTS APP_ID
 * Exits once EXPECTED_EVENTS source records are counted and the views are written, printing
 *   events=N seconds=S events_per_s=R cpu_s=C   (first record to last record counted; CPU of the
 *   process over the same span). */
package shopstream.bench;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.text.Normalizer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyWindowStore;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;

import redis.clients.jedis.Jedis;
import redis.clients.jedis.Transaction;

public final class TrendingStreams {
    /* level: store name, bucket width, buckets per window, view name (as in search_levels[]) */
    static final String[] STORES = {"w1m", "w5m", "w1h"};
    static final long[] WIDTH = {60_000L, 300_000L, 3_600_000L};
    static final int[] NBUCKETS = {5, 12, 24};
    static final String[] VIEWS = {"5m", "1h", "24h"};
    static final int TOP_N = 100;
    static final int MAX_QUERY_CP = 100;

    static final AtomicLong consumed = new AtomicLong(); /* source records */
    static final AtomicLong forwarded = new AtomicLong(); /* counted queries sent on */
    static final AtomicLong counted = new AtomicLong(); /* records reaching the aggregation */
    static final AtomicLong watermark = new AtomicLong(); /* latest search.query time, ms */
    static volatile long firstNs, lastNs, firstCpuNs, lastCpuNs;
    static final Pattern SPACE = Pattern.compile("[\\s\\p{Zs}\\u2028\\u2029]+");

    /* The search worker's normalisation: NFC, full case folding (approximated by upper- then
     * lower-casing in the root locale, which folds "Straße" to "strasse" too), runs of whitespace
     * to one space, trimmed. Null for what the worker refuses (empty, over 100 code points). */
    static String normalise(String q) {
        String s = Normalizer.normalize(q, Normalizer.Form.NFC);
        s = s.toUpperCase(Locale.ROOT).toLowerCase(Locale.ROOT);
        s = Normalizer.normalize(s, Normalizer.Form.NFC);
        s = SPACE.matcher(s).replaceAll(" ").trim();
        if (s.isEmpty() || s.codePointCount(0, s.length()) > MAX_QUERY_CP)
            return null;
        return s;
    }

    static long cpuNs() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 8) {
            System.err.println("usage: TrendingStreams BROKERS TOPIC REDIS_HOST REDIS_PORT KEY_PREFIX "
                    + "EXPECTED_EVENTS APP_ID SCHEMA.avsc");
            System.exit(2);
        }
        String brokers = args[0], topic = args[1], redisHost = args[2], prefix = args[4], appId = args[6];
        int redisPort = Integer.parseInt(args[3]);
        long expected = Long.parseLong(args[5]);
        Schema schema = new Schema.Parser().parse(new java.io.File(args[7]));
        BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), schema);

        StreamsBuilder b = new StreamsBuilder();
        KStream<byte[], byte[]> src = b.stream(topic, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()));
        KStream<String, Long> queries = src.flatMap((k, v) -> {
            long n = consumed.incrementAndGet();
            long now = System.nanoTime();
            if (n == 1) {
                firstNs = now;
                firstCpuNs = cpuNs();
            }
            lastNs = now;
            List<KeyValue<String, Long>> out = new ArrayList<>(1);
            GenericRecord ev;
            try {
                ev = decoder.decode(ByteBuffer.wrap(v));
            } catch (Exception e) {
                return out; /* the worker sends it to the dead-letter topic; not counted either way */
            }
            if (!"search.query".equals(ev.get("type").toString()))
                return out;
            GenericRecord p = (GenericRecord) ev.get("payload");
            long at = (Long) ev.get("occurred_at");
            String q = normalise(p.get("query").toString());
            if (q == null)
                return out;
            watermark.accumulateAndGet(at, Math::max);
            if ((Integer) p.get("result_count") > 0) {
                forwarded.incrementAndGet();
                out.add(KeyValue.pair(q, at));
            }
            return out;
        });
        KGroupedStream<String, Long> byQuery = queries
                .repartition(Repartitioned.with(Serdes.String(), Serdes.Long()).withName("by-query"))
                .peek((k, v) -> counted.incrementAndGet())
                .groupByKey(Grouped.with(Serdes.String(), Serdes.Long()));
        for (int l = 0; l < STORES.length; l++) {
            /* Event time is occurred_at (the message timestamp the producer set). Grace: a day, so
             * that no search is dropped while partitions are consumed at different speeds (the
             * worker, too, counts every search inside its partition's windows). */
            Duration size = Duration.ofMillis(WIDTH[l]);
            Duration grace = Duration.ofHours(24);
            Duration retention = size.multipliedBy(NBUCKETS[l]).plus(grace);
            byQuery.windowedBy(TimeWindows.ofSizeAndGrace(size, grace))
                    .count(Materialized.<String, Long>as(
                            Stores.inMemoryWindowStore(STORES[l], retention, size, false))
                            .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()));
        }

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        props.put(StreamsConfig.STATE_DIR_CONFIG, System.getProperty("java.io.tmpdir") + "/kstreams-" + appId);
        KafkaStreams streams = new KafkaStreams(b.build(), props);
        streams.setUncaughtExceptionHandler(e -> {
            e.printStackTrace();
            System.exit(1);
            return null;
        });
        streams.start();

        try (Jedis jedis = new Jedis(redisHost, redisPort)) {
            long deadline = System.nanoTime() + Duration.ofMinutes(30).toNanos();
            for (;;) {
                Thread.sleep(1000);
                boolean done = consumed.get() >= expected && counted.get() >= forwarded.get();
                if (done)
                    lastCpuNs = cpuNs();
                if (streams.state() == KafkaStreams.State.RUNNING)
                    writeViews(streams, jedis, prefix);
                if (done)
                    break;
                if (System.nanoTime() > deadline) {
                    System.err.println("TrendingStreams: timed out at " + consumed.get() + " of " + expected);
                    System.exit(1);
                }
            }
        }
        streams.close(Duration.ofSeconds(10));
        streams.cleanUp();
        double secs = (lastNs - firstNs) / 1e9;
        System.out.printf(Locale.ROOT, "events=%d seconds=%.3f events_per_s=%.0f cpu_s=%.2f%n", consumed.get(),
                secs, secs > 0 ? consumed.get() / secs : 0.0, (lastCpuNs - firstCpuNs) / 1e9);
    }

    /* Sums each window's buckets ending at the watermark across the store and rewrites the view. */
    static void writeViews(KafkaStreams streams, Jedis jedis, String prefix) {
        long g = watermark.get();
        if (g == 0)
            return;
        Transaction t = jedis.multi();
        for (int l = 0; l < STORES.length; l++) {
            ReadOnlyWindowStore<String, Long> store;
            try {
                store = streams.store(StoreQueryParameters.fromNameAndType(STORES[l],
                        QueryableStoreTypes.<String, Long>windowStore()));
            } catch (Exception e) {
                t.discard();
                return; /* rebalancing: next second */
            }
            long oldest = g - g % WIDTH[l] - (NBUCKETS[l] - 1) * WIDTH[l];
            Map<String, Long> sum = new HashMap<>();
            try (KeyValueIterator<Windowed<String>, Long> it =
                         store.fetchAll(Instant.ofEpochMilli(oldest), Instant.ofEpochMilli(g))) {
                while (it.hasNext()) {
                    KeyValue<Windowed<String>, Long> kv = it.next();
                    sum.merge(kv.key.key(), kv.value, Long::sum);
                }
            }
            List<Map.Entry<String, Long>> top = new ArrayList<>(sum.entrySet());
            top.sort((a, c) -> a.getValue().equals(c.getValue()) ? c.getKey().compareTo(a.getKey())
                                                                  : Long.compare(c.getValue(), a.getValue()));
            Map<String, Double> members = new HashMap<>();
            for (int i = 0; i < Math.min(TOP_N, top.size()); i++)
                members.put(top.get(i).getKey(), (double) top.get(i).getValue());
            String key = prefix + "trend:" + VIEWS[l];
            t.del(key);
            if (!members.isEmpty())
                t.zadd(key, members);
        }
        t.hset(prefix + "trend:meta", "watermark", Long.toString(g));
        t.exec();
    }
}
