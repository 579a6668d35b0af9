"""Where the editable resources (templates, notebooks) live, in a checkout or an installed wheel."""
from __future__ import annotations

from pathlib import Path

#: A value the consultant still has to fill in (``kam new-client`` writes it); a run refuses it by key.
FILL_IN = "FILL_IN"

#: Where installed resources live besides the package: a wheel puts the repository's
#: ``templates/``, ``notebooks/`` and ``params/example_client.yaml`` under
#: ``<prefix>/share/kam-analysis/`` (pyproject's data-files)
SHARE_DIR_NAME = "share/kam-analysis"


def _resource_root(package: Path | None = None) -> Path:
    """The folder holding ``templates/`` and ``notebooks/``.

    A source checkout or editable install: the repository. A wheel install: the
    ``share/kam-analysis`` folder of the prefix the package was installed into (found
    from the package's own location, so ``--prefix``, ``--user`` and virtual environments
    all work).
    """
    package = package or Path(__file__).resolve().parent.parent
    if (package.parent / "templates").is_dir() and (package.parent / "pyproject.toml").is_file():
        return package.parent
    for ancestor in package.parents:
        candidate = ancestor / SHARE_DIR_NAME
        if (candidate / "templates").is_dir():
            return candidate
    return package.parent  # neither: messages name the missing file under the source layout


#: The repository (source checkout, editable install) or the installed share folder.
REPO_ROOT = _resource_root()
TEMPLATES_DIR = REPO_ROOT / "templates"
#: whether the package runs from a source checkout (relative output roots are then the repository's)
SOURCE_CHECKOUT = (Path(__file__).resolve().parents[2] / "pyproject.toml").is_file()


