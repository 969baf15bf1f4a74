"""The tiny trained pipeline the service tests serve: tests/batch's model (its model-free image
backends: a red image has a "red thing", a blue one reads "PARIS"), whose probe fails on "EXPLODE"."""

import sys

import pytest
from serve_support import BATCH_SUPPORT
from spacy.util import import_file

FAIL_ON = "EXPLODE"


def batch_support():
    return sys.modules.get("batch_support") or import_file("batch_support", BATCH_SUPPORT)


@pytest.fixture(scope="session")
def served_model(tmp_path_factory) -> str:
    return batch_support().save_model(tmp_path_factory.mktemp("served") / "model", fail_on=FAIL_ON)
