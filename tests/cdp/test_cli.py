"""The command line's own surface: version and help."""

from __future__ import annotations

import argparse
from importlib.metadata import version

import pytest

from cdp.cli import _parser, main


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"cdp {version('cdp')}\n"


@pytest.mark.parametrize("command", ["demo", "run", "train", "dagster", "model", "export", "backup", "restore"])
def test_every_option_says_what_it_does(command: str) -> None:
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    options = [a for a in sub.choices[command]._actions if not isinstance(a, argparse._HelpAction)]
    assert options and [a.dest for a in options if not a.help] == []
