"""Datasets (with their splits) and the brief, data-on-the-device training of one candidate."""
