"""Datasets: the synthetic shapes generator (the embedded demo default)."""
