"""The ``memvid`` command's entry point: parse the arguments, run the subcommand, turn errors into exit codes.

The parser lives in :mod:`memvid_base.apps.cli_parser`, the subcommands in :mod:`memvid_base.apps.cli_commands`
and what they share in :mod:`memvid_base.apps.cli_common`; their public names are re-exported here.
Every subcommand takes the memory as either its video (``kb.mp4``) or its index (``kb_index.json``,
or ``.kb.mp4.memvid-cache/index.json``); the other file is found from it.  User errors exit with status 1 and one line on stderr that
names the file and the fix; success exits 0.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..errors import InvalidInputError, MemvidError
from ..present import human_bytes
from .cli_commands import (
    cmd_chat,
    cmd_compact,
    cmd_encode,
    cmd_info,
    cmd_mcp,
    cmd_search,
    cmd_serve,
    cmd_verify,
    collect_chunks,
    text_filter,
)
from .cli_common import PROG, UserError, memory_paths, one_line, open_memory, quiet_libraries
from .cli_parser import CODEC_CHOICES, PROVIDER_CHOICES, SEARCH_MODES, build_parser
from .terminal_chat import run_chat_loop

# The names scripts built on the CLI import from here (examples/file_chat.py among them).
__all__ = [
    "CODEC_CHOICES",
    "PROG",
    "PROVIDER_CHOICES",
    "SEARCH_MODES",
    "UserError",
    "build_parser",
    "cmd_chat",
    "cmd_compact",
    "cmd_encode",
    "cmd_info",
    "cmd_mcp",
    "cmd_search",
    "cmd_serve",
    "cmd_verify",
    "collect_chunks",
    "console",
    "human_bytes",
    "main",
    "memory_paths",
    "open_memory",
    "quiet_libraries",
    "run_chat_loop",
    "text_filter",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``memvid`` command. Returns the exit status."""
    quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        code = int(args.func(args, sys.stdout) or 0)
        sys.stdout.flush()  # a reader that went away (`memvid info kb.mp4 | head`) shows up here, not at exit
        return code
    except BrokenPipeError:
        _quiet_closed_pipe()
        return 0
    except (MemvidError, OSError, InvalidInputError) as exc:
        message = one_line(str(exc)) or type(exc).__name__
        if isinstance(exc, OSError) and not isinstance(exc, MemvidError) and exc.filename and str(exc.filename) not in message:
            message = f"{exc.filename}: {message}"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _quiet_closed_pipe() -> None:
    """End quietly when the reader of stdout closed it, as `git log | head` does (Python's documented recipe)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not raise again
    except (OSError, ValueError):
        pass  # stdout is not a real file (a test's buffer): nothing will flush it


def console() -> NoReturn:
    """The installed ``memvid`` command: :func:`main`, then the process ends.

    The interpreter's last garbage collection walks every object that numpy, PyAV and memvid created;
    frozen, they are skipped (a keyword `memvid search` took 0.258-0.259 s against 0.268-0.278 s without,
    ``benchmarks/bench_cli_start.py``).  Refcounting still frees and
    closes everything at exit, and the commands close what they open, so nothing is left unflushed.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    console()
