"""The terminal chat: one question per line, answered with citations, until 'quit' or end of input."""

from __future__ import annotations

from typing import Any, TextIO

from ..errors import MemvidError
from .cli_common import one_line


def run_chat_loop(chat: Any, stdin: TextIO, out: TextIO, banner: str | None = None) -> int:
    """The terminal chat: one question per line until 'quit' or end of input (so it can be piped)."""
    from ..present import cite

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
            print(f"\nAssistant: sorry, {one_line(str(exc))}", file=out)
            continue
        except Exception as exc:  # the LLM provider failed (network, quota...): say so and keep the session
            print(f"\nAssistant: the language model call failed ({type(exc).__name__}: {one_line(str(exc))[:300]}). "
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
