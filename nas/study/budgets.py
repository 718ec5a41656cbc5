"""Final-training budgets chosen by measurement; torch-free, because ``nas retrain --help``
shows them. The brief search budget is ``nas.train.trainer.TrainConfig.epochs``."""

# retrain's epochs per run. Chosen by bench/retrain_budget.py (BENCHMARKS.md §9).
DEFAULT_RETRAIN_EPOCHS = 20.0
# Runs per architecture: enough for a mean and a standard deviation.
DEFAULT_SEEDS = 3
