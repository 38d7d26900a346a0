"""The same network under numpy, cython and cpp_standalone; the CUDA project compiles."""
import shutil

import numpy as np
import pytest
from brian2 import device

import small_network
from sbp_brian import targets

# -ffast-math in Brian's default C++ flags reorders floating-point sums
WEIGHT_RTOL, WEIGHT_ATOL = 1e-9, 1e-12


@pytest.fixture(scope="module")
def numpy_reference():
    targets.use_target("numpy")
    result = small_network.simulate()
    targets.reset_target()
    return result


def assert_same(result, reference):
    for population in ("hidden", "output"):
        np.testing.assert_array_equal(result[population + "_i"], reference[population + "_i"])
        np.testing.assert_allclose(result[population + "_t"], reference[population + "_t"],
                                   atol=1e-9)
    for projection in ("input_hidden", "hidden_output"):
        np.testing.assert_allclose(result[projection + "_w"], reference[projection + "_w"],
                                   rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL)


def test_reference_network_is_not_trivial(numpy_reference):
    assert len(numpy_reference["hidden_i"]) > 100
    assert len(numpy_reference["output_i"]) > 5
    # plasticity acted: some excitatory weights were depressed all the way to 0 (Dale's law)
    assert np.any(numpy_reference["hidden_output_w"][: 5 * 3] == 0)
    assert np.all(numpy_reference["hidden_output_w"][: 5 * 3] >= 0)
    assert np.all(numpy_reference["hidden_output_w"][5 * 3:] <= 0)


@pytest.mark.cython
@pytest.mark.slow  # about 85 s of Cython compilation; cpp_standalone is compared by default
def test_cython_matches_numpy(numpy_reference):
    assert targets.use_target("cython") == "cython"
    assert_same(small_network.simulate(), numpy_reference)


@pytest.mark.standalone
def test_cpp_standalone_matches_numpy(numpy_reference, tmp_path):
    """Also with the flags the package adds to Brian2's (targets.CPP_EXTRA_COMPILE_ARGS)."""
    assert targets.use_target("cpp", directory=tmp_path / "cpp") == "cpp"
    assert_same(small_network.simulate(), numpy_reference)
    flags = next(line for line in (tmp_path / "cpp" / "makefile").read_text().splitlines()
                 if line.startswith("OPTIMISATIONS"))
    assert all(flag in flags.split() for flag in ("-O3", *targets.CPP_EXTRA_COMPILE_ARGS))


def _cuda_compiles():
    status = {s.target: s for s in targets.doctor()}["cuda"]
    return status.compiles, status.reason


def _cuda_project(directory, compile: bool) -> None:
    """brian2cuda's project of the small network in ``directory``, compiled or not."""
    used = targets.use_target("cuda", directory=directory, build_on_run=False, compile_only=True)
    assert used == "cuda"
    net, _, _ = small_network.build()
    net.run(small_network.DURATION, namespace={})
    device.build(directory=str(directory), compile=compile, run=False, with_output=False)


@pytest.mark.cuda
def test_cuda_project_generates(tmp_path):
    # the code generation (seconds); nvcc's compilation (minutes) is the slow test below
    pytest.importorskip("brian2cuda")
    directory = tmp_path / "cuda"
    _cuda_project(directory, compile=False)
    for name in ("main.cu", "network.cu", "objects.cu", "makefile"):
        assert (directory / name).is_file(), name
    assert any((directory / "code_objects").glob("*.cu"))


@pytest.mark.cuda
@pytest.mark.slow
def test_cuda_project_generates_and_compiles(tmp_path):
    compiles, reason = _cuda_compiles()
    if not compiles:
        pytest.skip(f"CUDA target cannot compile here: {reason}")
    directory = tmp_path / "cuda"
    _cuda_project(directory, compile=True)
    assert (directory / "main").is_file()
    if not targets.gpu_names():
        return
    # a GPU is present: the compiled project runs (the training network's GPU results are
    # compared with the numpy reference by test_gpu_fast_path_equals_runtime_reference)
    device.run(str(directory), with_output=False, run_args=[])


def test_cuda_falls_back_to_cpp_without_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(targets, "gpu_names", lambda: [])
    with pytest.warns(RuntimeWarning, match="falling back to cpp_standalone"):
        used = targets.use_target("cuda", directory=tmp_path / "fallback")
    assert used == "cpp"


def test_unknown_target_is_named():
    with pytest.raises(targets.TargetError, match="unknown target 'gpu'"):
        targets.use_target("gpu")


def test_doctor_reports_every_target():
    report = {s.target: s for s in targets.doctor()}
    assert set(report) == set(targets.TARGETS)
    assert report["numpy"].usable
    for status in report.values():
        assert status.reason
    if shutil.which("g++"):
        assert report["cpp"].usable


def test_curand_links_survive_removed_environments(tmp_path, monkeypatch):
    """The linker's libcurand.so and the loader's soname, linked per library folder: a link
    left dangling by a removed environment is replaced, not an error."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    libdir = tmp_path / "venv" / "lib"
    libdir.mkdir(parents=True)
    (libdir / "libcurand.so.10").write_text("")
    linked = targets._linkable_curand_dir(libdir)
    assert (linked / "libcurand.so").resolve() == (libdir / "libcurand.so.10").resolve()
    # the environment is removed and made again: the links dangle, then point at it again
    (libdir / "libcurand.so.10").unlink()
    assert not (linked / "libcurand.so.10").exists() and (linked / "libcurand.so.10").is_symlink()
    (libdir / "libcurand.so.10").write_text("")
    assert targets._linkable_curand_dir(libdir) == linked
    # a stale link to another copy is replaced
    other = tmp_path / "other.so"
    other.write_text("")
    (linked / "libcurand.so.10").unlink()
    (linked / "libcurand.so.10").symlink_to(other)
    targets._linkable_curand_dir(libdir)
    assert (linked / "libcurand.so.10").resolve() == (libdir / "libcurand.so.10").resolve()
