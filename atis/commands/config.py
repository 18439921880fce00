"""``atis config``: the validated config with its defaults, or the reference table of every key."""
from __future__ import annotations

from typing import Annotated

import typer
import yaml

from ..config import load_config
from ._common import ConfigOpt

__all__ = ["app", "show_config"]

app = typer.Typer()


@app.command("config")
def show_config(config: ConfigOpt = None,
                reference: Annotated[bool, typer.Option("--reference", help="Markdown table of every key")]
                = False) -> None:
    """Print the validated config with every default filled in (or the reference table of all keys)."""
    from ..config import config_reference_markdown, config_to_dict
    if reference:
        print(config_reference_markdown())
    else:
        print(yaml.safe_dump(config_to_dict(load_config(config)), sort_keys=False, allow_unicode=True), end="")
