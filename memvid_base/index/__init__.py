"""Finding chunks: the vector rows over Chroma, exact in-memory vector search (``flat``, ``int8_scan``), the BM25
keyword index, fusion, MMR, ``where_document``, query planning, and decoding hits into text from the frames.

Layer 4. May import: the basics and layers 0-3 (:mod:`~memvid_base.models` for the ONNX writer the int8 scan
runs on, :mod:`~memvid_base.files` for manifests and segments).
"""
