"""The scan of a hand-signed original, read back: recognition, the page-by-page comparison with
the generated document, and whether each page bears its signatures.

Bytes in, frozen dataclasses out; nothing here knows the database or HTTP.

- :mod:`.recognise` runs ocrmypdf (PDF/A, pages turned upright) with the chosen engine:
  ``rapidocr`` (PP-OCRv4, the default: the figures are in docs/signed-copy.md) through the
  ocrmypdf plugin :mod:`.ocrmypdf_rapidocr`, or Tesseract's ``chi_sim``.
- :mod:`.rapid_page` is the command that plugin runs per page (in this virtualenv), and
  :mod:`.textlayer` writes the invisible text of a page.
- :mod:`.pages` reads the generated PDF (its text and word positions per page) and renders pages.
- :mod:`.compare` aligns scanned pages with generated ones and finds what was changed by hand.
- :mod:`.signatures` looks for ink where the layout says a signature belongs.
"""
