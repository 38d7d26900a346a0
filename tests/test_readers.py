"""The NETtalk and DVS128 Gesture readers on files written in the real formats, their errors on
malformed files, scoring by target codes, and training end to end on both."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from data_files import SOUNDS, write_dvsgesture, write_nettalk
from shrunk_models import shrunk_model
from sbp_brian.cli import main
from sbp_brian.datasets import DatasetError, load_dataset
from sbp_brian.dvsgesture import (frames_as_samples, gesture_frames, read_aedat, read_labels,
                                  write_aedat)
from sbp_brian.nettalk import (FEATURES, LETTERS, PHONEME_FEATURES, STRESS_SYMBOLS,
                               letter_windows, load_nettalk, read_corpus)
from sbp_brian.train import ChunkResult, cosine_scores, nearest_codes


# -- NETtalk ------------------------------------------------------------------------------

def test_letter_windows_are_seven_one_hot_letters_centred_on_each_letter():
    rows = letter_windows("cat").reshape(3, 7, 27)
    assert rows.sum(axis=2).tolist() == [[1] * 7] * 3
    decoded = ["".join(LETTERS[k] for k in row.argmax(axis=1)) for row in rows]
    assert decoded == ["___cat_", "__cat__", "_cat___"]


def test_nettalk_samples_targets_and_split(tmp_path):
    write_nettalk(tmp_path)
    data = load_dataset("nettalk", tmp_path)
    assert data.n_inputs == 189 and data.n_outputs == 26
    assert len(data.y_train) == 5033 and len(data.y_test) == 500  # letters
    # the test part starts at a word's first letter: three outside symbols on its left
    assert data.x_test[0].reshape(7, 27)[:3, -1].tolist() == [1, 1, 1]
    assert np.all(data.x_train.sum(axis=1) == 7) and set(np.unique(data.x_train)) == {0, 1}
    words = read_corpus(tmp_path / "nettalk.data")
    assert len(words) == 2000
    # every class is a (phoneme, stress) pair; its code its features and its stress symbol
    pairs = sorted({(p, s) for _, phones, stress in words for p, s in zip(phones, stress)})
    assert data.n_classes == len(pairs)
    for (phone, stress), code in zip(pairs, data.codes):
        on = {FEATURES[k] for k in np.flatnonzero(code[:21])}
        assert on == set(PHONEME_FEATURES[phone])
        assert STRESS_SYMBOLS[int(np.flatnonzero(code[21:])[0])] == stress
    # the teaching rows are the label's code
    assert np.array_equal(data.teaching(data.y_train[:5]), data.codes[data.y_train[:5]])
    # the split does not depend on anything but the file: the same twice
    again = load_dataset("nettalk", tmp_path)
    assert np.array_equal(again.y_test, data.y_test)


def test_nettalk_word_letters_line_up_with_their_targets(tmp_path):
    """The centre letter of each window carries the phoneme of that letter."""
    write_nettalk(tmp_path, n_words=20)
    data = load_nettalk(tmp_path, train_samples=40, test_samples=10)
    words = read_corpus(tmp_path / "nettalk.data")
    pairs = sorted({(p, s) for _, phones, stress in words for p, s in zip(phones, stress)})
    centre = data.x_train.reshape(-1, 7, 27)[:, 3].argmax(axis=1)
    for letter, label in zip(centre, data.y_train):
        phone, stress = pairs[label]
        assert phone == SOUNDS[LETTERS[letter]] or (LETTERS[letter], phone) == ("e", "-")


@pytest.mark.parametrize("line, message", [
    ("abc\txb\t>1<\t0", r"line 8: 'abc' has 3 letters but 2 phonemes"),
    ("abc\txb@\t>1\t0", r"line 8: 'abc' has 3 letters but 3 phonemes .* and 2 stress"),
    ("abc\tx%b\t>1<\t0", r"line 8: unknown phoneme\(s\) %"),
    ("abc\txb@\t>9<\t0", r"line 8: unknown stress symbol\(s\) 9"),
    ("a-c\txb@\t>1<\t0", r"line 8: unknown letter\(s\) -"),
    ("abc xb@", r"line 8: expected a word, its phonemes, its stresses and a number"),
])
def test_malformed_nettalk_line_is_named(tmp_path, line, message):
    path = write_nettalk(tmp_path, n_words=1, lines=[line])
    with pytest.raises(DatasetError, match=message) as err:
        read_corpus(path)
    assert str(path) in str(err.value)


def test_nettalk_missing_or_short_corpus_and_user_feature_table(tmp_path):
    with pytest.raises(DatasetError, match="nettalk.data not found"):
        load_dataset("nettalk", tmp_path)
    with pytest.raises(DatasetError, match="cannot be downloaded here"):
        load_dataset("nettalk")
    write_nettalk(tmp_path, n_words=30)
    with pytest.raises(DatasetError, match=r"30 words of \d+ letters, too few for 5033 "
                                           "training and 500 test letters"):
        load_dataset("nettalk", tmp_path)
    table = tmp_path / "nettalk.features"
    table.write_text("# a table of my own\n" + "\n".join(
        f"{p} {' '.join(f)}" for p, f in PHONEME_FEATURES.items() if p != "b") + "\n")
    with pytest.raises(DatasetError, match=r"unknown phoneme\(s\) b"):
        load_nettalk(tmp_path, train_samples=60, test_samples=20)
    table.write_text(table.read_text() + "b voiced labial stop nasal\n")
    data = load_nettalk(tmp_path, train_samples=60, test_samples=20)
    b_codes = [code for code in data.codes if code[FEATURES.index("nasal")]
               and code[FEATURES.index("stop")]]
    assert b_codes  # the user's b, a nasal stop
    table.write_text("b voiced labial popping\n")
    with pytest.raises(DatasetError, match=r"nettalk.features, line 1: phoneme 'b' needs"):
        load_nettalk(tmp_path, train_samples=60, test_samples=20)


def test_cosine_scores_and_nearest_codes():
    codes = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 0, 0]], dtype=float)
    outputs = np.array([[2, 0, 2, 0], [0, 0, 0, 0], [1, 1, 0, 0.5], [0, 3, 0, 0]], dtype=float)
    labels = np.array([0, 1, 2, 1])
    scores = cosine_scores(outputs, codes[labels])
    assert scores[0] == pytest.approx(1) and scores[1] == 0  # silent: wrong, not NaN
    assert scores[2] == pytest.approx(2 / (1.5 * np.sqrt(2)))
    assert scores[3] == pytest.approx(1 / np.sqrt(2))
    assert nearest_codes(outputs, codes).tolist() == [0, -1, 2, 1]
    result = ChunkResult(outputs, 0.0)
    assert result.accuracy(labels, codes) == pytest.approx(scores.mean())


def test_validation_split_with_codes_keeps_single_sample_classes_in_training(tmp_path):
    write_nettalk(tmp_path, n_words=40)
    data = load_nettalk(tmp_path, train_samples=90, test_samples=30)
    counts = np.bincount(data.y_train, minlength=data.n_classes)
    split = data.validation_split(0.2)
    single = np.flatnonzero(counts == 1)
    assert len(single) and np.all(np.isin(single, split.y_train))
    assert not np.any(np.isin(single, split.y_test))


# -- DVS128 Gesture -----------------------------------------------------------------------

def test_aedat_round_trip_with_timestamp_overflow(tmp_path):
    rng = np.random.default_rng(1)
    t = np.sort(rng.integers(0, 2 ** 33, 500))
    x, y, p = rng.integers(0, 128, 500), rng.integers(0, 128, 500), rng.integers(0, 2, 500)
    # one overflow epoch per packet, as the camera writes them
    epochs = t >> 31
    path = tmp_path / "r.aedat"
    chunks = [(x[epochs == e], y[epochs == e], p[epochs == e], t[epochs == e])
              for e in np.unique(epochs)]
    parts = [tmp_path / f"part{k}.aedat" for k in range(len(chunks))]
    for part, chunk in zip(parts, chunks):
        write_aedat(part, *chunk, packet_events=64)
    header_end = b"#!END-HEADER\r\n"
    body = b"".join(part.read_bytes().split(header_end, 1)[1] for part in parts)
    path.write_bytes(parts[0].read_bytes().split(header_end, 1)[0] + header_end + body)
    events = read_aedat(path)
    for key, value in zip("xypt", (x, y, p, t)):
        assert np.array_equal(events[key], value), key


def test_truncated_or_foreign_aedat_is_named(tmp_path):
    path = tmp_path / "user01_led.aedat"
    write_aedat(path, [1, 2], [3, 4], [0, 1], [10, 20])
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DatasetError, match=r"user01_led.aedat: the packet at byte \d+ declares "
                                           r"16 bytes of events, 11 remain: truncated"):
        read_aedat(path)
    path.write_bytes(b"#!AER-DAT3.1\r\n#Format: RAW\r\n")
    with pytest.raises(DatasetError, match="no end of header"):
        read_aedat(path)
    path.write_bytes(b"not a recording")
    with pytest.raises(DatasetError, match="not an AEDAT 3 file"):
        read_aedat(path)


def test_gesture_frames_downsample_and_bin_in_time():
    events = {"x": np.array([0, 5, 127, 9]), "y": np.array([0, 6, 127, 9]),
              "p": np.array([1, 0, 1, 1]), "t": np.array([100, 149, 199, 250])}
    frames = gesture_frames(events, 100, 200, frames=2)  # the event at 250 lies outside
    assert frames.shape == (2, 1024)
    assert np.flatnonzero(frames[0]).tolist() == [0, 1 * 32 + 1]  # (0,0); (5,6) -> (1,1)
    assert np.flatnonzero(frames[1]).tolist() == [31 * 32 + 31]


def test_released_indexing_reproduces_normalizedvs():
    """normalizedvs.m writes frame f of gesture s (from 1) to row s f: with 2 gestures of 3
    frames, rows 1-3 from gesture 1, then 2, 4, 6 from gesture 2; row 5 never written."""
    stack = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2) + 1
    x, y = frames_as_samples(stack, np.array([4, 7]), released_indexing=True)
    assert x[:, 0].tolist() == [1, 7, 5, 9, 0, 11]
    assert y.tolist() == [4, 7, 4, 7, 0, 7]
    x, y = frames_as_samples(stack, np.array([4, 7]))
    assert x[:, 0].tolist() == [1, 3, 5, 7, 9, 11] and y.tolist() == [4, 4, 4, 7, 7, 7]


def test_dvsgesture_folder_reads_the_standard_split(tmp_path):
    write_dvsgesture(tmp_path, gestures=4)
    data = load_dataset("dvsgesture", tmp_path)
    assert data.x_train.shape == (2 * 4 * 100, 1024) and data.x_test.shape == (4 * 100, 1024)
    assert np.bincount(data.y_train).tolist() == [200, 200, 200, 200]
    # a class's events fall in its band of rows: frames tell the classes apart
    rows = data.x_train.reshape(-1, 32, 32).sum(axis=2)
    assert np.all(rows[data.y_train == 1][:, :2].sum(axis=1) == 0)
    released = load_dataset("dvsgesture-released", tmp_path)
    assert released.x_train.shape == data.x_train.shape
    assert 0 < np.mean(~released.x_train.any(axis=1)) < 1
    events = load_dataset("dvsgesture-events", tmp_path)  # a gesture a sample, frames in a row
    assert events.x_train.shape == (2 * 4, 100 * 1024)
    np.testing.assert_array_equal(events.x_train.reshape(-1, 1024), data.x_train)
    np.testing.assert_array_equal(np.repeat(events.y_train, 100), data.y_train)


def test_dvsgesture_missing_files_are_named(tmp_path):
    with pytest.raises(DatasetError, match="trials_to_train.txt not found"):
        load_dataset("dvsgesture", tmp_path)
    write_dvsgesture(tmp_path)
    (tmp_path / "user02_led_labels.csv").unlink()
    with pytest.raises(DatasetError, match="user02_led_labels.csv: label file not found"):
        load_dataset("dvsgesture", tmp_path)
    write_dvsgesture(tmp_path)
    (tmp_path / "user02_led_labels.csv").write_text("class,startTime_usec,endTime_usec\n"
                                                     "3,100,200\n12,300,400\n")
    with pytest.raises(DatasetError, match=r"user02_led_labels.csv, line 3: class 12"):
        read_labels(tmp_path / "user02_led_labels.csv")
    (tmp_path / "user24_natural.aedat").unlink()
    write_dvsgesture(tmp_path / "other")
    (tmp_path / "other" / "user24_natural.aedat").unlink()
    with pytest.raises(DatasetError, match="user24_natural.aedat: listed in trials_to_test.txt "
                                           "but not found"):
        load_dataset("dvsgesture", tmp_path / "other")


# -- training end to end ------------------------------------------------------------------

def last_record(run) -> dict:
    return json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])


def test_training_end_to_end_on_nettalk_and_dvsgesture(tmp_path):
    """sbp_nettalk with and without SBP and BRP on a NETtalk corpus file, sbp_dvsgesture
    (frames as samples) and brp_dvsgesture (a gesture's frames as spikes) on a DvsGesture
    folder: each trains, scores, logs and plots; a bad corpus writes nothing."""
    corpus, gestures = tmp_path / "nettalk", tmp_path / "dvs"
    write_nettalk(corpus)
    write_dvsgesture(gestures, gestures=2)
    common = ["--device", "numpy", "--samples", "20", "--test-samples", "10", "--epochs", "1"]
    runs = {
        "sbp": ["train", shrunk_model(tmp_path, "sbp_nettalk", 12, "20*ms"), "--dataset",
                "nettalk"],
        "no_sbp": ["train", shrunk_model(tmp_path, "sbp_nettalk", 12, "20*ms"), "--dataset",
                   "nettalk", "--no-sbp"],
        "brp": ["train", shrunk_model(tmp_path, "brp_nettalk", 12), "--dataset", "nettalk"],
    }
    for name, argv in runs.items():
        assert main(argv + ["--data-dir", str(corpus), "--out", str(tmp_path / name)]
                    + common) == 0, name
        record = last_record(tmp_path / name)
        assert 0 <= record["test_accuracy"] <= 1 and 0 <= record["train_accuracy"] <= 1
        assert "test_accuracy_nearest_code" in record
    assert main(["plot", str(tmp_path / "sbp"), "--out", str(tmp_path / "curve.png")]) == 0
    assert (tmp_path / "curve.png").stat().st_size > 0
    dvs = ["train", shrunk_model(tmp_path, "sbp_dvsgesture", 12, "20*ms"), "--dataset",
           "dvsgesture", "--data-dir", str(gestures), "--out", str(tmp_path / "dvs_run")] + common
    assert main(dvs) == 0
    assert "test_accuracy_nearest_code" not in last_record(tmp_path / "dvs_run")
    events = ["train", shrunk_model(tmp_path, "brp_dvsgesture", 12), "--dataset",
              "dvsgesture-events", "--data-dir", str(gestures), "--out",
              str(tmp_path / "dvs_events"), "--device", "numpy", "--epochs", "1"]
    assert main(events) == 0
    assert last_record(tmp_path / "dvs_events")["hidden_spikes_per_neuron_per_sample"] > 0
    (corpus / "nettalk.data").write_text((corpus / "nettalk.data").read_text()
                                         + "abc\txb\t>1<\t0\n")
    assert main(runs["sbp"] + ["--data-dir", str(corpus), "--out", str(tmp_path / "bad")]
                + common) == 2
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("model", ["sbp_released_digits", "sbp_rbm_digits", "sbp_mlp_digits",
                                   "glsnn_digits", "bpstdp_digits"])
def test_every_rule_takes_nettalk_codes_as_targets(tmp_path, model):
    """The other network kinds and rules, resized to NETtalk's 189-H-26, train on its
    multi-hot codes and score by cosine."""
    write_nettalk(tmp_path / "nettalk")
    text = Path(shrunk_model(tmp_path, model, 12, "20*ms" if "sbp_" not in model else None))
    resized = re.sub(r"(?m)^output = \{ value = 10", "output = { value = 26",
                     re.sub(r"(?m)^input = \{ value = 64", "input = { value = 189",
                            text.read_text()))
    text.write_text(resized)
    assert main(["train", str(text), "--dataset", "nettalk", "--data-dir",
                 str(tmp_path / "nettalk"), "--device", "numpy", "--samples", "20",
                 "--test-samples", "10", "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    record = last_record(tmp_path / "run")
    assert 0 <= record["test_accuracy"] <= 1 and "test_accuracy_nearest_code" in record


@pytest.mark.parametrize("model, dataset", [
    ("sbp_released_nettalk", "nettalk"), ("sbp_rbm_nettalk", "nettalk"),
    ("sbp_mlp_nettalk", "nettalk"), ("sbp_released_dvsgesture", "dvsgesture-released"),
    ("sbp_rbm_dvsgesture", "dvsgesture-events"), ("sbp_mlp_dvsgesture", "dvsgesture-events")])
def test_the_papers_released_files_for_its_other_tasks_train(tmp_path, model, dataset):
    """The released SNN algorithm's, RBM's and spiking MLP's NETtalk and DVS Gesture
    settings (the MLP's DVS input: every fifth frame of a gesture, one per step) train end to
    end, shrunk."""
    if dataset == "nettalk":
        write_nettalk(tmp_path / "data")
    else:
        write_dvsgesture(tmp_path / "data", gestures=5)
    assert main(["train", shrunk_model(tmp_path, model, 12), "--dataset", dataset, "--data-dir",
                 str(tmp_path / "data"), "--samples", "20", "--test-samples", "10",
                 "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    assert 0 <= last_record(tmp_path / "run")["test_accuracy"] <= 1


def test_mlp_input_forms():
    from sbp_brian.rules.sbp_mlp import input_spikes
    rng = np.random.default_rng(0)
    batch = np.arange(2 * 6 * 3).reshape(2, 18) % 2  # 2 samples of 6 frames of 3 inputs
    frames = input_spikes(batch, 3, rng, "frames", frames=6, frame_stride=2)
    assert frames.shape == (3, 2, 3)
    for t in range(3):  # step t shows frame 2 t
        np.testing.assert_array_equal(frames[t], batch.reshape(2, 6, 3)[:, 2 * t])
    np.testing.assert_array_equal(input_spikes(batch, 4, rng, "direct"), [batch] * 4)
    drawn = input_spikes(np.full((1, 1000), 0.3), 20, rng)
    assert abs(drawn.mean() - 0.3) < 0.01
