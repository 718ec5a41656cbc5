"""The dataset names ``--dataset`` takes, torch-free (the CLI's ``--help`` shows them without
importing torch; :mod:`nas.train.sources` loads them)."""

BUILTIN = ("mnist5k", "digits", "cluttered", "pairs")
USER_KINDS = ("cifar10", "folder", "npz")
DATASET_HELP = " | ".join(BUILTIN + tuple(f"{kind}:PATH" for kind in USER_KINDS))
