-- 004_analytics.sql: the analytics worker's rollups per event-time minute, hour and day (and all
-- time), one row per metric and dimension; exact daily user sets; product titles; and the
-- per-partition state (watermarks, open stock-outs) written in the same transaction as offsets.
-- Every write is an upsert inside the runtime's offset transaction, so values add up exactly.

-- grain: 'minute' | 'hour' | 'day' | 'total' (bucket 1970-01-01 for 'total').
-- metric: orders, revenue, items, refunds, refund, chargebacks, chargeback, paid, paid_amount,
-- payment_failed, cancelled, signups, logins, login_failures, views, carts, cart_units,
-- cart_removals, wishlists, points_earned, points_spent, level_ups, searches, search_clicks,
-- visual_searches, visual_matched, stockouts, restocks, oos_ms, late; per product (day, total):
-- p_views, p_carts, p_buys, p_stockouts, p_oos_ms; per A/B variant (day, total): ab_views,
-- ab_carts. dim: '' or the currency (orders, revenue, refund, chargeback, paid_amount), the
-- product id (p_*), the variant (ab_*) or the event type (late, total grain).
CREATE TABLE analytics_rollup (
    grain  text        NOT NULL CHECK (grain IN ('minute', 'hour', 'day', 'total')),
    bucket timestamptz NOT NULL,
    metric text        NOT NULL,
    dim    text        NOT NULL DEFAULT '',
    value  bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, metric, bucket, dim)
);
CREATE INDEX analytics_rollup_bucket ON analytics_rollup (grain, bucket);

-- Users seen per event-time day, by kind: 'active' (any event), 'buyers' (placed an order),
-- 'visual' (used visual search), 'ab:<variant>' (carried that A/B variant). Exact DAU/WAU/MAU
-- and conversions are count(DISTINCT user_id) over these.
CREATE TABLE analytics_day_users (
    day     date NOT NULL,
    kind    text NOT NULL,
    user_id text NOT NULL,
    PRIMARY KEY (day, kind, user_id)
);

CREATE TABLE analytics_product (
    product_id  text   PRIMARY KEY,
    title       text   NOT NULL,
    category    text   NOT NULL,
    updated_ms  bigint NOT NULL
);

-- Largest event time seen per partition (the watermark lateness is measured from).
CREATE TABLE analytics_partition_state (
    topic     text    NOT NULL,
    partition integer NOT NULL,
    watermark bigint  NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- Stock-outs not yet restocked, per inventory partition (since: event time ms).
CREATE TABLE analytics_oos_open (
    partition  integer NOT NULL,
    product_id text    NOT NULL,
    region     text    NOT NULL,
    since      bigint  NOT NULL,
    PRIMARY KEY (partition, product_id, region)
);

-- Hourly and daily business metrics, one row per bucket, for SQL and Grafana.
CREATE VIEW analytics_overview AS
SELECT grain, bucket,
       sum(value) FILTER (WHERE metric = 'orders' AND dim = '')  AS orders,
       sum(value) FILTER (WHERE metric = 'items')                AS items,
       sum(value) FILTER (WHERE metric = 'refunds')              AS refunds,
       sum(value) FILTER (WHERE metric = 'chargebacks')          AS chargebacks,
       sum(value) FILTER (WHERE metric = 'views')                AS views,
       sum(value) FILTER (WHERE metric = 'carts')                AS carts,
       sum(value) FILTER (WHERE metric = 'points_earned')        AS points_earned,
       sum(value) FILTER (WHERE metric = 'points_spent')         AS points_spent,
       sum(value) FILTER (WHERE metric = 'visual_searches')      AS visual_searches,
       sum(value) FILTER (WHERE metric = 'stockouts')            AS stockouts,
       sum(value) FILTER (WHERE metric = 'oos_ms')               AS oos_ms,
       sum(value) FILTER (WHERE metric = 'late' AND dim = '')    AS late
FROM analytics_rollup
WHERE grain <> 'total'
GROUP BY grain, bucket;
