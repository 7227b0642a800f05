"""Charts for the PDF exports, drawn as SVG in Python (WeasyPrint renders inline <svg>; a PDF runs no
JavaScript). Pure functions: labels and numbers in, markup out; no ORM, no clock.

Two shapes cover every report: bars (one series) and stacked bars (aging buckets per month-end). Values
are amounts or counts in one unit; negative ones are drawn as zero (none of the reports has any).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from html import escape

WIDTH, HEIGHT = 680, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 16, 44
BAR_COLOR = "#2563eb"
# Green to dark red: current, 1–30, 31–60, 61–90, 91–120, 120+ (more buckets reuse the last colour).
BUCKET_COLORS = ("#16a34a", "#84cc16", "#eab308", "#f97316", "#dc2626", "#7f1d1d")
GRID_LINES = 4

Number = Decimal | int | float


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is at least `value` (0 → 1): the top of the y axis."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= value * (1 - 1e-12))


def short_number(value: float) -> str:
    """An axis label: 950, 1.2k, 3.5M, 2B."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return f"{text}{suffix}"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def bar_chart(
    labels: Sequence[str],
    values: Sequence[Number],
    *,
    title: str,
    unit: str = "",
    color: str = BAR_COLOR,
    colors: Sequence[str] | None = None,
    integers: bool = False,
) -> str:
    """Vertical bars, one per label, each with its value above it when there is room; `integers` puts the
    y axis's lines on whole numbers (counts)."""
    return stacked_bar_chart(
        labels,
        [(unit or title, [float(v) for v in values])],
        title=title,
        unit=unit,
        colors=[color],
        bar_colors=colors,
        legend=False,
        value_labels=len(labels) <= 16,
        integers=integers,
    )


def stacked_bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number]]],
    *,
    title: str,
    unit: str = "",
    colors: Sequence[str] = BUCKET_COLORS,
    bar_colors: Sequence[str] | None = None,
    legend: bool = True,
    value_labels: bool = False,
    integers: bool = False,
) -> str:
    """Bars of several series stacked bottom-up in the order given, with a legend; `bar_colors` colours a
    one-series chart bar by bar instead."""
    count = len(labels)
    stacks = [[max(float(values[i]), 0.0) for _, values in series] for i in range(count)]
    highest = max((sum(stack) for stack in stacks), default=0.0)
    if integers:
        top = float(GRID_LINES * math.ceil(nice_ceiling(highest / GRID_LINES)))
    else:
        top = nice_ceiling(highest)
    legend_height = 18 if legend else 0
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM - legend_height
    y0 = TOP + legend_height + plot_h  # the baseline

    def y(value: float) -> float:
        return y0 - value / top * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'font-family="DejaVu Sans, sans-serif" font-size="9">',
        f"<title>{escape(title)}</title>",
    ]
    for n in range(GRID_LINES + 1):
        value = top * n / GRID_LINES
        gy = y(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{gy:.1f}" x2="{WIDTH - RIGHT}" y2="{gy:.1f}" '
            f'stroke="{"#6b7280" if n == 0 else "#e5e7eb"}" stroke-width="{1 if n == 0 else 0.6}"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{gy + 3:.1f}" text-anchor="end" fill="#374151">'
            f"{short_number(value)}</text>"
        )
    if unit:  # above the axis's labels, clear of the legend
        parts.append(f'<text x="4" y="{TOP + legend_height - 8}" fill="#374151">{escape(unit)}</text>')
    slot = plot_w / max(count, 1)
    bar_w = max(min(slot * 0.7, 56), 2)
    step = max(1, -(-count // 18))  # at most 18 x labels
    for i, (label, stack) in enumerate(zip(labels, stacks, strict=True)):
        x = LEFT + slot * i + (slot - bar_w) / 2
        base = 0.0
        for s, value in enumerate(stack):
            if value <= 0:
                continue
            fill = bar_colors[i % len(bar_colors)] if bar_colors else colors[min(s, len(colors) - 1)]
            parts.append(
                f'<rect x="{x:.1f}" y="{y(base + value):.1f}" width="{bar_w:.1f}" '
                f'height="{y(base) - y(base + value):.1f}" fill="{fill}"/>'
            )
            base += value
        if value_labels and base > 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y(base) - 3:.1f}" text-anchor="middle" fill="#111827">'
                f"{short_number(base)}</text>"
            )
        if i % step == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y0 + 13}" text-anchor="middle" fill="#374151">'
                f"{escape(label)}</text>"
            )
    if legend:
        lx = LEFT
        for s, (name, _) in enumerate(series):
            fill = colors[min(s, len(colors) - 1)]
            parts.append(f'<rect x="{lx}" y="{TOP - 8}" width="9" height="9" fill="{fill}"/>')
            parts.append(f'<text x="{lx + 12}" y="{TOP}" fill="#111827">{escape(name)}</text>')
            lx += 12 + 6 * len(name) + 14
    parts.append("</svg>")
    return "".join(parts)
