"""Command line: each command parses options and delegates to the library.

The only module that knows Click: library errors (`PruneAuditError`, which carry an exit
code) become one-line messages here, and the progress bar is drawn here from the
library's progress callback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import click

from pruneaudit._version import __version__
from pruneaudit.defaults import DEFAULT_BATCH_SIZE, DEFAULT_DEVICE, DEFAULT_PRECISION, DEVICES, PRECISIONS
from pruneaudit.errors import PruneAuditError

PATH = click.Path(path_type=Path)


class UserError(click.ClickException):
    """A library error shown as Click shows errors: "Error: <message>" on stderr, with the error's exit code."""

    def __init__(self, error: PruneAuditError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


class Interrupted(click.ClickException):
    """Ctrl-C: "Error: interrupted" and exit 130 (128 + SIGINT, as shells report it), never 1, a failed gate."""

    exit_code = 130

    def __init__(self) -> None:
        super().__init__("interrupted")


class Group(click.Group):
    """Maps library errors of every command to `UserError` and Ctrl-C to `Interrupted`: no traceback.

    The interrupt unwinds the library first, so staged files are removed and the report lock released.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PruneAuditError as exc:
            raise UserError(exc) from None
        except KeyboardInterrupt:
            raise Interrupted() from None


@contextmanager
def progress_bar(*, quiet: bool) -> Iterator:
    """A progress callback drawing one bar on stderr (None with --quiet); the bar starts at the first call."""
    if quiet:
        yield None
        return
    with ExitStack() as stack:
        bars: list = []

        def update(step: int, total: int) -> None:
            if not bars:
                bars.append(stack.enter_context(click.progressbar(length=total, label="Inference", file=sys.stderr)))
            bars[0].update(step)

        yield update


@click.group(cls=Group)
@click.version_option(__version__, prog_name="pruneaudit")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Audit what pruning did to a classifier, class by class.

    Exit codes: 0 success, 1 a gate rule failed, 2 bad input, config or model.
    """
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def _cache_options(*, holds: str, off: str) -> Callable:
    """--cache DIR and --no-cache, for the commands that keep something between runs."""

    def apply(command: Callable) -> Callable:
        command = click.option("--no-cache", is_flag=True, help=off)(command)
        return click.option(
            "--cache",
            "cache_path",
            type=PATH,
            metavar="DIR",
            help=f"Cache folder ({holds}) [default: $PRUNEAUDIT_CACHE_DIR, else $XDG_CACHE_HOME/pruneaudit].",
        )(command)

    return apply


def _backend_options(*, runs: str) -> Callable:
    """--backend local|ray and --ray-address, for the commands that run models."""

    def apply(command: Callable) -> Callable:
        command = click.option(
            "--ray-address", metavar="ADDR", help="--backend ray: an existing cluster [default: start a local one]."
        )(command)
        return click.option(
            "--backend",
            type=click.Choice(("local", "ray")),
            default="local",
            show_default=True,
            help=f"{runs} (pip install 'pruneaudit[ray]').",
        )(command)

    return apply


def _trust_options(command: Callable) -> Callable:
    """--trust-pickle and --trust-factory: running a model file's or a package's code is the caller's decision."""
    command = click.option(
        "--trust-factory",
        "trusted_factories",
        multiple=True,
        metavar="PACKAGE",
        help="Allow state_dict factories from this installed package (runs its code); repeat for several.",
    )(command)
    return click.option(
        "--trust-pickle", is_flag=True, help="Allow whole pickled nn.Module files (runs code from them)."
    )(command)


@cli.command("audit")
@click.option("--config", "config_path", type=PATH, help="YAML file listing data, dense and pruned models.")
@click.option("--dense", type=PATH, help="The dense (unpruned) model.")
@click.option("--pruned", type=PATH, multiple=True, help="A pruned model; repeat for several.")
@click.option("--data", type=PATH, help="Labelled data (.npz with 'images' and 'labels').")
@click.option("--split", type=int, help="Keep only rows whose 'split' array equals this value.")
@click.option("--out", type=PATH, default=Path("report"), show_default=True, help="Output directory.")
@click.option("--device", type=click.Choice(DEVICES), help=f"Where to run inference [default: {DEFAULT_DEVICE}].")
@click.option(
    "--batch-size", type=click.IntRange(min=1), help=f"Images per inference batch [default: {DEFAULT_BATCH_SIZE}]."
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    help=f"dtype of torch models' weights and input [default: {DEFAULT_PRECISION}]; ONNX models keep theirs.",
)
@_cache_options(
    holds="predictions, file hashes, the Vega bundle",
    off="Run every model; nothing is read from or written to a cache folder.",
)
@click.option(
    "--policy", "policy_path", type=PATH, help="policy.yaml: selection and gate rules; exit 1 if a rule fails."
)
@_backend_options(runs="Where models run: this process, or Ray actors")
@click.option("--workers", type=click.IntRange(min=1), help="--backend ray: actors [default: one per CPU, or GPU].")
@click.option("--output", "output", help="Which output holds the class scores: a dict key or a tuple index.")
@_trust_options
@click.option(
    "--timings", is_flag=True, default=None, help="Measure median batch latency (outputs then vary run to run)."
)
@click.option("--card", "card_path", type=PATH, help="card.yaml: owner-written parts of the model card.")
@click.option(
    "--timestamp", is_flag=True, help="Stamp the card with the UTC time (outputs are otherwise byte-identical)."
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def audit_command(
    config_path: Path | None,
    dense: Path | None,
    pruned: tuple[Path, ...],
    data: Path | None,
    split: int | None,
    out: Path,
    device: str | None,
    batch_size: int | None,
    precision: str | None,
    cache_path: Path | None,
    no_cache: bool,
    policy_path: Path | None,
    backend: str,
    ray_address: str | None,
    workers: int | None,
    output: str | None,
    trust_pickle: bool,
    trusted_factories: tuple[str, ...],
    timings: bool | None,
    card_path: Path | None,
    timestamp: bool,
    quiet: bool,
) -> None:
    """Run every model over the data; write index.html, card.md, results.json and per_class.csv/.parquet to OUT."""
    from pruneaudit.api import audit_to_directory
    from pruneaudit.card import load_card
    from pruneaudit.config import build_config
    from pruneaudit.errors import GateFailed
    from pruneaudit.gate import table
    from pruneaudit.policy import load_policy
    from pruneaudit.report import summary_table

    config = build_config(
        config_path=config_path,
        dense=dense,
        pruned=pruned,
        data=data,
        split=split,
        device=device,
        batch_size=batch_size,
        output=output,
        trust_pickle=trust_pickle,
        trusted_factories=trusted_factories,
        timings=timings,
        precision=precision,
        cache_dir=_cache_dir(cache_path, no_cache=no_cache),
    )
    if backend == "local" and (ray_address or workers):
        raise click.UsageError("--ray-address and --workers need --backend ray")
    config = replace(config, backend=backend, ray_address=ray_address, workers=workers)
    policy = load_policy(policy_path) if policy_path else None
    card = load_card(card_path) if card_path else None
    with progress_bar(quiet=quiet) as progress:
        results, checks = audit_to_directory(
            config,
            out_dir=out,
            policy=policy,
            policy_name=str(policy_path),
            card=card,
            timestamp=_now() if timestamp else None,
            progress=progress,
        )
    click.echo(summary_table(results))
    click.echo(f"\nModel card: {out / 'index.html'}")
    if policy is not None:
        click.echo("\n" + table(checks))
        failed = sum(not c.passed for c in checks)
        if failed:
            raise GateFailed(failed, len(checks))


@cli.command("render")
@click.argument("results_path", metavar="RESULTS", type=PATH)
@click.option("--out", type=PATH, required=True, help="Output directory.")
@click.option("--card", "card_path", type=PATH, help="card.yaml to use instead of the one saved in RESULTS.")
@click.option("--timestamp", is_flag=True, help="Stamp the card with the UTC time.")
@_cache_options(holds="the Vega bundle", off="Use no cache folder: nothing is read from or written to one.")
def render_command(
    results_path: Path, out: Path, card_path: Path | None, timestamp: bool, cache_path: Path | None, no_cache: bool
) -> None:
    """Re-render the card from saved RESULTS without loading any model."""
    from pruneaudit.api import render
    from pruneaudit.card import load_card
    from pruneaudit.results import load_results

    cache_dir = _cache_dir(cache_path, no_cache=no_cache)
    results = load_results(results_path)
    card = load_card(card_path) if card_path else None
    render(results, out_dir=out, card=card, timestamp=_now() if timestamp else None, cache_dir=cache_dir)
    click.echo(f"Model card: {out / 'index.html'}")


def _cache_dir(cache_path: Path | None, *, no_cache: bool) -> Path | None:
    """The cache folder of --cache DIR / --no-cache; neither: the default one; both: a usage error."""
    from pruneaudit.cachedir import default_cache_dir

    if cache_path is not None and no_cache:
        raise click.UsageError("--cache and --no-cache exclude each other")
    return None if no_cache else cache_path or default_cache_dir()


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@cli.command("select")
@click.argument("results_path", metavar="RESULTS", type=PATH)
@click.option("--policy", "policy_path", type=PATH, help="policy.yaml whose 'selection' section sets the policies.")
@click.option("--json", "as_json", is_flag=True, help="Print the selection as JSON.")
def select_command(results_path: Path, policy_path: Path | None, as_json: bool) -> None:
    """Print the operating-point picks for saved RESULTS, without re-running inference."""
    from pruneaudit.api import select
    from pruneaudit.policy import load_policy
    from pruneaudit.report.text import selection_text
    from pruneaudit.results import dumps, load_results

    selection = load_policy(policy_path).selection if policy_path else None
    results = select(load_results(results_path), selection=selection)
    click.echo(dumps(results.raw["selection"]) if as_json else selection_text(results), nl=not as_json)


@cli.command("check")
@click.argument("results_path", metavar="RESULTS", type=PATH)
@click.option("--policy", "policy_path", type=PATH, help="policy.yaml with 'rules' (and 'baseline', 'selection').")
@click.option("--baseline", "baseline_path", type=PATH, help="A previous release's results.json to compare against.")
@click.option(
    "--max-accuracy-drop", type=float, help="Fail a pruned model whose top-1 falls more than this (e.g. 0.01)."
)
@click.option("--max-worst-class-drop", type=float, help="Fail a pruned model whose worst class falls more than this.")
@click.option(
    "--max-harmed-classes", type=int, help="Fail beyond this many significantly harmed classes (McNemar, Holm)."
)
@click.option("--junit", "junit_path", type=PATH, help="Write JUnit XML: one test case per rule × model.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON instead of a table.")
def check_command(
    results_path: Path,
    policy_path: Path | None,
    baseline_path: Path | None,
    max_accuracy_drop: float | None,
    max_worst_class_drop: float | None,
    max_harmed_classes: int | None,
    junit_path: Path | None,
    as_json: bool,
) -> None:
    """Exit 1 if RESULTS break a rule: 0 pass, 1 a rule failed, 2 usage or input error.

    Appends a Markdown summary to $GITHUB_STEP_SUMMARY when that variable is set.
    """
    from pruneaudit.api import check, select
    from pruneaudit.errors import ConfigError, GateFailed, OutputError
    from pruneaudit.gate import dumps, junit_xml, markdown, table
    from pruneaudit.outputs import write_file
    from pruneaudit.policy import Bound, Policy, load_policy
    from pruneaudit.results import load_results

    policy = load_policy(policy_path) if policy_path else Policy()
    flags = [
        Bound(metric, "max", float(value), name=f"--{flag} {value:g}")
        for metric, flag, value in (
            ("accuracy_drop", "max-accuracy-drop", max_accuracy_drop),
            ("worst_class_drop", "max-worst-class-drop", max_worst_class_drop),
            ("harmed_significant_holm", "max-harmed-classes", max_harmed_classes),
        )
        if value is not None
    ]
    policy = replace(policy, rules=policy.rules + tuple(flags))
    if not policy.rules and baseline_path is None:
        raise ConfigError("nothing to check: give --policy with rules, --baseline, or a --max-* threshold")
    results = select(load_results(results_path), selection=policy.selection)
    baseline = load_results(baseline_path) if baseline_path else None
    checks = check(results, policy=policy, baseline=baseline, where=str(policy_path or "command line"))
    if junit_path:
        write_file(junit_path, junit_xml(checks))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(markdown(checks))
        except OSError as exc:
            raise OutputError(f"{summary}: cannot append the GITHUB_STEP_SUMMARY ({exc.strerror})") from None
    click.echo(dumps(checks) if as_json else table(checks), nl=not as_json)
    failed = sum(not c.passed for c in checks)
    if failed:
        raise GateFailed(failed, len(checks))


@contextmanager
def sweep_bar(*, quiet: bool) -> Iterator:
    """A sweep's progress on stderr: one bar over the models, the current model's own bar beside it.

    Not a terminal (a CI log): one line per model made instead, since a bar cannot redraw there.
    """
    if quiet:
        yield None
        return
    if not sys.stderr.isatty():

        def lines(p) -> None:
            if p.made:
                click.echo(f"[{p.finished}/{p.total}] {p.name}", err=True)

        yield lines
        return
    with ExitStack() as stack:
        bars: list = []
        shown = {"text": ""}

        def current(_: object) -> str:
            return shown["text"]

        def update(p) -> None:  # a pruneaudit.sweep.run.SweepProgress
            if not bars:
                bar = click.progressbar(length=p.total, label="Sweep", file=sys.stderr, item_show_func=current)
                bars.append(stack.enter_context(bar))
                bars[0].update(p.finished)
            filled = round(20 * p.step / max(p.steps, 1))
            shown["text"] = f"{p.name} [{'#' * filled}{'-' * (20 - filled)}] {100 * p.step // max(p.steps, 1)}%"
            bars[0].update(p.finished - bars[0].pos)

        yield update


@cli.command("prune")
@click.option("--config", "config_path", type=PATH, required=True, help="sweep.yaml: dense model, data, techniques.")
@click.option("--out", type=PATH, required=True, help="Sweep folder: models, manifest.json, audit.yaml.")
@click.option(
    "--jobs", type=click.IntRange(min=1), help="Models made at once [default: 1; with --backend ray, one per CPU]."
)
@_backend_options(runs="Where models are made: local worker processes, or Ray actors")
@click.option(
    "--device", type=click.Choice(DEVICES), help=f"Where to train [default: the config's, else {DEFAULT_DEVICE}]."
)
@_trust_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
def prune_command(
    config_path: Path,
    out: Path,
    jobs: int | None,
    backend: str,
    ray_address: str | None,
    device: str | None,
    trust_pickle: bool,
    trusted_factories: tuple[str, ...],
    quiet: bool,
) -> None:
    """Prune (and fine-tune) the dense model at every technique × amount × seed; resume what OUT holds."""
    from pruneaudit.api import prune
    from pruneaudit.sweep.config import build_sweep_config

    config = build_sweep_config(
        config_path, device=device, trust_pickle=trust_pickle, trusted_factories=trusted_factories
    )
    with sweep_bar(quiet=quiet) as progress:
        if backend == "local" and ray_address:
            raise click.UsageError("--ray-address needs --backend ray")
        manifest = prune(config, out_dir=out, jobs=jobs, backend=backend, ray_address=ray_address, progress=progress)
    for m in manifest["models"]:
        measured = m["sparsity"]["measured"]
        click.echo(f"{m['name']:<32} sparsity {measured:.3f}  eval top-1 {m['eval_accuracy']:.4f}")
    audit_yaml = "audit.yaml" if "torchscript" in config.formats else "audit-onnx.yaml"
    click.echo(f"\nAudit them: pruneaudit audit --config {out / audit_yaml} --out report")


def main() -> None:
    cli(prog_name="pruneaudit")
