"""Small NETtalk and DVS128 Gesture data sets in the real file formats, for the readers' and
the training tests (the real data cannot be downloaded here)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sbp_brian.dvsgesture import SPLIT_FILES, write_aedat
from sbp_brian.nettalk import CORPUS_FILE

HEADER = ("\n                Copyright (C) 1988 by Terrence J. Sejnowski\n\n"
          "Permission is hereby given to use the included data for non-commercial\n"
          "research purposes.\n\n")
#: each letter's phoneme in the made-up language (NETtalk's symbols; j and q have none of
#: their own)
SOUNDS = {**{c: c for c in "abcdefghiklmnoprstuvwxyz"}, "j": "J", "q": "k"}
VOWELS = set("aeiou")


def pronounce(word: str) -> tuple[str, str]:
    """A made-up but learnable pronunciation: each letter its sound, a final "e" silent; the
    first vowel stressed (1), the other vowels unstressed (0), consonants syllable edges
    (< before a vowel, > after one)."""
    phones = "".join("-" if (c == "e" and k == len(word) - 1) else SOUNDS[c]
                     for k, c in enumerate(word))
    stress, stressed = [], False
    for k, c in enumerate(word):
        if c in VOWELS:
            stress.append("0" if stressed else "1")
            stressed = True
        else:
            stress.append(">" if k and word[k - 1] in VOWELS else "<")
    return phones, "".join(stress)


def write_nettalk(folder, n_words: int = 2000, seed: int = 0,
                  lines: list | None = None) -> Path:
    """``folder/nettalk.data``: a header, then ``n_words`` made-up words (2-5 letters) as
    ``word<TAB>phonemes<TAB>stresses<TAB>0`` lines, and the extra ``lines`` after them."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    body = []
    for _ in range(n_words):
        word = "".join(rng.choice(letters, rng.integers(2, 6)))
        body.append("\t".join((word, *pronounce(word), "0")))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CORPUS_FILE
    path.write_text(HEADER + "\n".join(body + (lines or [])) + "\n")
    return path


def write_dvsgesture(folder, recordings=None, gestures: int = 3, seed: int = 0,
                     events_per_gesture: int = 20000) -> Path:
    """A DvsGesture folder: for each of ``recordings`` (``{"train": [...], "test": [...]}``,
    default two and one) an AEDAT 3.1 file of ``gestures`` gestures (classes 1, 2, ... in
    turn) and its label CSV, and the two split lists.  Gesture class c's events fall in a
    band of 40 sensor rows from row 8 (c - 1), so that frames tell the classes apart."""
    recordings = recordings or {"train": ["user01_fluorescent", "user02_led"],
                                "test": ["user24_natural"]}
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for part, names in recordings.items():
        (folder / SPLIT_FILES[part]).write_text("".join(f"{n}.aedat\n" for n in names))
        for name in names:
            columns, rows = [], ["class,startTime_usec,endTime_usec"]
            start = 1_000_000
            for g in range(gestures):
                label, end = g % 11 + 1, start + 500_000
                n = events_per_gesture
                t = np.sort(rng.integers(start, end, n))
                y = np.clip((label - 1) * 8 + rng.integers(0, 40, n), 0, 127)
                x = rng.integers(0, 128, n)
                columns.append((x, y, rng.integers(0, 2, n), t))
                rows.append(f"{label},{start},{end}")
                start = end + 100_000
            x, y, p, t = (np.concatenate(c) for c in zip(*columns))
            write_aedat(folder / f"{name}.aedat", x, y, p, t, packet_events=1000)
            (folder / f"{name}_labels.csv").write_text("\n".join(rows) + "\n")
    return folder
