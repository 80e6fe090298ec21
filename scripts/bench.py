"""``make bench``: build (or reuse) the 100,000-patient demo registry, then run every benchmark.

    .venv/bin/python scripts/bench.py [--patients 100000] [--seed 7] [--only demo feed] [--rebuild]
    .venv/bin/python scripts/bench.py --patients 1000000 --backend postgresql [--workers 2]

The registry is a SQLite file under ``.bench/``, keyed by seed and size
(``.bench/registry-seed7-100000.db``), made with ``surveil demo``'s generator and then planned
(``replan_every_patient``), so every benchmark sees follow-up items and triggers. It is built into a
temporary file and renamed when complete: an interrupted build is never reused. Its build
figures (time, patients/s, size) are kept next to it in a ``.json`` file. With ``--backend
postgresql`` the registry is a PostgreSQL database of its own instead (registry_pg.py).

A benchmark is any ``scripts/bench_*.py`` with ``run(db_url: str) -> dict``. The harness prints
ONE table: a row per entry of each benchmark's ``met`` mapping (figure, target, measured, ratio
against its bare baseline, ✓/✗, and the load average while it ran; ``scripts/targets.py`` makes
the entries, and a plain bool is still read), or its ``ratio_p50``/``ratio_p95`` when it states
no target. Everything it returned (every nested ``{"p50": ms, "p95": ms}`` and other figures),
the table and the machine's load go to ``.bench/results.json``. A benchmark that fails is
reported and the others still run.
"""

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from targets import is_met

from surveil.config import DatabaseSettings, Settings
from surveil.core.vocab import Channel
from surveil.core.zones import today_in
from surveil.db import migrate
from surveil.db.engine import make_engine
from surveil.demo import generate as demo
from surveil.services.actor import Actor
from surveil.services.planning.replan import replan_every_patient

sys.path.insert(0, str(Path(__file__).resolve().parent))  # registry_pg.py, beside this script
import registry_pg

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
CLINIC = "Neuroendocrine Tumour Clinic"
ZONE = "Europe/London"
# Wide enough for the table when the output is a file or a pipe (rich assumes 80 columns).
console = Console(width=None if sys.stdout.isatty() else 150)


# --------------------------------------------------------------------------- the registry


def registry(patients: int, seed: int, *, rebuild: bool) -> tuple[str, dict[str, Any]]:
    """The URL of the benchmark registry and its build figures, building it if needed."""
    path = BENCH_DIR / f"registry-seed{seed}-{patients}.db"
    meta = path.with_suffix(".json")
    if rebuild or not (path.exists() and meta.exists()):
        build(path, patients=patients, seed=seed)
    else:
        console.print(f"reusing {path.relative_to(ROOT)} (--rebuild to make it again)")
        # A registry built before a migration is brought up to date, as a clinic's would be.
        engine = make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        engine.dispose()
    return f"sqlite:///{path}", json.loads(meta.read_text())


def build(path: Path, *, patients: int, seed: int) -> None:
    BENCH_DIR.mkdir(exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, *_sidecars(partial)):
        leftover.unlink(missing_ok=True)
    url = f"sqlite:///{partial}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    today = today_in(ZONE, now)
    with _bar(f"demo registry, {patients:,} patients") as update:
        started = time.perf_counter()
        demo.generate_demo(
            engine,
            patients=patients,
            seed=seed,
            clinic=CLINIC,
            timezone=ZONE,
            today=today,
            now=now,
            on_progress=lambda n: update(n, patients, True),
        )
        generated = time.perf_counter() - started
    size_demo = _size(engine, partial)
    with _bar("planning follow-up") as update:
        started = time.perf_counter()
        settings = Settings(database=DatabaseSettings(url=url))
        replan_every_patient(
            engine,
            actor=Actor.system(channel=Channel.CLI),
            settings=settings,
            today=today,
            progress=lambda d, t: update(d, t, False),
        )
        planned = time.perf_counter() - started
    figures = {
        "patients": patients,
        "seed": seed,
        "today": today.isoformat(),
        "generate_seconds": round(generated, 1),
        "generate_patients_per_s": round(patients / generated),
        "size_mb_after_demo": size_demo,
        "replan_seconds": round(planned, 1),
        "replan_patients_per_s": round(patients / planned),
        "size_mb_after_replan": _size(engine, partial),
    }
    engine.dispose()
    partial.rename(path)
    path.with_suffix(".json").write_text(json.dumps(figures, indent=2) + "\n")
    console.print(f"built {path.relative_to(ROOT)}: {figures}")


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


def _size(engine: sa.Engine, path: Path) -> float:
    """Database size in MB once the write-ahead log is folded into the file."""
    raw = engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    return round(path.stat().st_size / 1e6, 1)


@contextmanager
def _bar(label: str) -> Iterator[Callable[[int, int, bool], None]]:
    """A progress bar; the yielded ``update(n, total, add)`` adds n, or sets the count to n."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=None)

        def update(n: int, total: int, add: bool) -> None:
            if add:
                progress.update(task, advance=n, total=total)
            else:
                progress.update(task, completed=n, total=total)

        yield update


# --------------------------------------------------------------------------- benchmarks


def discover(only: list[str] | None) -> dict[str, ModuleType]:
    """``scripts/bench_<name>.py`` modules that expose ``run(db_url)``, by name."""
    found = {}
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        spec = importlib.util.spec_from_file_location(f"surveil_bench_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if callable(getattr(module, "run", None)):
            found[name] = module
        else:
            console.print(f"[dim]{path.name} has no run(db_url): skipped[/]")
    return found


def run_all(modules: dict[str, ModuleType], db_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, module in modules.items():
        console.print(f"[bold]{name}[/] …")
        started = time.perf_counter()
        load_before = os.getloadavg()[0]
        try:
            results[name] = module.run(db_url)
        except Exception as error:  # noqa: BLE001 - one broken benchmark must not hide the rest
            traceback.print_exc()
            results[name] = {"error": f"{type(error).__name__}: {error}"}
        results[name]["seconds"] = round(time.perf_counter() - started, 1)
        # The 1-minute load average as the benchmark started and ended: other processes on a
        # shared machine slow every side of a ratio, but not every figure alike.
        results[name]["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return results


def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target of every benchmark (its ``met`` mapping, see scripts/targets.py); a
    benchmark without targets shows its ratios against its bare baseline, a failed one its
    error."""
    out: list[dict[str, Any]] = []
    for name, result in results.items():
        load = "–".join(f"{x:.1f}" for x in result.get("load_average", []))
        base = {"benchmark": name, "load": load}
        if "error" in result:
            out.append({**base, "figure": "failed", "target": "", "measured": result["error"],
                        "ratio": None, "met": False})  # fmt: skip
            continue
        met = result.get("met")
        if isinstance(met, dict) and met:
            for figure, entry in met.items():
                if isinstance(entry, dict):
                    measured, unit = entry.get("measured"), entry.get("unit", "")
                    gap = "" if unit in ("×", "x", "%") else " "
                    shown = measured if not unit else f"{_num(measured)}{gap}{unit}"
                    out.append({
                        **base, "figure": figure, "target": entry.get("target", ""),
                        "measured": shown, "ratio": entry.get("ratio"), "met": is_met(entry),
                    })  # fmt: skip
                else:  # the old form: the name says the target
                    out.append({**base, "figure": figure, "target": "(in the name)",
                                "measured": "", "ratio": None, "met": bool(entry)})  # fmt: skip
            continue
        for key in ("ratio_p50", "ratio_p95"):
            if key in result:
                out.append({**base, "figure": f"{key} vs bare", "target": "none",
                            "measured": "", "ratio": result[key], "met": None})  # fmt: skip
    return out


def summary(table_rows: list[dict[str, Any]]) -> Table:
    """The one table ``make bench`` prints."""
    out = Table("benchmark", "figure", "target", "measured", "ratio", "met", "load",
                title="make bench (ratio: ours / bare, same run; load: 1-min average)")  # fmt: skip
    previous = None
    for row in table_rows:
        if previous is not None and row["benchmark"] != previous:
            out.add_section()
        previous = row["benchmark"]
        verdict = {True: "[green]✓[/]", False: "[red]✗[/]", None: ""}[row["met"]]
        ratio = "" if row["ratio"] is None else f"{_num(row['ratio'])}×"
        out.add_row(row["benchmark"], row["figure"], str(row["target"]), _num(row["measured"]),
                    ratio, verdict, row["load"])  # fmt: skip
    return out


def figures(name: str, result: dict[str, Any]) -> str:
    """The other numbers a benchmark reports, and its targets met (✓) or missed (✗)."""
    if "error" in result:
        return f"[bold]{name}[/]: [red]{result['error']}[/]"
    if not name or name == "registry":
        return ", ".join(f"{k} {_num(v)}" for k, v in result.items())
    shown = [
        f"{key} {_num(value)}"
        for key, value in result.items()
        if isinstance(value, int | float) and not key.startswith("ratio_")
    ]
    met = result.get("met")
    if isinstance(met, dict):
        marks = {True: "✓", False: "✗", None: "–"}
        shown += [f"{key} {marks[is_met(ok)]}" for key, ok in met.items()]
    return f"[bold]{name}[/]: " + ", ".join(shown)


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=100_000, help="registry size")
    parser.add_argument("--seed", type=int, default=7, help="demo seed (the registry's key)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--rebuild", action="store_true", help="make the registry again")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where the registry lives (postgresql: a database of its own, see registry_pg.py)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="PostgreSQL build: drafting/planning processes"
    )
    parser.add_argument(
        "--drop", action="store_true", help="PostgreSQL: drop the registry's database and stop"
    )
    args = parser.parse_args(argv)
    if args.backend == "postgresql":
        if args.drop:
            registry_pg.drop(registry_pg.database_name(args.patients, args.seed))
            return 0
        db_url, built = registry_pg.registry(
            args.patients,
            args.seed,
            rebuild=args.rebuild,
            workers=args.workers,
            clinic=CLINIC,
            zone=ZONE,
            say=lambda line: print(line, flush=True),  # a log file sees each line at once
        )
    else:
        db_url, built = registry(args.patients, args.seed, rebuild=args.rebuild)
    started = time.perf_counter()
    results = run_all(discover(args.only), db_url)
    table_rows = rows(results)
    console.print(summary(table_rows))
    elapsed = time.perf_counter() - started
    console.print(f"registry: {figures('registry', built)}; benchmarks took {elapsed / 60:.1f} min")
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "registry": {"url": db_url, **built},
        "minutes": round(elapsed / 60, 1),
        "table": table_rows,
        "benchmarks": results,
    }
    BENCH_DIR.mkdir(exist_ok=True)
    # A PostgreSQL run keeps its own file: it must not overwrite make bench's SQLite figures.
    name = "results.json" if args.backend == "sqlite" else f"results-pg-{args.patients}.json"
    (BENCH_DIR / name).write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"figures written to {(BENCH_DIR / name).relative_to(ROOT)}")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
