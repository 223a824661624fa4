"""The human-readable API page served at ``GET /api`` (the machine-readable one is /openapi.json)."""

from __future__ import annotations

API_DOCS_HTML = """<!doctype html><html><head><meta charset=utf-8><title>DryCI API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;line-height:1.4}
pre{background:#f4f4f4;padding:.6em;overflow:auto}code{background:#f4f4f4}</style></head><body>
<h1>DryCI cache server API</h1>
<p>Every <code>/api/...</code> call takes <code>Authorization: Bearer dryci_...</code>. A <code>read</code>
token may query, a <code>write</code> token may also publish. KEY is 64 lowercase hex characters
(SHA-256 of a test file's dependency hash), ID is 32 lowercase hex characters
(a keyed hash of a test's node id). The OpenAPI document is at <a href="/openapi.json">/openapi.json</a>.</p>

<h2>Version 1 (the pytest-dryci 0.1.x wire format)</h2>
<h3>POST /api/v1/query-passed</h3>
<pre>{"test_file_hashes": [KEY, ...]}  ->  {"node_ids": [[ID, ...], ...]}</pre>
<p>One list per KEY, in request order; empty when nothing is cached. At most 4,096 keys.</p>
<h3>POST /api/v1/publish</h3>
<pre>{"passed_node_ids_per_test_file": {KEY: [ID, ...]}, "total_test_count": n, "passed_test_count": n,
 "failed_test_count": n, "skipped_test_count": n, "skipped_by_cache_test_count": n}  ->  {}</pre>
<p>The counts are optional. IDs are added to what KEY already holds (at most 32,768 per KEY and request).
The answer comes only after the data is committed to the database.</p>

<h2>Version 2</h2>
<h3>POST /api/v2/query</h3>
<pre>{"keys": [KEY, ...]}  ->  {"entries": [{"test_count": n | null, "tests": {ID: seconds},
                                         "skipped": [ID, ...], "tag": TAG | null}, ...]}</pre>
<p><code>test_count</code> is how many tests the file produced when it was last published (null if unknown),
<code>tests</code> the passed tests with their durations in seconds, <code>skipped</code> the tests skipped
for a reason the key decides and <code>tag</code> (32 hex) a MAC over the three, keyed with the dependency
hash, that lets the reader check them. <code>skipped</code> and <code>tag</code> are left out when empty.</p>
<h3>POST /api/v2/publish</h3>
<pre>{"entries": {KEY: {"test_count": n | null, "tests": {ID: seconds}, "skipped": [ID, ...], "tag": TAG}},
 "provenance": {"branch": s, "commit": s, "run_url": s},
 "stats": {"total": n, "passed": n, "failed": n, "skipped": n, "skipped_by_cache": n, "seconds_saved": x}}
  ->  {"stored": n}</pre>
<p>A publish with a <code>test_count</code> replaces the count, <code>skipped</code> and <code>tag</code>
of its KEY together; passed ids are added to those KEY already has.
<code>provenance</code> and <code>stats</code> are optional; provenance strings are at most 512 characters.
Every stored result remembers the publishing token and this provenance, so that
<code>dryci admin purge</code> can remove poisoned results (and records).</p>
<h3>POST /api/v2/records/query</h3>
<pre>{"records": [KEY, ...], "snapshots": [ID, ...], "facts": [ID, ...]}
  ->  {"records": {KEY: B64}, "snapshots": {ID: B64}, "facts": {ID: B64}}</pre>
<p>Function-level records (pytest <code>--dryci-level=function</code>) under each record KEY, and snapshots
and closure facts under their 32-hex ID, as base64 of their binary forms; what the server does not have
is left out. Objects that would take the answer past 8 MiB are left out too and their names listed in
<code>"more": {"records": [KEY, ...], ...}</code>: ask for them again. At most 4,096 names in all.
Read permission.</p>
<h3>POST /api/v2/records/publish</h3>
<pre>{"records": {KEY: B64}, "snapshots": {ID: B64}, "facts": {ID: B64},
 "provenance": {"branch": s, "commit": s, "run_url": s}}  ->  {"stored": n}</pre>
<p>Each record replaces the one under its KEY (the latest run wins); snapshots and facts are
content-addressed, so the first copy stays. Every object is decoded before it is stored (a snapshot must
be stored under the hash of its bytes) and is at most 4 MiB; errors name the kind and the name, for example
<code>records.KEY</code>. Write permission; every field is optional. A record is trusted like a result:
whoever may write can make a reader skip a test (see docs/security.md).</p>
<h3>GET /api/v2/usage?days=30</h3>
<p>Per day for the token's project: queries, hits, misses, tests published, tests skipped, seconds saved.</p>
<h3>GET /api/v2/whoami</h3>
<p>The token's id, project, user, scope and namespace.</p>

<h2>Namespaces</h2>
<p>A token bound to a namespace (for example pull-request CI) publishes into that namespace and reads both it
and the default namespace; tokens without a namespace never read a named namespace.</p>

<h2>Errors</h2>
<p>Errors answer <code>{"detail": "what was wrong", "field": "where"}</code>:
401 missing, unknown, expired or revoked token; 403 a read token publishing; 413 body over 8 MiB;
422 malformed body (invalid JSON, duplicate keys, NaN or Infinity, integers over 20 digits, lone surrogates,
nesting deeper than 16, unknown or missing fields, wrong key or id format); 429 rate limit (see
<code>Retry-After</code>); 503 database unavailable.</p>

<h2>Operations</h2>
<p><code>GET /healthz</code> (database reachable), <code>GET /metrics</code> (Prometheus text),
<code>GET /</code> the dashboard.</p>
</body></html>
"""
