"""The Discuz! adapter keeps the adapter contract against the simulator's
board over real HTTP: its HTML pages (a GBK forum and a UTF-8 one) and its
mobile API."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from huisheng.adapters.base import Adapter, Http
from huisheng.adapters.discuz import DiscuzAdapter
from huisheng.adapters.testing import AdapterContract, Stage
from huisheng.clock import FakeClock
from huisheng.config.settings import AccountSpec, Matrix, UnitSpec
from huisheng.records import AccountRef
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.platforms.discuz import PPP, TPP

START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
#: how the simulator makes the board signal each error kind
FAULTS = {"timeout": "timeout", "network": "reset", "server_error": "502", "rate_limited": "429",
          "blocked": "403", "auth_required": "redirect_login", "parse_error": "truncated_json"}
FORUMS = (("36", "示范区网络问政"), ("41", "示范街道论坛"))


class DiscuzStage(Stage):
    """The simulator's board with two forums (the second served in GBK) and
    nothing in them but what the tests write."""

    adapter_class = DiscuzAdapter

    def __init__(self, fid: str, api: str) -> None:
        matrix = Matrix(units=(UnitSpec(code="spb", name="示范区", level="district"),),
                        accounts=tuple(AccountSpec(platform="discuz", uid=uid, name=name, unit="spb")
                                       for uid, name in FORUMS))
        self.fid, self.api = fid, api
        self.clock = FakeClock(START + timedelta(days=1))
        self.world = World(matrix, seed=1, start=START, config=WorldConfig.scripted())
        self.server = SimServer(self.world, self.clock)
        self.url = self.server.start()
        [self.board] = [p for p in self.server.platforms if p.name == "discuz"]

    def adapter(self) -> Adapter:
        options = {**self.server.adapter_options("discuz"), "api": self.api}
        return DiscuzAdapter(Http(timeout=0.5), options, now=self.clock.now)

    def account(self) -> AccountRef:
        return AccountRef(platform="discuz", uid=self.fid, name=dict(FORUMS)[self.fid])

    def page_size(self, listing: str) -> int:
        return {"timeline": TPP, "comments": PPP, "replies": PPP}[listing]

    def _moment(self) -> datetime:
        self.clock.advance(60)
        return self.clock.now() - timedelta(seconds=30)

    def publish(self, text: str) -> str:
        return str(self.board.script_thread(self.fid, self._moment(), text, official=True))

    def comment(self, post_id: str, text: str, *, under: str | None = None) -> str:
        # Discuz floors are flat: a reply to a floor is one more floor
        return str(self.board.script_post(int(post_id), self._moment(), text))

    def delete(self, external_id: str) -> None:
        self.board.delete(int(external_id), self.clock.now() - timedelta(seconds=1))

    def fail(self, kind: str) -> bool:
        self.server.set_faults([{"fault": FAULTS[kind], "hold": 1.0}])
        return True

    def heal(self) -> None:
        self.server.set_faults([])

    def empty_thread(self, post_id: str) -> bool:
        self.board.hide_floors(int(post_id))
        return True

    def bad_options(self) -> Mapping[str, Any]:
        return {"base_url": "ftp://bbs.example.gov.cn", "api": "wap", "officials": ["36-1001"],
                "timezone": "Mars/Olympus", "threads_interval": 5}

    def close(self) -> None:
        self.server.stop()


class TestDiscuzHtmlGbkKeepsTheContract(AdapterContract):
    def make_stage(self) -> Stage:
        return DiscuzStage("41", "html")


class TestDiscuzMobileApiKeepsTheContract(AdapterContract):
    def make_stage(self) -> Stage:
        return DiscuzStage("36", "mobile")


def test_auto_finds_the_mobile_api_and_both_read_the_same():
    stage = DiscuzStage("36", "auto")
    try:
        tid = stage.publish("停车场收费公示")
        stage.comment(tid, "请问几点开放？")
        auto = stage.adapter()
        listed = auto.timeline(stage.account())
        assert auto._api == "mobile"
        html = DiscuzStage.adapter(stage)
        html._api = "html"
        assert [p.external_id for p in listed.items] == [tid]
        assert auto.comments(listed.items[0], stage.account()) == html.comments(listed.items[0], stage.account())
    finally:
        stage.close()
