-- Typed columns over a current-state table, with a check column per typed
-- number that says whether the typed value is the item's value. An example
-- for a table orders with key attributes pk and sk and attributes price
-- (DECIMAL(10,2)), qty (BIGINT) and status (STRING); copy it and change
-- the names, types and table. One statement per image format: use the
-- one of the stack's ImageFormat output (the bundle's image_format).
--
-- Why the checks: from_json and CAST into DECIMAL(p,s) do not fail on a
-- value that is not exactly representable. A value with more than s
-- decimals is ROUNDED (19.995 becomes 20.00); a value with more than p-s
-- integer digits (DynamoDB numbers go up to 9.99...E+125) becomes NULL; a
-- BIGINT column gets NULL for a fraction or a value beyond 64 bits. Both
-- silently. <column>_check says which:
--   exact         the typed value is the item's value
--   rounded       the item's value has decimals the type drops
--   does not fit  the type cannot hold the item's value: the column is NULL
--   absent        the item has no such attribute (or it is null)
-- Find the items to look at with WHERE price_check IN ('rounded', 'does not fit').
--
-- How rounding is seen: the value is parsed twice, into the column's type
-- and into DECIMAL(38, 38-(p-s)), which has the same integer digits and
-- all the decimals DECIMAL(38) can hold; they differ exactly when the
-- column's type rounded, down to the 38-(p-s)th decimal (30 here). A value
-- that DECIMAL(38, 30) rounds to 0 is compared through DOUBLE instead, so
-- that 1E-130 is reported as rounded, not exact. DynamoDB numbers have up
-- to 38 significant digits: a difference beyond the 30th decimal of a
-- value of 1 or more (1.0000000000000000000000000000000000001) is not seen.
-- Choose the scale to hold the data's decimals.
--
-- Never read a number as DOUBLE, nor as STRING through from_json or
-- item:path on a string column: those re-render it through DOUBLE (only
-- the JSON file reader keeps exact text, SPARK-48148). The item keeps
-- every digit; only a DECIMAL of enough scale carries them into a column.
--
-- Documentation: from_json https://docs.databricks.com/aws/en/sql/language-manual/functions/from_json
-- (the DECIMAL result for a value it cannot hold is NULL in its default
-- PERMISSIVE mode), try_cast https://docs.databricks.com/aws/en/sql/language-manual/functions/try_cast,
-- JSON path expressions https://docs.databricks.com/aws/en/sql/language-manual/sql-ref-json-path-expression.

-- image_format = plain: numbers are JSON numbers in item.
CREATE OR REPLACE VIEW main.ddbstream.orders_typed AS
SELECT
  pk,
  sk,
  t.price,
  CASE
    WHEN item:price IS NULL THEN 'absent'
    WHEN t.price IS NULL THEN 'does not fit'
    WHEN t.price <> w.price OR (w.price = 0 AND CAST(item:price AS DOUBLE) <> 0) THEN 'rounded'
    ELSE 'exact'
  END AS price_check,
  t.qty,
  CASE
    WHEN item:qty IS NULL THEN 'absent'
    WHEN t.qty IS NULL THEN 'does not fit'
    ELSE 'exact'
  END AS qty_check,
  t.status
FROM (
  SELECT
    pk,
    sk,
    item,
    from_json(item, 'price DECIMAL(10,2), qty BIGINT, status STRING') AS t,
    from_json(item, 'price DECIMAL(38,30)') AS w
  FROM main.ddbstream.orders
);

-- image_format = dynamodb: every value is typed DynamoDB JSON, numbers as
-- strings ({"price": {"N": "19.990"}}), which from_json reads as their
-- exact text; TRY_CAST types them.
CREATE OR REPLACE VIEW main.ddbstream.orders_typed AS
SELECT
  pk,
  sk,
  TRY_CAST(t.price.N AS DECIMAL(10,2)) AS price,
  CASE
    WHEN t.price.N IS NULL THEN 'absent'
    WHEN TRY_CAST(t.price.N AS DECIMAL(10,2)) IS NULL THEN 'does not fit'
    WHEN TRY_CAST(t.price.N AS DECIMAL(10,2)) <> TRY_CAST(t.price.N AS DECIMAL(38,30))
      OR (TRY_CAST(t.price.N AS DECIMAL(38,30)) = 0 AND TRY_CAST(t.price.N AS DOUBLE) <> 0) THEN 'rounded'
    ELSE 'exact'
  END AS price_check,
  TRY_CAST(t.qty.N AS BIGINT) AS qty,
  CASE
    WHEN t.qty.N IS NULL THEN 'absent'
    WHEN TRY_CAST(t.qty.N AS BIGINT) IS NULL THEN 'does not fit'
    -- Casting text with decimals to BIGINT truncates outside ANSI mode.
    WHEN TRY_CAST(t.qty.N AS BIGINT) <> TRY_CAST(t.qty.N AS DECIMAL(38,18)) THEN 'rounded'
    ELSE 'exact'
  END AS qty_check,
  t.status.S AS status
FROM (
  SELECT
    pk,
    sk,
    from_json(item, 'price STRUCT<N: STRING>, qty STRUCT<N: STRING>, status STRUCT<S: STRING>') AS t
  FROM main.ddbstream.orders
);
