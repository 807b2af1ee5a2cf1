"""Tests of the pipeline's settings (src/ddbstream/ddbstream_settings.py), without Spark.

Run with: python3 -B -m unittest discover -s databricks/tests
(databricks/bundle's Go tests run them when python3 is on the PATH).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "ddbstream"))

import ddbstream_settings as s  # noqa: E402

BASE = {
    s.SOURCE: "s3://ddbstream-bucket/cdc",
    s.TABLES: '[{"name": "Orders", "keys": ["pk", "sk"]}]',
}


def parse(**overrides):
    conf = dict(BASE)
    for k, v in overrides.items():
        key = "ddbstream." + k
        if v is None:
            conf.pop(key, None)
        else:
            conf[key] = v
    return s.parse(conf)


class SettingsTest(unittest.TestCase):
    def test_defaults(self):
        got = parse()
        self.assertEqual(got.image_format, "plain")
        self.assertEqual(got.ttl_deletes, "apply")
        self.assertEqual(got.scd_type, 1)
        self.assertFalse(got.file_events)
        self.assertEqual(got.tombstone_retention_seconds, 604800)
        self.assertEqual(
            got.tables,
            (s.Table("Orders", ("pk", "sk"), "orders_changes", "orders", "s3://ddbstream-bucket/cdc/table=Orders"),),
        )

    def test_volume_source_and_table_dir(self):
        got = parse(source="/Volumes/main/cdc/landing/", table_dir="{table}")
        self.assertEqual(got.tables[0].path, "/Volumes/main/cdc/landing/Orders")

    def test_compact_tables(self):
        got = parse(tables=" Orders:pk:sk  my-Table.v2:id ")
        self.assertEqual([(t.name, t.keys, t.silver) for t in got.tables], [("Orders", ("pk", "sk"), "orders"), ("my-Table.v2", ("id",), "my_table_v2")])
        self.assertEqual(parse(tables="Orders:pk:sk"), parse(tables='[{"name": "Orders", "keys": ["pk", "sk"]}]'))

    def test_several_tables_and_targets(self):
        got = parse(
            tables='[{"name": "Orders", "keys": ["pk", "sk"]}, {"name": "my-Table.v2", "keys": ["id"], "target": "v2"}, {"name": "2024_data", "keys": ["id"]}]'
        )
        self.assertEqual([(t.bronze, t.silver) for t in got.tables], [("orders_changes", "orders"), ("v2_changes", "v2"), ("_2024_data_changes", "_2024_data")])
        self.assertEqual(got.tables[1].keys, ("id",))

    def test_options(self):
        got = parse(image_format="dynamodb", ttl_deletes="flag", scd_type="2", file_events="true", tombstone_retention_seconds="0")
        self.assertEqual((got.image_format, got.ttl_deletes, got.scd_type, got.file_events, got.tombstone_retention_seconds), ("dynamodb", "flag", 2, True, 0))

    def test_delete_condition(self):
        self.assertEqual(s.delete_condition(parse()), "eventName = 'REMOVE'")
        self.assertEqual(s.delete_condition(parse(ttl_deletes="flag")), "eventName = 'REMOVE' AND NOT ttlDeleted")

    def test_every_bad_setting_is_named(self):
        with self.assertRaises(ValueError) as e:
            parse(source=None, tables=None, ttl_deletes="keep", scd_type="3", file_events="yes", image_format="typed", tombstone_retention_seconds="-1", table_dir="x")
        msg = str(e.exception)
        for key in (s.SOURCE, s.TABLES, s.TTL_DELETES, s.SCD_TYPE, s.FILE_EVENTS, s.IMAGE_FORMAT, s.TOMBSTONE_RETENTION_SECONDS, s.TABLE_DIR):
            self.assertIn(key, msg)

    def test_bad_tables(self):
        cases = {
            "not json": "[orders:pk,sk]",
            "compact without keys": "Orders",
            "compact with three keys": "Orders:a:b:c",
            "compact with an empty key": "Orders:a:",
            "comma in compact": "Orders:pk,sk",
            "empty": "[]",
            "no keys": '[{"name": "Orders"}]',
            "three keys": '[{"name": "Orders", "keys": ["a", "b", "c"]}]',
            "same key twice": '[{"name": "Orders", "keys": ["a", "a"]}]',
            "unknown field": '[{"name": "Orders", "keys": ["a"], "sort": "b"}]',
            "bad name": '[{"name": "Or", "keys": ["a"]}]',
            "key with a dot": '[{"name": "Orders", "keys": ["a.b"]}]',
            "key with a space": '[{"name": "Orders", "keys": ["a b"]}]',
            "key named like a column": '[{"name": "Orders", "keys": ["Item"]}]',
            "bad target": '[{"name": "Orders", "keys": ["a"], "target": "main.x"}]',
            "same target": '[{"name": "Orders", "keys": ["a"]}, {"name": "ORDERS", "keys": ["a"]}]',
            "bronze of one is silver of other": '[{"name": "Orders", "keys": ["a"]}, {"name": "x_y", "keys": ["a"], "target": "orders_changes"}]',
        }
        for name, tables in cases.items():
            with self.subTest(name), self.assertRaises(ValueError) as e:
                parse(tables=tables)
            self.assertIn(s.TABLES, str(e.exception))

    def test_bad_source(self):
        for source in ("cdc", "s3://", "s3a://bucket/cdc", "/Volumes/main/cdc", "dbfs:/mnt/cdc"):
            with self.subTest(source), self.assertRaises(ValueError):
                parse(source=source)

    def test_uc_name(self):
        self.assertEqual(s.uc_name("Orders-2026.v1"), "orders_2026_v1")


if __name__ == "__main__":
    unittest.main()
