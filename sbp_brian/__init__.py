"""sbp-brian: plasticity-based learning in spiking networks on Brian2.

Modules:

* :mod:`sbp_brian.equations`   -- equation-string model factories (LIF, conductance LIF, IF,
  TM-STP, pair STDP, Dale's law, homeostasis);
* :mod:`sbp_brian.parameters`  -- parameters with units, parsing and validation;
* :mod:`sbp_brian.model_files` -- the TOML model files in ``models/``;
* :mod:`sbp_brian.targets`     -- numpy / cython / cpp_standalone / cuda_standalone switch;
* :mod:`sbp_brian.cli`         -- the ``sbp-brian`` command.
"""
__version__ = "0.1.0"
