"""Defaults the stored records and the CLI share, torch- and Optuna-free: ``nas search --help``
shows them, and a study that did not record one reads as this."""

# How long every storage call waits out an outage (--storage-retry; nas.study.store.retrying): a
# server restart takes seconds (pg_ctlcluster restart: about 2 s here), a managed database's
# failover 60-120 s by its providers' documentation; 180 s covers both with room.
DEFAULT_STORAGE_RETRY = 180.0
# Seconds without a heartbeat before a running trial counts as lost (--stale-after;
# nas.study.store.liveness): twelve missed beats at one per 5 s.
DEFAULT_STALE_AFTER = 60.0
# The MnasNet reward ACC x (cost / T)^w: MnasNet's w = -0.07 (search --reward-exponent).
DEFAULT_REWARD_EXPONENT = -0.07
