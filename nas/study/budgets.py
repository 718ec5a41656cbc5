"""Final-training budgets chosen by measurement; torch-free, because ``nas retrain --help``
shows them. The brief search budget is ``nas.train.trainer.TrainConfig.epochs``."""

# retrain's epochs per run: on the harder task the mean test accuracy of 5 architectures was 0.795
# / 0.835 / 0.859 after 10 / 20 / 40 epochs, still rising, so the rule (the smallest budget within
# one point of the largest measured) gives the largest, 40 (bench/retrain_budget.py, BENCHMARKS.md §9).
DEFAULT_RETRAIN_EPOCHS = 40.0
# Runs per architecture: enough for a mean and a standard deviation.
DEFAULT_SEEDS = 3
