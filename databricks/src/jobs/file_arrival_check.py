"""The first task of the ddbstream_on_arrival job: it fails the run, and so
emails failure_email, unless the job's file arrival trigger uses file events.

Without file events a file arrival trigger lists its folder, and "a storage
location configured for a file arrival trigger can contain only up to
10,000 files. Locations with more files cannot be monitored for new file
arrivals" (https://docs.databricks.com/aws/en/jobs/file-arrival-triggers).
File events lift that: "File arrival triggers are significantly more
scalable with file events enabled"
(https://docs.databricks.com/aws/en/connect/unity-catalog/cloud-storage/file-events-faq),
for folders "of any size" (Databricks' technical blog, "Auto Loader with
file events": https://community.databricks.com/t5/technical-blog/auto-loader-with-file-events-simplified-file-discovery-at-scale/ba-p/151203).
The forwarder's folder only grows, so such a trigger would start runs for
a few days of traffic and then none, and no run would fail to say so. This task reads
the trigger's state from the Jobs API (jobs/get: trigger_state.file_arrival
.using_file_events, "whether the trigger leverages file events to detect file
arrivals", https://docs.databricks.com/api/workspace/jobs/get) and stops the
run, naming the remedy, when it is not true; the pipeline task runs only
after this one succeeds.

Usage (the job passes its own ID): file_arrival_check.py {{job.id}}
"""

import sys

# The most files a file arrival trigger without file events can monitor.
FILE_LIMIT = 10000

DOCS = "https://docs.databricks.com/aws/en/jobs/file-arrival-triggers"
FILE_EVENTS_DOCS = "https://docs.databricks.com/aws/en/connect/unity-catalog/cloud-storage/manage-external-locations"


def trigger_problem(job):
    """Why this job must not update the tables, or None when its file arrival
    trigger uses file events. job is the Jobs API's jobs/get answer (a dict)."""
    settings = job.get("settings") or {}
    name = settings.get("name") or "the file-arrival job"
    url = ((settings.get("trigger") or {}).get("file_arrival") or {}).get("url") or "its folder"
    state = (job.get("trigger_state") or {}).get("file_arrival")
    if isinstance(state, dict) and state.get("using_file_events") is True:
        return None
    if not isinstance(state, dict):
        why = (
            "the Jobs API reports no state for its file arrival trigger (the trigger is paused, or "
            "the run was started by hand), so it cannot tell whether the trigger uses file events"
        )
    else:
        why = "its file arrival trigger does not use file events (trigger_state.file_arrival.using_file_events is not true)"
    return (
        f"{name}: {why}. Without file events the trigger lists {url} and stops seeing new files once "
        f"more than {FILE_LIMIT:,} files are there ({DOCS}); the forwarder's folder only grows, so it "
        "would go quiet after days of traffic. This run did not update the tables. Either enable file "
        "events on the external location that holds the folder (the volume's storage location; "
        f"{FILE_EVENTS_DOCS}) and keep this job, or set file_arrival_pause_status=PAUSED and "
        "schedule_pause_status=UNPAUSED and deploy again, so that ddbstream_refresh updates the tables "
        "on its schedule. For an update by hand, run ddbstream_refresh."
    )


def main(argv, get_job):
    """Checks the job whose ID is argv[1]; get_job(job_id) answers jobs/get."""
    if len(argv) != 2 or not argv[1].isdigit():
        raise SystemExit(f"usage: {argv[0] if argv else 'file_arrival_check.py'} <job ID>, got {argv[1:]}")
    problem = trigger_problem(get_job(int(argv[1])))
    if problem:
        raise RuntimeError(problem)
    print("the file arrival trigger uses file events")


if __name__ == "__main__":
    # The SDK authenticates as the run's identity inside a Databricks job;
    # the raw answer keeps trigger_state whatever the SDK version's classes.
    from databricks.sdk import WorkspaceClient

    _client = WorkspaceClient()
    main(sys.argv, lambda job_id: _client.api_client.do("GET", "/api/2.2/jobs/get", query={"job_id": job_id}))
