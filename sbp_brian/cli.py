"""The ``sbp-brian`` command.

Subcommands:

* ``sbp-brian doctor``                      -- which targets (numpy, cython, cpp, cuda) work here;
* ``sbp-brian models [FILE ...]``           -- list bundled model files, or validate files;
* ``sbp-brian protocol NAME [--out DIR] [--device T]`` -- run a protocol from ``protocols/``;
* ``sbp-brian figures [--out DIR] [--only NAME ...]`` -- regenerate every protocol figure.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .cli_support import load_protocol, protocol_names
from .parameters import ParameterError
from .targets import TARGETS, TargetError


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
    summary = module.run(out, **({"device": args.device} if args.device else {}))
    summary["seconds"] = round(time.perf_counter() - start, 2)
    print(json.dumps(summary, indent=2))
    print(f"wrote {out}/")
    return 0


def _figures(args) -> int:
    from .figures import regenerate
    regenerate(args.out, only=args.only, device=args.device)
    print(f"wrote {args.out}/README.md")
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
    protocol.add_argument("--device", choices=TARGETS,
                          help="code-generation target (default: the protocol's own)")
    protocol.set_defaults(func=_protocol)
    figures = commands.add_parser("figures", help="regenerate all protocol figures into figures/")
    figures.add_argument("--out", default="figures", help="output folder (default figures)")
    figures.add_argument("--only", nargs="+", metavar="NAME", help="only these protocols")
    figures.add_argument("--device", choices=TARGETS, help="force one target for all protocols")
    figures.set_defaults(func=_figures)
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
