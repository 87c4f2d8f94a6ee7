"""Run LangGraph's own test suites against stateline's savers.

    python -m bench.peer_suites                 # all three suites
    python -m bench.peer_suites sqlite -- -k delta   # one suite, extra pytest arguments

The suites are the ``tests/`` of the PyPI source packages of the *installed* versions of
langgraph-checkpoint-sqlite, langgraph-checkpoint-postgres and langgraph. The sdists are
fetched once with ``pip download --no-binary :all: --no-deps`` into ``.peer-cache/``
(gitignored) and extracted there; nothing else is fetched. ``bench/peer/stateline_peer.py``
(a pytest plugin) plugs stateline's savers in where the stock ones are and holds the
reviewed skip list. PostgreSQL: ``STATELINE_TEST_PG_URL``'s server (the suites create and
drop their own databases; the user needs CREATEDB). Prints pass/skip/fail counts per suite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".peer-cache"
PLUGIN_DIR = Path(__file__).resolve().parent / "peer"
SUITES = {
    "sqlite": "langgraph-checkpoint-sqlite",
    "postgres": "langgraph-checkpoint-postgres",
    "langgraph": "langgraph",
}
"""Suite name -> the PyPI package whose sdist's tests/ it runs."""
PEER_DB = "stateline_peer"
"""The fixed database the suites' ``DEFAULT_URI`` names (they create others per test)."""


@dataclass
class Counts:
    """One suite's outcome, read from its JUnit XML."""

    passed: int = 0
    """Tests that passed."""
    skipped: int = 0
    """Tests skipped (the reviewed list, or the suite's own skips)."""
    failed: int = 0
    """Tests failed or errored."""
    failures: tuple[str, ...] = ()
    """Test ids that failed or errored."""


def sdist_tree(package: str) -> Path:
    """The extracted sdist of the installed version of ``package`` (downloaded once)."""
    ver = version(package)
    src = CACHE / "src" / f"{package}-{ver}"
    if (src / "tests").is_dir():
        return src
    sdists = CACHE / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    stem = package.replace("-", "_")
    found = [p for p in sdists.glob("*.tar.gz") if p.name.lower().replace("-", "_").startswith(f"{stem}_{ver}.")]
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
             "--quiet", "-d", str(sdists), f"{package}=={ver}"],
            check=True,
        )  # fmt: skip
        found = [p for p in sdists.glob("*.tar.gz") if p.name.lower().replace("-", "_").startswith(f"{stem}_{ver}.")]
    with tarfile.open(found[0]) as tar:
        top = tar.getnames()[0].split("/", 1)[0]
        tar.extractall(CACHE / "src", filter="data")
    (CACHE / "src" / top).rename(src)
    return src


def ensure_peer_db(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PEER_DB,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{PEER_DB}"')


def run_suite(name: str, extra: list[str]) -> Counts:
    tree = sdist_tree(SUITES[name])
    report = CACHE / "results" / f"{name}.xml"
    report.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(PLUGIN_DIR), "NO_DOCKER": "false", "STATELINE_PEER_DB": PEER_DB}
    # the suites connect to the server URL without a database (to CREATE DATABASE): libpq then
    # uses PGDATABASE, set to the database STATELINE_TEST_PG_URL names
    env.setdefault("PGDATABASE", urlsplit(os.environ["STATELINE_TEST_PG_URL"]).path.lstrip("/") or "postgres")
    if name == "langgraph":
        env["STATELINE_PEER_ONLY_SAVERS"] = "1"  # tests that run no checkpointer test no saver
    cmd = [
        sys.executable, "-m", "pytest", "-p", "stateline_peer", "-p", "no:cacheprovider",
        "-q", "-rfEs", "--timeout", "300", f"--junitxml={report}", "tests", *extra,
    ]  # fmt: skip
    print(f"[peer] {name}: {SUITES[name]} {version(SUITES[name])} ({tree})", flush=True)
    subprocess.run(cmd, cwd=tree, env=env, check=False)
    return read_counts(report)


def read_counts(report: Path) -> Counts:
    counts = Counts()
    failures = []
    for case in ET.parse(report).getroot().iter("testcase"):
        tags = {child.tag for child in case}
        test_id = f"{case.get('classname')}::{case.get('name')}"
        if tags & {"failure", "error"}:
            counts.failed += 1
            failures.append(test_id)
        elif "skipped" in tags:
            counts.skipped += 1
        else:
            counts.passed += 1
    counts.failures = tuple(failures)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suites", nargs="*", help=f"some of {', '.join(SUITES)} (default: all three)")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if unknown := [s for s in args.suites if s not in SUITES]:
        parser.error(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)}")
    url = os.environ.get("STATELINE_TEST_PG_URL")
    if not url:
        print("STATELINE_TEST_PG_URL must name a PostgreSQL server (user with CREATEDB)", file=sys.stderr)
        return 2
    ensure_peer_db(url)
    results = {name: run_suite(name, extra) for name in (args.suites or list(SUITES))}
    print("\n[peer] suite       passed  skipped  failed")
    for name, c in results.items():
        print(f"[peer] {name:<10} {c.passed:>7} {c.skipped:>8} {c.failed:>7}")
        for test_id in c.failures:
            print(f"[peer]   FAILED {test_id}")
    return 1 if any(c.failed for c in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
