"""The ``kam`` command.

    kam run params/<client>.yaml [--phase PHASE [PHASE ...] [--only]] [--plan-run RUN] [--set key.sub=value ...]
    kam validate params/<client>.yaml [--set key.sub=value ...]
    kam history params/<client>.yaml | "Client Name" [--kpi K1,K2] [--json]
    kam new-client "Client Name" [--industry X] [--currency USD] [--as-of DATE] [--programme-start DATE | --no-programme]
    kam demo-data OUT_DIR [--profile demo|consumer|b2b] [--accounts N] [--orders N] [--format csv|parquet]
    kam demo-data OUT_DIR --follow-up RUN_DIR [--months N]

Exit status: 0 success; 1 a failed run (it says which notebook and cell failed, or that
the disk is full, and where the failed run is kept); 2 a data or parameter problem (a
readable message, no traceback); 130 interrupted by Ctrl-C; 143 stopped by SIGTERM.
"""
from __future__ import annotations

import argparse
import sys

from .data.tables import PHASES
from .exceptions import DataValidationError, KAMError, ParameterError, Terminated

__all__ = ["main"]

_EPILOG = """examples:
  kam run params/demo.yaml                        run the whole demo engagement
  kam run params/acme.yaml --phase strategy        re-run strategy and the review after it,
                                                  reusing assessment and segmentation
  kam run params/acme.yaml --phase strategy review --only
                                                  the same, refusing if a later phase depends on them
  kam run params/acme.yaml --set analysis.churn_days=120
  kam run params/acme-q3.yaml --plan-run latest    a follow-up review: the plan of the last run vs the new data
  kam validate params/acme.yaml                   check the client's data before running
  kam history params/acme.yaml                    every run of the client: dates, inputs, status, KPIs
"""


def _version() -> str:
    """The installed kam-analysis version (the package's own when it is not installed)."""
    from importlib import metadata

    try:
        return metadata.version("kam-analysis")
    except metadata.PackageNotFoundError:
        from . import __version__

        return __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kam", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG,
        description="Run a Key Account Management engagement: validate client data, execute the four "
                    "phase notebooks with Papermill, and build the client deliverables.")
    p.add_argument("--version", action="version", version=f"kam {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add_common(sp):
        sp.add_argument("params", help="the client's parameter file, e.g. params/demo.yaml")
        sp.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a parameter for this run, e.g. --set analysis.churn_days=120 "
                             "(repeatable; typed by the parameter schema: a text setting keeps the words "
                             "written, so --set client.name=No is the name 'No')")

    r = sub.add_parser("run", help="run the engagement (all phases, or --phase)",
                       description="Validate the data, execute the phase notebooks into a new run folder "
                                   "outputs/<client>/<run-id>/ and build the deliverables. A failed run is kept "
                                   "as <run-id>-failed and never replaces the last good run.")
    add_common(r)
    r.add_argument("--phase", dest="phases", action="extend", nargs="+", metavar="PHASE", choices=list(PHASES),
                   help="re-run these phases and every phase after them (" + ", ".join(PHASES) + "; "
                        "--phase strategy review and --phase strategy --phase review are the same); "
                        "earlier phases' results are reused from the client's last good run when its input "
                        "files and data/analysis parameters are today's, otherwise the run stops and says so")
    r.add_argument("--only", action="store_true",
                   help="with --phase: refuse, naming the phases and the command, rather than re-run the "
                        "phases that depend on the ones named")
    r.add_argument("--plan-run", dest="plan_run", metavar="RUN",
                   help="a follow-up review: measure the plan of an earlier run of this client (its run folder, "
                        "its run id, or 'latest' = the most recent successful run with an earlier as-of date); "
                        "the same as --set review.plan_run=RUN")
    r.add_argument("--timeout", type=int, default=None, metavar="SECONDS",
                   help="seconds a notebook cell may run (default: execution.cell_timeout in the params)")
    r.add_argument("--no-deliverables", action="store_true", help="skip building the client deliverables")
    r.add_argument("--quiet", "-q", action="store_true", help="print only the result")

    v = sub.add_parser("validate", help="check the client's data and parameters without running anything",
                       description="Read every client file named in the params, check it against the data "
                                   "contract and print one message per problem. Exit status 2 if any error.")
    add_common(v)

    h = sub.add_parser("history", help="list every run of a client: dates, inputs, status, headline KPIs",
                       description="Every run of the client in one table, oldest first: when it ran, its as-of "
                                   "date, its status (success; partial = finished without the deliverables, or "
                                   "still running; failed, with why), the earlier run whose plan it reviewed, and "
                                   "its headline KPIs as that run computed them; each run's input files with the "
                                   "first 8 characters of their SHA-256. Read from each run's manifest.json.")
    h.add_argument("client", help="the client's params file (params/<client>.yaml), its name, or its folder of runs")
    h.add_argument("--root", default=None, metavar="DIR",
                   help="the output folder holding the client folders (default: the params file's output.root, "
                        "else outputs/)")
    h.add_argument("--kpi", default=None, metavar="K1,K2",
                   help="headline KPIs to show, comma-separated, by their names in docs/kpi_dictionary.md, e.g. "
                        "revenue_12m,nps (default: the dashboards' first four KPI tiles: revenue, growth, active "
                        "accounts, retention)")
    h.add_argument("--json", action="store_true", help="print the runs as JSON instead of a table")

    n = sub.add_parser("new-client", help="create a clean params/<client>.yaml for a new client",
                       description="Write params/<client-slug>.yaml from templates/new_client.yaml: the client's "
                                   "name and what the options give; every other input empty or marked FILL_IN "
                                   "(kam validate lists what is left to fill in).")
    n.add_argument("name", help="the client's name, e.g. \"Acme Retail\"")
    n.add_argument("--dir", default="params", help="folder for the new file (default: params)")
    n.add_argument("--industry", help="benchmark set of templates/benchmarks.yaml (else FILL_IN)")
    n.add_argument("--currency", help="ISO code of the client's money, e.g. USD (else FILL_IN)")
    n.add_argument("--as-of", dest="as_of", metavar="DATE", help="analysis date, YYYY-MM-DD (else FILL_IN)")
    prog = n.add_mutually_exclusive_group()
    prog.add_argument("--programme-start", dest="programme_start", metavar="DATE",
                      help="start of the client's KAM programme, YYYY-MM-DD")
    prog.add_argument("--no-programme", action="store_true", help="the client has no KAM programme")

    d = sub.add_parser("demo-data", help="write a synthetic client's files",
                       description="Generate a deterministic synthetic client: the demo (every input; or a large "
                                   "client with --orders), a transactions-only consumer retailer (no order id, "
                                   "US dollars, 18 months) or an invoice-only B2B wholesaler (pounds, 12 months). "
                                   "params/demo.yaml, params/demo-consumer.yaml and params/demo-b2b.yaml run them.")
    d.add_argument("out_dir", help="folder to write the client's files into")
    d.add_argument("--profile", choices=["demo", "consumer", "b2b"], default="demo",
                   help="which client (default: demo)")
    d.add_argument("--seed", type=int, default=None, help="random seed (default: the profile's)")
    d.add_argument("--accounts", type=int, default=None,
                   help="number of accounts (default: 2000 demo, 26000 consumer, 3000 b2b)")
    d.add_argument("--orders", type=int, default=None, help="target number of orders (large-client mode)")
    d.add_argument("--format", choices=["csv", "parquet"], default="csv", help="format of the orders file")
    d.add_argument("--follow-up", dest="follow_up", metavar="RUN_DIR", default=None,
                   help="instead: the demo's follow-up snapshot, months after this run of the demo (its folder), "
                        "with the plan's execution planted and the client's returned actions file "
                        "(make demo-review makes it from the last demo run)")
    d.add_argument("--months", type=int, default=None, help="with --follow-up: months after the run's as-of "
                                                            "date (default 6)")
    return p


def _cmd_run(args) -> int:
    from .runner import run_engagement

    say = None if args.quiet else (lambda m: print(m, flush=True))
    if args.only and not args.phases:
        raise ParameterError("--only goes with --phase: name the phases to run, e.g. --phase review --only")
    overrides = list(args.overrides)
    if args.plan_run is not None:  # sugar for --set review.plan_run=RUN (after the --set items: it wins)
        overrides.append(f"review.plan_run={args.plan_run}")
    result = run_engagement(args.params, overrides=overrides, phases=args.phases, only=args.only,
                            cell_timeout=args.timeout, deliverables=not args.no_deliverables, progress=say)
    print(result.run_dir)
    return 0


def _cmd_validate(args) -> int:
    from .config import load_params
    from .data.orders import order_rule
    from .data.prepare import ensure_demo_data
    from .data.validate import validate_data
    from .preflight import check_params, params_warnings

    params = load_params(args.params, args.overrides)
    ensure_demo_data(params)  # a demo's files first: the follow-up demo's actions file is checked below
    setup = check_params(params)  # industry, benchmarks, playbooks, RFM file, overrides, template, logo
    report = validate_data(params)
    report.close()  # DuckDB removes its spill folder (if it made one) on close; warehouse extracts go too
    errors = setup + report.errors
    warnings = report.warnings + params_warnings(params)  # e.g. an objective that disagrees with its target
    for p in errors + warnings:
        print(p)
    stats = report.stats
    for table, s in stats.items():
        print(f"  {table}: {s.get('rows_read', 0):,} rows read")
        if "warehouse_bytes" in s:  # what left the client's database (docs/warehouses.md)
            print(f"    {s['warehouse_rows']:,} clean rows left the database ({s['warehouse_bytes'] / 1e6:,.1f} MB)")
        if table == "transactions" and "orders" in s:
            print(f"    {order_rule(s)}")
    if errors:
        print(f"\n{len(errors)} error(s), {len(warnings)} warning(s): fix the errors, then run again.")
        return 2
    print(f"\nData OK, parameters OK: {len(warnings)} warning(s). Ready for: kam run {args.params}")
    return 0


def _cmd_history(args) -> int:
    from .history import find_client_dir, history_json, parse_kpis, render_history

    kpis = parse_kpis(args.kpi)
    folder, client = find_client_dir(args.client, root=args.root)
    print(history_json(folder, kpis=kpis) if args.json else render_history(folder, client=client, kpis=kpis))
    return 0


def _cmd_new_client(args) -> int:
    from .newclient import write_new_client

    target = write_new_client(args.name, args.dir, industry=args.industry, currency=args.currency,
                              as_of_date=args.as_of, programme_start=args.programme_start,
                              no_programme=args.no_programme)
    print(f"created {target}: replace every FILL_IN (the client's file, its columns"
          f"{', currency' if not args.currency else ''}{', dates' if not args.as_of else ''} ...), then run "
          f"kam validate {target}")
    return 0


def _cmd_demo_data(args) -> int:
    from .data.demo_clients import generate_client

    if args.profile != "demo" and (args.orders is not None or args.format != "csv"):
        raise ParameterError("--orders and --format apply to --profile demo only")
    if args.months is not None and not args.follow_up:
        raise ParameterError("--months goes with --follow-up RUN_DIR")
    if args.follow_up:
        from .data.demo_followup import generate_followup

        if args.profile != "demo" or args.accounts is not None or args.orders is not None or args.format != "csv":
            raise ParameterError("--follow-up makes a later snapshot of a demo run, with that run's accounts: "
                                 "--profile, --accounts, --orders and --format do not apply")
        if args.months is not None and not 1 <= args.months <= 24:
            raise ParameterError(f"--months must be between 1 and 24, not {args.months}")
        paths = generate_followup(args.follow_up, args.out_dir, months=args.months, seed=args.seed)
        for name, path in paths.items():
            print(f"{name:<13} {path}")
        return 0
    paths = generate_client(args.profile, args.out_dir, seed=args.seed, n_accounts=args.accounts,
                            n_orders=args.orders, file_format=args.format)
    for name, path in paths.items():
        print(f"{name:<13} {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kam`` console script."""
    args = _parser().parse_args(argv)
    import logging

    logging.getLogger("papermill").setLevel(logging.ERROR)  # progress is printed by the runner
    handlers = {"run": _cmd_run, "validate": _cmd_validate, "history": _cmd_history, "new-client": _cmd_new_client,
                "demo-data": _cmd_demo_data}
    import signal
    import threading

    def on_sigterm(_signum, _frame):
        raise Terminated()

    main_thread = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, on_sigterm) if main_thread else None
    try:
        return handlers[args.command](args)
    except (DataValidationError, ParameterError) as exc:
        print(f"kam {args.command}: {exc}", file=sys.stderr)
        return 2
    except KAMError as exc:
        print(f"kam {args.command}: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except KeyboardInterrupt as exc:
        term = isinstance(exc, Terminated)
        print(f"kam {args.command}: {'stopped by SIGTERM' if term else 'interrupted (Ctrl-C)'}", file=sys.stderr)
        return 143 if term else 130
    finally:
        if main_thread and old is not None:
            signal.signal(signal.SIGTERM, old)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
