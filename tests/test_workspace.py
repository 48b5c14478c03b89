"""Workspaces: ``pingan-eval init``, folders found from the working directory or
``--workspace``, ``synth --townships N`` putting its townships into the workspace plan,
the workspace's own notebooks, no writes into an installed package; every option's help."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
import pytest

from pingan_eval import cli, paths, workspace
from pingan_eval.plan import load_plan


@pytest.fixture()
def clean_env(monkeypatch):
    """No $PINGAN_EVAL_WORKSPACE, and none left behind by a command (set, then deleted:
    monkeypatch restores the variable's absence at the end)."""
    monkeypatch.setenv(workspace.ENV_VAR, "")
    monkeypatch.delenv(workspace.ENV_VAR)


def test_init_makes_a_workspace(tmp_path, clean_env, capsys):
    root = tmp_path / "county"
    assert cli.main(["init", str(root)]) == 0
    assert str(root) in capsys.readouterr().out
    ws = workspace.load(root)
    assert ws.plan == root / "plan.toml" and ws.raw == root / "data" / "raw"
    assert ws.processed.is_dir() and ws.reports.is_dir() and not ws.plan_is_shipped
    assert load_plan(ws.plan).townships == load_plan().townships
    assert (ws.raw / "README.md").read_bytes() == (
        paths.PROJ_ROOT / "data" / "raw" / "README.md").read_bytes()
    template = paths.PACKAGE_DIR / "data" / "templates" / "columns.toml"
    assert (ws.raw / "columns.toml.template").is_file() == template.is_file()
    # found from any folder below it
    assert workspace.find(ws.processed) == ws
    assert cli.main(["init", str(root)]) == 2  # not twice
    assert "already a workspace" in capsys.readouterr().err


def test_synth_prepare_in_a_workspace(tmp_path, clean_env, monkeypatch, capsys):
    root = tmp_path / "ws"
    workspace.init_workspace(root)
    monkeypatch.chdir(root / "data")  # anywhere inside the workspace
    assert cli.main(["synth", "--townships", "2", "--periods", "1"]) == 0
    frame = pd.read_csv(root / "data" / "raw" / "frame.csv")
    townships = list(dict.fromkeys(frame["township"]))
    assert len(townships) == 2
    assert list(load_plan(root / "plan.toml").townships) == townships
    assert (root / "data" / "raw" / "README.md").is_file()  # kept through the swap
    assert cli.main(["prepare", "--period", "all"]) == 0
    assert (root / "data" / "processed" / "2026-11" / "validation.json").is_file()
    # a report notebook opened in the workspace (parameters None) reads the workspace
    from pingan_eval.report.inputs import load_inputs

    inputs = load_inputs("2026-11")
    assert inputs.raw_dir == root / "data" / "raw"
    assert list(inputs.plan.townships) == townships
    assert set(inputs.summary["area"]) >= set(townships)
    # batch gets the workspace's folders and plan (the run itself: tools/check_wheel.sh)
    seen = {}
    import pingan_eval.batch.run as run

    monkeypatch.setattr(run, "main_batch", lambda args: seen.update(vars(args)) or 0)
    assert cli.main(["batch", "--period", "2026-11"]) == 0
    assert seen["raw"] == root / "data" / "raw" and seen["out"] == root / "reports"
    assert seen["processed"] == root / "data" / "processed"
    assert seen["plan"] == root / "plan.toml"


def test_workspace_option_and_environment(tmp_path, clean_env, monkeypatch):
    root = tmp_path / "ws"
    workspace.init_workspace(root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    seen = {}
    import pingan_eval.data.prepare as prepare

    monkeypatch.setattr(prepare, "main_prepare", lambda args: seen.update(vars(args)) or 0)
    assert cli.main(["prepare", "--period", "all", "--workspace", str(root)]) == 0
    assert seen["raw"] == root / "data" / "raw"
    # exported, so the report kernels resolve the same workspace
    assert os.environ[workspace.ENV_VAR] == str(root)
    assert workspace.current() == workspace.load(root)


def test_no_workspace_variable_is_left_behind():
    assert workspace.ENV_VAR not in os.environ


def test_synth_does_not_replace_real_data(tmp_path, clean_env, capsys):
    root = tmp_path / "ws"
    ws = workspace.init_workspace(root)
    (ws.raw / "survey").mkdir()
    (ws.raw / "survey" / "2026-11.csv").write_text("respondent_id\n1\n", encoding="utf-8")
    assert cli.main(["synth", "--workspace", str(root), "--townships", "2"]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (ws.raw / "survey" / "2026-11.csv").is_file()


def test_the_checkout_is_the_sample_workspace(clean_env, monkeypatch, capsys):
    monkeypatch.chdir(paths.PROJ_ROOT)
    ws = workspace.current()
    assert ws.root == paths.PROJ_ROOT and ws.raw == paths.SAMPLE_RAW_DIR
    assert ws.processed == paths.PROCESSED_DIR and ws.plan_is_shipped
    # the shipped plan is never edited: another county size needs its own workspace
    assert cli.main(["synth", "--townships", "3"]) == 2
    assert "pingan-eval init" in capsys.readouterr().err


def test_a_workspace_notebook_replaces_the_packaged_one(tmp_path, clean_env):
    ws = workspace.init_workspace(tmp_path / "ws")
    name = "township_report.ipynb"
    assert workspace.notebook(name, ws) == paths.NOTEBOOKS_DIR / name
    ws.notebooks.mkdir()
    (ws.notebooks / name).write_text("{}", encoding="utf-8")
    assert workspace.notebook(name, ws) == ws.notebooks / name


def test_no_writes_into_an_installed_package(tmp_path, monkeypatch):
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    monkeypatch.setattr(paths, "SOURCE_ROOT", None)
    monkeypatch.setattr(paths, "PACKAGE_DIR", site / "pingan_eval")
    for folder in (site.parent / "data" / "processed", site / "pingan_eval" / "reports"):
        with pytest.raises(workspace.WorkspaceError, match="installed package"):
            workspace.check_writable(folder, "reports")
    assert workspace.check_writable(tmp_path / "ws", "reports") == tmp_path / "ws"


def test_outside_a_workspace_a_command_says_what_to_do(tmp_path, clean_env, monkeypatch,
                                                       capsys):
    monkeypatch.setattr(paths, "SOURCE_ROOT", None)  # as installed from the wheel
    monkeypatch.chdir(tmp_path)
    assert cli.main(["prepare", "--period", "all"]) == 2
    assert "pingan-eval init" in capsys.readouterr().err


def test_every_option_of_every_command_has_a_help_text():
    parser = cli._build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"init", "synth", "prepare", "batch"}
    for name, command in sub.choices.items():
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: no help"
            if action.option_strings and not action.required and action.nargs != 0:
                assert "default" in action.help, f"{name} {action.option_strings}: no default"
        command.format_help()  # renders


def test_workspace_marker_errors_name_the_file(tmp_path):
    (tmp_path / workspace.MARKER).write_text("[workspace]\nrow = 'x'\n", encoding="utf-8")
    with pytest.raises(workspace.WorkspaceError, match="unknown key"):
        workspace.load(tmp_path)
    with pytest.raises(workspace.WorkspaceError, match="not a pingan-eval workspace"):
        workspace.load(tmp_path / "none")


def test_plan_townships_line_is_replaced_and_nothing_else(tmp_path):
    plan = tmp_path / "plan.toml"
    text = (paths.PLANS_DIR / "qinghe.toml").read_text(encoding="utf-8")
    plan.write_text(text, encoding="utf-8")
    workspace.set_plan_townships(plan, ["甲乡", '乙"乡'])
    new = plan.read_text(encoding="utf-8")
    assert 'townships = ["甲乡", "乙\\"乡"]' in new
    assert len(new.splitlines()) == len(text.splitlines())
    plan.write_text("[plan]\n", encoding="utf-8")
    with pytest.raises(workspace.WorkspaceError, match="townships"):
        workspace.set_plan_townships(plan, ["甲乡"])


def test_source_root_is_this_checkout():
    assert paths.SOURCE_ROOT == Path(__file__).resolve().parents[1]
