"""Onsets & Frames: the reference network, its front-end and inference (for parity tests and training), and
the exporter that writes a network as a bundle (tools/oaf/run.sh)."""
