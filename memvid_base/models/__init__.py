"""The default embedding model without torch: all-MiniLM-L6-v2 as an ONNX graph written from its safetensors weights.

Layer 0, beside the basics: :mod:`memvid_base.embeddings` loads it. May import only ``errors``.
"""
