"""Typed ids of the resources workloads share, so no layer builds a key as text and parses it back."""
from __future__ import annotations

from typing import Literal, NamedTuple

ResourceKind = Literal["device", "pool", "link"]


class ResourceId(NamedTuple):
    """A device group (`site`, `index` in the site's `devices`), a cloud pool (`index` in its
    `pools`), or one direction of a link (`index` in the scenario's `links`, leaving `site`;
    `direction` up = between[0] -> between[1]). `workload` names the language-model workload a
    pool's dedicated instances serve (an instance holds one model's weights and runs one
    continuous batch). A named tuple: ids key every load and utilisation dict, and a tuple hashes
    and compares at C speed."""

    kind: ResourceKind
    site: str
    index: int
    direction: str = ""
    workload: str = ""

    @classmethod
    def device(cls, site: str, index: int) -> ResourceId:
        return cls("device", site, index)

    @classmethod
    def pool(cls, site: str, index: int) -> ResourceId:
        return cls("pool", site, index)

    @classmethod
    def link(cls, frm: str, index: int, direction: str) -> ResourceId:
        """Direction `direction` of link `index`, leaving site `frm`."""
        return cls("link", frm, index, direction)

    def dedicated(self, workload: str) -> ResourceId:
        """The instances of this pool that serve `workload` alone."""
        return self._replace(workload=workload)

    @property
    def base(self) -> ResourceId:
        """The pool these instances belong to (itself for everything else)."""
        return self._replace(workload="") if self.workload else self

    def __str__(self) -> str:
        if self.kind == "link":
            return f"link:{self.index}:{self.direction}"
        s = f"{'dev' if self.kind == 'device' else 'pool'}:{self.site}:{self.index}"
        return f"{s}/{self.workload}" if self.workload else s

    def __repr__(self) -> str:
        return f"ResourceId({self})"
