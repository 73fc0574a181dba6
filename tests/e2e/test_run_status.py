"""The run's status has one owner: a failed task of any step marks sync_runs failed."""

from __future__ import annotations


def test_a_hubspot_failure_in_load_marks_the_run_failed(sync_env, monkeypatch) -> None:
    """HubSpot answers every call of the load with 403 (the sandbox's error fault, switched
    on as load starts): the load task fails, and the run's row says so, not 'running'."""
    import hubspot_sync.steps.load as load_step

    real = load_step.load

    def load_against_a_failing_portal(run):
        sync_env.hubspot.configure_faults(error_rate=1.0, statuses=[403])
        return real(run)

    sync_env.run("companies")
    monkeypatch.setattr(load_step, "load", load_against_a_failing_portal)
    run = sync_env.run("members")

    states = {ti.task_id: str(getattr(ti.state, "value", ti.state))
              for ti in run["dag_run"].get_task_instances()}
    assert states["load"] == "failed" and states["validate"] == "success"
    assert states["report"] == "upstream_failed"
    assert run["state"] == "failed" and run["status"] == "failed"
    assert run["finished_at"] is not None
    assert run["details"]["failed_step"] == "load"
    assert "403" in run["details"]["error"]
    # The watermark does not move: the next run reads this run's window again.
    assert sync_env.warehouse.last_successful_window_end("members") is None


def test_a_failure_before_the_run_started_is_recorded_too(sync_env) -> None:
    """A bad ``since`` fails extract_source before the run's row exists: the row is
    written as failed with the reason."""
    run = sync_env.run("companies", since="last tuesday")
    assert run["state"] == "failed" and run["status"] == "failed"
    assert run["details"]["failed_step"] == "extract_source"
    assert "not a date-time" in run["details"]["error"]
