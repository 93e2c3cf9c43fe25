"""Billing's HTTP API is split per area: client organisations in organisations_http.py, contracts and usage in
contracts_http.py. This router is kept (empty) for the composition root."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
