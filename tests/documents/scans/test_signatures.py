"""Ink in a signature box: a signature counts, a printed rule, paper grey and scanner noise do not."""

from __future__ import annotations

import random
from io import BytesIO

from PIL import Image, ImageDraw, ImageFont

from service.documents.scans.pages import PageLine, Word
from service.documents.scans.signatures import Placement, placement, places, signed

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
HAND = "/usr/share/fonts/truetype/arphic/ukai.ttc"
W, H = 827, 1170  # A4 at 100 dpi
LABEL = Word("被询问人签名：", (0.52, 0.92, 0.69, 0.94))
LINE = PageLine(LABEL.text, LABEL.box, (LABEL,))


def printed_page() -> Image.Image:
    im = Image.new("L", (W, H), 255)
    d = ImageDraw.Draw(im)
    d.text((int(0.52 * W), int(0.92 * H)), LABEL.text, fill=0, font=ImageFont.truetype(FONT, 18))
    d.line((int(0.70 * W), int(0.94 * H), int(0.88 * W), int(0.94 * H)), fill=0, width=1)
    return im


def scanned(im: Image.Image, *, grey: int = 225, noise: float = 12.0) -> Image.Image:
    """On grey paper, with sensor noise, through JPEG."""
    rng = random.Random(3)
    out = im.point(lambda v: v * grey // 255)
    px = out.load()
    assert px is not None
    for _ in range(W * H // 12):
        x, y = rng.randrange(W), rng.randrange(H)
        px[x, y] = max(0, min(255, int(px[x, y] + rng.gauss(0, noise))))  # type: ignore[operator]
    buf = BytesIO()
    out.save(buf, format="JPEG", quality=70)
    return Image.open(BytesIO(buf.getvalue())).convert("L")


def test_the_box_is_right_of_its_label_up_to_the_next_word() -> None:
    year = Word("年", (0.71, 0.3, 0.73, 0.32))
    label = Word("被核查对象签名：", (0.13, 0.3, 0.33, 0.32))
    [place] = places([PageLine("被核查对象签名：年", label.box, (label, year))], ["被核查对象签名"])
    assert 0.33 < place.box[0] < 0.34 and place.box[2] < 0.71
    assert places([LINE], ["记录人签名"]) == []


def test_an_empty_box_is_not_signed_even_scanned_grey_and_noisy() -> None:
    [place] = places([LINE], ["被询问人签名"])
    page = printed_page()
    assert not signed(page, page, place, Placement())
    assert not signed(scanned(page), page, place, Placement())


def test_a_signature_in_the_box_is_found() -> None:
    [place] = places([LINE], ["被询问人签名"])
    page = printed_page()
    hand = page.copy()
    d = ImageDraw.Draw(hand)
    d.text((int(0.71 * W), int(0.905 * H)), "赵志明", fill=20, font=ImageFont.truetype(HAND, 30))
    assert signed(scanned(hand), page, place, Placement())


def test_a_page_scanned_off_centre_is_placed_by_the_lines_it_shares() -> None:
    printed = [
        PageLine(f"第{n}行的文字内容相当长", (0.13, 0.1 + n * 0.05, 0.8, 0.12 + n * 0.05), ())
        for n in range(6)
    ]
    read = [
        {
            "text": ln.text,
            "box": [ln.box[0] + 0.02, ln.box[1] + 0.01, ln.box[2] + 0.02, ln.box[3] + 0.01],
        }
        for ln in printed
    ]
    where = placement(printed, read)
    x0, y0, _x1, _y1 = where.box((0.5, 0.5, 0.6, 0.6))
    assert abs(x0 - 0.52) < 1e-6 and abs(y0 - 0.51) < 1e-6
