"""Load benchmark: concurrent signed-in users replaying realistic flows against the deployment's own stack.

    python -m bench.load [--users 50] [--seconds 60] [--think 5] [--patients N]

Starts, on loopback only, a fresh PostgreSQL database (on --postgres's server), the real Redis (--redis, a database
number of its own, keys under a prefix of the run's own, deleted afterwards), and the Procfile's command (gunicorn,
--preload, 2 workers x 4 threads) on them; imports the demo study (or a simulated one of --patients patients);
then --users simulated users, each a thread with its own session (cookie, kept-alive connection), sign in (an
analyst account each, granted the study, signed in through the app's form with its CSRF token) and replay, until
--seconds have
passed, flows chosen at random with --think seconds (on average; a reviewer reads what a click showed before
the next) between them:

- open a patient: a link to /patients/<id> (the page router and the navigation links, what the browser sends
  for a link within the app; on a user's first page, a page load, also the study selector);
- change the AUC window: the patient page's NCA for a new window (sometimes a new AUC method), after following a
  link to a patient when the user is on another page;
- cohort update: the kinetics page's update for new controls (grouping, display, scale, statistic, window), after
  a link to /kinetics when the user is elsewhere;
- efficacy page: a link to /efficacy (when elsewhere), then the swimmer plot sorted the other way.

The requests are the ones the browser sends (bench/dash_client.py builds them from /_dash-dependencies; which
callbacks a navigation sends was read from Chromium's network log of the app), with each page's state store as
the router's answer or the last update wrote it. Prints, per flow, the 50th/95th/99th percentile latency of its
requests and of the whole flow, the throughput, and every error (any answer but 200). The target is p95 under
500 ms per request with no error. Exit status: 0 when it was met, 3 when it was not, 1 when the benchmark itself failed.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from bench.dash_client import Answer, DashClient, cohort_update, page_state, patient_window, swimmer_sort
from bench.services import ROOT, add_analysts, fresh_postgres_database, gunicorn, sign_in_env

FLOWS = ("open a patient", "change the AUC window", "cohort update", "efficacy page")
#: How often users take each flow (a patient review is most of the work).
WEIGHTS = (3, 3, 2, 1)
WINDOWS = ((0, 28), (0, 14), (0, 90), (7, 28), (0, 60))
TARGET_P95 = 0.500
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


@dataclass
class Record:
    """Everything the users saw: each request (flow, answer) and each whole flow's seconds."""

    requests: list[tuple[str, Answer]] = field(default_factory=list)
    flows: list[tuple[str, float]] = field(default_factory=list)
    retries: int = 0  # requests sent again on a new connection (the server had closed the kept-alive one)
    cpu: tuple[float, float] = (0.0, 0.0)  # CPU seconds of gunicorn's workers and of this load generator
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, flow: str, answers: list[Answer], seconds: float) -> None:
        with self.lock:
            self.requests += [(flow, a) for a in answers]
            self.flows.append((flow, seconds))


class User:
    """One simulated user: a browser session that reviews patients, the cohort and efficacy."""

    def __init__(self, base: str, dependencies: list[dict] | None, patients: list[str], study: str, rng: random.Random):
        self.client = DashClient(base, dependencies)
        self.patients, self.study, self.rng = patients, study, rng
        self.search = f"?study={study}"
        self.states: dict[str, dict | None] = {}  # each page's state store as the user last saw it
        self.page: str | None = None  # the page the user is on

    def window(self) -> tuple[float, float]:
        if self.rng.random() < 0.2:  # a window of the user's own: computed, not cached
            return 0, self.rng.randint(10, 120)
        return self.rng.choice(WINDOWS)

    def go(self, path: str, page: str) -> list[Answer]:
        """Follow a link to `path` (nothing is sent when the user is already there)."""
        answers = self.client.navigate(path, self.search)
        router = next((a for a in answers if a.name == "page"), None)
        if router is not None:
            self.states[page] = page_state(router, page)
            self.page = page
        return answers

    def update(self, answer: Answer, page: str) -> list[Answer]:
        """An update on the current page; the page's state follows what the update wrote."""
        self.states[page] = page_state(answer, page) or self.states[page]
        return [answer]

    def open_patient(self) -> list[Answer]:
        return self.go(f"/patients/{self.rng.choice(self.patients)}", "patients")

    def change_window(self) -> list[Answer]:
        answers = [] if self.page == "patients" else self.open_patient()
        if not self.states.get("patients"):
            return answers
        start, end = self.window()
        method = "linear" if self.rng.random() < 0.2 else None
        return [*answers, *self.update(patient_window(self.client, self.states["patients"], start, end, method),
                                       "patients")]

    def cohort(self) -> list[Answer]:
        answers = [] if self.page == "kinetics" else self.go("/kinetics", "kinetics")
        if not self.states.get("kinetics"):
            return answers
        start, end = self.window()
        changes = {"group": self.rng.choice(["dose_level", "response_group", "crs_group", "none"]),
                   "display": self.rng.choice(["colour", "facet"]), "scale": self.rng.choice(["log", "linear"]),
                   "stat": self.rng.choice(["median", "geomean"]), "start": start, "end": end}
        changed = self.rng.choice(["group", "display", "scale", "stat", "end"])
        return [*answers, *self.update(cohort_update(self.client, self.states["kinetics"], changed=changed,
                                                     **changes), "kinetics")]

    def efficacy(self) -> list[Answer]:
        answers = [] if self.page == "efficacy" else self.go("/efficacy", "efficacy")
        if not self.states.get("efficacy"):
            return answers
        sort = "dose" if self.states["efficacy"].get("sort") == "duration" else "duration"
        return [*answers, *self.update(swimmer_sort(self.client, self.states["efficacy"], sort), "efficacy")]

    def run(self, flow: str) -> list[Answer]:
        return {"open a patient": self.open_patient, "change the AUC window": self.change_window,
                "cohort update": self.cohort, "efficacy page": self.efficacy}[flow]()


def require_loopback(url: str, what: str) -> None:
    host = urlparse(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"{what} must be on loopback (127.0.0.1), not {host}: the benchmark loads only this machine")


@contextlib.contextmanager
def redis_prefix(url: str):
    """A key prefix of the run's own on the Redis at `url`; its keys deleted afterwards."""
    import redis

    client = redis.Redis.from_url(url)
    client.ping()
    prefix = f"cartscope-load-{uuid.uuid4().hex[:8]}:"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def simulate(base: str, users: int, seconds: float, think: float, patients: list[str], study: str,
             passwords: dict[str, str], seed: int) -> tuple[Record, float]:
    """Users replaying flows for `seconds`; what they saw, and the seconds it took (flows in flight finish)."""
    record = Record()
    rng = random.Random(seed)
    people = [User(base, None, patients, study, random.Random(rng.random())) for _ in range(users)]
    for person, (name, password) in zip(people, passwords.items(), strict=True):
        person.client.sign_in(name, password)
    dependencies = people[0].client.dependencies
    for person in people:
        person.client.dependencies = dependencies
    ready = threading.Barrier(users + 1)
    stop = threading.Event()

    def live(person: User) -> None:
        ready.wait()
        time.sleep(person.rng.uniform(0, 2 * think))  # users do not all click at the same moment
        while not stop.is_set():
            flow = person.rng.choices(FLOWS, WEIGHTS)[0]
            started = time.perf_counter()
            answers = person.run(flow)
            record.add(flow, answers, time.perf_counter() - started)
            stop.wait(person.rng.uniform(0, 2 * think))

    threads = [threading.Thread(target=live, args=(p,), daemon=True) for p in people]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    record.retries = sum(person.client.retries for person in people)
    return record, time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the process `pid`'s children so far (gunicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def report(record: Record, elapsed: float, args) -> bool:
    """Print the figures; whether the target was met."""
    by_flow: dict[str, list[Answer]] = defaultdict(list)
    examples = {}
    for flow, answer in record.requests:
        by_flow[flow].append(answer)
        if not answer.ok:
            examples.setdefault(answer.status, answer.text.strip()[:300])
    flow_times: dict[str, list[float]] = defaultdict(list)
    for flow, seconds in record.flows:
        flow_times[flow].append(seconds)
    print(f"{args.users} users, {elapsed:.0f} s, think time {args.think:g} s on average, "
          f"sign-in on; gunicorn 2 workers x 4 threads + PostgreSQL + Redis; "
          f"{os.cpu_count()} CPU(s)")
    print(f"{'flow':<22}{'flows':>6}{'requests':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
          f"{'flow p50':>10}{'flow p95':>10}{'errors':>8}")
    all_times, errors = [], Counter()
    for flow in FLOWS:
        answers = by_flow.get(flow, [])
        times = [a.seconds for a in answers if a.ok]
        all_times += times
        for answer in answers:
            if not answer.ok:
                errors[(flow, answer.name, answer.status)] += 1
        if not times:
            print(f"{flow:<22}{len(flow_times[flow]):>6}{len(answers):>9}  (no successful request)")
            continue
        whole = flow_times[flow]
        print(f"{flow:<22}{len(whole):>6}{len(answers):>9}{percentile(times, 50) * 1e3:>8.0f}"
              f"{percentile(times, 95) * 1e3:>8.0f}{percentile(times, 99) * 1e3:>8.0f}{max(times) * 1e3:>8.0f}"
              f"{percentile(whole, 50) * 1e3:>10.0f}{percentile(whole, 95) * 1e3:>10.0f}"
              f"{sum(1 for a in answers if not a.ok):>8}")
    total = len(record.requests)
    print(f"throughput: {total / elapsed:.1f} requests/s, {len(record.flows) / elapsed:.1f} flows/s "
          f"({total:,} requests, {len(record.flows):,} flows); {record.retries} request(s) sent again on a new "
          "connection after the server closed a kept-alive one, as browsers do")
    print(f"CPU: gunicorn's workers {record.cpu[0]:.0f} s ({record.cpu[0] / elapsed:.2f} cores, "
          f"{record.cpu[0] / max(total, 1) * 1e3:.0f} ms a request), this load generator {record.cpu[1]:.0f} s "
          f"({record.cpu[1] / elapsed:.2f} cores); load average {os.getloadavg()[0]:.1f}")
    if all_times:
        print(f"all requests: p50 {statistics.median(all_times) * 1e3:.0f} ms, "
              f"p95 {percentile(all_times, 95) * 1e3:.0f} ms, p99 {percentile(all_times, 99) * 1e3:.0f} ms")
    print(f"errors: {sum(errors.values())}" + "".join(f"\n  {n} x {flow} / {name}: {status}"
                                                       for (flow, name, status), n in errors.most_common())
          + "".join(f"\n  {status}: {text}" for status, text in examples.items()))
    met = bool(all_times) and not errors and all(
        percentile([a.seconds for a in by_flow[f]], 95) < TARGET_P95 for f in FLOWS if by_flow.get(f))
    print(f"target (p95 < {TARGET_P95 * 1e3:.0f} ms per request in every flow, 0 errors): "
          f"{'met' if met else 'NOT met'}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60, help="how long the users replay flows (default 60)")
    parser.add_argument("--think", type=float, default=5.0, help="average seconds between a user's flows "
                        "(uniform from 0 to twice this; 0: no pause)")
    parser.add_argument("--patients", type=int, default=0, help="a simulated study of this many patients instead "
                        "of the bundled demo study (62)")
    parser.add_argument("--postgres", default=os.environ.get("CARTSCOPE_TEST_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/test"),
                        help="the PostgreSQL server (a database of the run's own is made there and dropped)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13",
                        help="the Redis server and database number (keys under a prefix of the run's own)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    require_loopback(args.postgres, "--postgres")
    require_loopback(args.redis, "--redis")

    work = Path(tempfile.mkdtemp(prefix="cartscope-load-"))
    with fresh_postgres_database(args.postgres) as url, redis_prefix(args.redis) as prefix:
        from data_access.importer import import_path
        from data_access.store import get_engine

        source, name = Path(ROOT / "data" / "demo"), "demo"
        if args.patients:
            from data_access.demo import write_demo_study

            source, name = work / "study", "load"
            write_demo_study(source, n_subjects=args.patients)
        started = time.perf_counter()
        result = import_path(source, name, source="bench", simulated=True, engine=get_engine(url))
        assert result.stored, result.report.to_text()
        get_engine(url).dispose()
        print(f"study '{name}': {result.record.n_subjects:,} patients, {result.record.n_rows:,} rows "
              f"(imported in {time.perf_counter() - started:.1f} s)")
        import pandas as pd

        patients = pd.read_csv(source / "subjects.csv")["subject_id"].astype(str).tolist()
        env = {"CARTSCOPE_DATABASE_URL": url, "CARTSCOPE_REDIS_URL": args.redis, "CARTSCOPE_CACHE_PREFIX": prefix,
               "CARTSCOPE_CACHE_DIR": str(work / "cache"), "CARTSCOPE_DEFAULT_STUDY": name}
        env.update(sign_in_env())  # the Procfile's gunicorn starts only with sign-in
        started = time.perf_counter()
        passwords = add_analysts(url, [f"load-user-{i + 1}" for i in range(args.users)], name)
        get_engine(url).dispose()
        print(f"{args.users} analyst accounts made and granted '{name}' in {time.perf_counter() - started:.1f} s")
        with gunicorn(env, work / "gunicorn.log") as server:
            server_cpu, client_cpu = cpu_seconds(server.process.pid), time.process_time()
            record, elapsed = simulate(server.base, args.users, args.seconds, args.think, patients, name, passwords,
                                       args.seed)
            record.cpu = (cpu_seconds(server.process.pid) - server_cpu, time.process_time() - client_cpu)
            log = server.output()
    met = report(record, elapsed, args)
    if "Traceback" in log:
        print(f"the server logged errors:\n{log[-3000:]}")
    return 0 if met else 3


if __name__ == "__main__":
    sys.exit(main())
