"""Build hook: the wheel carries ``variables/``, ``migrations/`` and ``alembic.ini``.

They stay at the top of the repository (the fixed layout) and are copied into
``app/_bundled/`` of the built package, where ``app.config.resource_path``
finds them; an editable install reads them from the checkout instead. The rest
of the configuration is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
RESOURCES = ("variables", "migrations", "alembic.ini")


class BuildPyWithResources(build_py):  # type: ignore[misc]
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "app" / "_bundled"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in RESOURCES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildPyWithResources})
