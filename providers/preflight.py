"""What `check` learns beyond the spec itself: whether the model fits in the chosen GPU's memory.

The decisions are pure (`providers.fit`); the facts come from the Hub through `providers.model_facts`,
cached on disk, so a second preview makes no call. Skipped when an input it needs is not known yet
(preview unknowns), when the endpoint does not serve with TGI on a GPU, or when the spec already failed.
Facts that cannot be had only warn; a revision the Hub does not know fails, naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from providers import catalog, fit, model_facts
from providers.model_facts import FactsUnavailable, HubSettings, UnknownRevision
from providers.validation import Checked, Failure
from providers.values import is_unknown, show

# The inputs the estimate depends on: any of them unknown, and the check waits for `up`.
RELEVANT_KEYS = ("repository", "revision", "accelerator", "vendor", "region", "instance_type", "instance_size",
                 "env", "custom_image", "task")


def _has_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(_has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_unknown(item) for item in value)
    return False


def with_gpu_fit(checked: Checked, hub: HubSettings) -> Checked:
    """`checked` plus the fit's failure or warning, if any."""
    inputs = checked.inputs
    if checked.failures or any(_has_unknown(inputs.get(key)) for key in RELEVANT_KEYS):
        return checked
    if not fit.serves_with_tgi(inputs):
        return checked
    chosen = catalog.find_compute(inputs["vendor"], inputs["region"], inputs["accelerator"],
                                  inputs["instance_type"], inputs["instance_size"])
    if chosen is None or not chosen.gpu_memory_gb:
        return checked
    label = f"endpoints.{inputs['name']}"
    repository, revision = inputs["repository"], inputs.get("revision")
    try:
        facts = model_facts.load(hub, repository, revision)
        found = fit.verdict(label, facts, inputs.get("env") or {}, chosen, catalog.load_catalog())
    except UnknownRevision:
        return replace(checked, failures=[*checked.failures, Failure("revision", (
            f"{label}.revision: {show(revision)} does not exist in {repository} (the Hub at {hub.url} says so); "
            "use a commit sha, branch or tag of that repository, or remove `revision` for the latest"))])
    except (FactsUnavailable, fit.FactsMissing) as why:
        return replace(checked, warnings=[*checked.warnings, (
            f"{label}.instance_type: GPU memory fit not checked: {why}. The preview goes on without it; "
            f"`python -m providers.fit {repository}` tells where it fits")])
    if found.failure:
        return replace(checked, failures=[*checked.failures, Failure("instance_type", found.failure)])
    if found.warning:
        return replace(checked, warnings=[*checked.warnings, found.warning])
    return checked
