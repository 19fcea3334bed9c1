"""The ``memvid`` command line and ``examples/file_chat.py``, on the real files in ``corpus/``."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from memvid_base import Memory
from memvid_base.apps.cli import build_parser, main
from memvid_base.files.self_describe import read_segment_meta

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
MEMVID = Path(sys.executable).with_name("memvid")
SUBCOMMANDS = ["encode", "search", "chat", "info", "verify", "compact", "serve", "export", "mcp"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
       "ANONYMIZED_TELEMETRY": "False"}


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got: {err!r}"
    assert lines[0].startswith("memvid: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A memory encoded by the CLI from the corpus: four Markdown files and a two-page PDF."""
    out = tmp_path_factory.mktemp("cli") / "kb.mp4"
    code = main(["encode", str(CORPUS), "-o", str(out), "--chunk-size", "400", "--workers", "1", "--quiet"])
    assert code == 0
    return out


def copy_memory(kb: Path, dest: Path) -> Path:
    shutil.copytree(kb.parent, dest)
    return dest / kb.name


# ---------------------------------------------------------------------- help and parsing


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_on_every_subcommand(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: memvid {command}")
    assert "--help" in out
    if command != "encode":
        flat = "".join(out.split())  # argparse wraps the help text
        assert "kb.mp4" in flat and ".kb.mp4.memvid-cache/index.json" in flat  # every command takes the video or the index


def test_top_level_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert command in out


def test_serve_binds_localhost_by_default() -> None:
    args = build_parser().parse_args(["serve", "kb.mp4"])
    assert (args.host, args.port) == ("127.0.0.1", 7860)
    assert build_parser().parse_args(["serve", "kb.mp4", "--host", "0.0.0.0"]).host == "0.0.0.0"


# ---------------------------------------------------------------------- round trips


def test_encode_writes_one_video_and_one_hidden_cache_folder(kb: Path) -> None:
    assert kb.is_file() and kb.stat().st_size > 0
    assert (kb.parent / ".kb.mp4.memvid-cache" / "index.json").is_file()
    assert sorted(p.name for p in kb.parent.iterdir()) == [".kb.mp4.memvid-cache", "kb.mp4"]


def test_info_human_and_json(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "info", str(kb))
    assert code == 0
    assert "Chunks" in out and "Frames" in out and "av1" in out and "all-MiniLM-L6-v2" in out
    code, out, _ = run_main(capsys, "info", str(kb.parent / ".kb.mp4.memvid-cache" / "index.json"), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["codec"] == "av1"
    assert info["chunks"] >= 10  # ~9.5 KB of Markdown and PDF text in 400-character chunks
    assert info["frames"] >= 1 and info["segments"] == 1
    assert info["video_bytes"] == kb.stat().st_size
    assert info["raw_text_bytes"] > 8000
    assert info["ratio_to_raw_text"] == pytest.approx(info["video_bytes"] / info["raw_text_bytes"], rel=1e-3)
    assert Path(info["video_file"]).name == "kb.mp4"
    assert Path(info["index_file"]) == kb.parent / ".kb.mp4.memvid-cache" / "index.json"
    assert Path(info["cache_dir"]) == kb.parent / ".kb.mp4.memvid-cache"


def test_search_json_finds_the_right_file(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "search", str(kb), "Who walked on the Moon with Neil Armstrong?", "-k", "3", "--json")
    assert code == 0
    results = json.loads(out)
    assert [r["rank"] for r in results] == [1, 2, 3]
    top = results[0]
    assert top["file"] == "apollo_11.md"
    assert "Aldrin" in top["text"] or "Armstrong" in top["text"]
    assert 0 < top["score"] <= 1 and top["score"] >= results[-1]["score"]
    assert isinstance(top["frame"], int) and top["segment"].endswith(".mp4")


def test_search_pdf_result_has_its_page(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "search", str(kb.parent / ".kb.mp4.memvid-cache" / "index.json"), "royalty-free codec from the Alliance for Open Media", "--json")
    assert code == 0
    top = json.loads(out)[0]
    assert top["file"] == "video_codecs.pdf"
    assert top["page"] in (1, 2)
    assert "AV1" in top["text"]


def test_search_human_output(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "search", str(kb), "how do honey bees tell nestmates where food is", "-k", "2")
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("1. score ") and "frame" in first and "honeybees.md" in first
    assert out.count("\n") >= 4  # two results, each a header line and a text line


def test_verify_ok_and_json(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "verify", str(kb), "--quiet")
    assert code == 0
    assert out.startswith("OK:")
    code, out, _ = run_main(capsys, "verify", str(kb), "--json", "--quiet")
    report = json.loads(out)
    assert report["ok"] is True and report["frames_ok"] == report["frames_total"] >= 1
    assert report["bad_chunks"] == [] and report["live_chunks"] >= 10


def test_chat_provider_none_answers_with_citations(kb: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("When did Apollo 11 launch?\n\nWhat do bees make from nectar?\nquit\nnever asked\n"))
    code, out, _ = run_main(capsys, "chat", str(kb), "--provider", "none")
    assert code == 0
    answers = out.split("Assistant: ")[1:]
    assert len(answers) == 2  # the blank line is skipped; nothing after 'quit' is read
    assert "1969" in answers[0] and "apollo_11.md" in answers[0]
    assert "[1] apollo_11.md" in answers[0]
    assert "honey" in answers[1].lower() and "honeybees.md" in answers[1]
    assert "never asked" not in out
    assert out.rstrip().endswith("Bye.")


def test_append_then_compact_then_verify(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = copy_memory(kb, tmp_path / "mem")
    before = json.loads(run_main(capsys, "info", str(video), "--json")[1])
    note = tmp_path / "zeppelins.txt"
    note.write_text("The Hindenburg was a German passenger airship that caught fire at Lakehurst, New Jersey, in May 1937.\n")
    code, out, _ = run_main(capsys, "encode", str(note), "-o", str(video), "--append", "--quiet")
    assert code == 0 and out.startswith("Appended 1 chunks to")
    after = json.loads(run_main(capsys, "info", str(video), "--json")[1])
    assert after["chunks"] == before["chunks"] + 1
    assert after["segments"] == 2 and after["version"] == before["version"] + 1
    top = json.loads(run_main(capsys, "search", str(video), "airship disaster in New Jersey", "-k", "1", "--json")[1])[0]
    assert top["file"] == "zeppelins.txt" and "Hindenburg" in top["text"]
    assert "kb_segments" in top["segment"]  # it lives in the appended segment

    code, out, _ = run_main(capsys, "compact", str(video), "--quiet")
    assert code == 0 and "2 -> 1 segments" in out
    compacted = json.loads(run_main(capsys, "info", str(video), "--json")[1])
    assert compacted["segments"] == 1 and compacted["chunks"] == after["chunks"]
    assert run_main(capsys, "verify", str(video), "--quiet")[0] == 0
    top = json.loads(run_main(capsys, "search", str(video), "airship disaster in New Jersey", "-k", "1", "--json")[1])[0]
    assert "Hindenburg" in top["text"]


def test_verify_rebuild_index_restores_a_lost_store(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = copy_memory(kb, tmp_path / "mem")
    stores = list((tmp_path / "mem" / ".kb.mp4.memvid-cache").glob("chroma*"))
    assert len(stores) == 1
    shutil.rmtree(stores[0])
    code, out, _ = run_main(capsys, "verify", str(video), "--rebuild-index", "--quiet")
    assert code == 0
    assert "Rebuilt the vector index from the video" in out and "OK:" in out
    top = json.loads(run_main(capsys, "search", str(video), "Who walked on the Moon with Neil Armstrong?", "--json")[1])[0]
    assert top["file"] == "apollo_11.md"


def test_verify_reports_a_damaged_video(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = copy_memory(kb, tmp_path / "mem")
    data = bytearray(video.read_bytes())
    video.write_bytes(bytes(data[: len(data) // 2]))  # truncated, as by an interrupted copy
    code, out, err = run_main(capsys, "verify", str(video), "--quiet")
    assert code == 1
    assert "DAMAGED" in out
    assert_one_line_error(err, str(video), "failed verification", "restore")


# ---------------------------------------------------------------------- user errors: exit 1, one line naming the file and the fix


def test_missing_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nothere.mp4"
    for argv in (["search", str(missing), "x"], ["info", str(missing)], ["verify", str(missing)], ["chat", str(missing)]):
        code, _, err = run_main(capsys, *argv)
        assert code == 1
        assert_one_line_error(err, str(missing), ".nothere.mp4.memvid-cache", "memvid encode")


def test_video_without_index(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lone = tmp_path / "lone.mp4"
    shutil.copy(kb, lone)  # the MP4 alone: it describes itself, so the index is rebuilt from it
    code, out, _ = run_main(capsys, "info", str(lone), "--json")
    box = read_segment_meta(lone)
    assert box is not None
    assert code == 0 and json.loads(out)["chunks"] == box.live_count and json.loads(out)["frames"] == box.frames
    assert (tmp_path / ".lone.mp4.memvid-cache" / "index.json").is_file()
    code, _, err = run_main(capsys, "info", str(tmp_path / "missing.mp4"))
    assert code == 1
    assert_one_line_error(err, ".missing.mp4.memvid-cache", "memvid encode")


def test_encode_refuses_to_clobber(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "encode", str(CORPUS / "qr_codes.md"), "-o", str(kb))
    assert code == 1
    assert_one_line_error(err, "A memory already exists", "--append", "--overwrite")


def test_encode_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.mp4")
    bad = tmp_path / "picture.png"
    bad.write_bytes(b"\x89PNG\r\n")
    code, _, err = run_main(capsys, "encode", str(bad), "-o", out)
    assert code == 1
    assert_one_line_error(err, str(bad), "unsupported file type", ".md")

    code, _, err = run_main(capsys, "encode", str(tmp_path / "missing.md"), "-o", out)
    assert code == 1
    assert_one_line_error(err, "missing.md", "does not exist")

    empty = tmp_path / "empty_dir"
    empty.mkdir()
    code, _, err = run_main(capsys, "encode", str(empty), "-o", out)
    assert code == 1
    assert_one_line_error(err, str(empty), "Supported types")

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    code, _, err = run_main(capsys, "encode", str(latin1), "-o", out)
    assert code == 1
    assert_one_line_error(err, str(latin1), "UTF-8")
    assert not (tmp_path / ".x.mp4.memvid-cache").exists() and not (tmp_path / "x_index.json").exists()  # nothing written

    code, _, err = run_main(capsys, "encode", str(CORPUS / "qr_codes.md"), "-o", str(tmp_path / "x.avi"))
    assert code == 1
    assert_one_line_error(err, "x.avi", ".mp4")


def test_append_with_another_codec_is_refused(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "encode", str(CORPUS / "qr_codes.md"), "-o", str(kb), "--append", "--codec", "h264")
    assert code == 1
    assert_one_line_error(err, str(kb), "av1", "--codec")


def test_frame_size_sets_a_new_memorys_frames_and_an_append_must_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = tmp_path / "small.mp4"
    code, out, _ = run_main(capsys, "encode", str(CORPUS / "qr_codes.md"), "-o", str(kb), "--frame-size", "136", "--quiet", "--json")
    assert code == 0 and json.loads(out)["frame_size"] == 136
    with Memory(kb) as mem:
        assert mem.settings.frame_size == 136 and mem.settings.qr_version == 28  # (136 - 2 * 2 quiet - 17) / 4
        assert mem.verify().ok
    chunks = len(Memory(kb))

    code, _, err = run_main(capsys, "encode", str(CORPUS / "qr_codes.md"), "-o", str(kb), "--append", "--frame-size", "120")
    assert code == 1
    assert_one_line_error(err, str(kb), "136 px", "--frame-size")
    assert len(Memory(kb)) == chunks  # refused before anything was written

    code, _, err = run_main(capsys, "encode", str(CORPUS / "qr_codes.md"), "-o", str(kb), "--append", "--frame-size", "0")
    assert code == 1  # 0 is a size too, not "unset"
    assert_one_line_error(err, "136 px", "--frame-size 0")
    assert len(Memory(kb)) == chunks

    for size, needle in [("135", "frame_size must be even"), ("100000", "Use at most 736"), ("20", "too small")]:
        other = tmp_path / "other" / "x.mp4"
        code, _, err = run_main(capsys, "encode", str(CORPUS / "qr_codes.md"), "-o", str(other), "--frame-size", size)
        assert code == 1
        assert_one_line_error(err, needle)
        assert not other.parent.exists() or not any(other.parent.iterdir())  # refused before anything was written


def test_llm_provider_without_key_or_package(kb: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n"))
    code, _, err = run_main(capsys, "chat", str(kb), "--provider", "openai")
    assert code == 1
    assert_one_line_error(err, "openai")
    assert "pip install" in err or "OPENAI_API_KEY" in err


def test_argparse_errors_exit_2_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["search"])
    assert exc.value.code == 2
    assert "usage: memvid search" in capsys.readouterr().err


# ---------------------------------------------------------------------- the installed entry point and file_chat.py


def test_entry_point_subprocess(kb: Path, tmp_path: Path) -> None:
    assert MEMVID.is_file(), "run `pip install -e .` so the memvid entry point exists"
    proc = subprocess.run([str(MEMVID), "info", str(kb), "--json"], capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["codec"] == "av1"
    proc = subprocess.run([str(MEMVID), "verify", str(kb)], capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("OK:")
    assert "Verifying" not in proc.stderr and "it/s" not in proc.stderr  # no progress bars when stderr is not a TTY
    proc = subprocess.run([str(MEMVID), "search", str(tmp_path / "none.mp4"), "q"], capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_the_installed_command_skips_the_last_collection_and_loses_no_write(tmp_path: Path) -> None:
    """`memvid` runs console(), which freezes the heap before exit: a write it made is whole for the next process."""
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "memvid"]
    assert script.value == "memvid_base.apps.cli:console", "reinstall (`pip install -e .`) after changing the entry point"
    note = tmp_path / "note.md"
    note.write_text("The QUASARBELL_LIMIT caps how many bells ring at once.\n")
    video = tmp_path / "kb.mp4"
    proc = subprocess.run([str(MEMVID), "encode", str(note), "-o", str(video), "--quiet"],
                          capture_output=True, text=True, env=ENV, timeout=180)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([str(MEMVID), "search", str(video), "QUASARBELL_LIMIT", "--mode", "keyword", "--json"],
                          capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "QUASARBELL_LIMIT caps how many bells" in proc.stdout
    proc = subprocess.run([str(MEMVID), "verify", str(video)], capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("OK:"), proc.stdout + proc.stderr


def test_mcp_over_a_closed_stdin_says_so_in_one_line(kb: Path) -> None:
    proc = subprocess.run([str(MEMVID), "mcp", str(kb)], capture_output=True, text=True, env=ENV, timeout=120,
                          preexec_fn=lambda: os.close(0))
    assert proc.returncode == 1
    assert "stdin is closed" in proc.stderr and "--http" in proc.stderr and "Traceback" not in proc.stderr


def test_file_chat_example_builds_then_chats(tmp_path: Path) -> None:
    script = ROOT / "examples" / "file_chat.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--files", str(CORPUS / "photosynthesis.md"), str(CORPUS / "video_codecs.pdf"),
         "--provider", "none", "--output-dir", str(tmp_path / "output"), "--memory-name", "memory", "--chunk-size", "600"],
        input="Which pigment absorbs light in plants?\nquit\n", capture_output=True, text=True, env=ENV, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "output" / "memory.mp4").is_file() and (tmp_path / "output" / "memory_index.json").is_file()
    answer = proc.stdout.split("Assistant: ", 1)[1]
    assert "chlorophyll" in answer.lower()
    assert "photosynthesis.md" in answer and "Sources:" in answer

    proc = subprocess.run(
        [sys.executable, str(script), "--load-existing", str(tmp_path / "output" / "memory"), "--provider", "none"],
        input="What is AV1?\n", capture_output=True, text=True, env=ENV, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    answer = proc.stdout.split("Assistant: ", 1)[1]
    assert "AV1" in answer and "video_codecs.pdf, page" in answer

    proc = subprocess.run([sys.executable, str(script), "--load-existing", str(tmp_path / "nope")],
                          capture_output=True, text=True, env=ENV, timeout=180)
    assert proc.returncode == 1 and "nope.mp4" in proc.stderr and "Traceback" not in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listen_addresses(port: int) -> set[str] | None:
    """IPv4 addresses listening on ``port``, from /proc/net/tcp (None where that does not exist)."""
    table = Path("/proc/net/tcp")
    if not table.exists():
        return None
    found = set()
    for line in table.read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":
            found.add(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return found


def test_serve_subprocess_listens_on_localhost(kb: Path) -> None:
    pytest.importorskip("gradio")
    port = _free_port()
    proc = subprocess.Popen([str(MEMVID), "serve", str(kb), "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 120
        html = ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    html = resp.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert "<title>memvid</title>" in html or "memvid" in html
        listening = _listen_addresses(port)
        if listening is not None:  # Linux: the socket listens on 127.0.0.1 only, not on 0.0.0.0
            assert listening == {"127.0.0.1"}, listening
    finally:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert f"http://127.0.0.1:{port}" in out
    assert "Traceback" not in err


# ---------------------------------------------------------------------- search modes, text filters, repair


def _flat(text: str) -> str:
    return " ".join(text.split())


def corpus_text() -> str:
    return _flat(" ".join(p.read_text() for p in sorted(CORPUS.glob("*.md"))))


def test_search_help_shows_modes_and_text_filters(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    out = capsys.readouterr().out
    for flag in ("--mode", "{vector,keyword,hybrid}", "--alpha", "--contains", "--not-contains"):
        assert flag in out


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_search_modes_find_an_exact_identifier(kb: Path, mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    # "1202" (a program alarm code) occurs once in the corpus, in apollo_11.md.
    code, out, _ = run_main(capsys, "search", str(kb), "1202", "--mode", mode, "-k", "3", "--json")
    assert code == 0
    results = json.loads(out)
    top = results[0]
    assert top["file"] == "apollo_11.md" and '"1202"' in top["text"]
    assert _flat(top["text"]) in corpus_text()  # the exact text of the file, decoded from the video
    assert 0 < top["score"] <= 1
    if mode == "keyword":
        assert all("1202" in r["text"] for r in results)  # BM25 returns only chunks with the word


def test_search_text_filters_have_no_false_positives_or_misses(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from memvid_base import Memory

    with Memory(kb) as memory:
        everything = memory.get()
    expected = {c.id for c in everything if "Eagle" in c.text and "Columbia" not in c.text}
    assert expected and len(expected) < len(everything)
    for mode in ("vector", "hybrid"):
        code, out, _ = run_main(capsys, "search", str(kb), "lunar module landing", "--mode", mode, "-k", "100",
                                "--contains", "Eagle", "--not-contains", "Columbia", "--json")
        assert code == 0
        results = json.loads(out)
        assert {r["id"] for r in results} == expected, mode
        assert all("Eagle" in r["text"] and "Columbia" not in r["text"] for r in results)


def test_search_human_output_for_a_filter_that_matches_nothing(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "search", str(kb), "bees", "--contains", "no-such-text-anywhere")
    assert code == 0 and out.strip() == "No results: no chunk matches."


def test_search_mode_argument_errors(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "search", str(kb), "bees", "--alpha", "0.5")
    assert code == 1
    assert_one_line_error(err, "--alpha", "--mode hybrid")
    code, _, err = run_main(capsys, "search", str(kb), "bees", "--mode", "hybrid", "--alpha", "1.5")
    assert code == 1
    assert_one_line_error(err, "--alpha", "between 0 and 1")
    code, _, err = run_main(capsys, "search", str(kb), "bees", "--contains", "")
    assert code == 1
    assert_one_line_error(err, "--contains")
    with pytest.raises(SystemExit) as exc:
        main(["search", str(kb), "bees", "--mode", "fuzzy"])
    assert exc.value.code == 2
    assert "invalid choice: 'fuzzy'" in capsys.readouterr().err


def test_verify_repair_when_the_core_has_none(kb: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from memvid_base.memory import Memory

    monkeypatch.delattr(Memory, "repair", raising=False)
    code, out, err = run_main(capsys, "verify", str(kb), "--repair", "--quiet")
    assert code == 1 and out == ""
    assert_one_line_error(err, "--repair is unavailable")


@pytest.mark.parametrize("unrecoverable", [[], ["segment kb_segments/s2.mp4: frames 3-4 do not decode"]])
def test_verify_repair_reports_what_it_did(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch, unrecoverable: list[str]) -> None:
    from memvid_base.memory import Memory

    calls: list[bool] = []

    def fake_repair(self: Memory, show_progress: bool = False) -> dict[str, object]:
        calls.append(show_progress)
        return {"rebuilt_store": True, "live_chunks": len(self), "unrecoverable": list(unrecoverable)}

    monkeypatch.setattr(Memory, "repair", fake_repair, raising=False)
    video = copy_memory(kb, tmp_path / "mem")
    code, out, err = run_main(capsys, "verify", str(video), "--repair", "--quiet")
    assert calls == [False]
    assert "Repaired: rebuilt the vector store from the video" in out and "OK:" in out
    if unrecoverable:
        assert code == 1 and "Could not recover 1 item(s):" in out and "frames 3-4 do not decode" in out
        assert_one_line_error(err, "could not recover 1 item")
    else:
        assert code == 0 and err == ""
    code, out, _ = run_main(capsys, "verify", str(video), "--repair", "--json", "--quiet")
    assert json.loads(out)["repair"]["unrecoverable"] == unrecoverable


def test_a_closed_pipe_ends_quietly(kb: Path) -> None:
    """`memvid info kb.mp4 | head` must not end with a Broken pipe traceback or message."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "memvid_base.apps.cli", "info", str(kb), "--json"], cwd=str(root),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Broken pipe" not in err and "Traceback" not in err, err
