"""A toy ``__main__.py``: one record per entry of config ``records``, plus ``summary`` built from their outputs.

A record's ``opts`` become its ``ResourceOptions``; the keys listed in its ``secret`` are passed as secrets.
"""

from typing import Any

import pulumi

from tests.harness.toy import Toy


def record(key: str, props: dict[str, Any]) -> Toy:
    props = dict(props)
    opts = props.pop("opts", None)
    for name in props.pop("secret", []):
        props[name] = pulumi.Output.secret(props[name])
    return Toy(key, opts=pulumi.ResourceOptions(**opts) if opts else None, **props)


cfg = pulumi.Config()
records = {key: record(key, props) for key, props in cfg.require_object("records").items()}
summary = Toy(
    "summary",
    name=cfg.get("summaryName") or "summary",
    members=[r.record_id for r in records.values()],
    value=pulumi.Output.all(*[r.value for r in records.values()]),
)
pulumi.export("ids", {key: r.record_id for key, r in records.items()})
pulumi.export("summary", {"members": summary.members, "revision": summary.revision})
token = cfg.get_secret("token")
if token is not None:
    pulumi.export("token", token)
