"""The yardstick for the service's own overhead: the barest ASGI app (echo the body back as JSON),
served by the same uvicorn + uvloop + httptools stack. See loadtests/service/measure_stack.py."""

from __future__ import annotations

_HEADERS = [(b"content-type", b"application/json")]


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    body = body or b"{}"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": _HEADERS + [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def starlette_app():
    """The same echo behind Starlette's router, to price the framework (uvicorn factory)."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def echo(request):
        return Response(await request.body() or b"{}", media_type="application/json")

    return Starlette(routes=[Route("/", echo, methods=["POST"]), Route("/healthz", echo, methods=["GET"])])
