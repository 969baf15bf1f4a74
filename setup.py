"""spacy-ita's build: everything is declared in pyproject.toml (PEP 621: metadata, dependency
ranges, extras, entry points, package data). This file stays so that tools which still call
`setup.py` find the project; it adds nothing."""

from setuptools import setup

setup()
