"""The compiled-project cache: what an entry keeps, when it is used, and that a build
seeded by it compiles nothing again and gives the program of a clean build."""
import os
import threading
import time

import numpy as np
import pytest

from sbp_brian import project_cache
from sbp_brian.project_cache import project_key, restore, store
from sbp_brian.train import _CompiledRunner

from test_training import MIX, reference_run


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache of its own (not the test session's)."""
    monkeypatch.setenv("SBP_BRIAN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def fake_project(folder, text="int main() {}"):
    (folder / "code_objects").mkdir(parents=True)
    (folder / "code_objects" / "a.cpp").write_text(text)
    (folder / "main").write_text("binary")
    for data in ("static_arrays", "results"):
        (folder / data).mkdir()
        (folder / data / "array").write_text("data")
    os.utime(folder / "main", (1000, 1000))
    return folder


def test_an_entry_keeps_code_objects_and_binary_with_their_times_not_data(cache, tmp_path):
    key = project_key({"config": 1}, "cpp")
    assert not restore(key, tmp_path / "empty")  # no cache folder yet
    store(key, fake_project(tmp_path / "built"))
    build = tmp_path / "build"
    build.mkdir()
    assert restore(key, build)
    assert (build / "code_objects" / "a.cpp").read_text() == "int main() {}"
    # modification times kept: make sees the objects as up to date
    assert (build / "main").stat().st_mtime == 1000
    assert not (build / "static_arrays").exists() and not (build / "results").exists()
    # a folder that holds a build already is not seeded (a mix of two builds' files)
    assert not restore(key, tmp_path / "built")
    # another configuration, target (or CPU, or version) has a key of its own
    assert not restore(project_key({"config": 2}, "cpp"), tmp_path / "none")
    assert not restore(project_key({"config": 1}, "cuda"), tmp_path / "none")


def test_storing_replaces_an_entry_and_prunes_the_least_recently_used(cache, tmp_path,
                                                                      monkeypatch):
    one, two, three = (project_key({"config": n}, "cpp") for n in (1, 2, 3))
    store(one, fake_project(tmp_path / "one", "one"))
    store(one, fake_project(tmp_path / "newer", "newer"))
    assert (cache / one / "code_objects" / "a.cpp").read_text() == "newer"
    store(two, fake_project(tmp_path / "two", "two"))
    os.utime(cache / one, (1000, 1000))
    os.utime(cache / two, (2000, 2000))
    assert restore(one, tmp_path / "use")  # a restored entry counts as used: now the newer
    # a store killed half-way left a temporary folder; another one is in the making
    for name, age in ((".new-killed", 7200), (".new-running", 10)):
        (cache / name).mkdir()
        os.utime(cache / name, (time.time() - age,) * 2)
    monkeypatch.setattr(project_cache, "MAX_ENTRIES", 2)
    store(three, fake_project(tmp_path / "three", "three"))
    assert sorted(p.name for p in cache.iterdir()) == sorted([".new-running", one, three])


def test_builds_of_one_configuration_wait_for_each_other(cache):
    # a sweep's workers starting the same configuration at once compile it once: the second
    # waits for the first's lock, then restores its entry; another configuration does not wait
    order = []

    def second_worker():
        with project_cache._build_lock("key"):
            order.append("second")

    with project_cache._build_lock("key"):
        worker = threading.Thread(target=second_worker)
        worker.start()
        worker.join(0.5)
        with project_cache._build_lock("other"):
            order.append("first")
    worker.join(10)
    assert order == ["first", "second"]
    os.utime(cache / ".locks", (1000, 1000))  # old, and kept by the pruning of a store
    store(project_key({"config": 1}, "cpp"), fake_project(cache.parent / "one"))
    assert (cache / ".locks").is_dir()


def test_the_cache_can_be_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("SBP_BRIAN_CACHE_DIR", "off")
    assert project_cache.cache_root() is None
    store("key", fake_project(tmp_path / "built"))  # nothing written, nothing fails
    assert not restore("key", tmp_path / "built")
    monkeypatch.delenv("SBP_BRIAN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert project_cache.cache_root() == tmp_path / "xdg" / "sbp_brian" / "projects"


def test_doctor_reports_the_cache(cache, tmp_path, monkeypatch, capsys):
    from sbp_brian.cli import main
    assert main(["doctor"]) == 0
    assert f"compiled-project cache: {cache}: 0 compiled project(s)" in capsys.readouterr().out
    store("key", fake_project(tmp_path / "built"))
    assert project_cache.summary() == f"{cache}: 1 compiled project(s), 0.0 MB"
    monkeypatch.setenv("SBP_BRIAN_CACHE_DIR", "off")
    assert main(["doctor"]) == 0
    assert "compiled-project cache: off" in capsys.readouterr().out


def object_times(folder):
    """Modification times of the compiled objects and the makefile's dependency list."""
    paths = [*(folder / "code_objects").glob("*.o"), *folder.glob("*.o"), folder / "make.deps"]
    return {path.name: path.stat().st_mtime_ns for path in paths}


def test_main_sources_that_differ_only_in_their_clocks_order_are_the_same_program():
    """What Brian2 writes differently in two processes: the clocks' starts in another order,
    a clock's step set once more (the same value); anything else is another program."""
    main = ["int main() {", "    _array_network_clock_timestep[0] = 0;",
            "    _array_network_clock_t[0] = 0.0;", "    _array_defaultclock_timestep[0] = 0;",
            "    _array_defaultclock_t[0] = 0.0;", "    run();", "}"]

    def same(new, old):
        return project_cache.same_main("\n".join(new), "\n".join(old))

    assert same(main[:1] + main[3:5] + main[1:3] + main[5:], main)
    assert same(main, main)
    step, other_step = ("    _array_defaultclock_dt[0] = 0.0001;",
                        "    _array_defaultclock_dt[0] = 0.0002;")
    assert same(main[:1] + [step, step] + main[1:], main[:1] + [step] + main[1:])
    assert not same(main[:1] + [step, other_step] + main[1:], main[:1] + [step] + main[1:])
    statements = main[:5] + ["    setup();", "    run();", "}"]
    swapped = main[:5] + ["    run();", "    setup();", "}"]
    assert not same(swapped, statements)
    changed = [line.replace("t[0] = 0.0", "t[0] = 1.0") for line in main]
    assert not same(changed, main)
    assert not same(main[:-1], main)


@pytest.mark.standalone
def test_a_cached_build_is_not_compiled_again_and_gives_the_same_program(cache, tmp_path):
    """A clean build and the same configuration again, seeded by the cache (no code object
    compiled again): both give the numpy reference's spikes and weights on identical input
    spikes."""
    config, schedule, (x, y), (w_in, w_out), (ref_in, ref_out, ref) = reference_run("paper")

    def build(folder, **options):
        runner = _CompiledRunner(config, tmp_path / folder, input_schedule=schedule, **options)
        fast_in, fast_out, fast = runner.run(x, y, w_in, w_out, learn=True, seed=0, homeo_mix=MIX)
        np.testing.assert_array_equal(fast.counts, ref.counts)
        np.testing.assert_allclose(fast_in, ref_in, rtol=0, atol=1e-9)
        np.testing.assert_allclose(fast_out, ref_out, rtol=0, atol=1e-9)
        return runner.cache_hit, object_times(tmp_path / folder)

    hit, built = build("clean")
    assert not hit and len(built) > 10 and "main.o" in built
    # nothing compiled again, main.cpp included (whose clocks Brian2 orders by object identity)
    assert build("again") == (True, built)
    assert len([entry for entry in cache.iterdir() if entry.name != ".locks"]) == 1
