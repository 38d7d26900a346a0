"""Finding and loading protocol modules (``protocols/``, installed as ``sbp_brian.protocols``)."""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path


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
