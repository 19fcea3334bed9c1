"""A manifest from a stranger: every malformed field is a CorruptMemoryError naming it; no path leaves the folder."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvid_base.config import VideoSettings
from memvid_base.errors import CorruptMemoryError, MemvidError
from memvid_base.files.layout import MAX_PATH_CHARS, resolve_inside, safe_relative_path
from memvid_base.files.manifest import MAX_MANIFEST_BYTES, Manifest, Segment, VersionEntry, read_manifest
from memvid_base.files.segments import SegmentCache

SOURCE = Path("kb_index.json")
INJECTIONS = [
    "../../etc/passwd",
    "/etc/passwd",
    "a/../../x",
    "..",
    ".",
    "./kb.mp4",
    "kb_segments//x.mp4",
    "kb_segments/",
    "C:/Windows/win.ini",
    "c:evil.mp4",
    "..\\..\\x.mp4",
    "kb\x00.mp4",
    "x" * (MAX_PATH_CHARS + 1),
]


def valid_manifest() -> dict[str, Any]:
    """A manifest like one memvid writes: a base segment with a dictionary, an appended one, an empty snapshot."""
    m = Manifest(
        video=VideoSettings.create().to_dict(),
        embedding={"model": "callable:hash_embed", "dimension": 64},
        store={"kind": "chroma-persistent", "path": "kb_index_chroma", "collection": "mv_816395ceca0e2d3d", "next_id": 52},
        version=3,
        history_floor=0,
        segments=[
            Segment("9b6b1aeb2b18890b", "kb.mp4", 5, 2, 1, 2051, 5690, 51, [11, 22, 33], [0, 2, 4]),
            Segment("79d7615df25b6878", "kb_segments/00000002-79d7615df25b6878.mp4", 1, 0, 2, 1037, 9, 1, [44], [0]),
            Segment("0011223344556677", "", 0, 0, 3, 0, 0, 0),
        ],
        versions=[
            VersionEntry(0, 1796164922.774, "create", 0),
            VersionEntry(1, 1796164923.525, "build", 51, "51 chunks (0 replaced)"),
            VersionEntry(2, 1796164923.562, "add", 52, "1 chunks (0 replaced)"),
            VersionEntry(3, 1796164924.0, "clear", 0),
        ],
        live_chunks=0,
        live_text_bytes=0,
        dead_rows=52,
        created=1796164922.7,
    )
    return json.loads(m.to_json())


def parse(data: dict[str, Any] | str | bytes) -> Manifest:
    text = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return Manifest.from_json(text, SOURCE)


def test_valid_manifest_round_trips() -> None:
    m = parse(valid_manifest())
    assert [s.file for s in m.segments] == ["kb.mp4", "kb_segments/00000002-79d7615df25b6878.mp4", ""]
    assert m.segments[0].group_starts == [0, 2, 4] and m.segments[0].dict_frames == 2
    assert m.versions[1].note == "51 chunks (0 replaced)"
    assert json.loads(m.to_json()) == valid_manifest()


def test_unknown_keys_are_ignored_and_scalar_setting_extras_kept() -> None:
    data = valid_manifest()
    data["future_top_level"] = {"anything": [1, 2]}
    data["segments"][0]["future"] = "x"
    data["store"]["server"] = "127.0.0.1:8000"
    m = parse(data)
    assert m.store["server"] == "127.0.0.1:8000"
    assert "future_top_level" not in json.loads(m.to_json())
    data["store"]["nested"] = {"a": 1}
    with pytest.raises(CorruptMemoryError, match=r"store\.nested must be a string, number, boolean or null"):
        parse(data)


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


class _Delete:
    def __repr__(self) -> str:
        return "<deleted>"  # a stable test id: xdist workers must collect the same names


_DELETE = _Delete()

# (where to change, new value, text the message must contain)
CASES = [
    (("video",), None, "video must be an object, got None"),
    (("embedding",), None, "embedding must be an object, got None"),
    (("store",), None, "store must be an object, got None"),
    (("video",), _DELETE, "video is missing"),
    (("store", "path"), _DELETE, "store.path is missing"),
    (("store", "collection"), _DELETE, "store.collection is missing"),
    (("store", "collection"), "x", "store.collection must be a Chroma collection name"),
    (("store", "path"), None, "store.path must be a relative path string, got None"),
    (("store", "path"), "", "store.path is empty"),
    (("segments", 0, "frames"), "12", "segments[0].frames must be a non-negative integer no larger than 10000000, got '12'"),
    (("segments", 0, "frames"), True, "segments[0].frames must be a non-negative integer"),
    (("segments", 0, "frames"), 5.0, "segments[0].frames must be a non-negative integer"),
    (("segments", 0, "frames"), 10**12, "segments[0].frames must be a non-negative integer"),
    (("segments", 1, "bytes"), -1, "segments[1].bytes must be a non-negative integer"),
    (("segments", 0, "group_starts"), None, "segments[0].group_starts must be a list"),
    (("segments", 0, "group_crcs"), None, "segments[0].group_crcs must be a list"),
    (("segments", 0, "group_starts"), "0,2,4", "segments[0].group_starts must be a list"),
    (("segments", 0, "group_crcs"), [11, 22], "segments[0].group_crcs must be a list as long as group_starts (3)"),
    (("segments", 0, "group_starts"), [0, 4, 2], "segments[0].group_starts[2] must be strictly increasing from 0"),
    (("segments", 0, "group_starts"), [0, 2, 2], "segments[0].group_starts[2] must be strictly increasing from 0"),
    (("segments", 0, "group_starts"), [1, 2, 4], "segments[0].group_starts[0] must be strictly increasing from 0"),
    (("segments", 0, "group_starts"), [0, 2, 9], "segments[0].group_starts[2] must be a non-negative integer no larger than 4"),
    (("segments", 0, "group_crcs"), [11, 22, 2**32], "segments[0].group_crcs[2] must be a non-negative integer"),
    (("segments", 0, "group_starts"), [], "segments[0].group_starts must be a non-empty list"),
    (("segments", 0, "dict_frames"), 3, "segments[0].dict_frames must be the first frame of the second group"),
    (("segments", 0, "dict_frames"), 6, "segments[0].dict_frames must be a non-negative integer no larger than 5"),
    (("segments", 2, "frames"), 3, "segments[2].frames must be 0 for a segment with no file"),
    (("segments", 0, "uid"), "zzzzzzzzzzzzzzzz", "segments[0].uid must be 16 lowercase hex characters"),
    (("segments", 0, "uid"), "9b6b1aeb2b18", "segments[0].uid must be 16 lowercase hex characters"),
    (("segments", 0, "uid"), 123, "segments[0].uid must be 16 lowercase hex characters"),
    (("segments", 1, "uid"), "9b6b1aeb2b18890b", "segments[1].uid must be unique among the segments"),
    (("segments", 0, "version"), 4, "segments[0].version must be a non-negative integer no larger than 3"),
    (("segments", 0, "chunks"), _DELETE, "segments[0].chunks is missing"),
    (("segments",), None, "segments must be a list"),
    (("segments", 1), "kb.mp4", "segments[1] must be an object"),
    (("version",), 10**30, "version must be a non-negative integer no larger than"),
    (("version",), -1, "version must be a non-negative integer"),
    (("version",), "3", "version must be a non-negative integer"),
    (("version",), 3.5, "version must be a non-negative integer"),
    (("history_floor",), 4, "history_floor must be at most version (3)"),
    (("format_version",), 0, "format_version must be an integer of at least 1"),
    (("format_version",), "1", "format_version must be an integer of at least 1"),
    (("versions",), {"0": 1}, "versions must be a list"),
    (("versions", 1), [1, 2, "build", 51], "versions[1] must be an object"),
    (("versions", 1, "version"), 7, "versions[1].version must be a non-negative integer no larger than 3"),
    (("versions", 1, "time"), "yesterday", "versions[1].time must be a finite, non-negative timestamp"),
    (("versions", 1, "op"), None, "versions[1].op must be a string"),
    (("versions", 1, "note"), ["x"], "versions[1].note must be a string"),
    (("live_chunks",), -3, "live_chunks must be a non-negative integer"),
    (("created",), None, "created must be a finite, non-negative timestamp"),
    (("video", "codec"), "divx", "video.codec must be one of av1, h265, h264, mp4v"),
    (("video", "frame_size"), 10**9, "video.frame_size must be an integer of at least 16 no larger than 16384"),
    (("video", "frame_size"), 185, "video.frame_size must be even"),
    (("video", "qr_version"), 41, "video.qr_version must be an integer of at least 1 no larger than 40"),
    (("video", "qr_backend"), None, "video.qr_backend must be 'zxing' or 'qrcode'"),
    (("embedding", "dimension"), "64", "embedding.dimension must be an integer of at least 1"),
    (("embedding", "dimension"), 0, "embedding.dimension must be an integer of at least 1"),
    (("embedding", "model"), 5, "embedding.model must be a string"),
]


@pytest.mark.parametrize(("path", "value", "message"), CASES, ids=[f"{'.'.join(map(str, c[0]))}={c[1]!r}"[:60] for c in CASES])
def test_each_malformed_field_is_named(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(CorruptMemoryError) as info:
        parse(_set(valid_manifest(), path, value))
    text = str(info.value)
    assert text.startswith("kb_index.json: ")
    assert message in text
    assert "Restore the index from a backup or rebuild the memory." in text


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize("where", [("segments", 1, "file"), ("store", "path")])
def test_escaping_paths_are_refused_when_parsing(bad: str, where: tuple[Any, ...]) -> None:
    field = ".".join(str(p) for p in where).replace(".1.", "[1].")
    with pytest.raises(CorruptMemoryError, match="every path in a memory must stay inside the memory's folder") as info:
        parse(_set(valid_manifest(), where, bad))
    assert field in str(info.value)


def test_null_nan_and_malformed_json() -> None:
    with pytest.raises(CorruptMemoryError, match="not valid JSON"):
        parse("{ not json")
    with pytest.raises(CorruptMemoryError, match="not valid JSON"):
        parse(json.dumps(valid_manifest()).replace('"created": 1796164922.7', '"created": NaN'))
    with pytest.raises(CorruptMemoryError, match="not a memvid index"):
        parse("null")
    with pytest.raises(CorruptMemoryError, match="not a memvid index"):
        parse({"frames": [1, 2]})


def test_non_utf8_bytes(tmp_path: Path) -> None:
    raw = json.dumps(valid_manifest()).encode().replace(b"create", b"cr\xffate")
    with pytest.raises(CorruptMemoryError, match=r"not UTF-8 text \(byte \d+ is invalid\)"):
        parse(raw)
    (tmp_path / "kb_index.json").write_bytes(raw)
    with pytest.raises(CorruptMemoryError, match="not UTF-8"):
        read_manifest(tmp_path / "kb_index.json")


def test_deeply_nested_json() -> None:
    for depth in (5_000, 200_000):
        with pytest.raises(CorruptMemoryError, match="nested too deeply"):
            parse("[" * depth + "]" * depth)
    data = valid_manifest()
    nested = json.dumps(data).replace('"chunks": 51', '"chunks": 51, "x": ' + "[" * 100_000 + "]" * 100_000)
    with pytest.raises(CorruptMemoryError, match="nested too deeply"):
        parse(nested)


def test_enormous_manifest_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "kb_index.json"
    with open(path, "wb") as fh:
        fh.truncate(MAX_MANIFEST_BYTES + 1)  # sparse: costs no disk, and would cost 256 MiB to read
    with pytest.raises(CorruptMemoryError, match=f"more than the {MAX_MANIFEST_BYTES}"):
        read_manifest(path)


def test_layout_accepts_only_canonical_relative_paths(tmp_path: Path) -> None:
    assert safe_relative_path("kb_segments/00000002-ab.mp4", "f", SOURCE) == "kb_segments/00000002-ab.mp4"
    assert safe_relative_path("", "f", SOURCE, allow_empty=True) == ""
    for bad in [*INJECTIONS, "", None, 3, b"kb.mp4"]:
        with pytest.raises(CorruptMemoryError, match="f "):
            safe_relative_path(bad, "f", SOURCE)
    (tmp_path / "a").mkdir()
    assert resolve_inside(tmp_path, "a/x.mp4", "f") == (tmp_path / "a" / "x.mp4").resolve()


def _symlinked_memory(tmp_path: Path) -> tuple[Path, Path]:
    """A memory folder whose segments folder, and one file, are symbolic links to a folder outside it."""
    root, outside = tmp_path / "mem", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"not yours")
    (root / "kb.mp4").symlink_to(outside / "secret.mp4")
    (root / "kb_segments").symlink_to(outside, target_is_directory=True)
    (root / "inner.mp4").write_bytes(b"mine")
    (root / "alias.mp4").symlink_to(root / "inner.mp4")  # a link that stays inside is fine
    (root / "loop.mp4").symlink_to(root / "loop.mp4")
    return root, outside


def test_symlinks_leading_outside_are_refused_at_open(tmp_path: Path) -> None:
    root, outside = _symlinked_memory(tmp_path)
    assert resolve_inside(root, "alias.mp4", "f") == (root / "inner.mp4").resolve()
    for rel in ("kb.mp4", "kb_segments/secret.mp4", "kb_segments/new.mp4"):
        with pytest.raises(CorruptMemoryError, match="outside the memory's folder"):
            resolve_inside(root, rel, "segment file")
    with pytest.raises(CorruptMemoryError):
        resolve_inside(root, "loop.mp4", "segment file")
    cache = SegmentCache(root, VideoSettings.create())
    seg = Segment("9b6b1aeb2b18890b", "kb.mp4", 1, 0, 1, 9, 9, 1, [1], [0])
    with pytest.raises(CorruptMemoryError, match=r"Segment 9b6b1aeb2b18890b file 'kb.mp4' leads to .*outside"):
        cache.reader(seg)
    assert (outside / "secret.mp4").read_bytes() == b"not yours"


@pytest.mark.parametrize("where", [("segments", 0, "file"), ("store", "path")])
def test_open_refuses_escaping_paths_with_a_clear_message(tmp_path: Path, where: tuple[Any, ...]) -> None:
    from core_fixtures import hash_embed

    from memvid_base import Memory

    Memory.create(tmp_path / "kb.mp4", embedding_model=hash_embed).close()
    index = tmp_path / ".kb.mp4.memvid-cache" / "index.json"
    data = valid_manifest()
    data["store"] = json.loads(index.read_text())["store"]
    victim = tmp_path.parent / f"{tmp_path.name}-victim"
    for bad in (str(victim), f"../{victim.name}"):
        index.write_text(json.dumps(_set(data, where, bad)))
        with pytest.raises(CorruptMemoryError, match="every path in a memory must stay inside the memory's folder"):
            Memory(tmp_path / "kb.mp4", embedding_model=hash_embed)
        assert not victim.exists()  # opening created nothing outside the folder


# ------------------------------------------------------------------------------------------------ properties

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from([*INJECTIONS, "kb.mp4", "0011223344556677", "12", "-1", "NaN"]),
)
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for k, v in enumerate(obj):
            out.extend(_paths(v, (*prefix, k)))
    return out


VALID = valid_manifest()
FIELD_PATHS = _paths(VALID)


def _check_result(m: Manifest) -> None:
    """What any manifest that parses must satisfy, whatever it came from."""
    for seg in m.segments:
        assert seg.file == "" or safe_relative_path(seg.file, "f", SOURCE) == seg.file
        assert not seg.file.startswith("/") and ".." not in seg.file.split("/")
        assert all(type(x) is int for x in (seg.frames, seg.dict_frames, seg.version, seg.bytes, seg.chunks))
        assert seg.group_starts == sorted(set(seg.group_starts)) and all(0 <= g < seg.frames for g in seg.group_starts)
        assert len(seg.group_crcs) == len(seg.group_starts)
    assert 0 <= m.history_floor <= m.version
    assert safe_relative_path(m.store["path"], "p", SOURCE)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_field_mutations_raise_only_memvid_errors(data: st.DataObject) -> None:
    mutated = VALID
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(mutated)
        path = data.draw(st.sampled_from(paths or FIELD_PATHS))
        try:
            value = data.draw(st.one_of(st.just(_DELETE), json_values))
            mutated = _set(mutated, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # the path no longer exists after an earlier mutation
    try:
        m = parse(mutated)
    except MemvidError:
        return
    _check_result(m)


@settings(max_examples=1000, deadline=None)
@given(st.data())
def test_random_byte_mutations_raise_only_memvid_errors(data: st.DataObject) -> None:
    raw = bytearray(json.dumps(VALID).encode())
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        pos = data.draw(st.integers(0, len(raw) - 1)) if raw else 0
        if op == "flip" and raw:
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "delete" and raw:
            del raw[pos : pos + data.draw(st.integers(1, 16))]
        elif op == "insert":
            raw[pos:pos] = data.draw(st.sampled_from([b"../", b"/", b"\\", b"\x00", b"\xff", b"[", b"{", b"1e999", b"-", b'"']))
        else:
            del raw[pos:]
    try:
        m = parse(bytes(raw))
    except MemvidError:
        return
    _check_result(m)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rel=st.one_of(st.sampled_from([*INJECTIONS, "kb.mp4", "kb_segments/secret.mp4", "alias.mp4", "loop.mp4"]),
                     st.lists(st.sampled_from(["..", ".", "", "kb_segments", "alias.mp4", "kb.mp4", "x", "/"]), min_size=1, max_size=5).map("/".join)))
def test_resolved_paths_never_leave_the_folder(tmp_path_factory: pytest.TempPathFactory, rel: str) -> None:
    root, _ = _symlinked_memory(tmp_path_factory.mktemp("m"))
    try:
        target = resolve_inside(root, rel, "f")
    except MemvidError:
        return
    base = root.resolve()
    assert target == base or base in target.parents
    assert os.path.realpath(target).startswith(str(base) + os.sep)


def test_lone_surrogates_are_refused() -> None:
    data = _set(valid_manifest(), ("versions", 0, "note"), "\ud800")
    with pytest.raises(CorruptMemoryError, match="not valid Unicode"):
        parse(data)
    with pytest.raises(CorruptMemoryError, match="not valid Unicode"):
        safe_relative_path("kb_segments/\udcff.mp4", "segments[0].file", SOURCE)
    assert parse(_set(valid_manifest(), ("versions", 0, "note"), "\U0001f600")).versions[0].note == "\U0001f600"
