"""Architectures as plain data: the genotype, its one-line grammar, EfficientNet's rounding rules,
the reference zoo and search-space files. No torch here: everything above builds on this."""
