"""Bundled model files (TOML), installed as ``sbp_brian.models``; see ``sbp_brian.model_files``."""
