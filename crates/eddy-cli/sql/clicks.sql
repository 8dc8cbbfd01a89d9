-- Clicks per page in 10-second event-time windows (into CSV part files), and
-- clicks and distinct pages per minute (printed).
-- Run: cargo run --release -p eddy-cli -- sql -f crates/eddy-cli/sql/clicks.sql

SET 'parallelism.default' = '2';

CREATE TABLE clicks (
    ms BIGINT,
    page STRING,
    ts AS TO_TIMESTAMP_LTZ(ms, 3),
    WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH (
    'connector' = 'filesystem',
    'path' = 'crates/eddy/examples/data/clicks.csv',
    'format' = 'csv',
    'csv.ignore-parse-errors' = 'true'
);

CREATE TABLE page_windows (
    page STRING,
    window_start TIMESTAMP(3),
    window_end TIMESTAMP(3),
    clicks BIGINT
) WITH (
    'connector' = 'filesystem',
    'path' = '/tmp/eddy-sql-clicks',
    'format' = 'csv'
);

INSERT INTO page_windows
SELECT page, window_start, window_end, COUNT(*)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY page, window_start, window_end;

SELECT window_start, COUNT(*) AS clicks, COUNT(DISTINCT page) AS pages
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end;
