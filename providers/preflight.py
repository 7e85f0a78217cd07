"""What `check` learns beyond the spec itself, from the model's facts: the serving engine's rules that need them
(tensor_parallel_size against the attention heads, the GGUF file llama.cpp serves), whether the smoke test can pass
(its prompt and `max_new_tokens` against the engine's token limits) and whether the model fits the chosen
instance's memory, with its capacity.

The decisions are pure (the engine modules and `providers.fit`); the facts come from the Hub through
`providers.model_facts`, cached on disk, so a second preview makes no call. Skipped when an input it needs is not
known yet (preview unknowns) or when the spec already failed. Facts that cannot be had only warn (the smoke test's
limits that need none are still checked); a revision the Hub does not know fails, naming the key.

Token counts are estimated from below: one token per whitespace-separated word of the prompt. Every tokenizer in
use splits on whitespace before merging (GPT-2's and Llama 3's pre-tokenizers, SentencePiece's default
`split_by_whitespace`), so a prompt has at least that many tokens, and a chat template only adds more: a smoke test
refused here cannot pass, and one that could pass is never refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from providers import engines, fit, model_facts
from providers.engines.base import EMBED, Engine, Problem, ServingSpec
from providers.model_facts import FactsUnavailable, HubSettings, UnknownRevision
from providers.validation import Checked, Failure
from providers.values import has_unknown, show

# The inputs the facts-based checks depend on: any of them unknown, and the check waits for `up`.
RELEVANT_KEYS = ("repository", "revision", "accelerator", "vendor", "region", "instance_type", "instance_size",
                 "env", "custom_image", "engine", "task", "args", "smoke_test")


def with_model_facts(checked: Checked, hub: HubSettings) -> Checked:
    """`checked` plus what the model's facts say: failures, warnings, and the capacity note."""
    inputs = checked.inputs
    if checked.failures or any(has_unknown(inputs.get(key)) for key in RELEVANT_KEYS):
        return checked
    engine, spec = engines.serving_engine(inputs), engines.serving_spec(inputs)
    label = f"endpoints.{inputs['name']}"
    failures: list[Failure] = []
    warnings: list[str] = []
    notes: list[str] = []
    facts: fit.ModelFacts | None = None
    repository, revision = inputs["repository"], inputs.get("revision")
    if _wants_facts(engine, spec, inputs):
        try:
            facts = load_facts(engine, spec, hub, repository, revision)
        except UnknownRevision:
            return replace(checked, failures=[*checked.failures, Failure("revision", (
                f"{label}.revision: {show(revision)} does not exist in {repository} (the Hub at {hub.url} says so); "
                "use a commit sha, branch or tag of that repository, or remove `revision` for the latest"))])
        except FactsUnavailable as why:
            warnings.append(_fit_not_checked(label, repository, why))
    problems = engine.check_facts(spec, facts) if facts is not None else []
    problems += smoke_problems(engine, spec, facts, inputs)
    failures += [Failure(p.path.split(".")[0], f"{label}.{p.path}: {_shown(p)} {p.problem}; {p.fix}")
                 for p in problems]
    if facts is not None and not failures:
        fitted = _fit(label, engine, spec, facts)
        if isinstance(fitted, str):
            warnings.append(fitted)
        else:
            failures += [Failure("instance_type", fitted.failure)] if fitted.failure else []
            warnings += [fitted.warning] if fitted.warning else []
            notes += [f"{label}: {fitted.capacity}"] if fitted.capacity else []
    return replace(checked, failures=[*checked.failures, *failures], warnings=[*checked.warnings, *warnings],
                   notes=[*checked.notes, *notes])


def _shown(problem: Problem) -> str:
    if problem.shown is not None:
        return problem.shown
    return "missing" if problem.value is None else show(problem.value, problem.path)


def _fit_not_checked(label: str, repository: str, why: object) -> str:
    return (f"{label}.instance_type: GPU memory fit not checked: {why}. The preview goes on without it; "
            f"`python -m providers.fit {repository}` tells where it fits")


def _measurable(engine: Engine, spec: ServingSpec) -> bool:
    """Whether the engine's memory model applies to the spec's instance: one that states its memory, a GPU or, for
    an engine that runs from RAM, a CPU instance."""
    return bool(spec.compute and fit.memory_gb(spec.compute)) and (spec.accelerator == "gpu" or engine.fits_on_cpu)


def _wants_facts(engine: Engine, spec: ServingSpec, inputs: Mapping[str, Any]) -> bool:
    """Whether anything here needs the Hub: an engine with a memory model on hardware it applies to, a rule on the
    facts, or a smoke test whose limits depend on the model."""
    has_model = type(engine).estimate is not Engine.estimate
    has_rules = type(engine).check_facts is not Engine.check_facts
    return (has_model and _measurable(engine, spec)) or (spec.typed and has_rules) or bool(
        inputs.get("smoke_test") and type(engine).smoke_limits is not Engine.smoke_limits)


def load_facts(engine: Engine, spec: ServingSpec, hub: HubSettings, repository: str,
               revision: str | None) -> fit.ModelFacts:
    """The model's facts as this engine needs them (`check` and `python -m providers.fit` alike): with the
    repository's file sizes when it asks for them, and the shapes from the header of the file it serves when the
    repository has no config.json (llama.cpp's GGUF). Raises UnknownRevision, FactsUnavailable."""
    facts = model_facts.load(hub, repository, revision, files=engine.needs_files)
    name = engine.metadata_file(spec, facts)
    if name is None or facts.config:
        return facts
    return model_facts.with_gguf_header(hub, facts, name)


def smoke_problems(engine: Engine, spec: ServingSpec, facts: fit.ModelFacts | None,
                   inputs: Mapping[str, Any]) -> list[Problem]:
    """A smoke test that cannot pass: a prompt of more tokens than the engine accepts, or a reply budget over what
    the prompt leaves (tokens counted from below, see the module docstring)."""
    smoke = inputs.get("smoke_test")
    if not isinstance(smoke, Mapping) or not isinstance(smoke.get("prompt"), str):
        return []
    limits = engine.smoke_limits(spec, facts)
    if limits is None:
        return []
    words = len(smoke["prompt"].split())
    if limits.max_input is not None and words > limits.max_input:
        return [Problem("smoke_test.prompt", smoke["prompt"], shown=f"({words} words)", problem=
                        f"has at least {words} tokens (one per word), more than the {limits.max_input} "
                        f"{engine.title} accepts ({limits.source}); the smoke test could never pass",
                        fix="shorten the prompt, or raise the engine's input limit")]
    max_new = smoke.get("max_new_tokens")
    if engines.smoke_protocol(inputs) == EMBED or limits.max_total is None or not isinstance(max_new, int):
        return []
    room = limits.max_total - words
    if max_new > room:
        return [Problem("smoke_test.max_new_tokens", max_new,
                        f"plus the prompt's at least {words} tokens is more than the {limits.max_total} "
                        f"{engine.title} allows per request ({limits.source}); the smoke test could never pass",
                        f"lower max_new_tokens to {room} or less" if room > 0 else "shorten the prompt")]
    return []


def _fit(label: str, engine: Engine, spec: ServingSpec, facts: fit.ModelFacts) -> fit.Verdict | str:
    """The fit verdict on the chosen instance, or a warning line when the facts cannot give one."""
    if not _measurable(engine, spec):
        return fit.Verdict()
    try:
        return engines.verdict(label, engine, spec, facts)
    except fit.FactsMissing as why:
        return _fit_not_checked(label, facts.repository, why)
