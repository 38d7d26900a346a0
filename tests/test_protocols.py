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


def read_csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_stp_amplitudes_follow_recursion(tmp_path):
    summary = load_protocol("stp_train").run(tmp_path, n_spikes=5)
    assert summary["max_relative_error"] < 0.01
    rows = read_csv(tmp_path / "stp_train.csv")
    for synapse, trend in (("depressing", -1), ("facilitating", +1)):
        train = [float(r["epsc_pA"]) for r in rows
                 if r["synapse"] == synapse and r["frequency_hz"] == "50"][:5]
        assert all(x > 0 for x in train)
        assert np.all(np.sign(np.diff(train[:3])) == trend)
        epsp = [float(r["epsp_mV"]) for r in rows if r["synapse"] == synapse]
        assert all(x > 0 for x in epsp)


def test_sbp_motif_sign_scaling_and_reach(tmp_path):
    summary = load_protocol("sbp_motif").run(tmp_path, n_pairings=6, delays_ms=(-10, 10),
                                             n_inputs=10)
    assert summary["spikes_j"] == [6, 6] and summary["spikes_k"] == [6, 6]
    rows = read_csv(tmp_path / "sbp_motif.csv")
    for row in rows:
        delay, induced = float(row["delay_ms"]), float(row["induced_dw_jk"])
        assert np.sign(induced) == np.sign(delay)   # STDP at j->k: LTP for j before k
        propagated = float(row["propagated_dw_ij_sum"])
        assert np.sign(propagated) == np.sign(induced)
        if row["mode"] != "paper":
            assert int(row["inputs_reached"]) == int(np.ceil(float(row["p"]) * 10 - 1e-9))
    for mode in ("paper", "spread", "weighted"):
        by_f = {float(r["f"]): float(r["propagated_dw_ij_sum"]) for r in rows
                if r["mode"] == mode and r["delay_ms"] == "10" and r["p"] == "0.3"}
        assert by_f[1.0] == pytest.approx(10 * by_f[0.1], rel=1e-9)


def test_fi_curve_matches_closed_form(tmp_path):
    from brian2 import ms, second
    summary = load_protocol("fi_curve").run(tmp_path, n_currents=7, duration=1 * second,
                                            dt=0.02 * ms)
    for error in summary["max_relative_error"].values():
        assert error < 0.01


def test_network_response_writes_activity(tmp_path):
    summary = load_protocol("network_response").run(tmp_path)
    assert summary["input_spikes"] > 100 and summary["hidden_spikes"] > 10
    data = np.load(tmp_path / "network_response.npz")
    assert data["output_v_mV"].shape[0] == 10


def test_bpstdp_response_records_a_trained_network(tmp_path):
    """BP-STDP's Fig. 8 protocol on a small budget: the network learned above chance, every
    recorded spike lies in its layer and in the sample, the bias neuron fires its regular
    250 Hz train (12 spikes in 48 ms), and the output potentials, sampled after each step's
    reset, never stand above the threshold."""
    summary = load_protocol("bpstdp_response").run(tmp_path, epochs=1, train_samples=300)
    assert summary["test_accuracy_after_training"] > 0.3
    data = np.load(tmp_path / "bpstdp_response.npz")
    sizes = data["sizes"]
    for layer, n in (("input", sizes[0]), ("hidden", sizes[1]), ("output", sizes[-1])):
        assert len(data[f"{layer}_i"]) > 0
        assert 0 <= data[f"{layer}_i"].min() and data[f"{layer}_i"].max() < n
        assert 0 <= data[f"{layer}_t_ms"].min() and data[f"{layer}_t_ms"].max() < 48
    assert np.sum(data["input_i"] == sizes[0] - 1) == 12
    assert data["output_v_mV"].shape == (sizes[-1], 48)
    assert data["output_v_mV"].max() <= data["theta_output_mV"]
    assert sum(summary["output_spike_counts"]) == len(data["output_i"])
    assert (tmp_path / "bpstdp_response.png").stat().st_size > 1000


def test_figures_command_writes_index(tmp_path):
    assert main(["figures", "--out", str(tmp_path), "--only", "stp_train"]) == 0
    index = (tmp_path / "README.md").read_text()
    assert "## stp_train" in index and "stp_train/stp_train.png" in index
    assert (tmp_path / "stp_train" / "summary.json").exists()
