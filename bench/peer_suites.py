"""Run LangGraph's own test suites against stateline's savers.

    python -m bench.peer_suites                 # all three suites
    python -m bench.peer_suites sqlite -- -k delta   # one suite, extra pytest arguments
    python -m bench.peer_suites langgraph --by-file  # one pytest run per test file, tracked

``--by-file`` runs each test file of a suite on its own (JUnit XML per file in
``.peer-cache/results/<suite>/``, a line per file in ``.peer-cache/progress.log``) and adds
the counts up; ``--resume`` skips files whose XML is already there. LangGraph's suite is
~3,000 selected tests (~1 h on 2 cores): this is how it is run in pieces that can be
followed and picked up again.

What runs: only parameters that plug in a stateline saver. ``stateline_peer`` deselects
the ``memory``/``redis``/``shallow`` parameters and the store-only files, and in
LangGraph's suite every test that takes no checkpointer fixture (it tests no saver): of
langgraph 1.2.24's 5,420 collected tests, 3,023 stay.

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
import time
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


def _suite_env(name: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(PLUGIN_DIR), "NO_DOCKER": "false", "STATELINE_PEER_DB": PEER_DB}
    # the suites connect to the server URL without a database (to CREATE DATABASE): libpq then
    # uses PGDATABASE, set to the database STATELINE_TEST_PG_URL names
    env.setdefault("PGDATABASE", urlsplit(os.environ["STATELINE_TEST_PG_URL"]).path.lstrip("/") or "postgres")
    if name == "langgraph":
        env["STATELINE_PEER_ONLY_SAVERS"] = "1"  # tests that run no checkpointer test no saver
    return env


def _pytest(tree: Path, name: str, report: Path, targets: list[str], extra: list[str]) -> None:
    cmd = [
        sys.executable, "-m", "pytest", "-p", "stateline_peer", "-p", "no:cacheprovider",
        "-q", "-rfEs", "--timeout", "300", f"--junitxml={report}", *targets, *extra,
    ]  # fmt: skip
    subprocess.run(cmd, cwd=tree, env=_suite_env(name), check=False)


def _selected_files(tree: Path, name: str, extra: list[str]) -> list[Path]:
    """The suite's test files with at least one selected test (one collection run; a pytest
    process per file costs ~10 s of imports, so files with nothing selected are not run)."""
    cmd = [sys.executable, "-m", "pytest", "-p", "stateline_peer", "-p", "no:cacheprovider", "-q",
           "--collect-only", "tests", *extra]  # fmt: skip
    out = subprocess.run(cmd, cwd=tree, env=_suite_env(name), capture_output=True, text=True, check=False).stdout
    names = sorted({line.split("::", 1)[0] for line in out.splitlines() if line.startswith("tests/") and "::" in line})
    return [tree / n for n in names]


def run_suite(name: str, extra: list[str], *, by_file: bool = False, resume: bool = False) -> Counts:
    tree = sdist_tree(SUITES[name])
    print(f"[peer] {name}: {SUITES[name]} {version(SUITES[name])} ({tree})", flush=True)
    if not by_file:
        report = CACHE / "results" / f"{name}.xml"
        report.parent.mkdir(parents=True, exist_ok=True)
        _pytest(tree, name, report, ["tests"], extra)
        return read_counts(report)
    total = Counts()
    for test_file in _selected_files(tree, name, extra):
        report = CACHE / "results" / name / f"{test_file.stem}.xml"
        report.parent.mkdir(parents=True, exist_ok=True)
        ran = not (resume and report.exists())
        if ran:
            report.unlink(missing_ok=True)
            started = time.monotonic()
            _pytest(tree, name, report, [f"tests/{test_file.name}"], extra)
            took = time.monotonic() - started
        c = read_counts(report) if report.exists() else Counts(failed=1, failures=(f"{test_file.name}: no report",))
        if ran:
            with (CACHE / "progress.log").open("a") as log:
                log.write(f"{time.strftime('%H:%M:%S')} {name} {test_file.name}: {c.passed} passed, "
                          f"{c.skipped} skipped, {c.failed} failed in {took:.0f} s\n")  # fmt: skip
        total.passed += c.passed
        total.skipped += c.skipped
        total.failed += c.failed
        total.failures += c.failures
    return total


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
    parser.add_argument("--by-file", action="store_true", help="one pytest run per test file (progress logged)")
    parser.add_argument("--resume", action="store_true", help="with --by-file: skip files already reported")
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
    results = {
        name: run_suite(name, extra, by_file=args.by_file, resume=args.resume) for name in (args.suites or list(SUITES))
    }
    print("\n[peer] suite       passed  skipped  failed")
    for name, c in results.items():
        print(f"[peer] {name:<10} {c.passed:>7} {c.skipped:>8} {c.failed:>7}")
        for test_id in c.failures:
            print(f"[peer]   FAILED {test_id}")
    return 1 if any(c.failed for c in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
