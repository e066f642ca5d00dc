"""The Onsets & Frames training pipeline: prepare, train, plot (tools/train/run.sh; the whole chain in
pipeline.sh), and its unit tests."""
