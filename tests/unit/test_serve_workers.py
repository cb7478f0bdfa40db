"""``relink-api serve --workers N``: the option and RELINK_WORKERS, what is refused before
anything starts, whether the pools fit the server's connections, and the restart delays."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from relink_api.cli.main import main
from relink_api.serving.connections import connections_problem
from relink_api.serving.supervisor import WorkerSlot
from relink_api.settings import Settings
from tests.unit.test_cli import EMPTY_ENV


def test_workers_default_to_one_and_are_read_from_relink_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().workers == 1
    monkeypatch.setenv("RELINK_WORKERS", "4")
    assert Settings().workers == 4


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--workers", "0"], {}, "Invalid value for '--workers': 0 is not in the range 1<=x<=64"),
        ([], {"RELINK_WORKERS": "0"}, "RELINK_WORKERS: Input should be greater than or equal to 1"),
        ([], {"RELINK_WORKERS": "65"}, "RELINK_WORKERS: Input should be less than or equal to 64"),
    ],
)
def test_a_worker_count_out_of_range_is_refused(
    tmp_path: Path, args: list[str], env: dict[str, str], said: str
) -> None:
    environment = {**EMPTY_ENV, "RELINK_DATA_DIR": str(tmp_path / "data"), **env}

    result = CliRunner().invoke(main, ["serve", *args], env=environment)

    assert result.exit_code == 2
    assert said in result.output
    assert not (tmp_path / "data").exists()


def test_the_workers_option_takes_a_number() -> None:
    result = CliRunner().invoke(main, ["serve", "--workers", "two"], env=EMPTY_ENV)
    assert result.exit_code == 2
    assert "'two' is not a valid integer" in result.output


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--sandbox", "--workers", "2"], {}),
        (["--workers", "2"], {"RELINK_SANDBOX": "true"}),
        (["--sandbox"], {"RELINK_WORKERS": "3"}),
    ],
)
def test_the_sandbox_is_refused_with_several_workers(
    tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    environment = {**EMPTY_ENV, "RELINK_DATA_DIR": str(tmp_path / "data"), **env}

    result = CliRunner().invoke(main, ["serve", *args], env=environment)

    assert result.exit_code == 2
    assert result.output.count("\n") == 1, result.output
    assert "The sandbox runs in one process" in result.output
    # Refused before the sandbox made its keys or the embedded database was started.
    assert not (tmp_path / "data").exists()


def test_pools_that_fit_beside_a_spare_one_pass() -> None:
    # 9 pools of 10 (8 workers and one spare) in 100 less 3 reserved.
    assert connections_problem(8, 10, max_connections=100, reserved=3) is None


def test_pools_that_do_not_fit_say_what_would() -> None:
    problem = connections_problem(9, 10, max_connections=100, reserved=3)

    assert problem == (
        "9 workers with RELINK_DB_POOL_MAX_SIZE=10 may open 90 connections, plus 10 kept for "
        "a command beside them, more than the 97 PostgreSQL allows (max_connections 100 less "
        "3 reserved): run at most 8 workers or set RELINK_DB_POOL_MAX_SIZE to 9 or less."
    )


def test_a_pool_too_large_for_even_two_processes_names_only_the_pool_size() -> None:
    problem = connections_problem(2, 60, max_connections=100, reserved=3)

    assert problem is not None
    assert "run at most" not in problem
    assert problem.endswith("set RELINK_DB_POOL_MAX_SIZE to 32 or less.")


def test_a_worker_that_keeps_dying_young_is_restarted_ever_later() -> None:
    slot = WorkerSlot(0)
    delays = []
    for _ in range(8):
        slot.started_at = 100.0
        delays.append(slot.restart_delay(now=101.0))
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]

    # One that lived long enough is restarted at once, and starts the count again.
    slot.started_at = 100.0
    assert slot.restart_delay(now=200.0) == 0.0
    slot.started_at = 200.0
    assert slot.restart_delay(now=201.0) == 0.0
