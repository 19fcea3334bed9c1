"""Changing a memory safely: the write transaction, ingest, creation, recovery from the MP4, lazy metadata,
verification and compaction, export; and replaying versions into vector rows (for the store rebuild and a
reader's exact in-memory index).

Layer 5. May import: the basics and layers 1-4.
"""
