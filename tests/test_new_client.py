"""`kam new-client` writes a clean file; `kam validate` checks every setting before a run."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from data_helpers import TRANSACTIONS, write_file, write_params
from kam_analysis.cli import main
from kam_analysis.config import FILL_IN, REPO_ROOT, load_params
from kam_analysis.exceptions import ParameterError
from kam_analysis.preflight import check_params


def _demo_texts() -> list[str]:
    """Every client-specific value of the demo's params: none may reach a new client's file."""
    raw = yaml.safe_load((REPO_ROOT / "params" / "demo.yaml").read_text())
    out = []

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str) and len(v) > 12:
            out.append(v)
    walk(raw["context"])
    return out


def test_new_client_file_holds_nothing_of_another_client(tmp_path, capsys):
    assert main(["new-client", "Acme Retail", "--dir", str(tmp_path)]) == 0
    text = (tmp_path / "acme-retail.yaml").read_text()
    assert 'name: "Acme Retail"' in text
    for demo_text in _demo_texts():
        assert demo_text not in text
    raw = yaml.safe_load(text)
    assert raw["targets"] == {} and raw["context"] == {} and raw["benchmarks"]["overrides"] == {}
    assert raw["strategy"]["managers"] == {} and raw["engagement"]["next_steps"] == []
    # what only the consultant knows is marked, never defaulted to the demo's (EUR, 2024-07-01 ...)
    assert raw["client"]["currency"] == FILL_IN and raw["client"]["industry"] == FILL_IN
    assert raw["analysis"]["as_of_date"] == FILL_IN and raw["analysis"]["programme_start"] == FILL_IN
    assert raw["data"]["transactions"] == {"path": FILL_IN, "columns": {
        "account_id": FILL_IN, "order_date": FILL_IN, "net_revenue": FILL_IN}}
    assert set(raw["data"]) == {"transactions"}


def test_a_file_with_fill_in_left_is_refused_naming_each_key(tmp_path, capsys):
    main(["new-client", "Acme Retail", "--dir", str(tmp_path), "--currency", "usd", "--industry", "online_retail"])
    path = tmp_path / "acme-retail.yaml"
    with pytest.raises(ParameterError) as exc:
        load_params(path)
    msg = str(exc.value)
    assert ("still has 6 value(s) to fill in: data.transactions.path, data.transactions.columns.account_id, "
            "data.transactions.columns.order_date, data.transactions.columns.net_revenue, analysis.as_of_date, "
            "analysis.programme_start") in msg
    assert "client.currency" not in msg and f"replace each {FILL_IN}" in msg
    assert main(["validate", str(path)]) == 2
    assert "still has 6 value(s) to fill in" in capsys.readouterr().err


def test_options_fill_in_the_client_and_the_filled_file_validates(tmp_path, capsys):
    assert main(["new-client", "Acme Retail", "--dir", str(tmp_path), "--currency", "gbp", "--industry",
                 "wholesale_distribution", "--as-of", "2024-06-30", "--no-programme"]) == 0
    path = tmp_path / "acme-retail.yaml"
    data = write_file(tmp_path / "client" / "orders.csv", TRANSACTIONS)
    text = path.read_text().replace(f"path: {FILL_IN}", f"path: {data}")
    for col in ("account_id", "order_date", "net_revenue"):
        text = text.replace(f"{col}: {FILL_IN}", f"{col}: {col}")
    path.write_text(text)
    p = load_params(path)
    assert (p.client.currency, p.client.industry) == ("GBP", "wholesale_distribution")
    assert str(p.analysis.as_of_date) == "2024-06-30" and p.analysis.programme_start is None
    assert p.targets == {} and p.context.five_forces is None
    assert main(["validate", str(path)]) == 0
    assert "Data OK, parameters OK" in capsys.readouterr().out


@pytest.mark.parametrize("argv,expected", [
    (["--industry", "retail"], "--industry 'retail' has no benchmark set; fix: choose one of"),
    (["--currency", "dollars"], "--currency 'dollars' is not an ISO currency code"),
    (["--as-of", "30/06/2025"], "--as-of '30/06/2025' is not a date; fix: give it as YYYY-MM-DD"),
    (["--as-of", "2025-06-30", "--programme-start", "2025-07-01"], "is after --as-of 2025-06-30"),
])
def test_new_client_refuses_bad_options(tmp_path, capsys, argv, expected):
    assert main(["new-client", "Acme", "--dir", str(tmp_path)] + argv) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "acme.yaml").exists()


# --------------------------------------------------------------------------- checks before the run
def _params(tmp_path, **extra) -> Path:
    return write_params(tmp_path, extra=extra)


def _problems(tmp_path, **extra) -> str:
    return "\n".join(str(p) for p in check_params(load_params(_params(tmp_path, **extra))))


def test_clean_params_have_no_setup_problems(tmp_path):
    assert _problems(tmp_path) == ""


def test_unknown_industry_is_found_before_the_run(tmp_path, capsys):
    text = _problems(tmp_path, client={"name": "X", "industry": "retail"})
    assert "Industry 'retail' (client.industry) has no benchmarks in" in text
    assert "parameter client.industry" in text and "fix: set client.industry to one of them" in text
    path = _params(tmp_path, client={"name": "X", "industry": "retail"})
    assert main(["validate", str(path)]) == 2
    assert main(["run", str(path), "-q"]) == 2  # refused at once: nothing is written
    assert "Industry 'retail'" in capsys.readouterr().err
    assert not (tmp_path / "outputs").exists()


def test_playbooks_must_match_custom_quadrant_names(tmp_path):
    names = {"high_attractiveness_high_strength": "Partner", "high_attractiveness_low_strength": "Develop",
             "low_attractiveness_high_strength": "Maintain", "low_attractiveness_low_strength": "Serve"}
    text = _problems(tmp_path, segmentation={"quadrant_names": names})
    assert "playbooks.yaml" in text and "parameter strategy.playbooks" in text and "Partner" in text


def test_rfm_benchmark_and_template_files_are_checked(tmp_path):
    bad = write_file(tmp_path / "rfm.yaml", "segments: []\n")
    bm = write_file(tmp_path / "bm.yaml", "industries:\n  online_retail:\n    kpis:\n      nps: {value: high}\n")
    text = _problems(tmp_path, segmentation={"rfm": {"segments_file": str(bad)}},
                     benchmarks={"file": str(bm)}, branding={"template": str(tmp_path / "none.pptx")})
    assert "RFM segments file" in text and "parameter segmentation.rfm.segments_file" in text
    assert "Benchmark online_retail.nps in" in text and "has no numeric 'value'" in text
    assert "deck template" in text and "not found" in text and "parameter branding.template" in text


def test_target_and_override_names_are_checked(tmp_path):
    text = _problems(tmp_path, targets={"retention": 0.8},
                     segmentation={"overrides": [{"account_id": "A1", "quadrant": "Strategc", "reason": "x"}]})
    assert "targets names 'retention', which is not a KPI" in text and "did you mean 'retention_rate'?" in text
    assert "1 override(s) name a quadrant that does not exist: 'Strategc'" in text
