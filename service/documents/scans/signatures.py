"""Is there ink where a signature belongs?

The generated page says where: the label (``被询问人签名：``, as each type declares its required
signatures) is found in the generated PDF's text, and the blank after it — up to the next word
on its line (``年`` of the date) or :data:`BOX_WIDTH` — is the box. The box is carried onto the
scanned page by the lines the two pages share (a scale and a shift per axis, fitted to the
positions of lines read alike), so a page scanned a little off-centre or at another size still
finds its box. Ink is counted in the box of the scan less what the generated page itself prints
there (an underline), after a median filter that removes scanner noise and JPEG speckle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageFilter

from service.documents.scans.pages import PageLine, normalise

BOX_WIDTH = 0.30
"""The box's widest extent to the right of its label, as a share of the page width."""
BOX_ABOVE = 0.025
"""How far above the label's line a signature may reach (share of the page height)."""
BOX_BELOW = 0.008
INK_SHARE = 0.004
"""Dark pixels, beyond the generated page's own, that make a signature (share of the box)."""
RULE_SHARE = 0.4
"""A row of the box this dark is a printed rule."""
MIN_PAIRS = 3
"""Lines read alike needed to fit the page's placement; fewer: the page is taken as printed."""

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Place:
    label: str
    box: Box
    """The blank for the signature, fractions of the generated page."""
    band: tuple[float, float]
    """The label's line, top and bottom: its text is left out of the comparison."""


@dataclass(frozen=True)
class Placement:
    """Generated page → scanned page: x' = ax·x + bx, y' = ay·y + by (fractions)."""

    ax: float = 1.0
    bx: float = 0.0
    ay: float = 1.0
    by: float = 0.0

    def box(self, box: Box) -> Box:
        x0, y0, x1, y1 = box
        return (
            self.ax * x0 + self.bx,
            self.ay * y0 + self.by,
            self.ax * x1 + self.bx,
            self.ay * y1 + self.by,
        )


def places(lines: Sequence[PageLine], labels: Sequence[str]) -> list[Place]:
    """The signature boxes of one generated page, for the labels it prints."""
    out = []
    for line in lines:
        for n, word in enumerate(line.words):
            label = next((lb for lb in labels if normalise(word.text).startswith(lb)), None)
            if label is None:
                continue
            x0, y0, x1, y1 = word.box
            right = min(x1 + BOX_WIDTH, 0.97)
            later = [w.box[0] for w in line.words[n + 1 :] if w.box[0] > x1]
            if later:
                right = min(right, later[0] - 0.005)
            box = (x1 + 0.003, y0 - BOX_ABOVE, right, y1 + BOX_BELOW)
            out.append(Place(label, box, (y0, y1)))
    return out


def placement(generated: Sequence[PageLine], scanned: Sequence[dict[str, Any]]) -> Placement:
    """Fit the scan's placement from lines whose text both pages read the same."""
    by_text: dict[str, list[float]] = {}
    for read in scanned:
        key = normalise(read["text"])
        if len(key) >= 6:
            by_text.setdefault(key, read["box"])
    xs: list[tuple[float, float]] = []
    ys: list[tuple[float, float]] = []
    for line in generated:
        got = by_text.get(normalise(line.text))
        if got is None:
            continue
        xs += [(line.box[0], got[0]), (line.box[2], got[2])]
        ys += [(line.box[1], got[1]), (line.box[3], got[3])]
    if len(xs) < 2 * MIN_PAIRS:
        return Placement()
    ax, bx = _fit(xs)
    ay, by = _fit(ys)
    if not (0.7 < ax < 1.4 and 0.7 < ay < 1.4):  # not a plausible scan of this page
        return Placement()
    return Placement(ax, bx, ay, by)


def _fit(pairs: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least squares v' = a·v + b."""
    n = len(pairs)
    sx = sum(p for p, _ in pairs)
    sy = sum(q for _, q in pairs)
    sxx = sum(p * p for p, _ in pairs)
    sxy = sum(p * q for p, q in pairs)
    den = n * sxx - sx * sx
    if abs(den) < 1e-12:
        return 1.0, (sy - sx) / n
    a = (n * sxy - sx * sy) / den
    return a, (sy - a * sx) / n


def ink(image: Image.Image, box: Box) -> float:
    """Share of dark pixels in ``box`` (fractions) of a greyscale page picture."""
    w, h = image.size
    x0, y0, x1, y1 = box
    crop = image.crop(
        (
            max(0, int(x0 * w)),
            max(0, int(y0 * h)),
            min(w, int(x1 * w) + 1),
            min(h, int(y1 * h) + 1),
        )
    )
    if crop.width < 3 or crop.height < 3:
        return 0.0
    crop = crop.filter(ImageFilter.MedianFilter(3))
    histogram = image.histogram()
    half, seen, median = sum(histogram) / 2, 0, 255
    for level, count in enumerate(histogram):
        seen += count
        if seen >= half:
            median = level
            break
    threshold = min(170, int(median * 0.75))
    pixels = crop.tobytes()  # one byte a pixel (mode L)
    width = crop.width
    rows = [
        sum(1 for v in pixels[r * width : (r + 1) * width] if v < threshold)
        for r in range(crop.height)
    ]
    # A printed rule (the line to sign on) darkens most of a row or two: not a signature.
    ruled = {r for r, n in enumerate(rows) if n > RULE_SHARE * width}
    ruled |= {r + d for r in ruled for d in (-2, -1, 1, 2)}
    dark = sum(n for r, n in enumerate(rows) if r not in ruled)
    return dark / (width * crop.height)


def signed(scan: Image.Image, printed: Image.Image, place: Place, where: Placement) -> bool:
    """Whether the scanned page bears ink in the place's box beyond what is printed there."""
    return ink(scan, where.box(place.box)) - ink(printed, place.box) >= INK_SHARE
