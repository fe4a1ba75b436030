"""`manage.py bench`: Duban at provincial scale, every figure as a ratio taken in the same run.

Runs on a fresh database created beside the configured one (like the test runner) and
dropped afterwards, so it never touches real data. PostgreSQL in earnest; SQLite works for
a smoke run.
"""
import json
import time
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from tools.bench import load, scenarios
from tools.bench.seed import ITEM_SHARE, KINDS, seed_cases, seed_org
from workflow.models import AuditEvent, Case

FULL = {"units": 5000, "users": 20000, "cases": 200_000, "small_cases": 2000, "due": 1000, "write_cases": 300,
        "baseline": 300, "dispatch_units": 1000, "bulletin_rows": 200, "ledger_rows": 100_000, "read_repeats": 100}


# Suites run on their own instead of the scenarios (`--suite NAME`): a module with
# run(scale, step) → results (with "targets") and print_table(results, write).
SUITES = {"deployment": "tools.bench.deployment", "hazard": "tools.bench.hazard", "photos": "tools.bench.photos"}

# Below these a scenario would measure nothing.
SMALLEST = {"units": 10, "users": 40, "write_cases": 6, "baseline": 5, "dispatch_units": 5, "bulletin_rows": 5,
            "ledger_rows": 200}


class Command(BaseCommand):
    help = "Seed at scale, run the benchmark scenarios, print a table and write the results as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 5,000 units, 200,000 cases")
        parser.add_argument("--json", default="bench-results.json", help="where to write the results")
        parser.add_argument("--in-place", action="store_true",
                            help="use the configured database as it is (for the test suite's smoke run)")
        parser.add_argument("--load-seconds", type=int, default=60)
        parser.add_argument("--load-users", type=int, default=20)
        parser.add_argument("--no-load", action="store_true", help="skip the gunicorn scenario")
        parser.add_argument("--suite", choices=sorted(SUITES),
                            help="run this suite instead of the scenarios (deployment: a 100-item plan dispatched "
                                 "to 1,000 units × scale, and its roll-up; hazard: 20,000 hazards × scale, "
                                 "statements per transition of both paths and their rate against plain SQL; "
                                 "photos: the near-duplicate "
                                 "lookup over 1,000,000 photos × scale against a full scan)")

    def handle(self, *args, **opts):
        settings.DEBUG = False  # measure as production runs: no query log
        old_name = None
        if not opts["in_place"]:
            old_name = connection.settings_dict["NAME"]
            if connection.vendor != "sqlite":  # never the test runner's database
                connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{old_name}_bench"
            self.stdout.write(f"Creating a fresh benchmark database beside {old_name} ...")
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        suite = import_module(SUITES[opts["suite"]]) if opts["suite"] else None
        try:
            results = suite.run(opts["scale"], self.step) if suite else self.run(opts)
        finally:
            if old_name is not None:
                close_old_connections_everywhere()
                connection.creation.destroy_test_db(old_name, verbosity=0)
        with open(opts["json"], "w", encoding="utf-8") as handle:
            json.dump(results, handle, ensure_ascii=False, indent=2, default=str)
        if suite:
            suite.print_table(results, self.stdout.write)
        else:
            self.print_table(results)
        self.stdout.write(f"\nResults written to {opts['json']}")
        if not all(t["met"] for t in results["targets"]):
            self.stdout.write(self.style.WARNING("Some targets were missed."))

    # ------------------------------------------------------------------------------------------
    def run(self, opts):
        scale = opts["scale"]
        size = {k: max(SMALLEST.get(k, 1), int(v * scale)) for k, v in FULL.items() if k != "read_repeats"}
        size["small_cases"] = max(scenarios.INBOX_UNIT_CASES + 40, size["small_cases"])
        size["due"] = max(10, min(size["due"], size["small_cases"] // 2))
        size["read_repeats"] = FULL["read_repeats"] if scale >= 0.1 else 8
        rng = scenarios.rng()
        out = {"scale": scale, "vendor": connection.vendor, "sizes": size, "started": timezone.now().isoformat()}
        started = time.monotonic()
        step = self.step

        step("seeding units and users")
        org = seed_org(size["units"], size["users"], rng)
        step(f"seeding {size['small_cases']:,} cases")
        inbox_leaf = org.leaves[0]
        seed_cases(org, scenarios.INBOX_UNIT_CASES, rng, leaves=[inbox_leaf], share=scenarios.INBOX_UNIT_ITEM_SHARE)
        seed_cases(org, size["small_cases"] - scenarios.INBOX_UNIT_CASES, rng)
        analyze()
        sample = scenarios.pick_case_with_history(inbox_leaf)
        due = scenarios.ladder_case_ids(size["due"])
        today = timezone.localdate() + timedelta(days=1)
        step("read path and sweep at the small scale")
        read_small = scenarios.read_pages(org, sample, size["read_repeats"])
        sweep_small = scenarios.sweep_once(due, today)

        step(f"seeding up to {size['cases']:,} cases")
        seed_cases(org, size["cases"] - size["small_cases"], rng)
        analyze()
        out["cases"], out["audit_events"] = Case.objects.count(), AuditEvent.objects.count()
        out["cases_by_type"] = dict(Case.objects.values_list("case_type").annotate(n=Count("pk")).order_by("case_type"))
        out["item_share"] = ITEM_SHARE
        step("read path and sweep at the large scale")
        read_large = scenarios.read_pages(org, sample, size["read_repeats"])
        sweep_large = scenarios.sweep_once(due, today)
        out["read"] = {"small": read_small, "large": read_large}
        out["sweep"] = {"small": sweep_small, "large": sweep_large}

        step("write path")
        out["write"] = scenarios.write_path(org, size["write_cases"], size["baseline"])
        step("bulk dispatch")
        out["dispatch"] = scenarios.dispatch(org, min(size["dispatch_units"], len(org.leaves)))
        step("documents")
        out["bulletin"] = scenarios.bulletin(org, size["bulletin_rows"], repeats=5)
        out["ledger"] = scenarios.ledger_memory(size["ledger_rows"])
        if opts["no_load"] or connection.vendor != "postgresql":
            out["load"] = {"skipped": "needs PostgreSQL (the server processes share the database)"}
        else:
            step(f"{opts['load_users']} users against gunicorn for {opts['load_seconds']} s")
            out["load"] = load.run(org, load.database_url(connection.settings_dict), users=opts["load_users"],
                                   seconds=opts["load_seconds"])
        out["seconds"] = round(time.monotonic() - started, 1)
        out["targets"] = targets(out)
        return out

    def step(self, text):
        self.stdout.write(f"[{time.strftime('%H:%M:%S')}] {text}")
        self.stdout.flush()

    def print_table(self, r):
        w = self.stdout.write
        w(f"\nDuban benchmark — {r['vendor']}, scale {r['scale']}, {r.get('cases', 0):,} cases, "
          f"{r.get('audit_events', 0):,} audit events, {r['seconds']} s")
        w("Cases by type: " + ", ".join(f"{key} {n:,}" for key, n in r.get("cases_by_type", {}).items()) + "\n")
        wr = r["write"]
        w(f"Write path: {wr['lifecycles_per_s']} lifecycles/s, {wr['transitions_per_s']} transitions/s; "
          f"floor {wr['floor_per_s']}/s; viewflow baseline {wr['baseline_tasks_per_s']} tasks/s")
        w(f"  queries per transition: {wr['queries_per_transition']}")
        w("Read path (p50 / p95 ms, queries):")
        for page in r["read"]["small"]:
            s, g = r["read"]["small"][page], r["read"]["large"][page]
            w(f"  {page:10} small {s['p50_ms']:8.2f} / {s['p95_ms']:8.2f} q={s['queries']:<3} "
              f"large {g['p50_ms']:8.2f} / {g['p95_ms']:8.2f} q={g['queries']:<3} p95 ratio {g['p95_ms'] / s['p95_ms']:.2f}")
        w("  rows by case type (small | large): " + "; ".join(
            f"{page} {_mix(r['read']['small'][page]['types'])} | {_mix(r['read']['large'][page]['types'])}"
            for page in r["read"]["small"] if "types" in r["read"]["small"][page]))
        ss, sl = r["sweep"]["small"], r["sweep"]["large"]
        w(f"Sweep: {ss['open_cases']:,} open → {ss['seconds']} s ({ss['fired']} fired); "
          f"{sl['open_cases']:,} open → {sl['seconds']} s ({sl['fired']} fired); second runs {ss['second_run_fired']}/"
          f"{sl['second_run_fired']}")
        d = r["dispatch"]
        w(f"Dispatch to {d['units']} units: bulk {d['bulk_seconds']} s, one by one {d['single_seconds']} s "
          f"({d['speedup']}×), same rows: {d['same_rows']}")
        b, lg = r["bulletin"], r["ledger"]
        w(f"Bulletin PDF ({b['rows']} rows): {b['ours_ms']} ms vs WeasyPrint alone {b['weasyprint_alone_ms']} ms")
        w(f"Ledger: {lg['rows']:,} rows in {lg['seconds']} s, {lg['file_mb']} MB, peak RSS growth {lg['rss_growth_mb']} MB")
        ld = r["load"]
        if "skipped" in ld:
            w(f"Load: skipped ({ld['skipped']})")
        else:
            w(f"Load: {ld['users']} users, {ld['requests']} requests in {ld['seconds']} s, "
              f"{ld['throughput_per_s']}/s, p95 {ld['p95_ms']} ms, errors {ld['errors']}")
        w("\nTargets:")
        for t in r["targets"]:
            mark = "met " if t["met"] else "MISS"
            w(f"  [{mark}] {t['name']}: {t['value']} (target {t['target']})")


def _mix(types: dict) -> str:
    return " ".join(f"{key} {n}" for key, n in types.items()) or "none"


def mixed_types(read) -> list[str]:
    """The pages among the inbox, the red list and the mixed list that did not show rows of
    every case type at both scales ("small:inbox", ...)."""
    every = {kind.model.spec.key for kind in KINDS}
    return [f"{scale}:{page}" for scale in ("small", "large") for page, figures in read[scale].items()
            if "types" in figures and not every <= set(figures["types"])]


def analyze():
    """After a bulk load: planner statistics, and on PostgreSQL the vacuum that autovacuum would
    otherwise run in the middle of the measurements."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def close_old_connections_everywhere():
    from django.db import connections

    for conn in connections.all():
        conn.close()


def targets(r) -> list[dict]:
    rows = []

    def add(name, value, target, met):
        rows.append({"name": name, "value": value, "target": target, "met": bool(met)})

    wr = r["write"]
    add("queries per transition (max)", wr["max_queries_per_transition"], "≤ 12", wr["max_queries_per_transition"] <= 12)
    add("transitions/s vs floor", wr["ratio_to_floor"], "≥ 0.4", wr["ratio_to_floor"] >= 0.4)
    add("transitions/s vs viewflow per-task rate", wr["ratio_to_baseline"], "≥ 3", wr["ratio_to_baseline"] >= 3)
    for page, small in r["read"]["small"].items():
        large = r["read"]["large"][page]
        ratio = round(large["p95_ms"] / small["p95_ms"], 2)
        add(f"{page} p95 large/small", ratio, "≤ 1.5", ratio <= 1.5)
        add(f"{page} queries small = large", f"{small['queries']} / {large['queries']}", "equal",
            small["queries"] == large["queries"])
    missing = mixed_types(r["read"])
    add("inbox, red list and mixed list show both case types", ", ".join(missing) or "all",
        "both types, both scales", not missing)
    ss, sl = r["sweep"]["small"], r["sweep"]["large"]
    ratio = round(sl["seconds"] / ss["seconds"], 2)
    add("sweep time large/small", ratio, "≤ 1.3", ratio <= 1.3)
    due = r["sizes"]["due"]
    add("escalations per sweep", f"{ss['fired']} / {sl['fired']}", f"{due} each", ss["fired"] == sl["fired"] == due)
    add("second sweep adds", f"{ss['second_run_fired']} / {sl['second_run_fired']}", "0",
        ss["second_run_fired"] == sl["second_run_fired"] == 0)
    d = r["dispatch"]
    add("bulk dispatch speed-up", d["speedup"], "≥ 10", d["speedup"] >= 10)
    add("bulk dispatch same rows and events", d["same_rows"], "True", d["same_rows"])
    add("bulletin PDF vs WeasyPrint alone", r["bulletin"]["ratio"], "≤ 1.2", r["bulletin"]["ratio"] <= 1.2)
    add("ledger peak RSS growth (MB)", r["ledger"]["rss_growth_mb"], "< 150", r["ledger"]["rss_growth_mb"] < 150)
    if "skipped" not in r["load"]:
        add("errors under load", r["load"]["errors"], "0", r["load"]["errors"] == 0)
    return rows
