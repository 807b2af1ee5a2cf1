"""Tests of the pipeline's settings (src/ddbstream/ddbstream_settings.py), without Spark.

Run with: python3 -B -m unittest discover -s databricks/tests
(databricks/bundle's Go tests run them when python3 is on the PATH).
"""

import decimal
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "ddbstream"))

import ddbstream_settings as s  # noqa: E402

BASE = {
    s.SOURCE: "s3://ddbstream-bucket/cdc",
    s.TABLES: '[{"name": "Orders", "keys": ["pk", "sk"]}]',
    s.CHECK_VOLUME: "/Volumes/main/ddbstream/ddbstream_check_default",
}

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(s.__file__)), s.RUNTIME_CHECK_FIXTURE)


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
        self.assertEqual(got.tombstone_retention_seconds, 604800)
        self.assertEqual(got.check_volume, "/Volumes/main/ddbstream/ddbstream_check_default")
        self.assertEqual(
            got.tables,
            (s.Table("Orders", ("pk", "sk"), "orders_changes", "orders", "s3://ddbstream-bucket/cdc/table=Orders", "orders_quarantine"),),
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
        got = parse(image_format="dynamodb", ttl_deletes="flag", scd_type="2", tombstone_retention_seconds="0")
        self.assertEqual((got.image_format, got.ttl_deletes, got.scd_type, got.tombstone_retention_seconds), ("dynamodb", "flag", 2, 0))

    def test_delete_condition(self):
        self.assertEqual(s.delete_condition(parse()), "eventName = 'REMOVE'")
        self.assertEqual(s.delete_condition(parse(ttl_deletes="flag")), "eventName = 'REMOVE' AND NOT ttlDeleted")

    def test_every_bad_setting_is_named(self):
        with self.assertRaises(ValueError) as e:
            parse(source=None, tables=None, ttl_deletes="keep", scd_type="3", image_format="typed", tombstone_retention_seconds="-1", table_dir="x", check_volume="/Volumes/main/ddbstream")
        msg = str(e.exception)
        for key in (s.SOURCE, s.TABLES, s.TTL_DELETES, s.SCD_TYPE, s.IMAGE_FORMAT, s.TOMBSTONE_RETENTION_SECONDS, s.TABLE_DIR, s.CHECK_VOLUME):
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
            "keys differing in case only": '[{"name": "Orders", "keys": ["id", "ID"]}]',
            "compact keys differing in case only": "Orders:Pk:pK",
            "key named like a column in another case": '[{"name": "Orders", "keys": ["ORDERKEY"]}]',
            "unknown field": '[{"name": "Orders", "keys": ["a"], "sort": "b"}]',
            "bad name": '[{"name": "Or", "keys": ["a"]}]',
            "key with a dot": '[{"name": "Orders", "keys": ["a.b"]}]',
            "key with a space": '[{"name": "Orders", "keys": ["a b"]}]',
            "key named like a column": '[{"name": "Orders", "keys": ["Item"]}]',
            "bad target": '[{"name": "Orders", "keys": ["a"], "target": "main.x"}]',
            "same target": '[{"name": "Orders", "keys": ["a"]}, {"name": "ORDERS", "keys": ["a"]}]',
            "bronze of one is silver of other": '[{"name": "Orders", "keys": ["a"]}, {"name": "x_y", "keys": ["a"], "target": "orders_changes"}]',
            "quarantine of one is silver of other": '[{"name": "Orders", "keys": ["a"]}, {"name": "x_y", "keys": ["a"], "target": "orders_quarantine"}]',
        }
        for name, tables in cases.items():
            with self.subTest(name), self.assertRaises(ValueError) as e:
                parse(tables=tables)
            self.assertIn(s.TABLES, str(e.exception))

    def test_bad_source(self):
        for source in ("cdc", "s3://", "s3a://bucket/cdc", "/Volumes/main/cdc", "dbfs:/mnt/cdc"):
            with self.subTest(source), self.assertRaises(ValueError):
                parse(source=source)

    def test_keys_differing_in_case_name_the_reason(self):
        with self.assertRaises(ValueError) as e:
            parse(tables="Orders:id:ID")
        self.assertIn("case", str(e.exception))

    def test_quarantine_rules(self):
        table = parse().tables[0]
        rules = s.quarantine_rules(table)
        self.assertEqual(
            sorted(rules.values()),
            sorted(["_rescued_data IS NULL", f"length(orderKey) = {s.ORDER_KEY_LENGTH}", "keys.`pk` IS NOT NULL AND keys.`sk` IS NOT NULL"]),
        )
        valid = s.valid_condition(table)
        self.assertTrue(valid.startswith("coalesce(") and valid.endswith(", false)"), valid)
        for c in rules.values():
            self.assertIn(f"({c})", valid)
        problems = s.problems_expression(table)
        for name in rules:
            self.assertIn(f"'{name}'", problems)
        self.assertIn("IS NOT NULL)", problems)

    def test_scd2_history_is_the_item_only(self):
        untracked = s.scd2_untracked_columns()
        self.assertEqual(
            sorted(untracked),
            sorted([s.EVENT_NAME, s.ORDER_KEY, s.APPROXIMATE_CREATION_DATE_TIME, s.APPROXIMATE_CREATION_TIMESTAMP, s.SOURCE_FILE]),
        )
        tracked = [c for c in s.CURRENT_STATE_COLUMNS if c != s.KEYS and c not in untracked]
        self.assertEqual(sorted(tracked), sorted([s.ITEM, s.TTL_DELETED]))

    def test_flag_keeps_the_last_image(self):
        self.assertIsNone(s.keep_last_image_columns(parse()))
        self.assertEqual(s.keep_last_image_columns(parse(ttl_deletes="flag")), [s.ITEM])
        self.assertEqual(s.item_expression(), "CASE WHEN eventName = 'REMOVE' THEN oldImage ELSE newImage END")


class RuntimeCheckTest(unittest.TestCase):
    def setUp(self):
        with open(FIXTURE, "rb") as f:
            self.raw = f.read()
        self.text = self.raw.decode("utf-8")

    def test_fixture_is_one_line_of_the_record_format(self):
        self.assertTrue(self.text.endswith("\n") and self.text.count("\n") == 1, "one line, newline-terminated")
        line = json.loads(self.text, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
        # The record format's fields in its order (an INSERT has no oldImage).
        self.assertEqual(list(line), [name for name, _ in s.LINE_FIELDS if name in line])
        self.assertEqual(len(line), len(s.LINE_FIELDS) - 1)
        self.assertEqual(sorted(line[s.KEYS]), sorted(s.RUNTIME_CHECK_KEYS))

    def test_fixture_has_what_a_lossy_reader_changes(self):
        self.assertRegex(self.text, r"[^0-9.]\d{38}[^0-9.]", "a 38-digit number")
        line = json.loads(self.text, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
        self.assertIsInstance(line[s.NEW_IMAGE]["m"], dict, "a nested object")
        self.assertIn("1.50", self.text, "a trailing zero a DOUBLE drops")

    def test_expected_texts_are_the_fixtures_own(self):
        line = json.loads(self.text, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
        for path, want in s.RUNTIME_CHECK_EXPECTED.items():
            got = line
            for p in path:
                got = got.get(p) if isinstance(got, dict) else None
            if want is None:
                self.assertIsNone(got, path)
                continue
            if isinstance(got, str):
                self.assertEqual(got, want, path)
                continue
            # A non-string value: the expected text is its exact JSON text.
            self.assertIn(want, self.text, path)
            self.assertEqual(json.loads(want, parse_float=decimal.Decimal, parse_int=decimal.Decimal), got, path)

    def test_exact_text_problems(self):
        exact = {s.KEYS: {"pk": "exact", "sk": "12345678901234567890123456789012345678"}, s.RESCUED_DATA: None}
        exact[s.NEW_IMAGE] = s.RUNTIME_CHECK_EXPECTED[(s.NEW_IMAGE,)]
        exact[s.SEQUENCE_NUMBER] = s.RUNTIME_CHECK_EXPECTED[(s.SEQUENCE_NUMBER,)]
        self.assertEqual(s.exact_text_problems([exact]), [])
        # What Spark before 4.0 yields: numbers through DOUBLE.
        rerendered = dict(exact, **{s.KEYS: {"pk": "exact", "sk": "1.2345678901234568E37"}, s.NEW_IMAGE: exact[s.NEW_IMAGE].replace("1.50", "1.5")})
        problems = s.exact_text_problems([rerendered])
        self.assertEqual(len(problems), 2, problems)
        self.assertEqual(len(s.exact_text_problems([])), 1)
        self.assertEqual(len(s.exact_text_problems([exact, exact])), 1)
        self.assertEqual(len(s.exact_text_problems([dict(exact, **{s.RESCUED_DATA: "{}"})])), 1)
        msg = s.runtime_message(problems)
        self.assertIn('--var="channel=PREVIEW"', msg)
        self.assertIn("1.2345678901234568E37", msg)

    def test_reader_options(self):
        self.assertEqual(s.JSON_OPTIONS["pathGlobFilter"], "*.jsonl.gz")
        self.assertEqual(s.JSON_OPTIONS["rescuedDataColumn"], s.RESCUED_DATA)
        self.assertFalse(set(s.JSON_OPTIONS) & set(s.AUTO_LOADER_OPTIONS))
        self.assertTrue(all(k.startswith("cloudFiles.") for k in s.AUTO_LOADER_OPTIONS))

    def test_uc_name(self):
        self.assertEqual(s.uc_name("Orders-2026.v1"), "orders_2026_v1")


if __name__ == "__main__":
    unittest.main()
