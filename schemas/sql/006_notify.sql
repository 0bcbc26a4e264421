-- 006_notify.sql: the notification hub. Trigger state (wishlists, stock, prices, preferences) and
-- the outbox are written by the notify worker's PostgreSQL flush, in the transaction that stores
-- its offsets: a decision is made exactly once (UNIQUE (dedupe_key, channel) absorbs a replayed
-- flush). The dispatcher claims pending rows with FOR UPDATE SKIP LOCKED and logs every attempt.
CREATE TABLE notify_wishlist (
    product_id text        NOT NULL,
    user_id    text        NOT NULL,
    region     text        NOT NULL DEFAULT '', -- '' = any region
    added_at   timestamptz NOT NULL,
    PRIMARY KEY (product_id, user_id, region)
);
CREATE TABLE notify_stock (
    product_id text NOT NULL,
    region     text NOT NULL,
    quantity   integer NOT NULL,
    PRIMARY KEY (product_id, region)
);
CREATE TABLE notify_price (
    product_id  text PRIMARY KEY,
    title       text   NOT NULL,
    price_minor bigint NOT NULL,
    currency    char(3) NOT NULL
);
-- channel switches per type; ntype or channel '*' applies to all
CREATE TABLE notify_prefs (
    user_id text    NOT NULL,
    ntype   text    NOT NULL,
    channel text    NOT NULL,
    enabled boolean NOT NULL,
    PRIMARY KEY (user_id, ntype, channel)
);
CREATE TABLE notify_user (
    user_id     text PRIMARY KEY,
    locale      text,
    quiet_start text, -- HH:MM local
    quiet_end   text,
    timezone    text, -- IANA name, checked against pg_timezone_names when set
    max_per_day integer
);
CREATE TABLE notify_outbox (
    id              bigserial   PRIMARY KEY,
    dedupe_key      text        NOT NULL, -- type:user:entity:event_id; the webhook-id
    channel         text        NOT NULL CHECK (channel IN ('inapp', 'webhook', 'email', 'ops')),
    ntype           text        NOT NULL,
    user_id         text        NOT NULL,
    entity          text        NOT NULL,
    event_id        text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    payload         jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'dead', 'suppressed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    last_error      text,
    UNIQUE (dedupe_key, channel)
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notify_outbox_user ON notify_outbox (user_id, created_at);
CREATE TABLE notify_delivery_log (
    id          bigserial   PRIMARY KEY,
    outbox_id   bigint      NOT NULL REFERENCES notify_outbox (id),
    channel     text        NOT NULL,
    attempt     integer     NOT NULL,
    status      text        NOT NULL, -- sent, retry, dead, deferred, suppressed
    http_status integer,
    reason      text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notify_delivery_log_outbox ON notify_delivery_log (outbox_id);

-- Is channel `ch` on for notifications of type `t` to user `u`? The most specific switch wins;
-- no switch = on.
CREATE FUNCTION notify_enabled(u text, t text, ch text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT enabled FROM notify_prefs
                      WHERE user_id = u AND ntype IN (t, '*') AND channel IN (ch, '*')
                      ORDER BY (ntype = '*'), (channel = '*') LIMIT 1), true)
$$;
