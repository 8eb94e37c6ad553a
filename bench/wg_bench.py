#!/usr/bin/env python3
"""The "deadline day" benchmark of welfare-grants: one backend, end to end.

`bench/run` calls `wg_bench.py run --backend postgres|sqlite ...` once per backend, then
`wg_bench.py report`. A run starts the release binary, builds the data set through the
public API (nothing is written to the database behind the service's back), logs everybody
in before anything is timed, then measures:

1. the ceiling: GET /status requests per second (oha);
2. authenticated reads (an application, two filtered lists): maximum rate as a share of
   the ceiling, p50 / p99, then p99 at 70% of that maximum (oha -q, latency-corrected);
3. the deadline rush: N distinct applicants submit at the same instant, one connection
   each; errors, latency, and that protocol numbers stay unique and gap-free;
4. the ranking and allocation of the agency's applications (all admitted and scored by
   two evaluators through the API), end to end as the client sees it;
5. the service's resident memory (VmRSS / VmHWM) idle and under load;
and, on PostgreSQL, how many SQL statements and rows each measured request costs
(from pg_stat_database / pg_stat_user_tables), to locate bottlenecks.

Sizes and knobs are environment variables, listed in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import pathlib
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid

import aiohttp

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = pathlib.Path(os.environ.get("BENCH_OUT") or ROOT / "target" / "bench")

AGENCIES = ["MILANO", "INSUBRIA", "BRIANZA", "BERGAMO", "BRESCIA", "VAL_PADANA", "PAVIA", "MONTAGNA"]
PROVINCES = {
    "MILANO": ["MI", "LO"], "INSUBRIA": ["VA", "CO"], "BRIANZA": ["MB", "LC"], "BERGAMO": ["BG"],
    "BRESCIA": ["BS"], "VAL_PADANA": ["CR", "MN"], "PAVIA": ["PV"], "MONTAGNA": ["SO"],
}
AREAS = ["RETE_IMPRESE", "SERVIZI_CURA", "TIME_SAVING", "INTERGENERAZIONALE", "MOBILITA",
         "SUPPORTO_DIPENDENTI", "FLESSIBILITA_COWORKING"]
ADMIN = ("admin@demo.welfare-grants.test", "demo-admin-password")


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


class Settings:
    """The benchmark's knobs (environment variables; see bench/README.md)."""

    def __init__(self) -> None:
        self.rush = env_int("BENCH_RUSH", 1000)
        self.rank_apps = env_int("BENCH_RANK_APPS", 10000)
        self.agency = os.environ.get("BENCH_AGENCY", "MILANO")
        self.concurrency = env_int("BENCH_CONCURRENCY", 32)
        self.login_concurrency = env_int("BENCH_LOGIN_CONCURRENCY", 4)
        self.duration = env_int("BENCH_DURATION", 10)
        self.connections = env_int("BENCH_CONNECTIONS", 32)
        self.fixed_share = env_float("BENCH_FIXED_SHARE", 0.70)
        self.ranking_runs = env_int("BENCH_RANKING_RUNS", 3)
        self.seed = env_int("BENCH_SEED", 42)
        self.port = env_int("BENCH_PORT", 18080)
        assert self.rush >= 1 and self.rank_apps >= 1
        assert self.agency in AGENCIES


# ---------------------------------------------------------------------------------------
# Valid identifiers and realistic bodies
# ---------------------------------------------------------------------------------------

def tax_code(n: int) -> str:
    """A valid 11-digit tax code (and VAT number) from a serial number."""
    first10 = f"{800_000_000 + n:010d}"
    digits = [int(c) for c in first10]
    x = sum(digits[0::2])
    y = sum(2 * d - 9 if 2 * d > 9 else 2 * d for d in digits[1::2])
    return f"{first10}{(10 - (x + y) % 10) % 10}"


def seat(kind: str, province: str) -> dict:
    return {"kind": kind, "address": "Via Roma 1", "municipality": "Comune", "province": province}


def organizations_of(i: int, province: str) -> list[dict]:
    """Applicant i's four organizations: a municipality, a non-profit, a micro and a small
    enterprise, all in Lombardy."""
    base = 4 * i + 1
    def enterprise(n: int, name: str, staff: str, turnover: str) -> dict:
        return {"tax_code": tax_code(n), "vat_number": tax_code(n), "legal_name": name,
                "category": "enterprise", "subtype": "company",
                "chamber_registration": f"{province}-{100000 + n}",
                "seats": [seat("registered", province), seat("operating", province)],
                "staff": staff, "turnover": turnover, "balance_sheet_total": None, "reference_year": 2025}
    return [
        {"tax_code": tax_code(base), "legal_name": f"Comune di Bench {i}", "category": "public_body",
         "subtype": "municipality", "seats": [seat("registered", province), seat("operating", province)]},
        {"tax_code": tax_code(base + 1), "legal_name": f"Cooperativa sociale Bench {i}",
         "category": "private_non_profit", "subtype": "social_cooperative",
         "seats": [seat("registered", province), seat("operating", province)]},
        enterprise(base + 2, f"Micro Bench {i} S.r.l.", "4.00", "300000.00"),
        enterprise(base + 3, f"Piccola Bench {i} S.p.A.", "30.00", "5000000.00"),
    ]


def content(rng: random.Random, j: int, agency: str, lead: str) -> dict:
    """A complete application: 12 months, 1-3 areas, a budget that keeps every money rule."""
    total = rng.randint(2_000_000, 7_142_858)             # cents
    grant = min(total * 70 // 100, 5_000_000)
    coordination = total * rng.randint(5, 14) // 100
    services = total - coordination
    eur = lambda c: f"{c // 100}.{c % 100:02d}"
    return {
        "agency_code": agency, "title": f"Rete di conciliazione {j}",
        "summary": "Servizi di conciliazione vita-lavoro per i dipendenti delle imprese della rete.",
        "intervention_areas": rng.sample(AREAS, rng.randint(1, 3)),
        "start_date": "2027-01-01", "end_date": "2027-12-31",
        "employees_reached": rng.randint(10, 400), "enterprises_reached": 2,
        "budget": {"lines": [
            {"category": "EMPLOYEE_SERVICES", "description": "Servizi ai dipendenti", "amount": eur(services), "borne_by": lead},
            {"category": "COORDINATION", "description": "Coordinamento", "amount": eur(coordination), "borne_by": lead}],
            "requested_grant": eur(grant), "co_financing": eur(total - grant)},
    }


def scores(rng: random.Random, criteria: list[dict], quality: float) -> list[dict]:
    out = []
    for c in criteria:
        lo, hi = float(c["min"]), float(c["max"])
        v = min(hi, max(lo, round(hi * quality + rng.uniform(-1.0, 1.0), 1)))
        out.append({"criterion": c["code"], "score": f"{v:.1f}", "justification": "Motivazione del punteggio."})
    return out


# ---------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------

class ApiError(Exception):
    pass


class Api:
    def __init__(self, base: str, concurrency: int) -> None:
        self.base = base
        self.concurrency = concurrency
        self.session = self._session()
        self.retries = 0

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.concurrency),
                                     timeout=aiohttp.ClientTimeout(total=300))

    async def reset(self) -> None:
        """New connections after a pause: the service closes idle keep-alive ones (5 s)."""
        await self.session.close()
        self.session = self._session()

    async def close(self) -> None:
        await self.session.close()

    async def call(self, method: str, path: str, token: str | None = None, body=None,
                   headers: dict | None = None, expect=(200, 201), raw: bool = False):
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        for attempt in range(8):
            async with self.session.request(method, self.base + path, json=body, headers=h) as res:
                text = await res.text()
                if res.status in (429, 503) and attempt < 7:
                    self.retries += 1
                    await asyncio.sleep(float(res.headers.get("Retry-After", "1")))
                    continue
                if res.status not in expect:
                    raise ApiError(f"{method} {path}: {res.status} {text[:800]}")
                if raw:
                    return res.status, res.headers.copy(), text
                return json.loads(text) if text and res.content_type.endswith("json") else text
        raise AssertionError("unreachable")


    async def upload(self, path: str, token: str, metadata: dict, file_name: str, data: bytes):
        """An annex upload: a multipart form with its metadata part and its file part."""
        for attempt in range(8):
            form = aiohttp.FormData()
            form.add_field("metadata", json.dumps(metadata), content_type="application/json")
            form.add_field("file", data, filename=file_name, content_type="application/pdf")
            async with self.session.post(self.base + path, data=form,
                                         headers={"Authorization": f"Bearer {token}"}) as res:
                text = await res.text()
                if res.status in (429, 503) and attempt < 7:
                    self.retries += 1
                    await asyncio.sleep(float(res.headers.get("Retry-After", "1")))
                    continue
                if res.status != 201:
                    raise ApiError(f"POST {path}: {res.status} {text[:800]}")
                return json.loads(text)
        raise AssertionError("unreachable")


def small_pdf(text: str) -> bytes:
    """A one-page PDF with a correct cross-reference table; `text` makes each one distinct."""
    out = bytearray(f"%PDF-1.4\n% {text}\n".encode())
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    offsets = []
    for i, o in enumerate(objects):
        offsets.append(len(out))
        out += f"{i + 1} 0 obj\n{o}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for o in offsets:
        out += f"{o:010} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


async def pool(items, fn, concurrency: int, label: str):
    """Run fn over items with bounded concurrency; return results in order and the rate."""
    sem = asyncio.Semaphore(concurrency)
    done = 0
    t0 = time.perf_counter()

    async def one(x):
        nonlocal done
        async with sem:
            r = await fn(x)
        done += 1
        if done % 2000 == 0:
            log(f"  {label}: {done}/{len(items)}")
        return r

    results = await asyncio.gather(*(one(x) for x in items))
    secs = time.perf_counter() - t0
    log(f"  {label}: {len(items)} in {secs:.1f} s ({len(items) / max(secs, 1e-9):.0f}/s)")
    return results, secs


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------
# The service process and its memory
# ---------------------------------------------------------------------------------------

class Service:
    def __init__(self, binary: pathlib.Path, env: dict, log_path: pathlib.Path) -> None:
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, cwd=str(OUT))
        self.pid = self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    def memory(self) -> dict:
        fields = {}
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    fields[k] = int(v.split()[0])
        return {"rss_kib": fields["VmRSS"], "hwm_kib": fields["VmHWM"], "threads": fields["Threads"]}

    def reset_peak(self) -> bool:
        """Reset VmHWM (writing 5 to clear_refs), so that a peak belongs to one phase."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False


class MemoryWatch:
    """Samples VmRSS every 50 ms during a phase; keeps the largest and the thread count."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.max_rss = 0
        self.max_threads = 0
        self._task = None

    async def __aenter__(self):
        self.service.reset_peak()
        async def loop():
            while True:
                m = self.service.memory()
                self.max_rss = max(self.max_rss, m["rss_kib"])
                self.max_threads = max(self.max_threads, m["threads"])
                await asyncio.sleep(0.05)
        self._task = asyncio.create_task(loop())
        return self

    async def __aexit__(self, *exc):
        self._task.cancel()
        m = self.service.memory()
        self.max_rss = max(self.max_rss, m["rss_kib"], m["hwm_kib"])
        self.max_threads = max(self.max_threads, m["threads"])

    def result(self) -> dict:
        return {"peak_rss_mib": round(self.max_rss / 1024, 1), "max_threads": self.max_threads}


# ---------------------------------------------------------------------------------------
# PostgreSQL statistics: statements and rows per request
# ---------------------------------------------------------------------------------------

class PgStats:
    """Reads pg_stat_database / pg_stat_user_tables of the benchmark's database. With
    autocommit, every statement outside a transaction is one transaction, so the count of
    commits per request is the count of statements of read-only requests."""

    def __init__(self, admin_url: str, db: str, url: str = "", pgbench: str | None = None) -> None:
        self.admin_url = admin_url
        self.db = db
        self.url = url
        self.pgbench = pgbench

    def maintain(self) -> None:
        subprocess.run(["psql", f"{self.admin_url}/{self.db}", "-qAtc", "VACUUM (ANALYZE)"], check=True)
        subprocess.run(["psql", f"{self.admin_url}/{self.db}", "-qAtc", "CHECKPOINT"], check=True)

    def _psql(self, sql: str) -> str:
        return subprocess.run(["psql", f"{self.admin_url}/{self.db}", "-Atc", sql], check=True,
                              capture_output=True, text=True).stdout

    def snapshot(self) -> dict:
        out = self._psql(
            f"select xact_commit + xact_rollback, tup_returned, tup_fetched from pg_stat_database where datname = '{self.db}';"
            "select relname, coalesce(seq_scan,0), coalesce(seq_tup_read,0), coalesce(idx_scan,0), coalesce(idx_tup_fetch,0), n_tup_ins, n_tup_upd from pg_stat_user_tables;")
        lines = out.strip().splitlines()
        xacts, returned, fetched = (int(x) for x in lines[0].split("|"))
        tables = {}
        for line in lines[1:]:
            name, *vals = line.split("|")
            tables[name] = tuple(int(v) for v in vals)
        return {"xacts": xacts, "returned": returned, "fetched": fetched, "tables": tables, "at": time.perf_counter()}

    def settled(self) -> dict:
        """Each backend flushes its counters on its own, within some seconds of going idle:
        read every second until two seconds in a row add no more than the background
        workers and these readings do."""
        prev = self.snapshot()
        quiet = 0
        for _ in range(40):
            time.sleep(1.0)
            cur = self.snapshot()
            quiet = quiet + 1 if cur["xacts"] - prev["xacts"] <= 6 else 0
            prev = cur
            if quiet >= 2:
                break
        return prev

    @staticmethod
    def delta(before: dict, after: dict) -> dict:
        tables = {}
        for name, vals in after["tables"].items():
            b = before["tables"].get(name, (0,) * 6)
            tables[name] = tuple(v - w for v, w in zip(vals, b))
        return {"xacts": after["xacts"] - before["xacts"], "returned": after["returned"] - before["returned"],
                "tables": tables, "secs": after.get("at", 0) - before.get("at", 0)}

    @staticmethod
    def per_request(d: dict, n: int, idle: dict | None = None) -> dict:
        """Per request, less what the background workers did in the same time (idle is a
        delta over idle["secs"] seconds)."""
        def bg(value, idle_value):
            return idle_value * d["secs"] / idle["secs"] if idle and idle["secs"] else 0
        xacts = d["xacts"] - bg(d["xacts"], idle["xacts"] if idle else 0)
        rows = d["returned"] - bg(d["returned"], idle["returned"] if idle else 0)
        tables = {}
        for name, vals in d["tables"].items():
            iv = idle["tables"].get(name, (0,) * 6) if idle else (0,) * 6
            v = [max(0.0, x - bg(x, y)) / n for x, y in zip(vals, iv)]
            if any(x >= 0.01 for x in v):
                tables[name] = {"seq_scans": round(v[0], 2), "seq_rows": round(v[1], 1),
                                "idx_scans": round(v[2], 2), "idx_rows": round(v[3], 1),
                                "inserted": round(v[4], 2), "updated": round(v[5], 2)}
        return {"statements": round(xacts / n, 1), "rows_read": round(max(0.0, rows) / n, 1), "tables": tables}


# ---------------------------------------------------------------------------------------
# CPU per request: the service's and PostgreSQL's, from /proc
# ---------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_ticks(pid: int | str) -> tuple[int, int] | None:
    """(start time, utime + stime) of a process, in clock ticks (all its threads); None once
    it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # After "(comm)" come the fields from the 3rd on: utime is the 14th, stime the 15th,
    # starttime the 22nd.
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[19]), int(fields[11]) + int(fields[12])


def machine_busy_ticks() -> int:
    """Busy ticks of all cores (user, nice, system, irq, softirq, steal), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]


def load_average() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


class CpuMeter:
    """CPU time spent during a phase by the service's process and by every PostgreSQL server
    process (every process whose comm is `postgres`: the postmaster, its background
    processes and all backends, whatever their database), from /proc/<pid>/stat.

    Backends come and go: all of them are read before and after the phase, and every 200 ms
    in between; a process missing before counts from 0, one gone before the end counts by
    its last reading (so at most 200 ms of its CPU can be missed). A process is known by its
    pid and start time, so a reused pid is a new process. The PostgreSQL total is split by
    the process title: the benchmark database's backends, the server's own processes
    (postmaster, checkpointer, walwriter, autovacuum...), and backends of other databases
    (other work on a shared server, which the total includes)."""

    def __init__(self, service_pid: int | None, pg_db: str | None) -> None:
        self.service_pid = service_pid
        self.db_marker = f" {pg_db} " if pg_db else None
        self.first: dict = {}
        self.last: dict = {}
        self._task = None

    def _scan(self) -> dict:
        seen = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/comm") as f:
                    if f.read().strip() != "postgres":
                        continue
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    title = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            t = proc_ticks(name)
            if t is None:
                continue
            start, ticks = t
            if self.db_marker and self.db_marker in title:
                kind = "db"
            elif "(" in title or "[local]" in title:
                kind = "other"   # a client backend of another database
            else:
                kind = "server"
            seen[(int(name), start)] = (ticks, kind)
        if self.service_pid:
            t = proc_ticks(self.service_pid)
            if t:
                seen[("service", t[0])] = (t[1], "service")
        return seen

    def _sample(self) -> None:
        self.last.update(self._scan())

    async def __aenter__(self):
        self.load_before = load_average()
        self.busy_before = machine_busy_ticks()
        self.first = self._scan()
        self.last = dict(self.first)
        self.t0 = time.perf_counter()

        async def loop():
            while True:
                await asyncio.sleep(0.2)
                self._sample()
        self._task = asyncio.create_task(loop())
        return self

    async def __aexit__(self, *exc):
        self._task.cancel()
        final = self._scan()
        self.secs = time.perf_counter() - self.t0
        self.busy = machine_busy_ticks() - self.busy_before
        self.load_after = load_average()
        self.gone = sum(1 for k in self.last if k not in final)
        self.started = sum(1 for k in final if k not in self.first) + sum(
            1 for k in self.last if k not in final and k not in self.first)
        self.last.update(final)

    def result(self, requests: int) -> dict:
        ms = {"service": 0.0, "db": 0.0, "server": 0.0, "other": 0.0}
        for key, (ticks, kind) in self.last.items():
            before = self.first.get(key, (0, kind))[0]
            ms[kind] += (ticks - before) * 1000 / CLK_TCK
        pg = ms["db"] + ms["server"] + ms["other"]
        n = max(requests, 1)
        return {
            "requests": requests, "secs": round(self.secs, 2),
            "service_ms": round(ms["service"]), "postgres_ms": round(pg),
            "postgres_db_ms": round(ms["db"]), "postgres_server_ms": round(ms["server"]),
            "postgres_other_db_ms": round(ms["other"]),
            "machine_busy_ms": round(self.busy * 1000 / CLK_TCK),
            "cores": os.cpu_count(),
            "per_request": {"service_ms": round(ms["service"] / n, 3), "postgres_ms": round(pg / n, 3),
                            "total_ms": round((ms["service"] + pg) / n, 3),
                            "postgres_db_ms": round(ms["db"] / n, 3)},
            "postgres_processes_started": self.started, "postgres_processes_gone": self.gone,
            "load_average": {"before": self.load_before, "after": self.load_after},
        }


# ---------------------------------------------------------------------------------------
# pgbench: the database's own limit for the same SQL
# ---------------------------------------------------------------------------------------

PGBENCH_DIR = ROOT / "bench" / "pgbench"


def service_pool_size(env: dict) -> int:
    """The service's pool size: its setting when given, else the default in src/config.rs."""
    if env.get("APP_DATABASE__MAX_CONNECTIONS"):
        return int(env["APP_DATABASE__MAX_CONNECTIONS"])
    import re
    m = re.search(r"^max_connections\s*=\s*(\d+)", (ROOT / "src" / "config.rs").read_text(), re.M)
    return int(m.group(1)) if m else 10


def jwt_claims(token: str) -> dict:
    import base64
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def pgbench(binary: str, url: str, script: pathlib.Path, variables: dict, clients: int,
                  secs: int, service_pid: int | None, pg_db: str, options: str | None = None) -> dict:
    """`pgbench -n -M prepared -c <clients> -j 2 -T <secs>` of a script, with its PostgreSQL
    CPU per transaction measured as the service's requests are."""
    import re
    args = [binary, "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(secs), "-f", str(script)]
    for k, v in variables.items():
        args += ["-D", f"{k}={v}"]
    args.append(url)
    env = dict(os.environ)
    if options:
        env["PGOPTIONS"] = options
    async with CpuMeter(service_pid, pg_db) as cpu:
        p = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE, env=env)
        out, err = await p.communicate()
    text = out.decode()
    if p.returncode != 0:
        raise RuntimeError(f"pgbench {script.name} failed: {err.decode()[-2000:]}{text[-1000:]}")
    def grab(pattern: str, cast=float):
        m = re.search(pattern, text, re.M)
        return cast(m.group(1)) if m else None
    done = grab(r"number of transactions actually processed: (\d+)", int) or 0
    return {
        "script": f"bench/pgbench/{script.name}", "clients": clients, "threads": 2, "secs": secs,
        "tps": grab(r"^tps = ([\d.]+) \(without initial connection time\)"),
        "transactions": done, "failed": grab(r"number of failed transactions: (\d+)", int) or 0,
        "latency_avg_ms": grab(r"^latency average = ([\d.]+) ms"),
        "cpu": cpu.result(done),
        "command": " ".join(a if " " not in a else repr(a) for a in args[:-1] + ["<database>"]),
    }


def copy_for_submit(admin_url: str, db: str) -> tuple[int, str]:
    """Copies of protocol_counters, applications and application_history in the schema
    bench_copy for submit.sql: the same columns, defaults, checks, indexes and foreign keys
    (pointing at the copies where the referenced table is copied), the same rows; the copied
    applications are renumbered 1..n (as uuids) so that the script can pick one at random,
    and their history follows them. Returns n and the server's report of the copy."""
    sql = """
DROP SCHEMA IF EXISTS bench_copy CASCADE;
CREATE SCHEMA bench_copy;
CREATE TABLE bench_copy.protocol_counters (LIKE public.protocol_counters INCLUDING ALL);
CREATE TABLE bench_copy.applications (LIKE public.applications INCLUDING ALL);
CREATE TABLE bench_copy.application_history (LIKE public.application_history INCLUDING ALL);
INSERT INTO bench_copy.protocol_counters SELECT * FROM public.protocol_counters;
CREATE TEMP TABLE renumber AS SELECT id AS old, lpad(to_hex(row_number() OVER (ORDER BY id)), 32, '0')::uuid AS new FROM public.applications;
INSERT INTO bench_copy.applications SELECT * FROM public.applications;
UPDATE bench_copy.applications a SET id = r.new FROM renumber r WHERE a.id = r.old;
INSERT INTO bench_copy.application_history SELECT * FROM public.application_history;
UPDATE bench_copy.application_history h SET application_id = r.new FROM renumber r WHERE h.application_id = r.old;
DO $$
DECLARE
  stmts text[];
  stmt text;
BEGIN
  -- The definitions are read with search_path = public (names unqualified), then run with
  -- the copies first in search_path, so that they point at the copies where there are some.
  SELECT coalesce(array_agg(format('ALTER TABLE bench_copy.%I ADD CONSTRAINT %I %s',
                                   conrelid::regclass::text, conname, pg_get_constraintdef(oid))), '{}')
    INTO stmts
    FROM pg_constraint
   WHERE contype = 'f'
     AND conrelid IN ('public.protocol_counters'::regclass, 'public.applications'::regclass,
                      'public.application_history'::regclass);
  PERFORM set_config('search_path', 'bench_copy, public', true);
  FOREACH stmt IN ARRAY stmts LOOP
    EXECUTE stmt;
  END LOOP;
END $$;
VACUUM (ANALYZE) bench_copy.protocol_counters, bench_copy.applications, bench_copy.application_history;
SELECT count(*) FROM bench_copy.applications;
"""
    out = subprocess.run(["psql", f"{admin_url}/{db}", "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", "SET search_path = public", "-f", "-"],
                         input=sql, check=True, capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1]), out


def drop_copies(admin_url: str, db: str) -> None:
    subprocess.run(["psql", f"{admin_url}/{db}", "-qAtXc", "DROP SCHEMA IF EXISTS bench_copy CASCADE"], check=True)


# ---------------------------------------------------------------------------------------
# The load tool
# ---------------------------------------------------------------------------------------

OHA = ROOT / "target" / "bench" / "tools" / "bin" / "oha"


async def oha(url: str, token: str | None, duration: int, connections: int,
              rate: float | None = None, requests: int | None = None) -> dict:
    args = [str(OHA), "--no-tui", "--output-format", "json", "-c", str(connections)]
    if requests:
        args += ["-n", str(requests)]
    else:
        args += ["-z", f"{duration}s"]
    if rate:
        args += ["-q", f"{rate:.0f}", "--latency-correction"]
    if token:
        args += ["-H", f"Authorization: Bearer {token}"]
    args.append(url)
    p = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.PIPE)
    out, err = await p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"oha failed: {err.decode()[-2000:]}")
    j = json.loads(out)
    codes = {str(k): v for k, v in (j.get("statusCodeDistribution") or {}).items()}
    total = sum(codes.values())
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    pct = j["latencyPercentiles"]
    return {
        "rps": round(j["summary"]["requestsPerSec"], 1),
        "p50_ms": round(pct["p50"] * 1000, 2), "p99_ms": round(pct["p99"] * 1000, 2),
        "max_ms": round(j["summary"]["slowest"] * 1000, 2),
        "requests": total, "non_2xx": total - ok,
        "errors": sum((j.get("errorDistribution") or {}).values()),
        "status_codes": codes,
    }


# ---------------------------------------------------------------------------------------
# The deadline rush: raw HTTP/1.1, one connection per applicant, all sent at one instant
# ---------------------------------------------------------------------------------------

async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.read()
    return status, body


async def rush(host: str, port: int, items: list[tuple[str, str]]) -> dict:
    conns = []
    for k in range(0, len(items), 100):
        conns += await asyncio.gather(*(asyncio.open_connection(host, port) for _ in items[k:k + 100]))
    go = asyncio.Event()
    results = [None] * len(items)
    start = [0.0]

    keys = [str(uuid.uuid4()) for _ in items]

    async def one(idx: int, reader, writer, app_id: str, token: str):
        req = (f"POST /api/v1/applications/{app_id}/submit HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Authorization: Bearer {token}\r\nIdempotency-Key: {keys[idx]}\r\n"
               f"Content-Length: 0\r\n\r\n").encode()
        await go.wait()
        t0 = time.perf_counter()
        writer.write(req)
        await writer.drain()
        try:
            status, body = await asyncio.wait_for(read_response(reader), timeout=120)
        except Exception as e:  # noqa: BLE001 - a failed request is a result
            status, body = 0, str(e).encode()
        t1 = time.perf_counter()
        writer.close()
        results[idx] = (status, t1 - t0, t1 - start[0], body)

    tasks = [asyncio.create_task(one(i, r, w, a, t)) for i, ((r, w), (a, t)) in enumerate(zip(conns, items))]
    await asyncio.sleep(0.2)
    start[0] = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    wall = max(r[2] for r in results)
    lat = sorted(r[1] for r in results)
    since_start = sorted(r[2] for r in results)
    q = lambda xs, p: xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]
    protocols, codes = [], {}
    for status, _, _, body in results:
        codes[str(status)] = codes.get(str(status), 0) + 1
        if status == 200:
            protocols.append(json.loads(body)["protocol_number"])
    return {
        "submits": len(items), "status_codes": codes,
        "errors": len(items) - codes.get("200", 0),
        "p50_ms": round(q(lat, 0.50) * 1000, 1), "p99_ms": round(q(lat, 0.99) * 1000, 1),
        "max_ms": round(lat[-1] * 1000, 1),
        "p99_since_burst_ms": round(q(since_start, 0.99) * 1000, 1),
        "wall_s": round(wall, 3), "throughput_per_s": round(len(items) / wall, 1),
        "protocols": protocols,
        "error_samples": [r[3][:300].decode("utf-8", "replace") for r in results if r[0] != 200][:3],
        "failed": [(items[i][0], items[i][1], keys[i]) for i, r in enumerate(results) if r[0] != 200],
    }


async def measure_pgbench(pg: PgStats, service: Service, result: dict, token: str, read_app: str,
                          call_id: str, code: str, r: dict) -> None:
    """pgbench of the single read's SQL (as `token`'s user reading `read_app`) and of the
    minimal submission transaction (on copies), and the service's shares of them."""
    claims = jwt_claims(token)
    secs = env_int("BENCH_PGBENCH_SECS", 30)
    clients = result["pool_size"]
    log(f"  pgbench ({pg.pgbench}): read.sql, {clients} clients, {secs} s")
    pb_read = await pgbench(pg.pgbench, pg.url, PGBENCH_DIR / "read.sql",
                            {"user_id": claims["sub"], "session_id": claims.get("sid", ""), "app_id": read_app},
                            clients, secs, service.pid, pg.db)
    napps, _ = copy_for_submit(pg.admin_url, pg.db)
    try:
        log(f"  pgbench: submit.sql on copies of {napps} applications, {clients} clients, {secs} s")
        pb_submit = await pgbench(pg.pgbench, pg.url, PGBENCH_DIR / "submit.sql",
                                  {"call_id": call_id, "prefix": f"{code}-", "napps": napps, "user_id": claims["sub"]},
                                  clients, secs, service.pid, pg.db, options="-c search_path=bench_copy,public")
    finally:
        if not os.environ.get("BENCH_KEEP_DB"):
            drop_copies(pg.admin_url, pg.db)
    pb_submit["copied_applications"] = napps
    submitted = r["status_codes"].get("200", 0)
    rush_rate = submitted / r["wall_s"] if r["wall_s"] else 0.0
    result["pgbench"] = {"read": pb_read, "submit": pb_submit}
    result["ratios"] = {
        "read": round(result["reads"]["get_application"]["rps"] / pb_read["tps"], 3) if pb_read["tps"] else None,
        "rush": round(rush_rate / pb_submit["tps"], 3) if pb_submit["tps"] else None,
        "rush_per_s": round(rush_rate, 1),
    }
    for name, pb in (("read.sql", pb_read), ("submit.sql", pb_submit)):
        log(f"  pgbench {name}: {pb['tps']:.0f} tps, {pb['failed']} failed, latency {pb['latency_avg_ms']} ms; "
            f"PostgreSQL CPU {pb['cpu']['per_request']['postgres_ms']} ms per transaction; load {pb['cpu']['load_average']['before'][0]}")
    log(f"  ratios: the single read {result['ratios']['read']} of pgbench read.sql; "
        f"the rush ({rush_rate:.0f}/s) {result['ratios']['rush']} of pgbench submit.sql")


# ---------------------------------------------------------------------------------------
# One backend, end to end
# ---------------------------------------------------------------------------------------

async def run_backend(args, s: Settings) -> dict:
    backend = args.backend
    outdir = OUT / backend
    outdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(s.seed)
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_") or k in os.environ.get("BENCH_PASS_APP", "").split(",")}
    env.update({
        "APP_DATABASE__URL": args.database_url,
        "APP_SERVER__HOST": "127.0.0.1",
        "APP_SERVER__PORT": str(s.port),
        # The demo data holds the only administrator an API client can start from.
        "APP_DEMO__ENABLED": "true",
        "APP_AUTH__SECRET": secrets.token_hex(32),
        # Tokens are issued before timing; the whole run outlives the default 15 minutes.
        "APP_AUTH__ACCESS_TOKEN_TTL_SECS": "14400",
        "APP_LOG__FORMAT": "json",
    })
    config_rs = (ROOT / "src" / "config.rs").read_text()
    rate_limit_setting = "rate_limit" in config_rs
    if rate_limit_setting:
        env["APP_RATE_LIMIT__ENABLED"] = "false"
    # Extra service settings for an experiment, e.g. BENCH_APP_DATABASE__MAX_CONNECTIONS=20.
    for k, v in os.environ.items():
        if k.startswith("BENCH_APP_"):
            env[k[len("BENCH_"):]] = v
    service_settings = {k: v for k, v in env.items() if k.startswith("APP_") and k not in ("APP_AUTH__SECRET", "APP_DATABASE__URL")}

    result: dict = {"load_average_at_start": [round(x, 2) for x in os.getloadavg()], "backend": backend, "sizes": {"rush": s.rush, "rank_apps": s.rank_apps, "agency": s.agency},
                    "service_settings": service_settings, "phases": {}, "memory": {}}
    t_start = time.perf_counter()
    service = Service(pathlib.Path(args.binary), env, outdir / "service.log")
    base = f"http://127.0.0.1:{s.port}"
    api = Api(base, max(s.concurrency, 64))
    pg = PgStats(args.pg_admin_url, args.pg_db, args.database_url, args.pgbench) if backend == "postgres" else None
    result["pool_size"] = service_pool_size(env)
    try:
        for _ in range(600):
            try:
                await api.call("GET", "/status")
                break
            except (aiohttp.ClientError, ApiError):
                if service.proc.poll() is not None:
                    raise RuntimeError(f"the service exited; see {outdir / 'service.log'}")
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        result["memory"]["idle_start_mib"] = round(service.memory()["rss_kib"] / 1024, 1)
        sqlite_path = None
        if backend == "sqlite":
            sqlite_path = args.database_url.split("://", 1)[1].split("?", 1)[0]
        await seed_and_measure(api, service, pg, s, rng, result, base, sqlite_path)
    finally:
        await api.close()
        service.stop()
    result["elapsed_s"] = round(time.perf_counter() - t_start, 1)
    (OUT / f"results-{backend}.json").write_text(json.dumps(result, indent=2))
    return result


async def seed_and_measure(api: Api, service: Service, pg: PgStats | None, s: Settings,
                           rng: random.Random, result: dict, base: str, sqlite_path: str | None) -> None:
    phases = result["phases"]
    t_seed = time.perf_counter()
    admin = (await api.call("POST", "/api/v1/auth/login", body={"username": ADMIN[0], "password": ADMIN[1]}))["access_token"]

    # --- The call: the 2022 rules, cloned as a new edition whose window is open now.
    calls = await api.call("GET", "/api/v1/calls?per_page=100", admin)
    source = next(c for c in calls["items"] if c["code"] == "RLD12022024943")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    code = f"RLD-BENCH-{now:%Y%m%d%H%M%S}"
    call = await api.call("POST", f"/api/v1/calls/{source['id']}/clone", admin, {
        "code": code, "title": "Avviso conciliazione e welfare aziendale (benchmark)",
        "opens_at": (now - dt.timedelta(minutes=5)).isoformat(), "closes_at": (now + dt.timedelta(days=30)).isoformat()})
    call_id = call["id"]
    await api.call("POST", f"/api/v1/calls/{call_id}/publish", admin, {})
    call = await api.call("GET", f"/api/v1/calls/{call_id}", admin)
    criteria = call["rules"]["scoring"]["criteria"]
    evaluators_required = call["rules"]["scoring"]["evaluators_required"]
    result["call"] = {"code": code, "evaluators_required": evaluators_required,
                      "threshold": call["rules"]["scoring"]["threshold"]}

    # --- People: applicants register themselves; the administrator creates evaluators.
    n_app = s.rush
    applicants = [(f"bench.applicant{i:05d}@bench.example", f"a long bench passphrase {i:05d}") for i in range(n_app)]
    evaluators = [(f"bench.evaluator{k}.{s.agency.lower()}@ats.example", f"a long evaluator passphrase {k}") for k in range(max(2, evaluators_required))]

    async def register(u):
        await api.call("POST", "/api/v1/auth/register", None, {"username": u[0], "password": u[1], "full_name": "Legale Rappresentante"})
    async def new_evaluator(u):
        await api.call("POST", "/api/v1/users", admin, {"username": u[0], "password": u[1], "full_name": "Valutatore ATS",
                                                          "role": "evaluator", "agency_code": s.agency})
    async def login(u):
        return (await api.call("POST", "/api/v1/auth/login", None, {"username": u[0], "password": u[1]}))["access_token"]

    async with MemoryWatch(service) as w:
        _, secs = await pool(applicants, register, s.login_concurrency, "self-registrations (Argon2id)")
        await pool(evaluators, new_evaluator, s.login_concurrency, "evaluators")
        tokens, lsecs = await pool(applicants, login, s.login_concurrency, "logins (Argon2id)")
        etokens, _ = await pool(evaluators, login, s.login_concurrency, "evaluator logins")
    phases["register"] = {"count": n_app, "secs": round(secs, 1), "per_s": round(n_app / secs, 1)}
    phases["login"] = {"count": n_app, "secs": round(lsecs, 1), "per_s": round(n_app / lsecs, 1),
                       "concurrency": s.login_concurrency}
    result["memory"]["argon2_phase"] = w.result()

    # --- Organizations: four per applicant, in the provinces of the 8 agencies.
    home = [AGENCIES[i % len(AGENCIES)] for i in range(n_app)]
    org_jobs = []
    for i in range(n_app):
        province = rng.choice(PROVINCES[home[i]])
        for k, body in enumerate(organizations_of(i, province)):
            org_jobs.append((i, k, body))
    async def new_org(job):
        i, k, body = job
        return (await api.call("POST", "/api/v1/organizations", tokens[i], body))["id"]
    org_ids, secs = await pool(org_jobs, new_org, s.concurrency, "organizations")
    orgs = [org_ids[4 * i:4 * i + 4] for i in range(n_app)]
    phases["organizations"] = {"count": len(org_jobs), "secs": round(secs, 1), "per_s": round(len(org_jobs) / secs, 1)}

    # --- Partnerships and complete drafts: one per applicant for the rush (its own four
    # organizations, its home agency), and the rest of the ranked agency's applications,
    # led by the applicants in turn with partners drawn from the whole registry.
    rush_in_agency = sum(1 for i in range(n_app) if home[i] == s.agency)
    extra = max(0, s.rank_apps - rush_in_agency)
    # Partners are (organization, the applicant who represents it).
    projects = [(i, i, home[i], [(orgs[i][k], i) for k in (1, 2, 3)], True) for i in range(n_app)]
    for j in range(extra):
        a = j % n_app
        owners = [(a + 1 + j) % n_app, (a + 7 * j + 3) % n_app, (a + 13 * j + 5) % n_app]
        partners = [(orgs[owners[0]][1], owners[0]), (orgs[owners[1]][2], owners[1]), (orgs[owners[2]][3], owners[2])]
        projects.append((n_app + j, a, s.agency, partners, False))

    accepted = 0
    async def new_project(p):
        nonlocal accepted
        j, a, agency, partners, _ = p
        t = tokens[a]
        lead = orgs[a][0]
        pid = (await api.call("POST", "/api/v1/partnerships", t, {"call_id": call_id, "name": f"Rete {j}", "lead_organization_id": lead}))["id"]
        for o, owner in partners:
            await api.call("POST", f"/api/v1/partnerships/{pid}/members", t, {"organization_id": o, "role": "full_partner"})
            # An organization another applicant represents is invited: that applicant accepts.
            if owner != a:
                await api.call("POST", f"/api/v1/partnerships/{pid}/members/{o}/accept", tokens[owner])
                accepted += 1
        app = await api.call("POST", "/api/v1/applications", t, {"partnership_id": pid, "content": content(random.Random(s.seed * 1_000_003 + j), j, agency, lead)})
        await api.upload(f"/api/v1/applications/{app['id']}/documents", t, {"kind": "partnership_agreement"},
                         "accordo.pdf", small_pdf(f"Accordo di partenariato, progetto {j}"))
        return app["id"]
    app_ids, secs = await pool(projects, new_project, s.concurrency, "partnerships + complete drafts")
    phases["projects"] = {"count": len(projects), "secs": round(secs, 1), "per_s": round(len(projects) / secs, 1),
                          "requests_each": 6, "invitations_accepted": accepted}

    # Check one draft: nothing blocks it.
    view = await api.call("GET", f"/api/v1/applications/{app_ids[0]}", tokens[0])
    assert not view["blocking"], view["blocking"]

    # --- The earlier submissions of the ranked agency (untimed: the rush comes after).
    stuck_keys = 0
    async def submit(p_and_id):
        nonlocal stuck_keys
        p, app_id = p_and_id
        for _ in range(10):
            status, _, text = await api.call("POST", f"/api/v1/applications/{app_id}/submit", tokens[p[1]],
                                             headers={"Idempotency-Key": str(uuid.uuid4())}, expect=(200, 409), raw=True)
            body = json.loads(text)
            if status == 200:
                return body["protocol_number"]
            if body.get("code") != "idempotency_in_progress":
                raise ApiError(f"submit {app_id}: {status} {text[:500]}")
            # A 503 was retried with the same key and the key is still "running": the first
            # attempt's key was not released. Count it, and try again with a new key.
            stuck_keys += 1
            await asyncio.sleep(1.0)
        raise ApiError(f"submit {app_id}: the idempotency key stays in progress")
    earlier = [(p, a) for p, a in zip(projects, app_ids) if not p[4]]
    _, secs = await pool(earlier, submit, s.concurrency, "earlier submissions")
    phases["earlier_submissions"] = {"count": len(earlier), "secs": round(secs, 1), "per_s": round(len(earlier) / max(secs, 1e-9), 1),
                                     "stuck_idempotency_keys": stuck_keys}
    phases["seeding_total_s"] = round(time.perf_counter() - t_seed, 1)
    result["data_set"] = {"applicants": n_app, "evaluators": len(evaluators), "organizations": len(org_jobs),
                          "partnerships": len(projects), "applications": len(projects),
                          "submitted_before_rush": len(earlier), "agencies": len(set(home))}

    # The steady state a production database reaches by itself after a bulk load (autovacuum's
    # analyze, a checkpoint; SQLite's WAL checkpoint), so that it does not run during a read.
    if pg:
        pg.maintain()
    elif sqlite_path:
        import sqlite3
        with sqlite3.connect(sqlite_path) as c:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    await asyncio.sleep(2.0)
    result["memory"]["idle_seeded_mib"] = round(service.memory()["rss_kib"] / 1024, 1)

    # --- Reads. The applicant reads one of its submitted applications; lists are filtered
    # by call and status (applicant), by call, agency and status (evaluator, 20 a page).
    lead_a = earlier[0][0][1] if earlier else 0
    read_app = earlier[0][1] if earlier else app_ids[0]
    targets = [
        ("status", "GET /status (ceiling)", f"{base}/status", None),
        ("get_application", "GET /api/v1/applications/{id} (applicant)", f"{base}/api/v1/applications/{read_app}", tokens[lead_a]),
        ("list_applicant", "GET /api/v1/applications?call_id&status (applicant)", f"{base}/api/v1/applications?call_id={call_id}&status=submitted", tokens[lead_a]),
        ("list_evaluator", f"GET /api/v1/applications?call_id&agency_code&status (evaluator, 20/page)",
         f"{base}/api/v1/applications?call_id={call_id}&agency_code={s.agency}&status=submitted&per_page=20", etokens[0]),
    ]
    reads = {}
    diagnostics = {}
    async with MemoryWatch(service) as w:
        for key, label, url, token in targets:
            await oha(url, token, 2, s.connections)  # warm-up
            before = pg.settled() if pg else None
            async with CpuMeter(service.pid, pg.db if pg else None) as cpu:
                m = await oha(url, token, s.duration, s.connections)
            m["cpu"] = cpu.result(m["requests"])
            if pg:
                diagnostics[key] = PgStats.per_request(PgStats.delta(before, pg.settled()), m["requests"])
            m["label"] = label
            reads[key] = m
            c = m["cpu"]["per_request"]
            log(f"  {label}: CPU per request: service {c['service_ms']} ms" + (f", PostgreSQL {c['postgres_ms']} ms" if pg else "")
                + f"; load {m['cpu']['load_average']['before'][0]}")
            log(f"  {label}: {m['rps']} req/s, p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms, non-2xx {m['non_2xx']}"
                + (f"; {diagnostics[key]['statements']} SQL statements, {diagnostics[key]['rows_read']} rows read per request" if pg else ""))
            # Then at a fixed share of that maximum, right after it.
            rate = m["rps"] * s.fixed_share
            f = await oha(url, token, s.duration, s.connections, rate=rate)
            m["fixed_rate"] = round(rate, 1)
            m["fixed"] = f
            log(f"  {label} at {rate:.0f} req/s: p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, non-2xx {f['non_2xx']}")
        ceiling = reads["status"]["rps"]
        for m in reads.values():
            m["share_of_ceiling"] = round(m["rps"] / ceiling, 3)
    result["reads"] = reads
    result["memory"]["reads"] = w.result()

    await api.reset()
    # --- The deadline rush.
    rush_items = [(app_ids[k], tokens[projects[k][1]]) for k in range(len(projects)) if projects[k][4]]
    before = pg.settled() if pg else None
    async with MemoryWatch(service) as w:
        async with CpuMeter(service.pid, pg.db if pg else None) as cpu:
            r = await rush("127.0.0.1", int(base.rsplit(":", 1)[1]), rush_items)
    r["cpu"] = cpu.result(len(rush_items))
    result["memory"]["rush"] = w.result()
    if pg:
        diagnostics["submit"] = PgStats.per_request(PgStats.delta(before, pg.settled()), len(rush_items))
    # The applicants whose submission failed try again, as a front end does, with the same
    # Idempotency-Key (untimed): a 200 is the receipt; a 409 means the first attempt had in
    # fact been submitted although it was answered with an error.
    failed = r.pop("failed")
    retry_codes: dict = {}
    async def again(item):
        app_id, token, key = item
        status, _, text = await api.call("POST", f"/api/v1/applications/{app_id}/submit", token,
                                         headers={"Idempotency-Key": key}, expect=(200, 409, 422, 503), raw=True)
        code = str(status) if status != 409 else f"409 {json.loads(text).get('code')}"
        retry_codes[code] = retry_codes.get(code, 0) + 1
    if failed:
        await api.reset()
        await pool(failed, again, s.concurrency, "retries of the failed submissions")
    r["retries_same_key"] = retry_codes
    # Every protocol number of the call, unique and gap-free, from the export.
    csv_text = await api.call("GET", f"/api/v1/applications?call_id={call_id}&status=submitted&format=csv", admin)
    rows = csv_text.strip().splitlines()
    header = rows[0].split(",")
    pcol = header.index("protocol_number")
    numbers = sorted(int(line.split(",")[pcol].rsplit("-", 1)[1]) for line in rows[1:])
    rush_numbers = sorted(int(p.rsplit("-", 1)[1]) for p in r.pop("protocols"))
    r["protocol_check"] = {
        "submitted_in_call": len(numbers),
        "unique": len(set(numbers)) == len(numbers),
        "gap_free": numbers == list(range(1, len(numbers) + 1)),
        "rush_unique": len(set(rush_numbers)) == len(rush_numbers),
        "rush_contiguous": rush_numbers == list(range(rush_numbers[0], rush_numbers[0] + len(rush_numbers))) if rush_numbers else False,
    }
    result["rush"] = r
    log(f"  rush: {r['submits']} submits, errors {r['errors']} {r['status_codes']}, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
        f"wall {r['wall_s']} s, protocols {r['protocol_check']}")
    c = r["cpu"]["per_request"]
    log(f"  rush: CPU per submission: service {c['service_ms']} ms" + (f", PostgreSQL {c['postgres_ms']} ms" if pg else "")
        + f"; load {r['cpu']['load_average']['before'][0]}")
    if r["error_samples"]:
        log(f"  rush error samples: {r['error_samples']}")

    # --- The database's own limit for the same work: pgbench of the single read's SQL and
    # of the minimal submission transaction, with as many clients as the service's pool.
    if pg and pg.pgbench:
        try:
            await measure_pgbench(pg, service, result, tokens[lead_a], read_app, call_id, code, r)
        except (RuntimeError, subprocess.CalledProcessError, ValueError, KeyError, TypeError) as e:
            # The service's own figures still count; the ratios are left out, and why is kept.
            result["pgbench_error"] = str(e)[-2000:]
            log(f"  pgbench failed, no ratios: {result['pgbench_error']}")

    await api.reset()
    # --- The window closes (an amendment by the administrator), the agency reviews.
    path = f"/api/v1/calls/{call_id}"
    _, headers, _ = await api.call("GET", path, admin, raw=True)
    close_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=1)
    await api.call("PATCH", path, admin, {"closes_at": close_at.isoformat(),
                   "amendment": {"act_number": "decreto n. 1 (benchmark)", "act_date": close_at.date().isoformat(), "reason": "Chiusura anticipata per il benchmark"}},
                   headers={"If-Match": headers["ETag"], "Content-Type": "application/merge-patch+json"})
    await asyncio.sleep(max(0.0, (close_at - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 0.2)

    csv_text = await api.call("GET", f"/api/v1/applications?call_id={call_id}&agency_code={s.agency}&status=submitted&format=csv", admin)
    rows = csv_text.strip().splitlines()
    icol = rows[0].split(",").index("id")
    to_review = [line.split(",")[icol] for line in rows[1:]]
    qualities = {a: rng.uniform(0.45, 0.98) for a in to_review}

    async def review(app_id):
        for t in etokens:
            await api.call("POST", f"/api/v1/applications/{app_id}/conflict-of-interest", t, {"has_conflict": False})
        await api.call("POST", f"/api/v1/applications/{app_id}/admissibility", etokens[0], {"decision": "admitted"})
        local = random.Random(app_id)
        for t in etokens[:evaluators_required]:
            await api.call("PUT", f"/api/v1/applications/{app_id}/evaluations/mine", t,
                           {"scores": scores(local, criteria, qualities[app_id]), "final": True})
    async with MemoryWatch(service) as w:
        _, secs = await pool(to_review, review, s.concurrency, "reviews (declarations, admissibility, scores)")
    writes = len(to_review) * (len(etokens) + 1 + evaluators_required)
    phases["review"] = {"applications": len(to_review), "requests": writes, "secs": round(secs, 1), "requests_per_s": round(writes / secs, 1)}
    result["memory"]["review"] = w.result()

    # --- The ranking and allocation, end to end.
    ranking = f"/api/v1/calls/{call_id}/agencies/{s.agency}/ranking"
    runs = []
    async with MemoryWatch(service) as w:
        for k in range(s.ranking_runs):
            before = pg.settled() if pg and k == 0 else None
            await api.reset()
            t0 = time.perf_counter()
            status, _, text = await api.call("POST", ranking, etokens[0], {}, raw=True)
            secs = time.perf_counter() - t0
            body = json.loads(text)
            entries = body["entries"]
            runs.append({"secs": round(secs, 3), "version": body["version"], "entries": len(entries),
                         "funded": sum(1 for e in entries if e["outcome"] in ("funded", "partially_funded")),
                         "allocated": body["allocated"], "envelope": body["envelope"], "bytes": len(text)})
            log(f"  ranking v{body['version']}: {secs * 1000:.0f} ms, {len(entries)} entries, {len(text) / 1e6:.1f} MB")
            if before:
                diagnostics["ranking"] = PgStats.per_request(PgStats.delta(before, pg.settled()), 1)
        await api.reset()
        t0 = time.perf_counter()
        _, _, text = await api.call("GET", ranking, etokens[0], raw=True)
        get_secs = time.perf_counter() - t0
    result["ranking"] = {"runs": runs, "get_secs": round(get_secs, 3)}
    result["memory"]["ranking"] = w.result()
    result["memory"]["final_hwm_mib"] = round(service.memory()["hwm_kib"] / 1024, 1)
    if pg:
        result["pg_diagnostics"] = diagnostics
    result["client_retries_on_429_503"] = api.retries


# ---------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="one backend, end to end")
    r.add_argument("--backend", choices=["postgres", "sqlite"], required=True)
    r.add_argument("--binary", required=True)
    r.add_argument("--database-url", required=True)
    r.add_argument("--pg-admin-url", default="postgres://postgres@127.0.0.1:5432")
    r.add_argument("--pg-db", default="wg_bench")
    r.add_argument("--pgbench", default=None, help="pgbench's path (bench/run finds it); none: no pgbench runs")
    rep = sub.add_parser("report", help="print the table and write BENCHMARKS.md")
    rep.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"))
    rep.add_argument("--elapsed", type=float, default=None)
    args = ap.parse_args()
    if args.command == "run":
        s = Settings()
        if args.backend == "sqlite":
            # The same size as on PostgreSQL by default; smaller for a quicker run.
            s.rank_apps = env_int("BENCH_SQLITE_RANK_APPS", 10000)
        res = asyncio.run(run_backend(args, s))
        log(f"{args.backend}: done")
    else:
        sys.path.insert(0, str(pathlib.Path(__file__).parent))
        import report
        report.main(args)


if __name__ == "__main__":
    main()
