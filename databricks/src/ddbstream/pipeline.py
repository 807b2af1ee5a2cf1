"""DynamoDB tables in Unity Catalog: a change log and a current state per table.

A Lakeflow Spark Declarative Pipeline. For each DynamoDB table in the
ddbstream.tables setting it defines

- <name>_changes (bronze): a streaming table of the pipeline's change lines,
  read incrementally by Auto Loader from the table's folder, one row per
  line, with the object it came from. Keys, images and sequence numbers
  are kept as their exact text: no number goes through DOUBLE. The
  quarantine rules are counted here (expectations that only warn).
- <name>_quarantine: the lines that fail a rule (not the record format, no
  order key, a key attribute missing), with the rules they fail and their
  source file. They stay out of the current state; every other line, of
  this table and of the others, flows on.
- <name> (silver): the item's current state, maintained by AUTO CDC with
  the record format's fold rule (README, "Reconcile"): per item, the line
  with the greatest orderKey wins; a REMOVE deletes the item (a TTL delete
  may instead be kept as a flagged row with its last image); snapshot rows
  from the backfill are upserts ranked by their orderKey like any line.
  Clustered by the key attributes.

Python rather than SQL because the tables are a setting: one source
defines every table's datasets in a loop, so adding a table is a change of
bundle variable, not of code. databricks/sql/current_state.sql is the same
rule as a plain query over bronze, tested against the Go fold.

References:
- AUTO CDC (keys, sequence, deletes, ignore_null_updates_column_list,
  track_history_except_column_list, __START_AT/__END_AT of the sequence's
  type): https://docs.databricks.com/aws/en/ldp/developer/ldp-python-ref-apply-changes
  and https://docs.databricks.com/aws/en/ldp/cdc
- Expectations that warn, and the quarantine pattern:
  https://docs.databricks.com/aws/en/ldp/expectations and
  https://docs.databricks.com/aws/en/ldp/expectation-patterns
- create_streaming_table(cluster_by=...):
  https://docs.databricks.com/aws/en/ldp/developer/ldp-python-ref-streaming-table
- Exact JSON text of a value read as STRING (Apache Spark 4.0):
  https://issues.apache.org/jira/browse/SPARK-48148
- Serverless compute cannot read workspace files with Spark, so the runtime
  check writes its fixture to a volume first:
  https://docs.databricks.com/aws/en/files/workspace
"""

import gzip
import inspect
import os
import shutil
import uuid

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

def _require_parameters(fn, options):
    """Stops the pipeline, naming the channel to use, when this runtime's
    AUTO CDC lacks a parameter the settings need (ignore_null_updates_column_list
    is recent: older runtimes and the dlt module's apply_changes lack it),
    rather than with a bare TypeError."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # no signature to read: let the call decide
        return
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    missing = sorted(set(options) - set(params))
    if missing:
        raise RuntimeError(
            f"ddbstream needs AUTO CDC's {', '.join(missing)}, which this runtime's {fn.__name__} lacks: "
            "use a serverless pipeline on the CURRENT channel (or PREVIEW), or set ttl_deletes=apply and scd_type=1"
        )


_SPARK_TYPES = {
    "string": T.StringType(),
    "bigint": T.LongType(),
    "boolean": T.BooleanType(),
}

# DynamoDB JSON's type names for key attributes (IMAGE_FORMAT=dynamodb).
_KEY_TYPES = ("S", "N", "B")


def key_struct(keys, image_format):
    """The keys field's type: one STRING per key attribute (plain), or one
    STRUCT of S, N and B per attribute (typed DynamoDB JSON)."""
    if image_format == "dynamodb":
        typed = T.StructType([T.StructField(t, T.StringType()) for t in _KEY_TYPES])
        return T.StructType([T.StructField(k, typed) for k in keys])
    return T.StructType([T.StructField(k, T.StringType()) for k in keys])


def line_schema(keys, image_format):
    """The schema every line is read with: every field of the record format
    (ddbstream_settings.LINE_FIELDS, generated from internal/record)."""
    fields = []
    for name, kind in s.LINE_FIELDS:
        t = key_struct(keys, image_format) if kind == s.KEYS_TYPE else _SPARK_TYPES[kind]
        fields.append(T.StructField(name, t))
    return T.StructType(fields)


def check_runtime(settings):
    """Stops the pipeline on a runtime that would lose digits.

    It tests the behaviour, not a version: the checked-in fixture (a line
    the record converter made, with a 38-digit number and a nested object)
    is written to the check volume as a change object and read back with
    the JSON reader, options and schema bronze uses; every value must come
    back as exactly the text it was written as (SPARK-48148,
    spark.sql.json.enableExactStringParsing, on by default from Apache
    Spark 4.0). The message names the bundle variable that picks another
    runtime (the pipeline's channel).
    """
    fixture = os.path.join(os.path.dirname(os.path.abspath(s.__file__)), s.RUNTIME_CHECK_FIXTURE)
    with open(fixture, "rb") as f:
        line = f.read()
    folder = f"{settings.check_volume}/{uuid.uuid4().hex}"
    os.makedirs(folder)
    try:
        with gzip.open(f"{folder}/exact_text.jsonl.gz", "wb") as f:
            f.write(line)
        rows = (
            spark.read.format("json")  # noqa: F821 (spark is the pipeline's session)
            .options(**s.JSON_OPTIONS)
            .schema(line_schema(s.RUNTIME_CHECK_KEYS, "plain"))
            .load(folder)
            .collect()
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    problems = s.exact_text_problems([r.asDict(recursive=True) for r in rows])
    if problems:
        raise RuntimeError(s.runtime_message(problems))


def key_column(name, image_format):
    """A key attribute's value as text: exact for S, N and B alike."""
    c = F.col(s.KEYS).getField(name)
    if image_format == "dynamodb":
        return F.coalesce(*[c.getField(t) for t in _KEY_TYPES])
    return c


def define(table, settings):
    """Defines one DynamoDB table's bronze, quarantine and silver datasets."""
    rules = s.quarantine_rules(table)
    valid = s.valid_condition(table)

    @dp.table(
        name=table.bronze,
        comment=f"Change lines of DynamoDB table {table.name}, exactly once each, with the object each came from.",
    )
    # Counted, not enforced: a line failing a rule goes to the quarantine
    # below and stays out of the current state; nothing stops the update.
    @dp.expect_all(rules)
    def bronze():
        return (
            spark.readStream.format("cloudFiles")  # noqa: F821
            .options(**s.AUTO_LOADER_OPTIONS)
            .options(**s.JSON_OPTIONS)
            .schema(line_schema(table.keys, settings.image_format))
            .load(table.path)
            .select(
                "*",
                F.col("_metadata.file_path").alias(s.SOURCE_FILE),
                F.col("_metadata.file_modification_time").alias(s.SOURCE_MODIFICATION_TIME),
            )
        )

    @dp.table(
        name=table.quarantine,
        comment=f"Lines of DynamoDB table {table.name} kept out of its current state, with the rules each fails and its source file.",
    )
    def quarantine():
        return (
            spark.readStream.table(table.bronze)  # noqa: F821
            .where(f"NOT {valid}")
            .select(F.expr(s.problems_expression(table)).alias(s.PROBLEMS), "*")
        )

    changes = table.bronze + "_cdc"

    @_temporary_view(name=changes, comment=f"{table.bronze}'s valid lines as AUTO CDC's source: key columns and the item's image.")
    def cdc_source():
        return (
            spark.readStream.table(table.bronze)  # noqa: F821
            .where(valid)
            .select(
                *[key_column(k, settings.image_format).alias(k) for k in table.keys],
                F.expr(s.item_expression()).alias(s.ITEM),
                F.col(s.EVENT_NAME),
                F.col(s.ORDER_KEY),
                F.col(s.APPROXIMATE_CREATION_DATE_TIME),
                F.expr(f"try_cast({s.APPROXIMATE_CREATION_DATE_TIME} AS TIMESTAMP)").alias(s.APPROXIMATE_CREATION_TIMESTAMP),
                F.col(s.TTL_DELETE).alias(s.TTL_DELETED),
                F.col(s.SOURCE_FILE),
            )
        )

    dp.create_streaming_table(
        name=table.silver,
        comment=f"Current state of DynamoDB table {table.name}: one row per item, the item as exact JSON text in {s.ITEM}.",
        table_properties={"pipelines.cdc.tombstoneGCThresholdInSeconds": str(settings.tombstone_retention_seconds)},
        # Liquid clustering by the key attributes: lookups and joins by key
        # read only the files that can hold the item.
        cluster_by=list(table.keys),
    )
    options = {}
    if s.keep_last_image_columns(settings):
        options["ignore_null_updates_column_list"] = s.keep_last_image_columns(settings)
    if settings.scd_type == 2:
        options["track_history_except_column_list"] = s.scd2_untracked_columns()
    _require_parameters(_create_auto_cdc_flow, options)
    _create_auto_cdc_flow(
        target=table.silver,
        source=changes,
        keys=list(table.keys),
        # An item's lines in order; byte-identical duplicates of a line
        # (same orderKey) are told apart by their object, so that every
        # key has one update per sequence value, as AUTO CDC requires.
        # __START_AT and __END_AT (SCD type 2) have this struct's type.
        sequence_by=F.struct(s.ORDER_KEY, s.SOURCE_FILE),
        apply_as_deletes=F.expr(s.delete_condition(settings)),
        stored_as_scd_type=settings.scd_type,
        **options,
    )


_settings = s.parse(spark.conf)  # noqa: F821
check_runtime(_settings)
for _table in _settings.tables:
    define(_table, _settings)
