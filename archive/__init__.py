"""Framework-free core of the records archive: models, numbering, blobs, audit chain, index."""
