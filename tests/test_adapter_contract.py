"""The adapter contract (huisheng.adapters.testing) held by the kit's own fake
and by the Weibo adapter against the local simulator over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from huisheng.adapters.base import Adapter, Http
from huisheng.adapters.testing import AdapterContract, FakeStage, Stage
from huisheng.adapters.weibo import WeiboAdapter
from huisheng.clock import FakeClock
from huisheng.config.settings import AccountSpec, Matrix, UnitSpec
from huisheng.records import AccountRef
from huisheng.simulator import SimServer, World, WorldConfig
from huisheng.simulator.render import CHILD_PAGE, COMMENT_PAGE, TIMELINE_PAGE

START = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
UID = "7301234567"
#: how the simulator makes Weibo signal each error kind
FAULTS = {"timeout": "timeout", "network": "reset", "server_error": "502", "rate_limited": "418",
          "blocked": "432", "auth_required": "captcha", "parse_error": "renamed_field"}


class WeiboStage(Stage):
    """The simulator with one account and nothing published but what the tests publish."""

    adapter_class = WeiboAdapter

    def __init__(self) -> None:
        matrix = Matrix(units=(UnitSpec(code="spb", name="示范区", level="district"),),
                        accounts=(AccountSpec(platform="weibo", uid=UID, name="示范区发布", unit="spb"),))
        self.clock = FakeClock(START + timedelta(days=1))
        self.world = World(matrix, seed=1, start=START, config=WorldConfig.scripted())
        self.server = SimServer(self.world, self.clock)
        self.url = self.server.start()

    def adapter(self) -> Adapter:
        # a short deadline: the timeout fault holds the connection longer
        return WeiboAdapter(Http(timeout=0.5), {"base_url": self.url, "ajax_base_url": self.url},
                            now=self.clock.now)

    def account(self) -> AccountRef:
        return AccountRef(platform="weibo", uid=UID, name="示范区发布")

    def page_size(self, listing: str) -> int:
        return {"timeline": TIMELINE_PAGE, "comments": COMMENT_PAGE, "replies": CHILD_PAGE}[listing]

    def _moment(self) -> datetime:
        self.clock.advance(60)
        return self.clock.now() - timedelta(seconds=30)

    def publish(self, text: str) -> str:
        return self.world.script_post(UID, self._moment(), text).id

    def comment(self, post_id: str, text: str, *, under: str | None = None) -> str:
        post = self.world.post(post_id, self.clock.now())
        root = self.world.comment(under, self.clock.now()) if under else None
        return self.world.script_comment(post, self._moment(), text, root=root).id

    def delete(self, external_id: str) -> None:
        now = self.clock.now()
        item = self.world.post(external_id, now) or self.world.comment(external_id, now)
        item.deleted_at = now - timedelta(seconds=1)

    def fail(self, kind: str) -> bool:
        self.server.set_faults([{"fault": FAULTS[kind], "hold": 1.0}])
        return True

    def heal(self) -> None:
        self.server.set_faults([])

    def empty_thread(self, post_id: str) -> bool:
        self.server.set_faults([{"fault": "empty", "endpoint": "comments"}])
        return True

    def bad_options(self) -> Mapping[str, Any]:
        return {"mode": "fastest", "base_url": "ftp://m.weibo.cn", "mentions_interval": 5}

    def close(self) -> None:
        self.server.stop()


class TestFakeAdapterKeepsTheContract(AdapterContract):
    def make_stage(self) -> Stage:
        return FakeStage()


class TestWeiboAdapterKeepsTheContract(AdapterContract):
    def make_stage(self) -> Stage:
        return WeiboStage()
