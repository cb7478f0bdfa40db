"""Figures from rounds: medians, ratios against the baseline measured in the same run, the
markdown table and the JSON written to bench/results/."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.wrk import Run


def median(values: list[float]) -> float:
    """The median of ``values``; NaN for none (a figure that was not measured)."""
    return statistics.median(values) if values else float("nan")


@dataclass(slots=True)
class Comparison:
    """One load, against relink-api (``subject``) and a baseline, in alternating rounds.

    ``latency_ms``: the stand-in's latency, when the figure is the latency relink-api adds
    to it rather than a ratio of throughputs."""

    figure: str
    baseline: str
    target: str
    subject_runs: list[Run] = field(default_factory=list)
    baseline_runs: list[Run] = field(default_factory=list)
    latency_ms: float | None = None
    # Webhook events sent more than once because a round outran its file of events.
    repeats: int = 0

    @property
    def ratio(self) -> float:
        """relink-api's median throughput over the baseline's (NaN if the baseline did
        nothing)."""
        baseline = median([r.rps for r in self.baseline_runs])
        if not baseline:
            return float("nan")
        return median([r.rps for r in self.subject_runs]) / baseline

    def summary(self) -> dict[str, Any]:
        subject = _summary(self.subject_runs)
        result: dict[str, Any] = {
            "figure": self.figure,
            "baseline": self.baseline,
            "target": self.target,
            "relink_api": subject,
            self.baseline: _summary(self.baseline_runs),
            "ratio": self.ratio,
            "repeats": self.repeats,
        }
        if self.latency_ms is not None:
            result["latency_ms"] = self.latency_ms
            result["added_p50_ms"] = subject["p50_ms"] - self.latency_ms
            result["added_p99_ms"] = subject["p99_ms"] - self.latency_ms
        return result

    def row(self) -> list[str]:
        subject = _summary(self.subject_runs)
        baseline = _summary(self.baseline_runs)
        measured_beside = bool(self.baseline_runs)
        if self.latency_ms is None:
            versus = f"{self.ratio:.2f}x" if measured_beside else "—"
        else:
            versus = (
                f"p50 {subject['p50_ms'] - self.latency_ms:+.0f} ms, "
                f"p99 {subject['p99_ms'] - self.latency_ms:+.0f} ms"
            )
        errors = f"{subject['errors']} / {baseline['errors'] if measured_beside else '—'}"
        if self.repeats:
            errors += f" ({self.repeats} repeated events)"
        return [
            self.figure,
            f"{self.baseline} {baseline['rps']:,.0f} rps" if measured_beside else "—",
            f"{subject['rps']:,.0f} rps",
            versus,
            f"{subject['p50_ms']:.1f} / {subject['p99_ms']:.1f} ms",
            errors,
            self.target,
        ]


def _summary(runs: list[Run]) -> dict[str, Any]:
    return {
        "rps": median([r.rps for r in runs]),
        "p50_ms": median([r.p50_ms for r in runs]),
        "p99_ms": median([r.p99_ms for r in runs]),
        "errors": sum(r.errors for r in runs),
        "requests": sum(r.requests for r in runs),
        "rounds": [asdict(r) for r in runs],
    }


@dataclass(slots=True)
class Measure:
    """A figure that is a value, not a ratio (memory, start-up), with its rounds."""

    figure: str
    unit: str
    target: str
    values: list[float] = field(default_factory=list)
    # How the value is read: ``max`` (a peak) or ``median``.
    reduce: str = "median"

    @property
    def value(self) -> float:
        if not self.values:
            return float("nan")
        return max(self.values) if self.reduce == "max" else median(self.values)

    def summary(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "unit": self.unit,
            "target": self.target,
            "value": self.value,
            "reduce": self.reduce,
            "rounds": self.values,
        }

    def row(self) -> list[str]:
        rounds = ", ".join(f"{v:.2f}" for v in self.values)
        return [self.figure, "", f"{self.value:.2f} {self.unit}", f"{self.reduce} of {rounds}"]


HEADER = ["figure", "baseline", "relink-api", "ratio", "p50 / p99", "errors (ours / base)"]


def table(comparisons: list[Comparison], measures: list[Measure]) -> str:
    """The markdown table of a run: one row per figure."""
    lines = [_line([*HEADER, "target"]), _line(["---"] * (len(HEADER) + 1))]
    lines += [_line(c.row()) for c in comparisons]
    for m in measures:
        figure, _, value, rounds = m.row()
        lines.append(_line([figure, "", value, rounds, "", "", m.target]))
    return "\n".join(lines)


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def results_stem(out: Path, started: datetime) -> Path:
    """Where a run started at ``started`` writes its .json and .md: ``<date>``, or
    ``<date>-2``, ``-3``, … when a run of the same day is there already, so that a second
    run never overwrites the first."""
    day = started.strftime("%Y-%m-%d")
    stem = out / day
    number = 1
    while stem.with_suffix(".json").exists() or stem.with_suffix(".md").exists():
        number += 1
        stem = out / f"{day}-{number}"
    return stem
