"""SBP's weights after three chunks of digits samples equal the pinned fixture
(tests/pinned_sbp.py), for every variant: what the move of the learning rule into a rules
package must not change."""
import numpy as np
import pytest

from pinned_sbp import CASES, FIXTURE, run_case


def assert_pinned(case: str, result: dict) -> None:
    pinned = np.load(FIXTURE)
    for key in ("output_counts", "hidden_counts"):
        np.testing.assert_array_equal(result[key], pinned[f"{case}/{key}"], err_msg=key)
    for key in ("w_in", "w_out"):
        np.testing.assert_allclose(result[key], pinned[f"{case}/{key}"], rtol=0, atol=1e-9,
                                   err_msg=key)


@pytest.mark.parametrize("case", CASES)
def test_reference_training_equals_the_pinned_weights(case):
    assert_pinned(case, run_case(case))


def test_the_pinned_cases_differ_from_each_other():
    """The fixture can tell the variants apart: every pair of cases differs in its weights by
    far more than the tolerance."""
    pinned = np.load(FIXTURE)
    weights = {case: np.concatenate([pinned[f"{case}/w_in"], pinned[f"{case}/w_out"]])
               for case in CASES}
    for a in CASES:
        for b in CASES:
            if a < b:
                assert np.max(np.abs(weights[a] - weights[b])) > 1e-5, (a, b)


@pytest.mark.slow
@pytest.mark.standalone
@pytest.mark.parametrize("case", CASES)
def test_compiled_training_equals_the_pinned_weights(case, tmp_path):
    assert_pinned(case, run_case(case, compiled_dir=tmp_path / "build"))
