"""The SBP step (numpy reference) on hand-computed examples."""
import numpy as np
import pytest

from sbp_brian.model_files import load_model
from sbp_brian.rules.sbp import (coactive_shares, normalise, output_signals, propagated_change,
                           sbp_input_change)

# the paper's worked example (Eq. 13): rows are hidden neurons j, columns outputs k
DW_OUT = np.array([[0.1, -0.2, 0.0], [-0.4, 0.5, -0.6]])
DW_IN_LTP = np.array([[0.2, 0.4]])
DW_IN_LTD = np.array([[-0.1, -0.3]])


def test_worked_example_split_into_ltp_and_ltd():
    s_plus, s_minus = output_signals(DW_OUT)
    np.testing.assert_allclose(s_plus, [0.1, 0.5])
    np.testing.assert_allclose(s_minus, [-0.2, -1.0])
    np.testing.assert_allclose(normalise(s_plus), [1 / 6, 5 / 6])
    np.testing.assert_allclose(normalise(np.abs(s_minus)), [1 / 6, 5 / 6])
    np.testing.assert_array_equal(normalise(np.zeros(3)), np.zeros(3))


def test_paper_mode_by_hand():
    # gains f(1 + p n(S)) = 0.7 * [1.05, 1.25] for both LTP and LTD
    change = sbp_input_change("paper", DW_IN_LTP, DW_IN_LTD, DW_OUT, p=0.3, f=0.7)
    np.testing.assert_allclose(change, [[0.1 * 0.735, 0.1 * 0.875]])
    # Eq. 15 as printed: LTD gain f(1 - p n(|S-|)) = 0.7 * [0.95, 0.75]
    printed = sbp_input_change("paper", DW_IN_LTP, DW_IN_LTD, DW_OUT, p=0.3, f=0.7,
                               eq15_sign="-")
    np.testing.assert_allclose(printed, [[0.2 * 0.735 - 0.1 * 0.665, 0.4 * 0.875 - 0.3 * 0.525]])


ACTIVITY = np.array([3, 0, 5, 2])
LTP4 = np.zeros((4, 2))
LTD4 = np.zeros((4, 2))


def test_coactive_shares_reach_p_fraction():
    np.testing.assert_allclose(coactive_shares(ACTIVITY, 0.5), [3 / 8, 0, 5 / 8, 0])
    np.testing.assert_allclose(coactive_shares(ACTIVITY, 1.0), ACTIVITY / 10)
    assert np.count_nonzero(coactive_shares(np.arange(1, 11), 0.3)) == 3
    np.testing.assert_array_equal(coactive_shares(np.zeros(4), 0.5), np.zeros(4))


def test_spread_mode_by_hand():
    change = sbp_input_change("spread", LTP4, LTD4, DW_OUT, p=0.5, f=0.7, pre_activity=ACTIVITY)
    signal = 0.7 * np.array([0.1 - 0.2, 0.5 - 1.0])
    expected = np.outer([3 / 8, 0, 5 / 8, 0], signal)
    np.testing.assert_allclose(change, expected)


def test_weighted_mode_by_hand():
    w_out = np.array([[1.0, 2.0, 3.0], [-1.0, -1.0, -2.0]])
    change = sbp_input_change("weighted", LTP4, LTD4, DW_OUT, p=0.5, f=0.7, w_out=w_out,
                              pre_activity=ACTIVITY)
    signal = 0.7 * np.array([0.1 - 0.4, 0.4 - 0.5 + 1.2])
    np.testing.assert_allclose(change, np.outer([3 / 8, 0, 5 / 8, 0], signal))


def test_spread_modes_add_local_stdp():
    ltp = np.full((4, 2), 0.01)
    ltd = np.full((4, 2), -0.004)
    with_local = sbp_input_change("spread", ltp, ltd, DW_OUT, p=0.5, f=0.7, pre_activity=ACTIVITY)
    without = sbp_input_change("spread", ltp, ltd, DW_OUT, p=0.5, f=0.7, pre_activity=ACTIVITY,
                               include_local=False)
    np.testing.assert_allclose(with_local - without, ltp + ltd)


@pytest.mark.parametrize("mode", ["paper", "spread", "weighted"])
def test_propagated_change_keeps_sign_and_scales_with_f(mode):
    ltp = np.full((4, 1), 0.02)
    ltd = np.full((4, 1), -0.01)
    kwargs = dict(p=0.5, pre_activity=ACTIVITY, w_out=np.array([[1.5]]))
    for induced in (+0.3, -0.3):
        dw_out = np.array([[induced]])
        small = propagated_change(mode, ltp, ltd, dw_out, f=0.2, **kwargs)
        large = propagated_change(mode, ltp, ltd, dw_out, f=0.8, **kwargs)
        reached = small != 0
        assert reached.any()
        assert np.all(np.sign(small[reached]) == np.sign(induced))
        np.testing.assert_allclose(large, 4 * small)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown SBP mode 'both'"):
        sbp_input_change("both", LTP4, LTD4, DW_OUT)
    with pytest.raises(ValueError, match="'p' = 1.5 is out of range"):
        sbp_input_change("paper", LTP4, LTD4, DW_OUT, p=1.5)
    with pytest.raises(ValueError, match="needs the inputs' presynaptic activity"):
        sbp_input_change("spread", LTP4, LTD4, DW_OUT)


def test_model_file_sbp_section():
    model = load_model("sbp_digits")
    assert model["sbp"] == {"p": 0.3, "f": 0.7}
    assert model.options["sbp"]["mode"] == "paper"
