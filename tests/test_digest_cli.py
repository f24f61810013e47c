"""``huisheng digest preview|send`` on the hand-computed scenario."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from digestkit import DISTRICT, TRANSPORT, scenario
from huisheng.cli import main
from huisheng.storage.models import OutboxMessage


@pytest.fixture
def setup(tmp_path):
    # the CLI reads its config file; SQLite keeps this test to one backend
    url = f"sqlite:///{tmp_path / 'huisheng.sqlite'}"
    kit = scenario(url)
    config = tmp_path / "huisheng.toml"
    config.write_text(f'[database]\nurl = "{url}"\n'
                      '[mail]\nhost = "127.0.0.1"\nport = 2525\nfrom_address = "huisheng@example.org"\n',
                      encoding="utf-8")
    yield kit, config
    kit.close()


def digests_queued(kit) -> list[str]:
    with kit.sessions() as session:
        return list(session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.subject != "earlier")
                                    .order_by(OutboxMessage.recipient)))


def test_preview_prints_the_text_and_writes_the_html(setup, tmp_path):
    kit, config = setup
    html = tmp_path / "digest.html"
    result = CliRunner().invoke(main, ["digest", "preview", "--admin", TRANSPORT, "--at", "2026-11-05T08:30",
                                       "--html", str(html), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Subject: 【回声】交通局 新增待回复 2 条，超期 2 条\n\n您好！以下是 交通局")
    assert "== 已超期（2） ==" in result.output
    assert "<h2" in html.read_text(encoding="utf-8")
    assert digests_queued(kit) == []


def test_preview_of_someone_unknown(setup):
    _, config = setup
    result = CliRunner().invoke(main, ["digest", "preview", "--admin", "x@example.org", "--config", str(config)])
    assert result.exit_code == 1 and "administers no enabled unit or account" in result.output
    result = CliRunner().invoke(main, ["digest", "preview", "--admin", TRANSPORT, "--at", "yesterday",
                                       "--config", str(config)])
    assert result.exit_code == 1 and "--at" in result.output


def test_send_needs_a_mail_server(setup, tmp_path):
    kit, config = setup
    config.write_text(config.read_text(encoding="utf-8").split("[mail]")[0], encoding="utf-8")
    result = CliRunner().invoke(main, ["digest", "send", "--config", str(config)])
    assert result.exit_code == 1 and "[mail] host" in result.output
    assert CliRunner().invoke(main, ["digest", "send", "--dry-run", "--config", str(config)]).exit_code == 0
    assert digests_queued(kit) == []


def test_send_dry_run_then_for_real(setup):
    kit, config = setup
    dry = CliRunner().invoke(main, ["digest", "send", "--dry-run", "--config", str(config)])
    assert dry.exit_code == 0, dry.output
    assert f"将发送（演练）\t{DISTRICT}\t【回声】示范区" in dry.output
    assert digests_queued(kit) == []
    sent = CliRunner().invoke(main, ["digest", "send", "--config", str(config)])
    assert sent.exit_code == 0, sent.output
    assert "已加入发件队列 5" in sent.output
    assert len(digests_queued(kit)) == 5
    again = CliRunner().invoke(main, ["digest", "send", "--config", str(config)])
    assert "今日已发送过 5" in again.output and len(digests_queued(kit)) == 5
