"""Writes an Onsets & Frames network as a pianoscribe model bundle (tools/pscb's format): one ONNX graph,
`network` (log-mel [1, frames, 229] -> onset, offset, frame probabilities and the velocity head, [1, frames,
88] each), and a header with everything the engine needs: the front-end (frontend.CONFIG), the windows, the
keys, per-key onset and frame thresholds, the velocity mapping, the network's size and the provenance.

  python -m tools.oaf.export --out X.pscb [--checkpoint CKPT | --seed N] [--size 2019|2018|small|tiny]
         [--weights compact|f32] [--segment-seconds 20 --segment-hop-seconds 16]
         [--parity-audio FILE --parity-out DIR --parity-seconds S]

Without --checkpoint the weights are seeded random numbers (network.seeded): such a bundle is for parity tests
and benchmarks of the engine, never a model to ship. --parity-* writes what the reference (PyTorch, this
network, infer.py) computes on an excerpt of real audio, for tests/onsets_frames.rs. Run it from the repository
root (or with the root on PYTHONPATH, as tools/oaf/run.sh and tools/train/run.sh do).
"""
import argparse
import json
import math
import os
import subprocess

import numpy as np
import torch

from tools.convert.convert import compact_weights, drop_identities, export, write_bundle
from tools.oaf import frontend, infer, network

HERE = os.path.dirname(os.path.abspath(__file__))

# Windows of 20 s, 16 s apart: each kept frame has at least 62 frames (2 s) of context on both sides.
SEGMENT_SECONDS = 20.0
SEGMENT_HOP_SECONDS = 16.0


def header_for(size, segment_seconds, segment_hop_seconds, provenance, thresholds=None):
    c = frontend.CONFIG
    segment = math.ceil(segment_seconds * c["sample_rate"])
    return {
        "family": "onsets-frames",
        "sample_rate": c["sample_rate"],
        "hop": c["hop"],
        "window": c["window"],
        "segment_seconds": segment_seconds,
        "segment_hop_seconds": segment_hop_seconds,
        "frames_per_segment": 1 + segment // c["hop"],
        "mel": c["mel"],
        "log": c["log"],
        "keys": {"lowest": network.LOWEST_KEY, "count": network.KEYS},
        "thresholds": thresholds or {"onset": [0.5] * network.KEYS, "frame": [0.5] * network.KEYS},
        "velocity": {"scale": 80.0, "offset": 10.0},
        "network": dict(size=size, **network.SIZES[size]),
        "provenance": provenance,
    }


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def export_network(net, frames, weights):
    mel = torch.zeros(1, frames, frontend.CONFIG["mel"]["n_mels"])
    graph = export(network.Probabilities(net).eval(), (mel,), ["mel"], ["onset", "offset", "frame", "velocity"])
    drop_identities(graph)
    sizes = compact_weights(graph) if weights == "compact" else {"f32": "all"}
    graph.producer_name = "pianoscribe-oaf-export"
    graph.doc_string = ""
    for n in graph.graph.node:
        n.doc_string = ""
    return graph, sizes


def write_parity(net, header, audio_path, seconds, folder):
    import soundfile as sf
    audio, sr = sf.read(audio_path, dtype="float32", always_2d=True)
    assert sr == header["sample_rate"], f"parity audio must be at {header['sample_rate']} Hz (got {sr})"
    audio = audio.mean(axis=1)[: int(seconds * sr)]
    fe = frontend.LogMel()
    # The front-end against librosa on the same audio (one window), so that a test of the engine's front-end
    # against these features is a test against librosa.
    window = audio[: math.ceil(header["segment_seconds"] * sr)]
    ours = fe(torch.from_numpy(window).unsqueeze(0))[0].numpy()
    ref = frontend.librosa_log_mel(window)
    print(f"  front-end vs librosa: max abs diff {np.abs(ours - ref).max():.2e} dB")
    onset, offset, frame, velocity = infer.probabilities(network.Probabilities(net), fe, audio, header)
    notes = infer.decode(onset, frame, velocity, header)
    os.makedirs(folder, exist_ok=True)
    stacked = np.stack([onset, offset, frame, velocity]).astype("<f4")  # [4, frames, 88]
    stacked.tofile(os.path.join(folder, "oaf-parity-probabilities.f32"))
    ref.astype("<f4").tofile(os.path.join(folder, "oaf-parity-librosa.f32"))
    meta = {
        "audio": os.path.basename(audio_path),
        "seconds": seconds,
        "frames": int(onset.shape[0]),
        "librosa_frames": int(ref.shape[0]),
        "outputs": ["onset", "offset", "frame", "velocity"],
        "notes": [[round(a, 6), round(b, 6), p, v] for a, b, p, v in notes],
    }
    with open(os.path.join(folder, "oaf-parity.json"), "w") as f:
        json.dump(meta, f, indent=0)
    print(f"  parity: {onset.shape[0]} frames, {len(notes)} notes on {seconds} s of {os.path.basename(audio_path)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", choices=list(network.SIZES), default="2019")
    ap.add_argument("--checkpoint", help="a checkpoint from tools/train (its 'model' state dict)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights, without --checkpoint")
    ap.add_argument("--weights", choices=["compact", "f32"], default="compact")
    ap.add_argument("--segment-seconds", type=float, default=SEGMENT_SECONDS)
    ap.add_argument("--segment-hop-seconds", type=float, default=SEGMENT_HOP_SECONDS)
    ap.add_argument("--parity-audio")
    ap.add_argument("--parity-out")
    ap.add_argument("--parity-seconds", type=float, default=10.0)
    args = ap.parse_args()
    torch.set_grad_enabled(False)

    extra = {}
    if args.checkpoint:
        ckpt = torch.load(args.checkpoint, map_location="cpu")
        net = network.OnsetsAndFrames(ckpt.get("size", args.size))
        net.load_state_dict(ckpt["model"])
        net.eval()
        provenance = {"weights": "trained", "checkpoint": os.path.basename(args.checkpoint)}
        provenance.update(ckpt.get("provenance", {}))
        extra = ckpt.get("bundle", {})
    else:
        net = network.seeded(args.size, args.seed)
        provenance = {"weights": f"seeded random (seed {args.seed}): for tests and benchmarks, not a model"}
    provenance.update({
        "exporter": "tools/oaf/export.py", "code_commit": git_commit(), "torch": torch.__version__,
        "storage": "int8 (scale groups of 32), f32 compute" if args.weights == "compact" else "f32",
    })
    header = header_for(net.size, args.segment_seconds, args.segment_hop_seconds, provenance,
                        extra.get("thresholds"))
    graph, sizes = export_network(net, header["frames_per_segment"], args.weights)
    write_bundle(args.out, header, {"network": graph})
    print("weight storage bytes:", json.dumps(sizes))
    if args.parity_audio and args.parity_out:
        write_parity(net, header, args.parity_audio, args.parity_seconds, args.parity_out)


if __name__ == "__main__":
    main()
