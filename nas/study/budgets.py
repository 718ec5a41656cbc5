"""Budgets and choices the CLI shows; torch-free, because ``nas retrain --help`` (and search's)
show them. The brief search budget is ``nas.train.trainer.TrainConfig.epochs``."""

# retrain's epochs per run: on the harder task the mean test accuracy of 5 architectures was 0.795
# / 0.835 / 0.859 after 10 / 20 / 40 epochs, still rising, so the rule (the smallest budget within
# one point of the largest measured) gives the largest, 40 (bench/retrain_budget.py, BENCHMARKS.md §9).
DEFAULT_RETRAIN_EPOCHS = 40.0
# Runs per architecture: enough for a mean and a standard deviation.
DEFAULT_SEEDS = 3
# What accuracy is traded against (search --objectives), and what each cost is told as: its log10,
# which leaves the front unchanged and gives a model-based sampler something it can fit (§3).
OBJECTIVES = ("accuracy,flops", "accuracy,latency", "accuracy,flops,latency")
TOLD_AS = {"flops": "log10_flops", "latency": "log10_latency_ms"}
# What the MnasNet reward ACC x (cost / T)^w weighs (search --reward-on), each with its target flag.
REWARD_ON = {"flops": "--flops-target", "latency": "--latency-target"}
