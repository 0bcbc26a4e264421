-- 001_foundation.sql: offsets stored with results, and the analytics worker's per-minute rollup.
-- Applied by `shopstream migrate` into a schema ("shop" live, "bt_<name>" for a backtest) with
-- search_path set to it, so table names here are unqualified.

-- Next offset to consume per consumer group and partition, written in the same transaction as
-- the results it covers.
CREATE TABLE shop_offsets (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    next_offset    bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Orders and revenue per event-time minute and currency (money in minor units).
CREATE TABLE analytics_minute (
    bucket        timestamptz NOT NULL,
    currency      char(3)     NOT NULL,
    orders        bigint      NOT NULL DEFAULT 0,
    revenue_minor bigint      NOT NULL DEFAULT 0,
    items         bigint      NOT NULL DEFAULT 0,
    refunds       bigint      NOT NULL DEFAULT 0,
    refund_minor  bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, currency)
);
