"""Changing a memory safely: the write transaction, ingest, creation, recovery from the MP4, lazy metadata,
verification and compaction, export.

Layer 5. May import: the basics and layers 1-4.
"""
