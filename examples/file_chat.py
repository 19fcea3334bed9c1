#!/usr/bin/env python3
"""Build a memory from files, then chat with it in the terminal (the original memvid example CLI).

    python examples/file_chat.py --input-dir docs --provider openai
    python examples/file_chat.py --files doc.pdf notes.md --codec h265
    python examples/file_chat.py --load-existing output/memory        # output/memory.mp4 + output/memory_index.json

Questions are read one per line from stdin until 'quit', so the chat can be piped:

    printf 'What is AV1?\\nquit\\n' | python examples/file_chat.py --files corpus/video_codecs.pdf --provider none

``--provider none`` (the default) answers offline by quoting the memory with citations; the LLM
providers need their LangChain package (``pip install 'memvid-rag[openai]'``) and API key.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from memvid_base import memory_exists
from memvid_base.apps.cli import (
    CODEC_CHOICES,
    PROVIDER_CHOICES,
    UserError,
    collect_chunks,
    human_bytes,
    open_memory,
    quiet_libraries,
    run_chat_loop,
)
from memvid_base.chat import MemvidChat
from memvid_base.errors import MemvidError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Encode files into a video memory and chat with it.",
        epilog="Examples:\n  %(prog)s --input-dir docs --provider openai\n  %(prog)s --files doc.pdf --codec h265\n"
               "  %(prog)s --load-existing output/memory",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input-dir", metavar="DIR", help="encode every supported file in DIR (recursively)")
    source.add_argument("--files", nargs="+", metavar="FILE", help="encode these files")
    source.add_argument("--load-existing", metavar="PATH_PREFIX",
                        help="chat with an existing memory: PATH_PREFIX.mp4 and PATH_PREFIX_index.json")
    parser.add_argument("--provider", choices=PROVIDER_CHOICES, default="none",
                        help="LLM provider (default none: offline answers quoted from the memory)")
    parser.add_argument("--model", default=None, help="model name for the provider")
    parser.add_argument("--codec", choices=CODEC_CHOICES, default="av1", help="video codec (default av1)")
    parser.add_argument("--chunk-size", type=int, default=1024, metavar="CHARS", help="characters per chunk (default 1024)")
    parser.add_argument("--overlap", type=int, default=32, metavar="CHARS", help="characters shared by neighbouring chunks (default 32)")
    parser.add_argument("--output-dir", default="output", metavar="DIR", help="where new memories are written (default output)")
    parser.add_argument("--memory-name", default=None, metavar="NAME",
                        help="file name stem of the new memory (default memory_<timestamp>)")
    parser.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes for encoding")
    parser.add_argument("--top-k", type=int, default=5, help="chunks retrieved per question (default 5)")
    return parser.parse_args(argv)


def build_memory(args: argparse.Namespace) -> Path:
    """Encode the input files into OUTPUT_DIR/NAME.mp4 and return the video path."""
    inputs = [args.input_dir] if args.input_dir else args.files
    if args.input_dir and not Path(args.input_dir).is_dir():
        raise UserError(f"{args.input_dir} is not a directory. Pass a folder to --input-dir, or files to --files.")
    if args.chunk_size < 1:
        raise UserError(f"--chunk-size must be positive, got {args.chunk_size}.")
    name = args.memory_name or time.strftime("memory_%Y%m%d_%H%M%S")
    video = Path(args.output_dir) / f"{name}.mp4"
    encoder, files = collect_chunks(inputs, args.chunk_size, args.overlap, args.workers)
    print(f"Encoding {len(files)} file(s), {len(encoder.chunks)} chunks, with {args.codec}...")
    info = encoder.build_video(video, video.with_name(f"{name}_index.json"), video_codec=args.codec,
                               show_progress=sys.stderr.isatty())
    print(f"Built {video} ({info['frames']} frames, {human_bytes(info['video_bytes'])}) and {info['index_file']} "
          f"in {info['build_seconds']:.1f}s.")
    print(f"Reuse it with: python examples/file_chat.py --load-existing {video.with_suffix('')}")
    return video


def existing_memory(prefix: str) -> Path:
    """``output/memory`` -> ``output/memory.mp4`` (accepts the .mp4 or _index.json path too)."""
    p = Path(prefix)
    if p.suffix in (".mp4", ".json"):
        return p
    video = p.with_name(p.name + ".mp4")
    index = p.with_name(p.name + "_index.json")
    if not memory_exists(video) and not index.exists():  # the MP4 alone is a memory
        raise UserError(f"{video} and {index} not found. --load-existing takes the path without extension, e.g. output/memory.")
    return video


def main(argv: list[str] | None = None) -> int:
    quiet_libraries()
    args = parse_args(argv)
    try:
        video = existing_memory(args.load_existing) if args.load_existing else build_memory(args)
        memory = open_memory(str(video))
        provider = None if args.provider == "none" else args.provider
        chat = MemvidChat(memory=memory, llm_provider=provider, llm_model=args.model, top_k=args.top_k)
        mode = "offline extractive answers" if chat.llm is None else f"LLM: {args.provider}"
        return run_chat_loop(chat, sys.stdin, sys.stdout, f"Chatting with {memory.video_path} ({len(memory)} chunks, {mode}).")
    except (MemvidError, OSError) as exc:
        print(f"file_chat: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
