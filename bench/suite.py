"""What every benchmark suite of ``make bench`` gives back: figures next to their baselines, and targets.

A suite is a module of ``bench`` with ``run(options: SuiteOptions) -> SuiteResult``; it starts and stops the
infrastructure it needs (``bench.infra.embedded_infrastructure`` or a whole ``bmw.devstack.stack.Stack``) and
reports progress on ``options.progress``. ``python -m bench`` runs the suites one after another, prints their
tables and the targets, and writes everything to ``bench/results/latest.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress


@dataclass(frozen=True)
class Figure:
    """One measured figure next to its baseline. ``ratio`` is always subject ÷ baseline."""

    key: str
    group: str
    name: str
    unit: str
    value: float
    baseline: float
    baseline_name: str
    higher_is_better: bool
    count: int
    seconds: float | None = None
    baseline_seconds: float | None = None

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")

    def as_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "key": self.key,
            "group": self.group,
            "name": self.name,
            "unit": self.unit,
            "value": round(self.value, 3),
            "baseline": round(self.baseline, 3),
            "baseline_name": self.baseline_name,
            "ratio": None if math.isnan(ratio) else round(ratio, 5),
            "higher_is_better": self.higher_is_better,
            "count": self.count,
            "seconds": None if self.seconds is None else round(self.seconds, 4),
            "baseline_seconds": None if self.baseline_seconds is None else round(self.baseline_seconds, 4),
        }


@dataclass(frozen=True)
class Target:
    """A target of issue 10 and what this run measured for it: met when ``value`` is on the right side of ``limit``."""

    key: str
    text: str  # "pipeline sustains ≥ 200 referrals/s"
    value: float
    limit: float
    unit: str
    higher_is_better: bool
    #: Why a figure is what it is, when the target is missed (the profile's finding), or a caveat.
    note: str = ""

    @property
    def met(self) -> bool:
        if math.isnan(self.value):
            return False
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "text": self.text,
            "value": None if math.isnan(self.value) else round(self.value, 3),
            "limit": self.limit,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "met": self.met,
            "note": self.note,
        }


@dataclass
class SuiteResult:
    """Everything one suite measured. ``checks`` are correctness checks of the run (counts add up, …): a figure
    from a run whose checks failed is not a figure."""

    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    #: Pictures the suite wrote (relative to the output directory).
    charts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "seconds": round(self.seconds, 1),
            "settings": self.settings,
            "figures": [figure.as_dict() for figure in self.figures],
            "targets": [target.as_dict() for target in self.targets],
            "checks": self.checks,
            "details": self.details,
            "charts": self.charts,
        }


@dataclass
class SuiteOptions:
    """What the runner gives each suite."""

    quick: bool
    output: Path
    progress: Progress
    console: Console
    charts: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
