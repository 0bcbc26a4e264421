-- 003_fraud.sql: the fraud worker's decisions, one row per order (idempotent on order_id: a
-- replayed or retried flush inserts nothing new). reasons are the top reasons in words, "; "
-- separated; anomaly is the Isolation Forest score (NULL without a model).
CREATE TABLE fraud_decisions (
    order_id       text        PRIMARY KEY,
    user_id        text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    score          smallint    NOT NULL CHECK (score BETWEEN 0 AND 100),
    level          text        NOT NULL CHECK (level IN ('low', 'medium', 'high')),
    recommendation text        NOT NULL CHECK (recommendation IN ('approve', 'review', 'decline')),
    reasons        text        NOT NULL,
    model_version  text        NOT NULL,
    anomaly        double precision,
    amount_minor   bigint      NOT NULL,
    currency       char(3)     NOT NULL
);
CREATE INDEX fraud_decisions_user ON fraud_decisions (user_id, occurred_at);
CREATE INDEX fraud_decisions_level ON fraud_decisions (level, occurred_at);
