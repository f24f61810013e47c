"""Configuration: the main config file and the account matrix, validated by
the schema machinery (:mod:`huisheng.schema`, below the adapters, which
declare their own options with it).

The names most code needs are here; the modules hold the rest.
"""

from huisheng.config.loader import TOP_KEYS, load_settings, register_table
from huisheng.schema import EnvKey, Key, KeyLines, Many, SecretStr, Table, Validator, parse_toml, show_path
from huisheng.config.settings import Settings
from huisheng.errors import ConfigError, ConfigErrors

__all__ = ["ConfigError", "ConfigErrors", "EnvKey", "Key", "KeyLines", "Many", "SecretStr", "Settings", "TOP_KEYS",
           "Table", "Validator", "load_settings", "parse_toml", "register_table", "show_path"]
