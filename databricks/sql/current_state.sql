-- The current state of one DynamoDB table, from its bronze change log
-- (<table>_changes): one row per item that exists.
--
-- This is the record format's fold rule (README, "Reconcile";
-- internal/fold, the one definition) as a plain query, and the rule the
-- pipeline's silver table applies with AUTO CDC (src/ddbstream/pipeline.py):
--
--   * per item (keys), the line with the greatest orderKey wins. Of lines
--     with the same orderKey, byte-identical duplicates of one line, the
--     one from the greatest sourceFile wins (AUTO CDC sequences by
--     struct(orderKey, sourceFile)); they say the same, so which one does
--     not change the result;
--   * a winning REMOVE means the item is absent, except a TTL delete when
--     :ttl_deletes is 'flag': the item is then kept, its last image
--     (oldImage) as item and ttlDeleted true;
--   * otherwise the item is its newImage (a snapshot row's newImage is the
--     exported item). item is NULL when the stream carried no new image
--     (KEYS_ONLY, OLD_IMAGE): the item exists, its state is unknown.
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
  item,
  eventName,
  orderKey,
  approximateCreationDateTime,
  ttlDeleted,
  sourceFile
FROM (
  SELECT
    keys,
    CASE WHEN eventName = 'REMOVE' THEN oldImage ELSE newImage END AS item,
    eventName,
    orderKey,
    approximateCreationDateTime,
    ttlDelete AS ttlDeleted,
    sourceFile,
    ROW_NUMBER() OVER (PARTITION BY keys ORDER BY orderKey DESC, sourceFile DESC) AS lineRank
  FROM IDENTIFIER(:bronze_table)
) AS ranked
WHERE lineRank = 1
  AND (eventName <> 'REMOVE' OR (ttlDeleted AND :ttl_deletes = 'flag'))
