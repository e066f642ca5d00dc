"""Reads a metrical model's weights back from its bundle (the ONNX that tools/meter/export.py writes) into a
checkpoint that the other tools take (`export --checkpoint` with new runs, as an ensemble, or for a look with
torch): a shipped model keeps no .pt of its own.

  python -m tools.meter.recover --bundle models/meter.pscb --out RUN/shipped.pt [--fixture FIXTURE.json]

The graph holds every weight: the convolutions' and the heads' biases by their torch names, each GRU as an ONNX
GRU operator (W, R and B with the gates in the order z, r, h, where torch keeps r, z, n) and the heads' weights
as MatMul constants, in the order the network computes them (beat, downbeat, inter-beat interval). With
--fixture (the parity fixture the exporter wrote for this bundle), nothing is written unless the recovered
network computes the fixture's outputs within 1e-5.
"""
import argparse
import json
import os

import numpy as np
import torch

from tools.meter import export, network
from tools.pscb import bundle

TOLERANCE = 1e-5


def torch_gates(w, hidden):
    """ONNX's gate order (z, r, h) along the first axis to torch's (r, z, n)."""
    return np.concatenate([w[hidden:2 * hidden], w[:hidden], w[2 * hidden:]], 0)


def state_dict(graph, config):
    """The network's state dict from its exported ONNX model (one network, not an ensemble)."""
    from onnx import numpy_helper
    init = {i.name: numpy_helper.to_array(i) for i in graph.graph.initializer}
    grus = [n for n in graph.graph.node if n.op_type == "GRU"]
    heads = [n for n in graph.graph.node if n.op_type == "MatMul" and n.input[1] in init]
    if len(grus) != config["layers"] + 1 or len(heads) != 3:
        raise SystemExit(f"error: {len(grus)} GRUs and {len(heads)} heads where one network of {config} has "
                         f"{config['layers'] + 1} and 3 (an ensemble cannot be read back)")
    out = {}
    layers = [("gru", k, config["hidden"]) for k in range(config["layers"])] + [("down_gru", 0, config["down_hidden"])]
    for node, (name, k, hidden) in zip(grus, layers):
        w, r, b = (init[node.input[i]] for i in (1, 2, 3))
        for d, suffix in enumerate(("", "_reverse")):
            out[f"{name}.weight_ih_l{k}{suffix}"] = torch_gates(w[d], hidden)
            out[f"{name}.weight_hh_l{k}{suffix}"] = torch_gates(r[d], hidden)
            out[f"{name}.bias_ih_l{k}{suffix}"] = torch_gates(b[d][:3 * hidden], hidden)
            out[f"{name}.bias_hh_l{k}{suffix}"] = torch_gates(b[d][3 * hidden:], hidden)
    for node, name in zip(heads, ("beat", "down", "ibi")):
        out[f"{name}.weight"] = init[node.input[1]].T
    for name in ("conv.0.weight", "conv.0.bias", "conv.3.weight", "conv.3.bias", "beat.bias", "down.bias",
                 "ibi.bias"):
        found = [v for k, v in init.items() if k.endswith("." + name)]
        if len(found) != 1:
            raise SystemExit(f"error: the graph holds {len(found)} initializers named *.{name}, not one")
        out[name] = found[0]
    return {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in out.items()}


def recover(path):
    """(network, provenance) of a bundle written by tools/meter/export.py."""
    import onnx
    header, parts = bundle.read(path)
    provenance = dict(header.get("provenance", {}))
    if header.get("family") != "meter" or "config" not in provenance:
        raise SystemExit(f"error: {path} is not one metrical network (family {header.get('family')!r})")
    # What the bundle's stamp says it scored belongs to that bundle: an export of these weights is measured anew.
    for key in ("asap_dev", "validation_in_the_score_stage"):
        provenance.pop(key, None)
    provenance["recovered_from"] = os.path.basename(path)
    # The exporter leaves the bar-length and period-bin heads out: the network read back has none.
    config = {**provenance["config"], "bar_classes": 0, "period_bins": 0}
    net = network.MeterNet(**config)
    net.load_state_dict(state_dict(onnx.load_from_string(dict(parts)["meter"]), config))
    return net.eval(), provenance


def fixture_error(net, path):
    """The largest difference between the network's outputs and a parity fixture's."""
    with open(path) as f:
        fx = json.load(f)
    with torch.no_grad():
        got = export.Exported(net).eval()(torch.tensor(fx["features"], dtype=torch.float32))
    return max(float(np.abs(g.numpy() - np.asarray(fx[k])).max())
               for g, k in zip(got, ("beat", "downbeat", "beat_seconds")))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fixture", help="the bundle's parity fixture: the recovered network must compute it")
    args = ap.parse_args(argv)
    try:
        net, provenance = recover(args.bundle)
    except bundle.BundleError as e:
        raise SystemExit(f"error: {e}") from None
    if args.fixture:
        err = fixture_error(net, args.fixture)
        if err > TOLERANCE:
            raise SystemExit(f"error: the recovered network is {err:.2e} from {args.fixture} (tolerance "
                             f"{TOLERANCE}): is it this bundle's fixture?")
        print(f"the recovered network computes {args.fixture} within {err:.1e}")
    torch.save({"model": net.state_dict(), "config": net.config, "provenance": provenance}, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
