"""The docs explorer (Swagger UI at /docs, ReDoc at /redoc), served offline: its JavaScript and
CSS come from the app itself (clinics run it on closed networks with no CDN), under a content
security policy that lets each page run its own assets and its own inline script, and nothing
else, and that no other site may frame (the explorer has a login form)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs-assets"
_ASSETS = Path(fastapi_offline.__file__).parent / "static"
# The page's own inline blocks (its start-up script, ReDoc's page style): allowed by digest.
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


def install_docs(app: FastAPI) -> None:
    """Serve the docs explorer's pages and assets (`/openapi.json` is FastAPI's own)."""
    app.mount(ASSETS_URL, StaticFiles(directory=_ASSETS), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_policy(
            get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=OAUTH2_REDIRECT_URL,
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                swagger_ui_parameters=app.swagger_ui_parameters,
            )
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _with_policy(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_policy(
            get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            ),
            # ReDoc styles itself with <style> elements it writes as it draws: styles, never
            # scripts, may then be inline on this page.
            inline_styles=True,
        )


def _with_policy(page: HTMLResponse, *, inline_styles: bool = False) -> HTMLResponse:
    """The page's content security policy: its own origin's assets, its own inline blocks
    (by their SHA-256), images from its own origin or inline (Swagger UI's icons), ReDoc's
    search worker; never framed, no `<base>`, forms only to itself."""
    inline: dict[str, list[str]] = {"script": [], "style": []}
    for kind, text in _INLINE.findall(bytes(page.body).decode()):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        inline[kind].append(f"'sha256-{digest}'")
    page.headers["Content-Security-Policy"] = "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *inline["script"]]),
            # (a digest beside 'unsafe-inline' would switch it off)
            "style-src 'self' 'unsafe-inline'"
            if inline_styles
            else " ".join(["style-src 'self'", *inline["style"]]),
            "img-src 'self' data:",
            "worker-src 'self' blob:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )
    return page
