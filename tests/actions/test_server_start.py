"""The action server's start: a production start refuses site.yml's example values."""

from __future__ import annotations

import pytest

from actions.server import create_guarded_app
from bot.site_config import load_site_config


def test_a_production_start_with_example_values_is_refused(monkeypatch):
    monkeypatch.setenv("SITHS_ENV", "production")
    with pytest.raises(SystemExit) as refused:
        create_guarded_app(token="t" * 32)
    message = str(refused.value)
    examples = load_site_config().example_values()
    assert examples
    for name in examples:
        assert name in message


def test_outside_production_the_examples_start(monkeypatch):
    monkeypatch.delenv("SITHS_ENV", raising=False)
    app = create_guarded_app(token="t" * 32)
    assert app is not None
