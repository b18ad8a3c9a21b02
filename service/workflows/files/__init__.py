"""The files documents carry besides their text: uploaded attachments and the org's seal.

``uploads`` takes a PDF or DOCX an org will attach to its notices; ``attachments`` resolves a
notice's file attachments at preview and issue and lays them into its PDF; ``seals`` keeps the
seal image each org seals with (the drawn test seal for an org without one).
"""
