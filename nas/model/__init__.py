"""Genotype to network: block specs, the cells, the one builder, and cost (fvcore and analytic)."""
