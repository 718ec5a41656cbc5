"""The shipped search spaces, installed as the package data ``nas.spaces`` (pyproject.toml maps
this folder there), so that ``--space mobile`` works from an installed wheel in any directory."""
