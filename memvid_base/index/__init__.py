"""Finding chunks: the vector rows over Chroma, the BM25 keyword index, fusion, MMR, ``where_document``, query
planning, and decoding hits into text from the frames.

Layer 4. May import: the basics and layers 1-3 (:mod:`~memvid_base.files` for manifests and segments).
"""
