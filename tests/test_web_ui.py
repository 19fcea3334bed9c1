"""The ``MemvidInteractive`` web UI: its handlers directly, then the real page in headless Chromium."""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
# Checked without importing gradio: importing it costs each xdist worker 3 s at collection.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("gradio") is None, reason="needs the [web] extra (gradio)")

from memvid_base import MemvidEncoder  # noqa: E402
from memvid_base.apps.interactive import MemvidInteractive  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def build_kb(folder: Path) -> Path:
    """A small memory: three short Markdown files from the corpus."""
    enc = MemvidEncoder(chunk_size=600, n_workers=1)
    for name in ("apollo_11.md", "honeybees.md", "photosynthesis.md"):
        enc.add_file(CORPUS / name)
    video = folder / "kb.mp4"
    enc.build_video(video, folder / "kb_index.json", show_progress=False)
    return video


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_kb(tmp_path_factory.mktemp("ui"))


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[MemvidInteractive]:
    ui = MemvidInteractive(build_kb(tmp_path), max_upload_mb=0.01)  # 10 KB uploads at most
    yield ui
    ui.close()


# ---------------------------------------------------------------------- handlers, without a browser


def test_ask_offline_cites_sources(kb: Path) -> None:
    ui = MemvidInteractive(kb, kb.with_name("kb_index.json"))
    reply, sources, chat = ui.ask("Who was the commander of Apollo 11?")
    assert "Armstrong" in reply and "[1] apollo_11.md" in reply
    assert sources and sources[0].metadata["file"] == "apollo_11.md"
    reply2, _, chat2 = ui.ask("and who stayed in orbit?", chat)
    assert chat2 is chat and "Collins" in reply2  # the follow-up carries the previous question
    ui.close()


def test_llm_answers_get_their_sources(kb: Path) -> None:
    prompts: list[str] = []

    def fake_llm(prompt: str) -> str:
        prompts.append(prompt)
        return "Bees make honey from nectar [1]."

    ui = MemvidInteractive(kb, llm=fake_llm)
    reply, sources, _ = ui.ask("What do bees make from nectar?")
    assert sources[0].metadata["file"] == "honeybees.md"
    assert reply.startswith("Bees make honey from nectar [1].")
    assert "Sources:\n[1] honeybees.md" in reply
    assert "honeybees.md" in prompts[0] and "Question: What do bees make from nectar?" in prompts[0]
    assert ui.llm_label.startswith("LLM:")
    ui.close()


def test_search_records_and_frame_image(kb: Path) -> None:
    ui = MemvidInteractive(kb)
    recs = ui.search("How does a plant turn light into sugar?", 3)
    assert [r["rank"] for r in recs] == [1, 2, 3]
    assert recs[0]["file"] == "photosynthesis.md" and recs[0]["score"] > 0.3
    image, caption, text = ui._frame_for(recs, 1)
    frame_size = ui.memory.settings.frame_size
    assert image is not None and image.size == (3 * frame_size, 3 * frame_size)
    import numpy as np
    import zxingcpp

    pixels = np.asarray(image)
    assert 0.3 < float((pixels < 128).mean()) < 0.7  # black and white modules, not a blank frame
    codes = [c for c in zxingcpp.read_barcodes(pixels) if "QR" in str(c.format)]
    assert len(codes) == 1 and codes[0].valid  # the frame really is one readable QR code
    assert "photosynthesis.md" in caption and f"frame {recs[0]['frame']}" in caption
    assert text == recs[0]["text"]
    with pytest.raises(Exception, match="search"):
        ui.search("   ")
    ui.close()


def test_upload_appends_incrementally(app: MemvidInteractive, tmp_path: Path) -> None:
    before = app.memory.info()
    note = tmp_path / "lighthouses.md"
    note.write_text("# Lighthouses\n\nThe Pharos of Alexandria was one of the Seven Wonders of the Ancient World.\n")
    ok, message = app.add_files([str(note)])
    assert ok, message
    after = app.memory.info()
    assert after["chunks"] == before["chunks"] + 1
    assert after["segments"] == before["segments"] + 1  # a new segment; the base video is not rewritten
    assert after["version"] == before["version"] + 1
    assert "lighthouses.md" in message
    assert app.search("Seven Wonders lighthouse", 1)[0]["file"] == "lighthouses.md"


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("virus.exe", b"MZ\x90\x00", "not accepted"),
        ("big.md", b"word " * 4000, "limit is 0.01 MB"),
        ("latin1.txt", "caf\xe9".encode("latin-1") * 10, "UTF-8"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "not a readable PDF"),
        ("blank.md", b"", "empty"),
    ],
)
def test_bad_upload_changes_nothing(app: MemvidInteractive, tmp_path: Path, name: str, content: bytes, needle: str) -> None:
    good = tmp_path / "good.md"
    good.write_text("A perfectly fine note about tides and the Moon.\n")
    bad = tmp_path / name
    bad.write_bytes(content)
    before = app.memory.info()
    ok, message = app.add_files([str(good), str(bad)])  # one bad file rejects the whole upload
    assert not ok
    assert needle in message and name in message and "Nothing was added" in message
    assert app.memory.info() == before


def test_refuses_bad_settings(kb: Path) -> None:
    with pytest.raises(ValueError, match="max_upload_mb"):
        MemvidInteractive(kb, max_upload_mb=0)
    with pytest.raises(ValueError, match="allowed_types"):
        MemvidInteractive(kb, allowed_types=[".exe"])


def test_analytics_are_off_and_default_host_is_local(kb: Path) -> None:
    ui = MemvidInteractive(kb)
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    demo = ui.build()
    assert demo.analytics_enabled is False
    kwargs = ui.launch_kwargs("127.0.0.1", 7860, False, True)
    assert kwargs["server_name"] == "127.0.0.1" and kwargs["share"] is False
    assert kwargs["max_file_size"] == 20 * 1024 * 1024
    import inspect

    assert inspect.signature(MemvidInteractive.run).parameters["host"].default == "127.0.0.1"
    ui.close()


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_search_modes_find_an_exact_identifier(kb: Path) -> None:
    ui = MemvidInteractive(kb)
    assert ui.search_mode == "hybrid"
    apollo = _flat((CORPUS / "apollo_11.md").read_text())
    for mode in (None, "hybrid", "keyword"):  # "1202" (a program alarm) occurs once, in apollo_11.md
        recs = ui.search("1202", 3, mode)
        assert recs[0]["file"] == "apollo_11.md" and '"1202" and "1201" program alarms' in recs[0]["text"], mode
        assert _flat(recs[0]["text"]) in apollo  # the file's exact text, decoded from the video
        assert 0 < recs[0]["score"] <= 1
    assert all("1202" in r["text"] for r in ui.search("1202", 3, "keyword"))
    rows, recs = ui.search_table("bees dance to show where food is", 2, "vector")
    assert [r[0] for r in rows] == [1, 2] and rows[0][4] == recs[0]["file"] == "honeybees.md"
    assert rows[0][6] == recs[0]["id"] and rows[0][1] == round(recs[0]["score"], 3)
    with pytest.raises(Exception, match="hybrid, vector, keyword"):
        ui.search("bees", 2, "fuzzy")
    ui.close()
    with pytest.raises(Exception, match="search_mode"):
        MemvidInteractive(kb, search_mode="semantic")


def test_search_panel_has_a_mode_selector_wired_to_search(kb: Path) -> None:
    ui = MemvidInteractive(kb, search_mode="keyword")
    demo = ui.build()
    import gradio as gr

    radios = [b for b in demo.blocks.values() if isinstance(b, gr.Radio) and b.elem_id == "search-mode"]
    assert len(radios) == 1
    radio = radios[0]
    assert [c[0] for c in radio.choices] == ["hybrid", "vector", "keyword"] and radio.value == "keyword"
    button = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "search-send")
    wired = [fn for fn in demo.fns.values() if any(t[0] == button._id for t in fn.targets)]
    assert len(wired) == 1 and radio in wired[0].inputs  # the button sends the chosen mode
    ui.close()


# ---------------------------------------------------------------------- the page in a real browser


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "install_browser.sh")], check=False, timeout=600)
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing and scripts/install_browser.sh could not install it (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
def test_web_ui_in_chromium(chromium: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    ui = MemvidInteractive(build_kb(tmp_path))
    port = _free_port()
    ui.run(host="127.0.0.1", port=port, block=False)
    base = f"http://127.0.0.1:{port}"
    external: list[str] = []
    try:
        with urllib.request.urlopen(base + "/", timeout=30) as resp:
            assert resp.status == 200
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:")) else external.append(r.url))
            page.goto(base + "/")
            expect(page.locator("#memvid-header")).to_contain_text("kb.mp4")

            # Chat: ask, get an extractive answer with its citation, and the cited frame
            page.locator("#chat-input textarea").fill("When did Apollo 11 launch?")
            page.locator("#chat-send").click()
            bot = page.locator("#chatbot")
            expect(bot).to_contain_text("From the memory", timeout=60_000)
            expect(bot).to_contain_text("1969")
            expect(bot).to_contain_text("[1] apollo_11.md")
            expect(page.locator("#chat-sources")).to_contain_text("apollo_11.md")
            expect(page.locator("#chat-sources")).to_contain_text("score")
            expect(page.locator("#chat-frame img")).to_be_visible()
            expect(page.locator("#chat-frame-text textarea")).to_have_value(re.compile("Apollo 11"))
            page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

            # Search: results with score, frame and file; the first result's frame is shown
            page.get_by_role("tab", name="Search").click()
            expect(page.locator("#search-mode")).to_be_visible()
            page.locator("#search-mode").get_by_label("keyword").check()
            page.locator("#search-input textarea").fill("bees dance to show where food is")
            page.locator("#search-send").click()
            table = page.locator("#search-results")
            expect(table.get_by_text("honeybees.md").filter(visible=True).first).to_be_visible(timeout=30_000)
            expect(page.locator("#search-frame img")).to_be_visible()
            expect(page.locator("#search-text")).to_contain_text("honeybees.md")
            page.screenshot(path=str(tmp_path / "search.png"), full_page=True)

            # Memory: overview figures, and an upload appended as a new segment
            page.get_by_role("tab", name="Memory").click()
            expect(page.locator("#overview")).to_contain_text("Chunks")
            before = ui.memory.info()
            bad = tmp_path / "legacy.txt"
            bad.write_bytes("caf\xe9 au lait, cr\xe8me br\xfbl\xe9e".encode("latin-1"))  # not UTF-8: rejected
            page.locator("#upload input[type=file]").set_input_files(str(bad))
            # Gradio may render the name as two spans ("legacy", ".txt"): the cell's accessible name is whole.
            expect(page.locator("#upload").get_by_role("cell", name="legacy.txt")).to_be_visible(timeout=30_000)
            page.locator("#upload-add").click()
            expect(page.locator("#upload-status")).to_contain_text("Upload rejected", timeout=60_000)
            expect(page.locator("#upload-status")).to_contain_text("UTF-8")
            expect(page.locator("#upload-status")).to_contain_text("Nothing was added")
            expect(page.locator("#upload-status")).not_to_contain_text("/tmp/gradio")  # the user's file name, not a temp path
            assert ui.memory.info() == before
            page.screenshot(path=str(tmp_path / "bad_upload.png"), full_page=True)
            note = tmp_path / "volcanoes.md"
            note.write_text("# Volcanoes\n\nMount Vesuvius buried Pompeii under ash in the year 79.\n")
            page.locator("#upload input[type=file]").set_input_files(str(note))
            expect(page.locator("#upload").get_by_role("cell", name="volcanoes.md")).to_be_visible(timeout=30_000)
            page.locator("#upload-add").click()
            expect(page.locator("#upload-status")).to_contain_text("Added", timeout=60_000)
            expect(page.locator("#memvid-header")).to_contain_text(f"{before['chunks'] + 1} chunks")
            page.screenshot(path=str(tmp_path / "memory.png"), full_page=True)
            browser.close()
        assert ui.memory.info()["segments"] == before["segments"] + 1
        assert ui.search("Which city did Vesuvius bury?", 1)[0]["file"] == "volcanoes.md"
        assert external == [], f"the page reached outside this machine: {external}"
        for shot in ("chat.png", "search.png", "memory.png"):
            assert (tmp_path / shot).stat().st_size > 10_000
    finally:
        ui.close()
        time.sleep(0.2)

