"""Budgets and choices the CLI shows; torch-free, because ``nas retrain --help`` (and search's)
show them. The brief search budget is ``nas.train.trainer.TrainConfig.epochs``."""

# retrain's epochs per run: on the harder task the mean test accuracy of 5 architectures was 0.795
# / 0.835 / 0.859 after 10 / 20 / 40 epochs, still rising, so the rule (the smallest budget within
# one point of the largest measured) gives the largest, 40 (bench/retrain_budget.py, BENCHMARKS.md §9).
DEFAULT_RETRAIN_EPOCHS = 40.0
# Runs per architecture: enough for a mean and a standard deviation.
DEFAULT_SEEDS = 3
# Compound scaling: how far a scaled network's measured FLOPs ratio may lie from the one asked for
# (issue 12's +/-5%); nas.study.landing lands the shipped spaces' references and the zoo within it
# at phi = 1..3 (tests/test_scale.py).
DEFAULT_SCALE_TOLERANCE = 0.05
# How long every storage call waits out an outage (--storage-retry; nas.study.retrying): a server
# restart takes seconds (pg_ctlcluster restart: about 2 s here), a managed database's failover
# 60-120 s by its providers' documentation; 180 s covers both with room.
DEFAULT_STORAGE_RETRY = 180.0
# What accuracy is traded against (search --objectives), and what each cost is told as: its log10,
# which leaves the front unchanged and gives a model-based sampler something it can fit (§3).
OBJECTIVES = ("accuracy,flops", "accuracy,latency", "accuracy,flops,latency")
TOLD_AS = {"flops": "log10_flops", "latency": "log10_latency_ms"}
# What the MnasNet reward ACC x (cost / T)^w weighs (search --reward-on), each with its target flag.
REWARD_ON = {"flops": "--flops-target", "latency": "--latency-target"}
