"""Shared fixtures: every test starts from a clean Brian2 state in runtime numpy mode; the
compiled-project cache is the test session's own (not the user's)."""
import os

import pytest
from brian2 import defaultclock, ms

from sbp_brian.targets import reset_target


@pytest.fixture(autouse=True)
def clean_brian():
    reset_target()
    defaultclock.dt = 0.1 * ms
    yield
    reset_target()
    defaultclock.dt = 0.1 * ms


@pytest.fixture(autouse=True, scope="session")
def session_project_cache(tmp_path_factory):
    """Compiled projects are shared by the session's tests (and their worker processes), not
    with the user's cache or an earlier session's.  Under pytest-xdist every test process has
    its own temporary folder below one of the session: the processes share the cache there
    (its build lock lets one of them compile a project while the others wait for it)."""
    before = os.environ.get("SBP_BRIAN_CACHE_DIR")
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    cache = root / "compiled_projects"
    cache.mkdir(exist_ok=True)
    os.environ["SBP_BRIAN_CACHE_DIR"] = str(cache)
    yield
    if before is None:
        del os.environ["SBP_BRIAN_CACHE_DIR"]
    else:
        os.environ["SBP_BRIAN_CACHE_DIR"] = before
