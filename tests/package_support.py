"""`spacy package` a saved pipeline and install it apart, as a user's machine would get it."""

import subprocess
import sys
from pathlib import Path
from typing import Tuple

import srsly
from spacy.cli.package import package

from spacy_ita.package_meta import package_meta


def run(*args, **kwargs):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def package_and_install(model: Path, work: Path, name: str, version: str, dataset: str) -> Tuple[Path, Path]:
    """(sdist, site): what `python -m spacy_ita package` runs (its meta.json, then spaCy's
    package), in-process to spare two interpreter starts (an sdist: a wheel would need the `build`
    module); the sdist installed into `site`, a folder only PYTHONPATH leads to."""
    meta = work / "meta.json"
    srsly.write_json(meta, package_meta(model, dataset))
    (work / "packages").mkdir()
    package(model, work / "packages", meta_path=meta, name=name, version=version, create_sdist=True, force=True)
    sdist = work / "packages" / f"en_{name}-{version}" / "dist" / f"en_{name}-{version}.tar.gz"
    site = work / "site"
    args = ["install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "--target", site, sdist]
    run(sys.executable, "-m", "pip", *args)
    return sdist, site
