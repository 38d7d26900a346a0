"""The ``sbp-brian`` command.

Subcommands:

* ``sbp-brian doctor``                      -- which targets (numpy, cython, cpp, cuda) work here;
* ``sbp-brian models [FILE ...]``           -- list bundled model files, or validate files;
* ``sbp-brian protocol NAME [--out DIR] [--device T]`` -- run a protocol from ``protocols/``.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from pathlib import Path

from .parameters import ParameterError
from .targets import TARGETS, TargetError


def protocol_names() -> list[str]:
    """Protocol modules available (``protocols/*.py``, installed as ``sbp_brian.protocols``)."""
    return sorted(p.stem for p in _protocols_dir().glob("*.py") if not p.stem.startswith("_"))


def _protocols_dir() -> Path:
    spec = importlib.util.find_spec("sbp_brian.protocols")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(__file__).resolve().parent.parent / "protocols"


def load_protocol(name: str):
    """Import a protocol module by name."""
    names = protocol_names()
    if name not in names:
        raise SystemExit(f"sbp-brian: unknown protocol {name!r}; available: {', '.join(names)}")
    try:
        return importlib.import_module(f"sbp_brian.protocols.{name}")
    except ModuleNotFoundError:  # source tree, not installed
        path = _protocols_dir() / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"sbp_brian_protocol_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def _doctor(args) -> int:
    from .targets import doctor
    for status in doctor():
        mark = "ok " if status.usable else ("compile-only" if status.compiles else "no ")
        print(f"{status.target:7s} {mark:12s} {status.reason}")
    return 0


def _models(args) -> int:
    from .model_files import bundled_models, load_model
    if not args.files:
        for name, path in bundled_models().items():
            model = load_model(path)
            print(f"{name:20s} {path}\n    {model.description}")
        return 0
    for file in args.files:
        model = load_model(file)
        print(f"{file}: ok ({model.name}: {len(model.neurons)} neuron populations, "
              f"{len(model.synapses)} projections, {len(model.sources)} sourced values)")
    return 0


def _protocol(args) -> int:
    module = load_protocol(args.name)
    out = Path(args.out or Path("runs") / args.name)
    start = time.perf_counter()
    summary = module.run(out, device=args.device)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    print(json.dumps(summary, indent=2))
    print(f"wrote {out}/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sbp-brian", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="report which code-generation targets work here")
    doctor.set_defaults(func=_doctor)
    models = commands.add_parser("models", help="list bundled model files or validate files")
    models.add_argument("files", nargs="*", help="model files to validate")
    models.set_defaults(func=_models)
    protocol = commands.add_parser("protocol", help="run a plasticity protocol")
    protocol.add_argument("name", help=f"one of: {', '.join(protocol_names())}")
    protocol.add_argument("--out", help="output folder (default runs/NAME)")
    protocol.add_argument("--device", default="cpp", choices=TARGETS,
                          help="code-generation target (default cpp)")
    protocol.set_defaults(func=_protocol)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ParameterError, TargetError) as err:
        print(f"sbp-brian: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
