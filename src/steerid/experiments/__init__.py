"""Identifiability experiments E1–E7 (each ``run(config, ctx) -> Result``)."""
