"""The local Weibo simulator (``huisheng simulate``): tests, the demo and the
benchmarks run against it.

- :class:`World` — deterministic activity of a whole matrix over simulated time
  (``world.py``), with ground-truth labels on every comment;
- :class:`SimServer` — m.weibo.cn and weibo.com/ajax shapes over real HTTP,
  answering as of an injected clock, with fault injection (``faults.py``);
- :func:`minimal_requests` — the fewest requests a client needed (``minimal.py``).

Ground truth (``SimServer.truth()`` / ``GET /_sim/truth``) as of ``clock.now()``::

    {"as_of": ISO, "seed": int,
     "posts": [{id, bid, account_uid, author_id, author_name, unit, created_at, text,
                is_long, is_pinned, comments_restricted, repost_of, edit_count,
                deleted, deleted_at, comments_count}],
     "comments": [{id, post_id, account_uid, root_id, parent_id, author_id, author_name,
                   created_at, text, is_from_owner, edit_count, deleted, post_deleted, labels}]}

Everything created by then is listed, live or deleted.  ``text`` is plain text as the
adapter should produce it (emoticons ``[赞]``, mentions ``@name``, resident-typed HTML
literally); a post's is its current, whole text.  A comment is ``deleted`` when it, or
the top-level comment it hangs under, was deleted (Weibo hides the sub-thread);
comments of a deleted post keep ``deleted`` false and get ``post_deleted`` true.

``labels`` of a resident's comment: ``role: "resident"``, ``category``
(consultation | complaint | help | suggestion | praise | None), ``needs_reply``,
``target_unit`` (unit code; None when no reply is needed), ``routing`` — how the
target follows from the text: ``account`` (the owner unit of the account written
to), ``mention`` (``@`` another matrix account: its owner unit), ``place`` (a street or
community name or alias, written on a district or department account: that unit),
``topic`` (a department's subject, e.g. 堵车 → 交通局, or its everyday business that
names no department, e.g. 新生儿落户 → 公安, written on a district account: that
department) — in the district's order of precedence (mention > place > topic >
account) —, ``urgent``, ``hostile`` (None or html | script | wall | rtl |
emoji), and ``follow_up_of`` (the earlier root) for a follow-up after a reply.
Of the account's own comments: ``role`` (reply | ack | thanks), ``answers`` (the
resident's top-level comment it answers), for replies ``late`` and ``form``
(child: directly under it | reply_to_child: ``回复@name:`` to another reply in its
thread, named by ``replies_to`` | mention: a new top-level comment ``@author …``).
Follow-ups are not answered by the generator: they stay open, as many do.
"""

from huisheng.simulator.faults import FaultRule, load_faults, parse_rules
from huisheng.simulator.minimal import minimal_requests
from huisheng.simulator.server import SimServer
from huisheng.simulator.world import World, WorldConfig

#: the platform simulated: the name of the adapter that reads it
PLATFORM = "weibo"


def adapter_options(base_url: str) -> dict[str, str]:
    """The options of that adapter (``[platforms.PLATFORM]``) that read the
    simulator serving at ``base_url``."""
    return {"base_url": base_url, "ajax_base_url": base_url, "mode": "mobile"}

__all__ = ["PLATFORM", "adapter_options", "FaultRule", "SimServer", "World", "WorldConfig", "load_faults", "minimal_requests",
           "parse_rules"]
