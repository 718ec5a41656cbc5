"""Compound scaling's geometry, with no study in it: landing a scaled genotype on a measured FLOPs
ratio (landing), the (alpha, beta, gamma) grid (grid), the scaled family (family), and the
tolerance. It sits above the model layer, whose cost it measures, and below training."""
