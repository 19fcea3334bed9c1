"""The bytes inside an MP4: record payloads, QR encode/decode, all-intra video, packets, the memvid box and int8 vectors.

Layer 2. May import: the basics and :mod:`memvid_base.remote` (a video may be read over HTTP).
"""
