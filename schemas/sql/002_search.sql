-- 002_search.sql: the search worker's analytics, per normalised query and event-time hour (UTC).
-- searches counts every search.query event, zero_results those that found nothing, clicks the
-- search.result_clicked events of that query in that hour; ctr is clicks / searches.
CREATE TABLE search_query_hour (
    hour         timestamptz NOT NULL,
    query        text        NOT NULL,
    searches     bigint      NOT NULL DEFAULT 0,
    zero_results bigint      NOT NULL DEFAULT 0,
    clicks       bigint      NOT NULL DEFAULT 0,
    ctr          double precision GENERATED ALWAYS AS
                     (CASE WHEN searches > 0 THEN clicks::double precision / searches END) STORED,
    PRIMARY KEY (hour, query)
);
CREATE INDEX search_query_hour_query ON search_query_hour (query, hour);
