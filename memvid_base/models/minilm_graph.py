"""The all-MiniLM-L6-v2 sentence encoder as an ONNX graph, built from its safetensors weights.

It is the BERT encoder of Hugging Face ``BertModel`` (absolute positions, token type 0, exact erf
GELU, LayerNorm eps 1e-12) followed by what sentence-transformers adds for this model: mean pooling
over the attention mask and L2 normalisation.  Inputs are ``input_ids`` and ``attention_mask``
(int64, ``[batch, seq]``) and ``position_ids`` (int64, ``[seq]``); the output ``embeddings`` is
``[batch, hidden]`` float32 unit vectors.
"""

from __future__ import annotations

import math

import numpy as np

from . import onnx_proto as op

OPSET = 17  # LayerNormalization is in the default domain from 17 on
_NEG = -3.0e38  # added to the scores of padding positions (softmax gives them 0), as BertModel does with finfo.min


def build(weights: dict[str, np.ndarray], heads: int, eps: float = 1e-12) -> tuple[bytes, dict[str, np.ndarray]]:
    """A serialized ONNX model of the encoder, and the weights it declares as external initializers.

    Args:
        weights: The ``BertModel`` tensors by name (``embeddings.*``, ``encoder.layer.N.*``).
        heads: The number of attention heads.
        eps: The LayerNorm epsilon.

    Returns:
        ``ModelProto`` bytes for ``onnxruntime.InferenceSession``, and name to float32 array for each
        weight, to hand over with ``SessionOptions.add_external_initializers`` (keep them alive as
        long as the session).
    """
    layers = 1 + max(int(k.split(".")[2]) for k in weights if k.startswith("encoder.layer."))
    hidden = weights["embeddings.word_embeddings.weight"].shape[1]
    inits: dict[str, np.ndarray] = {}  # small constants, written into the model
    external: dict[str, np.ndarray] = {}  # the weights, handed over in memory
    nodes: list[bytes] = []

    def const(name: str, value: np.ndarray) -> str:
        inits[name] = value
        return name

    def w(name: str, transpose: bool = False) -> str:
        # torch Linear stores [out, in]; MatMul wants [in, out]
        arr = np.asarray(weights[name], dtype=np.float32)
        external[name] = np.ascontiguousarray(arr.T if transpose else arr)
        return name

    def add(op_type: str, inputs: list[str], out: str, **attrs: int | float | str | list[int]) -> str:
        nodes.append(op.node(op_type, inputs, [out], **attrs))
        return out

    def linear(x: str, prefix: str, out: str) -> str:
        y = add("MatMul", [x, w(f"{prefix}.weight", transpose=True)], f"{out}_mm")
        return add("Add", [y, w(f"{prefix}.bias")], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return add("LayerNormalization", [x, w(f"{prefix}.weight"), w(f"{prefix}.bias")], out, axis=-1, epsilon=eps)

    f32 = np.float32
    split = const("split_heads", np.array([0, 0, heads, hidden // heads], np.int64))
    merge = const("merge_heads", np.array([0, 0, hidden], np.int64))
    scale = const("scale", np.array(1.0 / math.sqrt(hidden // heads), f32))
    one, half, sqrt2 = const("one", np.array(1.0, f32)), const("half", np.array(0.5, f32)), const("sqrt2", np.array(math.sqrt(2.0), f32))

    # Embeddings: (word + token type 0) + position, then LayerNorm, in BertEmbeddings' order.
    word = add("Gather", [w("embeddings.word_embeddings.weight"), "input_ids"], "word")
    type0 = const("type0", np.asarray(weights["embeddings.token_type_embeddings.weight"][0], f32))
    pos = add("Gather", [w("embeddings.position_embeddings.weight"), "position_ids"], "pos")
    summed = add("Add", [add("Add", [word, type0], "word_type"), pos], "emb_sum")
    h = layer_norm(summed, "embeddings.LayerNorm", "h0")

    mask = add("Cast", ["attention_mask"], "mask", to=op.FLOAT)
    pad = add("Mul", [add("Sub", [one, mask], "pad01"), const("neg", np.array(_NEG, f32))], "pad_add")
    pad4 = add("Unsqueeze", [pad, const("axes_1_2", np.array([1, 2], np.int64))], "pad4")  # [B, 1, 1, S]

    for n in range(layers):
        p = f"encoder.layer.{n}"
        q = add("Transpose", [add("Reshape", [linear(h, f"{p}.attention.self.query", f"q{n}"), split], f"q{n}_r")],
                f"q{n}_t", perm=[0, 2, 1, 3])
        k = add("Transpose", [add("Reshape", [linear(h, f"{p}.attention.self.key", f"k{n}"), split], f"k{n}_r")],
                f"k{n}_t", perm=[0, 2, 3, 1])
        v = add("Transpose", [add("Reshape", [linear(h, f"{p}.attention.self.value", f"v{n}"), split], f"v{n}_r")],
                f"v{n}_t", perm=[0, 2, 1, 3])
        scores = add("Add", [add("Mul", [add("MatMul", [q, k], f"qk{n}"), scale], f"qk{n}_s"), pad4], f"scores{n}")
        probs = add("Softmax", [scores], f"probs{n}", axis=-1)
        ctx = add("Transpose", [add("MatMul", [probs, v], f"ctx{n}")], f"ctx{n}_t", perm=[0, 2, 1, 3])
        ctx = add("Reshape", [ctx, merge], f"ctx{n}_m")
        attn = linear(ctx, f"{p}.attention.output.dense", f"attn{n}")
        a = layer_norm(add("Add", [attn, h], f"attn{n}_res"), f"{p}.attention.output.LayerNorm", f"a{n}")
        x = linear(a, f"{p}.intermediate.dense", f"inter{n}")
        # exact GELU: x * 0.5 * (1 + erf(x / sqrt(2)))
        erf = add("Erf", [add("Div", [x, sqrt2], f"gelu{n}_d")], f"gelu{n}_erf")
        g = add("Mul", [add("Mul", [x, add("Add", [erf, one], f"gelu{n}_1")], f"gelu{n}_x"), half], f"gelu{n}")
        out = linear(g, f"{p}.output.dense", f"out{n}")
        h = layer_norm(add("Add", [out, a], f"out{n}_res"), f"{p}.output.LayerNorm", f"h{n + 1}")

    # Mean pooling over real tokens (sentence-transformers clamps the count at 1e-9), then L2 normalisation.
    mask3 = add("Unsqueeze", [mask, const("axis_2", np.array([2], np.int64))], "mask3")
    axis1 = const("axis_1", np.array([1], np.int64))
    total = add("ReduceSum", [add("Mul", [h, mask3], "masked"), axis1], "total", keepdims=0)
    count = add("Max", [add("ReduceSum", [mask3, axis1], "count", keepdims=0), const("min_count", np.array(1e-9, f32))],
                "count_min")
    mean = add("Div", [total, count], "mean")
    norm = add("Max", [add("ReduceL2", [mean], "norm", axes=[1], keepdims=1), const("min_norm", np.array(1e-12, f32))],
               "norm_min")
    add("Div", [mean, norm], "embeddings")

    inputs = [op.value_info("input_ids", op.INT64, ["batch", "seq"]),
              op.value_info("attention_mask", op.INT64, ["batch", "seq"]),
              op.value_info("position_ids", op.INT64, ["seq"])]
    outputs = [op.value_info("embeddings", op.FLOAT, ["batch", hidden])]
    tensors = [op.tensor(k, v) for k, v in inits.items()] + [op.external_tensor(k, v) for k, v in external.items()]
    return op.model(nodes, inputs, outputs, tensors, OPSET, "all-MiniLM-L6-v2"), external
