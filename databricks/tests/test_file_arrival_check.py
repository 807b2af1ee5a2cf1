"""Tests of the file-arrival job's first task (src/jobs/file_arrival_check.py), without a workspace.

Run with: python3 -B -m unittest discover -s databricks/tests
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "jobs"))

import file_arrival_check as c  # noqa: E402


def job(state):
    """A jobs/get answer for the file-arrival job with the given trigger_state."""
    answer = {
        "job_id": 42,
        "settings": {
            "name": "ddbstream_on_arrival orders",
            "trigger": {"pause_status": "UNPAUSED", "file_arrival": {"url": "/Volumes/main/cdc/landing/"}},
        },
    }
    if state is not None:
        answer["trigger_state"] = state
    return answer


class TriggerProblemTest(unittest.TestCase):
    def test_file_events_pass(self):
        self.assertIsNone(c.trigger_problem(job({"file_arrival": {"using_file_events": True}})))

    def test_listing_trigger_is_refused(self):
        # The API leaves false out (omitempty), so an empty state is a listing trigger too.
        for state in ({"file_arrival": {"using_file_events": False}}, {"file_arrival": {}}):
            got = c.trigger_problem(job(state))
            self.assertIsNotNone(got, state)
            for want in (
                "ddbstream_on_arrival orders",
                "does not use file events",
                "/Volumes/main/cdc/landing/",
                "10,000",
                "did not update the tables",
                "file_arrival_pause_status=PAUSED",
                "schedule_pause_status=UNPAUSED",
                c.DOCS,
            ):
                self.assertIn(want, got, state)

    def test_unknown_state_is_refused(self):
        for state in (None, {}, {"file_arrival": None}, {"table": {"using_scalable_monitoring": True}}):
            got = c.trigger_problem(job(state))
            self.assertIsNotNone(got, state)
            self.assertIn("cannot tell whether the trigger uses file events", got)

    def test_only_true_counts(self):
        for value in ("true", 1, None):
            self.assertIsNotNone(c.trigger_problem(job({"file_arrival": {"using_file_events": value}})), value)

    def test_main_fails_the_run(self):
        asked = []

        def get_job(job_id):
            asked.append(job_id)
            return job({"file_arrival": {"using_file_events": False}})

        with self.assertRaises(RuntimeError) as ctx:
            c.main(["file_arrival_check.py", "42"], get_job)
        self.assertEqual(asked, [42])
        self.assertIn("does not use file events", str(ctx.exception))

    def test_main_passes_with_file_events(self):
        c.main(["file_arrival_check.py", "7"], lambda job_id: job({"file_arrival": {"using_file_events": True}}))

    def test_main_needs_the_job_id(self):
        for argv in (["file_arrival_check.py"], ["file_arrival_check.py", "{{job.id}}"], ["x", "1", "2"]):
            with self.assertRaises(SystemExit, msg=argv):
                c.main(argv, lambda job_id: self.fail("asked the API"))


if __name__ == "__main__":
    unittest.main()
