"""Background threads on one base class (``base.Worker``): index, OCR, integrity timers."""
