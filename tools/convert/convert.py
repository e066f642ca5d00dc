"""Convert the pretrained Transkun V2 checkpoint (PyPI `transkun==2.0.1`, MIT) into a pianoscribe model bundle.

The bundle is one file: a small JSON header (the model's numbers, read by the Rust code: nothing is copied into
Rust literals) followed by four ONNX graphs:
  * positions: feats (for its shape only) -> pos_conv, pos_grid, pos_pitch, the input-independent position
    embeddings, run once per model load;
  * backbone: feats [1, T, n_mels, n_windows] and the three position embeddings -> ctx [tracks, T8, 256],
    with T8 >= T frames: the upsampling's whole windows (704), of which the decoder reads the first T (691);
  * scorer: one track's ctx [1, T, 256] -> scores [1, T, 513], per frame the interval query q (not yet divided
    by sqrt(256)), key k and diagonal score d side by side. The decoder runs it per track as it decodes, so a
    segment in flight holds its 65 MB of context and not also 130 MB of scores for every track (the backbone's
    heap peak goes from 256 to ~210 MB above the model);
  * heads: ctx_begin, ctx_end [N, 256] -> velocity logits [N, 128], offset/presence logits [N, 4].
The 90x691x691 score tensor is never materialised: the Rust decoder scores intervals from q and k.

Weights are stored compactly (int8 per output channel, or fp16 for the layers whose errors flip decoder
decisions) as standard DequantizeLinear / Cast nodes over constant initializers, and computed in f32.

Usage (from the repository root; tools/convert/run.sh makes its venv and runs it):
  python -m tools.convert.convert --out models/transkun-v2.pscb [--fixtures tests/fixtures]
"""
import argparse
import hashlib
import io
import json
import math
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper, helper, TensorProto

from tools import pscb

OPSET = 17

# int8 weights share one scale per GROUP consecutive input weights of an output channel (0: per channel).
# Groups of 32 cut the weight error about 2.5x against per-channel scales, enough that every layer can be int8
# (15.0 MB) and still keep note-onset parity with the f32 reference (measured on maps-dev by tests/parity.rs).
GROUP = 32
# Module-name prefixes whose weights stay fp16 rather than int8. With per-channel scales the decoder's hard
# decisions needed the upsampling, the score projection and the last encoder layer in fp16 (16.3 MB, and
# still F1 0.9905 against the reference on chpn-p14); with grouped scales none are needed.
FP16_PREFIXES = ()


def load_transkun():
    import moduleconf
    import importlib.resources as res

    pkg = res.files("transkun") / "pretrained"
    conf_manager = moduleconf.parseFromFile(str(pkg / "2.0.conf"))
    TransKun = conf_manager["Model"].module.TransKun
    conf = conf_manager["Model"].config
    ckpt = torch.load(str(pkg / "2.0.pt"), map_location="cpu")
    state = ckpt["best_state_dict"] if "best_state_dict" in ckpt else ckpt["state_dict"]
    model = TransKun(conf=conf)
    model.load_state_dict(state, strict=False)
    model.eval()
    model.backbone.useGradientCheckpoint = False
    ckpt_sha = hashlib.sha256((pkg / "2.0.pt").read_bytes()).hexdigest()
    return model, conf, ckpt_sha


class BackboneNet(torch.nn.Module):
    """transkun's network as the reference runs it: backbone, then the interval scorer's projection."""

    def __init__(self, model):
        super().__init__()
        self.backbone = model.backbone
        self.scorer = model.scorer
        self.register_buffer("pitches", torch.tensor(model.targetMIDIPitch))

    def forward(self, feats):
        ctx = self.backbone(feats, outputIndices=self.pitches)  # [1, P, T, D]
        size = self.scorer.size * self.scorer.expansionFactor
        q, k, d = self.scorer.map(ctx).split([size, size, 1], dim=-1)
        q = q / math.sqrt(q.shape[-1])
        return q[0], k[0], d[0, :, :, 0], ctx[0]


class PositionsNet(torch.nn.Module):
    """transkun's input-independent position embeddings, a graph of their own: the Rust side runs it once when
    it loads the model and passes its outputs to every segment (tract would not fold 8 MB constants at load,
    and computing them per segment costs ~3 % of the network). Its input is the features tensor, for its
    shape only: the token grid follows from it through the backbone's padding and strided convolutions,
    replayed here as max-pools of the same geometry so that no convolution weights are needed."""

    def __init__(self, model):
        super().__init__()
        self.backbone = model.backbone
        self.register_buffer("pitches", torch.tensor(model.targetMIDIPitch))

    def forward(self, feats):
        bb = self.backbone
        grid = feats[..., :1].permute(0, 3, 1, 2)  # [1, 1, T, mels]
        coord_mel = torch.arange(grid.shape[-1], device=feats.device).float()
        for m in bb.downConv:
            if isinstance(m, torch.nn.ConstantPad2d):
                grid = m(grid)
            elif isinstance(m, torch.nn.Conv2d):
                grid = torch.nn.functional.max_pool2d(grid, m.kernel_size, m.stride, m.padding)
        # One more row and column: transkun's time and frequency aggregation tokens.
        coord_t = torch.arange(grid.shape[-2] + 1, device=feats.device).float()
        coord_f = torch.arange(grid.shape[-1] + 1, device=feats.device).float()
        pos_conv = bb.posEmbedBuilder(coord_mel).transpose(-1, -2).unsqueeze(-2)  # [C, 1, mels]
        pos_grid = bb.posEmbedBuilderAttnTF(coord_t, coord_f)  # [T', F', D]
        pos_pitch = bb.posEmbedBuilderAttnTE(coord_t, self.pitches.float())  # [T', P, D]
        return pos_conv, pos_grid, pos_pitch


# Keys of every attention are padded to a multiple of this many tokens (zero keys and values, scores pushed to
# KEY_PAD_SCORE so their softmax weight underflows to 0): rows of 160 and 96 scores instead of 149 and 89 keep
# tract's softmax on its aligned whole-block path (and on wasm its row kernel, which needs multiples of 4).
KEY_ALIGN = 32
KEY_PAD_SCORE = -1e4


def attend(mha, query, kv, axis, freq_major_out=False):
    """transkun's MultiHeadAttentionKernel (kernel=None: softmax(q k^T / sqrt(d)) v per head, keys and values
    from `kv`) between the tokens along `axis` ("F": dim -2, "T": dim -3) of [1, T, F, D] grids, restated for
    tract: einsums over the grid as it lies, so neither the grid nor the heads are transposed around the
    attention, and keys padded to a multiple of KEY_ALIGN. `freq_major_out` returns [1, F, T, D] instead."""
    heads, dim = mha.num_heads, mha.head_dim
    q = (query @ mha.q_proj_weight).unflatten(-1, (heads, dim))  # [1, T, F, H, d]
    k = (kv @ mha.k_proj_weight).unflatten(-1, (heads, dim))
    v = (kv @ mha.v_proj_weight).unflatten(-1, (heads, dim))
    tok = -3 if axis == "F" else -4  # the token axis of [1, T, F, H, d]
    n = k.shape[tok]
    pad = (-n) % KEY_ALIGN
    if pad:
        widths = [0, 0] * 5
        widths[2 * (-tok - 1) + 1] = pad  # F.pad lists (before, after) from the last dim backwards
        k = torch.nn.functional.pad(k, widths)
        v = torch.nn.functional.pad(v, widths)
    if axis == "F":
        scores = torch.einsum("btfhd,btghd->bthfg", q, k)
    else:
        scores = torch.einsum("btfhd,bsfhd->bfhts", q, k)
    scores = scores * (1.0 / math.sqrt(dim))
    if pad:
        scores = scores + torch.cat([torch.zeros(n), torch.full((pad,), KEY_PAD_SCORE)])
    w = scores.softmax(-1)
    if axis == "F":
        out = torch.einsum("bthfg,btghd->" + ("bfthd" if freq_major_out else "btfhd"), w, v)
    else:
        out = torch.einsum("bfhts,bsfhd->" + ("bfthd" if freq_major_out else "btfhd"), w, v)
    return mha.out_proj(out.flatten(-2))


def residual(block, x, *args):
    """transkun's ResBlock: x + module(norm(x), *args) * scale (dropout is off in inference)."""
    return x + block.module(block.norm(x), *args) * block.scale


def residual_attention(block, x, kv, axis):
    return x + attend(block.module, block.norm(x), kv, axis) * block.scale


def encoder_layer(layer, x):
    """transkun's BasicBlock (attention along F, then along T; both take their keys and values from the
    layer's input x, transkun's `mem`, not from the running state) without the two transposes of the grid."""
    h = residual(layer.fnnBlockF, residual_attention(layer.mhaBlockF, x, x, "F"))
    return residual(layer.fnnBlockT, residual_attention(layer.mhaBlockT, h, x, "T"))


def last_layer_pitch_tokens(layer, x, n_f):
    """encoder_layer(layer, x)[:, 1:, n_f:] computed only where the network's output reads it: the pitch tokens
    (columns n_f:) at time steps 1: (row 0 is the time-aggregation token, which the output drops). About a
    third less work: the frequency-bin tokens' queries and feed-forward and their whole time attention feed
    nothing. They are still keys/values of the F attention, and every time step of the pitch columns is a
    key/value of the T attention."""
    xq = x[:, 1:, n_f:, :]  # queries: [1, T'-1, P, D]
    h = residual(layer.fnnBlockF, residual_attention(layer.mhaBlockF, xq, x[:, 1:], "F"))
    # From here on pitch-major, [1, P, T'-1, D], the layout the upsampling reads: transposing this small grid
    # is cheaper than transposing the upsampled one.
    blk = layer.mhaBlockT
    h = h.transpose(1, 2) + attend(blk.module, blk.norm(h), x[:, :, n_f:], "T", freq_major_out=True) * blk.scale
    return residual(layer.fnnBlockT, h)


class ExportBackboneNet(BackboneNet):
    """The same network and weights as BackboneNet, restated so that tract runs less per segment:
      * the position embeddings come in as inputs (PositionsNet's outputs, computed once per model load);
      * the upsampling ConvTranspose1d(k=8, stride=8), whose windows do not overlap, as one matrix product
        into [pitch, time, 8 x D] and a reshape, which leaves out the deconvolution's sum and two transposes;
      * reshapes instead of indexing the batch axis (Gather copies in tract);
      * the encoder layers' attention as einsums over the token grid as it lies, with keys padded for tract's
        softmax (attend), and the last layer only for the tokens the output reads (last_layer_pitch_tokens).
    main() checks its outputs against BackboneNet's before writing the bundle."""

    def __init__(self, model):
        super().__init__(model)
        up = self.backbone.upConv1dSkip  # weight [in, out, k]
        w = up.weight.detach()
        self.register_buffer("up_weight", w.permute(0, 2, 1).reshape(w.shape[0], -1).contiguous())  # [in, k*out]
        self.register_buffer("up_bias", up.bias.detach().repeat(up.kernel_size[0]))  # [k*out]
        self.up_k = up.kernel_size[0]

    def forward(self, feats, pos_conv, pos_grid, pos_pitch):
        bb = self.backbone
        x = feats.permute(0, 3, 1, 2)  # [1, windows, T, mels]
        h = bb.downConv(bb.inputConv(x) + pos_conv)
        h = h.permute(0, 2, 3, 1)  # [1, T', F', D]
        h = torch.nn.functional.pad(h, (0, 0, 1, 0, 1, 0)) + pos_grid
        h_all = torch.cat([h, pos_pitch.unsqueeze(0)], dim=-2)
        for layer in bb.encoderLayers[:-1]:
            h_all = encoder_layer(layer, h_all)
        target = last_layer_pitch_tokens(bb.encoderLayers[-1], h_all, h.shape[-2])[0]  # [P, T'-1, D]
        up = target @ self.up_weight + self.up_bias  # [P, T', k*D]
        return up.reshape(up.shape[0], -1, up.shape[-1] // self.up_k)  # [P, T8, D], T8 = whole windows >= T


class ScorerNet(torch.nn.Module):
    """transkun's interval scorer projection for one track's context rows: [1, T, D] -> [1, T, 2 * size + 1].
    A 3-D input keeps the export a MatMul over the same [D, 513] weight as it was inside the backbone."""

    def __init__(self, model):
        super().__init__()
        self.map = model.scorer.map

    def forward(self, ctx):
        return self.map(ctx)


def split_scores(model, ctx, n_frames, scorer=None):
    """The exported graphs' outputs as transkun's q (divided by sqrt(size)), k, d, ctx over T frames: the
    backbone's ctx, and the scorer run on it track by track (`scorer`: a function of one track's [1, T, D])."""
    size = model.scorer.size * model.scorer.expansionFactor
    ctx = ctx[:, :n_frames]
    scorer = scorer or ScorerNet(model)
    scores = torch.cat([scorer(ctx[p:p + 1]) for p in range(ctx.shape[0])])
    return scores[..., :size] / math.sqrt(size), scores[..., size:2 * size], scores[..., 2 * size], ctx


class HeadsNet(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.velocity = model.velocityPredictor
        self.refined = model.refinedOFPredictor

    def forward(self, ctx_begin, ctx_end):
        attr = torch.cat([ctx_begin, ctx_end, ctx_begin * ctx_end], dim=-1)
        return self.velocity(attr), self.refined(attr)


def write_bundle(path, config, graphs):
    """Writes ONNX graphs ({name: ModelProto}, in file order) and the header `config` as a bundle (tools/pscb:
    the format's one writer, which lists each part's size and CRC-32 in the header), and says so."""
    data = pscb.write(path, config, [(name, m.SerializeToString()) for name, m in graphs.items()])
    print(pscb.summary(path, data))


def export(module, args, names_in, names_out, dynamic_axes=None):
    buf = io.BytesIO()
    torch.onnx.export(module, args, buf, opset_version=OPSET, dynamo=False, input_names=names_in,
                      output_names=names_out, dynamic_axes=dynamic_axes, do_constant_folding=True)
    return onnx.load_from_string(buf.getvalue())


def module_of_node(node_name):
    # "/backbone/encoderLayers.5/fnnBlockT/module/module.0/MatMul" -> "backbone.encoderLayers.5.fnnBlockT..."
    return node_name.strip("/").replace("/", ".")


def drop_identities(model):
    """Rewires consumers of Identity nodes to their inputs. The exporter routes a weight that several modules
    share (the position-embedding MLPs, called once per chunk) through Identity nodes, which would hide from
    compact_weights that the weight feeds a MatMul."""
    graph = model.graph
    alias = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "Identity"}
    outputs = {o.name for o in graph.output}
    keep = [n for n in graph.node if n.op_type != "Identity" or n.output[0] in outputs]
    for node in keep:
        for i, name in enumerate(node.input):
            while name in alias and name not in outputs:
                name = alias[name]
            node.input[i] = name
    del graph.node[:]
    graph.node.extend(keep)


def compact_weights(model, group=GROUP, fp16_prefixes=FP16_PREFIXES, min_size=1024):
    """Replace large f32 weight initializers by int8 or fp16 storage plus dequantizing nodes. int8 weights
    have one scale per output channel and per `group` consecutive input weights (group=0: per channel).
    Returns a summary {kind: bytes}."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers = {}
    for node in graph.node:
        for pos, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node, pos))
    summary = {"int8": 0, "fp16": 0, "f32": 0}
    new_nodes = []
    for name, init in list(inits.items()):
        arr = numpy_helper.to_array(init)
        uses = consumers.get(name, [])
        if arr.dtype != np.float32 or arr.ndim < 2 or arr.size < min_size or not uses:
            summary["f32"] += arr.nbytes
            continue
        node, pos = uses[0]
        scope = module_of_node(node.name)
        # Output-channel axis of the weight for its consumer.
        if node.op_type == "MatMul" and pos == 1:
            axis = arr.ndim - 1
        elif node.op_type == "Gemm" and pos == 1:
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axis = 0 if trans_b else 1
        elif node.op_type == "Conv" and pos == 1:
            axis = 0
        elif node.op_type == "ConvTranspose" and pos == 1:
            axis = 1
        else:
            axis = None  # not a weight of a linear op (e.g. a folded constant): keep it exact in fp16 at most
        graph.initializer.remove(init)
        if axis is None or (fp16_prefixes and scope.startswith(tuple(fp16_prefixes))):
            stored = name + "__f16"
            graph.initializer.append(numpy_helper.from_array(arr.astype(np.float16), stored))
            new_nodes.append(helper.make_node("Cast", [stored], [name], to=TensorProto.FLOAT,
                                              name=name + "__dequant"))
            summary["fp16"] += arr.size * 2
        elif group:
            # [out, rest] with the output channel first, split into groups of `group` weights.
            moved = np.moveaxis(arr, axis, 0)
            flat = moved.reshape(moved.shape[0], -1)
            g = group if flat.shape[1] % group == 0 else flat.shape[1]
            blocks = flat.reshape(flat.shape[0], -1, g)
            scale = np.abs(blocks).max(axis=2, keepdims=True) / 127.0
            scale[scale == 0] = 1.0
            scale = scale.astype(np.float16).astype(np.float32)
            q = np.clip(np.rint(blocks / scale), -127, 127).astype(np.int8)
            stem = name + "__g"
            graph.initializer.append(numpy_helper.from_array(q, stem + "_i8"))
            graph.initializer.append(numpy_helper.from_array(scale.astype(np.float16), stem + "_scale"))
            graph.initializer.append(numpy_helper.from_array(np.array(moved.shape, dtype=np.int64), stem + "_shape"))
            perm = list(range(1, arr.ndim))
            perm.insert(axis, 0)
            new_nodes += [
                helper.make_node("Cast", [stem + "_i8"], [stem + "_f"], to=TensorProto.FLOAT),
                helper.make_node("Cast", [stem + "_scale"], [stem + "_s"], to=TensorProto.FLOAT),
                helper.make_node("Mul", [stem + "_f", stem + "_s"], [stem + "_m"]),
                helper.make_node("Reshape", [stem + "_m", stem + "_shape"], [stem + "_r"]),
                helper.make_node("Transpose", [stem + "_r"], [name], perm=perm, name=name + "__dequant"),
            ]
            summary["int8"] += arr.size + scale.size * 2
        else:
            moved = np.moveaxis(arr, axis, 0).reshape(arr.shape[axis], -1)
            scale = np.abs(moved).max(axis=1) / 127.0
            scale[scale == 0] = 1.0
            scale = scale.astype(np.float32)
            shape = [1] * arr.ndim
            shape[axis] = -1
            q = np.clip(np.rint(arr / scale.reshape(shape)), -127, 127).astype(np.int8)
            graph.initializer.append(numpy_helper.from_array(q, name + "__i8"))
            graph.initializer.append(numpy_helper.from_array(scale, name + "__scale"))
            new_nodes.append(helper.make_node("DequantizeLinear", [name + "__i8", name + "__scale"], [name],
                                              axis=axis, name=name + "__dequant"))
            summary["int8"] += arr.size + scale.nbytes
    # Dequantizing nodes first keeps the graph topologically sorted.
    all_nodes = new_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(all_nodes)
    return summary


def features_reference(model, audio):
    """transkun's own front-end on one segment of mono audio (44.1 kHz): returns feats [T, n_mels, n_windows]."""
    from transkun.Util import makeFrame
    x = torch.from_numpy(audio).float()[None, None, :]  # [batch, channel, samples]
    frames = makeFrame(x, model.hopSize, model.windowSize)
    mean = torch.mean(frames, dim=[1, 2, 3], keepdim=True)
    std = torch.std(frames, dim=[1, 2, 3], keepdim=True)
    frames = (frames - mean) / (std + 1e-8)
    feats = model.framewiseFeatureExtractor(frames).contiguous()
    return feats.view(*feats.shape[-3:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--fixtures", help="folder for the front-end test fixture")
    ap.add_argument("--weights", choices=["compact", "f32"], default="compact",
                    help="compact (int8/fp16 storage, the shipped model) or f32 (for parity experiments)")
    ap.add_argument("--group", type=int, default=GROUP, help="int8 scale group size (0: per output channel)")
    ap.add_argument("--fp16", default=",".join(FP16_PREFIXES), help="comma-separated module prefixes kept in fp16")
    ap.add_argument("--fixture-audio", help="a 44.1 kHz-resampled excerpt source (any audio soundfile reads)")
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    model, conf, ckpt_sha = load_transkun()
    import transkun
    from importlib.metadata import version

    fs = conf.fs
    seg_samples = math.ceil(conf.segmentSizeInSecond * fs)
    n_frames = math.ceil(seg_samples / conf.hopSize) + 1
    n_win = conf.nExtraWins + 1
    feats = torch.randn(1, n_frames, conf.n_mels, n_win) * 0.1 + 0.3

    positions_net, backbone_net = PositionsNet(model), ExportBackboneNet(model)
    pos = positions_net(feats)
    exported = split_scores(model, backbone_net(feats, *pos), n_frames)
    for nm, a, b in zip(["q", "k", "d", "ctx"], BackboneNet(model)(feats), exported):
        err = (a - b).abs().max().item() / (a.abs().max().item() + 1e-12)
        print(f"  {nm}: max rel diff of the export form vs transkun's forward = {err:.2e}")
        assert err < 1e-5, "the export form of the backbone must compute what transkun's does"
    pos_names = ["pos_conv", "pos_grid", "pos_pitch"]
    positions = export(positions_net, (feats,), ["feats"], pos_names)
    backbone = export(backbone_net, (feats, *pos), ["feats", *pos_names], ["ctx"])
    scorer = export(ScorerNet(model), (torch.randn(1, n_frames, 256),), ["ctx"], ["scores"])
    heads = export(HeadsNet(model), (torch.randn(3, 256), torch.randn(3, 256)), ["ctx_begin", "ctx_end"],
                   ["velocity_logits", "refine_logits"],
                   dynamic_axes={"ctx_begin": {0: "n"}, "ctx_end": {0: "n"}, "velocity_logits": {0: "n"},
                                 "refine_logits": {0: "n"}})

    graphs = {"positions": positions, "backbone": backbone, "scorer": scorer, "heads": heads}
    for m in graphs.values():
        drop_identities(m)
    sizes = {name: "f32" for name in graphs}
    if args.weights == "compact":
        fp16 = [p for p in args.fp16.split(",") if p]
        sizes = {name: compact_weights(m, args.group, fp16) for name, m in graphs.items()}
    for m in graphs.values():
        m.producer_name = "pianoscribe-convert"
        m.doc_string = ""
        for n in m.graph.node:
            n.doc_string = ""
        onnx.checker.check_model(m)

    win_gen = model.framewiseFeatureExtractor.spectrogramExtractor.winGen
    config = {
        "family": "transkun-v2",
        "provenance": {
            "package": "transkun==" + version("transkun"),
            "checkpoint": "transkun/pretrained/2.0.pt",
            "checkpoint_sha256": ckpt_sha,
            "licence": "MIT (transkun, Yujia Yan); see models/LICENSE-transkun",
            "converter": "tools/convert/run.sh",
            "torch": torch.__version__,
            "weights": (f"int8 (scale groups of {args.group or 'one output channel'}), fp16 for "
                        + (args.fp16 or "nothing") + "; f32 compute")
            if args.weights == "compact" else "f32",
        },
        "sample_rate": fs,
        "hop": conf.hopSize,
        "window": conf.windowSize,
        "segment_seconds": conf.segmentSizeInSecond,
        "segment_hop_seconds": conf.segmentHopSizeInSecond,
        "frames_per_segment": n_frames,
        "mel": {"f_min": conf.f_min, "f_max": conf.f_max, "n_mels": conf.n_mels, "scale": "htk",
                "norm": None, "log_eps": model.framewiseFeatureExtractor.eps},
        "gain_eps": 1e-8,
        "gaussian_windows": {"center_logits": win_gen.center.tolist(), "sigma_logits": win_gen.sigma.tolist()},
        "tracks": model.targetMIDIPitch,
        "context_size": 256,
        "refine": {"scale": 0.99, "clamp": 0.5},
        "velocities": 128,
    }

    write_bundle(args.out, config, graphs)
    print("weight storage bytes:", json.dumps(sizes))

    # Check the compact model against the f32 PyTorch network on real features.
    import onnxruntime as ort
    ref = BackboneNet(model)(feats)
    sess = ort.InferenceSession(positions.SerializeToString(), providers=["CPUExecutionProvider"])
    pos = dict(zip(pos_names, sess.run(None, {"feats": feats.numpy()})))
    sess = ort.InferenceSession(backbone.SerializeToString(), providers=["CPUExecutionProvider"])
    (ctx,) = sess.run(None, {"feats": feats.numpy(), **pos})
    sess = ort.InferenceSession(scorer.SerializeToString(), providers=["CPUExecutionProvider"])
    run_scorer = lambda c: torch.from_numpy(sess.run(None, {"ctx": c.numpy()})[0])
    got = [t.numpy() for t in split_scores(model, torch.from_numpy(ctx), n_frames, run_scorer)]
    for nm, a, b in zip(["q", "k", "d", "ctx"], ref, got):
        err = np.abs(a.numpy() - b).max() / (np.abs(a.numpy()).max() + 1e-12)
        print(f"  {nm}: max rel err of compact weights vs f32 torch = {err:.4f}")

    if args.fixtures and args.fixture_audio:
        write_fixture(model, conf, args.fixtures, args.fixture_audio)


FIXTURE_FRAMES = [0, 344, 345, 400, 500, 515, 690]


def write_fixture(model, conf, folder, audio_path):
    """Front-end reference values for the Rust tests: transkun's own features for the first segment of a real
    44.1 kHz stereo recording (8 s of leading padding, then the audio), as the transcriber builds it."""
    from scipy.io import wavfile
    from transkun.Util import makeFrame

    rate, pcm = wavfile.read(audio_path)
    assert rate == conf.fs and pcm.dtype == np.int16, "the fixture needs 16-bit audio at the model rate"
    x = torch.from_numpy(pcm.astype(np.float32) / 32768.0).t()  # [channels, samples]
    pad = math.ceil((conf.segmentSizeInSecond - conf.segmentHopSizeInSecond) * conf.fs)
    seg = math.ceil(conf.segmentSizeInSecond * conf.fs)
    x = torch.nn.functional.pad(x, (pad, pad))[:, :seg]
    x = torch.nn.functional.pad(x, (0, seg - x.shape[-1]))
    frames = makeFrame(x.unsqueeze(0), model.hopSize, model.windowSize)
    mean = torch.mean(frames, dim=[1, 2, 3], keepdim=True)
    std = torch.std(frames, dim=[1, 2, 3], keepdim=True)
    frames = (frames - mean) / (std + 1e-8)
    feats = model.framewiseFeatureExtractor(frames)[0, 0]  # [T, mels, windows]
    fixture = {
        "source": os.path.basename(audio_path),
        "what": "transkun MelSpectrum features of the first segment (8 s zeros + audio), stereo",
        "frames": {str(t): feats[t].flatten().tolist() for t in FIXTURE_FRAMES},
        "frame_means": feats.mean(dim=[1, 2]).tolist(),
    }
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "frontend.json"), "w") as f:
        json.dump(fixture, f)
    print("wrote", os.path.join(folder, "frontend.json"))


if __name__ == "__main__":
    main()
