"""Times the Python reference (transkun 2.0.1, PyTorch CPU) on one file:
python reference.py FILE THREADS OUT.mid [SEGMENT_HOP_SECONDS]"""
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[2]))
t0 = time.perf_counter()
import importlib.resources as res  # noqa: E402
import moduleconf  # noqa: E402
import soundfile  # noqa: E402
from transkun.Data import writeMidi  # noqa: E402

pkg = res.files("transkun") / "pretrained"
conf = moduleconf.parseFromFile(str(pkg / "2.0.conf"))["Model"]
model = conf.module.TransKun(conf=conf.config)
model.load_state_dict(torch.load(str(pkg / "2.0.pt"), map_location="cpu")["state_dict"], strict=False)
model.eval()
torch.set_grad_enabled(False)
audio, fs = soundfile.read(sys.argv[1], dtype="float32", always_2d=True)
if fs != model.fs:
    import soxr
    audio = soxr.resample(audio, fs, model.fs)
hop = float(sys.argv[4]) if len(sys.argv) > 4 else None
notes = model.transcribe(torch.from_numpy(audio), stepInSecond=hop, segmentSizeInSecond=model.segmentSizeInSecond if hop else None)
writeMidi(notes).write(sys.argv[3])
print(f"{time.perf_counter() - t0:.2f}")
