"""Exporting a memory as one self-contained MP4: every live chunk, with its vectors, in a single segment.

The export is :func:`~memvid_base.storage.maintenance.compact` written to another path: the live chunks are
decoded from the video, re-packed into one fresh segment, and the segment's box
(:mod:`~memvid_base.files.self_describe`) carries their stored int8 vectors.  ``Memory(out_path)`` then
rebuilds its index and vector store from that file alone, without calling an embedding model
(:mod:`~memvid_base.storage.recovery`).  The source memory is only read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInputError, MemoryExistsError
from ..files.layout import cache_name, legacy_index_path
from ..files.locate import locate
from ..files.segments import commit_segment, plan_segment, render_plan
from ..files.self_describe import quantized, segment_box
from ..format.container import box_size
from ..index.reader import fetch_record
from .transaction import now

if TYPE_CHECKING:
    from ..reading import MemoryReader

EXPORT_VERSION = 1  # the exported file is a fresh memory: one "build" at version 1


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(memory: MemoryReader, out_path: str | os.PathLike[str]) -> Path:
    """``out_path`` resolved, refused where writing it would harm the memory or give a file that cannot open.

    Raises:
        InvalidInputError: not an ``.mp4``; a folder; in a folder that does not exist; the memory's own
            video, index or anything inside its segments or cache folders; or beside an index or a cache
            folder that would be taken as the exported file's own (and would not describe it).
    """
    out = Path(out_path).expanduser().resolve()
    if out.suffix.lower() != ".mp4":
        raise InvalidInputError(f"{out_path}: the export must be an .mp4 file, e.g. portable.mp4.")
    if out.is_dir():
        raise InvalidInputError(f"{out_path} is a folder; give the path of the .mp4 file to write.")
    if not out.parent.is_dir():
        raise InvalidInputError(f"{out.parent} does not exist; create the folder first.")
    layout = memory.layout
    if out in (layout.video.resolve(), layout.index.resolve()):
        raise InvalidInputError(f"{out_path} is the memory's own file; export to another path.")
    own_folders = [layout.segments_dir, layout.cache, layout.keyword_dir, *layout.store_dirs()]
    if any(_inside(out, folder.resolve()) for folder in own_folders):
        raise InvalidInputError(f"{out_path} is inside the memory's own folders; export to another path.")
    for stale in (legacy_index_path(out), out.with_name(cache_name(out))):
        if os.path.lexists(stale):
            raise InvalidInputError(
                f"{stale} exists: it would be read as the exported file's index or cache and would not describe it. "
                "Remove it, or export to another name or folder."
            )
    return out


def export_memory(
    memory: MemoryReader, out_path: str | os.PathLike[str], show_progress: bool = False, overwrite: bool = False
) -> dict[str, Any]:
    """Write every live chunk of ``memory`` (at the version it reads) into one self-contained MP4.

    The chunks keep their ids, text, metadata and stored vectors (the same int8 values), so
    ``Memory(out_path)`` opened anywhere, with the file alone, finds the same results as the source.
    The file is rendered beside ``out_path``, verified frame by frame, fsynced and moved into place
    atomically; the source memory is not changed. A file already at ``out_path`` (a memory above all)
    is replaced only with ``overwrite=True``.

    Args:
        memory: An open memory (``Memory`` or ``MemoryReader``; ``as_of`` exports that version).
        out_path: The ``.mp4`` to write; see :func:`check_output` for what is refused.
        show_progress: Show progress bars while decoding and encoding.
        overwrite: Replace a file already at ``out_path``.

    Returns:
        ``chunks``, ``frames``, ``bytes`` (the file's size), ``raw_text_bytes``, ``ratio_to_raw_text``,
        ``box_bytes`` (the memvid box within ``bytes``) and ``path``.

    Raises:
        InvalidInputError: The memory has no live chunks, or ``out_path`` is refused.
        CorruptMemoryError, FrameDecodeError: A chunk could not be decoded intact; nothing is written.
    """
    out = check_output(memory, out_path)
    if out.exists() and not overwrite:
        what = "a memory" if locate(out).exists else "a file"
        raise MemoryExistsError(f"{out_path} is already {what}; export to another name, or replace it on purpose with "
                                "overwrite=True (`memvid export --overwrite`).")
    memory.refresh()
    manifest = memory.manifest
    hits = memory.open_store().lookup(memory.version, include_embeddings=True)
    if not hits:
        raise InvalidInputError(f"{memory.video_path} has no live chunks: nothing to export.")
    hits.sort(key=lambda h: (h.row.v0, h.row.segment, h.row.frame))  # insertion order, frames read in sequence
    seg_by_uid = {s.uid: s for s in manifest.segments}
    from tqdm.auto import tqdm  # imported when used: ~0.1-0.5 s of every start-up otherwise

    bar = tqdm(hits, desc="Decoding chunks", unit="chunk", disable=not show_progress)
    records = [fetch_record(memory.segments, seg_by_uid, h.row) for h in bar]
    if any(h.embedding is None for h in hits):  # pragma: no cover - the store returns what was asked
        raise InvalidInputError("The vector store returned rows without their vectors; run `memvid verify --repair`.")
    encoded, _ = quantized(np.asarray([h.embedding for h in hits], dtype=np.float32))
    settings = memory.settings
    plan = plan_segment(records, settings)
    box = segment_box(plan, records, settings, EXPORT_VERSION, "build", now(),
                      manifest.embedding.get("model") or "", manifest.embedding.get("dimension"), encoded)
    tmp = render_plan(plan, settings, out, int(getattr(memory, "n_workers", 1)), show_progress)
    commit_segment(tmp, plan, out, EXPORT_VERSION, out.parent, box)
    size = out.stat().st_size
    return {
        "path": str(out),
        "chunks": len(records),
        "frames": len(plan.payloads),
        "bytes": size,
        "raw_text_bytes": plan.raw_text_bytes,
        "ratio_to_raw_text": round(size / plan.raw_text_bytes, 4) if plan.raw_text_bytes else None,
        "box_bytes": box_size(out),
    }
