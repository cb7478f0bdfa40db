"""A worker's metrics port (`relink-api worker --metrics-port`), and the multiprocess
directory checked before a process records anything."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from relink_api.cli.main import main
from relink_api.metrics.families import OUTBOUND_DELIVERIES
from relink_api.metrics.standalone import serve_metrics


def test_the_metrics_port_answers_the_families_this_process_records() -> None:
    OUTBOUND_DELIVERIES.labels("delivered").inc()
    server = serve_metrics("127.0.0.1", 0)
    try:
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
    finally:
        server.stop()
    assert response.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    [sample] = [
        sample
        for sample in families["relink_outbound_delivery_attempts"].samples
        if sample.name.endswith("_total") and sample.labels == {"result": "delivered"}
    ]
    assert sample.value >= 1
    assert "relink_http_request_duration_seconds" in families
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10)


@pytest.mark.parametrize("command", [["worker"], ["serve", "--sandbox"]])
def test_a_multiprocess_directory_that_is_not_one_stops_the_process_first(
    command: list[str], tmp_path: Path
) -> None:
    missing = f"{tmp_path}/absent"
    result = CliRunner().invoke(main, command, env={"PROMETHEUS_MULTIPROC_DIR": missing})
    assert result.exit_code == 2, result.output
    assert f"PROMETHEUS_MULTIPROC_DIR={missing} must be an existing directory" in result.output
