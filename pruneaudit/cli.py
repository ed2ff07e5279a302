"""Command line: each command parses options and delegates to the library."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from pruneaudit import __version__

PATH = click.Path(path_type=Path)


@click.group()
@click.version_option(__version__, prog_name="pruneaudit")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Audit what pruning did to a classifier, class by class."""
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


@cli.command("audit")
@click.option("--config", "config_path", type=PATH, help="YAML file listing data, dense and pruned models.")
@click.option("--dense", type=PATH, help="The dense (unpruned) model.")
@click.option("--pruned", type=PATH, multiple=True, help="A pruned model; repeat for several.")
@click.option("--data", type=PATH, help="Labelled data (.npz with 'images' and 'labels').")
@click.option("--split", type=int, help="Keep only rows whose 'split' array equals this value.")
@click.option("--out", type=PATH, default=Path("report"), show_default=True, help="Output directory.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to run inference [default: auto].")
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per inference batch [default: 256].")
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
    quiet: bool,
) -> None:
    """Run every model over the data and write results.json and index.html to OUT."""
    from pruneaudit.api import audit_to_directory
    from pruneaudit.config import build_config

    config = build_config(
        config_path=config_path, dense=dense, pruned=pruned, data=data, split=split, device=device, batch_size=batch_size
    )
    results = audit_to_directory(config, out_dir=out, show_progress=not quiet)
    from pruneaudit.report import summary_table

    click.echo(summary_table(results))
    click.echo(f"\nModel card: {out / 'index.html'}")


def main() -> None:
    cli(prog_name="pruneaudit")
