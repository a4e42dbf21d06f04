"""The dashboard's coverage section: per item of the service list in force in the area, for
the months shown, how many it is for, how many it reached and the rate (servicelist.coverage,
the same figures as ``service_coverage``), with a bar chart of the rates drawn on the server
as inline SVG (no script, no outside file) and the table beside it.

The chart is for everyone: a title and a description read by screen readers (the figures
themselves are in the table), and colours of at least 4.5:1 against its own white ground, in
the light theme and the dark one alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from accounts.scoping import scope_of
from regions.models import Region
from servicelist.coverage import CoverageRow, coverage
from servicelist.statistics import APPS as STATISTICS_APPS

# The chart's colours, each at least 4.5:1 against the ground (tests/dashboards check it).
COLOURS = {
    "ground": "#ffffff",
    "text": "#1f1f1f",  # 16.5:1
    "bar": "#1d4f91",  # 8.4:1
    "grid": "#767676",  # 4.54:1
}
WIDTH = 720
LABEL_WIDTH = 250  # the item's code and name, left of the bars
PLOT_WIDTH = 380
BAR_HEIGHT = 16
ROW_HEIGHT = 24
TOP = 28  # the scale's labels above the bars
BOTTOM = 8
LABEL_CHARACTERS = 16
TICKS = (0, 25, 50, 75, 100)


@dataclass(frozen=True)
class Bar:
    code: str
    label: str
    percent: str
    y: int
    length: Decimal

    # Coordinates as SVG reads them, whatever the page's locale formats numbers as.
    @property
    def width(self) -> str:
        return f"{self.length:.1f}"

    @property
    def text_y(self) -> int:
        return self.y + BAR_HEIGHT - 3

    @property
    def value_x(self) -> str:
        return f"{LABEL_WIDTH + self.length + 6:.1f}"


@dataclass(frozen=True)
class CoverageChart:
    bars: list[Bar]
    # Items in the table but not in the chart: nobody is entitled, or nothing records them.
    omitted: int

    width = WIDTH
    label_width = LABEL_WIDTH
    plot_width = PLOT_WIDTH
    bar_height = BAR_HEIGHT
    colours = COLOURS

    @property
    def height(self) -> int:
        return TOP + ROW_HEIGHT * len(self.bars) + BOTTOM

    @property
    def plot_bottom(self) -> int:
        return self.height - BOTTOM

    @property
    def ticks(self) -> list[tuple[str, str]]:
        return [(f"{LABEL_WIDTH + PLOT_WIDTH * t / 100:.1f}", f"{t}%") for t in TICKS]

    @property
    def description(self) -> str:
        return _(
            "每个服务项目的覆盖率（已享人数除以应享人数），横条越长覆盖越广，共 %(shown)s 项；"
            "无应享对象或本系统不记录其落实的 %(omitted)s 项未画出。各项人数见旁边的表格。"
        ) % {"shown": len(self.bars), "omitted": self.omitted}


def _label(row: CoverageRow) -> str:
    name = row.item.name
    if len(name) > LABEL_CHARACTERS:
        name = name[: LABEL_CHARACTERS - 1] + "…"
    return f"{row.item.code} {name}"


def coverage_chart(rows: list[CoverageRow]) -> CoverageChart:
    """One horizontal bar per item with a rate, in the list's order."""
    bars = []
    for row in rows:
        if row.rate is None:
            continue
        bars.append(
            Bar(
                code=row.item.code,
                label=_label(row),
                percent=row.rate_percent,
                y=TOP + ROW_HEIGHT * len(bars),
                length=row.rate * PLOT_WIDTH,
            )
        )
    return CoverageChart(bars=bars, omitted=len(rows) - len(bars))


@dataclass(frozen=True)
class CoverageSection:
    rows: list[CoverageRow]
    chart: CoverageChart
    # Whether the user may download the upward statistics (lists and payments) of the area.
    statistics: bool


def may_download_statistics(user, area: Region) -> bool:
    scope = scope_of(user)
    return all(scope.covers_region(area, app) for app in STATISTICS_APPS)


def coverage_section(user, area: Region, period) -> CoverageSection:
    """The coverage of every item in force in ``area`` over the period's months (entitled on
    its first day, reached on any day of it): a few queries per item, none per elder."""
    rows = coverage(area, period.start, period.end)
    return CoverageSection(rows, coverage_chart(rows), may_download_statistics(user, area))
