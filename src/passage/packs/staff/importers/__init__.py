"""Importers of this pack."""
