"""Runnable plasticity protocols, installed as ``sbp_brian.protocols``.

Each module defines ``run(out_dir, device="numpy", **options) -> dict`` that simulates the
protocol, writes its numbers (CSV) and figures (PNG, SVG) into ``out_dir`` and returns a
summary; ``sbp-brian protocol NAME`` calls it.
"""
