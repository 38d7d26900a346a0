"""Shared fixtures: every test starts from a clean Brian2 state in runtime numpy mode."""
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
