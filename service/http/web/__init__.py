"""The Chinese web pages: one blueprint (``blueprint.py``), its views, the page guard and forms."""
