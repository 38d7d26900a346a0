"""NETtalk (Sejnowski & Rosenberg 1987): English words to phonemes, the SBP paper's second task.

The SBP paper (Zhang et al. 2021) trains a 189-500-26 network on "a subset (5033)" of NETtalk
and tests on 500 ("26 output neurons (that yielded 116 classes)"); its released code reads a
preprocessed
``nettalk_small.mat`` that is not public.  This reader builds the same shapes from the UCI
corpus file ``nettalk.data`` (one word per line: the letters, the phoneme string and the
stress string, one symbol per letter, and the corpus's word-class number; the header before
the first word is skipped):

* **inputs**: a window of 7 letters centred on each letter of a word, each position one-hot
  over 27 symbols (``a``-``z`` and one for "outside the word"), 7 x 27 = 189 inputs.  One
  sample per letter.
* **targets**: the centre letter's phoneme as Sejnowski & Rosenberg's 21 articulatory
  features (:data:`FEATURES`; several on at once) and its stress / syllable-boundary symbol
  one-hot over 5 (:data:`STRESS_SYMBOLS`): 26 outputs.  Each distinct (phoneme, stress) pair
  in the corpus is a class (the paper's 116), its 26-bit code the output layer's target
  (:attr:`sbp_brian.datasets.Dataset.codes`).
* **split**: 5033 training and 500 test samples, i.e. letters (the released RBM script's
  NETtalk settings, ``train_samples = 5033``, ``valid_samples = 500``, count rows of the
  preprocessed file, and its concatenation of the parts works only if the training part
  holds exactly 5033).  Which letters is unknown: here the words are shuffled once (seed 0,
  independent of the training seed), training takes the letters of the first words up to
  5033 (the last of them cut short), testing those of the following words up to 500, so
  that no word is in both.
* **accuracy**: the cosine similarity of the outputs and the target code (the paper's
  definition; :func:`sbp_brian.train.cosine_scores`); the metrics log adds the nearest-code
  accuracy.

The phoneme-to-feature table (:data:`PHONEME_FEATURES`) follows Sejnowski & Rosenberg (1987),
Appendix A, as public re-implementations transcribe it (the printed original was not
available here to check against).  One entry is corrected: that transcription gives ``J``
(the /dʒ/ of "jam") the features of ``G`` (the velar nasal of "sing"), which would make the
two indistinguishable; here ``J`` is ``C`` (/tʃ/, "chin") voiced.  A user table replaces it:
a file :data:`FEATURE_FILE` in the data folder, one phoneme per line, its symbol followed by
its feature names (``#`` starts a comment).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .datasets import Dataset, DatasetError

__all__ = ["CORPUS_FILE", "FEATURE_FILE", "FEATURES", "STRESS_SYMBOLS", "PHONEME_FEATURES",
           "LETTERS", "WINDOW", "TRAIN_SAMPLES", "TEST_SAMPLES", "read_corpus",
           "read_feature_table", "letter_windows", "load_nettalk"]

CORPUS_FILE = "nettalk.data"
FEATURE_FILE = "nettalk.features"
#: The input symbols: the 26 letters, and "_" for a window position outside the word
LETTERS = "abcdefghijklmnopqrstuvwxyz_"
#: Letters per input window, centred on the letter whose phoneme is the target
WINDOW = 7
#: The paper's split, in samples (letters; module docstring)
TRAIN_SAMPLES, TEST_SAMPLES = 5033, 500

#: Sejnowski & Rosenberg's 21 articulatory features: place (labial to glottal; for vowels the
#: same six units read as position, front to back), manner, voicing and tension, vowel
#: height, and the four of silence and punctuation
FEATURES = ("labial", "dental", "alveolar", "palatal", "velar", "glottal",
            "stop", "nasal", "fricative", "affricative", "glide", "liquid",
            "voiced", "tensed", "high", "medium", "low",
            "silent", "elide", "pause", "full-stop")
#: The stress string's symbols: syllable boundaries (``<``, ``>``) and stress (``0``-``2``)
STRESS_SYMBOLS = ("<", ">", "0", "1", "2")

#: Each phoneme symbol of the corpus and its articulatory features (module docstring)
PHONEME_FEATURES = {
    "a": ("low", "tensed", "palatal"),
    "b": ("voiced", "labial", "stop"),
    "c": ("velar", "medium"),
    "d": ("voiced", "alveolar", "stop"),
    "e": ("medium", "tensed", "dental"),
    "f": ("labial", "fricative"),
    "g": ("voiced", "velar", "stop"),
    "h": ("glottal", "glide"),
    "i": ("high", "tensed", "labial"),
    "k": ("velar", "stop"),
    "l": ("voiced", "dental", "liquid"),
    "m": ("voiced", "labial", "nasal"),
    "n": ("voiced", "alveolar", "nasal"),
    "o": ("medium", "tensed", "glottal"),
    "p": ("labial", "stop"),
    "r": ("voiced", "palatal", "liquid"),
    "s": ("alveolar", "fricative"),
    "t": ("alveolar", "stop"),
    "u": ("high", "tensed", "glottal"),
    "v": ("voiced", "labial", "fricative"),
    "w": ("voiced", "labial", "glide"),
    "x": ("medium", "palatal"),
    "y": ("voiced", "palatal", "glide"),
    "z": ("voiced", "alveolar", "fricative"),
    "A": ("medium", "tensed", "dental", "alveolar"),
    "C": ("palatal", "affricative"),
    "D": ("voiced", "dental", "fricative"),
    "E": ("medium", "labial", "dental"),
    "G": ("voiced", "velar", "nasal"),
    "I": ("high", "labial"),
    "J": ("voiced", "palatal", "affricative"),
    "K": ("palatal", "fricative", "velar", "affricative"),
    "L": ("voiced", "alveolar", "liquid"),
    "M": ("voiced", "dental", "nasal"),
    "N": ("voiced", "palatal", "nasal"),
    "O": ("medium", "tensed", "alveolar", "palatal"),
    "Q": ("voiced", "labial", "velar", "affricative", "stop"),
    "R": ("voiced", "velar", "liquid"),
    "S": ("palatal", "fricative"),
    "T": ("dental", "fricative"),
    "U": ("high", "velar"),
    "W": ("high", "medium", "tensed", "palatal", "velar"),
    "X": ("affricative", "dental", "alveolar"),
    "Y": ("high", "tensed", "labial", "dental", "alveolar"),
    "Z": ("voiced", "palatal", "fricative"),
    "@": ("low", "dental"),
    "!": ("labial", "dental", "affricative"),
    "#": ("voiced", "palatal", "velar", "affricative"),
    "*": ("voiced", "glide", "labial", "low", "alveolar"),
    "+": ("voiced", "glide", "tensed", "low", "glottal"),
    "^": ("low", "alveolar"),
    "-": ("silent", "elide"),
    "_": ("pause", "elide"),
    ".": ("pause", "full-stop"),
}


def read_feature_table(path: str | os.PathLike) -> dict:
    """A user's phoneme-to-feature table (module docstring): ``{symbol: (feature, ...)}``.
    An unknown feature name or a repeated symbol raises :class:`DatasetError` naming the
    line."""
    path = Path(path)
    table = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot read ({err})") from None
    for number, line in enumerate(lines, 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        symbol, features = fields[0], tuple(fields[1:])
        unknown = [f for f in features if f not in FEATURES]
        if unknown or not features:
            raise DatasetError(f"{path}, line {number}: phoneme {symbol!r} needs features among "
                               f"{', '.join(FEATURES)}; got {' '.join(features) or 'none'}")
        if symbol in table:
            raise DatasetError(f"{path}, line {number}: phoneme {symbol!r} listed twice")
        table[symbol] = features
    if not table:
        raise DatasetError(f"{path}: no phonemes")
    return table


def _is_record(fields: list) -> bool:
    return len(fields) == 4 and fields[3].lstrip("-").isdigit()


def read_corpus(path: str | os.PathLike, phonemes=PHONEME_FEATURES) -> list:
    """The words of a NETtalk corpus file: ``[(word, phonemes, stress), ...]``.

    Lines before the first record (four fields, the last a number) are its header; after it
    every non-blank line must be a record whose word (lower-case letters), phoneme string
    (symbols of ``phonemes``) and stress string (:data:`STRESS_SYMBOLS`) have one symbol per
    letter.  Anything else raises :class:`DatasetError` naming the file and the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as err:
        raise DatasetError(f"{path}: cannot read ({err})") from None
    words, started = [], False
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not started and not _is_record(fields):
            continue  # the header
        started = True
        if not fields:
            continue
        where = f"{path}, line {number}"
        if not _is_record(fields):
            raise DatasetError(f"{where}: expected a word, its phonemes, its stresses and a "
                               f"number, got {line.strip()!r}")
        word, phones, stress = fields[0].lower(), fields[1], fields[2]
        if not len(word) == len(phones) == len(stress):
            raise DatasetError(f"{where}: {word!r} has {len(word)} letters but {len(phones)} "
                               f"phonemes ({phones!r}) and {len(stress)} stress symbols "
                               f"({stress!r}); one each per letter")
        for what, text, allowed in (("letter", word, LETTERS[:-1]),
                                    ("phoneme", phones, phonemes),
                                    ("stress symbol", stress, STRESS_SYMBOLS)):
            bad = sorted({s for s in text if s not in allowed})
            if bad:
                raise DatasetError(f"{where}: unknown {what}(s) {' '.join(bad)} in {text!r}")
        words.append((word, phones, stress))
    if not words:
        raise DatasetError(f"{path}: no words (expected lines of word, phonemes, stresses "
                           "and a number)")
    return words


def letter_windows(word: str) -> np.ndarray:
    """The inputs of a word's letters: one row of 7 x 27 one-hot symbols per letter, the
    window centred on it and padded with "outside the word"."""
    half = WINDOW // 2
    padded = "_" * half + word + "_" * half
    index = np.array([LETTERS.index(s) for s in padded])
    rows = np.zeros((len(word), WINDOW, len(LETTERS)))
    for position in range(WINDOW):
        rows[np.arange(len(word)), position, index[position:position + len(word)]] = 1
    return rows.reshape(len(word), -1)


def _code(features: tuple, stress: str) -> np.ndarray:
    code = np.zeros(len(FEATURES) + len(STRESS_SYMBOLS))
    code[[FEATURES.index(f) for f in features]] = 1
    code[len(FEATURES) + STRESS_SYMBOLS.index(stress)] = 1
    return code


def load_nettalk(folder: str | os.PathLike, train_samples: int = TRAIN_SAMPLES,
                 test_samples: int = TEST_SAMPLES, seed: int = 0) -> Dataset:
    """The NETtalk data set from ``folder/nettalk.data`` (module docstring); the feature table
    from ``folder/nettalk.features`` when it exists."""
    folder = Path(folder)
    corpus = folder / CORPUS_FILE
    if not corpus.is_file():
        raise DatasetError(f"nettalk: {corpus} not found; it cannot be downloaded here: put "
                           f"the UCI corpus file {CORPUS_FILE} in a folder and pass --data-dir "
                           "FOLDER")
    user_table = folder / FEATURE_FILE
    table = read_feature_table(user_table) if user_table.is_file() else PHONEME_FEATURES
    words = read_corpus(corpus, table)
    order = np.random.default_rng(seed).permutation(len(words))
    ends = np.cumsum([len(words[k][0]) for k in order])  # letters up to each word
    last_train = int(np.searchsorted(ends, train_samples))  # holds the last training letter
    test_ends = ends[last_train + 1:] - ends[min(last_train, len(ends) - 1)]
    if ends[-1] < train_samples or not len(test_ends) or test_ends[-1] < test_samples:
        raise DatasetError(f"{corpus}: {len(words)} words of {ends[-1]} letters, too few for "
                           f"{train_samples} training and {test_samples} test letters (in "
                           "separate words)")
    pairs = sorted({(p, s) for word, phones, stress in words for p, s in zip(phones, stress)})
    classes = {pair: k for k, pair in enumerate(pairs)}
    codes = np.array([_code(table[p], s) for p, s in pairs])

    def samples(chosen):
        x = np.concatenate([letter_windows(words[k][0]) for k in chosen])
        y = np.array([classes[pair] for k in chosen for pair in zip(*words[k][1:])])
        return x, y

    last_test = last_train + 1 + int(np.searchsorted(test_ends, test_samples))
    x_train, y_train = samples(order[:last_train + 1])
    x_test, y_test = samples(order[last_train + 1:last_test + 1])
    x_train, y_train = x_train[:train_samples], y_train[:train_samples]
    x_test, y_test = x_test[:test_samples], y_test[:test_samples]
    return Dataset("nettalk", x_train, y_train, x_test, y_test, len(pairs), None, codes)
