"""What the routes get from the app (FastAPI dependencies): settings, the card service,
upgrade jobs and PUK orders. The bearer token check is ``cardagent.security.require_token``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cardagent.orders import PukOrders
from cardagent.security import get_settings
from cardagent.service import CardService
from cardagent.settings import Settings
from cardagent.upgrade import UpgradeManager


def get_service(request: Request) -> CardService:
    return request.app.state.service


def get_upgrades(request: Request) -> UpgradeManager:
    return request.app.state.upgrades


def get_orders(request: Request) -> PukOrders:
    return request.app.state.orders


ServiceDep = Annotated[CardService, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
UpgradesDep = Annotated[UpgradeManager, Depends(get_upgrades)]
OrdersDep = Annotated[PukOrders, Depends(get_orders)]
