"""The bundled guard policies, as YAML files beside this module.

A policy is named by its file's stem (``default`` is ``default.yaml``). This
module only locates the files; ``proxy.policy`` parses and validates them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled() -> dict[str, Path]:
    """Every bundled policy by name."""
    folder = resources.files(__name__)
    return {Path(f.name).stem: Path(str(f)) for f in folder.iterdir() if f.name.endswith(".yaml")}
