"""The benchmark harness's pure parts (bench/): the events it signs pass relink-api's own
signature check, the files wrk replays split as replay.lua splits them, wrk's report is
read right, and the figures are medians and ratios of the rounds. The harness itself is
not run here."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from bench import figures, wrk
from bench.accounts import COLUMNS, account_row, fc_account
from bench.payloads import bearer_token, signed_events, stripe_signature, write_lines
from bench.results import Comparison, Measure, results_stem, table

from relink_api.gateway.objects import FcAccount, StripeEvent
from relink_api.webhooks.signature import SignatureError, verify

MIGRATIONS = Path(__file__).resolve().parents[2] / "src" / "relink_api" / "db" / "migrations"

REPORT = """Running 5s test @ http://127.0.0.1:8000/v1/webhooks/stripe
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    28.71ms   11.02ms 180.13ms   81.20%
    Req/Sec     1.12k   102.33     1.30k    70.00%
  Latency Distribution
     50%   26.90ms
     75%   31.20ms
     90%   40.11ms
     99%    1.02s
  5600 requests in 5.01s, 1.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   1117.76
Transfer/sec:    224.50KB
"""


def test_signed_events_pass_the_products_signature_check_and_are_unique() -> None:
    events = list(signed_events(50, secret="whsec_bench", customer="cus_hooks"))
    ids = set()
    for header, body in events:
        verify(body, header, ["whsec_bench"], tolerance=300, now=time.time())
        event = StripeEvent.model_validate_json(body)
        FcAccount.model_validate(event.data.object)
        ids.add((event.id, event.data.object["id"]))
    assert len(ids) == 50
    holders = {
        json.loads(body)["data"]["object"]["account_holder"]["customer"] for _, body in events
    }
    # Spread over customers as a deployment's accounts are, not all one customer's.
    assert len(holders) == 2
    assert all(holder.startswith("cus_hooks") for holder in holders)


def test_a_signature_over_another_body_is_refused() -> None:
    header, body = next(iter(signed_events(1, secret="whsec_bench", customer="cus_hooks")))
    with pytest.raises(SignatureError):
        verify(body + b" ", header, ["whsec_bench"], tolerance=300, now=time.time())
    assert stripe_signature(body, "whsec_other", 1) != stripe_signature(body, "whsec_bench", 1)


def test_replayed_lines_split_at_their_first_tab_into_header_and_body(tmp_path: Path) -> None:
    path = tmp_path / "events.lines"
    written = write_lines(path, signed_events(20, secret="whsec_bench", customer="cus_hooks"))
    lines = path.read_bytes().split(b"\n")
    assert written == 20
    assert lines[-1] == b""
    for line in lines[:-1]:
        header, _, body = line.partition(b"\t")
        assert re.fullmatch(rb"t=\d+,v1=[0-9a-f]{64}", header)
        verify(body, header.decode(), ["whsec_bench"], tolerance=300, now=time.time())


def test_the_bearer_token_names_the_customer() -> None:
    import jwt

    secret = "s" * 64
    claims = jwt.decode(bearer_token("cus_x", secret), secret, algorithms=["HS256"])
    assert claims["stripe_customer"] == "cus_x"
    assert claims["exp"] > time.time()


def test_bulk_loaded_columns_exist_in_the_schema() -> None:
    schema = "\n".join(path.read_text() for path in sorted(MIGRATIONS.glob("*.sql")))
    for column in COLUMNS:
        assert re.search(rf"(^\s+|ADD COLUMN ){column}\s", schema, re.MULTILINE), column
    account = fc_account("fca_x0001", customer="cus_x", authorization="fcauth_x", status="inactive")
    row = account_row(account, at=datetime(2026, 1, 1))
    assert len(row) == len(COLUMNS)
    values = dict(zip(COLUMNS, row, strict=True))
    assert values["customer_id"] == "cus_x"
    assert values["action"] == "relink_required"
    assert json.loads(values["snapshot"]) == account


def test_wrk_report_is_read_with_its_units_and_errors() -> None:
    run = wrk.parse(REPORT)
    assert run == wrk.Run(
        rps=1117.76, p50_ms=26.9, p99_ms=1020.0, requests=5600, non_2xx=7, socket_errors=5
    )
    assert run.errors == 12


def test_a_wrk_run_without_a_latency_report_is_a_failure() -> None:
    with pytest.raises(wrk.WrkFailed):
        wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_wrk_command_passes_script_arguments_after_the_url() -> None:
    load = wrk.Load(32, 5, script=Path("replay.lua"), script_args=("events.lines", "X-H"))
    cmd = wrk.command("http://h/p", load)
    assert cmd[-4:] == ["http://h/p", "--", "events.lines", "X-H"]
    assert "-c32" in cmd
    assert "-d5s" in cmd


def _run(rps: float, p99: float = 10.0, errors: int = 0) -> wrk.Run:
    return wrk.Run(rps, p99 / 2, p99, int(rps * 5), errors, 0)


def test_a_figure_is_the_ratio_of_medians_with_errors_summed() -> None:
    figure = Comparison("1. hooks", "bare", "≥ 0.35x")
    figure.baseline_runs = [_run(8000), _run(7000), _run(9000)]
    figure.subject_runs = [_run(1000, 90), _run(3000, 30, errors=2), _run(1100, 50)]
    assert figure.ratio == pytest.approx(1100 / 8000)
    summary = figure.summary()
    assert summary["relink_api"]["p99_ms"] == 50
    assert summary["relink_api"]["errors"] == 2
    row = figure.row()
    assert row[1:6] == ["bare 8,000 rps", "1,100 rps", "0.14x", "25.0 / 50.0 ms", "2 / 0"]


def test_a_latency_figure_is_what_relink_api_adds_to_the_stand_in() -> None:
    figure = Comparison("3. create", "stand-in", "p50 ≤ +20 ms", latency_ms=200)
    figure.baseline_runs = [_run(480, 410)]
    figure.subject_runs = [_run(260, 740)]
    assert figure.row()[3] == "p50 +170 ms, p99 +540 ms"
    assert figure.summary()["added_p99_ms"] == 540


def test_measures_and_the_table() -> None:
    rss = Measure("6. RSS", "MB", "< 200 MB", values=[90.0, 120.0, 100.0], reduce="max")
    start = Measure("6. start-up", "s", "< 3 s", values=[2.5, 4.0, 2.0])
    assert rss.value == 120.0
    assert start.value == 2.5
    figure = Comparison("2. list", "bare", "≥ 0.5x", [_run(500)], [_run(1000)])
    lines = table([figure], [rss, start]).splitlines()
    assert len(lines) == 5
    assert lines[2].startswith("| 2. list | bare 1,000 rps | 500 rps | 0.50x |")
    assert "120.00 MB" in lines[3]


def test_rounds_alternate_and_events_outnumber_the_fastest_round() -> None:
    assert figures.in_turn(0, ["bare", "ours"]) == ["bare", "ours"]
    assert figures.in_turn(1, ["bare", "ours"]) == ["ours", "bare"]
    assert figures.events_needed(5, []) >= figures.FIRST_GUESS_RPS * 5
    assert figures.events_needed(5, [1000.0, 3000.0]) >= 2 * 3000 * 5


def test_a_second_run_the_same_day_keeps_the_first_runs_results(tmp_path: Path) -> None:
    started = datetime(2026, 11, 30, 15, 0)
    first = results_stem(tmp_path, started)
    assert first == tmp_path / "2026-11-30"
    first.with_suffix(".json").write_text("{}")
    second = results_stem(tmp_path, started)
    assert second == tmp_path / "2026-11-30-2"
    second.with_suffix(".md").write_text("")
    assert results_stem(tmp_path, started) == tmp_path / "2026-11-30-3"


def test_a_figure_without_a_baseline_shows_a_dash_not_nan() -> None:
    # The operator's reads of figure 4 are timed alone, at one connection.
    alone = Comparison(figure="summary", baseline="-", target="p99 < 50 ms")
    alone.subject_runs.append(
        wrk.Run(rps=80.0, p50_ms=11.8, p99_ms=19.4, requests=400, non_2xx=0, socket_errors=0)
    )
    cells = alone.row()
    assert "nan" not in " ".join(cells)
    assert cells[1] == "—"
    assert cells[3] == "—"
    assert cells[5] == "0 / —"


def test_the_floor_checks_signatures_as_relink_api_does() -> None:
    # Figure 1's floor must do the check it stands for: a floor that accepted anything
    # would flatter itself.
    from bench.peers.floor import signed

    now = int(time.time())
    body = b'{"id":"evt_1","type":"financial_connections.account.created"}'
    header = stripe_signature(body, "whsec_floor", now)
    assert signed(body, header, b"whsec_floor", now)
    assert signed(body, "v1=00," + header, b"whsec_floor", now)
    assert not signed(body + b" ", header, b"whsec_floor", now)
    assert not signed(body, header, b"whsec_other", now)
    assert not signed(body, header, b"whsec_floor", now + 301)
    assert not signed(body, header.replace("t=", "t=x"), b"whsec_floor", now)
    assert not signed(body, "", b"whsec_floor", now)
