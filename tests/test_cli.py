"""The `kam` command: help texts, exit codes, readable errors without tracebacks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_demo_params
from kam_analysis.cli import main


@pytest.mark.parametrize("argv, expected", [
    (["--help"], ["run", "validate", "new-client", "demo-data"]),
    (["run", "--help"], ["--phase", "--only", "--set", "--timeout", "KEY=VALUE", "last good run",
                         "every phase after them"]),
    (["validate", "--help"], ["--set", "contract"]),
    (["new-client", "--help"], ["FILL_IN", "--currency", "--as-of", "--no-programme"]),
    (["demo-data", "--help"], ["--accounts", "--orders", "--format", "--profile"]),
])
def test_help_describes_the_options(argv, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for word in expected:
        assert word in out


def test_validate_ok_on_demo(tmp_path, capsys):
    params = write_demo_params(tmp_path, n_accounts=50)
    assert main(["validate", str(params)]) == 0
    out = capsys.readouterr().out
    assert "Data OK" in out and "transactions:" in out


def test_validate_reports_bad_data_and_exits_2(tmp_path, capsys):
    params = write_demo_params(tmp_path, n_accounts=50)
    main(["validate", str(params)])  # generate the demo files
    surveys = tmp_path / "data" / "nps_survey.csv"
    lines = surveys.read_text().splitlines()
    cols = lines[1].split(",")
    cols[2] = "11"
    lines[1] = ",".join(cols)
    surveys.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["validate", str(params)]) == 2
    out = capsys.readouterr().out
    assert "values of nps are outside 0 to 10" in out and "'row 2: 11'" in out
    assert "Traceback" not in out


def test_bad_params_exit_2_with_message_not_traceback(tmp_path, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text("client: {name: X}\ndata: {transactions: {path: o.csv}}\nanalysis: {as_of_date: 2025-01-01, perod: month}\n")
    assert main(["run", str(p)]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'period'" in err and "Traceback" not in err


def test_only_without_phase_exits_2(tmp_path, capsys):
    params = write_demo_params(tmp_path, n_accounts=50)
    assert main(["run", str(params), "--only"]) == 2
    assert "--only goes with --phase" in capsys.readouterr().err


def test_phase_refused_by_only_exits_1_with_the_command(tmp_path, capsys):
    params = write_demo_params(tmp_path, n_accounts=50)
    assert main(["run", str(params), "--phase", "strategy", "--only"]) == 1
    err = capsys.readouterr().err
    assert f"fix: kam run {params} --phase strategy --phase review (or drop --only)" in err
    assert "Traceback" not in err


def test_unknown_override_key_exits_2(tmp_path, capsys):
    params = write_demo_params(tmp_path, n_accounts=50)
    assert main(["validate", str(params), "--set", "analysis.churndays=90"]) == 2
    assert "Did you mean 'churn_days'" in capsys.readouterr().err


def test_new_client_creates_params_from_the_template(tmp_path, capsys):
    assert main(["new-client", "Acme Retail", "--dir", str(tmp_path)]) == 0
    created = tmp_path / "acme-retail.yaml"
    assert 'name: "Acme Retail"' in created.read_text()
    assert main(["new-client", "Acme Retail", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_demo_data_writes_four_files(tmp_path, capsys):
    assert main(["demo-data", str(tmp_path / "d"), "--accounts", "40"]) == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        "customers.csv", "kam_capability.csv", "nps_survey.csv", "orders.csv"]


def test_console_script_is_installed():
    kam = Path(sys.executable).with_name("kam")
    res = subprocess.run([str(kam), "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "Key Account Management" in res.stdout


def test_every_help_example_parses():
    """The examples the help prints are commands the parser accepts (--phase takes several)."""
    import shlex

    from kam_analysis.cli import _EPILOG, _parser

    examples = [line.strip().split("  ")[0] for line in _EPILOG.splitlines() if line.strip().startswith("kam ")]
    assert any("--phase strategy review" in e for e in examples)
    for example in examples:
        args = _parser().parse_args(shlex.split(example)[1:])
        assert args.command in ("run", "validate", "history")
    args = _parser().parse_args(["run", "p.yaml", "--phase", "strategy", "review", "--only"])
    assert args.phases == ["strategy", "review"] and args.only
    assert _parser().parse_args(["run", "p.yaml", "--phase", "strategy", "--phase", "review"]).phases == [
        "strategy", "review"]


def test_version(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"kam {metadata.version('kam-analysis')}"


@pytest.mark.parametrize("override, key, expected", [
    ("client.name=No", ("client", "name"), "No"),
    ("client.name=2024", ("client", "name"), "2024"),
    ("engagement.title=1.0", ("engagement", "title"), "1.0"),
    ("analysis.churn_days=120", ("analysis", "churn_days"), 120),
    ("output.pseudonymise=yes", ("output", "pseudonymise"), True),
    ("branding.logo=null", ("branding", "logo"), None),
])
def test_set_values_are_typed_by_the_schema(tmp_path, override, key, expected):
    from kam_analysis.config import load_params

    params = load_params(write_demo_params(tmp_path, n_accounts=50), [override])
    section, name = key
    assert getattr(getattr(params, section), name) == expected


def test_plan_run_option_is_the_review_plan_run_override(tmp_path, monkeypatch, capsys):
    import kam_analysis.runner as runner

    seen = {}

    def fake_run(params, *, overrides, **kw):
        seen["overrides"] = overrides
        return runner.RunResult(tmp_path, "success")

    monkeypatch.setattr(runner, "run_engagement", fake_run)
    assert main(["run", "p.yaml", "--set", "review.plan_run=x", "--plan-run", "latest", "-q"]) == 0
    assert seen["overrides"] == ["review.plan_run=x", "review.plan_run=latest"]  # the option wins
    assert main(["run", "p.yaml", "-q"]) == 0 and seen["overrides"] == []
