"""Parameter schema: loading, unknown-key suggestions, overrides, paths, slugs."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from kam_analysis.config import client_slug, load_params, parse_overrides
from kam_analysis.exceptions import ParameterError

REPO = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, raw: dict) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


@pytest.fixture()
def minimal() -> dict:
    return {"client": {"name": "Acme"}, "data": {"transactions": {"path": "orders.csv"}},
            "analysis": {"as_of_date": "2025-06-30"}}


def test_demo_and_example_params_validate():
    demo = load_params(REPO / "params" / "demo.yaml")
    assert demo.client.name == "Maison Demo"
    assert demo.analysis.as_of_date == dt.date(2025, 12, 31)
    assert demo.data.transactions.columns["account_id"] == "Customer ID"
    example = load_params(REPO / "params" / "example_client.yaml")
    assert example.slug == "example-client"


def test_relative_paths_resolve_against_params_file(tmp_path, minimal):
    p = load_params(_write(tmp_path, minimal))
    assert p.data.transactions.path == (tmp_path / "orders.csv").resolve()
    assert p.benchmarks.file.name == "benchmarks.yaml"


def test_misspelt_key_suggests_nearest(tmp_path, minimal):
    minimal["analysis"]["churn_dyas"] = 90
    with pytest.raises(ParameterError, match=r"unknown key 'analysis\.churn_dyas'\. Did you mean 'churn_days'\?"):
        load_params(_write(tmp_path, minimal))


def test_misspelt_top_level_section_suggests_nearest(tmp_path, minimal):
    minimal["tresholds"] = {"min_denominator": 10}
    with pytest.raises(ParameterError, match="Did you mean 'thresholds'"):
        load_params(_write(tmp_path, minimal))


def test_missing_required_key_named(tmp_path, minimal):
    del minimal["analysis"]["as_of_date"]
    with pytest.raises(ParameterError, match=r"'analysis\.as_of_date' is required"):
        load_params(_write(tmp_path, minimal))


def test_programme_start_after_as_of_is_rejected(tmp_path, minimal):
    minimal["analysis"]["programme_start"] = "2026-01-01"
    with pytest.raises(ParameterError, match="programme_start .* is after analysis.as_of_date"):
        load_params(_write(tmp_path, minimal))


def test_rag_thresholds_must_be_ordered(tmp_path, minimal):
    minimal["thresholds"] = {"rag": {"amber": 0.3, "red": 0.1}}
    with pytest.raises(ParameterError, match=r"rag\.red \(0\.1\) must be >= thresholds\.rag\.amber"):
        load_params(_write(tmp_path, minimal))


def test_tier_shares_must_sum_to_one(tmp_path, minimal):
    minimal["segmentation"] = {"tiers": {"Key": 0.2, "Rest": 0.7}}
    with pytest.raises(ParameterError, match="must sum to 1, they sum to 0.900"):
        load_params(_write(tmp_path, minimal))


def test_overrides_apply_before_validation(tmp_path, minimal):
    p = load_params(_write(tmp_path, minimal), ["analysis.churn_days=120", "analysis.period=month",
                                                "targets.nps=45.5"])
    assert p.analysis.churn_days == 120
    assert p.analysis.period == "month"
    assert p.targets["nps"] == 45.5


def test_override_of_unknown_key_is_an_error(tmp_path, minimal):
    with pytest.raises(ParameterError, match="Did you mean 'churn_days'"):
        load_params(_write(tmp_path, minimal), ["analysis.churn_day=120"])


def test_override_must_have_equals_sign():
    with pytest.raises(ParameterError, match="not of the form key.sub=value"):
        parse_overrides(["analysis.churn_days"])


def test_override_values_are_yaml_data_not_code():
    [(path, value)] = parse_overrides(["client.name=__import__('os').system('x')"])
    assert path == ["client", "name"]
    assert value == "__import__('os').system('x')"


def test_bad_value_type_names_key_and_value(tmp_path, minimal):
    minimal["analysis"]["churn_days"] = "soon"
    with pytest.raises(ParameterError, match=r"'analysis\.churn_days'.*got 'soon'"):
        load_params(_write(tmp_path, minimal))


def test_missing_params_file(tmp_path):
    with pytest.raises(ParameterError, match="not found; fix: check the path"):
        load_params(tmp_path / "nope.yaml")


def test_params_file_that_is_not_a_mapping(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ParameterError, match="must be a mapping"):
        load_params(p)


@pytest.mark.parametrize("name, slug", [
    ("Maison Demo", "maison-demo"),
    ("../../etc/passwd", "etc-passwd"),
    ("Café Größe & Co.", "cafe-groe-co"),
    ("  ACME  Retail  ", "acme-retail"),
])
def test_client_slug_is_a_safe_folder_name(name, slug):
    assert client_slug(name) == slug


def test_client_slug_for_non_latin_name_is_stable_and_safe():
    slug = client_slug("東京百貨店")
    assert slug.startswith("client-") and slug == client_slug("東京百貨店") != client_slug("大阪百貨店")


@pytest.mark.parametrize("name", ["..", "/", "???", "- -"])
def test_client_slug_rejects_names_without_letters_or_digits(name):
    with pytest.raises(ParameterError, match="no letters or digits"):
        client_slug(name)


@pytest.mark.parametrize("loader, kwargs, what", [
    ("kam_analysis.phases.playbooks:load_playbooks", {}, "playbooks file"),
    ("kam_analysis.phases.rfm:load_rfm_segments", {}, "RFM segments file"),
])
def test_malformed_consultant_yaml_is_a_message_not_a_traceback(tmp_path, loader, kwargs, what):
    import importlib

    mod, fn = loader.split(":")
    bad = tmp_path / "bad.yaml"
    bad.write_text("segments: [unclosed\n")
    with pytest.raises(ParameterError, match=f"{what} .* is not valid YAML"):
        getattr(importlib.import_module(mod), fn)(bad, **kwargs)
    with pytest.raises(ParameterError, match=f"{what} .* not found; fix: set"):
        getattr(importlib.import_module(mod), fn)(tmp_path / "missing.yaml", **kwargs)


def test_plan_run_is_a_folder_relative_to_the_params_file_a_run_id_or_latest(tmp_path, minimal):
    (tmp_path / "runs" / "20260101T000000Z-abc123").mkdir(parents=True)
    minimal["review"] = {"plan_run": "runs/20260101T000000Z-abc123", "actions_file": "returned.csv"}
    p = load_params(_write(tmp_path, minimal))
    assert p.review.plan_run == str((tmp_path / "runs" / "20260101T000000Z-abc123").resolve())
    assert p.review.actions_file == (tmp_path / "returned.csv").resolve()
    minimal["review"] = {"plan_run": "20260101T000000Z-abc123"}  # a run id: found under outputs/<client>/
    assert load_params(_write(tmp_path, minimal)).review.plan_run == "20260101T000000Z-abc123"
    minimal["review"] = {"plan_run": " Latest "}
    assert load_params(_write(tmp_path, minimal)).review.plan_run == "latest"
    minimal["review"] = {"plan_run": ""}
    assert load_params(_write(tmp_path, minimal)).review.plan_run is None
    assert load_params(_write(tmp_path, {k: v for k, v in minimal.items() if k != "review"})).review.plan_run is None
