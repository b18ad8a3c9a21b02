"""DOCX → PDF/A through a supervised pool of warm LibreOffice instances (client, instance, pool)."""
