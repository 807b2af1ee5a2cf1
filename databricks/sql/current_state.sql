-- The current state of one DynamoDB table, from its bronze change log
-- (<table>_changes): one row per item that exists.
--
-- This is the record format's fold rule (README, "Reconcile";
-- internal/fold, the one definition) as a plain query, and the rule the
-- pipeline's silver table applies with AUTO CDC (src/ddbstream/pipeline.py):
--
--   * only lines with an order key of 52 characters count. The pipeline
--     quarantines those and also lines with rescued data or a key
--     attribute missing (<table>_quarantine); this query checks only the
--     order key, so that it runs as well on the forwarder's copy-into
--     table, which has no rescued data column, and on any table's keys;
--   * per item (keys), the line with the greatest orderKey wins. Of lines
--     with the same orderKey, byte-identical duplicates of one line, the
--     one from the greatest sourceFile wins (AUTO CDC sequences by
--     struct(orderKey, sourceFile)); they say the same, so which one does
--     not change the result;
--   * a winning REMOVE means the item is absent, except a TTL delete when
--     :ttl_deletes is 'flag': the item is then kept, ttlDeleted true;
--   * the item is the winning line's image: a REMOVE's oldImage, any other
--     line's newImage (a snapshot row's newImage is the exported item).
--     item is NULL when the line carries no image (KEYS_ONLY, OLD_IMAGE
--     streams; a TTL delete from a NEW_IMAGE stream): the item exists, its
--     state is unknown;
--   * with :ttl_deletes 'flag', a line without an image keeps the last
--     image instead, as AUTO CDC does with ignore_null_updates_column_list
--     = [item]: the newest image of the item's lines since the newest
--     REMOVE that deleted it (one not made by TTL). So a TTL delete from a
--     NEW_IMAGE or KEYS_ONLY stream, which has no old image, keeps the
--     item the previous line (or a snapshot row) showed.
--
-- approximateCreationTimestamp is approximateCreationDateTime as a
-- TIMESTAMP (NULL for a text no timestamp holds).
--
-- Never order by sequenceNumber: 21 to 40 digits, it does not sort as a
-- string and does not fit DECIMAL(38).
--
-- Parameters (Databricks SQL named parameter markers):
--   :bronze_table  the change log, for example 'main.ddbstream.orders_changes'
--   :ttl_deletes   'apply' or 'flag', as the bundle's ttl_deletes variable
--
-- databricks/currentstate runs this file in DuckDB, on lines made by the
-- record converter, and compares every row with internal/fold's result.
-- Its only change to the text is mechanical: IDENTIFIER(:bronze_table)
-- becomes the test's table and :name becomes DuckDB's $name.
SELECT
  keys,
  CASE WHEN :ttl_deletes = 'flag' THEN lastImage ELSE image END AS item,
  eventName,
  orderKey,
  approximateCreationDateTime,
  TRY_CAST(approximateCreationDateTime AS TIMESTAMP) AS approximateCreationTimestamp,
  ttlDeleted,
  sourceFile
FROM (
  SELECT
    keys,
    image,
    FIRST_VALUE(image) OVER (
      PARTITION BY keys, era
      ORDER BY CASE WHEN image IS NULL THEN 1 ELSE 0 END, orderKey DESC, sourceFile DESC
    ) AS lastImage,
    eventName,
    orderKey,
    approximateCreationDateTime,
    ttlDeleted,
    sourceFile,
    ROW_NUMBER() OVER (PARTITION BY keys ORDER BY orderKey DESC, sourceFile DESC) AS lineRank
  FROM (
    SELECT
      keys,
      CASE WHEN eventName = 'REMOVE' THEN oldImage ELSE newImage END AS image,
      eventName,
      orderKey,
      approximateCreationDateTime,
      ttlDelete AS ttlDeleted,
      sourceFile,
      -- The item's deletions before this line (REMOVEs not made by TTL):
      -- lines of one era are one life of the item.
      COALESCE(SUM(CASE WHEN eventName = 'REMOVE' AND NOT ttlDelete THEN 1 ELSE 0 END) OVER (
        PARTITION BY keys ORDER BY orderKey, sourceFile ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
      ), 0) AS era
    FROM IDENTIFIER(:bronze_table)
    WHERE length(orderKey) = 52
  ) AS lines
) AS ranked
WHERE lineRank = 1
  AND (eventName <> 'REMOVE' OR (ttlDeleted AND :ttl_deletes = 'flag'))
