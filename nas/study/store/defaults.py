"""The storage layer's defaults, torch- and Optuna-free: ``nas search --help`` shows them."""

# How long every storage call waits out an outage (--storage-retry; nas.study.store.retrying): a
# server restart takes seconds (pg_ctlcluster restart: about 2 s here), a managed database's
# failover 60-120 s by its providers' documentation; 180 s covers both with room.
DEFAULT_STORAGE_RETRY = 180.0
# Seconds without a heartbeat before a running trial counts as lost (--stale-after;
# nas.study.store.liveness): twelve missed beats at one per 5 s.
DEFAULT_STALE_AFTER = 60.0
