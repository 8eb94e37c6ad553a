"""Render target/bench/results-*.json as a table on the terminal and as BENCHMARKS.md.

The results are read from `$BENCH_OUT` (default `target/bench`); bench/baseline.json holds the
key figures of an earlier run (`report.py --baseline NOTE` writes it from a run's results), shown
next to this run's under "Before and after"."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import platform
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = pathlib.Path(os.environ.get("BENCH_OUT") or ROOT / "target" / "bench")
BASELINE = ROOT / "bench" / "baseline.json"

TARGETS = {
    "read_share": 0.30,
    "fixed_p99_ms": 25.0,
    "rush_p99_ms": 1500.0,
    "read_cpu_ms": 0.7,
    "read_pgbench_share": 0.7,
    "rush_pgbench_share": 0.8,
    "ranking_s": 1.0,
    "memory_mib": 100.0,
}


def sh(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> list[tuple[str, str]]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kib = int(line.split()[1])
    osname = platform.platform()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"') + f", kernel {platform.release()}"
    except OSError:
        pass
    built = OUT / "build-commit"
    if built.exists():
        commit = built.read_text().strip()
    else:
        commit = sh("git", "rev-parse", "--short=12", "HEAD")
        dirty = sh("git", "status", "--porcelain", "--", "src", "migration", "Cargo.toml", "Cargo.lock")
        if dirty and dirty != "unknown":
            commit += f" (plus {len(dirty.splitlines())} uncommitted changes in src/, migration/ or Cargo files)"
    pg = sh("psql", os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432") + "/postgres", "-Atc", "show server_version")
    return [
        ("CPU", cpu), ("cores", str(os.cpu_count())), ("RAM", f"{mem_kib / 1024 / 1024:.1f} GiB"),
        ("OS", osname), ("rustc", sh("rustc", "--version")), ("PostgreSQL", pg),
        ("load tool", sh(str(OUT / "tools" / "bin" / "oha"), "--version")),
        ("date", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")), ("git commit of the binary", commit),
    ]


def mark(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**not met**")


def fmt_int(x: float) -> str:
    return f"{x:,.0f}"


def rows_for(r: dict) -> list[tuple[str, str, str, str]]:
    rows = []
    reads = r["reads"]
    st = reads["status"]
    rows.append(("Ceiling: GET /status", f"{fmt_int(st['rps'])} req/s; p50 {st['p50_ms']} ms, p99 {st['p99_ms']} ms"
                 + (f"; load {load1(st['cpu'])}" if st.get("cpu") else ""), "—", "—"))
    for key in ("get_application", "list_applicant", "list_evaluator"):
        m = reads[key]
        share = m["share_of_ceiling"]
        errs = f"; {m['non_2xx']} non-2xx" if m["non_2xx"] else ""
        rows.append((m["label"],
                     f"{fmt_int(m['rps'])} req/s = **{share:.2f}** of the ceiling; p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms{errs}"
                     + (f"; load {load1(m['cpu'])}" if m.get("cpu") else ""),
                     f"≥ {TARGETS['read_share']:.2f} of the ceiling", mark(share >= TARGETS["read_share"])))
        f = m["fixed"]
        ferrs = f"; {f['non_2xx']} non-2xx" if f["non_2xx"] else ""
        rows.append((f"  same, fixed rate {fmt_int(m['fixed_rate'])} req/s (70% of its maximum)",
                     f"p50 {f['p50_ms']} ms, **p99 {f['p99_ms']} ms**, achieved {fmt_int(f['rps'])} req/s{ferrs}",
                     f"p99 ≤ {TARGETS['fixed_p99_ms']:.0f} ms", mark(f["p99_ms"] <= TARGETS["fixed_p99_ms"] and f["non_2xx"] == 0)))
    ru = r["rush"]
    pc = ru["protocol_check"]
    proto_ok = pc["unique"] and pc["gap_free"] and pc["rush_unique"]
    rows.append((f"Deadline rush: {ru['submits']:,} applicants submit at once (one connection each)",
                 f"errors **{ru['errors']}** ({', '.join(f'{k}: {v}' for k, v in sorted(ru['status_codes'].items()))}); "
                 f"p50 {ru['p50_ms']} ms, **p99 {ru['p99_ms']} ms**, max {ru['max_ms']} ms (over all answers); all answered in {ru['wall_s']} s, "
                 f"{ru['status_codes'].get('200', 0):,} submitted ({ru['status_codes'].get('200', 0) / ru['wall_s']:,.0f}/s)"
                 + (f"; load {load1(ru['cpu'])}" if ru.get("cpu") else ""),
                 f"0 errors, p99 ≤ {TARGETS['rush_p99_ms']:.0f} ms",
                 mark(ru["errors"] == 0 and ru["p99_ms"] <= TARGETS["rush_p99_ms"])))
    if ru.get("retries_same_key"):
        rows.append(("  the failed ones retried with the same Idempotency-Key (untimed)",
                     ", ".join(f"{k}: {v}" for k, v in sorted(ru["retries_same_key"].items()))
                     + (" — a 409 `already_submitted` is a submission that had succeeded although its answer was an error"
                        if any(k.startswith("409") for k in ru["retries_same_key"]) else ""),
                     "—", "—"))
    rows.append(("  protocol numbers",
                 f"{pc['submitted_in_call']:,} in the call: unique {'yes' if pc['unique'] else '**NO**'}, gap-free {'yes' if pc['gap_free'] else '**NO**'}; "
                 f"the rush's contiguous {'yes' if pc['rush_contiguous'] else 'no'}",
                 "unique, gap-free", mark(proto_ok)))
    rk = r["ranking"]["runs"]
    first = rk[0]
    others = ", ".join(f"{x['secs'] * 1000:,.0f} ms" for x in rk[1:])
    rows.append((f"Ranking + allocation of {first['entries']:,} applications (POST .../ranking, end to end)",
                 f"**{first['secs'] * 1000:,.0f} ms** (first); then {others or '—'}; {first['funded']:,} funded, "
                 f"{first['allocated']} of {first['envelope']} EUR; answer {first['bytes'] / 1e6:.1f} MB; "
                 f"GET of the version {r['ranking']['get_secs'] * 1000:,.0f} ms",
                 f"≤ {TARGETS['ranking_s']:.0f} s for 10,000",
                 mark(first["secs"] <= TARGETS["ranking_s"]) if first["entries"] >= 10000
                 else ("—, fewer than 10,000" if first["secs"] <= TARGETS["ranking_s"] else "**not met** even with fewer than 10,000")))
    mem = r["memory"]
    load_peak = max(mem["reads"]["peak_rss_mib"], mem["rush"]["peak_rss_mib"], mem["ranking"]["peak_rss_mib"])
    rows.append(("Resident memory, idle (started / seeded)", f"{mem['idle_start_mib']} MiB / {mem['idle_seeded_mib']} MiB", "—", "—"))
    rows.append(("Resident memory under load: peak of reads / rush / ranking",
                 f"{mem['reads']['peak_rss_mib']} / {mem['rush']['peak_rss_mib']} / {mem['ranking']['peak_rss_mib']} MiB "
                 f"(threads up to {max(mem['reads']['max_threads'], mem['rush']['max_threads'], mem['ranking']['max_threads'])})",
                 f"≤ {TARGETS['memory_mib']:.0f} MiB", mark(load_peak <= TARGETS["memory_mib"])))
    rows.append(("  peak while hashing passwords (registrations + logins)",
                 f"{mem['argon2_phase']['peak_rss_mib']} MiB at {r['phases']['login']['concurrency']} concurrent, "
                 f"{mem['argon2_phase']['max_threads']} threads", "—", "—"))
    rows.append(("  peak during the review writes", f"{mem['review']['peak_rss_mib']} MiB", "—", "—"))
    return rows


def load1(cpu: dict | None) -> str:
    """The 1-minute load average when a phase started."""
    la = dig(cpu, "load_average", "before")
    return f"{la[0]:.2f}" if la else "—"


def busy_share(cpu: dict) -> str:
    """How busy the whole machine was during a phase, and how much of that was the service
    and PostgreSQL (the rest is the load tool, the client and other work)."""
    total = cpu["secs"] * 1000 * cpu["cores"]
    ours = cpu["service_ms"] + cpu["postgres_ms"]
    return f"{cpu['machine_busy_ms'] / total:.0%} ({ours / total:.0%} service + PostgreSQL)" if total else "—"


def cpu_split(c: dict) -> str:
    p = c["per_request"]
    return (f"service {p['service_ms']:.3f} ms + PostgreSQL {p['postgres_ms']:.3f} ms = **{p['total_ms']:.3f} ms**")


def headline_rows(r: dict) -> list[tuple[str, str, str, str]]:
    """Ratios measured within the run and CPU per request: what holds across machines."""
    rows = []
    read = dig(r, "reads", "get_application")
    pb = r.get("pgbench") or {}
    ratios = r.get("ratios") or {}
    if read and read.get("cpu"):
        c = read["cpu"]
        rows.append(("Single read `GET /api/v1/applications/{id}` (its applicant): CPU per request",
                     f"{cpu_split(c)} over {c['requests']:,} requests",
                     f"≤ {TARGETS['read_cpu_ms']} ms", mark(c["per_request"]["total_ms"] <= TARGETS["read_cpu_ms"])))
    if pb.get("read") and ratios.get("read") is not None:
        x = pb["read"]
        rows.append(("  as a share of pgbench of its own SQL (`bench/pgbench/read.sql`)",
                     f"**{ratios['read']:.2f}**: {fmt_int(read['rps'])} req/s against {fmt_int(x['tps'])} tps "
                     f"(pgbench: PostgreSQL CPU {x['cpu']['per_request']['postgres_ms']:.3f} ms per transaction, "
                     f"{x['failed']} failed)",
                     f"≥ {TARGETS['read_pgbench_share']}", mark(ratios["read"] >= TARGETS["read_pgbench_share"])))
    ru = r.get("rush")
    if ru and ru.get("cpu"):
        c = ru["cpu"]
        rows.append((f"Submission (the rush of {ru['submits']:,}): CPU per submission",
                     f"{cpu_split(c)} over {c['requests']:,} submissions", "—", "—"))
    if pb.get("submit") and ratios.get("rush") is not None:
        x = pb["submit"]
        rows.append(("  the rush as a share of pgbench of the minimal submission transaction (`bench/pgbench/submit.sql`)",
                     f"**{ratios['rush']:.2f}**: {fmt_int(ratios['rush_per_s'])} submitted/s against {fmt_int(x['tps'])} tps "
                     f"(pgbench: PostgreSQL CPU {x['cpu']['per_request']['postgres_ms']:.3f} ms per transaction, "
                     f"{x['failed']} failed)",
                     f"≥ {TARGETS['rush_pgbench_share']}", mark(ratios["rush"] >= TARGETS["rush_pgbench_share"])))
    return rows


def cpu_table(r: dict) -> str:
    """CPU per request of every measured phase, with the load around it."""
    phases = []
    for key, m in r["reads"].items():
        if m.get("cpu"):
            phases.append((f"{m['label']}, maximum rate", m["cpu"]))
    if dig(r, "rush", "cpu"):
        phases.append(("POST .../submit, the rush", r["rush"]["cpu"]))
    for name, x in (r.get("pgbench") or {}).items():
        phases.append((f"pgbench `{x['script']}` (-c {x['clients']} -j {x['threads']} -T {x['secs']})", x["cpu"]))
    if not phases:
        return ""
    pg = r["backend"] == "postgres"
    out = ["CPU per request (or pgbench transaction) of each measured phase, from `/proc/<pid>/stat` "
           "(utime + stime): the service's process and every PostgreSQL server process (see bench/README.md), "
           "with the 1-minute load average when the phase started and how busy the machine was:", "",
           "| phase | requests | service, ms | PostgreSQL, ms | of which the benchmark database's backends | load | machine busy |",
           "|---|---|---|---|---|---|---|"]
    for label, c in phases:
        p = c["per_request"]
        out.append(f"| {label} | {c['requests']:,} | {p['service_ms']:.3f} | "
                   f"{p['postgres_ms']:.3f} | {p['postgres_db_ms']:.3f} | {load1(c)} | {busy_share(c)} |"
                   if pg else f"| {label} | {c['requests']:,} | {p['service_ms']:.3f} | — | — | {load1(c)} | {busy_share(c)} |")
    return "\n".join(out)


def table(rows) -> str:
    out = ["| measure | result | target | |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(out)


def setup_lines(r: dict) -> str:
    p = r["phases"]
    d = r["data_set"]
    n_stuck = p["earlier_submissions"].get("stuck_idempotency_keys", 0)
    stuck = (f" ({n_stuck} answered 409 `idempotency_in_progress` on a retry with the same key after a 503, "
             "and were submitted with a new key)") if n_stuck else ""
    lines = [
        f"Sizes: `BENCH_RUSH={r['sizes']['rush']}`, `{'BENCH_SQLITE_RANK_APPS' if r['backend'] == 'sqlite' else 'BENCH_RANK_APPS'}={r['sizes']['rank_apps']}`, `BENCH_AGENCY={r['sizes']['agency']}`. "
        f"Data set, built through the API: {d['applicants']:,} applicants (self-registered), "
        f"{d['evaluators']} evaluators of {r['sizes']['agency']}, {d['organizations']:,} organizations, "
        f"{d['partnerships']:,} partnerships with 4 members each and as many applications over "
        f"{d['agencies']} agencies; {d['submitted_before_rush']:,} of {r['sizes']['agency']}'s were submitted before the rush. "
        f"Call `{r['call']['code']}` (the 2022 rules: {r['call']['evaluators_required']} evaluators per application, threshold {r['call']['threshold']}).",
        "",
        "| setup step (untimed by the targets) | count | time | rate |",
        "|---|---|---|---|",
        f"| self-registrations (Argon2id hash), {p['login']['concurrency']} at a time | {p['register']['count']:,} | {p['register']['secs']} s | {p['register']['per_s']}/s |",
        f"| logins (Argon2id verify), {p['login']['concurrency']} at a time | {p['login']['count']:,} | {p['login']['secs']} s | {p['login']['per_s']}/s |",
        f"| organizations | {p['organizations']['count']:,} | {p['organizations']['secs']} s | {p['organizations']['per_s']}/s |",
        f"| partnership + 3 members + draft + annex ({p['projects']['requests_each']} requests) | {p['projects']['count']:,} | {p['projects']['secs']} s | {p['projects']['per_s']}/s |",
        f"| submissions before the rush{stuck} | {p['earlier_submissions']['count']:,} | {p['earlier_submissions']['secs']} s | {p['earlier_submissions']['per_s']}/s |",
        f"| review: declarations, admissibility, final scores | {p['review']['requests']:,} requests ({p['review']['applications']:,} applications) | {p['review']['secs']} s | {p['review']['requests_per_s']}/s |",
    ]
    return "\n".join(lines)


def diagnostics(r: dict) -> str:
    d = r.get("pg_diagnostics")
    if not d:
        return ""
    out = ["", "What one request costs in PostgreSQL (from `pg_stat_database` and `pg_stat_user_tables` around the "
           "maximum-rate run; statements are counted as autocommit transactions, so those inside an explicit "
           "transaction are not, while index lookups and rows are; the lists make their statements in one transaction that "
           "only reads, on one pool connection):", "",
           "| request | SQL statements | rows read | sequential scans (rows read by them) | index lookups (rows fetched) |",
           "|---|---|---|---|---|"]
    labels = {k: v["label"] for k, v in r["reads"].items()}
    labels["submit"] = "POST .../submit (the rush, per submission)"
    labels["ranking"] = "POST .../ranking (one computation)"
    for key in ("status", "get_application", "list_applicant", "list_evaluator", "submit", "ranking"):
        if key not in d:
            continue
        x = d[key]
        tables = x["tables"]
        seq = ", ".join(f"{t} {v['seq_scans']:g}× ({v['seq_rows']:,.0f})" for t, v in sorted(tables.items(), key=lambda kv: -kv[1]["seq_rows"]) if v["seq_scans"] >= 0.5) or "none"
        idx = ", ".join(f"{t} {v['idx_scans']:,.1f}× ({v['idx_rows']:,.0f})" for t, v in sorted(tables.items(), key=lambda kv: -kv[1]["idx_scans"]) if v["idx_scans"] >= 0.5)
        stmts = "(one transaction)" if key in ("ranking", "submit", "list_applicant", "list_evaluator") else f"{x['statements']:,}"
        out.append(f"| {labels[key]} | {stmts} | {x['rows_read']:,.0f} | {seq} | {idx} |")
    return "\n".join(out)


def section(title: str, r: dict, extra: str) -> str:
    settings = ", ".join(f"`{k}={v}`" for k, v in sorted(r["service_settings"].items()))
    took = f"This section took {r['elapsed_s'] / 60:.1f} minutes, set-up included." if r.get("elapsed_s") else ""
    head = headline_rows(r)
    lead = ([f"Ratios measured within this run and CPU per request first (they hold across machines of the same "
             f"kind, absolute rates do not); the service's pool: {r.get('pool_size', '—')} connections, "
             f"so pgbench ran with as many clients.", "", table(head), "", cpu_table(r), "",
             "Requests per second, as context (with the 1-minute load average when each run started):", ""]
            if head else [])
    parts = [f"## {title}", "", *lead, table(rows_for(r)), "", setup_lines(r), "", took, diagnostics(r), "",
             f"Service settings: {settings}; everything else at its default "
             "(2 HTTP workers, a pool of 10 connections, JSON logs at `info` to a file). "
             f"Client retries on 429/503 during setup: {r['client_retries_on_429_503']}. "
             f"Load average when the section started: {' / '.join(str(x) for x in r.get('load_average_at_start', []))}.", ""]
    if extra:
        parts += [extra, ""]
    return "\n".join(parts)


READ_KEYS = ("get_application", "list_applicant", "list_evaluator")
READ_LABELS = {
    "get_application": "GET /api/v1/applications/{id} (applicant)",
    "list_applicant": "GET /api/v1/applications?call_id&status (applicant)",
    "list_evaluator": "GET /api/v1/applications?call_id&agency_code&status (evaluator, 20/page)",
}
BACKEND_TITLES = {"postgres": "PostgreSQL", "sqlite": "SQLite"}


def dig(d, *path):
    """d[path[0]][path[1]]..., or None where a key or an index is missing."""
    for k in path:
        try:
            d = d[k]
        except (KeyError, IndexError, TypeError):
            return None
    return d


def figures(r: dict) -> dict:
    """The key figures of a results JSON, in the shape of a backend of bench/baseline.json
    (None where the results lack a key)."""
    codes = dig(r, "rush", "status_codes")
    peaks = [dig(r, "memory", k, "peak_rss_mib") for k in ("reads", "rush", "ranking")]
    secs = dig(r, "ranking", "runs", 0, "secs")
    read_cpu = dig(r, "reads", "get_application", "cpu", "per_request") or {}
    rush_cpu = dig(r, "rush", "cpu", "per_request") or {}
    return {
        "sizes": {"rush": dig(r, "sizes", "rush"), "rank_apps": dig(r, "sizes", "rank_apps")},
        "cpu": {"read_service_ms": read_cpu.get("service_ms"), "read_postgres_ms": read_cpu.get("postgres_ms"),
                "read_total_ms": read_cpu.get("total_ms"),
                "rush_service_ms": rush_cpu.get("service_ms"), "rush_postgres_ms": rush_cpu.get("postgres_ms"),
                "rush_total_ms": rush_cpu.get("total_ms")},
        "ratios": {"read_pgbench": dig(r, "ratios", "read"), "rush_pgbench": dig(r, "ratios", "rush"),
                   "rush_per_s": dig(r, "ratios", "rush_per_s")},
        "ceiling_rps": dig(r, "reads", "status", "rps"),
        "reads": {key: {"rps": dig(r, "reads", key, "rps"),
                        "share_of_ceiling": dig(r, "reads", key, "share_of_ceiling"),
                        "p99_ms": dig(r, "reads", key, "p99_ms"),
                        "fixed_p99_ms": dig(r, "reads", key, "fixed", "p99_ms")} for key in READ_KEYS},
        "rush": {"errors": dig(r, "rush", "errors"), "submits": dig(r, "rush", "submits"),
                 "p50_ms": dig(r, "rush", "p50_ms"), "p99_ms": dig(r, "rush", "p99_ms"),
                 "wall_s": dig(r, "rush", "wall_s"),
                 "submitted": codes.get("200", 0) if isinstance(codes, dict) else None},
        "ranking": {"entries": dig(r, "ranking", "runs", 0, "entries"),
                    "first_ms": None if secs is None else secs * 1000},
        "memory": {"idle_seeded_mib": dig(r, "memory", "idle_seeded_mib"),
                   "load_peak_mib": None if None in peaks else max(peaks),
                   "hashing_peak_mib": dig(r, "memory", "argon2_phase", "peak_rss_mib")},
        "setup": {"partnerships_per_s": dig(r, "phases", "projects", "per_s"),
                  "earlier_submissions_per_s": dig(r, "phases", "earlier_submissions", "per_s"),
                  "review_requests_per_s": dig(r, "phases", "review", "requests_per_s")},
    }


def num(x, kind: str) -> str:
    if x is None:
        return "—"
    try:
        if kind == "int":
            return fmt_int(x)
        if kind == "share":
            return f"{x:.2f}"
        if kind == "ms":
            return f"{x:.3f}"
        return f"{x:,}"
    except (TypeError, ValueError):
        return str(x)


def comparison_rows(before: dict, r: dict) -> list[tuple[str, str, str]]:
    """(measure, before, after) for one backend: before from bench/baseline.json, after from
    this run's results."""
    after = figures(r)
    spec = [
        ("Single read: service CPU per request, ms", ("cpu", "read_service_ms"), "ms"),
        ("  PostgreSQL CPU per request, ms", ("cpu", "read_postgres_ms"), "ms"),
        ("  service + PostgreSQL, ms", ("cpu", "read_total_ms"), "ms"),
        ("  share of pgbench of its own SQL", ("ratios", "read_pgbench"), "share"),
        ("Submission (the rush): service CPU per submission, ms", ("cpu", "rush_service_ms"), "ms"),
        ("  PostgreSQL CPU per submission, ms", ("cpu", "rush_postgres_ms"), "ms"),
        ("  share of pgbench of the minimal submission transaction", ("ratios", "rush_pgbench"), "share"),
        ("Ceiling: GET /status, req/s", ("ceiling_rps",), "int"),
    ]
    for key in READ_KEYS:
        spec += [(f"{dig(r, 'reads', key, 'label') or READ_LABELS[key]}, req/s", ("reads", key, "rps"), "int"),
                 ("  share of the ceiling", ("reads", key, "share_of_ceiling"), "share"),
                 ("  p99 at its maximum rate, ms", ("reads", key, "p99_ms"), "dec"),
                 ("  p99 at the fixed rate (70% of its maximum), ms", ("reads", key, "fixed_p99_ms"), "dec")]
    spec += [
        ("Deadline rush: submissions at once", ("rush", "submits"), "int"),
        ("  errors", ("rush", "errors"), "int"),
        ("  submitted (answered 200)", ("rush", "submitted"), "int"),
        ("  p50, ms", ("rush", "p50_ms"), "dec"),
        ("  p99, ms", ("rush", "p99_ms"), "dec"),
        ("  all answered in, s", ("rush", "wall_s"), "dec"),
        ("Ranking + allocation: applications ranked", ("ranking", "entries"), "int"),
        ("  first computation, end to end, ms", ("ranking", "first_ms"), "int"),
        ("Resident memory, idle after seeding, MiB", ("memory", "idle_seeded_mib"), "dec"),
        ("Resident memory under load, peak of reads / rush / ranking, MiB", ("memory", "load_peak_mib"), "dec"),
        ("  peak while hashing passwords, MiB", ("memory", "hashing_peak_mib"), "dec"),
        ("Set-up: partnerships + drafts (6 requests each), per s", ("setup", "partnerships_per_s"), "dec"),
        ("  submissions before the rush, per s", ("setup", "earlier_submissions_per_s"), "dec"),
        ("  review requests, per s", ("setup", "review_requests_per_s"), "dec"),
    ]
    return [(label, num(dig(before, *path), kind), num(dig(after, *path), kind)) for label, path, kind in spec]


def write_baseline(note: str) -> None:
    """bench/baseline.json from this run's results: the 'before' of the next runs."""
    results = {b: json.loads((OUT / f"results-{b}.json").read_text())
               for b in ("postgres", "sqlite") if (OUT / f"results-{b}.json").exists()}
    if not results:
        raise SystemExit(f"no results in {OUT}")
    commit = (OUT / "build-commit").read_text().strip() if (OUT / "build-commit").exists() else "unknown"
    written = max((OUT / f"results-{b}.json").stat().st_mtime for b in results)
    date = dt.datetime.fromtimestamp(written, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    baseline = {"note": note, "commit": commit, "date": date,
                "backends": {b: figures(r) for b, r in results.items()}}
    BASELINE.write_text(json.dumps(baseline, indent=2) + "\n")
    print(f"written {BASELINE}")


def load_baseline() -> dict | None:
    try:
        return json.loads(BASELINE.read_text())
    except (OSError, ValueError):
        return None


def before_after(baseline: dict | None, results: dict) -> str:
    if not baseline:
        return ""
    backends = [b for b in ("postgres", "sqlite") if b in results and dig(baseline, "backends", b)]
    if not backends:
        return ""
    commit = baseline.get("commit", "baseline")
    parts = ["## Before and after", "",
             f"Before: {baseline.get('note') or 'the run at commit ' + commit}. After: this run. Lower is better "
             "for CPU, latencies, errors, times and memory; higher for rates, shares and submissions. Absolute "
             "rates differ between machines of the same kind and between runs; the CPU per request and the "
             "shares of pgbench are what compare.", ""]
    for backend in backends:
        before = baseline["backends"][backend]
        r = results[backend]
        sizes_then = (dig(before, "sizes", "rush"), dig(before, "sizes", "rank_apps"))
        sizes_now = (dig(r, "sizes", "rush"), dig(r, "sizes", "rank_apps"))
        rank_var = "BENCH_SQLITE_RANK_APPS" if backend == "sqlite" else "BENCH_RANK_APPS"
        same = ("Same sizes" if sizes_then == sizes_now else
                "**Sizes differ**, so the figures are not directly comparable: before")
        parts += [f"### {BACKEND_TITLES[backend]}", "",
                  f"{same}: `BENCH_RUSH={sizes_then[0]}`, `{rank_var}={sizes_then[1]}`"
                  + ("." if sizes_then == sizes_now else
                     f"; after `BENCH_RUSH={sizes_now[0]}`, `{rank_var}={sizes_now[1]}`."), "",
                  f"| measure | before ({commit}) | after (this run) |", "|---|---|---|"]
        parts += [f"| {a} | {b} | {c} |" for a, b, c in comparison_rows(before, r)]
        parts.append("")
    return "\n".join(parts)


SQLITE_LIMITS = """SQLite's own limits, as they show here. One writer at a time for the whole file: the
service opens write transactions with `BEGIN IMMEDIATE`, so every write (the rush's
submissions, the review) is serialised whatever the pool size; submissions queue for their
permit (`database.submit_concurrency`) in the service, so a burst waits instead of failing, and
the rush's p99 is the time to write them one after the other. Reads run in parallel (WAL) and
in-process, which is why the ceiling and the simple reads are higher than on PostgreSQL on the
same two cores. SQLite suits one service process on one machine (the demo, a small agency);
several processes, or a deadline with thousands of concurrent writers, need PostgreSQL."""


def main(args) -> None:
    results = {}
    for backend in ("postgres", "sqlite"):
        p = OUT / f"results-{backend}.json"
        if p.exists():
            results[backend] = json.loads(p.read_text())
    if not results:
        raise SystemExit(f"no results in {OUT}: run bench/run first")
    any_r = next(iter(results.values()))
    sizes = any_r["sizes"]
    elapsed = f"{args.elapsed / 60:.1f} minutes" if args.elapsed else "unknown"
    mach = "\n".join(f"| {k} | {v} |" for k, v in machine())
    doc = [
        "# Benchmarks: deadline day",
        "",
        "Generated by `bench/run` (see `bench/README.md`); do not edit by hand, run it again.",
        "Client and service share the machine: the load tool and the data-setup client take CPU",
        "from the service, so the figures are a floor for a service on its own cores.",
        "",
        "| machine | |", "|---|---|", mach,
        *( [f"| last `bench/run` | {elapsed}, release build included |"] if args.elapsed else []),
        "",
        "Targets (2-core machine, PostgreSQL): the single read at ≤ 0.7 ms of service + PostgreSQL CPU per",
        "request and ≥ 0.7 of a pgbench run of its own SQL; the deadline rush at ≥ 0.8 of a pgbench run of",
        "the minimal submission transaction, with zero errors and p99 ≤ 1.5 s; an authenticated read ≥ 0.30",
        "of the ceiling; p99 ≤ 25 ms at 70% of the maximum rate; a ranking of 10,000 applications ≤ 1 s end",
        "to end; ≤ 100 MiB resident under load.",
        "",
    ]
    if "postgres" in results:
        doc.append(section("PostgreSQL", results["postgres"], ""))
    if "sqlite" in results:
        doc.append(section("SQLite", results["sqlite"], SQLITE_LIMITS))
    baseline = load_baseline()
    compared = before_after(baseline, results)
    if compared:
        doc.append(compared)
    findings = ROOT / "bench" / "findings.md"
    if findings.exists():
        doc.append(findings.read_text().rstrip() + "\n")
    text = "\n".join(doc).rstrip() + "\n"
    pathlib.Path(args.output).write_text(text)
    for backend, r in results.items():
        print(f"\n== {backend} ==")
        for a, b, c, d in headline_rows(r) + rows_for(r):
            print(f"{a}\n    {b.replace('**', '')}   [{c}: {d.replace('**', '')}]")
        cpu = cpu_table(r)
        if cpu:
            print("\n" + cpu)
    if compared:
        for backend, r in results.items():
            before = dig(baseline, "backends", backend)
            if not before:
                continue
            print(f"\n== {backend}: before ({baseline.get('commit', 'baseline')}) / after (this run) ==")
            for a, b, c in comparison_rows(before, r):
                print(f"{a}\n    {b} → {c}")
    print(f"\nwritten {args.output}")


if __name__ == "__main__":
    # The same flags as `wg_bench.py report` (which bench/run calls), without its packages.
    ap = argparse.ArgumentParser(description="print the table and write BENCHMARKS.md")
    ap.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--elapsed", type=float, default=None)
    ap.add_argument("--baseline", metavar="NOTE",
                    help="instead: write bench/baseline.json from the results in $BENCH_OUT, with this note")
    args = ap.parse_args()
    if args.baseline:
        write_baseline(args.baseline)
    else:
        main(args)
