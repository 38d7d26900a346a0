"""Dataset readers: bundled sets, IDX files written here, and one clear error per bad input."""
import numpy as np
import pytest

from sbp_brian.datasets import DatasetError, IDX_FILES, load_dataset, read_idx, write_idx


def test_digits_split_is_fixed_and_normalised():
    data = load_dataset("digits")
    assert data.n_inputs == 64 and data.n_classes == 10
    assert len(data.y_train) + len(data.y_test) == 1797
    assert 0 <= data.x_train.min() and data.x_train.max() <= 1
    again = load_dataset("digits")
    np.testing.assert_array_equal(data.y_test, again.y_test)


def test_validation_split_is_carved_from_training():
    data = load_dataset("digits")
    tuning = data.validation_split(0.1, seed=3)
    assert len(tuning.y_train) + len(tuning.y_test) == len(data.y_train)
    assert set(np.unique(tuning.y_test)) == set(range(10))


def test_iris_and_xor():
    iris = load_dataset("iris")
    assert iris.n_inputs == 4 and iris.n_classes == 3
    assert iris.x_train.min() == 0 and iris.x_train.max() == 1
    xor = load_dataset("xor")
    np.testing.assert_array_equal(xor.y_train, [0, 1, 1, 0])
    assert np.all(xor.x_train.sum(axis=1) == 2)  # every pattern drives two input channels


def make_idx_folder(folder, n_train=12, n_test=5, gz=False):
    rng = np.random.default_rng(0)
    folder.mkdir(exist_ok=True)
    suffix = ".gz" if gz else ""
    arrays = {"train_x": rng.integers(0, 256, (n_train, 28, 28)),
              "train_y": rng.integers(0, 10, n_train),
              "test_x": rng.integers(0, 256, (n_test, 28, 28)),
              "test_y": rng.integers(0, 10, n_test)}
    for key, array in arrays.items():
        write_idx(folder / (IDX_FILES[key] + suffix), array)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    arrays = make_idx_folder(tmp_path / "mnist", gz=gz)
    data = load_dataset("mnist", tmp_path / "mnist")
    assert data.x_train.shape == (12, 784) and data.image_shape == (28, 28)
    np.testing.assert_allclose(data.x_train * 255, arrays["train_x"].reshape(12, -1))
    np.testing.assert_array_equal(data.y_test, arrays["test_y"])


def test_mnist_without_folder_says_where_to_put_files():
    with pytest.raises(DatasetError, match="pass --data-dir"):
        load_dataset("mnist")


def test_missing_idx_file_is_named(tmp_path):
    make_idx_folder(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte not found in"):
        load_dataset("mnist", tmp_path / "mnist")


def test_truncated_idx_file(tmp_path):
    make_idx_folder(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte: IDX header says .* truncated"):
        load_dataset("mnist", tmp_path / "mnist")


def test_damaged_gzip_is_named(tmp_path):
    """Compressed data that does not inflate (zlib's error, not gzip's) is named as well."""
    import gzip
    write_idx(tmp_path / "images", np.zeros((3, 2, 2), dtype=np.uint8))
    packed = bytearray(gzip.compress((tmp_path / "images").read_bytes()))
    packed[10] |= 0b110  # the first deflate block's type bits (after the 10-byte gzip header): 3, invalid
    (tmp_path / "images.gz").write_bytes(bytes(packed))
    with pytest.raises(DatasetError, match="images.gz: cannot read .*invalid block type"):
        read_idx(tmp_path / "images.gz")


def test_bad_magic_number(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(path)


def test_label_count_mismatch(tmp_path):
    make_idx_folder(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "train-labels-idx1-ubyte", np.zeros(11))
    with pytest.raises(DatasetError, match="12 images but 11 labels"):
        load_dataset("mnist", tmp_path / "mnist")


def test_npz_with_nan_pixels(tmp_path):
    x = np.full((4, 3), 0.5)
    x[1, 2] = np.nan
    path = tmp_path / "data.npz"
    np.savez(path, x_train=x, y_train=np.arange(4), x_test=x[:2] * 0, y_test=np.arange(2))
    with pytest.raises(DatasetError, match="1 NaN or infinite pixel"):
        load_dataset(f"npz:{path}")


def npz_arrays(**changes):
    """A small valid npz data set's arrays, with ``changes`` (``None`` leaves an array out)."""
    arrays = {"x_train": np.full((4, 3), 0.5), "y_train": np.arange(4) % 2,
              "x_test": np.full((2, 3), 0.5), "y_test": np.arange(2)}
    arrays.update(changes)
    return {key: value for key, value in arrays.items() if value is not None}


def test_npz_images_are_flattened(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, **npz_arrays(x_train=np.full((4, 2, 2), 0.5), x_test=np.zeros((2, 2, 2))))
    data = load_dataset(f"npz:{path}")
    assert data.x_train.shape == (4, 4) and data.n_inputs == 4 and data.n_classes == 2


@pytest.mark.parametrize("arrays, message", [
    (npz_arrays(y_test=None), "missing array\\(s\\) y_test; expected x_train"),
    (npz_arrays(x_test=np.zeros((0, 3)), y_test=np.zeros(0, int)), "x_test holds no samples"),
    (npz_arrays(x_train=np.float64(0.5)), "x_train holds no samples"),
    (npz_arrays(y_train=np.arange(3)), "\\(train\\): 4 samples but 3 labels"),
    (npz_arrays(y_train=np.array([0, 1, -1, 0])), "labels must be non-negative integers"),
    (npz_arrays(x_test=np.full((2, 3), 2.0)), "\\(test\\): intensities must lie in \\[0, 1\\]"),
    (npz_arrays(x_test=np.zeros((2, 4))), "train and test samples differ in size \\(3 vs 4\\)"),
    (npz_arrays(y_train=np.full(4, 1)), "y_train holds one class only \\(1\\); a classifier"),
])
def test_bad_npz_data_is_named(tmp_path, arrays, message):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match=message):
        load_dataset(f"npz:{path}")


def test_unreadable_npz_files_are_named(tmp_path):
    path = tmp_path / "data.npz"
    np.savez_compressed(path, **npz_arrays(x_train=np.random.default_rng(0).random((200, 50)),
                                           y_train=np.arange(200) % 2,
                                           x_test=np.zeros((2, 50))))
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) // 2])  # truncated: the zip directory is lost
    with pytest.raises(DatasetError, match="data.npz: not a readable .npz file"):
        load_dataset(f"npz:{path}")
    damaged = bytearray(whole)  # the compressed member's bytes damaged, the directory whole
    damaged[200:2000] = bytes(b ^ 0x55 for b in damaged[200:2000])
    path.write_bytes(bytes(damaged))
    with pytest.raises(DatasetError, match="data.npz: not a readable .npz file"):
        load_dataset(f"npz:{path}")
    with open(path, "wb") as file:  # np.save writes one .npy array, whatever the suffix
        np.save(file, np.zeros(3))
    with pytest.raises(DatasetError, match="one array of shape \\(3,\\), not an .npz archive"):
        load_dataset(f"npz:{path}")


def test_unknown_dataset_is_named():
    with pytest.raises(DatasetError, match="unknown dataset 'cifar'"):
        load_dataset("cifar")


@pytest.mark.skipif(not __import__("pathlib").Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_debian_package():
    data = load_dataset("fashion-mnist")
    assert data.x_train.shape == (60000, 784) and data.x_test.shape == (10000, 784)


def test_cross_validation_folds_partition_all_samples_by_class():
    """Iris, 5 folds: every sample is held out exactly once, each fold holds 10 of each class,
    and a fold's training part is the other four folds."""
    data = load_dataset("iris")
    everything = np.concatenate([data.x_test, data.x_train])
    held_out = []
    for k in range(5):
        fold = data.fold(k, 5)
        assert np.bincount(fold.y_test).tolist() == [10, 10, 10]
        assert len(fold.y_train) == 120 and fold.name == f"iris[fold {k + 1}/5]"
        held_out.append(fold.x_test)
    held_out = np.concatenate(held_out)
    assert len(np.unique(held_out, axis=0)) == len(np.unique(everything, axis=0))
    assert len(held_out) == 150
    with pytest.raises(DatasetError, match="at least 2 folds"):
        data.fold(0, 1)
    with pytest.raises(DatasetError, match="fewer than the 60 folds"):
        data.fold(0, 60)
