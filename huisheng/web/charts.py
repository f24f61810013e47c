"""Charts drawn on the server as inline SVG: no script, no library, nothing
fetched (the pages' Content-Security-Policy allows no inline script anyway,
and a district's intranet may have no internet).  Colours come from
``style.css`` classes; each mark carries a ``<title>``, which browsers show on
hover.  Labels are escaped: a unit's or account's name is data."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 1000


@dataclass(frozen=True)
class Item:
    label: str
    #: 0–1 or None (no flags)
    coverage: float | None
    on_time: float | None
    flags: int
    href: str | None = None


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _short(label: str, limit: int = 14) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "…"


def _legend(names: tuple[str, ...], y: int) -> str:
    return (f'<rect class="bar-cov" x="200" y="{y - 9}" width="12" height="10"/>'
            f'<text class="legend" x="216" y="{y}">{escape(names[0])}</text>'
            f'<rect class="bar-ontime" x="360" y="{y - 9}" width="12" height="10"/>'
            f'<text class="legend" x="376" y="{y}">{escape(names[1])}</text>')


def bars(items: list[Item], names: tuple[str, str, str], title: str) -> Markup:
    """A horizontal bar pair per item: coverage over on-time coverage, 0–100 %.
    An item with a link is clickable (its label and its bars).  ``names``: what
    coverage, on-time coverage and flags are called."""
    label_w, plot_w, row_h, top = 200, 700, 30, 34
    height = top + row_h * max(len(items), 1) + 22
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" role="img" aria-label="{escape(title)}">', _legend(names, 16)]
    bottom = top + row_h * len(items)
    for tick in range(0, 101, 25):
        x = label_w + plot_w * tick / 100
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}"/>'
                   f'<text class="tick" x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{tick}%</text>')
    for i, item in enumerate(items):
        y = top + i * row_h
        tip = escape(f"{item.label} · {names[0]} {_pct(item.coverage)} · {names[1]} {_pct(item.on_time)} · "
                     f"{names[2]} {item.flags}")
        mark = [f'<title>{tip}</title>',
                f'<text class="label" x="{label_w - 8}" y="{y + 17}" text-anchor="end">'
                f'{escape(_short(item.label))}</text>']
        for offset, cls, value in ((4, "bar-cov", item.coverage), (15, "bar-ontime", item.on_time)):
            w = plot_w * (value or 0.0)
            mark.append(f'<rect class="{cls}" x="{label_w}" y="{y + offset}" width="{w:.1f}" height="10"/>')
            mark.append(f'<text class="value" x="{label_w + w + 4:.1f}" y="{y + offset + 9}">'
                        f'{_pct(value)}</text>')
        group = "".join(mark)
        if item.href:
            out.append(f'<a href="{escape(item.href)}" class="drill"><g>{group}</g></a>')
        else:
            out.append(f"<g>{group}</g>")
    out.append("</svg>")
    return Markup("".join(out))


def trend(items: list[Item], names: tuple[str, str, str], title: str) -> Markup:
    """A monthly trend: coverage and on-time coverage as lines over 0–100 %,
    the number of flags as grey columns behind them (their own scale)."""
    left, right, top, plot_h = 48, 16, 30, 200
    height = top + plot_h + 40
    plot_w = WIDTH - left - right
    n = max(len(items), 1)
    step = plot_w / n
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" role="img" aria-label="{escape(title)}">', _legend(names, 16)]
    for tick in range(0, 101, 25):
        y = top + plot_h * (1 - tick / 100)
        out.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}"/>'
                   f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}%</text>')
    most = max((i.flags for i in items), default=0) or 1
    every = max(1, -(-n // 12))  # at most a dozen month labels
    for k, item in enumerate(items):
        h = plot_h * 0.5 * item.flags / most
        x = left + k * step
        out.append(f'<rect class="volume" x="{x + step * 0.2:.1f}" y="{top + plot_h - h:.1f}" '
                   f'width="{step * 0.6:.1f}" height="{h:.1f}">'
                   f'<title>{escape(item.label)} · {escape(names[2])} {item.flags}</title></rect>')
        if k % every == 0:
            out.append(f'<text class="tick" x="{x + step / 2:.1f}" y="{top + plot_h + 16}" '
                       f'text-anchor="middle">{escape(item.label)}</text>')
    for cls, attr, name in (("line-cov", "coverage", names[0]), ("line-ontime", "on_time", names[1])):
        points = [(left + k * step + step / 2, getattr(item, attr), item) for k, item in enumerate(items)]
        known = [(x, top + plot_h * (1 - v)) for x, v, _ in points if v is not None]
        if len(known) > 1:
            out.append(f'<polyline class="{cls}" points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in known) + '"/>')
        for x, v, item in points:
            if v is not None:
                out.append(f'<circle class="{cls}" cx="{x:.1f}" cy="{top + plot_h * (1 - v):.1f}" r="3.5">'
                           f'<title>{escape(item.label)} {escape(name)} {_pct(v)}</title></circle>')
    out.append("</svg>")
    return Markup("".join(out))
