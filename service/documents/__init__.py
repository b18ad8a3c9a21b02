"""Document production, bytes in and bytes out: render, layout, seal, watermark, PAdES, scans,
conversion. No database, no Flask: every function takes plain values and returns bytes or
frozen dataclasses."""
