"""The local stand-in for Microsoft (token, OpenID + keys, Bot Connector)."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from tests.teams.mock_microsoft import MockMicrosoft


@pytest.fixture(scope="module")
def mock() -> Iterator[MockMicrosoft]:
    server = MockMicrosoft(app_id=str(uuid.uuid4()), app_password="hemligt-test",
                           tenant_id=str(uuid.uuid4()))
    yield server
    server.close()
