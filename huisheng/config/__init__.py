"""Configuration: the main config file, the account matrix, and the schema
machinery that validates both (and the decision rules).

The names most code needs are here; the modules hold the rest.
"""

from huisheng.config.loader import TOP_KEYS, load_settings, register_table
from huisheng.config.schema import EnvKey, Key, KeyLines, Many, SecretStr, Table, Validator, parse_toml, show_path
from huisheng.config.settings import Settings
from huisheng.errors import ConfigError, ConfigErrors

__all__ = ["ConfigError", "ConfigErrors", "EnvKey", "Key", "KeyLines", "Many", "SecretStr", "Settings", "TOP_KEYS",
           "Table", "Validator", "load_settings", "parse_toml", "register_table", "show_path"]
