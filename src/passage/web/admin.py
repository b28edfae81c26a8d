"""Administration while the portal runs: a page and an API route for every admin action."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
