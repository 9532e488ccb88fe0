"""The ``thuman`` command. Sub-commands load lazily so that ``thuman --help`` answers at once.

Each entry of ``COMMANDS`` names the module that defines the command and its one-line help. A
command whose module is not part of this installation is not listed.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

import click

#: name -> (module, attribute, one-line description)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "info": ("thuman.cli.dataset_commands", "info", "Summarise an item, a subject or a dataset."),
    "validate": ("thuman.cli.dataset_commands", "validate", "Check items or a dataset against the schema."),
    "export": ("thuman.cli.dataset_commands", "export", "Write an item's mesh (and SMPL body) as OBJ/PLY/GLB."),
    "import": ("thuman.cli.dataset_commands", "import_", "Build THuman items from meshes + SMPL parameters."),
    "migrate": ("thuman.cli.dataset_commands", "migrate", "Rewrite items of older schema versions in the current one."),
    "body": ("thuman.cli.body_commands", "body", "Body models: export a posed body, list the pose library."),
    "record": ("thuman.cli.record_command", "record", "Record RGB-D frames from a camera, a recording or the simulator."),
    "inspect": ("thuman.cli.inspect_command", "inspect", "Show a recording's camera, frames and gaps; a frame as a PLY point cloud."),
    "capture": ("thuman.cli.capture_command", "capture", "Capture a subject into THuman items (DoubleFusion-style session)."),
    "synth": ("thuman.cli.synth_command", "synth", "Synthesize the 4-view DeepHuman training corpus from a dataset."),
    "train": ("thuman.cli.model_commands", "train", "Train DeepHuman on a corpus (two-stage, checkpoints, resume)."),
    "eval": ("thuman.cli.model_commands", "eval_", "Evaluate a checkpoint: IoU, normal errors, Chamfer, P2S."),
    "reconstruct": ("thuman.cli.model_commands", "reconstruct", "Reconstruct a mesh from one image and its SMPL fit."),
    "demo": ("thuman.cli.demo_command", "demo", "Run the whole pipeline on simulated subjects and write a report."),
}


def _available(name: str) -> bool:
    module = COMMANDS[name][0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    """A click group that imports a sub-command's module only when that command runs."""

    def list_commands(self, ctx):
        return sorted(n for n in COMMANDS if _available(n))

    def get_command(self, ctx, name):
        if name not in COMMANDS or not _available(name):
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="thuman", prog_name="thuman")
@click.pass_context
def cli(ctx, debug):
    """THuman toolkit: capture clothed humans with one depth camera, store them as THuman items,
    synthesize DeepHuman training corpora and train DeepHuman.

    Run ``thuman COMMAND --help`` for each command's options.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv=None):
    """Entry point: runs the group and turns toolkit errors into one line and exit status 1."""
    from thuman_io.errors import ThumanError

    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=argv, prog_name="thuman", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("thuman: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except ThumanError as e:
        if debug:
            raise
        click.echo(f"thuman: error: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("thuman: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
