"""The monitor: configuration, storage, polling and the daemon."""
