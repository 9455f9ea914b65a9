"""Registers the trait-directory fixture (helpers live in trait_fixtures.py)."""

from trait_fixtures import make_trait_dir  # noqa: F401
