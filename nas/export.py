"""Public path ``nas.export`` (model cards, README): rebuild an exported model without running
code from its files. The code lives in :mod:`nas.report.export`."""

from .report.export import export_model, load_data_config, load_exported, load_weights

__all__ = ["export_model", "load_data_config", "load_exported", "load_weights"]
