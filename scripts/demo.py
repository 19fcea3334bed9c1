"""Build a memory from the bundled corpus/, search it and answer a question offline.

Run: .venv/bin/python scripts/demo.py   (after bash scripts/setup.sh)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from memvid_base import MemvidChat, MemvidEncoder, MemvidRetriever

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    out = ROOT / "output"
    out.mkdir(exist_ok=True)
    enc = MemvidEncoder(chunk_size=512)
    added = enc.add_files([ROOT / "corpus"])
    print(f"Chunked {added} chunks from {ROOT / 'corpus'}")
    started = time.perf_counter()
    stats = enc.build_video(out / "demo.mp4", out / "demo_index.json", show_progress=True)
    print(
        f"Built {stats['video_file']}: {stats['chunks']} chunks in {stats['frames']} frames, "
        f"{stats['video_bytes']:,} bytes = {stats['ratio_to_raw_text']}x the raw text, "
        f"codec {stats['codec']}, in {time.perf_counter() - started:.1f}s (every frame verified)"
    )
    retriever = MemvidRetriever(out / "demo.mp4", out / "demo_index.json")
    for query in ("When did Apollo 11 land on the Moon?", "How do bees communicate where flowers are?"):
        print(f"\nQ: {query}")
        for hit in retriever.search_with_metadata(query, top_k=3):
            print(f"  {hit['score']:.3f}  {hit['metadata'].get('file')}  frame {hit['frame']}: {hit['text'][:90]!r}")
    print("\n" + MemvidChat(out / "demo.mp4", out / "demo_index.json").chat("What does chlorophyll do in photosynthesis?"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
