-- 005_reco_flags.sql: feature flags (Unleash feature definitions, written by `shopstream flags
-- set` and published on shop.flags) and the recommendation worker's audit tables.
CREATE TABLE flags (
    name       text        PRIMARY KEY,
    definition jsonb       NOT NULL, -- one Unleash client-API feature: {"name", "enabled", "strategies", "variants", ...}
    version    bigint      NOT NULL, -- from flags_version: the cache reloads when max(version) moves
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text
);
CREATE SEQUENCE flags_version;

-- Segments referenced by strategies ({"id": n, "constraints": [...]}).
CREATE TABLE flag_segments (
    id         integer     PRIMARY KEY,
    definition jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The latest snapshot of the item-to-item similarity table (top reco.k per item), replaced as a
-- whole by the worker's refresh: what the recommendations were computed from, for audit.
CREATE TABLE reco_similarity (
    item        text             NOT NULL,
    rank        smallint         NOT NULL,
    other       text             NOT NULL,
    score       double precision NOT NULL,
    snapshot_at timestamptz      NOT NULL,
    PRIMARY KEY (item, rank)
);

-- One row per snapshot: when, from events up to when, how big, with which flags.
CREATE TABLE reco_snapshots (
    snapshot_at   timestamptz PRIMARY KEY,
    as_of         timestamptz,
    items         integer     NOT NULL,
    users         integer     NOT NULL,
    flags_version bigint      NOT NULL
);

-- The A/B variant that computed each user's recommendations, to compare conversion by variant.
CREATE TABLE reco_variants (
    user_id    text        PRIMARY KEY,
    variant    text        NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX reco_variants_variant ON reco_variants (variant);
