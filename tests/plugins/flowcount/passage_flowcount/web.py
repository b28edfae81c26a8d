"""/flows: people passing flow monitoring points per month, over what the reader may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from passage import query, releases
from passage.web.context import Ctx, resolve
from passage.web.pages import render

router = APIRouter(include_in_schema=False)
Context = Annotated[Ctx, Depends(resolve)]


@router.get("/flows", response_class=HTMLResponse)
def flows(ctx: Context):
    ds = releases.get_dataset(ctx.store, "fmp_counts")
    rows = ctx.cached(("flows",), lambda: query.indicator_rows(ctx.store, ctx.principal, ds, "flows_by_month",
                                                               query.RecordFilter()).to_pylist())
    return render(ctx, "flowcount.html", rows=rows, dataset=ds)
