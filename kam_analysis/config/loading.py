"""Loading a parameter file: YAML, ``--set`` overrides, friendly validation errors, paths."""
from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..exceptions import ParameterError
from .resources import FILL_IN, REPO_ROOT, SOURCE_CHECKOUT, TEMPLATES_DIR
from .schema import Params, client_slug

def read_yaml_mapping(path: str | Path, *, what: str, setting: str) -> dict:
    """Read a consultant-editable YAML file (playbooks, benchmarks, RFM segments) as a mapping.

    Raises
    ------
    ParameterError
        The file is missing, is not valid YAML, or is not a mapping; the message names the
        file and the parameter that points at it.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{what} {path} not found; fix: set {setting} in the params to an existing file, "
                             "or remove it to use the default in templates/")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParameterError(f"{what} {path} is not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise ParameterError(f"{what} {path} is not UTF-8 text; fix: save it as UTF-8") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{what} {path} must be a YAML mapping (key: value), not {type(data).__name__}")
    return data


def parse_overrides(items: list[str] | None) -> list[tuple[list[str], Any]]:
    """Parse ``key.sub=value`` strings.

    A value whose field the schema types as text (a name, a title, a path) is kept as
    written; any other value is read as YAML (numbers, dates, booleans, lists).
    """
    out = []
    for item in items or []:
        if "=" not in item:
            raise ParameterError(
                f"override {item!r} is not of the form key.sub=value; "
                "fix: write e.g. --set analysis.churn_days=120"
            )
        key, raw = item.split("=", 1)
        key = key.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*", key):
            raise ParameterError(f"override key {key!r} is not a dotted name like analysis.churn_days")
        text = _text_field(key.split("."))
        if text:
            # the schema says text: "No", "1.0" and "2024-01-01" stay the words written; an
            # optional one is unset by an empty value or null
            value = raw.strip()
            if text == "optional" and value in ("", "null", "~"):
                value = None
        else:
            try:
                value = yaml.safe_load(raw) if raw.strip() else None
            except yaml.YAMLError as exc:
                raise ParameterError(f"override {item!r}: value is not valid YAML ({exc})") from None
        out.append((key.split("."), value))
    return out


def _text_field(path: list[str]) -> str:
    """``"required"`` or ``"optional"`` when the schema types ``path`` as text (str or a
    path), else ``""``.

    ``--set`` values are typed by the schema, not by YAML's guessing: YAML would read a
    client called ``No`` as ``False`` and a title ``2024`` as a number.
    """
    import types
    import typing

    model: Any = Params
    for i, part in enumerate(path):
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return ""
        ann = fields[part].annotation
        union = typing.get_origin(ann) in (typing.Union, types.UnionType)
        args = [a for a in (typing.get_args(ann) if union else (ann,)) if a is not type(None)]
        if i == len(path) - 1:
            text = bool(args) and all(isinstance(a, type) and issubclass(a, (str, Path)) for a in args)
            return ("optional" if union and type(None) in typing.get_args(ann) else "required") if text else ""
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return ""


def _apply_override(raw: dict, path: list[str], value: Any) -> None:
    node = raw
    for part in path[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise ParameterError(f"override {'.'.join(path)}: '{part}' is a value, not a section")
        node = nxt
    node[path[-1]] = value


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (for key suggestions)."""
    model: Any = Params
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return None
        ann = fields[part].annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model


def _format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"Parameter file {source} is invalid:"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            model = _model_at(loc)
            valid = sorted(getattr(model, "model_fields", {}).keys()) if model else []
            valid = [v for v in valid if v != "source_path"]
            guess = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
            hint = f" Did you mean '{guess[0]}'?" if guess else ""
            lines.append(
                f"  - unknown key '{dotted}'.{hint} Valid keys here: {', '.join(valid)}"
            )
        elif err["type"] == "missing":
            lines.append(f"  - '{dotted}' is required but missing; fix: add it to the parameter file")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = err.get("input")
            # a connection setting may hold a pasted URL with its password: never repeat it
            got_s = "" if isinstance(got, dict) or (loc and loc[-1] == "connection") else f" (got {got!r})"
            lines.append(f"  - '{dotted}': {msg}{got_s}" if dotted else f"  - {msg}")
    return "\n".join(lines)


def _resolve_paths(params: Params, base: Path) -> Params:
    def res(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = Path(p).expanduser()
        return p if p.is_absolute() else (base / p).resolve()

    for name in ("transactions", "accounts", "surveys", "capability"):
        spec = getattr(params.data, name)
        if spec is not None and spec.path is not None:
            spec.path = res(spec.path)
    params.benchmarks.file = res(params.benchmarks.file) or TEMPLATES_DIR / "benchmarks.yaml"
    params.strategy.playbooks = res(params.strategy.playbooks) or TEMPLATES_DIR / "playbooks.yaml"
    params.branding.template = res(params.branding.template) or TEMPLATES_DIR / "kam_template.pptx"
    params.branding.logo = res(params.branding.logo)
    params.segmentation.overrides_file = res(params.segmentation.overrides_file)
    params.segmentation.rfm.segments_file = res(params.segmentation.rfm.segments_file)
    params.review.actions_file = res(params.review.actions_file)
    plan = params.review.plan_run
    if plan is not None and plan != "latest":  # a run folder relative to the params file; else a run id, kept
        folder = Path(plan).expanduser()
        folder = folder if folder.is_absolute() else base / folder
        if folder.is_dir() or any(sep in plan for sep in ("/", "\\")) or plan.startswith("."):
            params.review.plan_run = str(folder.resolve())
    root = Path(params.output.root).expanduser()
    # output.root is relative to the repository (where `kam` is meant to be run), not the params file
    # relative output roots: the repository's outputs/ in a source checkout; for an
    # installed package, the folder kam runs in
    params.output.root = root if root.is_absolute() else ((REPO_ROOT if SOURCE_CHECKOUT else Path.cwd()) / root).resolve()
    return params


def _to_fill_in(raw: Any, prefix: str = "") -> list[str]:
    """The dotted keys whose value is still the :data:`FILL_IN` marker."""
    if isinstance(raw, dict):
        return [k for key, v in raw.items() for k in _to_fill_in(v, f"{prefix}{key}.")]
    if isinstance(raw, list):
        return [k for i, v in enumerate(raw) for k in _to_fill_in(v, f"{prefix}{i}.")]
    return [prefix.rstrip(".")] if isinstance(raw, str) and raw.strip() == FILL_IN else []


def load_params(path: str | Path, overrides: list[str] | None = None) -> Params:
    """Load, override and validate a client parameter file.

    Parameters
    ----------
    path : str or Path
        The YAML parameter file.
    overrides : list of str, optional
        ``key.sub=value`` strings applied before validation (as ``kam --set``).

    Returns
    -------
    Params
        Validated parameters with every path made absolute.

    Raises
    ------
    ParameterError
        The file is missing, is not YAML, or fails the schema; the message names each
        offending key and how to fix it.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ParameterError(
            f"Parameter file {path} not found; fix: check the path, or copy "
            "params/example_client.yaml to params/<client>.yaml and edit it"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        raise ParameterError(f"Parameter file {path} is not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise ParameterError(f"Parameter file {path} is not UTF-8 text; fix: save it as UTF-8") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParameterError(f"Parameter file {path} must be a mapping of sections (client:, data:, ...)")
    for key_path, value in parse_overrides(overrides):
        _apply_override(raw, key_path, value)
    todo = _to_fill_in(raw)
    if todo:
        raise ParameterError(
            f"Parameter file {path} still has {len(todo)} value(s) to fill in: {', '.join(todo)}; fix: replace "
            f"each {FILL_IN} with the client's value (the comment beside it says what), then run "
            f"kam validate {path}")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ParameterError(_format_validation_error(exc, str(path))) from None
    params.source_path = path.resolve()
    client_slug(params.client.name)  # fail early on a name that gives no folder
    return _resolve_paths(params, path.resolve().parent)
