"""One Route per path, dispatching on the method.

Starlette answers a wrong method with the `Allow` list of the first Route matching the
path; two Routes on one path (GET and PUT as separate entries) would advertise only the
first one's methods. `route("/x", GET=read, PUT=write)` keeps Allow complete.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


def route(path: str, **handlers: Handler) -> Route:
    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    dispatch.__name__ = "_".join(handler.__name__ for handler in handlers.values())
    return Route(path, dispatch, methods=list(handlers))
