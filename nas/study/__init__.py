"""Optuna studies: storage, trial records, the one ask/tell loop with its liveness, and the work
it runs (search's candidate evaluation, scaling's grid points)."""
