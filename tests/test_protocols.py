"""Protocols produce the numbers the model predicts."""
import csv

import numpy as np
import pytest

from sbp_brian.cli import load_protocol, main, protocol_names


def test_stdp_window_recovers_model_parameters(tmp_path):
    protocol = load_protocol("stdp_window")
    summary = protocol.run(tmp_path, device="numpy", n_pairings=3, max_delay_ms=60, step_ms=10)
    for name in ("A_plus", "tau_plus_ms", "A_minus", "tau_minus_ms"):
        assert summary[f"fitted_{name}"] == pytest.approx(summary[f"model_{name}"], rel=0.01)
    with open(tmp_path / "stdp_window.csv") as handle:
        rows = list(csv.DictReader(handle))
    delays = np.array([float(r["delay_post_minus_pre_ms"]) for r in rows])
    changes = np.array([float(r["dw_per_pairing"]) for r in rows])
    assert np.all(changes[delays > 0] > 0) and np.all(changes[delays < 0] < 0)
    assert (tmp_path / "stdp_window.png").stat().st_size > 0
    assert (tmp_path / "stdp_window.svg").stat().st_size > 0


def test_cli_lists_and_validates_models(capsys, tmp_path):
    assert main(["models"]) == 0
    assert "sbp_digits" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[simulation]\ndt = { value = "-1*ms", source = "x" }\n')
    assert main(["models", str(bad)]) == 2
    assert "'dt' = -1. ms is out of range" in capsys.readouterr().err


def test_cli_unknown_protocol_is_named():
    assert "stdp_window" in protocol_names()
    with pytest.raises(SystemExit, match="unknown protocol 'nope'"):
        main(["protocol", "nope"])
