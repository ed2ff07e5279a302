"""Command line: each command parses options and delegates to the library.

The only module that knows Click: library errors (`PruneAuditError`, which carry an exit
code) become one-line messages here, and progress is drawn here (tqdm, on stderr) from what
the library reports.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from pruneaudit._version import __version__
from pruneaudit.defaults import DEFAULT_BATCH_SIZE, DEFAULT_DEVICE, DEFAULT_PRECISION, DEVICES, PRECISIONS
from pruneaudit.errors import ConfigError, PruneAuditError
from pruneaudit.escape import plain_text
from pruneaudit.mitigation import settings as mitigation

PATH = click.Path(path_type=Path)


class UserError(click.ClickException):
    """A library error shown as Click shows errors: "Error: <message>" on stderr, with the error's exit code;
    control characters in it (from a path, a name) become spaces, so the message stays one line."""

    def __init__(self, error: PruneAuditError) -> None:
        super().__init__(plain_text(error))  # one line, whatever a file name holds (a newline, an escape)
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


class AuditProgress:
    """An audit's progress on stderr, as `pruneaudit.inference.Progress`: a line per stage, then the inference.

    On a terminal, the inference is a bar naming the model that runs. Its time left is measured on the
    batches alone: a model's first batch (loading, warm-up) and cached models count at once but not
    in the rate, and no estimate is shown before a second of batches is timed, so the first one is
    not many times the run. In a log (not a terminal) a bar cannot redraw: a line per tenth of the
    images and per finished model instead.
    """

    TIMED_BEFORE_ESTIMATE = 1.0  # seconds of batches timed before the time left is shown
    BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} images [{elapsed} elapsed{postfix}]"

    def __init__(self, *, terminal: bool) -> None:
        self.terminal = terminal
        self.bar: Any = None  # a tqdm bar while a counted stage runs on a terminal
        self._count(models=0, images=0)

    def stage(self, name: str, *, models: int = 0, images: int = 0) -> None:
        self.close()
        self._count(models=models, images=images)
        self._line(f"{name}: {models} model{'s' * (models != 1)} × {images:,} images" if models else name)
        if models and self.terminal:
            from tqdm import tqdm

            self.bar = tqdm(total=models * images, desc=name, file=sys.stderr, bar_format=self.BAR, dynamic_ncols=True)

    def advance(self, images: int, *, model: str, warm_up: bool = False) -> None:
        model = plain_text(model)  # a name from a config: no control characters on the terminal or in a CI log
        now = time.monotonic()
        if not warm_up:
            self.timed_images += images
            self.timed_seconds += now - self.last
        self.last = now
        self.done += images
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self._left()}{model}", refresh=False)
            self.bar.update(images)
            return
        tenths = 10 * self.done // max(self.models * self.images, 1)
        if tenths > self.tenths:
            self.tenths = tenths
            self._line(f"  {10 * tenths}% ({model})")

    def finished(self, model: str, *, cached: bool = False) -> None:
        model = plain_text(model)
        self.last = time.monotonic()  # reading the cache, storing a run: not batch time
        self.finished_models += 1
        if cached:
            self.done += self.images
            if self.bar is not None:
                self.bar.set_postfix_str(f"{model} (prediction cache)", refresh=False)
                self.bar.update(self.images)
        if self.bar is None:
            self._line(f"  [{self.finished_models}/{self.models}] {model}{' (prediction cache)' * cached}")

    def close(self) -> None:
        """Ends the bar (left on screen at its last count): the next line starts below it."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _count(self, *, models: int, images: int) -> None:
        """A stage's counters, from zero: ``models`` × ``images`` to go, none timed yet."""
        self.models, self.images = models, images
        self.done = self.finished_models = self.tenths = 0
        self.timed_images, self.timed_seconds = 0, 0.0
        self.last = time.monotonic()

    def _left(self) -> str:
        """The time left and a comma, once enough batches are timed; else nothing."""
        if self.timed_seconds < self.TIMED_BEFORE_ESTIMATE or not self.timed_images:
            return ""
        left = (self.models * self.images - self.done) * self.timed_seconds / self.timed_images
        return f"{self.bar.format_interval(left)} left, "

    def _line(self, text: str) -> None:
        if self.terminal:
            from tqdm import tqdm

            tqdm.write(text, file=sys.stderr)  # above a bar, if one is drawn
        else:
            click.echo(text, err=True)


@contextmanager
def progress_bar(*, quiet: bool) -> Iterator[AuditProgress | None]:
    """An audit's progress drawn on stderr (`AuditProgress`); None with --quiet. Stdout stays for results.

    On a terminal, log lines (-v) are written above the bar instead of into it.
    """
    if quiet:
        yield None
        return
    terminal = sys.stderr.isatty()
    with ExitStack() as stack:
        if terminal:
            from tqdm.contrib.logging import logging_redirect_tqdm

            stack.enter_context(logging_redirect_tqdm())
        progress = stack.enter_context(closing(AuditProgress(terminal=terminal)))
        yield progress


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
@click.option(
    "--score-output", help="Which output of a model with several holds the class scores: a dict key or a tuple index."
)
@click.option("--output", "old_output", hidden=True)  # the old name of --score-output, kept for one release
@_trust_options
@click.option(
    "--timings", is_flag=True, default=None, help="Measure median batch latency (outputs then vary run to run)."
)
@click.option("--card", "card_path", type=PATH, help="card.yaml: owner-written parts of the model card.")
@click.option(
    "--timestamp", is_flag=True, help="Stamp the card with the UTC time (outputs are otherwise byte-identical)."
)
@click.option("--quiet", is_flag=True, help="No progress (stage lines, bar) on stderr.")
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
    score_output: str | None,
    old_output: str | None,
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
        output=_renamed("--output", "--score-output", old_output, score_output),
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


def _renamed(old: str, new: str, old_value: object, new_value: object) -> Any:
    """A value given under an option's old name: still taken for one release, with a one-line warning on stderr."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise click.UsageError(f"{old} is the old name of {new}; give {new} only")
    click.echo(f"Warning: {old} is deprecated and will be removed in the next release; use {new}", err=True)
    return old_value


def _cache_dir(cache_path: Path | None, *, no_cache: bool) -> Path | None:
    """The cache folder of --cache DIR / --no-cache; neither: the default one; both: a usage error."""
    from pruneaudit.cachedir import default_cache_dir

    if cache_path is not None and no_cache:
        raise click.UsageError("--cache and --no-cache exclude each other")
    return None if no_cache else cache_path or default_cache_dir()


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@cli.command("study")
@click.argument("results_paths", metavar="RESULTS...", nargs=-1, required=True, type=PATH)
@click.option("--out", type=PATH, required=True, help="Output directory (index.html, study.md, study.json).")
@click.option("--title", help="The study card's title.")
@click.option("--timestamp", is_flag=True, help="Stamp the card with the UTC time.")
@_cache_options(holds="the Vega bundle", off="Use no cache folder: nothing is read from or written to one.")
def study_command(
    results_paths: tuple[Path, ...],
    out: Path,
    title: str | None,
    timestamp: bool,
    cache_path: Path | None,
    no_cache: bool,
) -> None:
    """Pool saved audits (each a results.json, or a folder holding one) into one study card."""
    from pruneaudit.api import study

    pooled = study(
        list(results_paths),
        out_dir=out,
        title=title,
        timestamp=_now() if timestamp else None,
        cache_dir=_cache_dir(cache_path, no_cache=no_cache),
    )
    models = sum(t.models for t in pooled.techniques)
    click.echo(f"Pooled {len(pooled.audits)} audits, {models:,} models of {len(pooled.techniques)} techniques")
    click.echo(f"Study card: {out / 'index.html'}")


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
    "--max-harmed-significant-holm",
    type=int,
    metavar="N",
    help="Fail a pruned model with more than N significantly harmed classes (McNemar, Holm).",
)
@click.option("--max-harmed-classes", "old_max_harmed", type=int, hidden=True)  # old name, kept for one release
@click.option("--junit", "junit_path", type=PATH, help="Write JUnit XML: one test case per rule × model.")
@click.option(
    "--timestamp", is_flag=True, help="Stamp the JUnit suite with the UTC time (it is otherwise byte-identical)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON instead of a table.")
def check_command(
    results_path: Path,
    policy_path: Path | None,
    baseline_path: Path | None,
    max_accuracy_drop: float | None,
    max_worst_class_drop: float | None,
    max_harmed_significant_holm: int | None,
    old_max_harmed: int | None,
    junit_path: Path | None,
    timestamp: bool,
    as_json: bool,
) -> None:
    """Exit 1 if RESULTS break a rule: 0 pass (warnings too), 1 a rule failed, 2 usage or input error.

    Appends a Markdown summary to $GITHUB_STEP_SUMMARY when that variable is set, and prints
    ::error / ::warning annotations on stderr when GITHUB_ACTIONS is true.
    """
    from datetime import datetime, timezone

    from pruneaudit.api import check, select
    from pruneaudit.errors import ConfigError, GateFailed, OutputError
    from pruneaudit.gate import annotations, dumps, junit_xml, markdown, table
    from pruneaudit.outputs import write_file
    from pruneaudit.policy import Policy, Rule, load_policy
    from pruneaudit.results import load_results

    if timestamp and not junit_path:
        raise click.UsageError("--timestamp stamps the JUnit report: it needs --junit")
    harmed = _renamed(
        "--max-harmed-classes", "--max-harmed-significant-holm", old_max_harmed, max_harmed_significant_holm
    )
    policy = load_policy(policy_path) if policy_path else Policy()
    flags = [
        Rule(metric, "max", float(value), name=f"--{flag} {value:g}")
        for metric, flag, value in (
            ("accuracy_drop", "max-accuracy-drop", max_accuracy_drop),
            ("worst_class_drop", "max-worst-class-drop", max_worst_class_drop),
            ("harmed_significant_holm", "max-harmed-significant-holm", harmed),
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
        write_file(junit_path, junit_xml(checks, timestamp=datetime.now(timezone.utc) if timestamp else None))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(markdown(checks))
        except OSError as exc:
            raise OutputError(f"{summary}: cannot append the GITHUB_STEP_SUMMARY ({exc.strerror})") from None
    click.echo(dumps(checks) if as_json else table(checks), nl=not as_json)
    if os.environ.get("GITHUB_ACTIONS") == "true" and any(c.level != "pass" for c in checks):
        click.echo(annotations(checks), err=True)  # the runner reads workflow commands on stderr too; stdout stays JSON
    failed = sum(not c.passed for c in checks)
    if failed:
        raise GateFailed(failed, len(checks))


@contextmanager
def sweep_bar(*, quiet: bool) -> Iterator:
    """A sweep's progress on stderr: a bar over the models, naming the current one and how far it is.

    Models already made count at once but not in the rate. Not a terminal (a CI log): one line per
    model made instead, since a bar cannot redraw there.
    """
    if quiet:
        yield None
        return
    if not sys.stderr.isatty():

        def lines(p) -> None:
            if p.made:
                click.echo(f"[{p.finished}/{p.total}] {plain_text(p.name)}", err=True)

        yield lines
        return
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    with ExitStack() as stack:
        stack.enter_context(logging_redirect_tqdm())
        bars: list = []
        shown = [0.0]

        def update(p) -> None:  # a pruneaudit.sweep.run.SweepProgress
            if not bars:
                bar = tqdm(total=p.total, initial=p.finished, desc="Sweep", unit="model", file=sys.stderr, smoothing=0)
                bars.append(stack.enter_context(bar))
            bar = bars[0]
            bar.set_postfix_str(f"{plain_text(p.name)} {100 * p.step // max(p.steps, 1)}%", refresh=False)
            now = time.monotonic()
            if p.finished > bar.n:
                bar.update(p.finished - bar.n)
            elif now - shown[0] >= bar.mininterval:  # the current model's own steps: redraw now and then
                bar.refresh()
                shown[0] = now

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


@cli.command("mitigate")
@click.option("--config", "config_path", type=PATH, help="The sweep.yaml that made the model (`prune`).")
@click.option(
    "--audit-config",
    "audit_config_path",
    type=PATH,
    help="Or an audit config (audit.yaml) that declares the model: no sweep; needs --train-data.",
)
@click.option(
    "--train-data",
    "train_data_path",
    type=PATH,
    help="--audit-config: data to fine-tune on, read as the audit reads its data (.npz, .npy, folder, manifest).",
)
@click.option("--train-split", type=int, help="--audit-config: keep only the --train-data rows of this split.")
@click.option(
    "--results", "results_path", type=PATH, required=True, help="results.json of the audit that found the harm."
)
@click.option("--model", required=True, help="The pruned model to mitigate, as the audit names it.")
@click.option("--out", type=PATH, required=True, help="Folder for the recovered models, mitigation.json, audit.yaml.")
@click.option(
    "--sweep",
    "sweep_dir",
    type=PATH,
    help="The folder `prune --out` wrote (manifest.json) [default: the config's folder].",
)
@click.option(
    "--method",
    "methods",
    type=click.Choice(mitigation.METHODS),
    multiple=True,
    help=f"A method to run; repeat for several [default: all: {', '.join(mitigation.METHODS)}].",
)
@click.option(
    "--harmed",
    "rule",
    metavar="RULE",
    help=f"Which classes are harmed: {', '.join(mitigation.CRITERIA)}, or joined by '+' [default: {mitigation.DEFAULT_RULE}].",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    help=f"Fine-tuning epochs [default: the variant's own; from an audit config {mitigation.PLAIN_EPOCHS}].",
)
@click.option(
    "--lr", type=float, help="Fine-tuning learning rate [default: the variant's own; from an audit config 0.01 (SGD)]."
)
@click.option(
    "--class-weight",
    type=float,
    help=f"reweight: a harmed class's loss weight [default: {mitigation.DEFAULT_CLASS_WEIGHT:g}].",
)
@click.option(
    "--epsilon", type=float, help="constrained: the bound on each excess gap ψ_c [default: the audit's tolerance]."
)
@click.option(
    "--dual-lr", type=float, help=f"constrained: the multipliers' step [default: {mitigation.DEFAULT_DUAL_LR:g}]."
)
@click.option(
    "--seed",
    type=click.IntRange(min=0, max=2**64 - 1),
    help=f"Batch order and augmentation, 0 to 2^64 - 1 (torch.manual_seed) [default: {mitigation.DEFAULT_SEED}].",
)
@click.option(
    "--device", type=click.Choice(DEVICES), help=f"Where to train [default: the config's, else {DEFAULT_DEVICE}]."
)
@_trust_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
def mitigate_command(
    config_path: Path | None,
    audit_config_path: Path | None,
    train_data_path: Path | None,
    train_split: int | None,
    results_path: Path,
    model: str,
    out: Path,
    sweep_dir: Path | None,
    methods: tuple[str, ...],
    rule: str | None,
    epochs: int | None,
    lr: float | None,
    class_weight: float | None,
    epsilon: float | None,
    dual_lr: float | None,
    seed: int | None,
    device: str | None,
    trust_pickle: bool,
    trusted_factories: tuple[str, ...],
    quiet: bool,
) -> None:
    """Fine-tune a pruned model, its mask held, for the classes its audit found harmed; write a re-audit config.

    The model is a sweep's (--config sweep.yaml) or one an audit config declares (--audit-config, --train-data).
    """
    from pruneaudit.api import mitigate

    _check_mitigate_source(config_path, audit_config_path, train_data_path, train_split, sweep_dir)
    given = {
        "methods": methods or None,
        "rule": rule,
        "epochs": epochs,
        "lr": lr,
        "class_weight": class_weight,
        "epsilon": epsilon,
        "dual_lr": dual_lr,
        "seed": seed,
    }
    settings = mitigation.Settings(**{k: v for k, v in given.items() if v is not None})
    config, train_data, audit_yaml = _mitigate_config(
        config_path,
        audit_config_path,
        train_data_path,
        train_split,
        device=device,
        trust_pickle=trust_pickle,
        trusted_factories=trusted_factories,
    )
    with sweep_bar(quiet=quiet) as progress:
        manifest = mitigate(
            config,
            results_path=results_path,
            model=model,
            sweep_dir=sweep_dir,
            train_data=train_data,
            out_dir=out,
            settings=settings,
            progress=progress,
        )
    harmed, held = manifest["harmed"], manifest["splits"]["heldout"]
    click.echo(f"Harmed classes of {model} ({harmed['rule']}): {', '.join(harmed['class_names'])}")
    click.echo(
        f"Held out of fine-tuning, re-audited on: {held['images']:,} images ({held['file']}), "
        f"fine-tuned on {manifest['splits']['finetune']['images']:,}\n"
    )
    source = manifest["source"]
    click.echo(f"{manifest['dense']['name']:<32} held-out top-1 {manifest['dense']['heldout_accuracy']:.4f}")
    rows = [(source["name"], source), *((m["name"], m) for m in manifest["models"])]
    for name, m in rows:
        epochs = f"{m.get('epochs')} epoch{'s' if m.get('epochs') != 1 else ''}"
        cost = f"  {epochs} {m['seconds']:.1f} s" if "seconds" in m else ""
        v = m.get("vs_control")
        paired = (
            f"  vs control: {v['method_only']} right only here, {v['control_only']} only there, p {v['p']:.3g}"
            if v
            else ""
        )
        click.echo(
            f"{name:<32} held-out top-1 {m['heldout_accuracy']:.4f}  sparsity {m['sparsity']['measured']:.3f}{cost}{paired}"
        )
    click.echo(f"\nRe-audit them: pruneaudit audit --config {out / audit_yaml} --out {out / 'report'}")


def _check_mitigate_source(
    config_path: Path | None,
    audit_config_path: Path | None,
    train_data_path: Path | None,
    train_split: int | None,
    sweep_dir: Path | None,
) -> None:
    """A sweep's model (--config, --sweep) or an audit config's (--audit-config, --train-data), never a mix."""
    if (config_path is None) == (audit_config_path is None):
        raise ConfigError(
            "give --config SWEEP.yaml (a model `pruneaudit prune` made) or --audit-config AUDIT.yaml (a model an "
            "audit config declares)" + (", not both" if config_path else "")
        )
    if config_path is not None and (train_data_path is not None or train_split is not None):
        raise ConfigError("--train-data and --train-split go with --audit-config; a sweep fine-tunes on its train_data")
    if audit_config_path is not None and sweep_dir is not None:
        raise ConfigError("--sweep goes with --config; an audit config's models are the files it names")
    if audit_config_path is not None and train_data_path is None:
        raise ConfigError("--audit-config needs --train-data: the data to fine-tune on (and to hold a split out of)")


def _mitigate_config(
    config_path: Path | None,
    audit_config_path: Path | None,
    train_data_path: Path | None,
    train_split: int | None,
    *,
    device: str | None,
    trust_pickle: bool,
    trusted_factories: tuple[str, ...],
) -> tuple[Any, Any, str]:
    """(the sweep or audit config, the training data spec or None, the re-audit config's file name)."""
    if config_path is not None:
        from pruneaudit.sweep.config import build_sweep_config

        sweep = build_sweep_config(
            config_path, device=device, trust_pickle=trust_pickle, trusted_factories=trusted_factories
        )
        return sweep, None, "audit.yaml" if "torchscript" in sweep.formats else "audit-onnx.yaml"
    from pruneaudit.config import build_config

    assert audit_config_path is not None and train_data_path is not None  # _check_mitigate_source
    audit = build_config(
        config_path=audit_config_path,
        device=device,
        trust_pickle=trust_pickle,
        trusted_factories=trusted_factories,
        cache_dir=None,
    )
    return audit, mitigation.train_data(audit.data, train_data_path, split=train_split), "audit.yaml"


def main() -> None:
    cli(prog_name="pruneaudit")
