"""DVS128 Gesture (Amir et al. 2017): event-camera recordings of 11 hand and arm gestures, the
SBP paper's third task.

The data set as IBM distributes it (``DvsGesture.tar.gz``; it cannot be downloaded here):
``userNN_LIGHTING.aedat`` recordings (AEDAT 3.1: polarity events of a 128 x 128 sensor),
each with ``userNN_LIGHTING_labels.csv`` (``class,startTime_usec,endTime_usec``, classes 1-11,
one row per performed gesture), and ``trials_to_train.txt`` / ``trials_to_test.txt`` naming
the recordings of the standard split.  Each labelled row is one gesture.

Preprocessing (the SBP paper: "reduced in size from 128 x 128 pixels to 32 x 32 pixels"; its
released code reads a preprocessed ``DVS_gesture_100.mat`` of 100 frames x 1024 pixels per
gesture whose making is not released):

1. the events of the gesture's time span, both polarities, their pixel coordinates divided
   by 4 (128 -> 32);
2. the span cut into :data:`FRAMES` (100) frames of equal duration; a pixel is 1 in a frame
   where it had an event, else 0 (events are already spikes: no intensity to rescale);
3. as in the released SNN code (``normalizedvs.m``), every frame is a sample of its own with
   the gesture's label: 1024 inputs, 100 samples per gesture (data sets ``dvsgesture`` and
   ``dvsgesture-released``); or the gesture is one sample of its 100 frames in a row
   (``dvsgesture-events``, 102400 values), for a network that shows them in turn as spikes
   (``[input] encoding = "events"``, :mod:`sbp_brian.encoding`) or, as the paper's RBM does,
   reads them all at once.

``normalizedvs.m`` writes frame ``f`` of gesture ``s`` (from 1) to row ``(s - 1) f + f = s f``
instead of ``(s - 1) F + f``: rows collide and about 60 % of them stay all-zero with an
all-zero label, which its argmax readout scores as class 1 (the spec's ambiguity 7).  The
data set ``dvsgesture`` places every frame in its own row; ``dvsgesture-released`` reproduces
the released indexing (an unwritten row: zero inputs and label 0, "hand clap", which the
training here teaches as that class where the code taught no target).

The SNN of the paper sees single frames.  With ``dvsgesture-events`` a layered network (BRP,
GLSNN, BP-STDP) sees the whole gesture: its 100 frames in turn, each pixel spiking at the
start of a frame in which it had an event; the sample's duration is the model file's, 100
frames' worth (the gestures, 3-10 s long, are compressed to it).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .datasets import Dataset, DatasetError

__all__ = ["SENSOR_SIZE", "FRAME_SIZE", "FRAMES", "N_CLASSES", "SPLIT_FILES", "FORMS", "read_aedat",
           "write_aedat", "read_labels", "gesture_frames", "frames_as_samples",
           "load_dvsgesture"]

#: The sensor's and the frames' width and height in pixels
SENSOR_SIZE, FRAME_SIZE = 128, 32
#: Frames per gesture (the released data's 100)
FRAMES = 100
N_CLASSES = 11
SPLIT_FILES = {"train": "trials_to_train.txt", "test": "trials_to_test.txt"}
#: How a gesture becomes samples: each frame one ("frames"; "released": with the released
#: row indexing), or the gesture one, its frames in a row ("events")
FORMS = ("frames", "released", "events")

_HEADER_END = b"#!END-HEADER\r\n"
_PACKET = np.dtype([("type", "<i2"), ("source", "<i2"), ("size", "<i4"), ("ts_offset", "<i4"),
                    ("ts_overflow", "<i4"), ("capacity", "<i4"), ("number", "<i4"),
                    ("valid", "<i4")])
_POLARITY_TYPE = 1
_POLARITY = np.dtype([("data", "<u4"), ("timestamp", "<i4")])


def read_aedat(path: str | os.PathLike) -> dict:
    """The polarity events of an AEDAT 3.1 file: arrays ``x``, ``y`` (pixels), ``p``
    (polarity 0/1) and ``t`` (microseconds), valid events only; packets of other event types
    are skipped.  A missing header end, a truncated packet or a polarity packet of the wrong
    event size raises :class:`DatasetError` naming the file and the byte offset."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DatasetError(f"{path}: cannot read ({err})") from None
    if not raw.startswith(b"#!AER-DAT3"):
        raise DatasetError(f"{path}: not an AEDAT 3 file (it must start with #!AER-DAT3.1)")
    end = raw.find(_HEADER_END)
    if end < 0:
        raise DatasetError(f"{path}: no end of header (#!END-HEADER): truncated or corrupt")
    offset = end + len(_HEADER_END)
    parts = []
    while offset < len(raw):
        if len(raw) - offset < _PACKET.itemsize:
            raise DatasetError(f"{path}: truncated packet header at byte {offset}")
        head = np.frombuffer(raw, _PACKET, 1, offset)[0]
        size = int(head["size"]) * int(head["capacity"])
        body = offset + _PACKET.itemsize
        if size < 0 or body + size > len(raw):
            raise DatasetError(f"{path}: the packet at byte {offset} declares {max(size, 0)} "
                               f"bytes of events, {len(raw) - body} remain: truncated")
        if head["type"] == _POLARITY_TYPE:
            if head["size"] != _POLARITY.itemsize:
                raise DatasetError(f"{path}: polarity packet at byte {offset} has events of "
                                   f"{head['size']} bytes, expected {_POLARITY.itemsize}")
            events = np.frombuffer(raw, _POLARITY, int(head["number"]), body)
            events = events[(events["data"] & 1) == 1]  # the validity mark
            time = events["timestamp"].astype(np.int64) \
                | (np.int64(head["ts_overflow"]) << 31)
            parts.append((events["data"], time))
        offset = body + size
    data = np.concatenate([d for d, _ in parts]) if parts else np.zeros(0, np.uint32)
    time = np.concatenate([t for _, t in parts]) if parts else np.zeros(0, np.int64)
    return {"x": ((data >> 17) & 0x7FFF).astype(np.int64),
            "y": ((data >> 2) & 0x7FFF).astype(np.int64),
            "p": ((data >> 1) & 1).astype(np.int64), "t": time}


def write_aedat(path: str | os.PathLike, x, y, p, t, packet_events: int = 4096) -> None:
    """Write polarity events as an AEDAT 3.1 file (used by tests to make small recordings in
    the real format)."""
    x, y, p, t = (np.asarray(a, dtype=np.int64) for a in (x, y, p, t))
    header = (b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n" + _HEADER_END)
    chunks = [header]
    for start in range(0, len(t), packet_events):
        part = slice(start, start + packet_events)
        events = np.zeros(len(t[part]), _POLARITY)
        events["data"] = (x[part] << 17) | (y[part] << 2) | (p[part] << 1) | 1
        events["timestamp"] = t[part] & 0x7FFFFFFF
        head = np.zeros(1, _PACKET)
        head[0] = (_POLARITY_TYPE, 1, _POLARITY.itemsize, 4, int(t[part][0] >> 31),
                   len(events), len(events), len(events))
        chunks += [head.tobytes(), events.tobytes()]
    Path(path).write_bytes(b"".join(chunks))


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """A recording's gestures, rows of ``(class, start_us, end_us)`` with classes from 0
    (the file's 1-11 less one).  A bad row raises :class:`DatasetError` naming the line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: label file not found (each .aedat recording needs its "
                           "_labels.csv)")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = [f.strip() for f in line.split(",")]
        if not line.strip() or (number == 1 and not fields[0].isdigit()):
            continue  # blank, or the header row
        try:
            label, start, end = (int(f) for f in fields)
        except ValueError:
            raise DatasetError(f"{path}, line {number}: expected class,startTime_usec,"
                               f"endTime_usec, got {line.strip()!r}") from None
        if not 1 <= label <= N_CLASSES or end <= start:
            raise DatasetError(f"{path}, line {number}: class {label} (1-{N_CLASSES}) from "
                               f"{start} to {end} us: out of range or empty")
        rows.append((label - 1, start, end))
    if not rows:
        raise DatasetError(f"{path}: no gestures")
    return np.array(rows, dtype=np.int64)


def gesture_frames(events: dict, start: int, end: int, frames: int = FRAMES) -> np.ndarray:
    """One gesture as ``frames`` x 1024 binary frames (module docstring, steps 1-2)."""
    inside = (events["t"] >= start) & (events["t"] < end)
    scale = SENSOR_SIZE // FRAME_SIZE
    pixel = (events["y"][inside] // scale) * FRAME_SIZE + events["x"][inside] // scale
    frame = (events["t"][inside] - start) * frames // (end - start)
    out = np.zeros((frames, FRAME_SIZE * FRAME_SIZE))
    out[frame, pixel] = 1
    return out


def frames_as_samples(stack: np.ndarray, labels: np.ndarray, released_indexing: bool = False):
    """Gestures (``stack``: gestures x frames x pixels) as one sample per frame (module
    docstring, step 3); ``released_indexing``: the released code's row ``s f`` (from 1)
    instead of ``(s - 1) F + f``, unwritten rows zero with label 0."""
    n, frames, pixels = stack.shape
    if not released_indexing:
        return stack.reshape(n * frames, pixels), np.repeat(labels, frames)
    x, y = np.zeros((n * frames, pixels)), np.zeros(n * frames, dtype=int)
    for s in range(1, n + 1):
        for f in range(1, frames + 1):
            x[s * f - 1], y[s * f - 1] = stack[s - 1, f - 1], labels[s - 1]
    return x, y


def _trials(folder: Path, part: str) -> list:
    path = folder / SPLIT_FILES[part]
    if not path.is_file():
        raise DatasetError(f"dvsgesture: {path} not found; --data-dir must be the DvsGesture "
                           f"folder with {', '.join(SPLIT_FILES.values())}")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise DatasetError(f"{path}: names no recordings")
    return names


def _part(folder: Path, part: str, frames: int):
    stacks, labels = [], []
    for name in _trials(folder, part):
        recording = folder / name
        if not recording.is_file():
            raise DatasetError(f"{recording}: listed in {SPLIT_FILES[part]} but not found")
        gestures = read_labels(folder / re.sub(r"\.aedat$", "_labels.csv", name))
        events = read_aedat(recording)
        stacks += [gesture_frames(events, start, end, frames) for _, start, end in gestures]
        labels.append(gestures[:, 0])
    return np.stack(stacks), np.concatenate(labels)


def load_dvsgesture(folder: str | os.PathLike, form: str = "frames",
                    frames: int = FRAMES) -> Dataset:
    """DVS128 Gesture from the DvsGesture folder in one of the :data:`FORMS` (module
    docstring)."""
    if form not in FORMS:
        raise DatasetError(f"dvsgesture: unknown form {form!r}; expected one of "
                           f"{', '.join(FORMS)}")
    folder = Path(folder)
    parts = {}
    for part in ("train", "test"):
        stack, labels = _part(folder, part, frames)
        parts[part] = ((stack.reshape(len(stack), -1), labels) if form == "events" else
                       frames_as_samples(stack, labels, released_indexing=form == "released"))
    name = "dvsgesture" if form == "frames" else f"dvsgesture-{form}"
    return Dataset(name, *parts["train"], *parts["test"], N_CLASSES, (FRAME_SIZE, FRAME_SIZE))
