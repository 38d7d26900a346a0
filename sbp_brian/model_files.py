"""Model files: one TOML file per published model/task in ``models/``.

A model file holds sizes, time step, sample duration and every parameter
with its unit and provenance::

    name = "sbp_digits"
    description = "..."

    [simulation]
    dt = { value = "0.1*ms", source = "SBP code: dt = 0.1 (dimensionless), read as ms" }

    [neurons.hidden]
    model = "conductance_lif"
    tau_m = { value = "20*ms", source = "physiological; Table S1 unavailable" }

    [synapses.input_hidden.stp]
    model = "tm_stp"
    U = { value = 0.2, source = "..." }

Every value is a table ``{ value = ..., source = ... }``: a number, or a
string such as ``"20*ms"`` parsed with Brian2's units (see
:func:`sbp_brian.parameters.parse_quantity`).  ``model`` keys and component
options (``mode = "accumulate"``) are plain strings.  The loader checks
names, units and ranges against the tables declared beside each factory, and
raises :class:`ModelFileError` naming the file, the key and what was
expected.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

from . import equations as eq
from . import rules  # noqa: F401  (the rules declare their sections, e.g. [sbp])
from .parameters import Param, ParameterError, parse_quantity
from .sections import SECTIONS

__all__ = ["ModelFile", "ModelFileError", "Component", "load_model", "bundled_models",
           "models_dir"]


class ModelFileError(ParameterError):
    """A model file is malformed: unknown key, missing/wrong unit, out-of-range value."""


@dataclass(frozen=True)
class ComponentKind:
    factory: Callable
    params: Mapping[str, Param]
    options: Mapping[str, tuple]
    option_docs: Mapping[str, tuple[Any, str]] = field(default_factory=dict)


NEURON_COMPONENTS = {
    name: ComponentKind(factory, params, {}) for name, (factory, params) in eq.NEURON_MODELS.items()
}
SYNAPSE_COMPONENTS = {
    "tm_stp": ComponentKind(eq.tm_stp, eq.STP_PARAMS, {}),
    "pair_stdp": ComponentKind(eq.pair_stdp, eq.STDP_PARAMS, {
        "mode": eq.STDP_MODES, "pairing": eq.STDP_PAIRINGS, "bounds": eq.STDP_BOUNDS}, {
        "mode": ("immediate", "immediate: apply each change at once; accumulate: sum the LTP "
                 "and LTD parts for a nonlocal step (the training network accumulates)"),
        "pairing": ("all", "all: every pre/post pair counts; nearest: the latest spike of the "
                    "other side only (the training network counts all pairs)"),
        "bounds": ("clip", "clip: w in [w_min, w_max]; dale: the weight keeps its sign, |w| "
                   "<= w_max (the training network's output synapses: their signs kept, |w| <= "
                   "[training] w_out_max)")}),
    "conductance_transmission": ComponentKind(
        eq.conductance_transmission, eq.TRANSMISSION_PARAMS, {"signed": (True, False)},
        {"signed": (False, "true: positive weights drive g_E, negative ones g_I (Dale's "
                            "law; the training network's synapses are signed)")}),
    "voltage_transmission": ComponentKind(eq.voltage_transmission,
                                          eq.VOLTAGE_TRANSMISSION_PARAMS, {}),
    "current_transmission": ComponentKind(eq.current_transmission,
                                          eq.CURRENT_TRANSMISSION_PARAMS, {}),
}
HOMEOSTASIS = ComponentKind(eq.with_homeostasis, eq.HOMEOSTASIS_PARAMS,
                            {"time_base": eq.HOMEOSTASIS_TIME_BASES},
                            {"time_base": ("sample", "Eq. 9's lambda: sample, the fraction of "
                                           "the sample elapsed (the released code's reading);"
                                           " epochs, the paper's printed t_e/T_e")})
SYNAPSE_ROLES = ("stp", "transmission", "stdp")


@dataclass(frozen=True)
class Component:
    """One model component read from a file: its factory name, parameters and options."""

    model: str
    params: Mapping[str, Any]
    options: Mapping[str, Any]


@dataclass
class ModelFile:
    """A validated model file."""

    path: Path
    name: str
    description: str
    sections: dict[str, dict[str, Any]]
    options: dict[str, dict[str, Any]]
    neurons: dict[str, Component]
    homeostasis: dict[str, Component]
    synapses: dict[str, dict[str, Component]]
    sources: dict[str, str]

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.sections[section]

    def neuron_model(self, population: str, dale: bool = False) -> eq.NeuronModel:
        """The :class:`~sbp_brian.equations.NeuronModel` of a population, with homeostasis
        if the file sets it, and with the ``dale_sign`` variable if ``dale``."""
        comp = self._get(self.neurons, population, "neurons")
        model = NEURON_COMPONENTS[comp.model].factory(**comp.params)
        if population in self.homeostasis:
            model = eq.with_homeostasis(model, **self.homeostasis[population].params)
        return eq.with_dale_sign(model) if dale else model

    def synapse_model(self, projection: str) -> eq.SynapseModel:
        """The combined :class:`~sbp_brian.equations.SynapseModel` of a projection.

        Components are combined as STP, then transmission (scaled by the STP
        efficacy when STP is present), then STDP.
        """
        parts = self._get(self.synapses, projection, "synapses")
        built = []
        for role in SYNAPSE_ROLES:
            if role not in parts:
                continue
            comp = parts[role]
            kwargs = {**comp.options, **comp.params}
            if role == "transmission" and "stp" in parts:
                kwargs["factor"] = "efficacy"
            built.append(SYNAPSE_COMPONENTS[comp.model].factory(**kwargs))
        return eq.combine(*built)

    def refuse_unread(self, read: Mapping[str, Any], reader: str) -> None:
        """Refuse, by name, every key the file gives outside ``[neurons]`` and ``[synapses]``
        that ``read`` (section -> the keys the reader uses, ``None`` for all of them) does
        not name: no setting is silently ignored.  ``reader`` names who reads the file."""
        given = [key for key in self.sources if not key.startswith(("neurons.", "synapses."))]
        given += [f"{section}.{option}" for section, options in self.options.items()
                  for option in options]
        for key in given:
            section, _, name = key.partition(".")
            allowed = read.get(section, set())
            if allowed is not None and name not in allowed:
                raise ModelFileError(f"{self.path}: [{section}] {name} is not read by {reader}; "
                                     "remove it")

    def _get(self, table: Mapping[str, Any], key: str, what: str):
        if key not in table:
            raise KeyError(f"{self.path.name}: no [{what}.{key}] (has: {', '.join(table) or 'none'})")
        return table[key]


def models_dir() -> Path:
    """The folder of bundled model files (``models/`` in the repository, installed as
    ``sbp_brian.models``)."""
    try:
        return Path(str(resources.files("sbp_brian.models")))
    except ModuleNotFoundError:  # running from a source tree that is not installed
        return Path(__file__).resolve().parent.parent / "models"


def bundled_models() -> dict[str, Path]:
    """The model files shipped with the package, by name (file stem)."""
    return {path.stem: path for path in sorted(models_dir().glob("*.toml"))}


def load_model(path_or_name: str | Path) -> ModelFile:
    """Load and validate a model file, given a path or the name of a bundled model."""
    path = Path(path_or_name)
    if not path.exists():
        bundled = bundled_models()
        if str(path_or_name) in bundled:
            path = bundled[str(path_or_name)]
        else:
            raise ModelFileError(f"model file {path_or_name!s} not found; bundled models: "
                                 f"{', '.join(sorted(bundled))}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ModelFileError(f"{path}: not valid TOML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{path}: cannot read: {err}") from None
    return _Reader(path).read(data)


class _Reader:
    def __init__(self, path: Path):
        self.path = path
        self.sources: dict[str, str] = {}

    def error(self, key: str, message: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: [{key}] {message}" if key else f"{self.path}: {message}")

    def read(self, data: dict) -> ModelFile:
        if not isinstance(data.get("name"), str):
            raise self.error("", "missing top-level string 'name'")
        sections, options = {}, {}
        neurons, homeostasis, synapses = {}, {}, {}
        for key, value in data.items():
            if key in ("name", "description", "reference"):
                if not isinstance(value, str):
                    raise self.error("", f"'{key}' must be a string")
                continue
            if key == "neurons":
                for population, table in self.table(value, key).items():
                    where = f"neurons.{population}"
                    table = dict(self.table(table, where))
                    homeo = table.pop("homeostasis", None)
                    neurons[population] = self.component(table, where, NEURON_COMPONENTS)
                    if homeo is not None:
                        homeo = dict(self.table(homeo, where + ".homeostasis"))
                        homeo.setdefault("model", "homeostasis")
                        homeostasis[population] = self.component(
                            homeo, where + ".homeostasis", {"homeostasis": HOMEOSTASIS})
            elif key == "synapses":
                for projection, table in self.table(value, key).items():
                    parts = {}
                    for role, sub in self.table(table, f"synapses.{projection}").items():
                        where = f"synapses.{projection}.{role}"
                        if role not in SYNAPSE_ROLES:
                            raise self.error(where, f"unknown synapse component '{role}'; "
                                             f"expected one of {', '.join(SYNAPSE_ROLES)}")
                        sub = dict(self.table(sub, where))
                        enabled = sub.pop("enabled", True)
                        if enabled is not True and (role != "stp" or enabled is not False):
                            raise self.error(where, f"'enabled' = {enabled!r}: only STP can be "
                                             "switched off (enabled = false); its default is "
                                             "true")
                        component = self.component(sub, where, SYNAPSE_COMPONENTS)
                        if enabled:  # STP switched off: checked, then left out (the ablation)
                            parts[role] = component
                    synapses[projection] = parts
            elif key in SECTIONS:
                schema = SECTIONS[key]
                params, opts = self.values(self.table(value, key), key, schema.params,
                                           schema.options)
                sections[key], options[key] = params, opts
            else:
                known = ["name", "description", "reference", "neurons", "synapses", *SECTIONS]
                raise self.error("", f"unknown section or key '{key}'; expected one of "
                                 f"{', '.join(known)}")
        if "simulation" not in sections:  # dt and sample duration always have values
            schema = SECTIONS["simulation"]
            sections["simulation"], options["simulation"] = self.values(
                {}, "simulation", schema.params, schema.options)
        return ModelFile(self.path, data["name"], data.get("description", ""), sections, options,
                         neurons, homeostasis, synapses, self.sources)

    def table(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(where, f"expected a table, got {value!r}")
        return value

    def component(self, table: Mapping[str, Any], where: str,
                  kinds: Mapping[str, ComponentKind]) -> Component:
        table = dict(table)
        model = table.pop("model", None)
        if model is None:
            raise self.error(where, f"missing 'model'; expected one of {', '.join(kinds)}")
        if model not in kinds:
            raise self.error(where, f"unknown model '{model}'; expected one of {', '.join(kinds)}")
        kind = kinds[model]
        params, opts = self.values(table, where, kind.params, kind.options, use_defaults=False)
        if kind is not HOMEOSTASIS:  # the factory itself checks required keys and defaults
            try:
                kind.factory(**opts, **params)
            except (ParameterError, ValueError) as err:
                raise self.error(where, str(err)) from None
        return Component(model, params, opts)

    def values(self, table: Mapping[str, Any], where: str, schema: Mapping[str, Param],
               option_schema: Mapping[str, tuple], use_defaults: bool = True):
        params, opts = {}, {}
        for key, entry in table.items():
            if key in option_schema:
                if entry not in option_schema[key]:
                    raise self.error(where, f"option '{key}' = {entry!r}; expected one of "
                                     f"{', '.join(map(repr, option_schema[key]))}")
                opts[key] = entry
                continue
            if key not in schema:
                known = sorted([*schema, *option_schema])
                raise self.error(where, f"unknown key '{key}'; expected one of {', '.join(known)}")
            if not isinstance(entry, Mapping) or "value" not in entry:
                raise self.error(where, f"'{key}' must be a table {{ value = ..., source = \"...\" }}"
                                 f", got {entry!r}")
            extra = set(entry) - {"value", "source"}
            if extra:
                raise self.error(where, f"'{key}' has unknown field(s) {sorted(extra)}; "
                                 "expected 'value' and 'source'")
            if not isinstance(entry.get("source"), str) or not entry["source"].strip():
                raise self.error(where, f"'{key}' needs a 'source' string (where the value "
                                 "comes from: paper equation, released code, or 'tuned here')")
            try:
                value = entry["value"]
                value = ([parse_quantity(item) for item in value] if isinstance(value, list)
                         else parse_quantity(value))
                params[key] = schema[key].check(key, value)
            except ParameterError as err:
                raise self.error(where, str(err)) from None
            self.sources[f"{where}.{key}"] = entry["source"]
        if use_defaults:
            for key, spec in schema.items():
                if key not in params:
                    if spec.default is None:
                        raise self.error(where, f"missing required key '{key}' ({spec.doc}, "
                                         f"in {spec.unit_name()})")
                    params[key] = spec.default
        return params, opts
