"""The web dashboard: totals across projects, then per project hit rate, tests skipped, time saved per
day (SVG) and per week, the shadow runs' soundness check (missed failures in red) and the recent runs
(every run's report, fully cached ones included, with its user's name). Rendering: ``dashview.py``.

Server-rendered HTML, no JavaScript. Login posts a token and gets a server-side session (see
``sessions.py``): the cookie holds a random session id, never the token, and every page view checks
the session and its token again, so logout, expiry and revocation apply at once. An ``admin`` token
(or ``--dashboard-public``) sees every project, other tokens their own.
"""

from __future__ import annotations

import html
import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dryci.server.auth import authenticate
from dryci.server.dashview import DAYS, ProjectView, render_project, render_totals
from dryci.server.errors import ApiError, AuthError
from dryci.server.ratelimit import client_address, refuse_if_over
from dryci.server.recorder import day_of
from dryci.server.sessions import (
    COOKIE,
    clear_cookie,
    hash_session,
    open_session,
    session_principal,
    set_cookie,
)
from dryci.server.state import ServerState

LOGIN_MAX_BYTES = 4096
RECENT_RUNS = 20
STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}
section{border:1px solid #ddd;border-radius:6px;padding:1em;margin:1em 0}
.numbers span{display:inline-block;margin-right:2em}.numbers b{font-size:1.3em}
table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}
.error{color:#b00}.shadow .missed,tr.missed{color:#b00}.saved{display:flex;gap:2em;align-items:flex-start}
section.totals{background:#f6fbf8}"""


def _page(body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>DryCI dashboard</title>"
        f"<style>{STYLE}</style></head><body><h1>DryCI cache server</h1>{body}</body></html>"
    )


def _limited(error: ApiError) -> Response:
    return HTMLResponse(
        _page(f'<p class="error">{html.escape(error.message)}; try again later.</p>'),
        status_code=error.status,
        headers=error.headers,
    )


LOGIN = (
    '<form method="post" action="/login"><label>Token <input type="password" name="token" '
    'autocomplete="off" size="70"></label> <button type="submit">Log in</button></form>'
)


def dashboard_router(state: ServerState) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    backend = state.backend

    def views(session_id: str | None, now: float) -> list[ProjectView]:
        if state.settings.dashboard_public:
            projects = [(p.id, p.name) for p in backend.list_projects()]
        else:
            if session_id is None:
                raise AuthError("not logged in")
            principal = session_principal(backend, session_id, now)
            if principal.scope == "admin":
                projects = [(p.id, p.name) for p in backend.list_projects()]
            else:
                projects = [(principal.project_id, principal.project)]
        since = day_of(now - (DAYS - 1) * 86400.0)
        return [
            ProjectView(name, backend.usage(pid, since), backend.reported_runs(pid, RECENT_RUNS))
            for pid, name in projects
        ]

    @router.get("/")
    async def index(request: Request) -> Response:
        session_id = request.cookies.get(COOKIE)
        if session_id is None and not state.settings.dashboard_public:
            return HTMLResponse(_page(LOGIN))
        now = time.time()
        try:
            found = await run_in_threadpool(views, session_id, now)
        except AuthError as exc:
            try:
                refuse_if_over(state.failures, client_address(request), now)
            except ApiError as limited:
                page = _limited(limited)
                clear_cookie(page, request)  # the session is no good either way
                return page
            page = HTMLResponse(
                _page(f'<p class="error">{html.escape(exc.message)}; log in again.</p>{LOGIN}'),
                status_code=401,
            )
            clear_cookie(page, request)
            return page
        logout = '<form method="post" action="/logout"><button>Log out</button></form>' if session_id else ""
        body = (
            render_totals(found) + "".join(render_project(v, now) for v in found)
            if found
            else "<p>No projects yet.</p>"
        )
        return HTMLResponse(_page(logout + body))

    @router.post("/login")
    async def login(request: Request) -> Response:
        raw = b""
        async for chunk in request.stream():  # a login form is tiny: never buffer more than 4 KiB
            raw += chunk
            if len(raw) > LOGIN_MAX_BYTES:
                page = _page(f'<p class="error">login form too large</p>{LOGIN}')
                return HTMLResponse(page, status_code=413)
        fields: dict[str, Any] = parse_qs(raw.decode("utf-8", "replace"))
        token = (fields.get("token") or [""])[0].strip()
        now = time.time()

        def start() -> tuple[str, float]:
            principal = authenticate(backend, token or None, now)
            return open_session(backend, principal, now, state.settings.session_hours * 3600.0)

        try:
            session_id, lasts = await run_in_threadpool(start)
        except AuthError as exc:
            try:
                refuse_if_over(state.failures, client_address(request), now)
            except ApiError as limited:
                return _limited(limited)
            return HTMLResponse(
                _page(f'<p class="error">{html.escape(exc.message)}</p>{LOGIN}'), status_code=401
            )
        response = RedirectResponse("/", status_code=303)
        set_cookie(response, request, session_id, lasts)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        session_id = request.cookies.get(COOKIE)
        if session_id is not None:
            await run_in_threadpool(backend.end_session, hash_session(session_id))
        response = RedirectResponse("/", status_code=303)
        clear_cookie(response, request)
        return response

    return router
