"""The ``memvid`` command line: encode, search, chat, info, verify, compact and serve a video memory.

Every subcommand takes the memory as either its video (``kb.mp4``) or its index (``kb_index.json``);
the other file is found beside it.  User errors exit with status 1 and one line on stderr that
names the file and the fix; success exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .errors import InvalidInputError, MemoryNotFoundError, MemvidError
from .present import chunk_record, human_bytes, info_rows, source_label

if TYPE_CHECKING:
    from .memory import Memory

PROG = "memvid"
CODEC_CHOICES = ("av1", "h265", "h264", "mp4v")
PROVIDER_CHOICES = ("none", "openai", "anthropic", "google", "ollama")
SEARCH_MODES = ("vector", "keyword", "hybrid")


class UserError(MemvidError):
    """A mistake in the command line itself (bad combination of options, nothing to encode...)."""


# ---------------------------------------------------------------------- helpers


def quiet_libraries() -> None:
    """Silence the model-loading bars and chatter of the libraries memvid uses; memvid draws its own bars."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars only on an interactive terminal, and never with --quiet."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def memory_paths(path: str, index: str | None = None) -> tuple[Path, Path]:
    """``(video, index)`` for a path that is either the video or the index."""
    from .layout import resolve_paths

    return resolve_paths(path, index)


def open_memory(path: str, index: str | None = None, **kwargs: Any) -> Memory:
    """Open an existing memory, with a CLI-shaped message when it is not there."""
    from .memory import Memory

    video, index_path = memory_paths(path, index)
    if not index_path.is_file():
        if video.exists():
            raise MemoryNotFoundError(
                f"{index_path} not found: {video} has no index beside it. Pass it with --index, or restore the index "
                "from a backup (this version cannot yet rebuild a lost index from the video alone)."
            )
        raise MemoryNotFoundError(
            f"{path}: no memory there (looked for {index_path}). Create one with `memvid encode FILES -o {video}`."
        )
    return Memory(video, index_path, **kwargs)


def _print_json(data: Any, out: TextIO) -> None:
    json.dump(data, out, indent=2, ensure_ascii=False, default=str)
    out.write("\n")


# ---------------------------------------------------------------------- commands


def collect_chunks(inputs: Sequence[str], chunk_size: int, overlap: int | None, workers: int | None) -> Any:
    """Read files and folders into a ``MemvidEncoder`` holding their chunks and metadata."""
    from .encoder import MemvidEncoder
    from .loaders import SUPPORTED_SUFFIXES, iter_files

    files = list(iter_files(list(inputs)))
    if not files:
        raise UserError(
            f"No supported files in {', '.join(inputs)}. Supported types: {', '.join(sorted(SUPPORTED_SUFFIXES))}."
        )
    encoder = MemvidEncoder(chunk_size=chunk_size, overlap=overlap, n_workers=workers)
    for f in files:
        encoder.add_file(f)
    return encoder, files


def cmd_encode(args: argparse.Namespace, out: TextIO) -> int:
    if args.chunk_size < 1:
        raise UserError(f"--chunk-size must be positive, got {args.chunk_size}.")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}.")
    video, index = memory_paths(args.output, args.index)
    if video.suffix.lower() != ".mp4":
        raise UserError(f"{video}: the output must be an .mp4 file, e.g. -o kb.mp4.")
    exists = index.is_file()
    if exists and not (args.append or args.overwrite):
        raise UserError(f"{index} already exists. Add --append to add to that memory, or --overwrite to replace it.")
    if args.append and args.overwrite:
        raise UserError("--append and --overwrite contradict each other; pick one.")
    started = time.perf_counter()
    memory = None
    if args.append and exists:
        from .config import resolve_codec

        memory = open_memory(str(video), str(index), n_workers=args.workers)
        if args.codec and resolve_codec(args.codec).name != memory.settings.codec:
            memory.close()
            raise UserError(
                f"{video} is encoded with {memory.settings.codec}; appended segments use the same codec. Drop --codec {args.codec}."
            )
    try:
        encoder, files = collect_chunks(args.inputs, args.chunk_size, args.overlap, args.workers)
        show = _progress(args)
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
        info = encoder.build_video(video, index, video_codec=args.codec or "av1", show_progress=show)
        action = "Encoded"
    seconds = time.perf_counter() - started
    if args.json:
        _print_json({**info, "files": [str(f) for f in files], "added_chunks": len(encoder.chunks), "seconds": round(seconds, 3)}, out)
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
    with open_memory(args.memory, args.index) as memory:
        results = memory.search(args.query, top_k=args.top_k, mode=args.mode, where_document=where_document,
                                alpha=args.alpha)
    records = [chunk_record(k, c) for k, c in enumerate(results, start=1)]
    if args.json:
        _print_json(records, out)
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
        _print_json(info, out)
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
            print(f"  - {_one_line(item)}", file=out)
        if len(repaired["unrecoverable"]) > 20:
            print(f"  ... and {len(repaired['unrecoverable']) - 20} more", file=out)


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    show = _progress(args)
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
        _print_json(data, out)
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
            print(f"  - {_one_line(err)}", file=out)
        if len(report.errors) > 20:
            print(f"  ... and {len(report.errors) - 20} more", file=out)
    if not report.ok:
        video, _ = memory_paths(args.memory, args.index)
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
        stats = memory.compact(keep_history=args.keep_history, show_progress=_progress(args))
        after = memory.info()
    if args.json:
        _print_json({"before": before, "after": after, "stats": stats}, out)
    else:
        print(
            f"Compacted {after['video_file']}: {before['segments']} -> {after['segments']} segments, "
            f"{human_bytes(before['video_bytes'])} -> {human_bytes(after['video_bytes'])}, {after['chunks']} live chunks.",
            file=out,
        )
    return 0


def _make_chat(args: argparse.Namespace, memory: Memory) -> Any:
    from .chat import MemvidChat

    provider = None if args.provider == "none" else args.provider
    return MemvidChat(memory=memory, llm_provider=provider, llm_model=args.model, top_k=args.top_k)


def run_chat_loop(chat: Any, stdin: TextIO, out: TextIO, banner: str | None = None) -> int:
    """The terminal chat: one question per line until 'quit' or end of input (so it can be piped)."""
    from .present import cite

    interactive = stdin.isatty()
    if banner:
        print(banner, file=out)
    print("Ask a question. 'clear' forgets the conversation, 'quit' (or Ctrl-D) leaves.", file=out)
    while True:
        if interactive:
            try:
                line = input("\nYou: ")
            except EOFError:
                print(file=out)
                break
        else:
            raw = stdin.readline()
            if not raw:
                break
            line = raw
            if line.strip():
                print(f"\nYou: {line.strip()}", file=out)
        message = line.strip()
        if not message:
            continue
        if message.lower() in {"quit", "exit", "q", ":q"}:
            break
        if message.lower() == "clear":
            chat.clear_history()
            print("(conversation cleared)", file=out)
            continue
        try:
            reply = chat.chat(message)
        except MemvidError as exc:
            print(f"\nAssistant: sorry, {_one_line(str(exc))}", file=out)
            continue
        except Exception as exc:  # the LLM provider failed (network, quota...): say so and keep the session
            print(f"\nAssistant: the language model call failed ({type(exc).__name__}: {_one_line(str(exc))[:300]}). "
                  "Check the provider, or use --provider none.", file=out)
            continue
        print(f"\nAssistant: {reply}", file=out)
        if chat.llm is not None and chat.last_sources:
            print("\nSources:", file=out)
            for k, chunk in enumerate(chat.last_sources, start=1):
                print(cite(chunk, k), file=out)
        out.flush()
    print("Bye.", file=out)
    return 0


def cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    if args.top_k < 1:
        raise UserError(f"-k must be at least 1, got {args.top_k}.")
    with open_memory(args.memory, args.index) as memory:
        chat = _make_chat(args, memory)
        mode = "offline extractive answers" if chat.llm is None else f"LLM: {args.provider}"
        banner = f"Chatting with {memory.video_path} ({len(memory)} chunks, {mode})."
        return run_chat_loop(chat, sys.stdin, out, banner)


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {args.port}.")
    try:
        from .interactive import MemvidInteractive
    except ImportError as exc:
        raise UserError(f"The web UI needs gradio ({exc}): pip install 'memvid-rag[web]'.") from exc
    video, index = memory_paths(args.memory, args.index)
    open_memory(args.memory, args.index).close()  # a clear error before the UI starts
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"{PROG}: warning: serving on {args.host}: anyone who can reach this machine can read and add to the memory.",
              file=sys.stderr)
    provider = None if args.provider == "none" else args.provider
    app = MemvidInteractive(str(video), str(index), llm_provider=provider, llm_model=args.model,
                            max_upload_mb=args.max_upload_mb, top_k=args.top_k)
    print(f"Serving {video} on http://{args.host}:{args.port} (Ctrl-C to stop).", file=out)
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
    model = mcp_server.resolve_embedding_model(args.embedding_model)
    with open_memory(args.memory, args.index, embedding_model=model) as memory:
        if args.http:
            print(f"{PROG}: MCP server for {memory.video_path} on http://{host}:{port}/mcp (Ctrl-C to stop).", file=sys.stderr)
        mcp_server.serve(memory, writable=args.writable, http=args.http, host=args.host, port=args.port, token=token)
    return 0


# ---------------------------------------------------------------------- parser


def _add_memory_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("memory", help="the memory: its video (kb.mp4) or its index (kb_index.json)")
    p.add_argument("--index", metavar="INDEX", help="the index file, when it is not <video stem>_index.json beside the video")


def _add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or status lines")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Store text as QR codes in MP4 video with a semantic index; search it, chat with it, serve it.",
        epilog="Examples:\n  memvid encode docs/ notes.md -o kb.mp4\n  memvid search kb.mp4 \"backpropagation\" -k 5\n"
               "  memvid search kb.mp4 \"PYTHONHASHSEED\" --mode hybrid\n"
               "  memvid chat kb.mp4 --provider none\n  memvid serve kb.mp4 --port 7860",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("encode", help="encode files and folders into a video memory",
                       description="Read PDF, Markdown and text files (folders recursively), chunk them and encode the chunks "
                                   "into an MP4 memory with its index. With --append, add them to an existing memory as a new segment.")
    p.add_argument("inputs", nargs="+", metavar="PATH", help="files or folders to encode (.pdf, .md, .txt, ...)")
    p.add_argument("-o", "--output", default="memory.mp4", metavar="VIDEO",
                   help="the memory's video (default memory.mp4); the index goes beside it as <stem>_index.json")
    p.add_argument("--index", metavar="INDEX", help="write the index here instead of beside the video")
    p.add_argument("--codec", choices=CODEC_CHOICES, default=None, help="video codec for a new memory (default av1)")
    p.add_argument("--chunk-size", type=int, default=512, metavar="CHARS", help="maximum characters per chunk (default 512)")
    p.add_argument("--overlap", type=int, default=None, metavar="CHARS", help="characters shared by consecutive chunks (default 50)")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes for QR rendering (default: up to 2)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="add to the memory at --output instead of creating it")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing memory at --output")
    p.add_argument("--json", action="store_true", help="print the build figures as JSON")
    _add_quiet(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("search", help="vector, keyword or hybrid search, printing score, frame and file/page of each result",
                       description="Search a memory. Each result's text is decoded from its video frame. --mode vector "
                                   "ranks by meaning, keyword by BM25 over the exact words, hybrid fuses both (best for "
                                   "names, identifiers and error codes). --contains/--not-contains keep only chunks whose "
                                   "text has (or lacks) a case-sensitive substring; all of them must hold.")
    _add_memory_arg(p)
    p.add_argument("query", help="what to search for")
    p.add_argument("-k", "--top-k", type=int, default=5, dest="top_k", help="number of results (default 5)")
    p.add_argument("--mode", choices=SEARCH_MODES, default="vector",
                   help="vector (semantic, default), keyword (BM25) or hybrid (both, fused by rank)")
    p.add_argument("--alpha", type=float, default=None, metavar="A",
                   help="hybrid only: weight of the vector side from 0 (keyword only) to 1 (vector only); default 0.3")
    p.add_argument("--contains", action="append", metavar="TEXT",
                   help="keep chunks whose text contains TEXT (case-sensitive; repeat for several)")
    p.add_argument("--not-contains", action="append", metavar="TEXT", dest="not_contains",
                   help="drop chunks whose text contains TEXT (repeatable)")
    p.add_argument("--json", action="store_true", help="print results as a JSON list")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("chat", help="chat with a memory in the terminal",
                       description="Interactive chat. Reads one question per line from stdin (so it can be piped), "
                                   "answers with citations. --provider none answers offline by quoting the memory.")
    _add_memory_arg(p)
    p.add_argument("--provider", choices=PROVIDER_CHOICES, default="none",
                   help="LLM provider (default none: offline extractive answers); needs the provider's package and API key")
    p.add_argument("--model", default=None, help="model name for the provider (default: the provider's small model)")
    p.add_argument("-k", "--top-k", type=int, default=5, dest="top_k", help="chunks retrieved per question (default 5)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("info", help="show chunks, frames, versions, codec, sizes and model",
                       description="Figures about a memory: chunks, frames, versions, codec, sizes, ratio to raw text, model.")
    _add_memory_arg(p)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("verify", help="decode and check every frame",
                       description="Decode every frame of every segment and check every chunk's checksum against the "
                                   "index. Exits 1 if anything is damaged.")
    _add_memory_arg(p)
    p.add_argument("--rebuild-index", action="store_true",
                   help="first rebuild the vector index from the video alone (for a lost or damaged index store)")
    p.add_argument("--repair", action="store_true",
                   help="first repair what can be rebuilt from the video (caches, vector store); exits 1 if "
                        "anything is unrecoverable")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_quiet(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("compact", help="rewrite the live chunks into one segment",
                       description="Rewrite all live chunks into one fresh video, dropping deleted and replaced chunks "
                                   "and, unless --keep-history, the old versions.")
    _add_memory_arg(p)
    p.add_argument("--keep-history", action="store_true", help="keep old versions readable (as_of) after compacting")
    p.add_argument("--json", action="store_true", help="print before/after figures as JSON")
    _add_quiet(p)
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser("serve", help="start the web UI (chat, search, frame viewer, upload)",
                       description="Start the Gradio web UI on http://127.0.0.1:PORT. It binds to localhost only unless "
                                   "--host says otherwise.")
    _add_memory_arg(p)
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1; use 0.0.0.0 only to expose the UI to your network)")
    p.add_argument("--provider", choices=PROVIDER_CHOICES, default="none", help="LLM provider for the chat panel (default none)")
    p.add_argument("--model", default=None, help="model name for the provider")
    p.add_argument("-k", "--top-k", type=int, default=5, dest="top_k", help="chunks retrieved per question (default 5)")
    p.add_argument("--max-upload-mb", type=float, default=20, metavar="MB", help="largest file the upload box accepts (default 20)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("mcp", help="serve the memory to AI apps over the Model Context Protocol",
                       description="Serve search/get/info (and add/delete with --writable) over MCP: stdio by default, "
                                   "streamable HTTP on 127.0.0.1 with --http. Binding another --host requires a bearer "
                                   "token (--token or MEMVID_MCP_TOKEN).")
    _add_memory_arg(p)
    p.add_argument("--writable", action="store_true", help="allow the add and delete tools to change the memory")
    p.add_argument("--http", action="store_true", help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    p.add_argument("--host", default=None, help="interface to bind with --http (default 127.0.0.1; any --host requires a token)")
    p.add_argument("--port", type=int, default=None, help="port with --http (default 8000)")
    p.add_argument("--token", default=None, help="bearer token HTTP clients must send (default: $MEMVID_MCP_TOKEN)")
    p.add_argument("--embedding-model", default=None, metavar="MODEL",
                   help="the model the memory was built with, when not the default: a local model path or module:callable")
    p.set_defaults(func=cmd_mcp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``memvid`` command. Returns the exit status."""
    quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        return int(args.func(args, sys.stdout) or 0)
    except (MemvidError, OSError, InvalidInputError) as exc:
        message = _one_line(str(exc)) or type(exc).__name__
        if isinstance(exc, OSError) and not isinstance(exc, MemvidError) and exc.filename and str(exc.filename) not in message:
            message = f"{exc.filename}: {message}"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
