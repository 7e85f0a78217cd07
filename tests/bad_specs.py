"""The review's bad-input table, run through what `pulumi up` runs, and its figures.

`tests/data/bad_specs_review.json` is a copy of `../shared/reference/bad-specs-review.json` (a test keeps the two
equal when the shared copy is there). Each endpoint case changes the `jais-13b-chat` endpoint of Pulumi.dev.yaml
(defaults merged; `__DELETE__` removes a key; name `jais`, namespace `local`) and goes through:

1. the program's step, `stack_config.stack_endpoints`, which sees the YAML as written (the provider host drops
   null values before `check`, so only this step can see them);
2. `check` in the real provider host (`python -m pulumi.dynamic` over gRPC), with the case's inputs as the review
   sent them (so a non-string name reaches `check` too).

A case is rejected when either step reports it; a crash is any other exception (a traceback from the host); a
leak is a stand-in secret value in any message or host log line; the failure must name `<...>.<key>:`.

`python -m tests.bad_specs` prints the figures quoted in the README's "Reliability" section.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from providers import stack_config
from providers.stack_files import effective_endpoint, load_stack, to_plain
from tests.endpoint_stack import ENDPOINT_PROVIDER, ENDPOINT_TYPE, PROJECT
from tests.harness.provider_host import ProviderError, ProviderHost, urn

REPO = Path(__file__).resolve().parent.parent
TABLE_PATH = Path(__file__).with_name("data") / "bad_specs_review.json"
SECRET_VALUES = ("sk-live-SECRET-VALUE", "registry-PASSWORD")
DELETE = "__DELETE__"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
CORRECTIONS: dict[str, tuple[dict[str, Any], str]] = {
    "stz-with-min-1": ({"min_replica": 1, "scale_to_zero_timeout": 30},
                       "the review's change alone (scale_to_zero_timeout: 30) is valid on dev, whose min_replica is "
                       "0; the case sets the min_replica 1 its id names"),
}
"""Cases whose change does not try what their id says, with the change that does and why."""

TGI_IMAGE = {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4", "health_route": "/health", "port": 80}
SECOND_REVIEW: list[dict[str, Any]] = [
    {"id": id_, "key": key, "change": change} for id_, key, change in (
        # Keys that are not inputs (issue 16, item 8).
        ("dunder-proto", "__proto__", {"__proto__": {"polluted": True}}),
        ("dunder-provider", "__provider", {"__provider": "x"}),
        ("output-state", "state", {"state": "running"}),
        ("output-url", "url", {"url": "http://evil.example/"}),
        ("output-price", "price_per_hour", {"price_per_hour": 0}),
        # Values the API or huggingface_hub refuse (item 9).
        ("max-replica-1e20", "max_replica", {"max_replica": 1e20}),
        ("repository-double-dot", "repository", {"repository": "a.."}),
        ("repository-non-ascii", "repository", {"repository": "derek-thomas/jaïs-13b"}),
        ("repository-double-dash", "repository", {"repository": "derek--thomas/jais"}),
        ("repository-1000-chars", "repository", {"repository": "a" * 1000}),
        ("env-value-nul", "env.MODEL_ID", {"env": {"MODEL_ID": "/repo\x00sitory"}}),
        ("env-value-escape", "env.MODEL_ID", {"env": {"MODEL_ID": "/repository\x1b[2J"}}),
        ("framework-nul", "framework", {"framework": "py\x00torch"}),
        ("revision-newline", "revision", {"revision": "main\n"}),
        ("health-route-newline", "custom_image.health_route",
         {"custom_image": {**TGI_IMAGE, "health_route": "/health\n"}}),
        ("health-route-space", "custom_image.health_route",
         {"custom_image": {**TGI_IMAGE, "health_route": "/he alth"}}),
        ("domain-url", "domain", {"domain": "http://evil.example/", "path": "/v1"}),
        ("image-url-10000-chars", "custom_image.url",
         {"custom_image": {**TGI_IMAGE, "url": f"ghcr.io/{'a' * 10000}:1.3.4"}}),
        ("registry-password-empty", "custom_image.credentials",
         {"custom_image": {**TGI_IMAGE, "credentials": {"username": "bot", "password": ""}}}),
        ("tag-reserved-upper-case", "tags", {"tags": ["HF-ENDPOINTS:x"]}),
        ("tag-reserved-leading-space", "tags", {"tags": [" hf-endpoints:x"]}),
        # Credentials inside the image URL (item 2): refused without showing them.
        ("image-url-credentials", "custom_image.url",
         {"custom_image": {**TGI_IMAGE, "url": f"bot:registry-PASSWORD@{TGI_IMAGE['url']}"}}),
        ("image-url-credentials-https", "custom_image.url",
         {"custom_image": {**TGI_IMAGE, "url": f"https://bot:registry-PASSWORD@{TGI_IMAGE['url']}"}}),
        # A key with a terminal escape in its name (item 10): named escaped, as values are.
        ("key-with-escape", "min\\u001breplica", {"min\x1breplica": 1}),
    )
]
"""The second review's cases (issue 16), in the review's format: each was run and seen slipping through."""


def load_table() -> dict[str, Any]:
    return json.loads(TABLE_PATH.read_text())


def all_cases() -> list[dict[str, Any]]:
    """The review's endpoint cases, then the second review's."""
    return [*load_table()["cases"], *SECOND_REVIEW]


def change_of(case: dict[str, Any]) -> dict[str, Any]:
    return CORRECTIONS[case["id"]][0] if case["id"] in CORRECTIONS else case["change"]


def dev_endpoint() -> dict[str, Any]:
    """The jais-13b-chat endpoint of Pulumi.dev.yaml with its defaults merged, as the program sees it."""
    config = to_plain(load_stack(REPO / "Pulumi.dev.yaml"))["config"]
    return effective_endpoint(config.get("hf-endpoints:defaults", {}),
                              config["hf-endpoints:endpoints"]["jais-13b-chat"])


def case_inputs(change: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {**copy.deepcopy(dev_endpoint()), "name": "jais", "namespace": "local"}
    for key, value in change.items():
        if value == DELETE:
            spec.pop(key, None)
        else:
            spec[key] = copy.deepcopy(value)
    return spec


@dataclass
class Outcome:
    """What one case did: the messages the user would see, and how it ended."""

    messages: list[str] = field(default_factory=list)
    crashed: str = ""  # the traceback or exception text, when it crashed

    @property
    def rejected(self) -> bool:
        return bool(self.messages)

    def names(self, key: str) -> bool:
        pattern = rf"(^|[\s.:]){re.escape(key)}: "
        return any(re.search(pattern, message) for message in self.messages)

    def leaks(self, logs: list[str]) -> list[str]:
        return [value for value in SECRET_VALUES
                if any(value in text for text in [*self.messages, self.crashed, *logs])]

    def raw_control_characters(self) -> bool:
        """A control character (an ESC, a NUL) in a message reaches the user's terminal as it is."""
        return any(CONTROL.search(message) for message in self.messages)


def run_case(host: ProviderHost, change: dict[str, Any]) -> Outcome:
    """The program's step, then the host's `check`; never raises for a bad case."""
    inputs = case_inputs(change)
    mapping = {key: value for key, value in inputs.items() if key not in ("name", "namespace")}
    outcome = Outcome()
    try:
        stack_config.stack_endpoints(inputs.get("namespace", "local"), {"jais": mapping})
    except ValueError as error:  # the program's clear, traceback-free refusal
        outcome.messages.append(str(error))
        return outcome
    except Exception as error:  # anything else is a crash of the program
        outcome.crashed = f"{type(error).__name__}: {error}"
        return outcome
    try:
        _, failures = host.check(urn("dev", PROJECT, ENDPOINT_TYPE, "jais"), {},
                                 {"__provider": ENDPOINT_PROVIDER, **inputs})
    except ProviderError as error:
        outcome.crashed = error.details
        return outcome
    outcome.messages.extend(reason for _, reason in failures)
    return outcome


@dataclass
class Figures:
    cases: int = 0
    crashes: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    wrong_acceptances: list[str] = field(default_factory=list)
    key_not_named: list[str] = field(default_factory=list)
    control_characters: list[str] = field(default_factory=list)


def measure(host: ProviderHost, cases: list[dict[str, Any]]) -> Figures:
    figures = Figures()
    for case in cases:
        figures.cases += 1
        before = len(host.log_lines())
        outcome = run_case(host, change_of(case))
        if outcome.crashed:
            figures.crashes.append(case["id"])
        elif not outcome.rejected:
            figures.wrong_acceptances.append(case["id"])
        elif not outcome.names(case["key"]):
            figures.key_not_named.append(case["id"])
        if outcome.leaks(host.log_lines()[before:]):
            figures.leaks.append(case["id"])
        if outcome.raw_control_characters():
            figures.control_characters.append(case["id"])
    return figures


if __name__ == "__main__":
    with ProviderHost(PROJECT) as measuring_host:
        measuring_host.configure({"hf-endpoints:apiUrl": "http://127.0.0.1:9/v2"})
        results = {"review": measure(measuring_host, load_table()["cases"]),
                   "second review": measure(measuring_host, SECOND_REVIEW)}
    for case_id, (_, why) in CORRECTIONS.items():
        print(f"corrected: {case_id}: {why}")
    for table, result in results.items():
        print(f"{table}: {result.cases} cases")
        for label, ids in (("crashes", result.crashes), ("secret leaks", result.leaks),
                           ("wrong acceptances", result.wrong_acceptances),
                           ("rejected without naming the key", result.key_not_named),
                           ("raw control characters in a message", result.control_characters)):
            print(f"  {label}: {len(ids)}{' (' + ', '.join(ids) + ')' if ids else ''}")
