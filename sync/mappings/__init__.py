"""Mappings: both catalogs, auto-matching and drift, and the resolver the pipeline asks."""
