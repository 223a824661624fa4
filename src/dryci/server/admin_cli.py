"""``dryci admin``: users, projects, tokens, purge of poisoned results, retention, usage.

Works on the same ``--db`` as the server, also while it runs. Tokens are printed once, when created.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from dryci.exceptions import ConfigError
from dryci.protocol import is_key
from dryci.server.backends.base import SCOPES, Backend
from dryci.server.config import DEFAULT_DB
from dryci.server.recorder import day_of
from dryci.server.timeparse import format_time, parse_duration, parse_time


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Administer a DryCI cache server's database.")
    parser.add_argument(
        "--db",
        default=os.environ.get("DRYCI_DB", DEFAULT_DB),
        help="database URL, as for `dryci server` (env DRYCI_DB; default %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    groups = parser.add_subparsers(dest="group", required=True, metavar="GROUP")

    projects = groups.add_parser("projects", help="tenants: each has its own cache").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = projects.add_parser("create", help="create a project")
    p.add_argument("name")
    p.add_argument("--max-entries", type=int, default=None, help="cap on cached keys for this project")
    projects.add_parser("list", help="list projects")
    p = projects.add_parser("revoke", help="revoke a project: all its tokens stop working")
    p.add_argument("name")

    users = groups.add_parser("users", help="users of a project").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = users.add_parser("create", help="create a user")
    p.add_argument("--project", required=True)
    p.add_argument("name")
    p = users.add_parser("list", help="list users")
    p.add_argument("--project")
    p = users.add_parser("revoke", help="revoke a user: all their tokens stop working")
    p.add_argument("--project", required=True)
    p.add_argument("name")

    tokens = groups.add_parser("tokens", help="bearer tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = tokens.add_parser("create", help="create a token and print it (once)")
    p.add_argument("--project", required=True)
    p.add_argument("--user", required=True, help="created in the project if missing")
    p.add_argument(
        "--scope",
        choices=SCOPES,
        default="read",
        help="read: query only; write: query and publish; admin: also the whole dashboard",
    )
    p.add_argument("--namespace", default="", help="publish into (and also read) this namespace, e.g. pr")
    p.add_argument("--expires", help="lifetime such as 30d or 12h")
    p = tokens.add_parser("list", help="list tokens (never their secrets)")
    p.add_argument("--project")
    p = tokens.add_parser("revoke", help="revoke a token by id")
    p.add_argument("token_id")

    p = groups.add_parser("purge", help="remove cached results and records (by token, time or key)")
    p.add_argument("--token", dest="token_id", help="results published by this token id")
    p.add_argument("--since", help="results published since this time (ISO 8601 or e.g. 2h ago)")
    p.add_argument("--hash", dest="key", help="results stored under this KEY (64 hex)")
    p.add_argument("--project", help="only in this project")

    p = groups.add_parser("provenance", help="which publishes (token, branch, commit, run) wrote a key")
    p.add_argument("--hash", dest="key", required=True, help="the KEY (64 hex)")
    p.add_argument("--project", help="only in this project")

    p = groups.add_parser("retention", help="evict entries and records now, as the server does hourly")
    p.add_argument("--days", type=float, default=30.0, help="evict entries not read for this many days")
    p.add_argument("--max-entries", type=int, default=None, help="default per-project cap")

    p = groups.add_parser("usage", help="usage per day and project")
    p.add_argument("--project")
    p.add_argument("--days", type=int, default=30)
    return parser


def _emit(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for row in rows:
        print("  ".join(f"{k}={'-' if v is None or v == '' else v}" for k, v in row.items()))


def _projects(args: argparse.Namespace, backend: Backend, now: float) -> int:
    if args.action == "create":
        if args.max_entries is not None and args.max_entries < 1:
            raise ConfigError("expected at least 1", key="--max-entries")
        p = backend.create_project(args.name, args.max_entries, now)
        _emit(args, [{"project": p.name, "max_entries": p.max_entries}])
    elif args.action == "list":
        _emit(
            args,
            [
                {
                    "project": p.name,
                    "max_entries": p.max_entries,
                    "created": format_time(p.created_at),
                    "revoked": format_time(p.revoked_at) if p.revoked_at else None,
                    "entries": backend.count_entries(p.id),
                    "records": backend.count_records(p.id),
                }
                for p in backend.list_projects()
            ],
        )
    else:
        return _revoked(backend.revoke_project(args.name, now), f"project {args.name!r}")
    return 0


def _users(args: argparse.Namespace, backend: Backend, now: float) -> int:
    if args.action == "create":
        u = backend.create_user(args.project, args.name, now)
        _emit(args, [{"project": u.project, "user": u.name}])
    elif args.action == "list":
        _emit(
            args,
            [
                {
                    "project": u.project,
                    "user": u.name,
                    "created": format_time(u.created_at),
                    "revoked": format_time(u.revoked_at) if u.revoked_at else None,
                }
                for u in backend.list_users(args.project)
            ],
        )
    else:
        return _revoked(backend.revoke_user(args.project, args.name, now), f"user {args.name!r}")
    return 0


def _tokens(args: argparse.Namespace, backend: Backend, now: float) -> int:
    from dryci.server.auth import new_token

    if args.action == "create":
        expires = now + parse_duration(args.expires, "--expires") if args.expires else None
        token_id, token, token_hash = new_token()
        row = backend.create_token(
            args.project, args.user, token_id, token_hash, args.scope, args.namespace, expires, now
        )
        if args.json:
            print(
                json.dumps(
                    {
                        "token": token,
                        "id": row.id,
                        "project": row.project,
                        "user": row.user,
                        "scope": row.scope,
                        "namespace": row.namespace,
                        "expires": format_time(expires),
                    }
                )
            )
        else:
            print(token)
            print(
                f"id={row.id} project={row.project} user={row.user} scope={row.scope} "
                f"namespace={row.namespace or '-'} expires={format_time(expires)} "
                "(the token is shown only once)",
                file=sys.stderr,
            )
    elif args.action == "list":
        _emit(
            args,
            [
                {
                    "id": t.id,
                    "project": t.project,
                    "user": t.user,
                    "scope": t.scope,
                    "namespace": t.namespace,
                    "created": format_time(t.created_at),
                    "expires": format_time(t.expires_at) if t.expires_at else None,
                    "revoked": format_time(t.revoked_at) if t.revoked_at else None,
                }
                for t in backend.list_tokens(args.project)
            ],
        )
    else:
        return _revoked(backend.revoke_token(args.token_id, now), f"token {args.token_id!r}")
    return 0


def _revoked(done: bool, what: str) -> int:
    if not done:
        raise ConfigError(f"no active {what} to revoke")
    print(f"revoked {what}")
    return 0


def _purge(args: argparse.Namespace, backend: Backend, now: float) -> int:
    if args.token_id is None and args.since is None and args.key is None:
        raise ConfigError("say what to purge: --token ID, --since TIME and/or --hash KEY", key="purge")
    if args.key is not None and not is_key(args.key):
        raise ConfigError("expected a key of 64 lowercase hex characters", key="--hash")
    since = parse_time(args.since, "--since", now) if args.since else None
    removed = backend.purge(token_id=args.token_id, since=since, key=args.key, project=args.project)
    records = backend.purge_records(token_id=args.token_id, since=since, key=args.key, project=args.project)
    if args.json:
        print(json.dumps({"removed": removed, "records": records}))
    else:
        print(f"removed {removed} cached test results and {records} function-level records")
    return 0


def _provenance(args: argparse.Namespace, backend: Backend, now: float) -> int:
    if not is_key(args.key):
        raise ConfigError("expected a key of 64 lowercase hex characters", key="--hash")
    rows = [
        {
            "project": r.project,
            "namespace": r.namespace,
            "token": r.token_id,
            "branch": r.branch,
            "commit": r.commit,
            "run_url": r.run_url,
            "published": format_time(r.created_at),
        }
        for r in backend.provenance(args.key, args.project)
    ]
    _emit(args, rows)
    return 0


def _retention(args: argparse.Namespace, backend: Backend, now: float) -> int:
    removed = backend.apply_retention(now, args.days, args.max_entries)
    print(json.dumps({"evicted": removed}) if args.json else f"evicted {removed} entries")
    return 0


def _usage(args: argparse.Namespace, backend: Backend, now: float) -> int:
    projects = {p.id: p.name for p in backend.list_projects()}
    wanted = [pid for pid, name in projects.items() if name == args.project] if args.project else [None]
    if args.project and not wanted:
        raise ConfigError(f"no project named {args.project!r}", key="--project")
    since = day_of(now - (args.days - 1) * 86400.0)
    _emit(
        args,
        [
            {
                "project": projects.get(d.project_id),
                "day": d.day,
                "queries": d.queries,
                "hits": d.hits,
                "misses": d.misses,
                "tests_published": d.tests_published,
                "tests_skipped": d.tests_skipped,
                "seconds_saved": round(d.seconds_saved, 3),
                "runs": d.runs,
                "tests_run": d.tests_run,
                "shadow_runs": d.shadow_runs,
                "shadow_would_skip": d.shadow_would_skip,
                "shadow_missed": d.shadow_missed,
            }
            for d in backend.usage(wanted[0], since)
        ],
    )
    return 0


GROUPS: dict[str, Callable[[argparse.Namespace, Backend, float], int]] = {
    "projects": _projects,
    "users": _users,
    "tokens": _tokens,
    "purge": _purge,
    "provenance": _provenance,
    "retention": _retention,
    "usage": _usage,
}


def main(argv: list[str], prog: str = "dryci admin") -> int:
    args = build_parser(prog).parse_args(argv)
    from dryci.server.backends import open_backend

    backend = open_backend(args.db)
    try:
        return GROUPS[args.group](args, backend, time.time())
    finally:
        backend.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
