"""Datasets: bundled (digits, iris, xor), IDX files (MNIST, Fashion-MNIST) and user ``.npz``.

Every loader returns a :class:`Dataset` with intensities in [0, 1] (one row per sample) and
integer labels, validated: a truncated or corrupt file, NaN or out-of-range values, or
mismatched image/label counts raise :class:`DatasetError` naming the file and the problem.
Nothing is downloaded.

* ``digits``: scikit-learn's 8x8 digits (1797 samples), pixel / 16, fixed stratified
  80/20 train/test split (seed 0, independent of the training seed);
* ``iris``: scikit-learn's Iris, features min-max scaled with the training set's range,
  stratified 80/20 split (seed 0);
* ``xor``: the four XOR patterns, each input given as two channels (x, 1 - x) so that
  every pattern drives some input; train = test;
* ``xor2``: the BP-STDP paper's XOR (Tavanaei & Maida 2019, section 3.1): two inputs, 0 read
  as 0.2 "to activate the IF neurons"; train = test;
* ``fashion-mnist``: IDX files in ``data_dir`` or ``/usr/share/datasets/fashion-mnist``
  (``apt-get install dataset-fashion-mnist``);
* ``mnist``: IDX files in ``data_dir``;
* ``nettalk``: the UCI NETtalk corpus in ``data_dir`` (:mod:`sbp_brian.nettalk`): letter
  windows, articulatory-feature codes as targets;
* ``dvsgesture``: the DVS128 Gesture recordings in ``data_dir``
  (:mod:`sbp_brian.dvsgesture`), every frame a sample; ``dvsgesture-released``: the same
  with the released SBP code's row indexing; ``dvsgesture-events``: every gesture a sample,
  its frames in a row;
* ``npz:PATH``: a user file with arrays ``x_train, y_train, x_test, y_test``.

IDX file names are the standard ones (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``),
optionally gzipped.
"""
from __future__ import annotations

import gzip
import os
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "DatasetError", "load_dataset", "read_idx", "write_idx", "DATASETS",
           "FASHION_MNIST_DIR"]

DATASETS = ("digits", "iris", "xor", "xor2", "fashion-mnist", "mnist", "nettalk", "dvsgesture",
            "dvsgesture-released", "dvsgesture-events")
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
             "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"}
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


#: What reading a damaged or truncated .npz raises (numpy, zipfile, zlib); data and checkpoints.
NPZ_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


class DatasetError(ValueError):
    """A dataset is missing, truncated, corrupt or has invalid values."""


@dataclass(frozen=True)
class Dataset:
    """Samples as rows of intensities in [0, 1] with integer labels.

    ``codes``: the output layer's target of each class, one row per class (NETtalk's
    articulatory features, several of them on at once), or ``None``: one output per class,
    taught one-hot.  With codes a response is scored by its cosine similarity to its class's
    code (:func:`sbp_brian.train.cosine_scores`), as the SBP paper scores NETtalk, instead of
    by its most active output."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    image_shape: tuple | None = None
    codes: np.ndarray | None = None

    @property
    def n_inputs(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        """Output neurons a network for this data set has: one per class, or per code bit."""
        return self.n_classes if self.codes is None else self.codes.shape[1]

    def teaching(self, labels) -> np.ndarray:
        """The output layer's targets of ``labels``, one row each: one-hot or the codes."""
        labels = np.asarray(labels, dtype=int)
        if self.codes is not None:
            return np.asarray(self.codes[labels], dtype=float)
        out = np.zeros((len(labels), self.n_classes))
        out[np.arange(len(labels)), labels] = 1
        return out

    def validation_split(self, fraction: float = 0.1, seed: int = 0) -> "Dataset":
        """Carve a stratified validation set out of the training set.

        The returned dataset's ``x_test``/``y_test`` are the validation samples, so that
        tuning never sees the test set. ``fraction`` of each class (at least one sample)
        goes to the validation set; every class must keep training samples.  With codes, a
        class of a single training sample (NETtalk's rarest phoneme-and-stress pairs) stays in
        training.
        """
        if not 0 < fraction < 1:
            raise DatasetError(f"the validation fraction must lie between 0 and 1 (exclusive), "
                               f"got {fraction}")
        rng = np.random.default_rng(seed)
        val = []
        for label in np.unique(self.y_train):
            members = np.flatnonzero(self.y_train == label)
            if len(members) == 1 and self.codes is not None:
                continue
            count = max(1, int(round(fraction * len(members))))
            if count >= len(members):
                raise DatasetError(f"{self.name}: a validation fraction of {fraction} leaves class "
                                   f"{label} ({len(members)} training samples) none to train on")
            val.extend(rng.choice(members, count, replace=False))
        val = np.sort(np.array(val))
        train = np.setdiff1d(np.arange(len(self.y_train)), val)
        return replace(self, name=f"{self.name}[validation]", x_train=self.x_train[train],
                       y_train=self.y_train[train], x_test=self.x_train[val],
                       y_test=self.y_train[val])

    def fold(self, k: int, n_folds: int, seed: int = 0) -> "Dataset":
        """Fold ``k`` (from 0) of a stratified ``n_folds``-fold cross-validation over all the
        samples (training and test pooled): that fold is the test set, the others train.
        Each class's samples are shuffled (``seed``) and dealt to the folds in turn."""
        if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) \
                or n_folds < 2:
            raise DatasetError(f"cross-validation needs at least 2 folds, got {n_folds!r}")
        if not 0 <= k < n_folds:
            raise DatasetError(f"fold {k} does not exist in {n_folds}-fold cross-validation")
        x = np.concatenate([self.x_train, self.x_test])
        y = np.concatenate([self.y_train, self.y_test])
        rng = np.random.default_rng(seed)
        assigned = np.empty(len(y), dtype=int)
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            if len(members) < n_folds:
                raise DatasetError(f"{self.name}: class {label} has {len(members)} samples, "
                                   f"fewer than the {n_folds} folds")
            assigned[members] = np.arange(len(members)) % n_folds
        test = assigned == k
        return replace(self, name=f"{self.name}[fold {k + 1}/{n_folds}]", x_train=x[~test],
                       y_train=y[~test], x_test=x[test], y_test=y[test])

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> "Dataset":
        """The first ``n_train`` training and ``n_test`` test samples (``None``: all)."""
        for what, count in (("training", n_train), ("test", n_test)):
            if count is not None and (isinstance(count, bool) or count < 1):
                raise DatasetError(f"the number of {what} samples must be >= 1, got {count}")
        return replace(self, x_train=self.x_train[:n_train], y_train=self.y_train[:n_train],
                       x_test=self.x_test[:n_test], y_test=self.y_test[:n_test])


def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load a dataset by name (see the module docstring)."""
    if name.startswith("npz:"):
        return _load_npz(Path(name[4:]))
    if name == "digits":
        return _digits()
    if name == "iris":
        return _iris()
    if name == "xor":
        return _xor()
    if name == "xor2":
        return _xor2()
    if name == "fashion-mnist":
        folder = Path(data_dir) if data_dir else FASHION_MNIST_DIR
        hint = ("install it with `apt-get install dataset-fashion-mnist` or pass --data-dir "
                "with the four IDX files")
        return _load_idx_set("fashion-mnist", folder, hint)
    if name == "mnist":
        if data_dir is None:
            raise DatasetError("mnist cannot be downloaded here: put the four IDX files "
                               f"({', '.join(IDX_FILES.values())}, optionally .gz) in a "
                               "folder and pass --data-dir FOLDER")
        return _load_idx_set("mnist", Path(data_dir), "pass --data-dir with the four IDX files")
    if name in ("nettalk", "dvsgesture", "dvsgesture-released", "dvsgesture-events"):
        if data_dir is None:
            raise DatasetError(f"{name} cannot be downloaded here: pass --data-dir with its "
                               "files (docs/data.md says which)")
        if name == "nettalk":
            from .nettalk import load_nettalk
            return load_nettalk(data_dir)
        from .dvsgesture import load_dvsgesture
        return load_dvsgesture(data_dir, name.partition("-")[2] or "frames")
    raise DatasetError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)} "
                       "or npz:PATH")


def _split(x, y, test_fraction=0.2, seed=0):
    from sklearn.model_selection import train_test_split
    return train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)


def _digits() -> Dataset:
    from sklearn.datasets import load_digits
    data = load_digits()
    x_train, x_test, y_train, y_test = _split(data.data / 16.0, data.target)
    return Dataset("digits", x_train, y_train, x_test, y_test, 10, (8, 8))


def _iris() -> Dataset:
    from sklearn.datasets import load_iris
    data = load_iris()
    x_train, x_test, y_train, y_test = _split(data.data, data.target)
    low, high = x_train.min(axis=0), x_train.max(axis=0)
    scale = lambda x: np.clip((x - low) / (high - low), 0, 1)  # noqa: E731
    return Dataset("iris", scale(x_train), y_train, scale(x_test), y_test, 3)


def _xor() -> Dataset:
    bits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    x = np.hstack([bits, 1 - bits])
    y = np.array([0, 1, 1, 0])
    return Dataset("xor", x, y, x.copy(), y.copy(), 2)


def _xor2() -> Dataset:
    x = np.array([[0.2, 0.2], [0.2, 1.0], [1.0, 0.2], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    return Dataset("xor2", x, y, x.copy(), y.copy(), 2)


def _validate(name: str, where: str, x: np.ndarray, y: np.ndarray) -> None:
    if x.ndim != 2:
        raise DatasetError(f"{where}: images must be one row per sample, got shape {x.shape}")
    if len(x) != len(y):
        raise DatasetError(f"{where}: {len(x)} samples but {len(y)} labels")
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise DatasetError(f"{where}: {bad} NaN or infinite pixel value(s)")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise DatasetError(f"{where}: intensities must lie in [0, 1], found "
                           f"[{x.min():.3g}, {x.max():.3g}]")
    if y.size and (np.any(y < 0) or not np.all(np.equal(np.mod(y, 1), 0))):
        raise DatasetError(f"{where}: labels must be non-negative integers")


def _load_npz(path: Path) -> Dataset:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    keys = ("x_train", "y_train", "x_test", "y_test")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a single .npy array
            raise DatasetError(f"{path}: one array of shape {loaded.shape}, not an .npz archive "
                               f"of {', '.join(keys)}")
        with loaded as data:
            arrays = {key: data[key] for key in keys if key in data.files}
    except DatasetError:
        raise
    except NPZ_READ_ERRORS as err:
        raise DatasetError(f"{path}: not a readable .npz file ({err})") from None
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise DatasetError(f"{path}: missing array(s) {', '.join(missing)}; expected "
                           f"{', '.join(keys)}")
    for key in ("x_train", "x_test"):  # before flattening, which needs a first axis
        if arrays[key].ndim == 0 or len(arrays[key]) == 0:
            raise DatasetError(f"{path}: {key} holds no samples (shape {arrays[key].shape})")
    x_train = arrays["x_train"].reshape(len(arrays["x_train"]), -1).astype(float)
    x_test = arrays["x_test"].reshape(len(arrays["x_test"]), -1).astype(float)
    _validate(path.name, f"{path} (train)", x_train, arrays["y_train"])
    _validate(path.name, f"{path} (test)", x_test, arrays["y_test"])
    if x_train.shape[1] != x_test.shape[1]:
        raise DatasetError(f"{path}: train and test samples differ in size "
                           f"({x_train.shape[1]} vs {x_test.shape[1]})")
    y_train, y_test = arrays["y_train"].astype(int), arrays["y_test"].astype(int)
    if len(np.unique(y_train)) < 2:  # nothing to tell apart: every prediction would be right
        raise DatasetError(f"{path}: y_train holds one class only ({y_train[0]}); a classifier "
                           "needs at least two")
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(f"npz:{path.name}", x_train, y_train, x_test, y_test, n_classes)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _load_idx_set(name: str, folder: Path, hint: str) -> Dataset:
    paths = {key: _find_idx(folder, stem) for key, stem in IDX_FILES.items()}
    missing = [IDX_FILES[key] for key, path in paths.items() if path is None]
    if missing:
        raise DatasetError(f"{name}: {', '.join(missing)} not found in {folder}; {hint}")
    arrays = {key: read_idx(path) for key, path in paths.items()}
    out = {}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_x"], arrays[f"{part}_y"]
        where = f"{paths[part + '_x'].name} / {paths[part + '_y'].name}"
        if images.ndim != 3 or labels.ndim != 1:
            raise DatasetError(f"{name}: {where}: expected 3-D images and 1-D labels, got "
                               f"{images.ndim}-D and {labels.ndim}-D")
        if len(images) != len(labels):
            raise DatasetError(f"{name}: {where}: {len(images)} images but {len(labels)} labels")
        if labels.size and labels.max() > 9:
            raise DatasetError(f"{name}: {paths[part + '_y']}: label {labels.max()} > 9")
        out[part] = (images.reshape(len(images), -1) / 255.0, labels.astype(int))
    shape = tuple(arrays["train_x"].shape[1:])
    return Dataset(name, out["train"][0], out["train"][1], out["test"][0], out["test"][1], 10,
                   shape)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` allowed), checking the magic number and the size."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise DatasetError(f"{path}: cannot read ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DatasetError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DatasetError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetError(f"{path}: IDX header says {dims} ({expected} bytes of data) but the "
                           f"file holds {len(raw) - header} bytes: truncated or corrupt")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an unsigned-byte IDX file (used by tests to make small MNIST-format files)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
