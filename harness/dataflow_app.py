"""The HTTP API over DataFlow: a small Starlette (ASGI) app served by uvicorn, with the same three
endpoints as the Django baseline. Workflows run under AsyncLocalRuntime on the server's event loop.

Environment: DFC_LOAD_DATABASE_URL (the run's database), DFC_LOAD_DATAFLOW (module exposing
DataFlow, default dataflow_reference), DFC_LOAD_TABLE_PREFIX (the side's table prefix),
DFC_LOAD_POOL_SIZE (connections kept per worker; the runner matches Django's threads per worker).
Run: `uvicorn harness.dataflow_app:app`.
"""

import contextlib
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .dataflow_side import AsyncDataFlowAuth, open_dataflow


@contextlib.asynccontextmanager
async def lifespan(app):
    try:
        url = os.environ["DFC_LOAD_DATABASE_URL"]
    except KeyError:
        raise RuntimeError("harness.dataflow_app: set DFC_LOAD_DATABASE_URL to the database to use") from None
    pool_size = int(os.environ.get("DFC_LOAD_POOL_SIZE", "0")) or None  # None: the implementation's default
    module = os.environ.get("DFC_LOAD_DATAFLOW", "dataflow_reference")
    db = open_dataflow(module, url, os.environ["DFC_LOAD_TABLE_PREFIX"], pool_size)
    app.state.auth = AsyncDataFlowAuth(db)
    yield
    await db.close_async()


async def users(request: Request):
    auth = request.app.state.auth
    if request.method == "POST":
        body = await request.json()
        user = await auth.create_user(body["username"], body["email"], body["password"])
        return JSONResponse({"id": user.get("id")}, status_code=201)
    return JSONResponse({"users": await auth.list_users(int(request.query_params.get("page", 0)))})


async def permission(request: Request):
    params = request.path_params
    return JSONResponse({"allowed": await request.app.state.auth.has_perm(params["user_id"], params["codename"])})


app = Starlette(
    routes=[
        Route("/users", users, methods=["GET", "POST"]),
        Route("/users/{user_id:int}/permissions/{codename:str}", permission),
    ],
    lifespan=lifespan,
)
