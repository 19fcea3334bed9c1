"""The Gradio page of the web UI: its components, its style, and the events that wire them to a ``MemvidInteractive``.

Gradio 5 and 6 differ a little: components are given only the keyword arguments their version
accepts, and the theme goes to ``gr.Blocks`` or to ``launch`` as the version wants.  The theme uses
system fonts, so the page downloads no web fonts.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from typing import Any, Protocol

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported, even when this module is imported first

import gradio as gr

from ..chat import MemvidChat
from ..errors import MemvidError
from ..present import chunk_record, source_label


class PageApp(Protocol):
    """What the page wires its events to (:class:`~memvid_base.apps.interactive.MemvidInteractive`)."""

    title: str
    top_k: int
    search_mode: str
    allowed_types: list[str]
    max_upload_mb: float

    def ask(self, message: str, chat: Any = None) -> tuple[str, list[Any], Any]: ...

    def search_table(self, query: str, top_k: float, mode: str | None) -> tuple[list[list[Any]], list[dict[str, Any]]]: ...

    def overview(self) -> list[list[str]]: ...

    def header(self) -> str: ...

    def add_files(self, files: Sequence[Any] | None) -> tuple[bool, str]: ...

    def _frame_for(self, records: Sequence[dict[str, Any]], rank: Any) -> tuple[Any, str, str]: ...

    @staticmethod
    def _sources_markdown(records: Sequence[dict[str, Any]], sources: Sequence[Any]) -> str: ...

SEARCH_HEADERS = ["#", "score", "frame", "segment", "file", "page", "id", "text"]
_SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "DejaVu Sans", "sans-serif"]
_MONO_FONTS = ["ui-monospace", "SFMono-Regular", "DejaVu Sans Mono", "monospace"]
_CSS = """
#memvid-header h2 { margin-bottom: 0.2em; }
#chat-sources { min-height: 120px; }
.memvid-frame img { image-rendering: pixelated; }
"""


def _accepts(target: Any, name: str) -> bool:
    try:
        return name in inspect.signature(target).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def _kw(cls: Any, **kwargs: Any) -> dict[str, Any]:
    """Only the keyword arguments this Gradio version's component accepts (Gradio 5 and 6 differ a little)."""
    return {k: v for k, v in kwargs.items() if _accepts(cls.__init__, k)}


def theme_in_launch() -> bool:
    """True when this Gradio takes the theme and CSS in ``launch()`` (Gradio 6), not in ``gr.Blocks`` (Gradio 5)."""
    return _accepts(gr.Blocks.launch, "theme")


def style() -> dict[str, Any]:
    """The page's theme and CSS, as keyword arguments."""
    return {"theme": gr.themes.Soft(font=_SYSTEM_FONTS, font_mono=_MONO_FONTS), "css": _CSS}  # system fonts: no web-font downloads


def build_page(app: PageApp, search_modes: Sequence[str]) -> gr.Blocks:
    """The Gradio Blocks app of ``app``: its Chat, Search and Memory tabs, each event wired to ``app``'s handlers.

    Args:
        app: The UI whose handlers do the work (it holds the memory, its lock and the settings).
        search_modes: The modes the search tab offers.
    """
    blocks_kwargs: dict[str, Any] = {"title": app.title, "analytics_enabled": False}
    if not theme_in_launch():  # Gradio 5 takes the theme here, Gradio 6 in launch()
        blocks_kwargs.update(style())
    with gr.Blocks(**blocks_kwargs) as demo:
        header = gr.Markdown(app.header(), elem_id="memvid-header")
        chat_state = gr.State(None)
        sources_state = gr.State([])
        results_state = gr.State([])
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(**_kw(gr.Chatbot, label="Chat", height=440, elem_id="chatbot", type="messages",
                                                   placeholder="Ask anything about the memory. Answers cite their sources."))
                        with gr.Row():
                            question = gr.Textbox(placeholder="Ask a question about the memory…", show_label=False,
                                                  scale=5, elem_id="chat-input", lines=1, max_lines=4)
                            ask_btn = gr.Button("Ask", variant="primary", scale=1, elem_id="chat-send")
                        clear_btn = gr.Button("Clear conversation", size="sm", elem_id="chat-clear")
                    with gr.Column(scale=2):
                        gr.Markdown("### Cited sources")
                        sources_md = gr.Markdown("Sources cited in the answer appear here.", elem_id="chat-sources")
                        source_pick = gr.Dropdown(choices=[], label="Show the QR frame of source", elem_id="source-pick",
                                                  interactive=True)
                        chat_frame = gr.Image(**_kw(gr.Image, label="QR frame", interactive=False, height=320,
                                                    type="pil", elem_id="chat-frame", elem_classes=["memvid-frame"]))
                        chat_frame_caption = gr.Markdown("", elem_id="chat-frame-caption")
                        chat_frame_text = gr.Textbox(label="Text decoded from this frame", lines=6, max_lines=12,
                                                     interactive=False, elem_id="chat-frame-text")
            with gr.Tab("Search", id="search"):
                with gr.Row():
                    query = gr.Textbox(placeholder="Search the memory…", show_label=False, scale=5, elem_id="search-input")
                    top_k = gr.Slider(1, 20, value=app.top_k, step=1, label="results", scale=1)
                    search_btn = gr.Button("Search", variant="primary", scale=1, elem_id="search-send")
                search_mode = gr.Radio(**_kw(gr.Radio, choices=list(search_modes), value=app.search_mode, label="Mode",
                                             elem_id="search-mode",
                                             info="hybrid: exact words and meaning · vector: meaning · keyword: exact words (BM25)"))
                results = gr.Dataframe(**_kw(gr.Dataframe, headers=SEARCH_HEADERS, value=[], interactive=False,
                                             wrap=True, elem_id="search-results", label="Results (select a row to see its frame)",
                                             column_widths=["5%", "7%", "6%", "10%", "14%", "5%", "6%", "47%"]))
                with gr.Row():
                    with gr.Column(scale=1):
                        result_pick = gr.Dropdown(choices=[], label="Show the QR frame of result", elem_id="result-pick",
                                                  interactive=True)
                        search_frame = gr.Image(**_kw(gr.Image, label="QR frame", interactive=False, height=320,
                                                      type="pil", elem_id="search-frame", elem_classes=["memvid-frame"]))
                    with gr.Column(scale=1):
                        search_text = gr.Markdown("", elem_id="search-text")
                        search_chunk_text = gr.Textbox(label="Text decoded from this frame", lines=12, max_lines=20,
                                                       interactive=False, elem_id="search-chunk-text")
            with gr.Tab("Memory", id="memory"):
                with gr.Row():
                    with gr.Column(scale=3):
                        overview = gr.Dataframe(**_kw(gr.Dataframe, headers=["Figure", "Value"], value=app.overview(),
                                                      interactive=False, wrap=True, elem_id="overview", label="Overview",
                                                      max_height=800))
                        refresh_btn = gr.Button("Refresh", size="sm")
                    with gr.Column(scale=2):
                        upload = gr.File(**_kw(gr.File, file_count="multiple", file_types=list(app.allowed_types),
                                               label=f"Add files ({', '.join(app.allowed_types)}; up to {app.max_upload_mb:g} MB each)",
                                               elem_id="upload"))
                        add_btn = gr.Button("Add to memory", variant="primary", elem_id="upload-add")
                        upload_status = gr.Markdown("", elem_id="upload-status")

        # ---- chat
        def respond(message: str, history: list[Any], chat: MemvidChat | None, previous: list[dict[str, Any]]):
            history = list(history or [])
            message = (message or "").strip()
            if not message:
                return history, "", gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), chat, previous
            try:
                reply, sources, chat = app.ask(message, chat)
            except MemvidError as exc:
                reply, sources = f"Sorry: {exc}", []
            except Exception as exc:  # the LLM call failed (network, key, quota): say so, keep the session
                reply, sources = f"The language model call failed ({type(exc).__name__}: {exc}).", []
            history += [{"role": "user", "content": message}, {"role": "assistant", "content": reply}]
            records = [chunk_record(k, c) for k, c in enumerate(sources, start=1)]
            choices = [(f"[{r['rank']}] {source_label(c.metadata)} · frame {r['frame']}", r["rank"]) for r, c in zip(records, sources, strict=True)]
            image, caption, text = app._frame_for(records, 1)
            pick = gr.update(choices=choices, value=choices[0][1] if choices else None)
            return history, "", app._sources_markdown(records, sources), pick, image, caption, text, chat, records

        chat_frame_outputs = [chat_frame, chat_frame_caption, chat_frame_text]
        chat_outputs = [chatbot, question, sources_md, source_pick, *chat_frame_outputs, chat_state, sources_state]
        chat_inputs = [question, chatbot, chat_state, sources_state]
        question.submit(respond, chat_inputs, chat_outputs)
        ask_btn.click(respond, chat_inputs, chat_outputs)

        def clear_chat():
            return [], "Sources cited in the answer appear here.", gr.update(choices=[], value=None), None, "", "", None, []

        clear_btn.click(clear_chat, None, [chatbot, sources_md, source_pick, *chat_frame_outputs, chat_state, sources_state])
        source_pick.input(lambda rank, recs: app._frame_for(recs, rank), [source_pick, sources_state], chat_frame_outputs)

        # ---- search
        def run_search(text: str, k: float, mode: str):
            try:
                rows, recs = app.search_table(text, k, mode)
            except MemvidError as exc:
                gr.Warning(str(exc))
                return [], [], gr.update(choices=[], value=None), None, "", ""
            choices = [(f"#{r['rank']} · {r['file'] or r['id']} · frame {r['frame']}", r["rank"]) for r in recs]
            pick = gr.update(choices=choices, value=choices[0][1] if choices else None)
            return rows, recs, pick, *app._frame_for(recs, 1)

        search_frame_outputs = [search_frame, search_text, search_chunk_text]
        search_outputs = [results, results_state, result_pick, *search_frame_outputs]
        search_inputs = [query, top_k, search_mode]
        query.submit(run_search, search_inputs, search_outputs)
        search_btn.click(run_search, search_inputs, search_outputs)

        def select_row(recs: list[dict[str, Any]], evt: gr.SelectData):
            index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
            rank = int(index) + 1
            return rank, *app._frame_for(recs, rank)

        results.select(select_row, [results_state], [result_pick, *search_frame_outputs])
        result_pick.input(lambda rank, recs: app._frame_for(recs, rank), [result_pick, results_state], search_frame_outputs)

        # ---- overview and upload
        refresh_btn.click(lambda: (app.overview(), app.header()), None, [overview, header])

        def add_uploads(files: list[Any] | None):
            ok, message = app.add_files(files)
            if not ok:
                gr.Warning(message)
                return None, f"**Upload rejected.** {message}", gr.update(), gr.update()
            return None, f"**Added.** {message}", app.overview(), app.header()

        add_btn.click(add_uploads, [upload], [upload, upload_status, overview, header])
    return demo
