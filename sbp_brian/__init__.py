"""sbp-brian: plasticity-based learning in spiking networks on Brian2.

Modules:

* :mod:`sbp_brian.equations`   -- equation-string model factories (LIF, conductance LIF, IF,
  TM-STP, pair STDP, Dale's law, homeostasis);
* :mod:`sbp_brian.parameters`  -- parameters with units, parsing and validation;
* :mod:`sbp_brian.model_files` -- the TOML model files in ``models/``;
* :mod:`sbp_brian.targets`     -- numpy / cython / cpp_standalone / cuda_standalone switch;
* :mod:`sbp_brian.rules`       -- the learning rules of the hidden layer, one module each:
  SBP ("paper", "spread", "weighted"), local STDP only, the frozen-hidden control;
* :mod:`sbp_brian.network`     -- the SBP training network, boundary step as generated code;
* :mod:`sbp_brian.train`       -- training loop: compiled fast path, runtime reference,
  checkpoints;
* :mod:`sbp_brian.project_cache` -- compiled standalone projects reused across runs;
* :mod:`sbp_brian.runs`        -- runs on disk, evaluation, the SBP paper's cost, comparisons;
* :mod:`sbp_brian.datasets`    -- digits, iris, xor, IDX (MNIST, Fashion-MNIST), npz;
* :mod:`sbp_brian.plotting`, :mod:`sbp_brian.figures` -- plots and the figure index;
* :mod:`sbp_brian.dense`       -- the same network as a dense numpy simulation (benchmark, oracle);
* :mod:`sbp_brian.bench`       -- speed of every way to run the training workload;
* :mod:`sbp_brian.results`, :mod:`sbp_brian.docs` -- the measured results as tables from their
  artifacts, and the generated parts of README.md and docs/;
* :mod:`sbp_brian.cli`         -- the ``sbp-brian`` command.
"""
__version__ = "0.1.0"
