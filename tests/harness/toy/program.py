"""A toy ``__main__.py``: one record per entry of config ``records``, plus ``summary`` built from their outputs."""

import pulumi

from tests.harness.toy import Toy

cfg = pulumi.Config()
records = {key: Toy(key, **props) for key, props in cfg.require_object("records").items()}
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
