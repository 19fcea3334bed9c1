"""The ``memvid`` argument parser: every subcommand, its options and their help."""

from __future__ import annotations

import argparse

from .cli_commands import (
    cmd_chat,
    cmd_compact,
    cmd_encode,
    cmd_export,
    cmd_info,
    cmd_mcp,
    cmd_search,
    cmd_serve,
    cmd_verify,
)
from .cli_common import PROG

CODEC_CHOICES = ("av1", "h265", "h264", "mp4v")
PROVIDER_CHOICES = ("none", "openai", "anthropic", "google", "ollama")
SEARCH_MODES = ("vector", "keyword", "hybrid")


def _add_memory_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("memory", help="the memory: its video (kb.mp4) or its index (.kb.mp4.memvid-cache/index.json, or kb_index.json)")
    p.add_argument("--index", metavar="INDEX", help="the index file, when it is not the default (<video stem>_index.json beside the video if it exists, else index.json in the hidden .<video name>.memvid-cache folder)")


def _add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedding-model", default=None, metavar="MODEL",
                   help="the model the memory was built with, when not the default: a local model path or module:callable")


def _add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or status lines")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

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
                   help="the memory's video (default memory.mp4); its index and caches go in the hidden folder .<video name>.memvid-cache beside it")
    p.add_argument("--index", metavar="INDEX", help="write the index here instead of in the cache folder (other caches stay there)")
    p.add_argument("--codec", choices=CODEC_CHOICES, default=None, help="video codec for a new memory (default av1)")
    p.add_argument("--frame-size", type=int, default=None, metavar="PX",
                   help="frame width and height for a new memory (default 176 px for av1; 184 holds its largest QR code); "
                        "smaller frames make a first read of each result faster and the file a little larger")
    p.add_argument("--chunk-size", type=int, default=512, metavar="CHARS", help="maximum characters per chunk (default 512)")
    p.add_argument("--overlap", type=int, default=None, metavar="CHARS", help="characters shared by consecutive chunks (default 50)")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes for QR rendering (default: up to 2)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="add to the memory at --output instead of creating it")
    mode.add_argument("--overwrite", "--force", action="store_true",
                      help="replace whatever is at --output (a memory, or any other file) with the new memory")
    p.add_argument("--json", action="store_true", help="print the build figures as JSON")
    _add_quiet(p)
    _add_model_arg(p)
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
    _add_model_arg(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("chat", help="chat with a memory in the terminal",
                       description="Interactive chat. Reads one question per line from stdin (so it can be piped), "
                                   "answers with citations. --provider none answers offline by quoting the memory.")
    _add_memory_arg(p)
    p.add_argument("--provider", choices=PROVIDER_CHOICES, default="none",
                   help="LLM provider (default none: offline extractive answers); needs the provider's package and API key")
    p.add_argument("--model", default=None, help="model name for the provider (default: the provider's small model)")
    p.add_argument("-k", "--top-k", type=int, default=5, dest="top_k", help="chunks retrieved per question (default 5)")
    _add_model_arg(p)
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

    p = sub.add_parser("export", help="write every live chunk into one self-contained MP4",
                       description="Write every live chunk, with its text, metadata and vectors, into one MP4 that opens "
                                   "on its own anywhere (copy just that file) without re-embedding. The memory itself "
                                   "is unchanged.")
    _add_memory_arg(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT.mp4", help="the self-contained MP4 to write")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.mp4 if it exists")
    p.add_argument("--json", action="store_true", help="print the export figures as JSON")
    _add_quiet(p)
    p.set_defaults(func=cmd_export)

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
    _add_model_arg(p)
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
    _add_model_arg(p)
    p.set_defaults(func=cmd_mcp)
    return parser
