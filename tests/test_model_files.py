"""Model files: the bundled ones load and build; each kind of bad file raises one clear error."""
import re
import subprocess
import sys

import pytest
from brian2 import Hz, ms, mV

from sbp_brian.model_files import ModelFileError, bundled_models, load_model
from sbp_brian.parameters import ParameterError, parse_quantity

MINIMAL = '''
name = "tiny"

[simulation]
dt = { value = "0.1*ms", source = "test" }

[neurons.hidden]
model = "conductance_lif"
tau_m = { value = "20*ms", source = "test" }
'''


def write(tmp_path, text, name="model.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_models_load_and_build():
    models = bundled_models()
    assert "sbp_digits" in models
    for name in models:
        model = load_model(name)
        for population in model.neurons:
            assert "dv/dt" in model.neuron_model(population).equations
        for projection in model.synapses:
            assert model.synapse_model(projection).on_pre


def test_sbp_digits_values_and_sources():
    model = load_model("sbp_digits")
    assert model["simulation"]["dt"] == 0.1 * ms
    assert model["sizes"]["hidden"] == 500
    assert model["input"]["max_rate"] == 200 * Hz
    assert model.neurons["hidden"].params["V_th"] == -50 * mV
    assert "Bi & Poo" in model.sources["synapses.hidden_output.stdp.tau_plus"]
    stdp = model.synapse_model("hidden_output")
    assert "dw_ltp" in stdp.model          # accumulate mode for the SBP step
    assert "efficacy" in model.synapse_model("input_hidden").on_pre


def test_minimal_file_fills_defaults(tmp_path):
    model = load_model(write(tmp_path, MINIMAL))
    assert model["simulation"]["sample_duration"] == 50 * ms
    assert model.neuron_model("hidden").namespace["tau_m"] == 20 * ms


BAD_FILES = {
    "unknown key": (MINIMAL.replace("tau_m =", "tau_membrane ="),
                    r"\[neurons.hidden\] unknown key 'tau_membrane'"),
    "missing unit": (MINIMAL.replace('"20*ms"', '"20"'),
                     r"\[neurons.hidden\].*'tau_m' has no unit: expected a value in ms"),
    "wrong unit": (MINIMAL.replace('"20*ms"', '"20*mV"'),
                   r"\[neurons.hidden\].*'tau_m' = 20. mV has the wrong unit: expected ms"),
    "negative time constant": (MINIMAL.replace('"20*ms"', '"-20*ms"'),
                               r"\[neurons.hidden\].*'tau_m' = -20. ms is out of range: must be > 0"),
    "missing source": (MINIMAL.replace('tau_m = { value = "20*ms", source = "test" }',
                                       'tau_m = { value = "20*ms" }'),
                       r"'tau_m' needs a 'source'"),
    "bare value": (MINIMAL.replace('tau_m = { value = "20*ms", source = "test" }',
                                   'tau_m = "20*ms"'),
                   r"'tau_m' must be a table \{ value = \.\.\., source"),
    "unknown section": (MINIMAL + '\n[optimizer]\nepochs = { value = 3, source = "x" }\n',
                        r"unknown section or key 'optimizer'"),
    "unknown neuron model": (MINIMAL.replace('"conductance_lif"', '"hodgkin_huxley"'),
                             r"unknown model 'hodgkin_huxley'"),
    "unknown option": (MINIMAL + '\n[input]\nencoding = "latency"\n',
                       r"\[input\] option 'encoding' = 'latency'"),
    "code injection": (MINIMAL.replace('"20*ms"', '"__import__(\'os\')"'),
                       r"cannot parse quantity"),
    "not toml": ("name = \n", r"not valid TOML"),
    "no name": (MINIMAL.replace('name = "tiny"', ''), r"missing top-level string 'name'"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_model_file_raises_one_clear_error(tmp_path, case):
    text, pattern = BAD_FILES[case]
    path = write(tmp_path, text)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message
    assert re.search(pattern, message), message


def test_missing_file_lists_bundled_models():
    with pytest.raises(ModelFileError, match="not found; bundled models: .*sbp_digits"):
        load_model("no_such_model")


def test_parse_quantity():
    assert parse_quantity("20*ms") == 20 * ms
    assert parse_quantity("-65*mV") == -65 * mV
    assert parse_quantity("1*nS/mV") == parse_quantity("1*nS") / mV
    assert parse_quantity(0.5) == 0.5
    with pytest.raises(ParameterError, match="unknown unit 'parsec'"):
        parse_quantity("3*parsec")


@pytest.mark.parametrize("old, new, message", [
    ('mode = "paper"', 'mode = "paper"\neq15_sign = "-"', r'\[sbp\] eq15_sign = "-": .*"\+" only'),
    ('encoding = "bernoulli"', 'encoding = "poisson"',
     r'\[input\] encoding = "poisson": .* "bernoulli" only'),
    ('mode = "accumulate"\npairing = "all"', 'mode = "accumulate"\npairing = "nearest"',
     r'\[synapses.hidden_output.stdp\] pairing = "nearest"'),
    ('bounds = "dale"', 'bounds = "clip"', r'\[synapses.hidden_output.stdp\] bounds = "clip"'),
    ('signed = true', 'signed = false',
     r'\[synapses.input_hidden.transmission\] signed = false: .* signed = true only'),
])
def test_training_network_refuses_choices_it_does_not_implement(tmp_path, old, new, message):
    """A model-file choice that the training network implements one way only (Poisson input,
    nearest pairing, Eq. 15's printed sign, ...) is refused by name, not silently replaced;
    the bundled values build."""
    from sbp_brian.network import TrainingConfig
    text = bundled_models()["sbp_digits"].read_text()
    assert old in text
    with pytest.raises(ModelFileError, match=message):
        TrainingConfig.from_model(load_model(write(tmp_path, text.replace(old, new, 1))),
                                  n_input=64, n_output=10)
    assert TrainingConfig.from_model(load_model("sbp_digits"), 64, 10).rule["mode"] == "paper"


def test_weight_bounds_are_refused_where_nothing_reads_them(tmp_path):
    """pair_stdp bounds its weights in immediate mode only: an accumulate-mode section (the
    training network's, whose bounds are [training] w_in_max and w_out_max) that gives w_min
    or w_max is refused by name; an immediate-mode one keeps them."""
    text = bundled_models()["sbp_digits"].read_text()
    anchor = 'tau_minus = { value = "33.7*ms", source = "Bi & Poo 2001 fit of the 1998 data" }'
    assert anchor in text
    for key in ("w_min", "w_max"):
        bounded = text.replace(anchor, anchor + f'\n{key} = {{ value = 2.0, source = "x" }}', 1)
        refused = rf"input_hidden.stdp\] pair_stdp: {key} bound\(s\) the weight in immediate mode"
        with pytest.raises(ModelFileError, match=refused):
            load_model(write(tmp_path, bounded))
    immediate = bounded.replace('mode = "accumulate"', 'mode = "immediate"', 1)
    assert load_model(write(tmp_path, immediate)).synapses["input_hidden"]["stdp"].params[
        "w_max"] == 2.0


def test_a_model_file_without_input_stp_trains_without_it(tmp_path):
    """STP is switched off by leaving out [synapses.input_hidden.stp] (the paper's STP
    ablation, fig. S2): every input spike then transmits with efficacy 1."""
    from sbp_brian.network import TrainingConfig
    text = bundled_models()["sbp_digits"].read_text()
    start = text.index("[synapses.input_hidden.stp]")
    end = text.index("[synapses.input_hidden.transmission]")
    model = load_model(write(tmp_path, text[:start] + text[end:]))
    assert "stp" not in model.synapses["input_hidden"]
    assert TrainingConfig.from_model(model, 64, 10).stp is None
    assert TrainingConfig.from_model(load_model("sbp_digits"), 64, 10).stp["U"] == 0.45
    # or by a key, which a sweep axis can switch; its values are still checked
    stp = '[synapses.input_hidden.stp]\nmodel = "tm_stp"\n'
    switched = text.replace(stp, stp + "enabled = false\n")
    assert switched != text
    assert TrainingConfig.from_model(load_model(write(tmp_path, switched)), 64, 10).stp is None
    for bad, message in ((switched.replace("U = { value = 0.45", "U = { value = 4.5"),
                          "out of range"),
                         (switched.replace("enabled = false", 'enabled = "no"'),
                          "only STP can be switched off"),
                         (text.replace('[synapses.hidden_output.stdp]\n',
                                       '[synapses.hidden_output.stdp]\nenabled = false\n'),
                          r"\[synapses.hidden_output.stdp\] 'enabled' = False: only STP")):
        with pytest.raises(ModelFileError, match=message):
            load_model(write(tmp_path, bad))


def test_input_signs_by_neuron_is_a_model_file_choice(tmp_path):
    """[training] input_signs = "neuron" gives Dale's law to the inputs (the bundled
    sbp_digits_dale_inputs); its inhibitory fraction is refused without it."""
    from sbp_brian.network import TrainingConfig
    config = TrainingConfig.from_model(load_model("sbp_digits_dale_inputs"), 64, 10)
    assert (config.input_signs, config.input_inhibitory_fraction) == ("neuron", 0.3333)
    assert TrainingConfig.from_model(load_model("sbp_digits"), 64, 10).input_signs == "synapse"
    text = bundled_models()["sbp_digits_dale_inputs"].read_text()
    with pytest.raises(ModelFileError, match='input_inhibitory_fraction is used with '
                                             'input_signs = "neuron" only'):
        TrainingConfig.from_model(load_model(write(tmp_path, text.replace(
            'input_signs = "neuron"', 'input_signs = "synapse"'))), 64, 10)
    with pytest.raises(ModelFileError, match="option 'input_signs' = 'pixel'"):
        load_model(write(tmp_path, text.replace('input_signs = "neuron"',
                                                 'input_signs = "pixel"'), "b.toml"))


def test_model_files_load_without_the_network_module():
    """The section registry sits below the modules that read it: loading a model file (every
    section, [training] and [sbp] included) imports neither the network nor the trainer."""
    code = ("import sys; from sbp_brian.model_files import load_model; "
            "m = load_model('sbp_digits'); assert m.sections['training']['epochs'] == 10; "
            "print(sorted(k for k in sys.modules if k.startswith('sbp_brian.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert "sbp_brian.sections" in loaded
    assert "sbp_brian.network" not in loaded and "sbp_brian.train" not in loaded
