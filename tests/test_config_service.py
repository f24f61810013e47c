"""The shipped systemd unit runs the daemon as promised."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def unit_sections() -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in (ROOT / "config" / "huisheng.service").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def test_service_unit():
    unit = unit_sections()
    service = unit["Service"]
    assert service["User"] == ["huisheng"]
    assert service["Restart"] == ["on-failure"]
    assert "HUISHENG_CONFIG=/etc/huisheng/huisheng.toml" in service["Environment"]
    assert service["EnvironmentFile"] == ["-/etc/huisheng/secrets.env"]
    assert service["ExecStart"] == ["/opt/huisheng/venv/bin/huisheng run"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["ReadWritePaths"] == ["/var/lib/huisheng"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert int(service["TimeoutStopSec"][0]) >= 30
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
