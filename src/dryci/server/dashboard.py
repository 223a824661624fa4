"""The web dashboard: per project hit rate, tests skipped, time saved per day (SVG), the shadow runs'
soundness check (tests they would have skipped, missed failures in red), recent runs.

Server-rendered HTML, no JavaScript. Login posts a token and gets a server-side session (see
``sessions.py``): the cookie holds a random session id, never the token, and every page view checks
the session and its token again, so logout, expiry and revocation apply at once. An ``admin`` token
(or ``--dashboard-public``) sees every project, other tokens their own.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dryci.server.auth import authenticate
from dryci.server.backends.base import RunRecord, UsageDay
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
DAYS = 30
STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.4em}
section{border:1px solid #ddd;border-radius:6px;padding:1em;margin:1em 0}
.numbers span{display:inline-block;margin-right:2em}.numbers b{font-size:1.3em}
table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}
.error{color:#b00}.shadow .missed{color:#b00}"""


@dataclass(frozen=True)
class ProjectView:
    name: str
    days: list[UsageDay]
    runs: list[RunRecord]

    @property
    def hits(self) -> int:
        return sum(d.hits for d in self.days)

    @property
    def lookups(self) -> int:
        return sum(d.hits + d.misses for d in self.days)

    @property
    def tests_skipped(self) -> int:
        return sum(d.tests_skipped for d in self.days)

    @property
    def seconds_saved(self) -> float:
        return sum(d.seconds_saved for d in self.days)

    @property
    def shadow_runs(self) -> int:
        return sum(d.shadow_runs for d in self.days)

    @property
    def shadow_would_skip(self) -> int:
        return sum(d.shadow_would_skip for d in self.days)

    @property
    def shadow_missed(self) -> int:
        return sum(d.shadow_missed for d in self.days)


def render_shadow(view: ProjectView) -> str:
    """The soundness panel: what the shadow runs (``pytest --dryci-shadow``) found."""
    if not view.shadow_runs:
        return (
            '<p class="shadow numbers">no shadow runs in the last '
            f"{DAYS} days (<code>pytest --dryci-shadow</code> checks the cache)</p>"
        )
    missed = view.shadow_missed
    # A missed failure is a test the cache would have skipped that failed: it must stand out.
    flagged = ' class="shadow-missed missed"' if missed else ' class="shadow-missed"'
    return (
        '<p class="shadow numbers">'
        f'<span>shadow runs <b class="shadow-runs">{view.shadow_runs:,}</b></span>'
        f'<span>tests they would have skipped <b class="shadow-would-skip">{view.shadow_would_skip:,}</b>'
        f"</span><span>missed failures <b{flagged}>{missed:,}</b></span></p>"
    )


def saved_chart(days: list[UsageDay], today: float) -> str:
    """A bar chart of seconds saved per day over the last DAYS days, as inline SVG."""
    per_day = {d.day: d.seconds_saved for d in days}
    labels = [day_of(today - (DAYS - 1 - i) * 86400.0) for i in range(DAYS)]
    values = [per_day.get(label, 0.0) for label in labels]
    top = max(values) or 1.0
    width, height, bar = 620, 160, 18
    bars = []
    for i, (label, value) in enumerate(zip(labels, values)):
        h = round(value / top * (height - 30), 1)
        bars.append(
            f'<rect x="{10 + i * (bar + 2)}" y="{height - 20 - h}" width="{bar}" height="{h}" '
            f'fill="#3a7"><title>{label}: {value:.1f} s saved</title></rect>'
        )
    return (
        f'<svg class="saved-chart" role="img" aria-label="time saved per day" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="10" y="12" font-size="11">max {_duration(top)} per day</text>{"".join(bars)}'
        f'<text x="10" y="{height - 5}" font-size="10">{labels[0]}</text>'
        f'<text x="{width - 70}" y="{height - 5}" font-size="10">{labels[-1]}</text></svg>'
    )


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def render_project(view: ProjectView, now: float) -> str:
    e = html.escape
    rate = f"{100.0 * view.hits / view.lookups:.1f}%" if view.lookups else "n/a"
    rows = "".join(
        f"<tr><td>{e(time.strftime('%Y-%m-%d %H:%M', time.gmtime(r.created_at)))}</td>"
        f"<td>{e(r.branch or '')}</td><td>{e((r.commit or '')[:12])}</td><td>{r.tests}</td>"
        f"<td>{r.passed}</td><td>{r.failed}</td><td>{r.skipped_by_cache}</td>"
        f"<td>{_link(r.run_url)}</td><td>{e(r.token_id)}</td></tr>"
        for r in view.runs
    )
    name = e(view.name)
    return (
        f'<section class="project" data-project="{name}"><h2>{name}</h2><p class="numbers">'
        f'<span>hit rate <b class="hit-rate">{rate}</b></span>'
        f'<span>tests skipped <b class="tests-skipped">{view.tests_skipped:,}</b></span>'
        f'<span>time saved <b class="time-saved">{_duration(view.seconds_saved)}</b></span>'
        f"<span>last {DAYS} days</span></p>{render_shadow(view)}{saved_chart(view.days, now)}"
        f'<h3>Recent runs</h3><table class="runs"><tr><th>time (UTC)</th><th>branch</th><th>commit</th>'
        f"<th>tests stored</th><th>passed</th><th>failed</th><th>skipped by cache</th><th>run</th>"
        f"<th>token</th></tr>{rows}</table></section>"
    )


def _link(url: str | None) -> str:
    if not url or not url.startswith(("https://", "http://")):
        return html.escape(url or "")
    return f'<a href="{html.escape(url)}" rel="nofollow noopener">link</a>'


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
            ProjectView(name, backend.usage(pid, since), backend.recent_runs(pid, 20))
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
        body = "".join(render_project(v, now) for v in found) or "<p>No projects yet.</p>"
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
