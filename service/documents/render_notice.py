"""通知: the GB/T 9704-2012 red-header notice (doc_templates/notice.docx).

The 正文, 附件说明, 署名 with the seal and the 附件 pages are built as fragments; the mark,
发文字号, title, 主送机关 and 版记 are simple fields.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

from docx.document import Document as DocxDocument
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Pt
from docxtpl import DocxTemplate

from service.documents._internals import paragraph_xml, run_xml
from service.documents.layout import (
    DoctypeRenderer,
    Fragment,
    RenderJob,
    balance_title,
    chinese_date,
    literal,
    measure,
    printable,
    signature_block,
    write_blocks,
)
from service.documents.metrics import em_width, printed_width, style_font


def _notice_context(tpl: DocxTemplate, job: RenderJob) -> dict[str, Any]:
    d = job.data
    org = job.org
    signed_on: dt.date = d.get("date") or job.issue_date
    printed_on: dt.date = d.get("print_date") or job.issue_date
    attachments = list(d.get("attachments") or [])

    body = Fragment(tpl)
    write_blocks(body, d["body"])
    contact = d.get("contact")
    if contact:
        lines = [f"联系人：{contact['name']}"]
        lines += [f"联系电话：{contact['phone']}"] if contact.get("phone") else []
        lines += [f"电子邮箱：{contact['email']}"] if contact.get("email") else []
        for i, line in enumerate(lines, start=1):  # kept together on one page
            body.add("WenshuBody", line).paragraph_format.keep_with_next = i < len(lines)

    secrecy = d.get("secrecy") or ""
    if secrecy and d.get("secrecy_term"):
        secrecy += "★" + d["secrecy_term"]
    cc = [c for c in d.get("cc") or [] if c]
    note = d.get("note") or ""
    listing = _attachment_list(tpl, attachments)
    # The page with the seal must carry text (GB/T 9704-2012 §7.3.5.1): the last line of the
    # body, or the whole 附件说明 (never split across pages), travels with the 署名 to a new
    # page if need be.
    if isinstance(listing, Fragment):
        for p in listing.paragraphs:
            p.paragraph_format.keep_with_next = True
            p.paragraph_format.keep_together = True  # a title of two lines stays whole
    else:
        body.paragraphs[-1].paragraph_format.keep_with_next = True
    return {
        "copy_no_line": literal(d.get("copy_no") or ""),
        "secrecy_line": literal(secrecy),
        "urgency_line": literal(d.get("urgency") or ""),
        "mark": literal(org.mark),
        "wenhao": literal(job.wenhao),
        "signer": literal(d.get("signer") or ""),
        "title": literal(balance_title(d["title"], tpl)),
        "addressee_line": literal("，".join(d["addressees"]) + "："),
        "body": body,
        "attachment_list": listing,
        "signature": signature_block(tpl, org.name, chinese_date(signed_on), job.seal_png),
        "note": literal(f"（{note}）" if note else ""),
        "attachment_pages": _attachment_pages(tpl, attachments, int(d.get(BLANK_PAGES) or 0)),
        "cc_line": literal(CC_LEAD + "，".join(cc) + "。" if cc else ""),
        "printed_by": literal(d.get("printed_by") or org.name),
        "print_date_text": literal(chinese_date(printed_on) + "印发"),
    }


def _attachment_list(tpl: DocxTemplate, attachments: list[Mapping[str, Any]]) -> Fragment | str:
    """附件说明: 附件：1. 标题 / 2. 标题, names aligned; no punctuation after a name."""
    if not attachments:
        return ""
    frag = Fragment(tpl)
    char_pt = measure(tpl.docx).char_pt
    titles = [str(a["title"]).rstrip("。.，,；;") for a in attachments]
    if len(titles) == 1:
        p = frag.add("WenshuAttachmentList", "附件：" + titles[0])
        ind = paragraph_xml(p).get_or_add_pPr().get_or_add_ind()
        ind.set(qn("w:left"), str(round(5 * char_pt * 20)))
        ind.set(qn("w:leftChars"), "500")
        ind.set(qn("w:hanging"), str(round(3 * char_pt * 20)))
        ind.set(qn("w:hangingChars"), "300")
        return frag
    for i, title in enumerate(titles, start=1):
        style = "WenshuAttachmentList" if i == 1 else "WenshuAttachmentListMore"
        p = frag.add(style, ("附件：" if i == 1 else "") + f"{i}.")
        p.add_run().add_tab()
        p.add_run(printable(title))
    return frag


BLANK_PAGES = "blank_pages"
"""Key of the data (set by :func:`service.documents.render.typeset`, never typed): pages left
blank before the 版记 so that it falls on an even page."""

FILE_PAGES = "file_pages"
"""Key of an attachment item (set by issuing, never typed) giving the pages of the file to be
appended: the renderer leaves that many pages for it, the first headed 附件N."""


def _attachment_pages(
    tpl: DocxTemplate, attachments: list[Mapping[str, Any]], blank: int = 0
) -> Fragment | str:
    """Each attachment with a body: a new page, 附件N (黑体) top left, its title centred;
    then ``blank`` new pages, the last holding the 版记 (:data:`BLANK_PAGES`).

    An attachment that is a file gets as many empty pages as the file has, the first headed
    附件N: after conversion its pages are laid under them (``service/documents/attach.py``),
    so they carry the notice's page numbers and the 版记 still comes last, on a page of its
    own when a file ends the notice (GB/T 9704-2012 §7.3.7, §7.4).
    """
    shown = [
        (i, a) for i, a in enumerate(attachments, start=1) if a.get("body") or a.get(FILE_PAGES)
    ]
    if not shown and not blank:
        return ""
    frag = Fragment(tpl)
    for i, attachment in shown:
        frag.add("WenshuAttachmentLabel", attachment_label(i, len(attachments)))
        pages = int(attachment.get(FILE_PAGES) or 0)
        if pages:
            for _ in range(pages - 1):
                frag.add("WenshuBody").paragraph_format.page_break_before = True
            continue
        frag.add(
            "WenshuAttachmentTitle",
            balance_title(attachment["title"], tpl, "WenshuAttachmentTitle"),
        )
        write_blocks(frag, attachment["body"])
    if shown and shown[-1][1].get(FILE_PAGES):  # the 版记 sits at the foot of the last page
        frag.add("WenshuBody").paragraph_format.page_break_before = True
    for _ in range(blank):
        frag.add("WenshuBody").paragraph_format.page_break_before = True
    return frag


def attachment_label(n: int, count: int) -> str:
    """附件 when there is one attachment, else 附件N."""
    return "附件" if count == 1 else f"附件{n}"


CC_LEAD = "抄送："


def _finish_notice(document: DocxDocument, job: RenderJob) -> None:
    _hang_cc_line(document)
    _fit_mark(document, job)
    if int(job.data.get(BLANK_PAGES) or 0) == 2:
        _unnumber_blank_and_imprint_pages(document)


def _unnumber_blank_and_imprint_pages(document: DocxDocument) -> None:
    """A blank page before the 版记 page: neither carries a page number (GB/T 9704-2012
    §7.5). The text ends a section (its last paragraph takes a copy of the page settings and
    their footers) and the blank page and the 版记 page make a last one with empty footers."""
    body = document.element.body
    breaks = [
        p
        for p in body.iterchildren(qn("w:p"))
        if p.pPr is not None and p.pPr.find(qn("w:pageBreakBefore")) is not None
    ][-2:]
    before = breaks[0].getprevious() if len(breaks) == 2 else None
    if before is None or before.tag != qn("w:p"):
        return
    final = body.find(qn("w:sectPr"))
    ends_text = copy.deepcopy(final)
    before.get_or_add_pPr().append(ends_text)
    breaks[0].pPr.remove(breaks[0].pPr.find(qn("w:pageBreakBefore")))  # the section starts it
    for ref in final.findall(qn("w:footerReference")):
        final.remove(ref)  # then new, empty footers for the last section
    last = document.sections[-1]
    last.footer.is_linked_to_previous = False
    last.even_page_footer.is_linked_to_previous = False


def _hang_cc_line(document: DocxDocument) -> None:
    """A 抄送 line that wraps continues under the first name after the colon (GB/T 9704-2012
    §7.4.2): a hanging indent of the printed width of 抄送：, measured in the 版记's font."""
    for table in document.tables:
        cells = [cell for row in table.rows for cell in row.cells]
        for p in (p for cell in cells for p in cell.paragraphs):
            if (
                p.style is not None
                and p.style.style_id == "WenshuImprint"
                and p.text.startswith(CC_LEAD)
            ):
                hang = printed_width(CC_LEAD, style_font(document, "WenshuImprint"))
                ind = paragraph_xml(p).get_or_add_pPr().get_or_add_ind()
                left = p.style.paragraph_format.left_indent
                right = p.style.paragraph_format.right_indent
                left_pt = left.pt if left is not None else 0.0
                ind.set(qn("w:left"), str(round((left_pt + hang) * 20)))
                ind.set(qn("w:right"), str(round((right.pt if right is not None else 0) * 20)))
                ind.set(qn("w:hanging"), str(round(hang * 20)))
                for attr in ("w:firstLine", "w:firstLineChars", "w:leftChars", "w:hangingChars"):
                    ind.attrib.pop(qn(attr), None)


def _fit_mark(document: DocxDocument, job: RenderJob) -> None:
    """Narrow the characters of a mark too long for the 版心 (as clerks do by hand)."""
    page = measure(document)
    needed = em_width(job.org.mark) * page.mark_size_pt
    if needed <= page.text_width_pt:
        return
    scale = page.text_width_pt / needed
    width_pct = max(50, int(scale * 100))
    size_pt = page.mark_size_pt * min(1.0, scale / (width_pct / 100))
    for p in document.paragraphs:
        if p.style is not None and p.style.style_id == "WenshuMark":
            for run in p.runs:
                run.font.size = Pt(int(size_pt * 2) / 2)
                sz = run_xml(run).get_or_add_rPr().find(qn("w:sz"))
                sz.addprevious(parse_xml(f'<w:w {nsdecls("w")} w:val="{width_pct}"/>'))


RENDERER = DoctypeRenderer(_notice_context, _finish_notice, "通知", blank_pages_key=BLANK_PAGES)
