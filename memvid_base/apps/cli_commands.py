"""What each ``memvid`` subcommand does: encode, search, info, verify, compact, export, chat, serve and mcp.

Each ``cmd_*`` takes the parsed arguments and the stream for results, and returns the exit status;
a mistake in the command line raises :class:`~memvid_base.apps.cli_common.UserError`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..files.layout import resolve_paths
from ..files.locate import locate
from ..present import chunk_record, human_bytes, info_rows, source_label
from .cli_common import (
    PROG,
    UserError,
    one_line,
    open_memory,
    print_json,
    resolve_embedding_model,
    show_progress,
)
from .terminal_chat import run_chat_loop

if TYPE_CHECKING:
    from ..memory import Memory


def collect_chunks(inputs: Sequence[str], chunk_size: int, overlap: int | None, workers: int | None,
                   embedding_model: Any = None) -> Any:
    """Read files and folders into a ``MemvidEncoder`` holding their chunks and metadata."""
    from ..encoder import MemvidEncoder
    from ..loaders import SUPPORTED_SUFFIXES, iter_files

    files = list(iter_files(list(inputs)))
    if not files:
        raise UserError(
            f"No supported files in {', '.join(inputs)}. Supported types: {', '.join(sorted(SUPPORTED_SUFFIXES))}."
        )
    encoder = MemvidEncoder(chunk_size=chunk_size, overlap=overlap, n_workers=workers, embedding_model=embedding_model)
    for f in files:
        encoder.add_file(f)
    return encoder, files


def cmd_encode(args: argparse.Namespace, out: TextIO) -> int:
    if args.chunk_size < 1:
        raise UserError(f"--chunk-size must be positive, got {args.chunk_size}.")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}.")
    from ..remote.range_http import is_remote

    if is_remote(args.output):
        raise UserError(f"{args.output} is read-only: a memory served over HTTP cannot be written. Encode into a "
                        "local .mp4 (or append to a local copy), then upload that file.")
    video, index = resolve_paths(args.output, args.index)
    model = resolve_embedding_model(args.embedding_model)
    if video.suffix.lower() != ".mp4":
        raise UserError(f"{video}: the output must be an .mp4 file, e.g. -o kb.mp4.")
    found = locate(video, index)  # a memory is its MP4 or its index: a copied MP4 is appended to, never replaced
    exists = found.exists
    if exists and not (args.append or args.overwrite):
        raise UserError(f"A memory already exists at {video}. Add --append to add to it, or --overwrite to replace it.")
    if found.state == "foreign" and not args.overwrite:
        raise UserError(f"{video} exists and is not a memvid memory ({found.why}). Choose another name, or add "
                        "--overwrite to replace that file.")
    if args.frame_size is not None and not (args.append and exists):
        from ..config import VideoSettings

        VideoSettings.create(args.codec or "av1", frame_size=args.frame_size)  # a bad size fails before any file is read
    started = time.perf_counter()
    memory = None
    if args.append and exists:
        from ..config import resolve_codec

        memory = open_memory(str(video), args.index, n_workers=args.workers, embedding_model=model)
        if args.codec and resolve_codec(args.codec).name != memory.settings.codec:
            memory.close()
            raise UserError(
                f"{video} is encoded with {memory.settings.codec}; appended segments use the same codec. Drop --codec {args.codec}."
            )
        if args.frame_size is not None and args.frame_size != memory.settings.frame_size:
            memory.close()
            raise UserError(
                f"{video} has {memory.settings.frame_size} px frames; appended segments use the same size. "
                f"Drop --frame-size {args.frame_size}."
            )
    try:
        encoder, files = collect_chunks(args.inputs, args.chunk_size, args.overlap, args.workers, model)
        show = show_progress(args)
        if not args.quiet:
            print(f"Read {len(files)} file(s) into {len(encoder.chunks)} chunks.", file=sys.stderr)
        if memory is not None:
            memory.add(encoder.chunks, encoder.metadatas, show_progress=show)
            info = memory.info()
    finally:
        if memory is not None:
            memory.close()
    if memory is not None:
        action = f"Appended {len(encoder.chunks)} chunks to"
    else:
        info = encoder.build_video(video, args.index, video_codec=args.codec or "av1", frame_size=args.frame_size, show_progress=show,
                                   overwrite=args.overwrite)
        action = "Encoded"
    seconds = time.perf_counter() - started
    if args.json:
        print_json({**info, "files": [str(f) for f in files], "added_chunks": len(encoder.chunks), "seconds": round(seconds, 3)}, out)
    else:
        print(
            f"{action} {video}: {info['chunks']} chunks in {info['frames']} frames, "
            f"{human_bytes(info['video_bytes'])} ({info['codec']}), index {index}, {seconds:.1f}s.",
            file=out,
        )
    return 0


def text_filter(contains: Sequence[str] | None, not_contains: Sequence[str] | None) -> dict[str, Any] | None:
    """``--contains`` / ``--not-contains`` as a Chroma-style ``where_document`` (all must hold), or None.

    Example:
        >>> text_filter(["zstd"], ["gzip"])
        {'$and': [{'$contains': 'zstd'}, {'$not_contains': 'gzip'}]}
    """
    clauses = [{"$contains": t} for t in contains or []] + [{"$not_contains": t} for t in not_contains or []]
    for clause in clauses:
        if not next(iter(clause.values())):
            raise UserError("--contains and --not-contains need non-empty text.")
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def cmd_search(args: argparse.Namespace, out: TextIO) -> int:
    if args.top_k < 1:
        raise UserError(f"-k must be at least 1, got {args.top_k}.")
    if not args.query.strip():
        raise UserError("The search query is empty; give some words to search for.")
    if args.alpha is not None and not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha must be between 0 and 1, got {args.alpha}.")
    if args.alpha is not None and args.mode != "hybrid":
        raise UserError(f"--alpha weighs hybrid search; add --mode hybrid (the mode is {args.mode}).")
    where_document = text_filter(args.contains, args.not_contains)
    with open_memory(args.memory, args.index, embedding_model=resolve_embedding_model(args.embedding_model)) as memory:
        results = memory.search(args.query, top_k=args.top_k, mode=args.mode, where_document=where_document,
                                alpha=args.alpha)
    records = [chunk_record(k, c) for k, c in enumerate(results, start=1)]
    if args.json:
        print_json(records, out)
        return 0
    if not records:
        why = "no chunk matches" if where_document or args.mode == "keyword" else "the memory is empty"
        print(f"No results: {why}.", file=out)
        return 0
    for rec, chunk in zip(records, results, strict=True):
        print(f"{rec['rank']}. score {rec['score']:.3f} | frame {rec['frame']} of {rec['segment']} | {source_label(chunk.metadata)} | id {rec['id']}", file=out)
        text = " ".join(chunk.text.split())
        print(f"   {text[:300]}{'...' if len(text) > 300 else ''}", file=out)
    return 0


def cmd_info(args: argparse.Namespace, out: TextIO) -> int:
    with open_memory(args.memory, args.index) as memory:
        info = memory.info()
    if args.json:
        print_json(info, out)
        return 0
    width = max(len(k) for k, _ in info_rows(info))
    for key, value in info_rows(info):
        print(f"{key:<{width}}  {value}", file=out)
    return 0


def _repair(memory: Memory, show: bool) -> dict[str, Any]:
    """Run ``Memory.repair`` and check the shape of what it reports."""
    repair = getattr(memory, "repair", None)
    if not callable(repair):
        raise UserError("--repair is unavailable: this version of memvid has no Memory.repair(). "
                        "Use --rebuild-index to rebuild the vector index from the video.")
    result = dict(repair(show_progress=show))
    return {
        "rebuilt_store": bool(result.get("rebuilt_store")),
        "live_chunks": int(result.get("live_chunks") or 0),
        "unrecoverable": [str(u) for u in result.get("unrecoverable") or []],
    }


def _print_repair(repaired: dict[str, Any], out: TextIO) -> None:
    if repaired["rebuilt_store"]:
        print(f"Repaired: rebuilt the vector store from the video ({repaired['live_chunks']} live chunks).", file=out)
    else:
        print(f"Repair: nothing needed rebuilding ({repaired['live_chunks']} live chunks).", file=out)
    if repaired["unrecoverable"]:
        print(f"Could not recover {len(repaired['unrecoverable'])} item(s):", file=out)
        for item in repaired["unrecoverable"][:20]:
            print(f"  - {one_line(item)}", file=out)
        if len(repaired["unrecoverable"]) > 20:
            print(f"  ... and {len(repaired['unrecoverable']) - 20} more", file=out)


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    show = show_progress(args)
    if args.repair and args.rebuild_index:
        raise UserError("--repair already rebuilds what it must; drop --rebuild-index.")
    with open_memory(args.memory, args.index) as memory:
        rebuilt = repaired = None
        if args.repair:
            repaired = _repair(memory, show)
        if args.rebuild_index:
            rebuilt = memory.rebuild_index(show_progress=show)
        report = memory.verify(show_progress=show)
    data = report.to_dict()
    if rebuilt is not None:
        data["rebuilt_index_chunks"] = rebuilt
    if repaired is not None:
        data["repair"] = repaired
    if args.json:
        print_json(data, out)
    else:
        if repaired is not None:
            _print_repair(repaired, out)
        if rebuilt is not None:
            print(f"Rebuilt the vector index from the video: {rebuilt} live chunks.", file=out)
        status = "OK" if report.ok else "DAMAGED"
        print(
            f"{status}: {report.frames_ok}/{report.frames_total} frames decoded, {report.chunks_checked} chunk records checked, "
            f"{report.live_chunks} live chunks.",
            file=out,
        )
        for err in report.errors[:20]:
            print(f"  - {one_line(err)}", file=out)
        if len(report.errors) > 20:
            print(f"  ... and {len(report.errors) - 20} more", file=out)
    if not report.ok:
        video, _ = resolve_paths(args.memory, args.index)
        hint = (
            "restore the damaged video segment(s) from a backup"
            if report.bad_segments
            else f"run `memvid verify {args.memory} --rebuild-index` to rebuild the index from the video"
        )
        print(f"{PROG}: error: {video} failed verification ({len(report.bad_chunks)} bad chunks, "
              f"{len(report.bad_segments)} bad segments); {hint}.", file=sys.stderr)
        return 1
    if repaired is not None and repaired["unrecoverable"]:
        print(f"{PROG}: error: repair could not recover {len(repaired['unrecoverable'])} item(s); "
              "restore them from a backup.", file=sys.stderr)
        return 1
    return 0


def cmd_compact(args: argparse.Namespace, out: TextIO) -> int:
    with open_memory(args.memory, args.index) as memory:
        before = memory.info()
        stats = memory.compact(keep_history=args.keep_history, show_progress=show_progress(args))
        after = memory.info()
    if args.json:
        print_json({"before": before, "after": after, "stats": stats}, out)
    else:
        print(
            f"Compacted {after['video_file']}: {before['segments']} -> {after['segments']} segments, "
            f"{human_bytes(before['video_bytes'])} -> {human_bytes(after['video_bytes'])}, {after['chunks']} live chunks.",
            file=out,
        )
    return 0


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    """Write every live chunk of the memory into one self-contained MP4 (the memory itself is unchanged)."""
    target = Path(args.output).expanduser()
    if target.suffix.lower() != ".mp4":
        raise UserError(f"{target}: the export must be an .mp4 file, e.g. -o portable.mp4.")
    if target.exists() and not args.overwrite:
        raise UserError(f"{target} already exists. Add --overwrite to replace it, or pick another name.")
    with open_memory(args.memory, args.index) as memory:
        stats = memory.export(target, show_progress=show_progress(args), overwrite=args.overwrite)
        source = memory.video_path
    if args.json:
        print_json(stats, out)
    elif not args.quiet:
        ratio = stats["ratio_to_raw_text"]
        print(
            f"Exported {stats['chunks']} live chunks of {source} to {stats['path']}: {stats['frames']} frames, "
            f"{human_bytes(stats['bytes'])} ({'-' if ratio is None else f'{ratio:.3f}'}x the raw text), "
            f"vectors and chunk table {human_bytes(stats['box_bytes'])}.",
            file=out,
        )
    return 0


def _make_chat(args: argparse.Namespace, memory: Memory) -> Any:
    from ..chat import MemvidChat

    provider = None if args.provider == "none" else args.provider
    return MemvidChat(memory=memory, llm_provider=provider, llm_model=args.model, top_k=args.top_k)


def cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    if args.top_k < 1:
        raise UserError(f"-k must be at least 1, got {args.top_k}.")
    with open_memory(args.memory, args.index, embedding_model=resolve_embedding_model(args.embedding_model)) as memory:
        chat = _make_chat(args, memory)
        mode = "offline extractive answers" if chat.llm is None else f"LLM: {args.provider}"
        banner = f"Chatting with {memory.video_path} ({len(memory)} chunks, {mode})."
        return run_chat_loop(chat, sys.stdin, out, banner)


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {args.port}.")
    try:
        import gradio  # noqa: F401  (the [web] extra: asked for here, before the memory is opened)

        from .interactive import MemvidInteractive
    except ImportError as exc:
        raise UserError(f"The web UI needs gradio ({exc}): pip install 'memvid-rag[web]'.") from exc
    model = resolve_embedding_model(args.embedding_model)
    first = open_memory(args.memory, args.index, embedding_model=model)  # a clear error before the UI starts
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"{PROG}: warning: serving on {args.host}: anyone who can reach this machine can read and add to the memory.",
              file=sys.stderr)
    provider = None if args.provider == "none" else args.provider
    app = MemvidInteractive(args.memory, args.index, memory=first, llm_provider=provider, llm_model=args.model,
                            max_upload_mb=args.max_upload_mb, top_k=args.top_k)
    print(f"Serving {args.memory} on http://{args.host}:{args.port} (Ctrl-C to stop).", file=out)
    out.flush()
    app.run(host=args.host, port=args.port, share=False)
    return 0


def cmd_mcp(args: argparse.Namespace, out: TextIO) -> int:
    """Serve the memory to AI apps over MCP (stdio, or streamable HTTP with --http)."""
    try:
        from . import mcp_server
    except ImportError as exc:
        raise UserError(f"The MCP server needs the mcp package ({exc}): pip install 'memvid-rag[mcp]'.") from exc
    token = args.token
    if token is None and args.http:
        token = os.environ.get(mcp_server.TOKEN_ENV) or None
    host, port, token = mcp_server.check_http_options(http=args.http, host=args.host, port=args.port, token=token)
    if not args.http and getattr(sys.stdin, "buffer", None) is None:
        raise UserError("memvid mcp speaks MCP over stdin and stdout, and stdin is closed here. Start it from an MCP "
                        "client (see docs/mcp.md), or serve HTTP with --http.")
    model = resolve_embedding_model(args.embedding_model)
    with open_memory(args.memory, args.index, embedding_model=model) as memory:
        if args.http:
            print(f"{PROG}: MCP server for {memory.video_path} on http://{host}:{port}/mcp (Ctrl-C to stop).", file=sys.stderr)
        mcp_server.serve(memory, writable=args.writable, http=args.http, host=args.host, port=args.port, token=token)
    return 0
