"""DynamoDB tables in Unity Catalog: a change log and a current state per table.

A Lakeflow Spark Declarative Pipeline. For each DynamoDB table in the
ddbstream.tables setting it defines

- <name>_changes (bronze): a streaming table of the pipeline's change lines,
  read incrementally by Auto Loader from the table's folder, one row per
  line, with the object it came from. Keys, images and sequence numbers
  are kept as their exact text: no number goes through DOUBLE.
- <name> (silver): the item's current state, maintained by AUTO CDC with
  the record format's fold rule (README, "Reconcile"): per item, the line
  with the greatest orderKey wins; a REMOVE deletes the item (a TTL delete
  may instead be kept as a flagged row); snapshot rows from the backfill
  are upserts ranked by their orderKey like any line.

Python rather than SQL because the tables are a setting: one source
defines every table's datasets in a loop, so adding a table is a change of
bundle variable, not of code. databricks/sql/current_state.sql is the same
rule as a plain query over bronze, tested against the Go fold.

References:
- AUTO CDC: https://docs.databricks.com/aws/en/ldp/cdc and
  https://docs.databricks.com/aws/dlt-ref/dlt-sql-ref-apply-changes
- Auto Loader file events:
  https://docs.databricks.com/aws/ingestion/cloud-object-storage/auto-loader/file-notification-mode
- Exact JSON text of a value read as STRING (Apache Spark 4.0):
  https://issues.apache.org/jira/browse/SPARK-48148
"""

from pyspark.sql import functions as F
from pyspark.sql import types as T

try:  # Lakeflow Spark Declarative Pipelines
    from pyspark import pipelines as dp
except ImportError:  # runtimes from before the rename: the same API
    import dlt as dp

import ddbstream_settings as s

# The pyspark.pipelines names, with the dlt module's older ones where a
# runtime only has those.
_temporary_view = getattr(dp, "temporary_view", None) or dp.view
_create_auto_cdc_flow = getattr(dp, "create_auto_cdc_flow", None) or dp.apply_changes

_SPARK_TYPES = {
    "string": T.StringType(),
    "bigint": T.LongType(),
    "boolean": T.BooleanType(),
}

# DynamoDB JSON's type names for key attributes (IMAGE_FORMAT=dynamodb).
_KEY_TYPES = ("S", "N", "B")


def check_runtime():
    """Stops the pipeline on a runtime that would lose digits.

    A number or object read from a JSON file as STRING keeps its exact text
    from Apache Spark 4.0 on (SPARK-48148, spark.sql.json.enableExactStringParsing,
    on by default); before, Spark re-renders it, through DOUBLE for numbers.
    """
    major = int(spark.version.split(".")[0])  # noqa: F821 (spark is the pipeline's session)
    if major < 4:
        raise RuntimeError(
            f"ddbstream needs Apache Spark 4.0 or later to keep numbers exact (this runtime has {spark.version}): "  # noqa: F821
            "use a serverless pipeline or the CURRENT channel"
        )
    try:
        exact = spark.conf.get("spark.sql.json.enableExactStringParsing", "true")  # noqa: F821
    except Exception:  # serverless may not expose the setting: its default is on
        exact = "true"
    if exact.lower() == "false":
        raise RuntimeError("ddbstream needs spark.sql.json.enableExactStringParsing on: numbers would lose digits")


def key_struct(table, image_format):
    """The keys field's type: one STRING per key attribute (plain), or one
    STRUCT of S, N and B per attribute (typed DynamoDB JSON)."""
    if image_format == "dynamodb":
        typed = T.StructType([T.StructField(t, T.StringType()) for t in _KEY_TYPES])
        return T.StructType([T.StructField(k, typed) for k in table.keys])
    return T.StructType([T.StructField(k, T.StringType()) for k in table.keys])


def line_schema(table, image_format):
    """The schema Auto Loader reads each line with: every field of the
    record format (ddbstream_settings.LINE_FIELDS, generated from internal/record)."""
    fields = []
    for name, kind in s.LINE_FIELDS:
        t = key_struct(table, image_format) if kind == s.KEYS_TYPE else _SPARK_TYPES[kind]
        fields.append(T.StructField(name, t))
    return T.StructType(fields)


def key_column(name, image_format):
    """A key attribute's value as text: exact for S, N and B alike."""
    c = F.col(s.KEYS).getField(name)
    if image_format == "dynamodb":
        return F.coalesce(*[c.getField(t) for t in _KEY_TYPES])
    return c


def define(table, settings):
    """Defines one DynamoDB table's bronze and silver datasets."""
    options = {
        "cloudFiles.format": "json",
        # The schema is the record format's: nothing is inferred, and
        # anything a line has beyond it is rescued, which fails the update.
        "cloudFiles.schemaEvolutionMode": "none",
        "rescuedDataColumn": s.RESCUED_DATA,
        # dt=/hour= folders are the object layout, not columns.
        "cloudFiles.partitionColumns": "",
        "pathGlobFilter": "*.jsonl.gz",
    }
    if settings.file_events:
        options["cloudFiles.useManagedFileEvents"] = "true"

    key_present = " AND ".join(f"{s.KEYS}.`{k}` IS NOT NULL" for k in table.keys)

    @dp.table(
        name=table.bronze,
        comment=f"Change lines of DynamoDB table {table.name}, exactly once each, with the object each came from.",
    )
    @dp.expect_all_or_fail(
        {
            "every line is the record format": f"{s.RESCUED_DATA} IS NULL",
            "every line has an order key": f"length({s.ORDER_KEY}) = {s.ORDER_KEY_LENGTH}",
            "the key attributes are the table's": key_present,
        }
    )
    def bronze():
        return (
            spark.readStream.format("cloudFiles")  # noqa: F821
            .options(**options)
            .schema(line_schema(table, settings.image_format))
            .load(table.path)
            .select(
                "*",
                F.col("_metadata.file_path").alias(s.SOURCE_FILE),
                F.col("_metadata.file_modification_time").alias(s.SOURCE_MODIFICATION_TIME),
            )
        )

    changes = table.bronze + "_cdc"

    @_temporary_view(name=changes, comment=f"{table.bronze} as AUTO CDC's source: key columns and the item's image.")
    def cdc_source():
        removed = F.col(s.EVENT_NAME) == "REMOVE"
        return spark.readStream.table(table.bronze).select(  # noqa: F821
            *[key_column(k, settings.image_format).alias(k) for k in table.keys],
            F.when(removed, F.col(s.OLD_IMAGE)).otherwise(F.col(s.NEW_IMAGE)).alias(s.ITEM),
            F.col(s.EVENT_NAME),
            F.col(s.ORDER_KEY),
            F.col(s.APPROXIMATE_CREATION_DATE_TIME),
            F.col(s.TTL_DELETE).alias(s.TTL_DELETED),
            F.col(s.SOURCE_FILE),
        )

    dp.create_streaming_table(
        name=table.silver,
        comment=f"Current state of DynamoDB table {table.name}: one row per item, the item as exact JSON text in {s.ITEM}.",
        table_properties={"pipelines.cdc.tombstoneGCThresholdInSeconds": str(settings.tombstone_retention_seconds)},
    )
    _create_auto_cdc_flow(
        target=table.silver,
        source=changes,
        keys=list(table.keys),
        # An item's lines in order; byte-identical duplicates of a line
        # (same orderKey) are told apart by their object, so that every
        # key has one update per sequence value, as AUTO CDC requires.
        sequence_by=F.struct(s.ORDER_KEY, s.SOURCE_FILE),
        apply_as_deletes=F.expr(s.delete_condition(settings)),
        stored_as_scd_type=settings.scd_type,
    )


check_runtime()
_settings = s.parse(spark.conf)  # noqa: F821
for _table in _settings.tables:
    define(_table, _settings)
