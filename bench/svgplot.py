# SPDX-License-Identifier: MIT
"""A small writer of plain SVG charts for bench/report.py: grouped bars and
lines, with error bars for a range (an IQR, min..max, or a published span)
and shaded horizontal bands for figures given as a range.  Standard library
only; the output is plain SVG 1.1 text, a few KiB, that any browser shows.

A value is a number, a (value, low, high) tuple, or None (nothing drawn).
"""

import math
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 700, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 110
PALETTE = {
    "ours": "#1f77b4",
    "floor": "#7f7f7f",
    "hardware": "#d62728",
    "alt": "#2ca02c",
    "alt2": "#9467bd",
    "alt3": "#ff7f0e",
}


def _split(v):
    """(value, low, high) of a value as the charts take it, or None."""
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        val, lo, hi = v
        lo = val if lo is None else lo
        hi = val if hi is None else hi
        return float(val), float(lo), float(hi)
    return float(v), float(v), float(v)


def _num(x):
    """A coordinate, short."""
    return ("%.1f" % x).rstrip("0").rstrip(".")


def _label(v):
    """A tick label: 3 significant digits, no exponent for usual sizes."""
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 0.01:
        return "%g" % v
    return ("%.3g" % v)


def _nice_ticks(lo, hi):
    """Linear ticks from 0 (or @lo) to at least @hi: 1, 2 or 5 times 10^k."""
    span = max(hi - lo, 1e-12)
    raw = span / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t < hi + step * 0.999:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _log_ticks(lo, hi):
    """Decades (and 2, 5 between them when there are few) covering lo..hi."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if b == a:
        b += 1
    ticks = []
    for e in range(a, b + 1):
        for m in ((1,) if b - a > 2 else (1, 2, 5)):
            t = m * 10 ** e
            if 10 ** a <= t <= 10 ** b:
                ticks.append(t)
    return ticks


class _Axis:
    """Maps data to pixels along one axis, linear or log."""

    def __init__(self, lo, hi, p0, p1, log):
        self.log = log
        if log:
            self.ticks = _log_ticks(lo, hi)
            self.lo, self.hi = math.log10(self.ticks[0]), math.log10(self.ticks[-1])
        else:
            self.ticks = _nice_ticks(min(0.0, lo), hi)
            self.lo, self.hi = self.ticks[0], self.ticks[-1]
        self.p0, self.p1 = p0, p1

    def __call__(self, v):
        if self.log:
            v = math.log10(max(v, 1e-300))
        return self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)


class _Svg:
    def __init__(self, title):
        self.parts = [
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">'
            % (WIDTH, HEIGHT, WIDTH, HEIGHT),
            '<title>%s</title>' % escape(title),
            '<rect width="100%" height="100%" fill="white"/>',
            '<text x="%d" y="22" text-anchor="middle" font-size="15" font-weight="bold">%s</text>'
            % (WIDTH // 2, escape(title)),
        ]

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, anchor="start", extra=""):
        self.add('<text x="%s" y="%s" text-anchor="%s"%s>%s</text>'
                 % (_num(x), _num(y), anchor, extra, escape(s)))

    def line(self, x1, y1, x2, y2, color, extra=""):
        self.add('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"%s/>'
                 % (_num(x1), _num(y1), _num(x2), _num(y2), color, extra))

    def done(self):
        return "\n".join(self.parts + ["</svg>"]) + "\n"


def _yaxis(svg, ax, ylabel):
    for t in ax.ticks:
        y = ax(t)
        svg.line(LEFT, y, WIDTH - RIGHT, y, "#e0e0e0")
        svg.text(LEFT - 6, y + 4, _label(t), "end")
    svg.line(LEFT, TOP, LEFT, HEIGHT - BOTTOM, "black")
    svg.line(LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM, "black")
    svg.text(16, (TOP + HEIGHT - BOTTOM) / 2, ylabel, "middle",
             ' transform="rotate(-90 16 %s)"' % _num((TOP + HEIGHT - BOTTOM) / 2))


def _errbar(svg, x, ax, lo, hi, color):
    if hi <= lo:
        return
    y0, y1 = ax(lo), ax(hi)
    svg.line(x, y0, x, y1, color, ' stroke-width="1.5"')
    svg.line(x - 4, y0, x + 4, y0, color, ' stroke-width="1.5"')
    svg.line(x - 4, y1, x + 4, y1, color, ' stroke-width="1.5"')


def _legend(svg, entries, y):
    """One row of swatches under the plot: (name, color, kind)."""
    x = LEFT
    for name, color, kind in entries:
        # DejaVu Sans at 12 px averages about 7.5 px a character.
        w = 34 + 7.5 * len(name)
        if x > LEFT and x + w > WIDTH - RIGHT:
            x, y = LEFT, y + 16
        if kind == "band":
            svg.add('<rect x="%d" y="%s" width="18" height="10" fill="%s" fill-opacity="0.18" '
                    'stroke="%s" stroke-dasharray="4 2"/>' % (x, _num(y - 9), color, color))
        elif kind == "dash":
            svg.line(x, y - 4, x + 18, y - 4, color, ' stroke-width="2" stroke-dasharray="5 3"')
        elif kind == "line":
            svg.line(x, y - 4, x + 18, y - 4, color, ' stroke-width="2"')
        else:
            svg.add('<rect x="%d" y="%s" width="18" height="10" fill="%s"/>' % (x, _num(y - 9), color))
        svg.text(x + 22, y, name)
        x += w


def _range_of(values, bands=()):
    lo, hi = math.inf, 0.0
    for v in values:
        s = _split(v)
        if s:
            lo, hi = min(lo, s[0], s[1]), max(hi, s[0], s[2])
    for b in bands:
        lo, hi = min(lo, b[2]), max(hi, b[3])
    if hi <= 0:
        raise ValueError("nothing to plot")
    return lo, hi


def bar_chart(title, ylabel, groups, series, log=False, note=None):
    """Grouped bars.

    groups: the category labels along x.
    series: (name, color, values) with one value per group (None: no bar);
        a (value, low, high) value gets an error bar over low..high.
    log: a log10 y axis (every value must then be > 0).
    note: a line of small text under the legend.
    Returns the SVG text.
    """
    svg = _Svg(title)
    lo, hi = _range_of([v for _, _, vals in series for v in vals])
    ax = _Axis(lo * 0.8 if log else 0.0, hi * 1.05, HEIGHT - BOTTOM, TOP, log)
    _yaxis(svg, ax, ylabel)
    slot = (WIDTH - LEFT - RIGHT) / len(groups)
    bw = slot * 0.8 / max(len(series), 1)
    base = ax(ax.ticks[0])
    for g, label in enumerate(groups):
        x0 = LEFT + g * slot + slot * 0.1
        svg.text(LEFT + (g + 0.5) * slot, HEIGHT - BOTTOM + 16, label, "middle")
        for k, (_, color, vals) in enumerate(series):
            s = _split(vals[g])
            if not s:
                continue
            x, y = x0 + k * bw, ax(s[0])
            svg.add('<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>'
                    % (_num(x + 1), _num(y), _num(bw - 2), _num(max(base - y, 0.5)), color))
            svg.text(x + bw / 2, y - 3 if s[2] == s[0] else ax(s[2]) - 3, _label(s[0]),
                     "middle", ' font-size="10"')
            _errbar(svg, x + bw / 2, ax, s[1], s[2], "black")
    _legend(svg, [(n, c, "bar") for n, c, _ in series], HEIGHT - BOTTOM + 40)
    if note:
        svg.text(LEFT, HEIGHT - 12, note, extra=' font-size="10" fill="#555"')
    return svg.done()


def line_chart(title, xlabel, ylabel, xs, xlabels, series, bands=(), xlog=True, ylog=False,
               note=None):
    """Lines over a numeric x axis.

    xs: the x positions (numbers, > 0 when @xlog); xlabels: their labels.
    series: (name, color, values, dashed) with one value per x (None: gap);
        a (value, low, high) value gets an error bar over low..high.
    bands: (name, color, low, high) shaded across the whole width, e.g. a
        published figure known only as a span.
    Returns the SVG text.
    """
    svg = _Svg(title)
    lo, hi = _range_of([v for _, _, vals, _ in series for v in vals], bands)
    ax = _Axis(lo * 0.8 if ylog else 0.0, hi * 1.08, HEIGHT - BOTTOM, TOP, ylog)
    _yaxis(svg, ax, ylabel)
    pad = 30
    fx = [math.log10(x) if xlog else float(x) for x in xs]
    x0, x1 = min(fx), max(fx)

    def px(i):
        if x1 == x0:
            return (LEFT + WIDTH - RIGHT) / 2
        return LEFT + pad + (fx[i] - x0) / (x1 - x0) * (WIDTH - RIGHT - LEFT - 2 * pad)

    for i, label in enumerate(xlabels):
        svg.line(px(i), HEIGHT - BOTTOM, px(i), HEIGHT - BOTTOM + 4, "black")
        svg.text(px(i), HEIGHT - BOTTOM + 16, label, "middle")
    svg.text((LEFT + WIDTH - RIGHT) / 2, HEIGHT - BOTTOM + 32, xlabel, "middle")
    for name, color, blo, bhi in bands:
        y0, y1 = ax(bhi), ax(blo)
        svg.add('<rect x="%d" y="%s" width="%d" height="%s" fill="%s" fill-opacity="0.18" '
                'stroke="%s" stroke-dasharray="4 2"/>'
                % (LEFT, _num(y0), WIDTH - RIGHT - LEFT, _num(max(y1 - y0, 1)), color, color))
    for name, color, vals, dashed in series:
        pts = [(px(i), _split(v)) for i, v in enumerate(vals)]
        run = []
        for x, s in pts + [(None, None)]:
            if s:
                run.append("%s,%s" % (_num(x), _num(ax(s[0]))))
                continue
            if len(run) > 1:
                svg.add('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>'
                        % (" ".join(run), color, ' stroke-dasharray="5 3"' if dashed else ""))
            run = []
        for x, s in pts:
            if s:
                svg.add('<circle cx="%s" cy="%s" r="3" fill="%s"/>' % (_num(x), _num(ax(s[0])), color))
                _errbar(svg, x, ax, s[1], s[2], color)
    _legend(svg, [(n, c, "dash" if d else "line") for n, c, _, d in series] +
            [(n, c, "band") for n, c, _, _ in bands], HEIGHT - BOTTOM + 52)
    if note:
        svg.text(LEFT, HEIGHT - 6, note, extra=' font-size="10" fill="#555"')
    return svg.done()
